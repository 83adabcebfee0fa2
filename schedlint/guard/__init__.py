"""The runtime guard: assert during real training steps that every group's LR follows its schedule.

Three ways in:

* in code: ``with schedlint.guard(optimizer, scheduler): ...`` (:func:`api_guard`);
* no code change: ``schedlint run train.py ARGS`` (:mod:`schedlint.guard.runner`), or
  ``SCHEDLINT_GUARD=1`` with ``import schedlint.auto`` / ``schedlint.install()``
  (:mod:`schedlint.guard.session`);
* pytest: ``pytest --schedlint-guard`` (:mod:`schedlint.integrations.pytest_plugin`).

Map of the package: ``hooks`` is where the guard attaches to torch (optimizer step hooks,
class-level scheduler wrappers); ``core`` holds the per-optimizer :class:`Guard` and its checks;
``shadow`` the replay that predicts the expected LRs; ``lrs`` reads and compares LRs (on the
device for accelerator tensors); ``expect`` the declared schedules; ``distributed`` the
cross-rank check; ``violations`` what is reported and how; ``causes`` the plain-word causes;
``report`` reports, bounded history and the plot; ``codes`` the SLG rule documentation
(torch-free).

This module stays light: torch is imported only when a guard is created or installed.
"""

from __future__ import annotations

import sys
import types

from schedlint.guard.violations import (
    NotCheckedWarning,
    ScheduleViolation,
    ScheduleWarning,
    Violation,
)

__all__ = [
    "api_guard",
    "install",
    "uninstall",
    "Guard",
    "ScheduleViolation",
    "ScheduleWarning",
    "NotCheckedWarning",
    "Violation",
]


def api_guard(
    optimizer,
    scheduler_or_list=None,
    *,
    expect=None,
    on_violation="raise",
    rtol: float = 1e-6,
    atol: float = 1e-12,
    check_every: int = 100,
    replay: bool = True,
    foreign_writers=(),
    allow_external_writes: bool = False,
    history: int = 0,
    dist_timeout: float = 60.0,
    watch: bool = False,
):
    """Guard ``optimizer`` (what ``schedlint.guard(...)`` calls). Returns a :class:`Guard`, also a
    context manager whose exit removes every hook.

    Args:
        optimizer: the ``torch.optim.Optimizer`` to watch.
        scheduler_or_list: the scheduler(s) driving it. Omitted: every scheduler built on the
            optimizer, before or after this call, is discovered. Given: any other scheduler
            that writes its LRs is reported as a second writer (SLG102).
        expect: a declared schedule checked at every optimizer step: ``{group: step -> lr}``
            (group by index or by its ``name`` key) or one callable
            ``(step, group_index, base_lr) -> lr``; ``step`` counts optimizer steps from 0.
        on_violation: ``"raise"`` (ScheduleViolation, before the bad update is applied),
            ``"warn"`` (ScheduleWarning), ``"log"`` (logger ``schedlint.guard``) or a callable
            receiving each :class:`Violation`.
        rtol, atol: tolerance of the SLG101 comparisons (replay and ``expect``).
        check_every: cadence, in optimizer steps, of the cross-rank collective (SLG106) and of
            reading accelerator-resident LRs back to the host.
        replay: predict expected LRs with a shadow replay of the schedulers (SLG101). False
            keeps only the cheap checks.
        foreign_writers: objects allowed to write group LRs (a timm or DeepSpeed scheduler):
            writes inside their ``step``/``step_update`` are accepted.
        allow_external_writes: accept every write made outside the schedulers (no SLG102).
        history: keep up to this many samples of every group's LR for :meth:`Guard.plot`.
        dist_timeout: seconds the cross-rank collective may wait before the check gives up.
        watch: note the source line of every write to a group's ``"lr"`` made outside a scheduler
            step, so a violation names it (``Violation.written_at``). Opt-in: it replaces each
            param group nothing else references by a dict subclass that pickles and copies as a
            plain dict (see ``schedlint.guard.watch``); a little slower per LR write. Works with
            a ``torch.compile``d ``optimizer.step()``: it imports ``torch._dynamo`` to run the
            step hooks outside dynamo, and each step gets plain copies of the groups.
    """
    from schedlint.guard.core import Guard

    return Guard(
        optimizer,
        scheduler_or_list,
        expect=expect,
        on_violation=on_violation,
        rtol=rtol,
        atol=atol,
        check_every=check_every,
        replay=replay,
        foreign_writers=foreign_writers,
        allow_external_writes=allow_external_writes,
        history=history,
        dist_timeout=dist_timeout,
        watch=watch,
    )


def install(*, enable=None, **options):
    """Guard every optimizer and scheduler the process creates from now on.

    ``enable=None`` (the default) follows the environment: active only when ``SCHEDLINT_GUARD``
    is ``1``/``true``/``yes``/``on``. Returns the session (``.report()``, ``.finish()``), or None
    when not enabled. ``options`` are :func:`api_guard`'s keyword arguments.
    """
    from schedlint.guard import session

    return session.install(enable=enable, **options)


def uninstall():
    """Stop guarding new optimizers, close the auto-installed guards; returns the session report."""
    if "schedlint.guard.session" not in sys.modules:
        return None
    return sys.modules["schedlint.guard.session"].uninstall()


def __getattr__(name):
    if name == "Guard":
        from schedlint.guard.core import Guard

        return Guard
    if name == "GuardReport":
        from schedlint.guard.report import GuardReport

        return GuardReport
    raise AttributeError(f"module 'schedlint.guard' has no attribute {name!r}")


class _CallableModule(types.ModuleType):
    """``schedlint.guard`` is this package *and* the function users call: once any submodule is
    imported, Python binds the package to ``schedlint.guard``, so the package must be callable."""

    def __call__(self, *args, **kwargs):
        return api_guard(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
