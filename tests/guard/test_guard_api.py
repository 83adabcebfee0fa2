"""The public API: schedlint.guard(...), violation objects, the four on_violation modes, expect."""

import logging
import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import run_python  # noqa: E402
from guard_schedulers import lrs, make_optimizer, train_step  # noqa: E402
from torch.optim.lr_scheduler import LambdaLR, StepLR  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import NotCheckedWarning, ScheduleViolation, ScheduleWarning, Violation  # noqa: E402


def _params(model):
    return [p.detach().clone() for p in model.parameters()]


def test_schedlint_guard_is_callable_however_it_was_imported():
    import sys

    # Before any submodule is imported, attribute access goes through schedlint.__getattr__ ...
    assert schedlint.__getattr__("guard") is sys.modules["schedlint.guard"]
    _, opt = make_optimizer()
    with schedlint.guard(opt, StepLR(opt, 2)) as g:
        assert type(g).__name__ == "Guard"
    # ... and once one is, Python has bound the package itself: it must be callable too. That
    # binding cannot be undone in this process, so the second order runs in a fresh one.
    proc = run_python(
        """
import schedlint.guard.codes
import torch, schedlint
opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
with schedlint.guard(opt, torch.optim.lr_scheduler.StepLR(opt, 2)) as g:
    print(type(g).__name__, schedlint.guard is sys.modules["schedlint.guard"])
""".replace("import schedlint.guard.codes", "import sys, schedlint.guard.codes")
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["Guard", "True"]


def test_codes_and_the_guard_package_import_without_torch():
    proc = run_python(
        "import sys, schedlint.guard.codes, schedlint.guard, schedlint.auto;"
        "from schedlint.guard import ScheduleViolation;"
        "print('torch' in sys.modules)"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_guard_codes_are_in_the_rule_catalogue():
    from schedlint.rules import by_code

    codes = by_code()
    for code in [f"SLG1{i:02d}" for i in range(1, 14)]:
        rule = codes[code]
        assert rule.kind == "guard" and rule.scope == "runtime" and rule.check is None
        assert rule.docs["Example"] and rule.docs["Use instead"]


def test_raise_stops_the_bad_update_before_it_is_applied():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=5)
    with schedlint.guard(opt, sched):
        for i in range(3):
            train_step(model, opt, i)
            sched.step()
        opt.param_groups[1]["lr"] = 0.5
        before = _params(model)
        with pytest.raises(ScheduleViolation) as info:
            train_step(model, opt, 3)
        after = _params(model)
    assert all(torch.equal(a, b) for a, b in zip(before, after)), "the update was applied"
    v = info.value.violation
    assert (v.code, v.group_index, v.group_name) == ("SLG102", 1, "head")
    assert (v.expected, v.actual) == (0.01, 0.5)
    assert (v.optimizer_step, v.scheduler_step) == (3, 3)
    assert v.scheduler == "StepLR" and "chainable" in v.cause
    for fragment in ("group 1 'head'", "optimizer step 3", "expected lr 0.01", "actual 0.5"):
        assert fragment in str(info.value)


def test_every_violation_carries_the_documented_fields():
    seen = []
    model, opt = make_optimizer()
    sched = LambdaLR(opt, lambda e: 0.9**e)
    with schedlint.guard(opt, sched, on_violation=seen.append):
        train_step(model, opt, 0)
        sched.step()
        opt.param_groups[0]["lr"] = 3.0
        train_step(model, opt, 1)
    (v,) = seen
    assert isinstance(v, Violation)
    d = v.to_dict()
    for key in (
        "code",
        "name",
        "optimizer_step",
        "scheduler_step",
        "group_index",
        "group_name",
        "expected",
        "actual",
        "cause",
        "message",
    ):
        assert key in d
    assert d["name"] == "lr-written-outside-scheduler"
    assert "closed form" in v.cause and "lost at its next step" in v.cause


def test_warn_mode_warns_once_per_code_and_group_and_counts_the_rest():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=100)
    with schedlint.guard(opt, sched, on_violation="warn") as g:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for i in range(5):
                opt.param_groups[0]["lr"] = 0.1 + i  # a new manual value every step
                train_step(model, opt, i)
                sched.step()
        report = g.report()
    ours = [w for w in caught if issubclass(w.category, ScheduleWarning)]
    assert len(ours) == 1 and "SLG102" in str(ours[0].message)
    assert report.counts[("SLG102", 0)] == 4  # step 0 set the reference; 1..4 were writes
    assert lrs(opt)[0] == 4.1  # warn mode never interferes with training


def test_log_mode_logs(caplog):
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=100)
    with caplog.at_level(logging.WARNING, logger="schedlint.guard"):
        with schedlint.guard(opt, sched, on_violation="log"):
            train_step(model, opt, 0)
            sched.step()
            sched.step()
            train_step(model, opt, 1)
    (record,) = caplog.records
    assert "SLG103" in record.getMessage() and "2 times" in record.getMessage()


def test_invalid_arguments_are_rejected():
    _, opt = make_optimizer()
    with pytest.raises(ValueError, match="on_violation"):
        schedlint.guard(opt, on_violation="explode")
    with pytest.raises(TypeError, match="Optimizer"):
        schedlint.guard(object())
    other_model, other = make_optimizer()
    with pytest.raises(ValueError, match="not a torch scheduler bound to this optimizer"):
        schedlint.guard(opt, StepLR(other, 2))
    with pytest.raises(ValueError, match="check_every"):
        schedlint.guard(opt, check_every=0)


