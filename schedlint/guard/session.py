"""Auto-guarding: every optimizer and scheduler the process creates gets a guard.

Used by ``schedlint.install()``/``import schedlint.auto`` (with ``SCHEDLINT_GUARD=1``), by
``schedlint run`` and by the pytest plugin. An optimizer is adopted the first time a scheduler
is built on it or it steps; an explicit ``schedlint.guard(...)`` on the same optimizer takes
over from the automatic one.
"""

from __future__ import annotations

import atexit
import os
import sys
import weakref

from schedlint.guard import hooks, registry

MAX_FINISHED = 1000  # reports of guards whose optimizer was garbage-collected, kept for the end
TRUTHY = ("1", "true", "yes", "on")


class SessionReport:
    """Every guard's report, as the runner prints it at exit."""

    def __init__(self, reports: list):
        self.reports = reports

    @property
    def total(self) -> int:
        return sum(r.total for r in self.reports)

    @property
    def ok(self) -> bool:
        return self.total == 0

    def by_code(self) -> dict:
        out: dict = {}
        for r in self.reports:
            for code, n in r.by_code().items():
                out[code] = out.get(code, 0) + n
        return dict(sorted(out.items()))

    def __str__(self) -> str:
        n = len(self.reports)
        head = f"schedlint guard: {n} optimizer{'s' if n != 1 else ''} guarded, "
        head += (
            "no violations"
            if self.ok
            else (
                f"{self.total} violation{'s' if self.total != 1 else ''} ("
                + ", ".join(f"{c} x{k}" for c, k in self.by_code().items())
                + ")"
            )
        )
        return "\n".join([head] + [str(r) for r in self.reports])


class AutoSession:
    def __init__(self, options: dict):
        self.options = options
        self._guards: list = []  # weakrefs: the registry owns live guards
        self._finished: list = []
        self._finished_histories: list = []  # the LR histories of guards already gone (--plot)
        self.listeners: list = []  # callables receiving every list of violations recorded
        self.closed = False

    def adopt(self, optimizer):
        from torch.optim import Optimizer

        from schedlint.guard.core import Guard
        from schedlint.guard.shadow import ShadowOptimizer

        if (
            self.closed
            or not isinstance(optimizer, Optimizer)
            or isinstance(optimizer, ShadowOptimizer)
            # A wrapper (AcceleratedOptimizer) whose step() torch hooks would count the steps of
            # the optimizer behind it twice; that one is guarded instead.
            or registry.unwrap(optimizer) is not optimizer
        ):
            return None
        guard = Guard(optimizer, None, _session=self, **self.options)
        self._guards.append(weakref.ref(guard))
        return guard

    def saw(self, violations: list) -> None:
        for listener in list(self.listeners):
            listener(violations)

    def finished(self, guard) -> None:
        if len(self._finished) < MAX_FINISHED:
            self._finished.append(guard.report())
            if guard.history is not None:
                self._finished_histories.append((guard.name, guard.labels, guard.history))

    def finished_reports(self) -> list:
        """The reports of the guards already closed (their optimizers were collected)."""
        return list(self._finished)

    def live(self) -> list:
        alive = [g for g in (r() for r in self._guards) if g is not None and not g.closed]
        self._guards = [weakref.ref(g) for g in alive]
        return alive

    def report(self) -> SessionReport:
        return SessionReport(list(self._finished) + [g.report() for g in self.live()])

    def close_guards(self, guards=None, *, end_checks: bool = True) -> list:
        """Close the given (default: all live) auto guards; end-of-run findings (SLG107...) are
        recorded, never raised, and skipped when the run was aborted (``end_checks=False``)."""
        out = []
        for g in self.live() if guards is None else guards:
            if not g.closed:
                out.append(g.close(_can_raise=False, _end_checks=end_checks))
                if g.history is not None:
                    self._finished_histories.append((g.name, g.labels, g.history))
        self._finished += out
        return out

    def finish(self, *, end_checks: bool = True) -> SessionReport:
        self.close_guards(end_checks=end_checks)
        result = SessionReport(list(self._finished))
        if not self.closed:
            self.closed = True
            if registry.auto_session is self:
                registry.auto_session = None
            hooks.release()
        return result

    def histories(self) -> list:
        """``[(title, labels, History)]`` of every guard of the session, finished ones included
        (a script's optimizers are gone by the time ``schedlint run`` draws the plot)."""
        live = [(g.name, g.labels, g.history) for g in self.live() if g.history is not None]
        return list(self._finished_histories) + live


def install(*, enable=None, report_at_exit: bool = True, **options):
    if enable is None:
        enable = os.environ.get("SCHEDLINT_GUARD", "").strip().lower() in TRUTHY
    if not enable:
        return None
    if registry.auto_session is not None:
        return registry.auto_session
    if (
        options.get("watch") is None
        and os.environ.get("SCHEDLINT_WATCH", "").strip().lower() in TRUTHY
    ):
        options["watch"] = True
    if options.get("on_violation") is None:
        options["on_violation"] = (
            os.environ.get("SCHEDLINT_ON_VIOLATION", "").strip().lower() or "raise"
        )
    session = AutoSession(options)
    hooks.acquire()
    if options.get("watch"):
        hooks.shield_from_dynamo()  # before any optimizer step can be compiled
    registry.auto_session = session
    if report_at_exit:
        atexit.register(_report_at_exit, weakref.ref(session))
    return session


def uninstall():
    session = registry.auto_session
    return None if session is None else session.finish()


def _report_at_exit(session_ref) -> None:
    session = session_ref()
    if session is None or session.closed:
        return
    try:
        print(session.finish(), file=sys.stderr)
    except Exception as exc:  # pragma: no cover - interpreter shutdown
        print(f"schedlint guard: could not write the report ({exc})", file=sys.stderr)
