"""Every torch scheduler, alone and inside SequentialLR/ChainedScheduler, float and tensor LRs:
silent on correct use, and the right SLG code for each injected misuse."""

import math
import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import ALL, NESTED, STEPS, lrs, make_optimizer, step_scheduler  # noqa: E402
from guard_schedulers import grad_step as train_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import ScheduleViolation  # noqa: E402

ALL_AND_NESTED = {**ALL, **NESTED}


def _train(model, opt, sched, steps, start=0):
    for i in range(start, start + steps):
        train_step(model, opt, i)
        step_scheduler(sched, i)


@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float-lr", "tensor-lr"])
@pytest.mark.parametrize("name", list(ALL_AND_NESTED))
def test_correct_use_is_silent_and_replayed(name, tensor_lr):
    model, opt = make_optimizer(tensor_lr=tensor_lr)
    sched = ALL_AND_NESTED[name](opt)
    seen = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NotCheckedWarning, and no torch warning caused by us
        with schedlint.guard(opt, sched, on_violation=seen.append) as g:
            _train(model, opt, sched, STEPS)
            report = g.report()
    assert seen == [] and report.ok and report.not_checked == []
    assert report.optimizer_steps == STEPS
    # The replay predicted every LR the real scheduler produced (compared after each step).
    assert report.last_expected == lrs(opt)


@pytest.mark.parametrize("tensor_lr", [False, True], ids=["float-lr", "tensor-lr"])
@pytest.mark.parametrize("name", list(ALL))
def test_manual_write_is_slg102(name, tensor_lr):
    model, opt = make_optimizer(tensor_lr=tensor_lr)
    sched = ALL[name](opt)
    with schedlint.guard(opt, sched) as g:
        _train(model, opt, sched, 10)
        before = lrs(opt)[0]
        if tensor_lr:
            opt.param_groups[0]["lr"].fill_(before * 3 + 0.5)
        else:
            opt.param_groups[0]["lr"] = before * 3 + 0.5
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 10)
        assert g.optimizer_steps == 10, "the update with the manual LR ran"
    v = info.value.violation
    assert (v.code, v.group_index, v.group_name, v.optimizer_step) == ("SLG102", 0, "body", 10)
    assert v.expected == pytest.approx(before, rel=1e-6) and v.actual == pytest.approx(
        before * 3 + 0.5, rel=1e-6
    )


@pytest.mark.parametrize("name", list(ALL))
def test_double_step_is_slg103_raised_before_the_extra_step(name):
    model, opt = make_optimizer()
    sched = ALL[name](opt)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 10)
        before = lrs(opt)
        state = {k: v for k, v in sched.state_dict().items() if k == "last_epoch"}
        with pytest.raises(ScheduleViolation) as info:
            step_scheduler(sched, 10)
        assert (
            lrs(opt) == before
            and {k: v for k, v in sched.state_dict().items() if k == "last_epoch"} == state
        )
    v = info.value.violation
    assert v.code == "SLG103" and "2 times without an optimizer.step()" in v.cause
    assert v.optimizer_step == 10 and v.scheduler_step == 10


@pytest.mark.parametrize("name", list(ALL))
def test_scheduler_step_before_the_first_optimizer_step_is_slg103(name):
    model, opt = make_optimizer()
    with schedlint.guard(opt):  # discovery: built after the guard
        sched = ALL[name](opt)
        with pytest.raises(ScheduleViolation) as info:
            step_scheduler(sched, 0)
    assert info.value.violation.code == "SLG103"
    assert "before the first optimizer.step()" in info.value.violation.cause


@pytest.mark.filterwarnings("ignore:Detected call of")  # torch's own warning, first step only
def test_step_before_optimizer_detected_for_a_scheduler_given_to_the_guard():
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 3)
    with schedlint.guard(opt, sched, on_violation="warn"):
        with pytest.warns(schedlint.ScheduleWarning, match="before the first optimizer.step"):
            for i in range(4):  # the classic wrong order, every iteration
                step_scheduler(sched, i)
                train_step(model, opt, i)


@pytest.mark.parametrize("name", [n for n in ALL if n != "ReduceLROnPlateau"])
def test_add_param_group_after_the_scheduler_is_slg104(name):
    model, opt = make_optimizer()
    sched = ALL[name](opt)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 3)
        opt.add_param_group(
            {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 1.0, "name": "late"}
        )
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 3)
    v = info.value.violation
    assert (v.code, v.group_index, v.group_name, v.actual) == ("SLG104", 2, "late", 1.0)
    assert "added after" in v.cause and type(sched).__name__ in v.cause


def test_add_param_group_after_reduce_lr_on_plateau_is_supported_and_silent():
    # torch re-expands a scalar min_lr for groups added later (pytorch#104361): not a misuse.
    model, opt = make_optimizer()
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    with schedlint.guard(opt, sched) as g:
        _train(model, opt, sched, 3)
        opt.add_param_group(
            {"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 1.0, "name": "late"}
        )
        for i in range(3, 8):
            train_step(model, opt, i)
            sched.step(1.0)  # no improvement: every group, the new one included, is reduced
    assert g.report().ok, str(g.report())
    assert lrs(opt)[2] < 1.0


def test_scheduler_state_from_a_run_with_other_groups_is_slg104():
    model, opt = make_optimizer()
    three = torch.optim.SGD(
        [{"params": [torch.nn.Parameter(torch.zeros(1))]} for _ in range(3)], lr=0.1
    )
    saved = S.LambdaLR(three, lambda e: 1.0).state_dict()
    sched = S.LambdaLR(opt, lambda e: 1.0)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 2)
        sched.load_state_dict(saved)
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 2)
    v = info.value.violation
    assert v.code == "SLG104" and "base_lrs has 3 entries but the optimizer has 2" in v.cause


