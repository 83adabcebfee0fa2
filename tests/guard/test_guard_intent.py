"""Guard v2 (issue 14): every check against the LR each group *should* have, from its baseline
through the schedule as built. Each check has a bad run that must be caught (code, group, step,
expected and actual lr) and a good run that must stay silent."""

import math
import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import run_python  # noqa: E402
from guard_schedulers import linear_two_groups, ones_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import ScheduleViolation  # noqa: E402

_two_groups = linear_two_groups
_step = ones_step


@pytest.fixture
def auto():
    """Auto-guarding (what `schedlint run` and the pytest plugin use): optimizers are adopted
    when they are built, so their baseline is the lr each group was built with."""
    session = schedlint.install(enable=True, report_at_exit=False, on_violation="raise")
    yield session
    session.finish(end_checks=False)


def _codes(found):
    return [(v.code, v.group_index, v.optimizer_step) for v in found]


# --- 1/2. baseline and writes before the first step -------------------------------------------


def test_write_right_after_building_steplr_is_caught_at_the_first_step(auto):
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=2, gamma=0.5)
    for g in opt.param_groups:
        g["lr"] = 0.1
    with pytest.raises(ScheduleViolation) as info:
        _step(model, opt)
    first = info.value.violations[0]
    assert (first.code, first.group_index, first.optimizer_step) == ("SLG102", 1, 0)
    assert (first.expected, first.actual) == (0.01, 0.1)
    assert sched.last_epoch == 0


def test_write_before_building_the_scheduler_is_caught(auto):
    model, opt = _two_groups()
    for g in opt.param_groups:
        g["lr"] = 0.1
    S.StepLR(opt, step_size=2)  # initial_lr is now 0.1 for both groups
    with pytest.raises(ScheduleViolation) as info:
        _step(model, opt)
    v = info.value.violations[0]
    assert (v.code, v.group_index, v.expected, v.actual) == ("SLG102", 1, 0.01, 0.1)


def test_adjust_learning_rate_is_caught_at_its_first_epoch(auto):
    def adjust_learning_rate(optimizer, epoch, base=0.1):
        lr = base * (0.1 ** ((epoch + 1) // 1))
        for g in optimizer.param_groups:
            g["lr"] = lr

    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    adjust_learning_rate(opt, 0)
    with pytest.raises(ScheduleViolation) as info:
        _step(model, opt)
    v = info.value.violation
    assert (v.code, v.group_index, v.optimizer_step, v.expected) == ("SLG102", 0, 0, 0.1)
    assert v.actual == pytest.approx(0.01)


def test_guard_on_an_existing_optimizer_takes_initial_lr_as_baseline_and_says_so():
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=2)
    for g in opt.param_groups:
        g["lr"] = 0.1
    with schedlint.guard(opt, sched, on_violation="warn") as g:
        assert g.baseline == [("0", 0.1, "initial_lr"), ("1", 0.01, "initial_lr")]
        with pytest.warns(schedlint.ScheduleWarning, match="SLG102"):
            _step(model, opt)
        sched.step()
        report = g.report()
    assert report.last_expected == [0.1, 0.01] and report.last_actual == [0.1, 0.1]
    assert "baseline: 0=0.1, 1=0.01 (initial_lr)" in str(report)


def test_correct_run_with_every_entry_point_is_silent(auto):
    model, opt = _two_groups()
    sched = S.SequentialLR(
        opt,
        [S.LinearLR(opt, start_factor=0.1, total_iters=3), S.CosineAnnealingLR(opt, T_max=10)],
        milestones=[3],
    )
    for _ in range(13):
        _step(model, opt)
        sched.step()
    report = auto.report()
    assert report.ok, str(report)


def test_reduce_lr_on_plateau_with_a_manual_warmup_is_silent(auto):
    model, opt = _two_groups()
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5)
    base = [0.1, 0.01]
    for epoch in range(8):
        if epoch < 4:
            for g, b in zip(opt.param_groups, base):
                g["lr"] = b * (epoch + 1) / 4
        _step(model, opt)
        if epoch >= 4:
            sched.step(1.0)
    assert auto.report().ok, str(auto.report())


