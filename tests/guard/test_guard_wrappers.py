"""Optimizers behind a wrapper: accelerate's AcceleratedOptimizer (and Lightning's, DeepSpeed's)
keep the real optimizer in ``.optimizer``, share its ``param_groups`` and forward ``step()`` to it.
A scheduler built on the wrapper drives the real optimizer's groups, whose steps are the ones
torch's hooks see: the guard judges the scheduler against those steps (evalset2 g09, a warm-up
LambdaLR on ``accelerator.prepare(optimizer)``, was reported 31 times)."""

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, make_optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402


class StepForwarder(torch.optim.Optimizer):
    """A training library's optimizer wrapper, shaped like AcceleratedOptimizer: an Optimizer
    subclass (schedulers accept it) that never runs Optimizer.__init__, so torch's step hooks do
    not fire for it, and that hands every call to the optimizer it wraps."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.skipped = 0

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    @property
    def state(self):
        return self.optimizer.state

    @property
    def defaults(self):
        return self.optimizer.defaults

    def state_dict(self):
        return self.optimizer.state_dict()

    def load_state_dict(self, state_dict):
        self.optimizer.load_state_dict(state_dict)

    def zero_grad(self, set_to_none=True):
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        return self.optimizer.step(closure)


def warmup(optimizer, steps=20):
    return S.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / steps))


def fit(model, optimizer, sched, steps, *, edit_at=None):
    for i in range(steps):
        if i == edit_at:
            optimizer.param_groups[1]["lr"] = 0.5  # a hand-written lr the schedule never gives
        grad_step(model, optimizer, i)
        sched.step()


def test_a_scheduler_on_the_wrapper_follows_the_wrapped_optimizers_steps(auto):
    model, inner = make_optimizer("adamw")
    wrapped = StepForwarder(inner)
    sched = warmup(wrapped)
    fit(model, wrapped, sched, 16)
    assert auto.seen == []
    (report,) = auto.report().reports  # one guard: the wrapper is not guarded on its own
    assert (report.optimizer, report.optimizer_steps) == ("AdamW", 16)
    assert [(name, steps) for name, steps, _role in report.schedulers] == [("LambdaLR", 16)]
    assert report.ok, str(report)


def test_a_write_through_the_wrapper_is_still_reported(auto):
    model, inner = make_optimizer("sgd")
    wrapped = StepForwarder(inner)
    sched = warmup(wrapped)
    fit(model, wrapped, sched, 8, edit_at=5)
    first = auto.seen[0]
    assert (first.code, first.optimizer_step, first.group_index, first.actual) == (
        "SLG102",
        5,
        1,
        0.5,
    )
    assert {v.code for v in auto.seen} == {"SLG102"}


def test_a_scheduler_stepped_first_through_the_wrapper_is_still_out_of_order(auto):
    model, inner = make_optimizer("sgd")
    wrapped = StepForwarder(inner)
    sched = warmup(wrapped)
    sched.step()  # before any optimizer step: the first warm-up value is skipped
    fit(model, wrapped, sched, 3)
    assert [v.code for v in auto.seen] == ["SLG103"]


def test_an_explicit_guard_on_the_real_optimizer_takes_a_scheduler_built_on_its_wrapper():
    model, inner = make_optimizer("sgd")
    wrapped = StepForwarder(inner)
    sched = warmup(wrapped)
    with schedlint.guard(inner, sched) as guard:
        fit(model, wrapped, sched, 6)
    assert guard.report().ok
    assert guard.report().optimizer_steps == 6


def test_an_optimizer_reloading_its_own_unstepped_state_is_not_a_resume(auto):
    """accelerate's prepare() moves the optimizer's state to the device by loading its own
    state_dict back, after the scheduler gave the groups initial_lr: that is not a checkpoint of
    a run that had a scheduler (evalset2 g07 got SLG114 'schedule restarts' on its first run)."""
    model, opt = make_optimizer("adamw")
    sched = warmup(opt)
    opt.load_state_dict(opt.state_dict())
    fit(model, opt, sched, 4)
    assert auto.seen == []


def test_a_resume_at_the_first_lr_without_the_scheduler_state_is_still_reported(auto):
    model, opt = make_optimizer("adamw")
    sched = warmup(opt)
    fit(model, opt, sched, 2)
    saved = opt.state_dict()
    model, opt = make_optimizer("adamw")
    sched = warmup(opt)
    opt.load_state_dict(saved)  # the warm-up's state is not loaded: it starts again
    fit(model, opt, sched, 2)
    assert [v.code for v in auto.seen] == ["SLG114"]


# --- accelerate itself (optional: skipped where it is not installed) ---------------------------


def _accelerate_run(workdir, steps, *, resume, prepare_scheduler, register=False):
    """A single-process accelerate loop with a warm-up LambdaLR that checkpoints half-way with
    save_state (and resumes from there with load_state). ``prepare_scheduler`` passes the
    scheduler to prepare(), which makes save_state/load_state carry it; otherwise it is built
    on the prepared optimizer."""
    accelerate = pytest.importorskip("accelerate")
    accelerator = accelerate.Accelerator(cpu=True)
    model, opt = make_optimizer("adamw")
    if prepare_scheduler:
        sched = warmup(opt)
        model, opt, sched = accelerator.prepare(model, opt, sched)
    else:
        model, opt = accelerator.prepare(model, opt)
        sched = warmup(opt)
    if register:
        accelerator.register_for_checkpointing(sched)
    done = 0
    if resume:
        accelerator.load_state(str(workdir))
        done = steps // 2
    for i in range(done, steps):
        grad_step(model, opt, i)
        sched.step()
        opt.zero_grad()
        if i + 1 == steps // 2 and not resume:
            accelerator.save_state(str(workdir))
    return sched.get_last_lr()


def test_accelerate_scheduler_on_the_prepared_optimizer_is_silent(auto, tmp_path):
    _accelerate_run(tmp_path, 8, resume=False, prepare_scheduler=False, register=True)
    assert auto.seen == []
    (report,) = auto.report().reports
    assert (report.optimizer, report.optimizer_steps) == ("AdamW", 8)


def test_accelerate_prepared_scheduler_resumed_by_load_state_is_silent(auto, tmp_path):
    _accelerate_run(tmp_path, 8, resume=False, prepare_scheduler=True)
    lrs = _accelerate_run(tmp_path, 8, resume=True, prepare_scheduler=True)
    assert lrs == pytest.approx([0.1 * 9 / 20, 0.01 * 9 / 20])  # the warm-up went on
    assert auto.seen == []


def test_accelerate_scheduler_left_out_of_save_state_is_reported_as_restarted(auto, tmp_path):
    """DiM-DiffusionMamba#5: neither prepared nor registered, the scheduler is not in the
    checkpoint, and the resumed run starts its warm-up again."""
    _accelerate_run(tmp_path, 8, resume=False, prepare_scheduler=False)
    unsaved = [v.code for v in auto.seen]
    lrs = _accelerate_run(tmp_path, 8, resume=True, prepare_scheduler=False)
    assert lrs == pytest.approx([0.1 * 5 / 20, 0.01 * 5 / 20])  # the warm-up started again
    assert set(unsaved) == {"SLG114"}  # the checkpoints hold the optimizer, not the scheduler
    restarted = auto.seen[len(unsaved) :]
    assert [(v.code, v.optimizer_step) for v in restarted] == [("SLG114", 0)]
    assert "restarts from the top" in restarted[0].cause
