"""SL106: an lr_lambda that returns an absolute lr."""

import pytest
from _snippets import lines, with_help

TEMPLATE = """\
import math
import torch
from torch.optim.lr_scheduler import LambdaLR, MultiplicativeLR
opt = torch.optim.AdamW(model.parameters(), lr=args.lr)
s = LambdaLR(opt, {fn})
"""


@pytest.mark.parametrize(
    "fn",
    [
        "lambda e: args.lr * 0.95 ** e",
        "lambda e: 0.95 ** e * args.lr",
        "lambda e: args.lr * e / 100 if e < 100 else args.lr",
        "lambda e: max(args.lr * 0.9 ** e, 1e-6)",
        "lambda e: 1e-6 + (args.lr - 1e-6) * 0.5 * (1 + math.cos(e))",
        "[lambda e: args.lr * 0.9 ** e]",
    ],
)
def test_absolute_lambdas_are_flagged(fn):
    assert lines(TEMPLATE.format(fn=fn), "SL106") == [5]


@pytest.mark.parametrize(
    "fn",
    [
        "lambda e: 0.95 ** e",
        "lambda e: max(args.min_lr / args.lr, 0.5 * (1 + math.cos(e)))",
        "lambda e: args.lr * 0.9 ** e / args.lr",
        "lambda e, args=None: 0.9 ** e",
        "schedule_fn",  # defined elsewhere: unknown
        "lambda lr: lr * 0.5",  # its own parameter named lr
    ],
)
def test_factor_lambdas_are_silent(fn):
    assert lines(TEMPLATE.format(fn=fn), "SL106") == []


def test_numeric_group_lrs_are_multipliers():
    src = TEMPLATE.format(fn="lambda e: args.lr * 0.9 ** e").replace("lr=args.lr", "lr=1.0")
    assert lines(src, "SL106") == []


def test_lr_rewritten_before_the_scheduler_is_silent():
    src = TEMPLATE.format(fn="lambda e: args.lr * 0.9 ** e").replace(
        "s = LambdaLR", "for g in opt.param_groups:\n    g['lr'] = 1.0\ns = LambdaLR"
    )
    assert lines(src, "SL106") == []


def test_local_function_through_a_local_name():
    src = """\
    import torch
    def build(model, base_lr):
        opt = torch.optim.SGD(model.parameters(), lr=base_lr)
        def warm(step):
            value = base_lr * min(1.0, step / 100)
            return value
        return torch.optim.lr_scheduler.LambdaLR(opt, warm)
    """
    [(line, msg, help)] = with_help(src, "SL106")
    assert line == 7
    assert msg == (
        "`warm` given to LambdaLR returns the lr `base_lr` times a factor, not a pure factor"
    )
    assert help.startswith("`base_lr` is the lr `opt` was built with (line 3): ")


def test_multiplicative_message():
    src = TEMPLATE.format(fn="lambda e: args.lr").replace("LambdaLR(opt", "MultiplicativeLR(opt")
    [(_, _, help)] = with_help(src, "SL106")
    assert "MultiplicativeLR multiplies" in help


GROUPS = """\
import torch
from torch.optim.lr_scheduler import LambdaLR
def groups(model, mult=0.1):
    return [{{"params": model.a.parameters(), "lr": {a}}}, {{"params": model.b.parameters(), "lr": {b}}}]
opt = torch.optim.SGD(groups(model), lr=args.lr)
s = LambdaLR(opt, lambda e: args.lr * 0.9 ** e)
"""


@pytest.mark.parametrize(
    "a, b", [("0.1", "1.0"), ("mult", "1.0"), ("1.0", "10.0"), ("backbone_lr_mult", "head_lr_mult")]
)
def test_multiplier_groups_from_a_helper_are_silent(a, b):
    # the default lr=args.lr is never used: every group holds a factor of the lambda's lr
    assert lines(GROUPS.format(a=a, b=b), "SL106") == []


@pytest.mark.parametrize("a, b", [("1e-4", "1e-3"), ("args.lr * 0.1", "args.lr")])
def test_absolute_groups_from_a_helper_are_flagged(a, b):
    assert lines(GROUPS.format(a=a, b=b), "SL106") == [6]