def test_onecycle_stepped_past_its_end_is_slg105_before_the_update():
    model, opt = make_optimizer()
    sched = S.OneCycleLR(opt, max_lr=[0.1, 0.01], total_steps=10, anneal_strategy="linear")
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 10)  # the 10th step moves last_epoch to total_steps
        params = [p.detach().clone() for p in model.parameters()]
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 10)
        assert all(torch.equal(a, b) for a, b in zip(params, model.parameters()))
    v = info.value.violation
    assert (
        v.code == "SLG105"
        and v.actual < 0
        and "OneCycleLR was stepped 10 times with total_steps=10" in v.cause
    )


def test_nan_lr_is_slg105():
    model, opt = make_optimizer()
    sched = S.LambdaLR(opt, lambda e: math.nan if e == 3 else 1.0)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 3)
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 3)
    v = info.value.violation
    assert v.code == "SLG105" and math.isnan(v.actual) and "NaN" in v.cause


@pytest.mark.parametrize("name", list(ALL))
def test_never_stepped_scheduler_is_slg107_in_report_and_at_close(name):
    model, opt = make_optimizer()
    sched = ALL[name](opt)
    g = schedlint.guard(opt, sched)
    for i in range(3):
        train_step(model, opt, i)
    (pending,) = g.report().pending
    assert pending.code == "SLG107" and "stepped 3 times" in pending.cause and name in pending.cause
    with pytest.raises(ScheduleViolation, match="SLG107"):
        g.close()


def test_never_stepped_scheduler_built_before_an_undeclared_guard_is_found():
    model, opt = make_optimizer()
    sched = S.CosineAnnealingLR(opt, T_max=10)  # found through its reference to the optimizer
    g = schedlint.guard(opt, on_violation="warn")
    for i in range(2):
        train_step(model, opt, i)
    with pytest.warns(schedlint.ScheduleWarning, match="SLG107.*CosineAnnealingLR"):
        g.close()
    del sched


@pytest.mark.parametrize("tamper", ["StepLR-gamma", "LambdaLR-base_lrs", "OneCycleLR-max_lr-key"])
def test_changing_scheduler_state_behind_its_back_is_slg101_against_the_replay(tamper):
    model, opt = make_optimizer()
    if tamper == "StepLR-gamma":
        sched = S.StepLR(opt, step_size=3, gamma=0.5)
    elif tamper == "LambdaLR-base_lrs":
        sched = S.LambdaLR(opt, lambda e: 0.9**e)
    else:
        sched = S.OneCycleLR(opt, max_lr=[0.1, 0.01], total_steps=30)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 4)
        if tamper == "StepLR-gamma":
            sched.gamma = 0.1
        elif tamper == "LambdaLR-base_lrs":
            sched.base_lrs = [b * 2 for b in sched.base_lrs]
        else:
            opt.param_groups[1]["max_lr"] = 1.0
        with pytest.raises(ScheduleViolation) as info:
            for i in range(4, 10):
                train_step(model, opt, i)
                step_scheduler(sched, i)
    v = info.value.violation
    assert v.code == "SLG101" and "replay" in v.cause
    assert v.expected != v.actual


@pytest.mark.parametrize(
    "container", ["SequentialLR[LinearLR,StepLR]", "ChainedScheduler[StepLR,ExponentialLR]"]
)
def test_manual_write_under_a_container_is_slg102(container):
    model, opt = make_optimizer()
    sched = NESTED[container](opt)
    with schedlint.guard(opt, sched):
        _train(model, opt, sched, 6)
        opt.param_groups[1]["lr"] = 0.123
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 6)
    assert (info.value.violation.code, info.value.violation.group_index) == ("SLG102", 1)


def test_stepping_a_child_of_a_chained_scheduler_directly_is_slg103():
    model, opt = make_optimizer()
    child = S.ExponentialLR(opt, gamma=0.9)
    chain = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=3), child])
    with schedlint.guard(opt, chain):
        _train(model, opt, chain, 3)
        train_step(model, opt, 3)
        with pytest.raises(ScheduleViolation) as info:
            child.step()
    assert (
        info.value.violation.code == "SLG103"
        and "stepped by ChainedScheduler" in info.value.violation.cause
    )


def test_discovered_schedulers_built_before_and_after_the_guard_are_silent_on_correct_use():
    model, opt = make_optimizer()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=5)
    with schedlint.guard(opt) as g:
        main = S.ExponentialLR(opt, gamma=0.9)  # two chainable schedulers compose
        for i in range(12):
            train_step(model, opt, i)
            warm.step()
            main.step()
        report = g.report()
    assert report.ok and sorted(n for n, _, _ in report.schedulers) == ["ExponentialLR", "LinearLR"]
