"""Lightning: guard the optimizers and schedulers returned by ``configure_optimizers``.

.. code-block:: python

    from schedlint.integrations.lightning import ScheduleGuard

    trainer = L.Trainer(max_epochs=3, callbacks=[ScheduleGuard()])
    trainer.fit(model)  # raises schedlint.ScheduleViolation on a misused schedule

Lightning steps the schedulers itself, following each config's ``interval`` (``"step"``: after
every optimizer step, ``"epoch"``: at the end of every training epoch) and ``frequency``
(every N batches of an epoch / every N epochs). The guard replays exactly the steps Lightning
makes, so that stepping is never reported; what is reported is what goes around it: an LR
written by hand, a scheduler also stepped in ``training_step`` or a hook, param groups changed,
non-finite LRs, and (SLG107) a scheduler Lightning never steps although it was due, e.g. a
``"step"`` scheduler whose ``frequency`` exceeds the number of batches in an epoch (Lightning
counts it within each epoch). A scheduler that was simply not due yet when training stopped
(an ``"epoch"`` scheduler and ``max_steps`` reached mid-epoch) is not reported.

Requires ``lightning`` (or ``pytorch_lightning``) >= 2.0: ``pip install 'schedlint[lightning]'``.
"""

from __future__ import annotations

import dataclasses

try:
    from lightning.pytorch.callbacks import Callback
except ImportError:  # the standalone package
    from pytorch_lightning.callbacks import Callback

from schedlint.integrations.guard_set import GuardSet

__all__ = ["ScheduleGuard"]


def _count(sched):
    """How many times ``sched`` has stepped (``last_epoch``; ChainedScheduler has only
    ``_step_count``)."""
    value = getattr(sched, "last_epoch", None)
    if isinstance(value, int):
        return value
    value = getattr(sched, "_step_count", None)
    return value if isinstance(value, int) else None


class _Cadence:
    """One Lightning scheduler config, and when Lightning's interval/frequency made it due."""

    def __init__(self, config):
        self.scheduler = config.scheduler
        self.name = type(config.scheduler).__name__
        self.interval = config.interval
        self.frequency = max(1, int(config.frequency or 1))
        self.plateau = bool(config.reduce_on_plateau)
        self.start = _count(config.scheduler)
        self.due = 0  # times Lightning's cadence came round while we watched
        self.epoch_batches = None  # batches in an epoch, when finite

    def stepped(self) -> bool:
        now = _count(self.scheduler)
        return self.start is None or now is None or now != self.start