def _warmup(opt, it, iters, start=0.1):
    # the torchvision/mmdet shape: each group's own initial_lr times one common factor
    factor = start + (1 - start) * min(1.0, (it + 1) / iters)
    for g in opt.param_groups:
        g["lr"] = g["initial_lr"] * factor


def test_manual_warmup_from_initial_lr_before_a_lambdalr_steps_is_silent(auto):
    model, opt = _two_groups()
    sched = S.LambdaLR(opt, lambda epoch: 0.5**epoch)
    for epoch in range(3):
        for it in range(4):
            if epoch == 0:
                _warmup(opt, it, 4)
            _step(model, opt)
        sched.step()
    assert auto.report().ok, str(auto.report())
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.1 * 0.125, 0.01 * 0.125])


def test_manual_warmup_still_running_when_a_chainable_scheduler_steps_is_caught(auto):
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    _warmup(opt, 0, 4)  # factor 0.325, never finished
    _step(model, opt)
    with pytest.raises(ScheduleViolation) as info:
        sched.step()  # StepLR multiplies the warm-up lr: the schedule is off from now on
        _step(model, opt)
    assert info.value.violations[0].code == "SLG102"


def test_groups_added_with_add_param_group_before_the_scheduler_is_built_are_silent(auto):
    # yolov5's smart_optimizer: biases first, then weights and norms added, then the LambdaLR
    model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    opt = torch.optim.SGD([model[0].bias, model[1].bias], lr=0.01, momentum=0.9)
    opt.add_param_group({"params": [model[0].weight], "weight_decay": 5e-4})
    opt.add_param_group({"params": [model[1].weight], "weight_decay": 0.0})
    sched = S.LambdaLR(opt, lambda e: 1 - e / 10)
    for _ in range(3):
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        opt.step()
        sched.step()
    assert auto.report().ok, str(auto.report())


def test_group_added_after_plateau_reductions_is_judged_from_when_it_was_added(auto):
    # pytorch#104361: ReduceLROnPlateau supports late groups; the new group starts at its own lr
    model, _ = _two_groups()
    opt = torch.optim.SGD([model.weight], lr=0.1)
    sched = S.ReduceLROnPlateau(opt, factor=0.5, patience=0)
    for epoch in range(5):
        if epoch == 2:
            opt.add_param_group({"params": [model.bias], "lr": 0.01})
        _step(model, opt)
        sched.step(1.0)
    assert auto.report().ok, str(auto.report())


# --- 3. group-ratio collapse ------------------------------------------------------------------


def test_onecycle_with_a_scalar_max_lr_collapses_the_groups(auto):
    model, opt = _two_groups()
    sched = S.OneCycleLR(opt, max_lr=0.1, total_steps=20)  # noqa: F841 - kept alive
    with pytest.raises(ScheduleViolation) as info:
        _step(model, opt)
    v = info.value.violation
    assert (v.code, v.group_index, v.optimizer_step) == ("SLG108", 1, 0)
    assert (
        v.expected == v.actual == pytest.approx(0.004)
        and "OneCycleLR was given one scalar" in v.cause
    )
    # the schedule as built gives this lr: the summary must not read "expected x, actual x"
    assert "expected lr" not in v.summary
    assert "as scheduled, but the groups' ratio changed" in v.summary


def test_onecycle_with_per_group_max_lr_is_silent(auto):
    model, opt = _two_groups()
    sched = S.OneCycleLR(opt, max_lr=[0.1, 0.01], total_steps=20)
    for _ in range(20):
        _step(model, opt)
        sched.step()
    assert auto.report().ok


def test_scalar_eta_min_squeezes_the_ratio():
    model, opt = _two_groups()
    sched = S.CosineAnnealingLR(opt, T_max=10, eta_min=0.005)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _ in range(10):
            _step(model, opt)
            sched.step()
    (v,) = [v for v in seen if v.code == "SLG108"]
    assert v.group_index == 1 and v.expected == v.actual and "CosineAnnealingLR" in v.cause


