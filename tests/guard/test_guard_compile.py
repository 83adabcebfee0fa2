"""The guard and its watch mode under torch.compile: a compiled model and a compiled
``optimizer.step()`` (the pattern of torch's "compiling the optimizer" recipe) train bitwise as
without the guard, the checks still run at every step, and watch mode still names a write's line.

The default backend is ``aot_eager`` (dynamo and AOTAutograd, no C++ build); the same run with
inductor is marked slow (tens of seconds of C++ compilation on a 2-core machine).
"""

import copy
import io
import pickle
import sys

import pytest

torch = pytest.importorskip("torch")

from torch.optim.lr_scheduler import StepLR  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard.watch import WatchedGroup  # noqa: E402

BACKENDS = ["aot_eager", pytest.param("inductor", marks=pytest.mark.slow)]


def _train(backend, *, guard=None, write_at=None, steps=8, tensor_lr=False):
    """A small two-group model trained with a compiled forward/backward and a compiled
    optimizer step; ``guard`` holds guard() keywords (None: unguarded)."""
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    lr = (lambda x: torch.tensor(x)) if tensor_lr else (lambda x: x)
    opt = torch.optim.SGD(
        [
            {"params": list(model[0].parameters()), "lr": lr(0.1)},
            {"params": list(model[2].parameters()), "lr": lr(0.01)},
        ],
        lr=lr(0.1),
        momentum=0.9,
    )
    sched = StepLR(opt, step_size=3, gamma=0.5)
    g = schedlint.guard(opt, sched, **guard) if guard is not None else None
    compiled = torch.compile(model, backend=backend)

    @torch.compile(backend=backend)
    def optimizer_step():
        opt.step()

    data = torch.Generator().manual_seed(1)
    batches = [torch.randn(4, 8, generator=data) for _ in range(steps)]
    lrs, kinds, line = [], [], None
    for i, x in enumerate(batches):
        compiled(x).pow(2).mean().backward()
        if i == write_at:
            line = sys._getframe().f_lineno + 1
            opt.param_groups[1]["lr"] = 0.5
        optimizer_step()
        opt.zero_grad()
        sched.step()
        lrs.append([float(g["lr"]).hex() for g in opt.param_groups])
        kinds.append([type(g).__name__ for g in opt.param_groups])
    params = [p.detach().clone() for p in model.parameters()]
    state = opt.state_dict()
    # What dynamo compiled (the guard must not make it fall back to eager or recompile).
    graphs = dict(torch._dynamo.utils.counters["stats"])
    report = None
    if g is not None:
        report = g.report()
        g.close()
    return lrs, params, kinds, report, state, line, graphs


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("watch", [False, True])
def test_compiled_steps_train_bitwise_as_unguarded(backend, watch):
    lrs0, p0, _, _, _, _, graphs0 = _train(backend)
    lrs1, p1, kinds, report, state, _, graphs1 = _train(backend, guard={"watch": watch})
    assert graphs0["unique_graphs"] > 0
    assert graphs1["unique_graphs"] == graphs0["unique_graphs"], (graphs0, graphs1)
    assert lrs1 == lrs0
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert report.ok, report
    # Between steps the groups are the watched ones (the user's writes land there) ...
    assert kinds[-1] == ["WatchedGroup"] * 2 if watch else ["dict"] * 2
    # ... and nothing of the guard is in what a checkpoint holds.
    assert all(type(g) is dict for g in state["param_groups"])
    assert not report.not_checked, report.not_checked


@pytest.mark.parametrize("watch", [False, True])
def test_a_write_before_a_compiled_step_is_reported(watch):
    seen = []
    _, _, _, _, _, line, _ = _train(
        "aot_eager", guard={"watch": watch, "on_violation": seen.append}, write_at=4
    )
    (v,) = [v for v in seen if v.code == "SLG102"]
    assert v.optimizer_step == 4 or "optimizer step 5" in v.message
    if watch:
        assert v.written_at == f"{__file__}:{line}", v.message
    else:
        assert v.written_at is None


