"""Cost of the runtime guard (issue: "Runtime guard cost").

1. A realistic CPU training step (an MLP of about 1M parameters, batch 64, with a scheduler
   stepped every step), unguarded vs guarded, for Adam and SGD with 2 and 50 param groups.
   Short blocks of steps (a few steps each, so that the slow and fast phases of a shared
   machine hit both modes alike) alternate between the two modes on the same model; the
   table shows the median per-step time of each mode over all steps, and the overhead.
2. A micro-benchmark of the guard's own per-step cost (its optimizer hooks, its scheduler
   wrapper, the replay) for 2 and 50 groups, next to the cost of the real ``scheduler.step()``
   it checks. The optimizer's own update is a no-op there, so only scheduling is timed. Each
   repetition times the unguarded loop and both guarded modes back to back; the guard's cost
   is the median over repetitions of (guarded - unguarded) of the same repetition.

Run: ``python bench/guard.py`` (``--quick`` for a short run). Timings are medians of
interleaved repetitions, in microseconds per optimizer step.
"""

from __future__ import annotations

import argparse
import gc
import re
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from torch.optim import Optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402

LAYERS, WIDTH, BATCH = 25, 200, 64  # 25 x (200x200 + 200) = 1.0M parameters, 50 tensors


def mlp():
    torch.manual_seed(0)
    layers = []
    for _ in range(LAYERS):
        layers += [torch.nn.Linear(WIDTH, WIDTH), torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def param_groups(model, n_groups):
    params = list(model.parameters())
    if n_groups == 2:
        return [
            {"params": [p for p in params if p.dim() == 2], "lr": 1e-3, "name": "weights"},
            {"params": [p for p in params if p.dim() == 1], "lr": 1e-4, "name": "biases"},
        ]
    return [
        {"params": [p], "lr": 1e-3 * (1 + i % 5), "name": f"t{i}"} for i, p in enumerate(params)
    ]


def training_benchmark(kind, n_groups, blocks, steps_per_block, watch=False):
    model = mlp()
    groups = param_groups(model, n_groups)
    opt = (
        torch.optim.Adam(groups, lr=1e-3)
        if kind == "Adam"
        else torch.optim.SGD(groups, lr=1e-3, momentum=0.9)
    )
    sched = S.LambdaLR(opt, lambda step: min(1.0, (step + 1) / 100) * 0.999**step)
    x = torch.randn(BATCH, WIDTH)
    y = torch.randn(BATCH, WIDTH)
    loss_fn = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
        sched.step()

    for _ in range(steps_per_block):
        step()  # warm caches, allocator and optimizer state
    times = {"unguarded": [], "guarded": []}
    gc.collect()
    for b in range(blocks):
        for mode in ("unguarded", "guarded") if b % 2 == 0 else ("guarded", "unguarded"):
            guard = (
                schedlint.guard(opt, sched, on_violation="raise", watch=watch)
                if mode == "guarded"
                else None
            )
            for _ in range(steps_per_block):
                t = time.perf_counter()
                step()
                times[mode].append(time.perf_counter() - t)
            if guard is not None:
                assert guard.report().ok
                guard.close()
    plain = statistics.median(times["unguarded"]) * 1e6
    guarded = statistics.median(times["guarded"]) * 1e6
    return plain, guarded


class NoMath(Optimizer):
    """A real Optimizer (hooks, groups) whose update costs nothing: only scheduling is timed."""

    def __init__(self, n_groups):
        super().__init__(
            [
                {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1 * (1 + i % 3)}
                for i in range(n_groups)
            ],
            {"lr": 0.1},
        )

    def step(self, closure=None):
        return None


MICRO = {
    "LambdaLR": lambda o: S.LambdaLR(o, lambda e: 0.999**e),
    "StepLR": lambda o: S.StepLR(o, step_size=1000),
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=10_000),
    "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=10**7, cycle_momentum=False),
}


def micro_benchmark(name, n_groups, reps, loops, watch=False):
    def timed(fn):
        t = time.perf_counter()
        for _ in range(loops):
            fn()
        return (time.perf_counter() - t) / loops * 1e6

    results = {"sched": [], "guard": [], "cheap": []}
    opt = NoMath(n_groups)
    sched = MICRO[name](opt)

    def both():
        opt.step()
        sched.step()

    for r in range(reps):
        order = ["plain", "guard", "cheap"] if r % 2 == 0 else ["cheap", "guard", "plain"]
        results["sched"].append(timed(sched.step))
        this = {}
        for mode in order:
            g = None
            if mode == "guard":
                g = schedlint.guard(opt, sched, watch=watch)
            elif mode == "cheap":
                g = schedlint.guard(opt, sched, replay=False, watch=watch)
            both()  # the guard's first check builds its reference
            this[mode] = timed(both)
            if g is not None:
                g.close()
        results["guard"].append(this["guard"] - this["plain"])
        results["cheap"].append(this["cheap"] - this["plain"])
    med = {k: statistics.median(v) for k, v in results.items()}
    return med["sched"], med["guard"], med["cheap"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (noisier)")
    parser.add_argument(
        "--watch", action="store_true", help="guard in watch mode (guard(..., watch=True))"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    # The micro-benchmark times sched.step() alone, which torch flags once as out of order.
    warnings.filterwarnings("ignore", message=re.escape("Detected call of `lr_scheduler.step()`"))
    blocks, per_block = (30, 4) if args.quick else (150, 4)
    reps, loops = (7, 500) if args.quick else (31, 1000)

    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; medians of interleaved runs"
        + ("; watch mode" if args.watch else "")
    )
    print()
    print(
        f"Training step: MLP {LAYERS}x{WIDTH} (~1.0M params), batch {BATCH}, LambdaLR stepped every step"
    )
    print("| optimizer | groups | unguarded us/step | guarded us/step | overhead |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("Adam", "SGD"):
        for n in (2, 50):
            plain, guarded = training_benchmark(kind, n, blocks, per_block, args.watch)
            print(
                f"| {kind} | {n} | {plain:.0f} | {guarded:.0f} | {100 * (guarded - plain) / plain:+.1f}% |",
                flush=True,
            )
    print()
    print(
        "Guard's own cost per optimizer step (hooks + scheduler wrapper + checks), vs the real scheduler.step()"
    )
    print(
        "| scheduler | groups | real step() us | guard us (default, replay) | ratio | guard us (replay=False) | ratio |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for n in (2, 50):
        for name in MICRO:
            real, guard, cheap = micro_benchmark(name, n, reps, loops, args.watch)
            print(
                f"| {name} | {n} | {real:.1f} | {guard:.1f} | {guard / real:.2f}x | {cheap:.1f} | {cheap / real:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
