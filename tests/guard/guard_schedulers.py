"""The 16 torch schedulers as factories on a 2-group optimizer, and a training loop to drive them.

Shared by the guard tests (imported as a plain module: tests/guard has no __init__.py; pytest
puts this folder on sys.path).
"""

from __future__ import annotations

import torch
from torch.optim import lr_scheduler as S
from torch.optim.swa_utils import SWALR

STEPS = 40  # crosses every milestone, restart and phase below


def _plateau_metric(i: int) -> float:
    # Improves, then plateaus twice: ReduceLROnPlateau reduces at least twice in STEPS.
    return [1.0, 0.8, 0.7, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6][i] if i < 12 else 0.6


BASE = {
    "LambdaLR": lambda o: S.LambdaLR(o, lambda e: 0.95**e),
    "MultiplicativeLR": lambda o: S.MultiplicativeLR(o, lambda e: 0.97),
    "StepLR": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda o: S.MultiStepLR(o, milestones=[5, 12, 20], gamma=0.3),
    "ConstantLR": lambda o: S.ConstantLR(o, factor=0.5, total_iters=6),
    "LinearLR": lambda o: S.LinearLR(o, start_factor=0.2, end_factor=1.0, total_iters=8),
    "ExponentialLR": lambda o: S.ExponentialLR(o, gamma=0.93),
    "PolynomialLR": lambda o: S.PolynomialLR(o, total_iters=15, power=2.0),
    # A scalar eta_min squeezes the two groups' lr ratio (SLG108): correct use on groups with
    # distinct lrs anneals to 0. T_max covers the longest loop (200 steps): past it, the lr climbs
    # back up (SLG112).
    "CosineAnnealingLR": lambda o: S.CosineAnnealingLR(o, T_max=200),
    "CosineAnnealingWarmRestarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=2),
    "ReduceLROnPlateau": lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5),
    "CyclicLR": lambda o: S.CyclicLR(o, base_lr=[0.01, 0.001], max_lr=[0.1, 0.01], step_size_up=4),
    # Sized for the longest loop that drives it (test_guard_bitwise runs 200 steps).
    "OneCycleLR": lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.01], total_steps=1000),
    "SWALR": lambda o: SWALR(
        o, swa_lr=[0.05, 0.005], anneal_epochs=5
    ),  # per group: keeps the ratio
}

ALL = dict(BASE)
ALL["SequentialLR"] = lambda o: S.SequentialLR(
    o,
    [S.LinearLR(o, start_factor=0.1, total_iters=5), S.ExponentialLR(o, gamma=0.9)],
    milestones=[5],
)
ALL["ChainedScheduler"] = lambda o: S.ChainedScheduler(
    [S.ConstantLR(o, factor=0.5, total_iters=4), S.ExponentialLR(o, gamma=0.9)]
)

# Every base class as a child of each container (ReduceLROnPlateau cannot be one: torch rejects it).
NESTED = {}
for _name, _make in BASE.items():
    if _name == "ReduceLROnPlateau":
        continue
    NESTED[f"SequentialLR[LinearLR,{_name}]"] = (
        lambda make: (
            lambda o: S.SequentialLR(
                o, [S.LinearLR(o, start_factor=0.25, total_iters=4), make(o)], milestones=[4]
            )
        )
    )(_make)
    NESTED[f"ChainedScheduler[{_name},ExponentialLR]"] = (
        lambda make: lambda o: S.ChainedScheduler([make(o), S.ExponentialLR(o, gamma=0.99)])
    )(_make)


def make_optimizer(kind: str = "sgd", *, tensor_lr: bool = False, seed: int = 0, **extra):
    """A small model split into two groups (lr 0.1 and 0.01, named) and its optimizer."""
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
    lr = (lambda x: torch.tensor(x)) if tensor_lr else (lambda x: x)
    groups = [
        {"params": list(model[0].parameters()), "lr": lr(0.1), "name": "body"},
        {"params": list(model[2].parameters()), "lr": lr(0.01), "name": "head"},
    ]
    if kind == "sgd":
        opt = torch.optim.SGD(groups, lr=lr(0.1), momentum=0.9, **extra)
    elif kind == "adam":
        opt = torch.optim.Adam(groups, lr=lr(0.1), **extra)
    elif kind == "adamw":
        opt = torch.optim.AdamW(groups, lr=lr(0.1), **extra)
    else:
        raise ValueError(kind)
    return model, opt


def linear_two_groups(lr0=0.1, lr1=0.01):
    """A Linear(4, 2) whose weight and bias are two SGD groups (lr0, lr1), with momentum."""
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(
        [{"params": [model.weight], "lr": lr0}, {"params": [model.bias], "lr": lr1}], momentum=0.9
    )
    return model, opt


def ones_step(model, opt) -> None:
    """An optimizer step with every gradient set to ones."""
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()


def step_scheduler(sched, i: int) -> None:
    if isinstance(sched, S.ReduceLROnPlateau):
        sched.step(_plateau_metric(i))
    else:
        sched.step()


_GRADS: dict = {}


def grad_step(model, opt, i: int) -> None:
    """An optimizer step on fixed pseudo-random gradients (no forward/backward: the optimizer
    update and the schedule are what the guard could disturb, and this keeps 200-step matrices
    cheap)."""
    params = list(model.parameters())
    key = tuple(p.shape for p in params)
    bank = _GRADS.get(key)
    if bank is None:
        gen = torch.Generator().manual_seed(7)
        bank = _GRADS[key] = [
            [torch.randn(p.shape, generator=gen) for p in params] for _ in range(16)
        ]
    for p, g in zip(params, bank[i % 16]):
        p.grad = g.clone()
    opt.step()


def train_step(model, opt, i: int) -> None:
    gen = torch.Generator().manual_seed(1000 + i)
    x = torch.randn(5, 8, generator=gen)
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def lrs(opt) -> list:
    return [float(g["lr"]) for g in opt.param_groups]
