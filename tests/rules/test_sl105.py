"""SL105: which lr updates compound."""

import pytest
from _snippets import lines, with_help

LOOP = """\
import math
import numpy as np
def f(lr, e):
    return lr * 0.9 ** e
def ratio(e):
    return 0.9 ** e / 0.9 ** (e - 1)
for epoch in range(10):
    for g in opt.param_groups:
        {stmt}
"""


@pytest.mark.parametrize(
    "stmt",
    [
        'g["lr"] *= 0.9 ** epoch',
        'g["lr"] *= 0.5 ** (epoch // 30)',
        'g["lr"] /= epoch + 1',
        'g["lr"] *= 1 - epoch / 10',
        'g["lr"] *= 1 - 0.1 * epoch',
        'g["lr"] *= np.exp(-0.1 * epoch)',
        'g["lr"] = g["lr"] * 0.9 ** epoch',
        'g["lr"] = 0.5 * g["lr"] * math.cos(epoch)',
        'g["lr"] = g["lr"] / (1 + epoch)',
        'g["lr"] = f(g["lr"], epoch)',
        'g["lr"] = f(lr=g["lr"], e=epoch)',
        'g.update(lr=g["lr"] * 0.9 ** epoch)',
    ],
)
def test_compounding_updates_are_flagged(stmt):
    assert lines(LOOP.format(stmt=stmt), "SL105") == [9]


@pytest.mark.parametrize(
    "stmt",
    [
        'g["lr"] *= 0.9',
        'g["lr"] *= gamma',
        'g["lr"] *= 0.1 if epoch in milestones else 1.0',
        'g["lr"] *= 0.1 ** (epoch in milestones)',
        'g["lr"] *= ratio(epoch)',  # incremental f(e) / f(e - 1)
        'g["lr"] *= (1 - epoch / 10) / (1 - (epoch - 1) / 10)',
        'g["lr"] *= factors[epoch]',  # a table of per-epoch factors
        'g["lr"] *= user_schedule(epoch)',  # opaque: may be a ratio
        'g["lr"] = g["initial_lr"] * 0.9 ** epoch',
        'g["lr"] = base_lr * 0.9 ** epoch',
        'g["lr"] = f(base_lr, epoch)',
        'g["lr"] *= num_epochs / total_epochs',
        'g["lr"] *= 1 - 1 / (epoch + 1)',  # == epoch / (epoch + 1): incremental 1/t decay
        'g["lr"] *= 1 + 0.5 / epoch',
    ],
)
def test_correct_updates_are_silent(stmt):
    assert lines(LOOP.format(stmt=stmt), "SL105") == []


def test_reset_then_scale_in_the_same_loop_is_silent():
    src = LOOP.format(stmt='g["lr"] = base_lr\n        g["lr"] *= 0.9 ** epoch')
    assert lines(src, "SL105") == []


def test_module_level_one_shot_write_is_silent():
    assert lines('opt.param_groups[0]["lr"] *= 0.9 ** epoch\n', "SL105") == []


def test_helper_lambda_and_message():
    src = """\
    decay = lambda lr, e: lr * 0.97 ** e
    def on_epoch(optimizer, epoch):
        for pg in optimizer.param_groups:
            pg["lr"] = decay(pg["lr"], epoch)
    """
    [(line, msg, help)] = with_help(src, "SL105")
    assert line == 4
    assert msg == (
        '`pg["lr"] = decay(pg["lr"], epoch)` compounds: it scales the current lr by a '
        "factor that depends on the counter"
    )
    assert "through `decay`" in help and "`optimizer`" in help
    assert 'pg["lr"] = decay(pg.setdefault("initial_lr", pg["lr"]), epoch)' in help


def test_counter_attribute_in_a_method():
    src = """\
    class T:
        def end_epoch(self):
            for g in self.opt.param_groups:
                g["lr"] *= 0.9 ** self.current_epoch
    """
    assert lines(src, "SL105") == [4]


def test_parameter_named_freely_but_called_with_the_epoch():
    src = """\
    def adjust(optimizer, e):
        for g in optimizer.param_groups:
            g["lr"] *= 0.9 ** e
    for epoch in range(90):
        adjust(opt, epoch)
    """
    assert lines(src, "SL105") == [3]
    assert lines(src.replace("adjust(opt, epoch)", "adjust(opt, 0.5)"), "SL105") == []


def test_factor_through_a_local_name():
    src = LOOP.format(stmt='factor = 0.9 ** epoch\n        g["lr"] *= factor')
    assert lines(src, "SL105") == [10]
    src = LOOP.format(stmt='factor = 0.9\n        g["lr"] *= factor')
    assert lines(src, "SL105") == []
