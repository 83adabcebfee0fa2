"""Hugging Face ``Trainer``: guard the trainer's optimizer and LR scheduler while it trains.

.. code-block:: python

    from schedlint.integrations.transformers import ScheduleGuardCallback

    trainer = Trainer(model=model, args=args, train_dataset=ds, callbacks=[ScheduleGuardCallback()])
    trainer.train()  # raises schedlint.ScheduleViolation on a misused schedule

The guard starts at ``on_train_begin`` (the optimizer and scheduler exist by then; accelerate's
wrappers are looked through) and closes at ``on_train_end``. The Trainer steps its scheduler
after every optimizer step (not when AMP skipped the step; ReduceLROnPlateau after evaluation):
the guard replays exactly those steps, so they are never reported.

Requires ``transformers`` >= 4.45 (with ``accelerate``, which ``Trainer`` needs):
``pip install 'schedlint[transformers]'``.
"""

from __future__ import annotations

from transformers import TrainerCallback

from schedlint.integrations.guard_set import GuardSet

__all__ = ["ScheduleGuardCallback"]


def _unwrap(obj, attr: str):
    """accelerate's AcceleratedOptimizer/AcceleratedScheduler keep the real torch object in
    ``.optimizer``/``.scheduler``; look through such wrappers down to it."""
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    real = Optimizer if attr == "optimizer" else (LRScheduler, ReduceLROnPlateau)
    # AcceleratedOptimizer is itself an Optimizer subclass, but its step() only forwards to the
    # wrapped one: follow ``.optimizer`` as long as it leads to another optimizer.
    for _ in range(8):
        inner = getattr(obj, attr, None)
        if inner is None or inner is obj or not isinstance(inner, real):
            break
        obj = inner
    return obj if isinstance(obj, real) else None


class ScheduleGuardCallback(TrainerCallback):
    """A ``TrainerCallback`` that runs :func:`schedlint.guard` on the Trainer's optimizer with its
    LR scheduler.

    Args:
        expect: a declared schedule (see :func:`schedlint.guard`); ``step`` counts optimizer steps
            from 0 (``state.global_step`` of the step being taken).
        on_violation: ``"raise"`` (default: ``trainer.train()`` raises
            :class:`schedlint.ScheduleViolation` before the bad update), ``"warn"``, ``"log"``, or
            a callable receiving each :class:`~schedlint.guard.Violation`.
        history: keep up to this many LR samples per group for :meth:`plot`.
        guard_options: other keyword arguments of :func:`schedlint.guard`.
    """

    def __init__(self, expect=None, on_violation="raise", *, history: int = 0, **guard_options):
        if history:
            guard_options["history"] = history
        self.expect = expect
        self._set = GuardSet(on_violation, guard_options)
        self._driven = None  # (guard, wrapper optimizer) whose step events this callback forwards

    def on_train_begin(self, args, state, control, optimizer=None, lr_scheduler=None, **kwargs):
        self._driven = None
        if optimizer is None:
            return
        opt = _unwrap(optimizer, "optimizer")
        sched = _unwrap(lr_scheduler, "scheduler")
        bound = getattr(sched, "optimizer", None)
        if sched is None or bound is opt:
            self._set.start([(opt, [sched] if sched is not None else [])], self.expect)
            return
        if bound is not None and getattr(bound, "param_groups", None) is opt.param_groups:
            # The Trainer builds its scheduler on accelerate's AcceleratedOptimizer, which shares
            # the real optimizer's param groups: guard that wrapper, the object the scheduler
            # knows. Its step() only forwards to the real optimizer, so torch's step hooks do
            # not fire for it; the Trainer's optimizer-step events stand in for them.
            hooked = getattr(type(bound).step, "hooked", False)
            if not hooked and not hasattr(TrainerCallback, "on_pre_optimizer_step"):
                raise RuntimeError(
                    "ScheduleGuardCallback needs transformers>=4.45 (the "
                    "on_pre_optimizer_step/on_optimizer_step events): "
                    "pip install 'transformers>=4.45'"
                )
            self._set.start([(bound, [sched])], self.expect)
            if not hooked:
                self._driven = (self._set.guards[0], bound)
            return
        self._set.start([(opt, [])], self.expect)  # a scheduler of another optimizer: not ours

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        if self._driven is not None and not self._driven[0].closed:
            guard, wrapper = self._driven
            guard.optimizer_step(wrapper)  # raises before the update in raise mode

    def on_optimizer_step(self, args, state, control, **kwargs):
        if self._driven is not None and not self._driven[0].closed:
            guard, wrapper = self._driven
            guard.optimizer_step(wrapper, done=True)

    def on_train_end(self, args, state, control, **kwargs):
        self._driven = None
        self._set.close()

    # --- results -------------------------------------------------------------------------------

    @property
    def guards(self) -> list:
        return list(self._set.guards)

    def report(self) -> list:
        """One report per guarded optimizer (``str()`` of each is the guard's text report)."""
        return self._set.reports()

    @property
    def violations(self) -> list:
        return [v for r in self.report() for v in r.violations]

    def close(self):
        """Close the guard now (e.g. after ``trainer.train()`` raised); returns the reports."""
        self._driven = None
        return self._set.close(can_raise=False)

    def plot(self, path: str) -> str:
        """Draw each group's actual and expected LR (needs ``history=N``; ``schedlint[plot]``)."""
        from schedlint.integrations.plot import plot_lrs

        return plot_lrs(self._set.guards, path)
