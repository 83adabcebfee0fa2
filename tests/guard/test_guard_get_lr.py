"""SLG116: `scheduler.get_lr()` read outside `step()` to log the LR. For a chainable scheduler it
returns the schedule's next change applied to the current LR again (a wrong number; torch only
warns), for LambdaLR the current value (deprecated only). The guard names the calling line and,
when they differ, what get_lr returned against get_last_lr(); it never changes what get_lr
returns or how torch warns, and stays silent for torch's own calls inside step()."""

import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import line_of  # noqa: E402
from guard_schedulers import linear_two_groups, ones_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402


class Trainer:
    """A small trainer that logs its LR after every epoch, as Lightning-style loops do."""

    def __init__(self, make_scheduler):
        self.model, self.optimizer = linear_two_groups()
        self.scheduler = make_scheduler(self.optimizer)
        self.logged = []

    def log(self, key, value):
        self.logged.append((key, value))

    def on_epoch_end(self):
        self.log("lr", self.scheduler.get_lr()[0])  # get_lr-log-line

    def fit(self, epochs):
        for _ in range(epochs):
            ones_step(self.model, self.optimizer)
            self.scheduler.step()
            self.on_epoch_end()


def _fit(make_scheduler, epochs, guarded):
    """(values logged, torch's UserWarnings as (text, file, line), SLG116 violations)."""
    trainer = Trainer(make_scheduler)
    found = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        if guarded:
            with schedlint.guard(trainer.optimizer, on_violation=found.append):
                trainer.fit(epochs)
        else:
            trainer.fit(epochs)
    torch_warnings = [
        (str(w.message), w.filename, w.lineno)
        for w in caught
        if not issubclass(w.category, schedlint.ScheduleWarning)
    ]
    return trainer.logged, torch_warnings, [v for v in found if v.code == "SLG116"]


def test_step_lr_logged_through_get_lr_in_a_trainer_names_the_wrong_value():
    def build(opt):
        return S.StepLR(opt, step_size=2, gamma=0.1)

    logged, torch_warnings, found = _fit(build, 6, guarded=True)
    plain_logged, plain_warnings, _ = _fit(build, 6, guarded=False)
    # What training and logging compute is untouched, and torch warns exactly as unguarded
    # (once, from its own get_lr).
    assert [float.hex(v) for _, v in logged] == [float.hex(v) for _, v in plain_logged]
    assert torch_warnings == plain_warnings
    assert [w[0] for w in torch_warnings].count(
        "To get the last learning rate computed by the scheduler, please use `get_last_lr()`."
    ) == 1
    where = f"{__file__}:{line_of(__file__, '# get_lr-log-line')}"
    # Epoch 1 (last_epoch 1) reads the current lr; epoch 2 is a decay boundary: 0.001 for 0.01.
    assert len(found) == 2
    first, wrong = found
    assert where in first.cause and "returned the current lr this time" in first.cause
    assert wrong.group_index == 0 and wrong.scheduler == "StepLR"
    assert where in wrong.cause
    assert "returned 0.001, 0.0001 while the lr is 0.01, 0.001 (get_last_lr()), a wrong value" in (
        wrong.cause
    )
    assert "get_last_lr()" in wrong.message and "deprecated" not in wrong.message


def test_exponential_lr_is_reported_wrong_at_its_first_read():
    _, _, found = _fit(lambda opt: S.ExponentialLR(opt, gamma=0.5), 4, guarded=True)
    assert len(found) == 1
    assert "returned 0.025, 0.0025 while the lr is 0.05, 0.005" in found[0].cause


def test_lambda_lr_read_through_get_lr_is_deprecated_only():
    def warmup(opt):
        return S.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 3))

    logged, torch_warnings, found = _fit(warmup, 5, guarded=True)
    plain_logged, plain_warnings, _ = _fit(warmup, 5, guarded=False)
    assert [float.hex(v) for _, v in logged] == [float.hex(v) for _, v in plain_logged]
    assert torch_warnings == plain_warnings
    assert len(found) == 1
    (v,) = found
    assert v.scheduler == "LambdaLR" and v.group_index is None
    assert "the value is right" in v.cause and "deprecated" in v.cause
    assert "wrong" not in v.cause
    assert f"{__file__}:{line_of(__file__, '# get_lr-log-line')}" in v.cause


def test_torch_calls_inside_step_and_get_last_lr_are_silent_and_a_childs_read_is_not():
    model, opt = linear_two_groups()
    warm = S.LinearLR(opt, start_factor=0.1, total_iters=3)
    seq = S.SequentialLR(opt, [warm, S.ExponentialLR(opt, gamma=0.9)], milestones=[3])
    model2, opt2 = linear_two_groups()
    decay = S.StepLR(opt2, step_size=2, gamma=0.5)
    chained = S.ChainedScheduler([decay, S.MultiplicativeLR(opt2, lambda e: 0.99)])
    found = []
    with (
        schedlint.guard(opt, on_violation=found.append),
        schedlint.guard(opt2, on_violation=found.append),
    ):
        for _ in range(8):
            ones_step(model, opt)
            seq.step()
            ones_step(model2, opt2)
            chained.step()
            seq.get_last_lr(), chained.get_last_lr(), decay.get_last_lr()
        assert found == []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            decay.get_lr()  # get_lr-child-line
    (v,) = found
    assert v.code == "SLG116" and v.scheduler == "StepLR"
    assert f"{__file__}:{line_of(__file__, '# get_lr-child-line')}" in v.cause


def test_raise_mode_reports_without_raising_from_get_lr():
    model, opt = linear_two_groups()
    sched = S.StepLR(opt, step_size=1, gamma=0.1)
    with schedlint.guard(opt, sched) as guard:  # on_violation="raise"
        ones_step(model, opt)
        sched.step()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            values = sched.get_lr()
    assert values == pytest.approx([0.001, 0.0001])
    assert any(issubclass(w.category, schedlint.ScheduleWarning) for w in caught)
    assert [v.code for v in guard.violations] == ["SLG116"]