@pytest.mark.parametrize("watch", [False, True])
def test_tensor_lrs_under_compile_train_bitwise(watch):
    lrs0, p0, _, _, _, _, graphs0 = _train("aot_eager", tensor_lr=True)
    lrs1, p1, kinds, report, _, _, graphs1 = _train(
        "aot_eager", guard={"watch": watch}, tensor_lr=True
    )
    assert lrs1 == lrs0
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    assert kinds[-1] == (["WatchedGroup"] * 2 if watch else ["dict"] * 2)
    assert report.ok, report
    if watch:
        # The hooks run outside dynamo: nothing of the guard is compiled. (Without watch mode
        # dynamo still traces into the hooks and compiles the guard's read of the tensor lrs
        # into a graph of its own: one graph more, the training graphs the same.)
        assert graphs1["unique_graphs"] == graphs0["unique_graphs"], (graphs0, graphs1)


def test_watched_group_is_what_the_user_holds_across_compiled_steps():
    torch._dynamo.reset()
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=2)
    with schedlint.guard(opt, sched, watch=True, on_violation="log"):
        held = opt.param_groups[0]
        assert type(held) is WatchedGroup

        @torch.compile(backend="aot_eager")
        def optimizer_step():
            opt.step()

        for _ in range(3):
            model(torch.ones(2, 4)).sum().backward()
            optimizer_step()
            opt.zero_grad()
            sched.step()
            assert opt.param_groups[0] is held
        # Saved and copied between compiled steps: plain dicts, nothing of schedlint.
        assert b"schedlint" not in pickle.dumps(opt)
        assert type(copy.deepcopy(opt).param_groups[0]) is dict
        assert type(opt.state_dict()["param_groups"][0]) is dict


def test_schedlint_run_watch_with_a_compiled_step_and_a_resume(tmp_path):
    # `schedlint run --watch train.py`: the groups are watched from the optimizer's constructor,
    # the step is compiled, and the run resumes from its own checkpoint half-way.
    from schedlint.guard.runner import run_script

    script = tmp_path / "train.py"
    script.write_text(
        "import torch\n"
        "from torch.optim.lr_scheduler import StepLR\n"
        "torch.manual_seed(0)\n"
        "model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))\n"
        "opt = torch.optim.Adam([\n"
        "    {'params': model[0].parameters(), 'lr': torch.tensor(0.01)},\n"
        "    {'params': model[2].parameters(), 'lr': torch.tensor(0.001)},\n"
        "])\n"
        "sched = StepLR(opt, step_size=2)\n"
        "@torch.compile(backend='aot_eager')\n"
        "def optimizer_step():\n"
        "    opt.step()\n"
        "for i in range(8):\n"
        "    model(torch.ones(4, 8)).pow(2).mean().backward()\n"
        "    optimizer_step(); opt.zero_grad(); sched.step()\n"
        "    if i == 3:\n"
        "        ckpt = {'opt': opt.state_dict(), 'sched': sched.state_dict()}\n"
        "        opt.load_state_dict(ckpt['opt']); sched.load_state_dict(ckpt['sched'])\n"
        "    if i == 5:\n"
        "        opt.param_groups[0]['lr'] = torch.tensor(0.5)\n"
        "print('kinds', [type(g).__name__ for g in opt.param_groups])\n"
        "print('final', [float(g['lr']) for g in opt.param_groups])\n"
    )
    results = {}
    for watch in (False, True):
        out, printed = io.StringIO(), io.StringIO()
        saved = sys.stdout
        sys.stdout = printed
        try:
            torch._dynamo.reset()
            run_script(str(script), [], on_violation="log", out=out, watch=watch)
        finally:
            sys.stdout = saved
        results[watch] = (printed.getvalue(), out.getvalue())
    assert "kinds ['WatchedGroup', 'WatchedGroup']" in results[True][0], results[True]
    final = [line for line in results[False][0].splitlines() if line.startswith("final")]
    assert final and final[0] in results[True][0]
    write = (
        script.read_text()
        .splitlines()
        .index("        opt.param_groups[0]['lr'] = torch.tensor(0.5)")
        + 1
    )
    assert f"written at {script}:{write}" in results[True][1], results[True][1]
    assert "SLG102" in results[False][1] and "written at" not in results[False][1]
