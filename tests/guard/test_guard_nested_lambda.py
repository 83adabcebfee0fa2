"""SLG101 (a LambdaLR/MultiplicativeLR lambda that returns an LR instead of a factor) for lambdas
nested in SequentialLR and ChainedScheduler, and the lambda's value at step 0: the guard follows
torch's ``lr = initial_lr * lambda(step)`` whatever the lambda returns first, and calls a lambda an
LR-returning one only when its factors are a group's LR (or the LR the optimizer was given)."""

import math
from types import SimpleNamespace

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import line_of  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

import schedlint  # noqa: E402


class Backbone(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Linear(8, 16)
        self.head = torch.nn.Linear(16, 4)

    def forward(self, x):
        return self.head(torch.tanh(self.encoder(x)))


def parse_args(**kw):
    defaults = {"lr": 1e-3, "warmup": 3, "epochs": 12, "backbone_mult": 0.1}
    defaults.update(kw)
    return SimpleNamespace(**defaults)


def build_optimizer(model, args):
    # A lower lr for the pretrained encoder, the head at the configured one.
    return torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": args.lr * args.backbone_mult},
            {"params": model.head.parameters(), "lr": args.lr},
        ],
        lr=args.lr,
        weight_decay=0.01,
    )


def build_scheduler(opt, args, decay, container="sequential"):
    if container == "sequential":
        warmup = S.LinearLR(opt, start_factor=0.1, total_iters=args.warmup)
        return S.SequentialLR(opt, [warmup, decay], milestones=[args.warmup])
    return S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=args.warmup), decay])


def train(model, opt, sched, args, steps_per_epoch=2):
    data = torch.Generator().manual_seed(0)
    for _epoch in range(args.epochs):
        for _ in range(steps_per_epoch):
            x = torch.randn(4, 8, generator=data)
            model(x).pow(2).mean().backward()
            opt.step()
            opt.zero_grad()
        sched.step()


def _slg101(session):
    return [v for v in session.seen if v.code == "SLG101"]


@pytest.mark.parametrize("container", ["sequential", "chained"])
def test_nested_lambda_returning_the_lr_is_reported_with_its_line(auto, container):
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    decay = S.LambdaLR(opt, lambda epoch: args.lr * 0.9**epoch)  # the nested lambda-lr line
    sched = build_scheduler(opt, args, decay, container)
    train(model, opt, sched, args)
    (v,) = _slg101(auto)
    assert v.scheduler == "LambdaLR" and v.group_index == 1, v.cause
    line = line_of(__file__, "# the nested lambda-lr line")
    assert f"test_guard_nested_lambda.py:{line}" in v.cause


@pytest.mark.parametrize("container", ["sequential", "chained"])
def test_nested_multiplicative_lambda_returning_the_lr_is_reported(auto, container):
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    decay = S.MultiplicativeLR(opt, lambda epoch: args.lr)
    train(model, opt, build_scheduler(opt, args, decay, container), args)
    (v,) = _slg101(auto)
    assert v.scheduler == "MultiplicativeLR"


@pytest.mark.parametrize("container", ["sequential", "chained"])
@pytest.mark.parametrize(
    "make",
    [
        lambda opt, args: S.LambdaLR(opt, lambda epoch: 0.9**epoch),
        lambda opt, args: S.MultiplicativeLR(opt, lambda epoch: 0.95),
        # A cosine factor with a floor, as in many training scripts.
        lambda opt, args: S.LambdaLR(
            opt, lambda e: 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * e / args.epochs))
        ),
    ],
)
def test_nested_factor_lambdas_are_silent(auto, container, make):
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    train(model, opt, build_scheduler(opt, args, make(opt, args), container), args)
    assert auto.seen == []


# --- the lambda's value at step 0 ------------------------------------------------------------


def _lrs(opt):
    return [float(g["lr"]) for g in opt.param_groups]


def test_a_lambda_starting_below_one_follows_initial_lr_times_lambda(auto):
    # lambda(0) = 0.5: torch sets lr = initial_lr * 0.5 at construction; the guard expects that.
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    opt.defaults["initial_lrs"] = [float(g["lr"]) for g in opt.param_groups]
    sched = S.LambdaLR(opt, lambda e: 0.5 * 0.9**e)
    assert _lrs(opt) == [args.lr * args.backbone_mult * 0.5, args.lr * 0.5]
    train(model, opt, sched, args)
    assert auto.seen == []  # the guard's expectation was torch's: no SLG101, no SLG102
    assert _lrs(opt) == [b * (0.5 * 0.9**args.epochs) for b in opt.defaults["initial_lrs"]]