def test_a_helper_writing_one_lr_into_every_group_without_scheduler():
    model, opt = _two_groups()
    seen = []
    with schedlint.guard(opt, on_violation=seen.append):
        _step(model, opt)
        for g in opt.param_groups:
            g["lr"] = 0.05
        _step(model, opt)
    assert ("SLG108", 1, 1) in _codes(seen)
    v = next(v for v in seen if v.code == "SLG108")
    assert (v.expected, v.actual) == (0.01, 0.05)


# --- 4. invalid or vanishing ------------------------------------------------------------------


class CompoundingScheduler:
    """The article's example 2: closed-form formulas applied to the *current* lr every epoch."""

    def __init__(self, optimizer, fns):
        self.optimizer, self.fns = optimizer, fns

    def step(self, epoch):
        for i, group in enumerate(self.optimizer.param_groups):
            group["lr"] = self.fns[i](epoch, group["lr"])


def test_compounding_decay_is_reported_long_before_it_reaches_1e_30():
    model, opt = _two_groups()
    sched = CompoundingScheduler(opt, [lambda e, lr: lr * 0.9**e, lambda e, lr: lr / (e + 1)])
    seen = []
    with schedlint.guard(opt, on_violation=seen.append, allow_external_writes=True):
        for epoch in range(50):
            _step(model, opt)
            sched.step(epoch)
    (v,) = [v for v in seen if v.code == "SLG109" and v.group_index == 1]
    assert v.actual < 1e-8 and v.optimizer_step < 15


def test_an_lr_zero_for_the_whole_run_is_reported_at_the_end():
    model, opt = _two_groups()
    sched = S.LambdaLR(opt, lambda step: min(1.0, step / 10))  # warm-up, never stepped
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _ in range(5):
            _step(model, opt)
    assert ("SLG109", 0, 5) in _codes(seen) and ("SLG107", None, 5) in _codes(seen)


def test_a_schedule_that_goes_to_zero_itself_is_silent():
    model, opt = _two_groups()
    sched = S.PolynomialLR(opt, total_iters=5, power=1.0)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _ in range(6):
            _step(model, opt)
            sched.step()
    assert seen == []


# --- 5. lifecycle -----------------------------------------------------------------------------


def test_resuming_with_last_epoch_without_initial_lr_is_reported_and_torch_error_kept(auto):
    model, opt = _two_groups()
    with pytest.warns(schedlint.ScheduleWarning, match="SLG110"):
        with pytest.raises(KeyError, match="initial_lr") as info:
            S.StepLR(opt, step_size=2, last_epoch=5)
    assert type(info.value) is KeyError
    (v,) = [v for v in auto.report().reports[0].violations if v.code == "SLG110"]
    assert "StepLR(..., last_epoch=5)" in v.cause and "test_guard_intent.py:" in v.cause


def test_deprecated_epoch_argument_names_the_line():
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=2)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for epoch in range(3):
                _step(model, opt)
                sched.step(epoch + 1)
    (v,) = [v for v in seen if v.code == "SLG111"]
    assert "StepLR.step(1)" in v.cause and "test_guard_intent.py:" in v.cause


def test_per_batch_schedule_stepped_per_epoch_is_reported_at_the_end():
    model, opt = _two_groups()
    sched = S.OneCycleLR(opt, max_lr=[0.1, 0.01], epochs=3, steps_per_epoch=20)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _epoch in range(3):
            for _ in range(20):
                _step(model, opt)
            sched.step()
    (v,) = [v for v in seen if v.code == "SLG112"]
    assert "stepped 3 times" in v.cause and "60" in v.cause


def test_cosine_run_past_t_max_is_reported_and_sized_cosine_is_silent():
    for t_max, expect_report in ((5, True), (10, False)):
        model, opt = _two_groups()
        sched = S.CosineAnnealingLR(opt, T_max=t_max)
        seen = []
        with schedlint.guard(opt, sched, on_violation=seen.append):
            for _ in range(10):
                _step(model, opt)
                sched.step()
        assert [v.code for v in seen if v.code == "SLG112"] == (["SLG112"] if expect_report else [])


