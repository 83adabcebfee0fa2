"""A user's own LRScheduler subclass seen for the first time by an auto-guarding session
(`schedlint run`): its twin must be rebuilt from the user's arguments, not from what the
subclass passed to ``super().__init__`` (found by trial9: a cosine-with-restarts class whose
every constructor argument has a default was replayed as ``Cls(optimizer, -1)``, and its
correct schedule reported as SLG101/SLG102)."""

import math

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, make_optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402


def _restarts_class():
    # defined per test: the guard wraps a user class once it has seen an instance of it
    class CosineWarmupRestarts(S.LRScheduler):
        def __init__(
            self, optimizer, cycle_steps=10, min_ratio=0.01, warmup_steps=0, last_epoch=-1
        ):
            self.cycle_steps = cycle_steps
            self.min_ratio = min_ratio
            self.warmup_steps = warmup_steps
            super().__init__(optimizer, last_epoch)

        def get_lr(self):
            t = self.last_epoch % self.cycle_steps
            if t < self.warmup_steps:
                scale = self.min_ratio + (1 - self.min_ratio) * t / self.warmup_steps
            else:
                progress = (t - self.warmup_steps) / max(1, self.cycle_steps - self.warmup_steps)
                scale = (
                    self.min_ratio + (1 - self.min_ratio) * (1 + math.cos(math.pi * progress)) / 2
                )
            return [base * scale for base in self.base_lrs]

    return CosineWarmupRestarts


def test_first_instance_of_a_user_subclass_is_replayed_from_its_own_arguments(auto):
    cls = _restarts_class()
    model, opt = make_optimizer()
    sched = cls(opt, cycle_steps=6, min_ratio=1e-3, warmup_steps=2)
    for i in range(14):
        grad_step(model, opt, i)
        sched.step()
    auto.close_guards()
    assert auto.seen == [], [v.code for v in auto.seen]


def test_a_user_subclass_that_does_go_off_its_schedule_is_still_reported(auto):
    cls = _restarts_class()
    model, opt = make_optimizer()
    sched = cls(opt, cycle_steps=6, min_ratio=1e-3, warmup_steps=2)
    for i in range(8):
        grad_step(model, opt, i)
        sched.step()
        if i == 4:
            opt.param_groups[0]["lr"] = 0.5  # a stray edit
    auto.close_guards()
    assert "SLG102" in {v.code for v in auto.seen}
