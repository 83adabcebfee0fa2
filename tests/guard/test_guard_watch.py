"""Watch mode (guard(opt, watch=True), schedlint run --watch): a violation names the line of the
write, and the watched groups change nothing: references, state_dict/load_state_dict, pickle,
deepcopy and the 16 schedulers' LRs are as without it."""

import copy
import io
import pickle
import sys

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import ALL, grad_step, make_optimizer, step_scheduler  # noqa: E402
from torch.optim.lr_scheduler import StepLR  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard.runner import run_script  # noqa: E402
from schedlint.guard.watch import WatchedGroup  # noqa: E402


def _line() -> int:
    return sys._getframe(1).f_lineno


def test_a_manual_write_is_named_by_its_line():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=5)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append, watch=True):
        grad_step(model, opt, 0)
        sched.step()
        line = _line() + 1  # the write on the next line
        opt.param_groups[1]["lr"] = 0.5
        grad_step(model, opt, 1)
    (v,) = [v for v in seen if v.code == "SLG102"]
    assert v.written_at == f"{__file__}:{line}"
    assert f"written at {__file__}:{line}" in v.message


def test_without_watch_no_line_and_plain_dicts():
    model, opt = make_optimizer()
    sched = StepLR(opt, step_size=5)
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        assert all(type(g) is dict for g in opt.param_groups)
        grad_step(model, opt, 0)
        sched.step()
        opt.param_groups[1]["lr"] = 0.5
        grad_step(model, opt, 1)
    (v,) = [v for v in seen if v.code == "SLG102"]
    assert v.written_at is None and "written at" not in v.message


def test_a_group_referenced_elsewhere_is_never_replaced():
    model, opt = make_optimizer()
    held = opt.param_groups[0]  # user code keeping a group: a swap would detach it from training
    sched = StepLR(opt, step_size=5)
    with schedlint.guard(opt, sched, on_violation="log", watch=True) as guard:
        assert opt.param_groups[0] is held and type(held) is dict
        assert type(opt.param_groups[1]) is WatchedGroup
        grad_step(model, opt, 0)
        sched.step()
        held["lr"] = 0.5  # still the optimizer's group
        assert opt.param_groups[0]["lr"] == 0.5
        grad_step(model, opt, 1)
    report = guard.report()
    assert any("group(s) 0 as plain dicts" in r for r in report.not_checked), report.not_checked
    assert all(type(g) is dict for g in opt.param_groups)  # plain dicts again after close


def test_schedlint_run_watch_names_a_write_through_the_constructors_list(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "m = torch.nn.Linear(4, 2)\n"
        "head = {'params': [m.bias], 'lr': 0.01}\n"
        "groups = [{'params': [m.weight], 'lr': 0.1}, head]\n"
        "opt = torch.optim.SGD(groups, momentum=0.9)\n"
        "assert groups[0] is opt.param_groups[0] and head is opt.param_groups[1]\n"
        "print('kinds', type(opt.param_groups[0]).__name__, type(opt.param_groups[1]).__name__)\n"
        "groups[0]['lr'] = 0.05\n"
        "sched = StepLR(opt, 2)\n"
        "for i in range(4):\n"
        "    m(torch.ones(3, 4)).sum().backward()\n"
        "    opt.step(); opt.zero_grad()\n"
        "    sched.step()\n"
        "print('final', [g['lr'] for g in opt.param_groups])\n"
    )
    out = io.StringIO()
    saved = sys.stdout
    sys.stdout = printed = io.StringIO()
    try:
        status = run_script(str(script), [], on_violation="warn", out=out, watch=True)
    finally:
        sys.stdout = saved
    assert status == 0, out.getvalue()
    # The list given to the constructor holds the watched group too; `head`, kept by the
    # script under its own name, stays the plain dict it passed.
    assert "kinds WatchedGroup dict" in printed.getvalue()
    assert (
        "final [0.0005000000000000001, 0.0001]" in printed.getvalue()
    )  # the write trained, as unguarded
    assert f"written at {script}:9" in out.getvalue(), out.getvalue()
    assert "before StepLR was built" in out.getvalue()


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return type(b) is dict and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return isinstance(b, float) and a.hex() == b.hex()
    return a == b


