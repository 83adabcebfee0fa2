"""SL103: a non-zero shared floor on distinct group lrs."""

import pytest
from _snippets import lines, with_help

HEADER = """\
import torch.optim.lr_scheduler as lrs
from torch import optim
opt = optim.SGD([{"params": a, "lr": 1e-2}, {"params": b, "lr": 1e-3}])
"""


@pytest.mark.parametrize(
    "ctor",
    [
        "lrs.CosineAnnealingLR(opt, 100, 1e-5)",
        "lrs.CosineAnnealingLR(opt, T_max=100, eta_min=args.lr * 0.01)",
        "lrs.CosineAnnealingWarmRestarts(opt, 10, 2, 1e-6)",
        "lrs.ReduceLROnPlateau(opt, min_lr=1e-5)",
        "optim.swa_utils.SWALR(opt, swa_lr=args.swa_lr)",
    ],
)
def test_nonzero_scalar_floor_is_flagged(ctor):
    assert lines(HEADER + f"s = {ctor}\n", "SL103") == [4]


@pytest.mark.parametrize(
    "ctor",
    [
        "lrs.CosineAnnealingLR(opt, 100)",
        "lrs.CosineAnnealingLR(opt, 100, 0)",
        "lrs.CosineAnnealingLR(opt, T_max=100, eta_min=0.0 * 5)",
        "lrs.CosineAnnealingLR(opt, T_max=100, eta_min=args.min_lr)",  # may be 0
        "lrs.ReduceLROnPlateau(opt, min_lr=[1e-5, 1e-6])",
        "lrs.ReduceLROnPlateau(opt, min_lr=min_lrs)",
        "optim.swa_utils.SWALR(opt, swa_lr=[0.05, 0.005])",
    ],
)
def test_zero_unknown_or_per_group_floor_is_silent(ctor):
    assert lines(HEADER + f"s = {ctor}\n", "SL103") == []


def test_message_suggests_a_list_only_where_the_class_takes_one():
    [(_, _, plateau)] = with_help(HEADER + "s = lrs.ReduceLROnPlateau(opt, min_lr=1e-5)\n", "SL103")
    [(_, _, cosine)] = with_help(HEADER + "s = lrs.CosineAnnealingLR(opt, 9, 1e-5)\n", "SL103")
    assert 'min_lr=[g["lr"] * 0.01 for g in opt.param_groups]' in plateau
    assert "takes no per-group eta_min" in cosine


def test_local_name_with_a_nonzero_value():
    src = HEADER + "floor = 1e-6\ns = lrs.CosineAnnealingLR(opt, 100, eta_min=floor)\n"
    assert lines(src, "SL103") == [5]
    assert lines(src.replace("floor = 1e-6", "floor = 0"), "SL103") == []


CUSTOM = """\
import math
import torch
from torch.optim.lr_scheduler import LRScheduler


class Cosine(LRScheduler):
    def __init__(self, optimizer, total, min_lr=0.0):
        self.total = total
        self.min_lr = min_lr
        super().__init__(optimizer)

    def get_lr(self):
        c = 0.5 * (1 + math.cos(math.pi * self.last_epoch / self.total))
        return [{element} for base_lr in self.base_lrs]


def groups(model, lr, decay):
    out = []
    for depth, block in enumerate(model.blocks):
        scale = decay ** depth
        out.append({{"params": block.parameters(), "lr": {group_lr}}})
    return out


def main(model, lr=1e-3, floor={floor}):
    opt = torch.optim.AdamW(groups(model, lr, 0.7))
    sched = Cosine(opt, 100, min_lr=floor)
"""


@pytest.mark.parametrize(
    "element, group_lr, floor, expected",
    [
        ("self.min_lr + (base_lr - self.min_lr) * c", "lr * scale", "1e-5", [27]),
        ("(base_lr - self.min_lr) * c + self.min_lr", "lr * decay ** depth", "1e-5", [27]),
        # a floor of 0 keeps every ratio; one lr for every group has no ratio to keep
        ("self.min_lr + (base_lr - self.min_lr) * c", "lr * scale", "0.0", []),
        ("self.min_lr + (base_lr - self.min_lr) * c", "lr", "1e-5", []),
        # a floor relative to each group's own lr
        ("base_lr * (self.min_lr + (1 - self.min_lr) * c)", "lr * scale", "1e-2", []),
    ],
)
def test_custom_scheduler_with_one_floor_for_every_group(element, group_lr, floor, expected):
    source = CUSTOM.format(element=element, group_lr=group_lr, floor=floor)
    assert lines(source, "SL103") == expected