def test_an_optimizer_has_one_explicit_guard_at_a_time():
    _, opt = make_optimizer()
    g = schedlint.guard(opt)
    with pytest.raises(ValueError, match="already guarded"):
        schedlint.guard(opt)
    g.close()
    schedlint.guard(opt).close()


def test_expect_by_name_passes_on_the_declared_schedule_and_catches_a_mismatch():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=4, gamma=0.5)
    declared = {
        "body": lambda step: 0.1 * 0.5 ** (step // 4),
        "head": lambda step: 0.01 * 0.5 ** (step // 4),
    }
    with schedlint.guard(opt, sched, expect=declared) as g:
        for i in range(12):
            train_step(model, opt, i)
            sched.step()
        assert g.report().ok

    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=5, gamma=0.5)  # decays one step later than declared
    with schedlint.guard(opt, sched, expect=declared):
        with pytest.raises(ScheduleViolation) as info:
            for i in range(12):
                train_step(model, opt, i)
                sched.step()
    v = info.value.violation
    assert (v.code, v.optimizer_step, v.expected, v.actual) == ("SLG101", 4, 0.05, 0.1)
    assert "declared" in v.cause


def test_expect_as_one_callable_gets_step_group_and_base_lr():
    calls = []

    def cosine(step, group, base_lr):
        calls.append((step, group, base_lr))
        return base_lr

    model, opt = make_optimizer()
    with schedlint.guard(opt, expect=cosine) as g:  # no scheduler: LRs are constant
        for i in range(3):
            train_step(model, opt, i)
        assert g.report().ok
    assert calls == [(s, i, b) for s in range(3) for i, b in enumerate([0.1, 0.01])]


def test_expect_with_an_unknown_group_is_an_error_at_construction():
    _, opt = make_optimizer()
    with pytest.raises(ValueError, match="no group has that name.*'body', 'head'"):
        schedlint.guard(opt, expect={"backbone": lambda s: 0.1})
    with pytest.raises(ValueError, match="2 groups"):
        schedlint.guard(opt, expect={5: lambda s: 0.1})


def test_expect_that_raises_is_not_checked_once_and_training_goes_on():
    model, opt = make_optimizer()
    with schedlint.guard(opt, expect=lambda step, i, b: b if step < 2 else 1 / (2 - step)) as g:
        with pytest.warns(NotCheckedWarning, match="ZeroDivisionError") as caught:
            for i in range(5):
                train_step(model, opt, i)
        assert len([w for w in caught if issubclass(w.category, NotCheckedWarning)]) == 1
        assert g.optimizer_steps == 5


def test_report_names_steps_groups_and_last_lrs():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=2, gamma=0.5)
    with schedlint.guard(opt, sched) as g:
        for i in range(4):
            train_step(model, opt, i)
            sched.step()
        report = g.report()
    assert report.optimizer_steps == 4 and report.schedulers == [("StepLR", 4, "watched")]
    assert report.last_actual == [0.025, 0.0025] == lrs(opt)
    assert report.last_expected == [0.025, 0.0025]  # what the replay says
    text = str(report)
    assert "4 optimizer steps" in text and "StepLR (4 steps)" in text and "no violations" in text


def test_violations_pickle_and_are_importable_from_schedlint():
    import pickle

    v = Violation(
        "SLG101", 4, 4, 0, "head", 0.1, 0.2, "a cause", optimizer="SGD", scheduler="StepLR"
    )
    exc = pickle.loads(pickle.dumps(ScheduleViolation([v])))
    assert (
        isinstance(exc, schedlint.ScheduleViolation)
        and exc.violation == v
        and str(exc) == v.message
    )
    assert schedlint.ScheduleWarning is ScheduleWarning


def test_messages_never_show_an_expected_lr_equal_to_the_actual_one():
    from torch.optim.lr_scheduler import CosineAnnealingLR

    # SLG103 whose extra step moves the lr by less than the 6 digits a message used to print.
    model, opt = make_optimizer()
    sched = CosineAnnealingLR(opt, T_max=100_000)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        train_step(model, opt, 0)
        sched.step()
        sched.step()
    (v,) = [v for v in seen if v.code == "SLG103"]
    assert v.expected != v.actual
    text = v.message.split(". ")[0]
    exp, act = text.split("expected lr ")[1].split(" ")[0], text.split("actual ")[1].split(" ")[0]
    assert exp != act, text
    assert "relative difference" in text

    # SLG102 for a write just above rtol (1e-6): 0.1 -> 0.1000003.
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=5)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        train_step(model, opt, 0)
        sched.step()
        opt.param_groups[0]["lr"] *= 1 + 3e-6
        train_step(model, opt, 1)
    (v,) = [v for v in seen if v.code == "SLG102"]
    assert "expected lr 0.1, actual 0.1000003 (relative difference 3e-06)" in v.message


def test_an_extra_scheduler_step_that_leaves_the_lr_alone_says_so():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=10)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        train_step(model, opt, 0)
        sched.step()
        sched.step()
    (v,) = [v for v in seen if v.code == "SLG103"]
    assert "actual 0.1 after the extra step" not in v.message
    assert "lr 0.1, unchanged by the extra step" in v.message, v.message
