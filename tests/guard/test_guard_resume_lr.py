"""SLG114 on resume: a scheduler whose state was loaded while the groups still hold another lr.

torch-points3d#630: the optimizer state is loaded before the scheduler is built, so the
constructor writes ``initial_lr * factor(0)`` back into the groups, and ``load_state_dict``
restores the schedule's position and ``_last_lr`` but not the groups: the first resumed epoch
trains at the top of the schedule. Each bad resume is reported once, with the loaded schedule's
lr and the lr used; each correct resume next to it stays silent."""

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import line_of  # noqa: E402
from guard_schedulers import linear_two_groups, ones_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402


def _halving(opt):
    return S.LambdaLR(opt, lambda epoch: 0.5**epoch)


def _step_lr(opt):
    return S.StepLR(opt, step_size=1, gamma=0.5)


def _sequential(opt):
    warm = S.LinearLR(opt, start_factor=0.5, total_iters=2)
    decay = S.ExponentialLR(opt, gamma=0.5)
    return S.SequentialLR(opt, [warm, decay], milestones=[2])


def _chained(opt):
    return S.ChainedScheduler([S.ExponentialLR(opt, gamma=0.5), S.ConstantLR(opt, 0.5, 2)])


# Schedulers whose constructor writes another lr than the loaded one into the groups: LambdaLR's
# is initial_lr * lambda(0), SequentialLR resets them to initial_lr before its first phase, and
# ConstantLR's first step scales the loaded lr once more.
BUILDERS = {
    "LambdaLR": _halving,
    "SequentialLR": _sequential,
    "ChainedScheduler": _chained,
}


def _train(model, opt, sched, epochs=3):
    for _ in range(epochs):
        ones_step(model, opt)
        sched.step()


def _checkpoint(build, epochs=5):
    """A first run: ``epochs`` epochs under ``build``'s scheduler, both states saved."""
    model, opt = linear_two_groups()
    sched = build(opt)
    _train(model, opt, sched, epochs)
    return {"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}


def _lr_findings(session):
    return [v for v in session.seen if v.code == "SLG114"]


def test_torch_points3d_630_scheduler_built_after_the_optimizer_load_is_reported(auto):
    ckpt = _checkpoint(_halving)
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])  # lr 0.003125 restored
    sched = S.LambdaLR(opt, lambda epoch: 0.5**epoch)  # writes initial_lr back
    sched.load_state_dict(ckpt["scheduler"])  # restores its position
    assert opt.param_groups[0]["lr"] == 0.1  # torch: the groups are not restored
    _train(model, opt, sched, epochs=4)
    (v,) = auto.seen
    assert v.code == "SLG114"
    assert v.scheduler == "LambdaLR"
    assert (v.group_index, v.expected, v.actual) == (0, 0.003125, 0.1)
    assert f"test_guard_resume_lr.py:{line_of(__file__, '# writes initial_lr back')}" in v.cause
    assert f"test_guard_resume_lr.py:{line_of(__file__, '# restores its position')}" in v.cause


@pytest.mark.parametrize("name", list(BUILDERS))
def test_each_schedulers_state_loaded_over_other_lrs_is_reported_once(auto, name):
    ckpt = _checkpoint(BUILDERS[name])
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = BUILDERS[name](opt)
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched, epochs=5)  # no cascade: the later epochs go on from what ran
    (v,) = auto.seen
    assert v.code == "SLG114" and v.scheduler == name
    assert v.expected == pytest.approx(ckpt["scheduler"]["_last_lr"][0])


def test_an_explicit_guard_reports_it_too():
    ckpt = _checkpoint(_halving)
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = _halving(opt)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        sched.load_state_dict(ckpt["scheduler"])
        _train(model, opt, sched, epochs=4)
    assert [v.code for v in seen] == ["SLG114"]


def test_scheduler_state_loaded_without_the_optimizer_state_is_reported(auto):
    ckpt = _checkpoint(_halving)
    model, opt = linear_two_groups()
    sched = _halving(opt)
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched)
    assert [v.code for v in auto.seen] == ["SLG114"]


