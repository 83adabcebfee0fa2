"""The guard never changes training: parameters, optimizer state and every LR after 200 steps are
bitwise identical (torch.equal, float.hex) to an unguarded run, for SGD (momentum), Adam and
AdamW in their for-loop, foreach and fused CPU implementations, float and tensor LRs, and each
of the 16 schedulers."""

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import ALL, grad_step, make_optimizer, step_scheduler  # noqa: E402

import schedlint  # noqa: E402

STEPS = 200
IMPLEMENTATIONS = {
    "for-loop": {"foreach": False},
    "foreach": {"foreach": True},
    "fused": {"fused": True},
}
CONFIGS = [
    (kind, impl, tensor_lr)
    for kind in ("sgd", "adam", "adamw")
    for impl in IMPLEMENTATIONS
    for tensor_lr in (False, True)
    # torch itself rejects a tensor lr with foreach Adam/AdamW unless capturable (CUDA only).
    if not (tensor_lr and impl == "foreach" and kind != "sgd")
]


def _lr_bits(opt) -> list:
    return [
        g["lr"].clone() if isinstance(g["lr"], torch.Tensor) else float(g["lr"]).hex()
        for g in opt.param_groups
    ]


def _run(kind, impl, tensor_lr, sched_name, guarded):
    model, opt = make_optimizer(kind, tensor_lr=tensor_lr, **IMPLEMENTATIONS[impl])
    sched = ALL[sched_name](opt)
    guard = schedlint.guard(opt, sched) if guarded else None
    trace = []
    for i in range(STEPS):
        grad_step(model, opt, i)
        step_scheduler(sched, i)
        trace.append(_lr_bits(opt))
    if guard is not None:
        assert guard.report().ok
        guard.close()
    return model, opt, trace


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float):
        return isinstance(b, float) and a.hex() == b.hex()
    return a == b


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind,impl,tensor_lr",
    CONFIGS,
    ids=[f"{k}-{i}-{'tensor' if t else 'float'}-lr" for k, i, t in CONFIGS],
)
def test_guarded_training_is_bitwise_identical(kind, impl, tensor_lr):
    for name in ALL:
        ref_model, ref_opt, ref_trace = _run(kind, impl, tensor_lr, name, guarded=False)
        model, opt, trace = _run(kind, impl, tensor_lr, name, guarded=True)
        assert _same(ref_trace, trace), f"{name}: LR sequence differs"
        for p, q in zip(ref_model.parameters(), model.parameters()):
            assert torch.equal(p, q), f"{name}: parameters differ"
        assert _same(ref_opt.state_dict(), opt.state_dict()), f"{name}: optimizer state differs"


def test_the_comparison_would_see_a_one_ulp_difference():
    # Guards the test above against comparing nothing: a single-ulp change must be caught.
    import math

    _, opt, trace = _run("sgd", "for-loop", False, "StepLR", guarded=False)
    x = float.fromhex(trace[-1][0])
    bumped = [list(t) for t in trace]
    bumped[-1][0] = math.nextafter(x, 1.0).hex()
    assert not _same(trace, bumped)
    state = opt.state_dict()
    other = {
        "state": {k: dict(v) for k, v in state["state"].items()},
        "param_groups": state["param_groups"],
    }
    buf = other["state"][0]["momentum_buffer"]
    other["state"][0]["momentum_buffer"] = torch.nextafter(buf, buf + 1)
    assert not _same(state, other)


def _checkpointed_run(guarded, directory):
    """Auto-guarded training (optimizers adopted at construction, the torch.save hook, an
    optimizer rebuilt mid-run) that checkpoints every 5 steps, with and without the scheduler's
    state: the same LRs, parameters, optimizer state and checkpoint bytes as without the guard."""
    import io

    session = (
        schedlint.install(enable=True, report_at_exit=False, on_violation="log")
        if guarded
        else None
    )
    try:
        model, opt = make_optimizer("adamw", tensor_lr=False)
        sched = ALL["OneCycleLR"](opt)
        trace, blobs = [], []
        for i in range(40):
            grad_step(model, opt, i)
            step_scheduler(sched, i)
            trace.append(_lr_bits(opt))
            if i % 5 == 4:
                buf = io.BytesIO()
                state = {"model": model.state_dict(), "optimizer": opt.state_dict()}
                if i % 10 == 4:
                    state["scheduler"] = sched.state_dict()
                torch.save(state, buf)
                torch.save(opt.state_dict(), directory / f"optimizer-{i}.pt")
                blobs.append(buf.getvalue())
            if i == 30:  # a second optimizer on the same parameters (SLG115's hook)
                opt = torch.optim.SGD(model.parameters(), lr=0.01)
        return model, opt, trace, blobs
    finally:
        if session is not None:
            session.finish(end_checks=False)


def test_checkpoint_and_optimizer_construction_hooks_are_bitwise_neutral(tmp_path):
    # Same file names in two directories: torch.save records the archive's name in the file.
    (tmp_path / "plain").mkdir()
    (tmp_path / "guarded").mkdir()
    ref_model, ref_opt, ref_trace, ref_blobs = _checkpointed_run(False, tmp_path / "plain")
    model, opt, trace, blobs = _checkpointed_run(True, tmp_path / "guarded")
    assert _same(ref_trace, trace)
    for p, q in zip(ref_model.parameters(), model.parameters()):
        assert torch.equal(p, q)
    assert _same(ref_opt.state_dict(), opt.state_dict())
    assert ref_blobs == blobs
    for i in range(4, 40, 5):
        name = f"optimizer-{i}.pt"
        assert (tmp_path / "plain" / name).read_bytes() == (
            tmp_path / "guarded" / name
        ).read_bytes()
