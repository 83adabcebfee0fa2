"""What the framework callbacks share: one guard per optimizer, violations routed through a
filter (so a framework's legitimate behaviour is not reported), reports and plots."""

from __future__ import annotations

import dataclasses

from schedlint.guard.violations import Dispatcher, check_handler


class _Route:
    """The ``on_violation`` given to each guard: a callable that lets the integration drop or
    reword a violation, then reports it the way the user asked (raise/warn/log/callable)."""

    def __init__(self, on_violation, keep):
        self._dispatch = Dispatcher(check_handler(on_violation))
        self._keep = keep  # Violation -> Violation (possibly reworded) or None (dropped)
        self.can_raise = True

    def __call__(self, violation) -> None:
        kept = self._keep(violation)
        if kept is not None:
            self._dispatch([kept], can_raise=self.can_raise)


class GuardSet:
    """The guards of one training run (one per optimizer) and the violations dropped as legitimate
    behaviour of the framework."""

    def __init__(self, on_violation, guard_options: dict, keep=None):
        check_handler(on_violation)  # fail at construction on a bad mode, not mid-training
        self.on_violation = on_violation
        self.options = dict(guard_options)
        self.guards: list = []
        self.dropped: list = []  # (violation, reason)
        self.notes: list = []
        self._keep_fn = keep
        self._route = None

    def _keep(self, violation):
        if self._keep_fn is None:
            return violation
        out = self._keep_fn(violation)
        if out is None:
            self.dropped.append(violation)
        return out

    def start(self, pairs, expect=None) -> None:
        """Guard every ``(optimizer, [schedulers])`` pair; ``expect`` is one declared schedule for
        every optimizer, or a list with one per optimizer."""
        import schedlint

        self.close(can_raise=False)
        self.guards, self.dropped, self.notes = [], [], []
        self._route = _Route(self.on_violation, self._keep)
        for k, (opt, scheds) in enumerate(pairs):
            exp = expect[k] if isinstance(expect, (list, tuple)) else expect
            if isinstance(expect, (list, tuple)) and k >= len(expect):
                exp = None
            self.guards.append(
                schedlint.guard(
                    opt, list(scheds), expect=exp, on_violation=self._route, **self.options
                )
            )

    def close(self, *, can_raise: bool = True) -> list:
        """Close every guard (SLG107 found now goes through ``on_violation``). Closes all of them
        even when one raises; the first ScheduleViolation is raised at the end."""
        if self._route is not None:
            self._route.can_raise = can_raise
        first = None
        for g in self.guards:
            if g.closed:
                continue
            try:
                g.close()
            except Exception as exc:  # a ScheduleViolation in raise mode
                if first is None:
                    first = exc
        if first is not None:
            raise first
        return self.reports()

    def reports(self) -> list:
        """One :class:`~schedlint.guard.report.GuardReport` per optimizer, without the violations
        the integration dropped as legitimate framework behaviour."""
        return [self._filtered(g.report()) for g in self.guards]

    def _filtered(self, report):
        if not self.dropped:
            return report
        dropped = {(v.code, v.scheduler) for v in self.dropped}
        pending = [v for v in report.pending if (v.code, v.scheduler) not in dropped]
        kept = [v for v in report.violations if (v.code, v.scheduler) not in dropped]
        counts = dict(report.counts)
        for v in report.violations:
            if (v.code, v.scheduler) in dropped and (v.code, v.group_index) in counts:
                counts[(v.code, v.group_index)] -= 1
                if counts[(v.code, v.group_index)] <= 0:
                    del counts[(v.code, v.group_index)]
        return dataclasses.replace(
            report,
            violations=kept,
            pending=pending,
            counts=counts,
            not_checked=list(report.not_checked) + list(self.notes),
        )

    def histories(self) -> list:
        from schedlint.integrations.plot import histories_of

        return histories_of(self.guards)
