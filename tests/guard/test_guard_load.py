"""Load: 10 optimizers x 50 groups x 10,000 steps in one process. The guard's memory stays flat
(bounded violation list and LR history) and report() does not grow with the run."""

import os
import tracemalloc
import warnings

import pytest

torch = pytest.importorskip("torch")

from torch.optim import Optimizer  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard.core import MAX_KEPT  # noqa: E402

OPTIMIZERS, GROUPS = 10, 50
STEPS = int(os.environ.get("SCHEDLINT_LOAD_STEPS", "10000"))


class NoMathOptimizer(Optimizer):
    """Real Optimizer (hooks, groups, schedulers) whose update is free: this test measures the
    guard, not SGD arithmetic on 500 groups."""

    def __init__(self, groups):
        super().__init__(groups, {"lr": 0.1})

    def step(self, closure=None):
        return None


SCHEDULERS = [
    lambda o: S.CosineAnnealingWarmRestarts(o, T_0=100, T_mult=2),
    lambda o: S.LambdaLR(o, lambda e: 1.0 / (1.0 + e)),
    lambda o: S.StepLR(o, step_size=500, gamma=0.9),
    lambda o: S.OneCycleLR(o, max_lr=0.1, total_steps=STEPS + 10, cycle_momentum=False),
    lambda o: S.CosineAnnealingLR(o, T_max=10_000),  # the whole run: past it is SLG112
    lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=50, cycle_momentum=False),
    lambda o: S.ExponentialLR(o, gamma=0.9999),
    lambda o: S.SequentialLR(
        o, [S.LinearLR(o, 0.1, total_iters=100), S.PolynomialLR(o, STEPS)], [100]
    ),
    lambda o: S.ChainedScheduler(
        [S.ConstantLR(o, 0.5, total_iters=50), S.ExponentialLR(o, 0.9999)]
    ),
    lambda o: S.MultiStepLR(o, milestones=[1000, 5000], gamma=0.5),
]


def _build():
    out = []
    for k in range(OPTIMIZERS):
        groups = [
            {
                "params": [torch.nn.Parameter(torch.zeros(2))],
                "lr": 0.001 * (1 + j % 7),
                "name": f"g{j}",
            }
            for j in range(GROUPS)
        ]
        opt = NoMathOptimizer(groups)
        sched = SCHEDULERS[k](opt)
        # The last optimizer also gets a manual write every other step (warn mode): a steady
        # stream of violations, which must not grow memory either.
        guard = schedlint.guard(opt, sched, on_violation="warn")
        out.append((opt, sched, guard))
    return out


def _run(setup, start, stop):
    for i in range(start, stop):
        for k, (opt, sched, _) in enumerate(setup):
            if k == OPTIMIZERS - 1 and i % 2:
                opt.param_groups[3]["lr"] = (
                    0.5 if i % 4 == 1 else 0.25
                )  # differs from the last write
            opt.step()
            sched.step()


@pytest.mark.slow
def test_memory_stays_flat_and_report_stays_small():
    setup = _build()
    # Long enough for every bounded buffer to be full (the kept violations: MAX_KEPT of them).
    warm = max(STEPS // 5, 4 * MAX_KEPT)
    window = min(500, (STEPS - warm) // 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run(setup, 0, warm)
        tracemalloc.start()  # traced for two windows only: tracing slows every allocation
        try:
            _run(setup, warm, warm + window)
            first, _ = tracemalloc.get_traced_memory()
            _run(setup, warm + window, warm + 2 * window)
            last, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        _run(setup, warm + 2 * window, STEPS)
    # 10 optimizers x 500 steps: a leak of even 8 bytes per optimizer step shows as 40 KB.
    assert last - first < 16 * 1024, f"memory grew by {last - first} bytes over {window} steps"
    for k, (_opt, _sched, guard) in enumerate(setup):
        report = guard.report()
        assert report.optimizer_steps == STEPS
        assert len(report.violations) <= MAX_KEPT and len(report.counts) <= 7 * GROUPS
        if k == OPTIMIZERS - 1:
            assert report.counts[("SLG102", 3)] == STEPS // 2
            assert len(str(report)) < 4000  # one line per (code, group), not per occurrence
        else:
            assert report.ok, str(report)
        guard.close()


def test_lr_history_for_plots_is_bounded():
    groups = [{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1} for _ in range(3)]
    opt = NoMathOptimizer(groups)
    sched = S.StepLR(opt, step_size=10)
    with schedlint.guard(opt, sched, history=64) as g:
        for _ in range(5000):
            opt.step()
            sched.step()
        hist = g._history
        assert 32 <= len(hist.steps) < 64 and hist.steps[0] == 0 and hist.steps[-1] > 4000
        assert len(hist.steps) == len(hist.actual) == len(hist.expected)
        assert all(b - a == hist.stride for a, b in zip(hist.steps, hist.steps[1:]))