def test_cosine_past_t_max_inside_sequential_or_chained_is_reported():
    for make in (
        lambda o: S.SequentialLR(
            o,
            [S.LinearLR(o, start_factor=0.1, total_iters=3), S.CosineAnnealingLR(o, T_max=5)],
            milestones=[3],
        ),
        lambda o: S.ChainedScheduler(
            [S.ExponentialLR(o, gamma=0.99), S.CosineAnnealingLR(o, T_max=5)]
        ),
    ):
        model, opt = _two_groups()
        sched = make(opt)
        seen = []
        with schedlint.guard(opt, sched, on_violation=seen.append):
            for _ in range(20):
                _step(model, opt)
                sched.step()
        (v,) = [v for v in seen if v.code == "SLG112"]
        assert "CosineAnnealingLR" in v.cause and "past its length 5" in v.cause, v.cause


def test_cosine_past_t_max_in_a_script_whose_objects_are_gone_at_the_end(tmp_path):
    # `schedlint run`: runpy drops the script's globals (a main() returns), so the optimizer and
    # its scheduler are garbage-collected before the run's end-of-run checks. Two steps past T_max
    # is reported as it happens; one step past, used by an optimizer step, only at the end.
    import io

    from schedlint.guard.runner import run_script

    for body, last, name in (
        ("sched = CosineAnnealingLR(opt, T_max=5)", 20, "CosineAnnealingLR was stepped 7 times"),
        (
            "sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=3), "
            "CosineAnnealingLR(opt, T_max=5)], milestones=[3])",
            20,
            "CosineAnnealingLR in SequentialLR was stepped 7 times",
        ),
        ("sched = CosineAnnealingLR(opt, T_max=18)", 19, "CosineAnnealingLR was stepped 19 times"),
        (
            "sched = SequentialLR(opt, [LinearLR(opt, start_factor=0.1, total_iters=3), "
            "CosineAnnealingLR(opt, T_max=15)], milestones=[3])",
            19,
            "CosineAnnealingLR in SequentialLR was stepped 16 times",
        ),
    ):
        script = tmp_path / "train.py"
        script.write_text(
            "import torch\n"
            "from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR\n"
            "def main():\n"
            "    m = torch.nn.Linear(4, 2)\n"
            "    opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            f"    {body}\n"
            "    for i in range(20):\n"
            "        m(torch.randn(3, 4)).sum().backward()\n"
            "        opt.step(); opt.zero_grad()\n"
            f"        if i < {last}:\n"
            "            sched.step()\n"
            "main()\n"
        )
        out = io.StringIO()
        status = run_script(str(script), [], on_violation="warn", out=out)
        assert status == 0, out.getvalue()
        assert "SLG112 x1" in out.getvalue(), out.getvalue()
        assert f"{name}, past its length" in out.getvalue(), out.getvalue()


def test_two_closed_form_schedulers_stepping_one_optimizer():
    model, opt = _two_groups()
    a = S.LambdaLR(opt, lambda e: 0.9**e)
    b = S.CyclicLR(opt, base_lr=[0.01, 0.001], max_lr=[0.1, 0.01], step_size_up=4)
    seen = []
    with schedlint.guard(opt, [a, b], on_violation=seen.append):
        for _ in range(3):
            _step(model, opt)
            a.step()
            b.step()
    assert [v.code for v in seen if v.code == "SLG113"] == ["SLG113"]


# --- 6. modes, summaries ----------------------------------------------------------------------


def test_no_end_of_run_finding_after_the_guard_aborted_the_run(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "m = torch.nn.Linear(4, 2)\n"
        "opt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
        "sched = StepLR(opt, 2)\n"
        "opt.param_groups[0]['lr'] = 0.5\n"
        "m(torch.randn(3, 4)).sum().backward()\n"
        "opt.step()\n"
        "sched.step()\n"
    )
    proc = run_python("import sys; from schedlint.cli import main; main()", "run", str(script))
    assert proc.returncode == 1
    assert "SLG102" in proc.stderr and "SLG107" not in proc.stderr
    assert "schedulers: StepLR (0 steps)" in proc.stderr


