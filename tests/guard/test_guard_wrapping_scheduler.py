"""A user scheduler that steps another scheduler it was handed (a warm-up that hands over to a
cosine, as the GradualWarmupScheduler recipes do): the inner one is stepped by its parent, not
left unstepped."""

import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, make_optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402


class WarmupThen(S.LRScheduler):
    """Linear warm-up for `warmup` steps, then every step goes to `after`."""

    def __init__(self, optimizer, warmup, after):
        self.warmup = warmup
        self.after = after
        super().__init__(optimizer)

    def get_lr(self):
        scale = min(1.0, (self.last_epoch + 1) / self.warmup)
        return [base * scale for base in self.base_lrs]

    def step(self, epoch=None):
        if self.last_epoch + 1 < self.warmup:
            return super().step()
        self.last_epoch += 1
        if self.last_epoch == self.warmup:
            for group, base in zip(self.optimizer.param_groups, self.base_lrs):
                group["lr"] = base
        else:
            self.after.step()
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


def _train(model, opt, sched, steps):
    for i in range(steps):
        grad_step(model, opt, i)
        sched.step()


@pytest.mark.parametrize("declared", [True, False])
def test_a_scheduler_stepped_by_the_scheduler_it_was_handed_to_is_not_unstepped(declared):
    model, opt = make_optimizer()
    cosine = S.CosineAnnealingLR(opt, T_max=6)
    sched = WarmupThen(opt, 3, cosine)
    with warnings.catch_warnings():
        warnings.simplefilter("error", schedlint.ScheduleWarning)
        g = schedlint.guard(opt, sched) if declared else schedlint.guard(opt)
        _train(model, opt, sched, 9)
        report = g.close()
    assert report.total == 0, str(report)


def test_a_scheduler_only_held_by_another_one_and_never_stepped_is_still_silent():
    # Precision over reach: a scheduler another one holds is taken as that one's to step.
    model, opt = make_optimizer()
    cosine = S.CosineAnnealingLR(opt, T_max=6)
    sched = WarmupThen(opt, 20, cosine)
    g = schedlint.guard(opt)
    _train(model, opt, sched, 9)
    assert g.close().total == 0


def test_an_unstepped_scheduler_nothing_holds_is_still_reported():
    model, opt = make_optimizer()
    forgotten = S.CosineAnnealingLR(opt, T_max=6)
    sched = S.StepLR(opt, 2)
    g = schedlint.guard(opt, on_violation="warn")
    with pytest.warns(schedlint.ScheduleWarning, match="SLG107"):
        for i in range(4):
            grad_step(model, opt, i)
            sched.step()
        report = g.close()
    assert "SLG107" in report.by_code()
    assert forgotten.last_epoch == 0


class WarmupThenPlateau(S.LRScheduler):
    """A warm-up whose own `step(metrics)` hands the metric to a ReduceLROnPlateau."""

    def __init__(self, optimizer, warmup, plateau):
        self.warmup = warmup
        self.plateau = plateau
        super().__init__(optimizer)

    def get_lr(self):
        return [base * min(1.0, (self.last_epoch + 1) / self.warmup) for base in self.base_lrs]

    def step(self, metrics=None):
        if self.last_epoch + 1 < self.warmup:
            return super().step()
        self.last_epoch += 1
        if self.last_epoch > self.warmup and metrics is not None:
            self.plateau.step(metrics)
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]


class EpochForwarding(WarmupThenPlateau):
    """The GradualWarmupScheduler signature: an epoch first, handed on to torch's step."""

    def step(self, epoch=None, metrics=None):
        return S.LRScheduler.step(self, epoch)


def test_the_argument_of_a_step_of_your_own_that_takes_no_epoch_is_not_an_epoch():
    model, opt = make_optimizer()
    sched = WarmupThenPlateau(opt, 3, S.ReduceLROnPlateau(opt, patience=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error", schedlint.ScheduleWarning)
        g = schedlint.guard(opt)
        for i in range(8):
            grad_step(model, opt, i)
            sched.step(1.0)
        report = g.close()
    assert report.total == 0, str(report)


def test_an_epoch_a_step_of_your_own_hands_to_torch_is_still_reported():
    model, opt = make_optimizer()
    sched = EpochForwarding(opt, 3, S.ReduceLROnPlateau(opt, patience=0))
    g = schedlint.guard(opt, on_violation="warn")
    with pytest.warns(schedlint.ScheduleWarning, match="SLG111"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The epoch parameter")  # torch's own warning
        for i in range(4):
            grad_step(model, opt, i)
            sched.step(i + 1)
    assert "SLG111" in g.close().by_code()
