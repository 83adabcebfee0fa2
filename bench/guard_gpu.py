#!/usr/bin/env python3
"""Does the guard add host-device synchronisations? (issue 5, "Runtime guard cost").

    python bench/guard_gpu.py [--steps 200] [--check-every 50]

Needs a CUDA machine. A small training loop whose param groups hold their LRs in CUDA tensors
(Adam, ``capturable=True``, a LambdaLR) runs unguarded, then guarded with ``check_every``, each
under ``torch.profiler``. It counts, per mode, the events that stall the host on the device:
``cudaStreamSynchronize``, ``cudaDeviceSynchronize``, synchronous ``cudaMemcpy``, and
``aten::_local_scalar_dense`` (what ``.item()``/``float()`` of a device tensor runs). The guard
is allowed one readback every ``check_every`` optimizer steps (plus one when it closes);
anything more means a per-step sync, and the script exits 1.

``--device cpu`` is a dry run of the script itself (no CUDA events exist there; the CPU path
of the guard reads CPU tensors as floats, which is no synchronisation).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

import schedlint  # noqa: E402

SYNC_EVENTS = (
    "cudaStreamSynchronize",
    "cudaDeviceSynchronize",
    "cudaMemcpy",
    "aten::_local_scalar_dense",
)


def build(device):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256)
    ).to(device)
    weights = [p for p in model.parameters() if p.dim() == 2]
    biases = [p for p in model.parameters() if p.dim() == 1]
    groups = [
        {"params": weights, "lr": torch.tensor(1e-3, device=device), "name": "weights"},
        {"params": biases, "lr": torch.tensor(1e-4, device=device), "name": "biases"},
    ]
    on_gpu = device != "cpu"
    opt = torch.optim.Adam(
        groups, lr=torch.tensor(1e-3, device=device), capturable=on_gpu, foreach=on_gpu
    )  # torch allows a tensor lr with foreach only if capturable
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: min(1.0, (e + 1) / 10))
    x = torch.randn(64, 256, device=device)
    y = torch.randn(64, 256, device=device)
    return model, opt, sched, x, y


def run(device, steps, guarded, check_every):
    model, opt, sched, x, y = build(device)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        sched.step()

    for _ in range(5):  # warm-up outside the profile (allocator, kernels, optimizer state)
        step()
    if device != "cpu":
        torch.cuda.synchronize()
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device != "cpu":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    guard = None
    with torch.profiler.profile(activities=activities) as prof:
        if guarded:
            guard = schedlint.guard(opt, sched, check_every=check_every)
        for _ in range(steps):
            step()
        if guard is not None:
            report = guard.close()
            assert report.ok, report
    if device != "cpu":
        torch.cuda.synchronize()
    counts = Counter()
    for event in prof.events():
        for name in SYNC_EVENTS:
            if event.name == name or (
                name == "cudaMemcpy"
                and event.name.startswith("cudaMemcpy")
                and "Async" not in event.name
            ):
                counts[name] += 1
    return counts


def sync_debug_check(device, steps, check_every) -> str:
    """Second, independent check: between the guard's readbacks, every training step runs under
    ``torch.cuda.set_sync_debug_mode("error")``, which raises on any synchronising CUDA call.
    The unguarded step is run the same way first, so a sync of the step itself is not blamed on
    the guard. Returns "" when clean, else what raised."""
    model, opt, sched, x, y = build(device)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        sched.step()

    for _ in range(5):
        step()
    torch.cuda.synchronize()
    try:
        torch.cuda.set_sync_debug_mode("error")
        step()
    except RuntimeError as exc:
        return f"the unguarded step itself synchronises ({exc}); the check cannot tell"
    finally:
        torch.cuda.set_sync_debug_mode("default")
    guard = schedlint.guard(opt, sched, check_every=check_every)
    try:
        for i in range(steps):
            readback = i % check_every == 0  # the guard reads device LRs back at these steps
            torch.cuda.set_sync_debug_mode("default" if readback else "error")
            try:
                step()
            except RuntimeError as exc:
                return f"step {i} synchronised under the guard: {exc}"
            finally:
                torch.cuda.set_sync_debug_mode("default")
    finally:
        report = guard.close()
    if not report.ok:
        return f"the guard reported violations on a correct run: {report}"
    return ""


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--check-every", type=int, default=50)
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args(argv)
    if args.device != "cpu" and not torch.cuda.is_available():
        print("no CUDA device: this check needs a GPU (or --device cpu for a dry run)")
        return 2
    plain = run(args.device, args.steps, False, args.check_every)
    guarded = run(args.device, args.steps, True, args.check_every)
    allowed = args.steps // args.check_every + 2  # the readbacks, the first check, the close
    print(
        f"torch {torch.__version__}, device {args.device}, {args.steps} steps, "
        f"check_every={args.check_every}"
    )
    print("| event | unguarded | guarded | extra per step |")
    print("|---|---:|---:|---:|")
    extra_syncs = 0
    for name in SYNC_EVENTS:
        extra = guarded[name] - plain[name]
        if name in ("cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaMemcpy"):
            extra_syncs += max(extra, 0)
        print(f"| {name} | {plain[name]} | {guarded[name]} | {extra / args.steps:.3f} |")
    ok = extra_syncs <= allowed
    print(
        f"extra synchronisations: {extra_syncs} (allowed: {allowed}, one per check_every steps): "
        f"{'OK' if ok else 'FAIL: the guard syncs per step'}"
    )
    if args.device != "cpu":
        problem = sync_debug_check(args.device, args.steps, args.check_every)
        print(
            "sync debug mode 'error' between readbacks: "
            + ("OK" if not problem else "FAIL: " + problem)
        )
        ok = ok and not problem
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
