"""SL214, SL215, SL309, SL310 (issue 13: misuse that is silent at runtime), beyond the
fixtures: what each rule must and must not flag, then, against the installed torch and
transformers, the behaviour their messages claim."""

import warnings

import pytest
from _snippets import lines

HEADER = """\
import torch
from torch.optim.lr_scheduler import MultiStepLR, ReduceLROnPlateau
from transformers import get_linear_schedule_with_warmup, get_scheduler
"""


# -- SL309 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "milestones, flagged",
    [
        ("[0.5 * epochs, 0.75 * epochs]", True),
        ("[epochs / 2]", True),
        ("[f * total for f in (0.3, 0.6)]", True),
        ("[30.0, 67.5]", True),
        ("[float(epochs) * 2]", True),
        ("[int(0.5 * epochs), int(0.75 * epochs)]", False),
        ("[int(f * total) for f in (0.3, 0.6)]", False),
        ("[round(0.5 * epochs)]", False),
        ("[epochs // 2, 3 * epochs // 4]", False),
        ("[30.0, 60.0]", False),  # whole floats are found in the Counter
        ("[0.5 * 100]", False),
        ("[f * total for f in cfg.fracs]", False),  # unknown fractions
        ("cfg.milestones", False),
    ],
)
def test_sl309_milestone_shapes(milestones, flagged):
    src = HEADER + (
        "def build(opt, epochs, total, cfg):\n"
        f"    return MultiStepLR(opt, milestones={milestones}, gamma=0.1)\n"
    )
    assert lines(src, "SL309") == ([5] if flagged else [])


def test_sl309_follows_names_bound_to_floats():
    src = HEADER + (
        "def build(opt, epochs):\n"
        "    fracs = (0.5, 0.75)\n"
        "    points = [f * epochs for f in fracs]\n"
        "    return MultiStepLR(opt, points)\n"
    )
    assert lines(src, "SL309") == [6]


def test_sl309_silent_when_a_name_is_bound_twice_or_is_a_parameter():
    src = HEADER + (
        "def build(opt, epochs, half):\n"
        "    step = 0.5 * epochs\n"
        "    if epochs > 10:\n"
        "        step = epochs // 2\n"
        "    return MultiStepLR(opt, [step, half])\n"
    )
    assert lines(src, "SL309") == []


def test_sl309_silent_when_stepped_with_the_epoch():
    # step(epoch) takes the closed form, which bisects the sorted milestones: floats work
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "sched = MultiStepLR(opt, [0.5 * epochs])\n"
        "for epoch in range(epochs):\n"
        "    sched.step(epoch)\n"
    )
    assert lines(src, "SL309") == []


# -- SL214 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "metric, flagged",
    [
        ("val_acc", True),
        ("acc1", True),
        ("top1", True),
        ("self.best_acc", True),
        ("metrics['accuracy']", True),
        ("metrics.get('f1')", True),
        ("mAP50", True),
        ("valDice", True),
        ("mean_iou", True),
        ("accum", False),
        ("score", False),
        ("val_loss", False),
        ("acc_loss", False),
        ("top1_err", False),
        ("neg_acc", False),
        ("val_perplexity", False),
        ("-val_acc", False),
        ("1 - val_acc", False),
        ("evaluate(model)", False),
        # rounded or scaled, a metric keeps its direction
        ("round(val_acc, 4)", True),
        ("val_acc.item()", True),
        ("math.floor(top1 * 100) / 100", True),
        ("float(metrics['accuracy'])", True),
        ("round(-val_acc, 4)", False),
        ("val_acc * -1", False),
        ("100 / val_acc", False),
        ("val_acc.item(0)", False),
    ],
)
def test_sl214_metric_names(metric, flagged):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "sched = ReduceLROnPlateau(opt, patience=2)\n"
        f"sched.step({metric})\n"
    )
    assert lines(src, "SL214") == ([6] if flagged else [])


@pytest.mark.parametrize(
    "metric, flagged",
    [
        ("val_loss", True),
        ("valid_rmse", True),
        ("test_wer", True),
        ("math.ceil(validation_loss * 1000.0) / 1000.0", True),
        ("losses['loss']", True),
        ("neg_loss", False),
        ("-val_loss", False),
        ("acc_loss", False),
        ("val_acc", False),
        ("score", False),
    ],
)
def test_sl214_max_mode_stepped_with_a_loss(metric, flagged):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "sched = ReduceLROnPlateau(opt, 'max', patience=2)\n"
        f"sched.step({metric})\n"
    )
    assert lines(src, "SL214") == ([6] if flagged else [])
    if flagged:  # the same loss in mode "min" is what the scheduler expects
        assert lines(src.replace("'max'", "'min'"), "SL214") == []


