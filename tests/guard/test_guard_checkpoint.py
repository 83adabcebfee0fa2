"""Checkpoints taken while guarded hold nothing of the guard, pickle, and resume in a process that
never imports schedlint with the exact LR sequence of an uninterrupted run."""

import io
import json
import pickle

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import ROOT, run_python  # noqa: E402
from guard_schedulers import ALL, grad_step, make_optimizer, step_scheduler  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402

SAVE_AT, TOTAL = 7, 15
CHECKPOINTED = [
    "LambdaLR",
    "StepLR",
    "ConstantLR",
    "CosineAnnealingWarmRestarts",
    "ReduceLROnPlateau",
    "CyclicLR",
    "OneCycleLR",
    "SWALR",
    "SequentialLR",
    "ChainedScheduler",
]


def _bits(opt):
    return [float(g["lr"]).hex() for g in opt.param_groups]


def _run(name, steps, guard=False):
    model, opt = make_optimizer()
    sched = ALL[name](opt)
    g = schedlint.guard(opt, sched) if guard else None
    trace = []
    for i in range(steps):
        grad_step(model, opt, i)
        step_scheduler(sched, i)
        trace.append(_bits(opt))
    return model, opt, sched, g, trace


@pytest.mark.parametrize("name", list(ALL))
def test_state_dicts_are_identical_with_and_without_the_guard(name):
    _, ref_opt, ref_sched, _, _ = _run(name, SAVE_AT)
    _, opt, sched, g, _ = _run(name, SAVE_AT, guard=True)
    try:
        for ours, theirs in (
            (sched.state_dict(), ref_sched.state_dict()),
            (opt.state_dict(), ref_opt.state_dict()),
        ):
            assert pickle.dumps(_comparable(ours)) == pickle.dumps(_comparable(theirs))
        assert vars(sched).keys() == vars(ref_sched).keys()
        buf = io.BytesIO()
        torch.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, buf)
        assert b"schedlint" not in buf.getvalue()
    finally:
        g.close()


def _comparable(state):
    """A state dict with callables (lambdas are stored as None or their __dict__) and tensors
    made comparable by value."""
    if isinstance(state, dict):
        return {k: _comparable(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_comparable(v) for v in state]
    if isinstance(state, torch.Tensor):
        return ("tensor", state.tolist())
    if callable(state):
        return "callable"
    return state


def test_whole_objects_pickle_and_torch_save_while_guarded():
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 3)  # lambda-free: picklable as an object
    with schedlint.guard(opt, sched):
        grad_step(model, opt, 0)
        sched.step()
        blob = pickle.dumps({"opt": opt, "sched": sched})
        buf = io.BytesIO()
        torch.save({"model": model, "opt": opt, "sched": sched}, buf)
    assert b"schedlint" not in blob and b"schedlint" not in buf.getvalue()
    restored = pickle.loads(blob)
    assert restored["sched"].optimizer is restored["opt"]
    assert restored["sched"].get_last_lr() == sched.get_last_lr()


RESUME = """
import json, sys
sys.path.insert(0, {tests!r})
import torch
torch.set_num_threads(1)
from guard_schedulers import ALL, grad_step, make_optimizer, step_scheduler
out = {{}}
for name in {names!r}:
    model, opt = make_optimizer()
    sched = ALL[name](opt)  # resume order A: scheduler built, then both states loaded
    ckpt = torch.load({path!r} + name + ".pt", weights_only=False)
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    sched.load_state_dict(ckpt["sched"])
    trace = []
    for i in range({start}, {total}):
        grad_step(model, opt, i)
        step_scheduler(sched, i)
        trace.append([float(g["lr"]).hex() for g in opt.param_groups])
    out[name] = trace
assert not any(m == "schedlint" or m.startswith("schedlint.") for m in sys.modules), "schedlint was imported"
print(json.dumps(out))
"""


def test_checkpoint_saved_while_guarded_resumes_without_schedlint(tmp_path):
    expected = {}
    for name in CHECKPOINTED:
        model, opt, sched, g, _ = _run(name, SAVE_AT, guard=True)
        torch.save(
            {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()},
            tmp_path / f"{name}.pt",
        )
        g.close()
        expected[name] = _run(name, TOTAL)[4][SAVE_AT:]
    code = RESUME.format(
        tests=str(ROOT / "tests" / "guard"),
        names=CHECKPOINTED,
        path=str(tmp_path) + "/",
        start=SAVE_AT,
        total=TOTAL,
    )
    proc = run_python(code, timeout=300)
    assert proc.returncode == 0, proc.stderr
    resumed = json.loads(proc.stdout)
    for name in CHECKPOINTED:
        assert resumed[name] == expected[name], name


def test_a_guarded_run_resumes_correctly_under_the_guard():
    # The resume itself (opt/sched load_state_dict) is a structural change the guard must take
    # in its stride: no false violation, and the replay continues from the loaded state.
    model, opt, sched, g, _ = _run("CosineAnnealingWarmRestarts", SAVE_AT, guard=True)
    ckpt = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}
    g.close()
    expected = _run("CosineAnnealingWarmRestarts", TOTAL)[4][SAVE_AT:]
    model, opt = make_optimizer()
    sched = ALL["CosineAnnealingWarmRestarts"](opt)
    with schedlint.guard(opt, sched) as g:
        model.load_state_dict(ckpt["model"])
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
        trace = []
        for i in range(SAVE_AT, TOTAL):
            grad_step(model, opt, i)
            step_scheduler(sched, i)
            trace.append(_bits(opt))
        report = g.report()
    assert (
        trace == expected
        and report.ok
        and report.last_expected == [float.fromhex(x) for x in trace[-1]]
    )
