"""timm's schedulers under a guard nobody told about them (schedlint run, the pytest plugin):
found through the optimizer they hold, their writes accepted, and a run that drives one
through the method that does nothing for it (its ``t_in_epochs`` says which) is SLG107.

timm is not a test dependency: a module named like timm's scheduler base, with its
semantics (the warm-up start written by the constructor; ``step(epoch)`` moves the lr only
with ``t_in_epochs=True``, ``step_update(num_updates)`` only with ``t_in_epochs=False``),
stands in for it."""

import math
import sys
import types

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, lrs, make_optimizer  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import ScheduleViolation  # noqa: E402


class Scheduler:
    def __init__(self, optimizer, t_in_epochs=True, warmup_t=0, warmup_lr_init=0.0):
        self.optimizer = optimizer
        self.t_in_epochs = t_in_epochs
        self.warmup_t, self.warmup_lr_init = warmup_t, warmup_lr_init
        self.base_values = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]
        if warmup_t:
            self._update([warmup_lr_init] * len(self.base_values))

    def _update(self, values):
        for g, v in zip(self.optimizer.param_groups, values):
            g["lr"] = v

    def _values(self, t):
        if t < self.warmup_t:
            return [
                self.warmup_lr_init + t * (b - self.warmup_lr_init) / self.warmup_t
                for b in self.base_values
            ]
        return self._get_lr(t - self.warmup_t)

    def step(self, epoch, metric=None):
        if self.t_in_epochs:
            self._update(self._values(epoch))

    def step_update(self, num_updates, metric=None):
        if not self.t_in_epochs:
            self._update(self._values(num_updates))


class CosineLRScheduler(Scheduler):
    def __init__(self, optimizer, t_initial, **kwargs):
        self.t_initial = t_initial
        super().__init__(optimizer, **kwargs)

    def _get_lr(self, t):
        return [
            0.5 * b * (1 + math.cos(math.pi * min(t, self.t_initial) / self.t_initial))
            for b in self.base_values
        ]


@pytest.fixture
def timm(monkeypatch):
    module = types.ModuleType("timm.scheduler.scheduler")
    module.Scheduler = Scheduler
    Scheduler.__module__ = CosineLRScheduler.__module__ = module.__name__
    monkeypatch.setitem(sys.modules, module.__name__, module)
    return module


def test_an_undeclared_timm_scheduler_is_found_and_its_writes_accepted(timm):
    model, opt = make_optimizer()
    sched = CosineLRScheduler(opt, t_initial=20, t_in_epochs=False, warmup_t=3, warmup_lr_init=1e-6)
    with schedlint.guard(opt) as g:
        for i in range(20):
            grad_step(model, opt, i)
            sched.step_update(i + 1)
        assert g.report().ok, g.report().violations
        opt.param_groups[1]["lr"] = 0.3  # a manual write is still one
        with pytest.raises(ScheduleViolation) as info:
            grad_step(model, opt, 20)
    assert (info.value.violation.code, info.value.violation.group_index) == ("SLG102", 1)


def test_a_timm_scheduler_counting_epochs_stepped_per_epoch_is_accepted(timm):
    model, opt = make_optimizer()
    sched = CosineLRScheduler(opt, t_initial=4, warmup_t=1, warmup_lr_init=1e-5)
    with schedlint.guard(opt) as g:
        for epoch in range(4):
            for i in range(5):
                grad_step(model, opt, epoch * 5 + i)
            sched.step(epoch + 1)
        assert g.report().ok and g.report().pending == []
    assert lrs(opt) == sched._values(4)


@pytest.mark.parametrize(
    "t_in_epochs, drive, needed",
    [(False, "step", "step_update"), (True, "step_update", "step")],
)
def test_a_timm_scheduler_driven_by_the_method_that_does_nothing_for_it(
    timm, t_in_epochs, drive, needed
):
    model, opt = make_optimizer()
    sched = CosineLRScheduler(
        opt, t_initial=8, t_in_epochs=t_in_epochs, warmup_t=2, warmup_lr_init=1e-6
    )
    g = schedlint.guard(opt)
    for epoch in range(3):
        for i in range(4):
            grad_step(model, opt, epoch * 4 + i)
            if drive == "step_update":
                sched.step_update(epoch * 4 + i + 1)
        if drive == "step":
            sched.step(epoch + 1)
    (pending,) = g.report().pending
    assert pending.code == "SLG107" and f"only {needed}() moves its lr" in pending.cause
    assert "all 12 optimizer steps used its first lr" in pending.cause
    with pytest.raises(ScheduleViolation, match="SLG107"):
        g.close()