CLOSURE = """\
import torch
from torch.optim.lr_scheduler import LambdaLR
def make_schedule(lr, total, min_lr=0.0):
    def lr_at(step):
        return {ret}
    return lr_at
opt = torch.optim.AdamW([{{"params": model.a.parameters(), "lr": {a}}}, {{"params": model.b.parameters(), "lr": {b}}}])
s = LambdaLR(opt, make_schedule({lr}, 1000{extra}))
"""


@pytest.mark.parametrize(
    "ret, a, b, lr, extra",
    [
        ("lr * (1 - step / total)", "1e-4", "1e-3", "args.lr", ""),
        ("max(0.0, 1 - step / total) * lr", "5e-5", "5e-5", "cfg.base_lr", ""),
        ("lr * 0.5 if step > total else lr", "0.1", "0.01", "args.learning_rate", ""),
        ("min_lr * (1 - step / total)", "1e-4", "1e-3", "1.0", ", min_lr=args.lr"),
    ],
)
def test_a_closure_over_an_lr_on_absolute_groups_is_flagged(ret, a, b, lr, extra):
    src = CLOSURE.format(ret=ret, a=a, b=b, lr=lr, extra=extra)
    assert lines(src, "SL106") == [8]


@pytest.mark.parametrize(
    "ret, a, b, lr",
    [
        ("lr * (1 - step / total)", "1.0", "0.1", "args.lr"),  # multipliers
        ("lr * (1 - step / total)", "0.5", "0.05", "args.lr"),  # 0.5: maybe a multiplier
        ("lr * (1 - step / total)", "1e-4", "args.head_lr", "args.lr"),  # unknown
        ("lr * (1 - step / total)", "1e-4", "1e-3", "1.0"),  # a factor passed as `lr`
        ("lr * (1 - step / total)", "1e-4", "1e-3", "args.lr_scale"),
        ("min_lr + (lr - min_lr) * (1 - step / total)", "1e-4", "1e-3", "args.lr"),
        ("lr * (1 - step / total) / lr", "1e-4", "1e-3", "args.lr"),
        ("1 - step / total", "1e-4", "1e-3", "args.lr"),
    ],
)
def test_a_closure_returning_a_factor_or_on_unknown_groups_is_silent(ret, a, b, lr):
    src = CLOSURE.format(ret=ret, a=a, b=b, lr=lr, extra="")
    assert lines(src, "SL106") == []


def test_a_closure_over_the_optimizer_lr_is_flagged_with_its_parameter_to_drop():
    src = """\
    import torch
    def warmup(base_lr, steps):
        return lambda step: base_lr * min(1.0, (step + 1) / steps)
    def build(model, args):
        opt = torch.optim.SGD(model.parameters(), lr=args.lr)
        schedule = warmup(args.lr, args.warmup)
        return torch.optim.lr_scheduler.LambdaLR(opt, schedule)
    """
    [(line, msg, help)] = with_help(src, "SL106")
    assert line == 7
    assert msg == (
        "`warmup(...)` given to LambdaLR returns the lr `args.lr` times a factor, not a pure factor"
    )
    assert help.startswith("`args.lr` is the lr `opt` was built with (line 5): ")
    assert help.endswith("(drop `base_lr *`)")


def test_a_closure_over_another_lr_than_the_optimizers_is_silent():
    src = """\
    import torch
    def warmup(base_lr, steps):
        return lambda step: base_lr * min(1.0, (step + 1) / steps)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    s = torch.optim.lr_scheduler.LambdaLR(opt, warmup(args.min_lr, args.warmup))
    """
    assert lines(src, "SL106") == []


def test_a_closure_a_method_builds_over_the_instances_lr_is_flagged():
    src = """\
    import torch
    class Trainer:
        def __init__(self, model, args):
            self.args = args
            self.opt = torch.optim.SGD(model.parameters(), lr=self.args.lr)
            self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self.make_schedule(500))
        def make_schedule(self, warmup):
            def lr_at(step):
                return self.args.lr * min(1.0, step / warmup)
            return lr_at
    """
    assert lines(src, "SL106") == [6]
