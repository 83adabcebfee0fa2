"""Misses of guard v2 found by an independent evaluation of public bug reports: runs whose every
step the replay agrees with, but whose schedule is not the one the user meant. Each bad run must
be caught with the object and the line; each correct variant next to it must stay silent."""

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import line_of  # noqa: E402
from guard_schedulers import linear_two_groups, ones_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

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


def _wsd(transformers, opt, **kw):
    return transformers.get_wsd_schedule(opt, num_warmup_steps=6, num_decay_steps=12, **kw)


# transformers' schedules whose length is not the lambda's num_training_steps keyword (WSD: the
# sum of its phases), or whose lambda is named after another factory (the min-lr cosines).
MORE_TRANSFORMERS = {
    "get_wsd_schedule": lambda t, o: _wsd(t, o, num_training_steps=60),
    "get_wsd_schedule (stable steps)": lambda t, o: _wsd(t, o, num_stable_steps=42),
    "get_scheduler('warmup_stable_decay')": lambda t, o: t.get_scheduler(
        "warmup_stable_decay",
        o,
        num_warmup_steps=6,
        num_training_steps=60,
        scheduler_specific_kwargs={"num_decay_steps": 12},
    ),
    "get_cosine_with_min_lr_schedule_with_warmup": lambda t, o: (
        t.get_cosine_with_min_lr_schedule_with_warmup(o, 6, 60, min_lr=1e-4)
    ),
    "get_cosine_with_min_lr_schedule_with_warmup_lr_rate": lambda t, o: (
        t.get_cosine_with_min_lr_schedule_with_warmup_lr_rate(o, 6, 60, min_lr_rate=0.1)
    ),
}


@pytest.mark.parametrize("label", sorted(MORE_TRANSFORMERS))
def test_more_transformers_schedules_stepped_per_epoch_are_reported(label):
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = MORE_TRANSFORMERS[label](transformers, opt)
    seen = _guarded_epochs(opt, sched, model)
    (v,) = [v for v in seen if v.code == "SLG112"]
    factory = "get_wsd_schedule" if "wsd" in label or "stable" in label else label
    assert f"transformers' {factory} " in v.cause, v.cause
    assert "stepped 3 times" in v.cause and "60" in v.cause, v.cause


@pytest.mark.parametrize("label", sorted(MORE_TRANSFORMERS))
def test_more_transformers_schedules_stepped_per_batch_are_silent(label):
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = MORE_TRANSFORMERS[label](transformers, opt)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        for _ in range(60):
            _step(model, opt)
            sched.step()
    assert seen == [], [v.message for v in seen]


def test_transformers_schedules_without_a_length_are_silent():
    transformers = pytest.importorskip("transformers")
    model, opt = _two_groups()
    sched = transformers.get_inverse_sqrt_schedule(opt, num_warmup_steps=6)
    assert _guarded_epochs(opt, sched, model) == []


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


# --- SLG101: a LambdaLR/MultiplicativeLR lambda that returns an lr instead of a factor ----------


def _train(model, opt, sched, epochs=4):
    for _ in range(epochs):
        _step(model, opt)
        sched.step()


def _lambda_lr_findings(session):
    return [v for v in session.seen if v.code == "SLG101"]


class _Args:
    lr = 1e-3


def test_lambda_returning_a_decayed_lr_is_reported_with_its_line(auto):
    args = _Args()
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    sched = S.LambdaLR(opt, lambda e: args.lr * 0.95**e)  # the lambda-lr line
    _train(model, opt, sched)
    (v,) = _lambda_lr_findings(auto)
    assert v.scheduler == "LambdaLR" and v.group_index == 0
    # At its first step the lambda returned 1e-3 * 0.95, and the group trains at that times 1e-3.
    assert v.expected == pytest.approx(0.95e-3) and v.actual == pytest.approx(0.95e-6)
    assert f"test_guard_intent_misses.py:{line_of(__file__, '# the lambda-lr line')}" in v.cause
    assert "factor" in v.cause


def test_constant_lambda_returning_the_lr_is_reported_at_the_end_of_the_run():
    # Until the run ends it could be a constant warm-up factor equal to the lr (see below).
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    sched = S.LambdaLR(opt, lambda e: 1e-3)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        _train(model, opt, sched)
        assert seen == []
    (v,) = seen
    assert v.code == "SLG101" and v.actual == pytest.approx(1e-6)


def test_constant_lambda_returning_the_lr_is_reported_when_it_decays(auto):
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    _train(model, opt, S.LambdaLR(opt, lambda e: 1e-3 * (0.1 if e >= 2 else 1.0)))
    (v,) = _lambda_lr_findings(auto)
    assert v.optimizer_step == 2