def test_run_warn_mode_collects_every_violation_and_ignore_drops_codes(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from torch.optim.lr_scheduler import OneCycleLR\n"
        "m = torch.nn.Linear(4, 2)\n"
        "opt = torch.optim.SGD([{'params': [m.weight], 'lr': 0.1}, {'params': [m.bias], 'lr': 0.01}])\n"
        "sched = OneCycleLR(opt, max_lr=0.1, total_steps=10)\n"
        "for i in range(10):\n"
        "    m(torch.randn(3, 4)).sum().backward()\n"
        "    opt.step(); opt.zero_grad()\n"
        "    if i == 5:\n"
        "        opt.param_groups[0]['lr'] = 3.0\n"
        "    sched.step()\n"
    )
    cli = "import sys; from schedlint.cli import main; main()"
    proc = run_python(cli, "run", str(script), env={"SCHEDLINT_ON_VIOLATION": "warn"})
    assert proc.returncode == 0, proc.stderr
    assert "SLG108 x1" in proc.stderr and "SLG102 x1" in proc.stderr
    ignored = run_python(cli, "run", "--on-violation", "log", "--ignore", "SLG108", str(script))
    assert (
        "SLG108" not in ignored.stderr.split("schedlint guard:")[-1]
        and "SLG102 x1" in ignored.stderr
    )


def test_run_plot_draws_the_histories_of_a_finished_script(tmp_path):
    pytest.importorskip("matplotlib")
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "m = torch.nn.Linear(4, 2)\n"
        "opt = torch.optim.SGD([{'params': [m.weight], 'lr': 0.1}, {'params': [m.bias], 'lr': 0.01}])\n"
        "sched = StepLR(opt, 2)\n"
        "for i in range(6):\n"
        "    m(torch.randn(3, 4)).sum().backward()\n"
        "    opt.step(); opt.zero_grad(); sched.step()\n"
    )
    png = tmp_path / "lr.png"
    code = (
        "import sys, schedlint.guard.report as r\n"
        "drawn = []\n"
        "orig = r.plot\n"
        "def spy(h, p):\n"
        "    drawn.extend(len(x[2].steps) for x in h)\n"
        "    return orig(h, p)\n"
        "r.plot = spy\n"
        "from schedlint.cli import main\n"
        "try:\n"
        "    main()\n"
        "finally:\n"
        "    print(drawn)\n"
    )
    proc = run_python(code, "run", "--plot", str(png), str(script))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[6]" and png.stat().st_size > 0


# --- 7. torch's own warnings --------------------------------------------------------------------


def test_torch_warnings_point_at_the_users_line_and_keep_their_once_per_location_dedup():
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=2)
    with schedlint.guard(opt, sched, on_violation=lambda v: None):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            for epoch in range(3):
                _step(model, opt)
                sched.step(epoch + 1)  # the deprecated epoch argument: torch warns here
    ours = [w for w in caught if "epoch parameter" in str(w.message)]
    assert len(ours) == 1, [str(w.message)[:40] for w in caught]
    assert (
        ours[0].filename == __file__ and "schedlint" not in ours[0].filename.split("tests")[0][-12:]
    )
    assert math.isfinite(opt.param_groups[0]["lr"])


def test_onecycle_whose_max_lr_is_the_optimizers_own_tensor_lr_is_silent(auto):
    """Found running PyTorch's test_lrscheduler.py: with a tensor lr, OneCycleLR's constructor
    fill_()s the group's lr tensor, which is also the max_lr it was given. The twin must replay
    the constructor with max_lr as it was passed, not as the real constructor left it."""
    lr = torch.tensor(0.01)
    param = torch.nn.Parameter(torch.randn(3))
    opt = torch.optim.SGD([param], lr=lr, momentum=0.9)
    sched = S.OneCycleLR(opt, max_lr=lr, total_steps=20)
    for _ in range(10):
        param.grad = torch.ones_like(param)
        opt.step()
        sched.step()
    auto.close_guards()
    assert auto.report().ok, str(auto.report())