class ScheduleGuard(Callback):
    """A Lightning ``Callback`` that runs :func:`schedlint.guard` on every optimizer of the fit,
    with the schedulers Lightning steps for it.

    Args:
        expect: a declared schedule (see :func:`schedlint.guard`), for every optimizer, or a list
            with one per optimizer (``None`` entries: replay only). ``step`` counts optimizer
            steps from 0, i.e. ``trainer.global_step``.
        on_violation: ``"raise"`` (default: ``trainer.fit`` raises
            :class:`schedlint.ScheduleViolation` before the bad update), ``"warn"``, ``"log"``, or
            a callable receiving each :class:`~schedlint.guard.Violation`.
        history: keep up to this many LR samples per group for :meth:`plot`.
        guard_options: other keyword arguments of :func:`schedlint.guard` (``rtol``, ``atol``,
            ``foreign_writers``, ``allow_external_writes``...).

    After ``fit``, :meth:`report` returns one report per optimizer and :attr:`violations` every
    violation seen.
    """

    def __init__(self, expect=None, on_violation="raise", *, history: int = 0, **guard_options):
        super().__init__()
        self.expect = expect
        if history:
            guard_options["history"] = history
        self._set = GuardSet(on_violation, guard_options, keep=self._keep)
        self._cadences: list = []
        self._automatic = True
        self._last_batch = 0

    # --- Lightning hooks ---------------------------------------------------------------------

    def on_train_start(self, trainer, pl_module) -> None:
        # After the checkpoint was restored: a resumed run is guarded from the restored state.
        configs = list(getattr(trainer, "lr_scheduler_configs", None) or ())
        self._automatic = bool(getattr(pl_module, "automatic_optimization", True))
        self._cadences = [_Cadence(c) for c in configs]
        batches = getattr(trainer, "num_training_batches", None)
        for c in self._cadences:
            c.epoch_batches = batches if isinstance(batches, int) else None
        self._last_batch = 0
        pairs = []
        for opt in trainer.optimizers:
            scheds = [
                c.scheduler for c in configs if getattr(c.scheduler, "optimizer", None) is opt
            ]
            pairs.append((opt, scheds))
        self._set.start(pairs, self.expect)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # Lightning has just run its "step" scheduler update for this batch (if any).
        self._last_batch = batch_idx + 1
        if not self._cadences:
            return
        loop = getattr(getattr(trainer, "fit_loop", None), "epoch_loop", None)
        try:
            accumulating = bool(loop._should_accumulate())
        except Exception:
            accumulating = (batch_idx + 1) % max(
                1, int(getattr(trainer, "accumulate_grad_batches", 1))
            ) != 0
        if accumulating:
            return
        for c in self._cadences:
            if c.interval == "step" and (batch_idx + 1) % c.frequency == 0:
                c.due += 1

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Lightning steps "epoch" schedulers only when the epoch ran to its end (not when
        # max_steps or a stop signal cut it short), on epochs numbered a multiple of frequency.
        try:
            complete = bool(trainer.fit_loop.epoch_loop._num_ready_batches_reached())
        except Exception:
            total = getattr(trainer, "num_training_batches", None)
            complete = not isinstance(total, int) or self._last_batch >= total
        self._last_batch = 0
        if not complete:
            return
        for c in self._cadences:
            if c.interval == "epoch" and (trainer.current_epoch + 1) % c.frequency == 0:
                c.due += 1

    def on_exception(self, trainer, pl_module, exception) -> None:
        # Training already failed: report what closing finds, never raise over the real error.
        self._set.close(can_raise=False)

    def on_fit_end(self, trainer, pl_module) -> None:
        self._set.close()

    def teardown(self, trainer, pl_module, stage) -> None:
        self._set.close(can_raise=False)

    # --- results -------------------------------------------------------------------------------

    @property
    def guards(self) -> list:
        """The :class:`~schedlint.guard.Guard` of each optimizer of the last fit."""
        return list(self._set.guards)

    def report(self) -> list:
        """One report per optimizer (``str()`` of each is the guard's text report)."""
        return self._set.reports()

    @property
    def violations(self) -> list:
        return [v for r in self.report() for v in r.violations]

    def plot(self, path: str) -> str:
        """Draw each group's actual and expected LR (needs ``history=N``; ``schedlint[plot]``)."""
        from schedlint.integrations.plot import plot_lrs

        return plot_lrs(self._set.guards, path)

    # --- Lightning's cadence -------------------------------------------------------------------

    def _keep(self, violation):
        """Drop SLG107 for a scheduler Lightning was not due to step yet; explain the ones whose
        ``frequency`` Lightning can never reach."""
        if violation.code != "SLG107" or not self._automatic:
            return violation
        mine = [c for c in self._cadences if c.name == violation.scheduler and not c.stepped()]
        if not mine:
            return violation
        c = mine[0]
        if c.due:
            return violation  # due, yet never stepped: something stopped Lightning's stepping
        n = c.epoch_batches
        if c.interval == "step" and n is not None and 0 < n < c.frequency:
            cause = (
                f"Lightning steps it with interval='step', frequency={c.frequency}, counted in "
                f"batches within each epoch, but an epoch has only {n} batches, so it is never "
                f"stepped; use a frequency <= {n} or interval='epoch'"
            )
            return dataclasses.replace(violation, cause=cause)
        when = (
            f"every {c.frequency} epoch(s)"
            if c.interval == "epoch"
            else f"every {c.frequency} batches"
        )
        self._set.notes.append(
            f"{c.name}: not due yet when training stopped (Lightning steps it {when}); "
            "scheduler-never-stepped not reported"
        )
        return None
