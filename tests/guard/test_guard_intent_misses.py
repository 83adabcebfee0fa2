"""Misses of guard v2 found by an independent evaluation of public bug reports: runs whose every
step the replay agrees with, but whose schedule is not the one the user meant. Each bad run must
be caught with the object and the line; each correct variant next to it must stay silent."""

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import linear_two_groups, ones_step  # noqa: E402

import schedlint  # noqa: E402

_two_groups = linear_two_groups
_step = ones_step


def _guarded_epochs(opt, sched, model, epochs=3, batches=20):
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _epoch in range(epochs):
            for _ in range(batches):
                _step(model, opt)
            sched.step()
    return seen


# --- SLG112: transformers schedules sized in optimizer steps, stepped per epoch ------------------


@pytest.mark.parametrize(
    "factory",
    [
        "get_linear_schedule_with_warmup",
        "get_cosine_schedule_with_warmup",
        "get_polynomial_decay_schedule_with_warmup",
        "get_cosine_with_hard_restarts_schedule_with_warmup",
    ],
)
def test_transformers_schedule_stepped_per_epoch_is_reported_at_the_end(factory):
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = getattr(transformers, factory)(opt, num_warmup_steps=6, num_training_steps=60)
    seen = _guarded_epochs(opt, sched, model)
    (v,) = [v for v in seen if v.code == "SLG112"]
    assert factory in v.cause and "stepped 3 times" in v.cause and "60" in v.cause, v.cause


def test_transformers_schedule_stepped_per_batch_is_silent():
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = transformers.get_linear_schedule_with_warmup(opt, 6, 60)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _ in range(60):
            _step(model, opt)
            sched.step()
    assert seen == []


def test_transformers_schedule_sized_in_epochs_is_silent():
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = transformers.get_cosine_schedule_with_warmup(opt, 1, 3)
    assert _guarded_epochs(opt, sched, model) == []


def test_constant_transformers_schedule_has_no_length_and_is_silent():
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = transformers.get_constant_schedule_with_warmup(opt, 2)
    assert _guarded_epochs(opt, sched, model) == []