@pytest.mark.parametrize(
    "args, flagged",
    [
        ("", True),
        ("mode='min'", True),
        ("'min', factor=0.5", True),
        ("mode='max'", False),
        ("'max'", False),
        ("mode=mode", False),
        ("mode=cfg.mode", False),
        ("**cfg.plateau", False),
    ],
)
def test_sl214_modes(args, flagged):
    src = HEADER + (
        "mode = 'max'\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        f"sched = ReduceLROnPlateau(opt{', ' if args else ''}{args})\n"
        "sched.step(val_acc)\n"
    )
    assert lines(src, "SL214") == ([7] if flagged else [])


def test_sl214_helper_parameter_judged_by_every_caller():
    src = HEADER + (
        "def end_epoch(sched, metric):\n"
        "    sched.step(metric)\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "plateau = ReduceLROnPlateau(opt)\n"
        "end_epoch(plateau, val_acc)\n"
    )
    assert lines(src, "SL214") == [5]
    assert lines(src + "end_epoch(plateau, val_loss)\n", "SL214") == []


def test_sl214_a_parameter_named_for_the_metric_needs_no_caller():
    src = HEADER + (
        "class Trainer:\n"
        "    def __init__(self, opt):\n"
        "        self.sched = ReduceLROnPlateau(opt, factor=0.5)\n"
        "    def on_validation_end(self, val_acc):\n"
        "        self.sched.step(val_acc)\n"
    )
    assert lines(src, "SL214") == [8]


@pytest.mark.parametrize(
    "monitor, mode, flagged",
    [
        ('"val_acc"', "", True),
        ('"val/top1"', ', mode="min"', True),
        ('"val_acc"', ', mode="max"', False),
        ('"val_loss"', "", False),
        ('"val_loss"', ', mode="max"', True),
        ("metric_name", "", False),  # not a literal: unknown
    ],
)
def test_sl214_lightning_monitor(monitor, mode, flagged):
    src = (
        "import lightning as L\nimport torch\n"
        "class Lit(L.LightningModule):\n"
        "    def configure_optimizers(self):\n"
        "        opt = torch.optim.Adam(self.parameters(), lr=1e-3)\n"
        f"        plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(opt{mode})\n"
        f'        return {{"optimizer": opt, "lr_scheduler": plateau, "monitor": {monitor}}}\n'
    )
    assert lines(src, "SL214") == ([7] if flagged else [])


# -- SL310 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, flagged",
    [
        ("get_linear_schedule_with_warmup(opt, total_steps, warmup_steps)", True),
        ("get_linear_schedule_with_warmup(opt, t_total, args.warmup_steps)", True),
        ("get_scheduler('cosine', opt, args.max_steps, args.num_warmup_steps)", True),
        ("get_scheduler(args.kind, opt, num_training_steps, num_warmup_steps)", True),
        ("get_linear_schedule_with_warmup(opt, 1000, 100)", True),
        (
            "get_linear_schedule_with_warmup(opt, num_warmup_steps=600, num_training_steps=600)",
            True,
        ),
        ("get_linear_schedule_with_warmup(opt, warmup_steps, total_steps)", False),
        ("get_linear_schedule_with_warmup(opt, 100, 1000)", False),
        # by keyword too: the run's length in the warm-up slot and a warm-up in the
        # training slot is a swap (shirley-wu/cross-doc-misinfo-detection#1 passed
        # `num_warmup_steps=epochs * len(loader), num_training_steps=args.warmup`)
        (
            "get_linear_schedule_with_warmup(opt, num_warmup_steps=total_steps, "
            "num_training_steps=warmup_steps)",
            True,
        ),
        (
            "get_linear_schedule_with_warmup(opt, num_warmup_steps=warmup_steps, "
            "num_training_steps=total_steps)",
            False,
        ),
        (
            "get_linear_schedule_with_warmup(opt, num_warmup_steps=args.epochs * len(loader), "
            "num_training_steps=args.warmup)",
            True,
        ),
        (
            "get_linear_schedule_with_warmup(opt, "
            "num_warmup_steps=args.epochs * len(loader) * args.warmup_ratio, "
            "num_training_steps=args.epochs * len(loader))",
            False,
        ),
        ("get_linear_schedule_with_warmup(opt, steps, warmup_steps)", False),
        ("get_linear_schedule_with_warmup(opt, total_steps, n)", False),
    ],
)
def test_sl310_shapes(call, flagged):
    src = HEADER + f"opt = torch.optim.AdamW(model.parameters(), lr=5e-5)\nsched = {call}\n"
    assert lines(src, "SL310") == ([5] if flagged else [])


def test_sl310_diffusers_get_scheduler_takes_step_rules_third():
    src = (
        "import torch\nfrom diffusers.optimization import get_scheduler\n"
        "opt = torch.optim.AdamW(model.parameters(), lr=1e-4)\n"
        "sched = get_scheduler('cosine', opt, None, warmup_steps, max_train_steps)\n"
    )
    assert lines(src, "SL310") == []