@pytest.mark.parametrize("combine", ["chained", "sequential"])
def test_torch_warnings_of_child_schedulers_keep_their_location(combine):
    """Found running PyTorch's test_lrscheduler.py: a child of ChainedScheduler/SequentialLR is
    stepped by its parent through the guard's pass-through wrapper, and torch's warning named
    schedlint/guard/hooks.py instead of the parent's line in torch."""

    def run(guarded):
        model, opt = _two_groups()
        children = [S.StepLR(opt, step_size=2), S.ExponentialLR(opt, gamma=0.9)]
        parent = (
            S.ChainedScheduler(children)
            if combine == "chained"
            else S.SequentialLR(opt, children, milestones=[2])
        )
        guard = schedlint.guard(opt, on_violation=lambda v: None) if guarded else None
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            parent.step()  # before any optimizer.step(): torch warns from the child's step
        if guard is not None:
            guard.close(_can_raise=False)
        return sorted(
            {(w.filename, w.lineno) for w in caught if "optimizer.step()" in str(w.message)}
        )

    unguarded, guarded = run(False), run(True)
    assert unguarded and guarded == unguarded


def test_plateau_min_lrs_extended_by_hand_after_add_param_group_keeps_the_replay(auto):
    """Found running PyTorch's test_lrscheduler.py (pytorch#104361): after add_param_group,
    torch asks the user to extend ReduceLROnPlateau.min_lrs by hand. The twin did not follow, its
    step raised, and the replay was dropped for the rest of the run ("not checked")."""
    model, opt = _two_groups()
    sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.5, min_lr=[1e-5, 1e-4])
    with warnings.catch_warnings():
        warnings.simplefilter("error", schedlint.guard.NotCheckedWarning)
        for epoch in range(6):
            if epoch == 2:
                extra = torch.nn.Parameter(torch.randn(2))
                opt.add_param_group({"params": [extra], "lr": 0.05})
                sched.min_lrs.append(1e-6)
                extra.grad = torch.ones_like(extra)
            _step(model, opt)
            sched.step(1.0)  # never improves: halves every group each epoch
    assert auto.report().ok, str(auto.report())
    opt.param_groups[2]["lr"] = 0.5  # still checked after the hand edit of min_lrs
    with pytest.raises(ScheduleViolation, match="SLG102"):
        _step(model, opt)


@pytest.mark.parametrize(
    "make, write",
    [
        (
            lambda o: S.StepLR(o, step_size=2),
            lambda g: g["lr"] * 0.5,
        ),  # a "warm-up" written too early
        (lambda o: S.LambdaLR(o, lambda e: 0.9**e), lambda g: 0.05),
        (lambda o: S.LambdaLR(o, lambda e: 0.9**e), lambda g: g["lr"] * 0.5),
    ],
)
def test_a_write_before_the_scheduler_was_built_is_named_as_such(make, write):
    model, opt = _two_groups()
    seen = []
    with schedlint.guard(opt, on_violation=seen.append):
        for g in opt.param_groups:
            g["lr"] = write(g)
        sched = make(opt)  # takes the written lr as its initial_lr
        for _ in range(4):
            _step(model, opt)
            sched.step()
    writes = [v for v in seen if v.code in ("SLG101", "SLG102")]
    assert writes and all(v.code == "SLG102" for v in writes), [v.message for v in writes]
    v = writes[0]
    name = type(sched).__name__
    assert v.optimizer_step == 0  # at the first step, not once the schedule moved
    assert (
        "between optimizer.step()" not in v.message and "by something other than" not in v.message
    )
    assert f"before {name} was built at" in v.cause and "test_guard_intent.py:" in v.cause, v.cause
    assert "initial_lr" in v.cause