@pytest.mark.parametrize("name", ["SequentialLR", "ChainedScheduler"])
def test_a_scheduler_step_that_goes_on_from_the_wrong_lr_is_reported(auto, name):
    # The epoch loop steps the scheduler first: a chainable phase multiplies what it finds.
    model, opt = linear_two_groups()
    first = BUILDERS[name](opt)
    _train(model, opt, first, epochs=5)
    ckpt = {"optimizer": opt.state_dict(), "scheduler": first.state_dict()}
    first.step()
    uninterrupted = [g["lr"] for g in opt.param_groups]
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = BUILDERS[name](opt)
    sched.load_state_dict(ckpt["scheduler"])
    sched.step()
    resumed = [g["lr"] for g in opt.param_groups]
    assert resumed != pytest.approx(uninterrupted)  # torch
    _train(model, opt, sched)
    (v,) = _lr_findings(auto)
    assert v.scheduler == name and v.group_index == 0
    assert (v.expected, v.actual) == (pytest.approx(uninterrupted[0]), resumed[0])


# --- resumes that are right, or that cannot be judged -------------------------------------------


@pytest.mark.parametrize("name", [*BUILDERS, "StepLR"])
def test_scheduler_built_before_the_optimizer_load_is_silent(auto, name):
    build = BUILDERS.get(name, _step_lr)
    ckpt = _checkpoint(build)
    model, opt = linear_two_groups()
    sched = build(opt)
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()  # torch: consistent
    _train(model, opt, sched, epochs=5)
    assert auto.seen == []


def test_a_chainable_scheduler_built_after_the_optimizer_load_keeps_its_lr_and_is_silent(auto):
    # StepLR's constructor step returns the groups' lr as it finds them: the loaded one.
    ckpt = _checkpoint(_step_lr)
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = _step_lr(opt)
    sched.load_state_dict(ckpt["scheduler"])
    assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()  # torch: consistent
    _train(model, opt, sched)
    assert auto.seen == []


def test_a_scheduler_step_between_the_load_and_the_optimizer_step_is_silent(auto):
    # The epoch loop steps the scheduler first: LambdaLR's lr comes from its position alone.
    ckpt = _checkpoint(_halving)
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = _halving(opt)
    sched.load_state_dict(ckpt["scheduler"])
    for _ in range(3):
        sched.step()
        ones_step(model, opt)
    assert _lr_findings(auto) == []  # the step order itself is SLG103's


@pytest.mark.parametrize("load_optimizer", [True, False])
def test_reduce_lr_on_plateau_goes_on_from_the_optimizers_lr(auto, load_optimizer):
    model, opt = linear_two_groups()
    plateau = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    for _ in range(3):
        ones_step(model, opt)
        plateau.step(1.0)
    ckpt = {"optimizer": opt.state_dict(), "scheduler": plateau.state_dict()}
    model, opt = linear_two_groups()
    if load_optimizer:
        opt.load_state_dict(ckpt["optimizer"])
    plateau = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    plateau.load_state_dict(ckpt["scheduler"])
    for _ in range(3):
        ones_step(model, opt)
        plateau.step(1.0)
    assert auto.seen == []


def test_an_old_state_without_last_lr_is_silent(auto):
    ckpt = _checkpoint(_halving)
    del ckpt["scheduler"]["_last_lr"]
    model, opt = linear_two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = _halving(opt)
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched)
    assert auto.seen == []


def _resumed_then_lowered(opt):
    sched = _halving(opt)
    opt.load_state_dict(_checkpoint(_halving)["optimizer"])
    sched.load_state_dict(_checkpoint(_halving)["scheduler"])
    for g in opt.param_groups:  # a lower lr for the rest of this run, on purpose
        g["lr"] = g["lr"] * 0.1
    return sched


def test_a_write_after_the_load_declared_with_allow_external_writes_is_silent():
    model, opt = linear_two_groups()
    seen = []
    with schedlint.guard(opt, on_violation=seen.append, allow_external_writes=True):
        sched = _resumed_then_lowered(opt)
        _train(model, opt, sched)
    assert seen == []


def test_a_write_after_the_load_declared_with_expect_is_silent():
    model, opt = linear_two_groups()
    seen = []

    def declared(step, group, base_lr):  # the lowered epoch, then the schedule again
        return base_lr * 0.5**5 * 0.1 if step == 0 else base_lr * 0.5 ** (5 + step)

    with schedlint.guard(opt, on_violation=seen.append, expect=declared):
        sched = _resumed_then_lowered(opt)
        _train(model, opt, sched)
    assert seen == []