def test_groups_built_at_multipliers_with_a_lambda_returning_the_lr_are_silent(auto):
    # The optimizer holds per-group multipliers (1 and 0.1) and the lambda returns the absolute
    # lr: torch trains at multiplier x lr, which is what such code means (as Noam schedules).
    args = parse_args(lr=0.1)
    model = Backbone()
    opt = torch.optim.SGD(
        [
            {"params": model.encoder.parameters(), "lr": 0.1},
            {"params": model.head.parameters(), "lr": 1.0},
        ],
        lr=1.0,
        momentum=0.9,
    )
    train(model, opt, S.LambdaLR(opt, lambda e: args.lr * 0.9**e), args)
    assert auto.seen == [], [v.message for v in auto.seen]


def test_lambda_returning_the_optimizers_lr_on_groups_built_at_multiples_is_reported(auto):
    # No group is built at args.lr itself, but the optimizer was given it: the lambda's first
    # value is that lr, so every group trains at lr x its own lr.
    args = parse_args(lr=1e-3)
    model = Backbone()
    opt = torch.optim.AdamW(
        [
            {"params": model.encoder.parameters(), "lr": args.lr * 0.1},
            {"params": model.head.parameters(), "lr": args.lr * 0.5},
        ],
        lr=args.lr,
    )
    sched = S.LambdaLR(opt, lambda e: args.lr * 0.9**e)  # the multiples lambda-lr line
    train(model, opt, sched, args)
    (v,) = _slg101(auto)
    line = line_of(__file__, "# the multiples lambda-lr line")
    assert f"test_guard_nested_lambda.py:{line}" in v.cause


def test_warmup_factor_equal_to_the_optimizers_lr_is_silent(auto):
    # lr 0.1 given to the optimizer, groups at 0.05 and 0.01, warmed up from a factor of 0.1.
    args = parse_args(lr=0.1, epochs=8)
    model = Backbone()
    opt = torch.optim.SGD(
        [
            {"params": model.encoder.parameters(), "lr": 0.05},
            {"params": model.head.parameters(), "lr": 0.01},
        ],
        lr=args.lr,
        momentum=0.9,
    )
    sched = S.LambdaLR(opt, lambda e: 0.1 if e < 2 else 1.0)
    train(model, opt, sched, args)
    assert auto.seen == []


@pytest.mark.parametrize("container", ["sequential", "chained"])
@pytest.mark.parametrize("declared", [True, False])
def test_nested_lambda_returning_the_lr_under_an_explicit_guard(container, declared):
    # guard() called on a finished setup: the scheduler (and its children) already built.
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    sched = build_scheduler(opt, args, S.LambdaLR(opt, lambda e: args.lr * 0.9**e), container)
    seen = []
    with schedlint.guard(opt, sched if declared else None, on_violation=seen.append):
        train(model, opt, sched, args)
    assert [v.code for v in seen] == ["SLG101"], [v.message for v in seen]


@pytest.mark.parametrize("built_first", ["lambda", "constant"])
def test_chained_lambda_starting_below_one_under_an_explicit_guard_is_silent(built_first):
    # The guard replays the construction of a ChainedScheduler it did not see being built. The
    # LambdaLR sets lr = initial_lr * lambda(0) whatever it finds, so the order the children were
    # built in (not kept by the container) decides the lr: both orders are torch's semantics.
    args = parse_args()
    model = Backbone()
    opt = build_optimizer(model, args)
    if built_first == "lambda":
        decay = S.LambdaLR(opt, lambda e: 0.5 * 0.9**e)
        warmup = S.ConstantLR(opt, factor=0.5, total_iters=args.warmup)
    else:
        warmup = S.ConstantLR(opt, factor=0.5, total_iters=args.warmup)
        decay = S.LambdaLR(opt, lambda e: 0.5 * 0.9**e)
    sched = S.ChainedScheduler([warmup, decay])
    seen = []
    with schedlint.guard(opt, sched, on_violation=seen.append):
        train(model, opt, sched, args)
    assert seen == [], [v.message for v in seen]