def _trained(watch, steps=30):
    model, opt = make_optimizer("adam")
    sched = StepLR(opt, step_size=7)
    guard = schedlint.guard(opt, sched, watch=watch)
    for i in range(steps):
        grad_step(model, opt, i)
        sched.step()
    return model, opt, sched, guard


def test_state_dict_load_state_dict_pickle_and_deepcopy_round_trip():
    _, plain, _, g0 = _trained(False)
    model, opt, sched, g1 = _trained(True)
    try:
        assert all(type(g) is WatchedGroup for g in opt.param_groups)
        state = opt.state_dict()
        assert _same(plain.state_dict(), state)
        assert all(type(g) is dict for g in state["param_groups"])
        assert b"schedlint" not in pickle.dumps(state)
        # pickle and torch.save of the optimizer itself: plain dicts, nothing of schedlint.
        blob = pickle.dumps(opt)
        assert b"schedlint" not in blob and b"WatchedGroup" not in blob
        again = pickle.loads(blob)
        assert all(type(g) is dict for g in again.param_groups)
        assert _same(again.state_dict(), state)
        buf = io.BytesIO()
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
        assert b"schedlint" not in buf.getvalue()
        # deepcopy: plain dicts, the same values, the copy's params in its own state.
        twin = copy.deepcopy(opt)
        assert all(type(g) is dict for g in twin.param_groups)
        assert _same(twin.state_dict(), state)
        assert copy.copy(opt.param_groups[0]) == dict(opt.param_groups[0])
        assert type(copy.copy(opt.param_groups[0])) is dict
        # load_state_dict into a fresh optimizer, and into the watched one (a resume).
        _, fresh = make_optimizer("adam", seed=3)
        fresh.load_state_dict(state)
        assert _same(fresh.state_dict(), state)
        opt.load_state_dict(plain.state_dict())
        assert _same(opt.state_dict(), plain.state_dict())
        grad_step(model, opt, 99)  # the guard watches the loaded groups again
        assert all(type(g) is WatchedGroup for g in opt.param_groups)
        assert g1.report().ok
    finally:
        g0.close()
        g1.close()


@pytest.mark.parametrize("name", sorted(ALL))
def test_each_scheduler_trains_bitwise_identically_with_watch_on(name):
    runs = []
    for watch in (False, True):
        model, opt = make_optimizer()
        sched = ALL[name](opt)
        guard = schedlint.guard(opt, sched, watch=watch)
        assert all(type(g) is (WatchedGroup if watch else dict) for g in opt.param_groups)
        trace = []
        for i in range(60):
            grad_step(model, opt, i)
            step_scheduler(sched, i)
            trace.append([float(g["lr"]).hex() for g in opt.param_groups])
        # Saved and copied while still watched: plain dicts, nothing of schedlint.
        saved = (opt.state_dict(), sched.state_dict())
        blob = pickle.dumps(saved)
        assert b"schedlint" not in blob and b"schedlint" not in pickle.dumps(opt)
        assert all(type(g) is dict for g in copy.deepcopy(opt).param_groups)
        # A resume from the saved state lands on the same lrs.
        _, fresh_opt = make_optimizer(seed=5)
        fresh = ALL[name](fresh_opt)
        fresh_opt.load_state_dict(saved[0])
        fresh.load_state_dict(saved[1])
        assert [float(g["lr"]).hex() for g in fresh_opt.param_groups] == trace[-1]
        report = guard.report()
        guard.close()
        runs.append(
            (trace, [p.detach().clone() for p in model.parameters()], report.by_code(), saved)
        )
    (t0, p0, c0, s0), (t1, p1, c1, s1) = runs
    assert t0 == t1
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert c0 == c1
    assert _same(s0[0], s1[0])
    assert pickle.dumps(s0[1]) == pickle.dumps(s1[1])  # scheduler state, byte for byte
