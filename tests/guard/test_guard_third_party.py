"""Code that speaks the torch protocol without being torch: transformers-style LambdaLR schedules,
timm-style foreign writers, a second scheduler, AMP's GradScaler, and accelerator-resident LRs."""

import functools
import math
import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, lrs, make_optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402
from torch.overrides import TorchFunctionMode  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import ScheduleViolation  # noqa: E402
from schedlint.guard import lrs as lrs_module  # noqa: E402


def _linear_warmup_lambda(current_step, *, num_warmup_steps, num_training_steps):
    # transformers.optimization._get_linear_schedule_with_warmup_lr_lambda, verbatim in spirit.
    if current_step < num_warmup_steps:
        return float(current_step) / float(max(1, num_warmup_steps))
    return max(
        0.0,
        float(num_training_steps - current_step)
        / float(max(1, num_training_steps - num_warmup_steps)),
    )


def get_linear_schedule_with_warmup(optimizer, num_warmup_steps, num_training_steps):
    lr_lambda = functools.partial(
        _linear_warmup_lambda,
        num_warmup_steps=num_warmup_steps,
        num_training_steps=num_training_steps,
    )
    return S.LambdaLR(optimizer, lr_lambda)


class TimmLikeCosine:
    """Like timm.scheduler.CosineLRScheduler: not an LRScheduler; writes group["lr"] itself from
    `initial_lr` in step(epoch) and step_update(num_updates)."""

    def __init__(self, optimizer, t_initial, lr_min=0.0):
        self.optimizer = optimizer
        self.t_initial = t_initial
        self.lr_min = lr_min
        self.base_values = [g.setdefault("initial_lr", g["lr"]) for g in optimizer.param_groups]

    def _values(self, t):
        return [
            self.lr_min + 0.5 * (b - self.lr_min) * (1 + math.cos(math.pi * t / self.t_initial))
            for b in self.base_values
        ]

    def step(self, epoch, metric=None):
        for g, v in zip(self.optimizer.param_groups, self._values(epoch)):
            g["lr"] = v

    def step_update(self, num_updates, metric=None):
        self.step(num_updates)


def test_transformers_style_schedule_is_replayed_and_checked():
    model, opt = make_optimizer("adamw")
    sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=5, num_training_steps=30)
    with schedlint.guard(opt, sched) as g:
        for i in range(30):
            grad_step(model, opt, i)
            sched.step()
        report = g.report()
        assert report.ok and report.not_checked == [] and report.last_expected == lrs(opt)
        opt.param_groups[0]["lr"] = 1e-3
        with pytest.raises(ScheduleViolation) as info:
            grad_step(model, opt, 30)
    assert info.value.violation.code == "SLG102" and "closed form" in info.value.violation.cause


def test_a_timm_style_writer_is_slg102_unless_declared():
    model, opt = make_optimizer()
    main = S.ExponentialLR(opt, gamma=0.99)
    timm_like = TimmLikeCosine(opt, t_initial=20)
    with schedlint.guard(opt, main):
        grad_step(model, opt, 0)
        main.step()
        timm_like.step_update(1)
        with pytest.raises(ScheduleViolation) as info:
            grad_step(model, opt, 1)
    assert (
        info.value.violation.code == "SLG102"
        and "foreign scheduler such as timm's" in info.value.violation.cause
    )


def test_a_declared_foreign_writer_is_accepted_and_manual_writes_still_caught():
    model, opt = make_optimizer()
    timm_like = TimmLikeCosine(opt, t_initial=20, lr_min=1e-4)
    with schedlint.guard(opt, foreign_writers=[timm_like]) as g:
        for i in range(20):
            grad_step(model, opt, i)
            timm_like.step_update(i + 1)
        assert g.report().ok
        opt.param_groups[1]["lr"] = 0.3
        with pytest.raises(ScheduleViolation) as info:
            grad_step(model, opt, 20)
    assert (info.value.violation.code, info.value.violation.group_index) == ("SLG102", 1)


def test_allow_external_writes_turns_slg102_off():
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 5)
    with schedlint.guard(opt, sched, allow_external_writes=True) as g:
        for i in range(6):
            opt.param_groups[0]["lr"] = 0.05 * (i + 1)
            grad_step(model, opt, i)
            sched.step()
        assert g.report().ok