# -- SL215 ------------------------------------------------------------------------------------
_GAN = """\
opt_g = torch.optim.Adam(g.parameters(), lr=2e-4)
{name} = {value}
for epoch in range(epochs):
    for z in loader:
        opt_g.zero_grad()
        loss(g(z)).backward()
        opt_g.step()
    {name}.step()
"""


@pytest.mark.parametrize(
    "name, value, flagged",
    [
        ("sched_g", "torch.optim.Adam(g.parameters(), lr=2e-4)", True),
        ("lr_scheduler", "torch.optim.SGD(g.parameters(), lr=0.1)", True),
        ("schedulerG", "torch.optim.Adam(g.parameters(), lr=2e-4)", True),
        ("sched_g", "torch.optim.lr_scheduler.StepLR(opt_g, 30)", False),
        ("opt_sched", "torch.optim.Adam(g.parameters(), lr=2e-4)", False),
        ("sched_g", "build(g)", False),  # unknown
        ("optimizer_d", "torch.optim.Adam(g.parameters(), lr=2e-4)", False),
    ],
)
def test_sl215_shapes(name, value, flagged):
    src = HEADER + _GAN.format(name=name, value=value)
    assert lines(src, "SL215") == ([11] if flagged else [])


def test_sl215_real_optimizer_stepped_through_a_grad_scaler():
    src = HEADER + (
        "scaler = torch.cuda.amp.GradScaler()\n"
        "optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)\n"
        "scheduler = torch.optim.AdamW(model.parameters(), lr=1e-3)\n"
        "for x in loader:\n"
        "    optimizer.zero_grad()\n"
        "    scaler.scale(model(x).sum()).backward()\n"
        "    scaler.step(optimizer)\n"
        "    scaler.update()\n"
        "    scheduler.step()\n"
    )
    assert lines(src, "SL215") == [12]


def test_sl215_silent_for_the_only_optimizer_however_named():
    src = HEADER + (
        "scheduler = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "for x in loader:\n"
        "    scheduler.zero_grad()\n"
        "    model(x).sum().backward()\n"
        "    scheduler.step()\n"
    )
    assert lines(src, "SL215") == []


# -- what the messages claim, on the installed libraries ---------------------------------------
def _lrs(scheduler_of, steps, metric=None):
    torch = pytest.importorskip("torch")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = scheduler_of(opt)
    out = []
    for i in range(steps):
        opt.step()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched.step(*(() if metric is None else (metric(i),)))
        out.append(opt.param_groups[0]["lr"])
    return out


def test_torch_never_reaches_a_fractional_milestone():
    torch = pytest.importorskip("torch")
    multistep = torch.optim.lr_scheduler.MultiStepLR
    assert set(_lrs(lambda o: multistep(o, [2.5, 4.5]), 8)) == {1.0}
    assert set(_lrs(lambda o: multistep(o, [0.75 * 30]), 30)) == {1.0}
    # a whole float is found (2 == 2.0 and their hashes agree): why those stay silent
    assert _lrs(lambda o: multistep(o, [2.0]), 3)[-1] == pytest.approx(0.1)


def test_torch_plateau_min_mode_cuts_the_lr_of_a_rising_accuracy():
    torch = pytest.importorskip("torch")
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    rising = [0.5, 0.6, 0.7, 0.75, 0.8, 0.82, 0.85, 0.86]
    assert _lrs(lambda o: plateau(o, patience=2), 8, rising.__getitem__)[-1] < 0.1
    assert set(_lrs(lambda o: plateau(o, mode="max", patience=2), 8, rising.__getitem__)) == {1.0}


def test_torch_plateau_max_mode_cuts_the_lr_of_a_falling_loss():
    torch = pytest.importorskip("torch")
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau
    falling = [2.0, 1.5, 1.2, 1.0, 0.9, 0.85, 0.8, 0.78]
    assert _lrs(lambda o: plateau(o, mode="max", patience=2), 8, falling.__getitem__)[-1] < 0.1
    assert set(_lrs(lambda o: plateau(o, patience=2), 8, falling.__getitem__)) == {1.0}


def test_transformers_swapped_warmup_only_climbs():
    transformers = pytest.importorskip("transformers")
    for factory in (
        transformers.get_linear_schedule_with_warmup,
        transformers.get_cosine_schedule_with_warmup,
    ):
        lrs = _lrs(lambda o, f=factory: f(o, 1000, 100), 100)
        assert all(a <= b for a, b in zip(lrs, lrs[1:]))
        assert lrs[-1] == pytest.approx(0.1)


def test_torch_optimizer_named_scheduler_steps_the_weights_again():
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.ones(1))
    optimizer, scheduler = torch.optim.SGD([p], lr=0.1), torch.optim.SGD([p], lr=0.1)
    p.grad = torch.ones(1)
    optimizer.step()
    once = p.item()
    scheduler.step()
    assert p.item() == pytest.approx(once - 0.1)
    assert not hasattr(scheduler, "get_last_lr")