def test_constant_warmup_factor_equal_to_the_lr_is_silent():
    # ResNet on CIFAR: lr 0.1, warmed up at 0.01 (a factor of 0.1) for the first epochs.
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = S.LambdaLR(opt, lambda e: 0.1 if e < 2 else 1.0)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        _train(model, opt, sched)
    assert seen == []


def test_one_lambda_per_group_each_returning_its_groups_lr_is_reported(auto):
    model, opt = _two_groups(0.1, 0.01)
    sched = S.LambdaLR(opt, [lambda e: 0.1 * 0.9**e, lambda e: 0.01 * 0.9**e])
    _train(model, opt, sched)
    assert len(_lambda_lr_findings(auto)) == 1


def test_one_lambda_returning_the_heads_lr_on_two_groups_is_reported(auto):
    head_lr = 0.01
    model, opt = _two_groups(0.001, head_lr)
    _train(model, opt, S.LambdaLR(opt, lambda e: head_lr * (1 - e / 100)))
    (v,) = _lambda_lr_findings(auto)
    assert v.group_index == 1 and "group 1" in v.cause


def test_multiplicative_factor_equal_to_the_lr_is_reported(auto):
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    _train(model, opt, S.MultiplicativeLR(opt, lambda e: 1e-3))
    (v,) = _lambda_lr_findings(auto)
    assert v.scheduler == "MultiplicativeLR"


@pytest.mark.parametrize(
    "lr, make",
    [
        # Noam: the optimizer is built at lr=1 and the lambda returns the lr on purpose.
        (
            1.0,
            lambda o: S.LambdaLR(
                o, lambda s: 512**-0.5 * min((s + 1) ** -0.5, (s + 1) * 4000**-1.5)
            ),
        ),
        # A warm-up whose first factor happens to equal the lr (1/1000 with lr=1e-3): it rises.
        (1e-3, lambda o: S.LambdaLR(o, lambda s: min(1.0, (s + 1) / 1000))),
        (1e-3, lambda o: S.LambdaLR(o, lambda e: 0.95**e)),
        (1e-3, lambda o: S.MultiplicativeLR(o, lambda e: 0.95)),
    ],
)
def test_factor_lambdas_are_silent(auto, lr, make):
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    _train(model, opt, make(opt))
    assert auto.seen == []


@pytest.mark.parametrize("declared", [True, False])
def test_lambda_returning_the_lr_is_reported_by_an_explicit_guard_too(declared):
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=3e-4)
    sched = S.LambdaLR(opt, lambda e: 3e-4 * 0.9**e)
    seen = []
    with schedlint.guard(opt, sched if declared else None, on_violation=seen.append):
        _train(model, opt, sched)
    assert [v.code for v in seen] == ["SLG101"]


# --- SLG114: a schedule restarted on resume -------------------------------------------------------


def _first_run(epochs=3):
    """A run that trained ``epochs`` epochs under a scheduler and checkpointed both states."""
    model, opt = _two_groups()
    sched = S.LambdaLR(opt, lambda e: 0.5**e)
    for _ in range(epochs):
        _step(model, opt)
        sched.step()
    return {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "scheduler": sched.state_dict(),
    }


def _resumed_model_opt(ckpt):
    model, opt = _two_groups()
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["optimizer"])
    return model, opt


def _restarts(session):
    return [v for v in session.seen if v.code == "SLG114"]


@pytest.mark.parametrize("kind", ["SGD", "Adam"])
def test_scheduler_rebuilt_after_resume_without_its_state_is_reported_once(auto, kind):
    ckpt = _first_run()
    if kind == "Adam":  # Adam's state carries its step count as well
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        S.LambdaLR(opt, lambda e: 0.5**e)
        _step(model, opt)
        ckpt["optimizer"] = opt.state_dict()
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        opt.load_state_dict(ckpt["optimizer"])
    else:
        model, opt = _resumed_model_opt(ckpt)
    sched = S.LambdaLR(opt, lambda e: 0.5**e)  # the restarted scheduler
    _train(model, opt, sched, epochs=3)
    (v,) = _restarts(auto)
    assert v.scheduler == "LambdaLR"
    assert (
        f"test_guard_intent_misses.py:{line_of(__file__, '# the restarted scheduler')}" in v.cause
    )
    assert "load_state_dict" in v.cause


def test_scheduler_built_before_the_resume_and_never_loaded_is_reported(auto):
    ckpt = _first_run()
    model, opt = _two_groups()
    sched = S.StepLR(opt, step_size=2)
    opt.load_state_dict(ckpt["optimizer"])
    _train(model, opt, sched)
    assert len(_restarts(auto)) == 1


def test_resume_that_loads_the_scheduler_state_is_silent(auto):
    ckpt = _first_run()
    model, opt = _two_groups()
    sched = S.LambdaLR(opt, lambda e: 0.5**e)
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched)
    assert auto.seen == []