def test_a_second_scheduler_not_given_to_the_guard_is_named():
    model, opt = make_optimizer()
    declared = S.CosineAnnealingLR(opt, T_max=10)
    with schedlint.guard(opt, declared):
        extra = S.StepLR(opt, step_size=2, gamma=0.1)  # built later, stepped too
        with pytest.raises(ScheduleViolation) as info:
            for i in range(4):
                grad_step(model, opt, i)
                declared.step()
                extra.step()
    v = info.value.violation
    assert v.code == "SLG102" and v.scheduler == "StepLR" and "second scheduler, StepLR" in v.cause


def test_gradscaler_skipped_steps_are_not_double_stepping():
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 3)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**4)
    with schedlint.guard(opt, sched) as g:
        for i in range(6):
            opt.zero_grad()
            scaler.scale(model(torch.ones(2, 8)).sum()).backward()
            if i in (1, 4):
                next(model.parameters()).grad.fill_(math.inf)  # AMP overflow: the step is skipped
            scaler.step(opt)
            scaler.update()
            sched.step()
        report = g.report()
    assert report.ok and report.optimizer_steps == 4


SYNC_METHODS = {"item", "__bool__", "__float__", "__int__", "tolist", "cpu", "equal", "__index__"}


class CountReadbacks(TorchFunctionMode):
    """Counts tensor calls that copy a value to the host (a device sync on an accelerator)."""

    def __init__(self):
        super().__init__()
        self.per_step = []
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if getattr(func, "__name__", "") in SYNC_METHODS:
            self.count += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def device_path(monkeypatch):
    """Treat CPU tensor LRs as accelerator-resident: the guard takes its no-sync path, whose
    logic is then testable without a GPU."""
    monkeypatch.setattr(
        lrs_module,
        "on_device",
        lambda groups: any(isinstance(g["lr"], torch.Tensor) for g in groups),
    )


def _device_run(guarded, check_every, steps=12, between=None, sched_kind="step"):
    model, opt = make_optimizer(tensor_lr=True)
    sched = (
        S.StepLR(opt, 3, gamma=0.5) if sched_kind == "step" else S.LambdaLR(opt, lambda e: 0.9**e)
    )
    g = (
        schedlint.guard(opt, sched, check_every=check_every, on_violation=seen.append)
        if guarded
        else None
    )
    counter = CountReadbacks()
    for i in range(steps):
        if between:
            between(opt, sched, i)
        before = counter.count
        with counter:
            grad_step(model, opt, i)
            sched.step()
        counter.per_step.append(counter.count - before)
    return g, counter.per_step


seen = []


def test_device_lrs_are_never_read_back_between_checks(device_path):
    seen.clear()
    g, guarded = _device_run(True, check_every=5)
    _, plain = _device_run(False, check_every=5)
    extra = [a - b for a, b in zip(guarded, plain)]
    # Readbacks only at the check steps (optimizer steps 0, 5, 10), one small transfer each.
    assert [i for i, e in enumerate(extra) if e] == [0, 5, 10], extra
    assert max(extra) <= 2
    assert g.report().ok and seen == []
    g.close()


def test_device_path_reports_a_write_at_the_next_check_with_its_step(device_path):
    seen.clear()

    def write(opt, sched, i):
        if i == 6:
            opt.param_groups[1]["lr"].fill_(0.75)

    g, _ = _device_run(True, check_every=5, between=write)
    g.close()
    (v,) = seen
    assert (v.group_index, v.optimizer_step, v.actual) == (1, 6, 0.75)
    assert v.expected == pytest.approx(0.0025)


def test_device_path_reports_nan_and_replay_mismatch(device_path):
    seen.clear()

    def tamper(opt, sched, i):
        if i == 3:
            sched.base_lrs = [b * 2 for b in sched.base_lrs]  # the replay keeps the originals
        if i == 8:
            opt.param_groups[0]["lr"].fill_(math.nan)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g, _ = _device_run(True, check_every=4, between=tamper, sched_kind="lambda")
        g.close()
    codes = {(v.code, v.group_index) for v in seen}
    assert ("SLG101", 0) in codes and ("SLG105", 0) in codes
