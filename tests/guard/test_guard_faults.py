"""Faults inside the guard degrade to one "not checked" warning; training is never broken or
changed, and nothing is reported twice."""

import os
import threading
import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, lrs, make_optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import NotCheckedWarning, ScheduleViolation  # noqa: E402
from schedlint.guard.core import Guard  # noqa: E402


class LockedStepLR(S.StepLR):
    """Holds a lock and an open file: deepcopy (the replay) is impossible."""

    def __init__(self, opt, *args, **kwargs):
        self.lock = threading.Lock()
        self.log = open(os.devnull, "w")  # noqa: SIM115 - closed by the test
        super().__init__(opt, *args, **kwargs)


class NeedsParams(S.LRScheduler):
    """A custom scheduler whose get_lr fails on a parameter-free optimizer (the shadow) only."""

    def get_lr(self):
        if not self.optimizer.param_groups[0]["params"]:
            raise RuntimeError("this scheduler inspects the parameters")
        return [g["lr"] * 0.9 for g in self.optimizer.param_groups]


def _drive(make_sched, steps, *, guard_kwargs=None, guarded=True, between=None):
    model, opt = make_optimizer()
    sched = make_sched(opt)
    g = schedlint.guard(opt, sched, **(guard_kwargs or {})) if guarded else None
    trace = []
    for i in range(steps):
        if between:
            between(opt, i)
        grad_step(model, opt, i)
        sched.step()
        trace.append(lrs(opt))
    params = [p.detach().clone() for p in model.parameters()]
    return g, trace, params, sched


def _not_checked(caught):
    return [w for w in caught if issubclass(w.category, NotCheckedWarning)]


@pytest.mark.parametrize(
    "make",
    [lambda o: LockedStepLR(o, step_size=3), lambda o: NeedsParams(o)],
    ids=["uncopyable", "get_lr-fails-on-shadow"],
)
def test_a_scheduler_that_cannot_be_replayed_is_not_checked_once_and_the_rest_goes_on(make):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g, trace, params, sched = _drive(make, 12)
        ref = _drive(make, 12, guarded=False)
    (warning,) = _not_checked(caught)
    assert "replay" in str(warning.message)
    assert trace == ref[1] and all(torch.equal(a, b) for a, b in zip(params, ref[2]))
    # The cheap checks still run without the replay.
    g.optimizer.param_groups[0]["lr"] = 42.0
    with pytest.raises(ScheduleViolation, match="SLG102"):
        g.optimizer.step()
    assert len(g.report().not_checked) == 1
    g.close()
    for s in (sched, ref[3]):
        if hasattr(s, "log"):
            s.log.close()


def test_a_user_hook_that_rewrites_lrs_inside_step_is_not_checked_once():
    def warmup_hook(opt, args, kwargs):
        for g in opt.param_groups:
            g["lr"] = g["initial_lr"] * 0.5

    seen = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model, opt = make_optimizer()
        sched = S.StepLR(opt, step_size=2)
        opt.register_step_pre_hook(warmup_hook)
        with schedlint.guard(opt, sched, on_violation=seen.append) as g:
            trace = []
            for i in range(10):
                grad_step(model, opt, i)
                sched.step()
                trace.append(lrs(opt))
            report = g.report()
        ref_model, ref_opt = make_optimizer()
        ref_sched = S.StepLR(ref_opt, step_size=2)
        ref_opt.register_step_pre_hook(warmup_hook)
        ref_trace = []
        for i in range(10):
            grad_step(ref_model, ref_opt, i)
            ref_sched.step()
            ref_trace.append(lrs(ref_opt))
    (warning,) = _not_checked(caught)
    assert "changed inside optimizer.step()" in str(warning.message)
    assert seen == [] and report.not_checked == [
        str(warning.message).removeprefix("schedlint guard: ")
    ]
    assert trace == ref_trace


class SuperStepSGD(torch.optim.SGD):
    def step(self, closure=None):
        return super().step(closure)


# Watch mode runs the step hooks through dynamo's disable wrapper: more frames between the
# pre-hook and torch's step wrapper, which the nesting test must not count on.
@pytest.mark.parametrize("watch", [False, True])
def test_an_optimizer_subclass_calling_super_step_is_checked_once_per_step(watch):
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)  # makes SGD.step hooked too
    model = torch.nn.Linear(3, 3)
    opt = SuperStepSGD(model.parameters(), lr=0.1, momentum=0.9)
    assert getattr(torch.optim.SGD.step, "hooked", False) and getattr(
        SuperStepSGD.step, "hooked", False
    )
    sched = S.ExponentialLR(opt, gamma=0.9)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with schedlint.guard(opt, sched, on_violation=seen.append, watch=watch) as g:
            for i in range(5):
                grad_step(model, opt, i)
                sched.step()
            opt.param_groups[0]["lr"] = 1.0
            grad_step(model, opt, 5)
            sched.step()
            assert g.optimizer_steps == 6
    assert [(v.code, v.optimizer_step) for v in seen] == [("SLG102", 5)]


@pytest.mark.parametrize("watch", [False, True])
def test_a_step_that_raised_does_not_confuse_the_step_count(watch):
    torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    model = torch.nn.Linear(3, 3)
    opt = SuperStepSGD(model.parameters(), lr=0.1)
    sched = S.StepLR(opt, 2)
    with schedlint.guard(opt, sched, watch=watch) as g:
        grad_step(model, opt, 0)
        sched.step()

        def boom():
            raise KeyError("closure failed")

        with pytest.raises(KeyError):
            opt.step(boom)  # the pre-hooks ran, the post-hooks never will
        for i in range(1, 4):
            grad_step(model, opt, i)
            sched.step()
        assert g.optimizer_steps == 4 and g.report().ok


def test_an_internal_error_degrades_to_one_warning_and_pass_through(monkeypatch):
    def broken(self, opt):
        raise RuntimeError("bug in the guard")

    monkeypatch.setattr(Guard, "_before_update", broken)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        g, trace, params, _ = _drive(
            lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.01], total_steps=30), 20
        )
        monkeypatch.undo()
        ref = _drive(
            lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.01], total_steps=30), 20, guarded=False
        )
    (warning,) = _not_checked(caught)
    assert "internal error" in str(warning.message) and "RuntimeError: bug in the guard" in str(
        warning.message
    )
    assert trace == ref[1] and all(torch.equal(a, b) for a, b in zip(params, ref[2]))
    g.close()


def test_errors_of_the_real_scheduler_reach_the_user_unchanged():
    model, opt = make_optimizer()
    sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    with schedlint.guard(opt, sched):
        for i in range(3):
            grad_step(model, opt, i)
            sched.step()
        with pytest.raises(ValueError, match="Tried to step 4 times"):
            opt.step()
            sched.step()