def test_resume_that_builds_the_lambda_scheduler_after_the_optimizer_load_is_not_a_restart(auto):
    # Its position is restored, so the schedule does not restart; but its constructor wrote
    # initial_lr back into the groups, which the first resumed epoch trains with
    # (torch-points3d#630; tests/guard/test_guard_resume_lr.py).
    ckpt = _first_run()
    model, opt = _two_groups()
    opt.load_state_dict(ckpt["optimizer"])
    sched = S.LambdaLR(opt, lambda e: 0.5**e)
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched)
    assert [(v.code, v.expected, v.actual) for v in auto.seen] == [("SLG114", 0.0125, 0.1)]
    assert "restarts" not in auto.seen[0].cause


def test_fresh_run_and_fine_tuning_with_a_new_optimizer_are_silent(auto):
    ckpt = _first_run()
    model = torch.nn.Linear(4, 2)
    model.load_state_dict(ckpt["model"])
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    _train(model, opt, S.LambdaLR(opt, lambda e: 0.5**e))
    assert auto.seen == []


def test_optimizer_state_saved_without_any_scheduler_is_silent(auto):
    model, opt = _two_groups()
    _step(model, opt)
    state = opt.state_dict()
    model, opt = _two_groups()
    opt.load_state_dict(state)
    _train(model, opt, S.LambdaLR(opt, lambda e: 0.5**e))
    assert auto.seen == []


# --- a per-iteration warm-up under an epoch LambdaLR (yolov5): reported, and declarable ----------


def _yolo_style(opt, model, sched, lf, epochs=3, batches=4, warmup=6):
    for epoch in range(epochs):
        for i in range(batches):
            ni = i + batches * epoch
            if ni <= warmup:
                for j, g in enumerate(opt.param_groups):
                    start = 0.1 if j == 1 else 0.0  # the bias group warms down from 0.1
                    g["lr"] = start + (g["initial_lr"] * lf(epoch) - start) * ni / warmup
            _step(model, opt)
        sched.step()


def test_yolo_style_warmup_is_reported_and_the_message_names_the_declaration():
    lf = lambda x: (1 - x / 3) * 0.99 + 0.01  # noqa: E731
    model, opt = _two_groups(0.01, 0.01)
    sched = S.LambdaLR(opt, lf)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        _yolo_style(opt, model, sched, lf)
    found = [v for v in seen if v.code == "SLG102"]
    assert found and all("allow_external_writes=True" in v.cause for v in found)


def test_yolo_style_warmup_declared_with_allow_external_writes_is_silent():
    lf = lambda x: (1 - x / 3) * 0.99 + 0.01  # noqa: E731
    model, opt = _two_groups(0.01, 0.01)
    sched = S.LambdaLR(opt, lf)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append, allow_external_writes=True):
        _yolo_style(opt, model, sched, lf)
    assert seen == []


def test_resume_that_loads_the_main_scheduler_but_not_a_later_phase_is_silent(auto):
    from torch.optim.swa_utils import SWALR

    ckpt = _first_run()
    model, opt = _two_groups()
    sched = S.LambdaLR(opt, lambda e: 0.5**e)
    swa = SWALR(opt, swa_lr=[0.05, 0.005])  # starts later: its state is still at step 0
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    _train(model, opt, sched)
    assert [v for v in auto.seen if v.code == "SLG114"] == []
    del swa


def test_misses_are_reported_under_schedlint_run_when_the_scripts_objects_are_gone(tmp_path):
    # `schedlint run`: runpy drops the script's objects (a main() returns) before the end-of-run
    # checks, so what they need is kept by the guard, not read from the scheduler at the end.
    import io
    import warnings

    from schedlint.guard.runner import run_script

    transformers = pytest.importorskip("transformers")
    assert transformers
    for body, code in (
        ("sched = LambdaLR(opt, lambda e: 1e-3)", "SLG101 x1"),
        ("sched = get_linear_schedule_with_warmup(opt, 2, 60)", "SLG112 x1"),
    ):
        script = tmp_path / "train.py"
        script.write_text(
            "import torch\n"
            "from torch.optim.lr_scheduler import LambdaLR\n"
            "from transformers import get_linear_schedule_with_warmup\n"
            "def main():\n"
            "    m = torch.nn.Linear(4, 2)\n"
            "    opt = torch.optim.SGD(m.parameters(), lr=1e-3)\n"
            f"    {body}\n"
            "    for epoch in range(3):\n"
            "        for i in range(20):\n"
            "            m(torch.randn(3, 4)).sum().backward()\n"
            "            opt.step(); opt.zero_grad()\n"
            "        sched.step()\n"
            "main()\n"
        )
        out = io.StringIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status = run_script(str(script), [], on_violation="warn", out=out)
        assert status == 0, out.getvalue()
        assert f"1 violation ({code})" in out.getvalue(), out.getvalue()
