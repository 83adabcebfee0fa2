"""SL102: which bounds are certainly one number."""

import pytest
from _snippets import lines, with_help

HEADER = """\
import torch
from torch.optim.lr_scheduler import OneCycleLR, CyclicLR
opt = torch.optim.SGD([{"params": a, "lr": 1e-4}, {"params": b, "lr": 1e-3}], momentum=0.9)
"""


@pytest.mark.parametrize(
    "bound",
    [
        "0.01",
        "1e-2 * 3",
        "args.max_lr",
        "float(args.lr)",
        "-(-0.1)",
        "max(args.lr, 0.01)",
    ],
)
def test_scalar_bounds_are_flagged(bound):
    assert lines(HEADER + f"s = OneCycleLR(opt, max_lr={bound}, total_steps=10)\n", "SL102") == [4]


@pytest.mark.parametrize(
    "bound",
    [
        "[0.01, 0.1]",
        "(0.01, 0.1)",
        "max_lrs",
        "args.max_lrs",
        "cfg.lr_list",
        "[10 * g['lr'] for g in opt.param_groups]",
        "get_bounds(opt)",
    ],
)
def test_lists_and_unknowns_are_silent(bound):
    assert lines(HEADER + f"s = OneCycleLR(opt, max_lr={bound}, total_steps=10)\n", "SL102") == []


def test_local_name_is_followed_to_its_value():
    scalar = HEADER + "peak = 0.1\ns = OneCycleLR(opt, max_lr=peak, total_steps=10)\n"
    listed = HEADER + "peak = [0.01, 0.1]\ns = OneCycleLR(opt, max_lr=peak, total_steps=10)\n"
    assert lines(scalar, "SL102") == [5]
    assert lines(listed, "SL102") == []


def test_parameter_is_silent_unless_it_is_the_optimizer_lr():
    unknown = """\
    import torch
    from torch.optim.lr_scheduler import OneCycleLR
    def make(model, peak):
        opt = torch.optim.SGD([{"params": a, "lr": 1e-4}, {"params": b}], lr=1e-3)
        return OneCycleLR(opt, max_lr=peak, total_steps=10)
    """
    known = """\
    import torch
    from torch.optim.lr_scheduler import OneCycleLR
    def make(model, lr):
        opt = torch.optim.SGD([{"params": a, "lr": lr * 0.1}, {"params": b}], lr=lr)
        return OneCycleLR(opt, max_lr=lr, total_steps=10)
    """
    assert lines(unknown, "SL102") == []
    assert lines(known, "SL102") == [5]


def test_cyclic_message_names_both_scalars_and_the_groups():
    [(line, msg, help)] = with_help(HEADER + "s = CyclicLR(opt, 0.001, 0.01)\n", "SL102")
    assert line == 4
    assert msg == (
        "scalar base_lr=0.001 and max_lr=0.01 in CyclicLR erases the distinct lrs of "
        "the groups of `opt`"
    )
    assert help.startswith("`opt` was built with group lrs 1e-4 and 1e-3 (line 3), but ")


def test_cyclic_list_bounds_are_silent():
    assert (
        lines(HEADER + "s = CyclicLR(opt, base_lr=[1e-5, 1e-4], max_lr=[1e-3, 1e-2])\n", "SL102")
        == []
    )


def test_groups_a_helper_returns_and_its_names():
    src = (
        "import torch\n"
        "from torch.optim.lr_scheduler import OneCycleLR\n"
        "def groups(model, base_lr):\n"
        "    return [\n"
        "        dict(params=model.a.parameters(), lr=base_lr * 0.1),\n"
        "        dict(params=model.b.parameters(), lr=base_lr),\n"
        "    ]\n"
        "def main(model, peaks):\n"
        "    base_lr = peaks\n"
        "    opt = torch.optim.SGD(groups(model, 1e-3), lr=1e-3)\n"
        "    s = OneCycleLR(opt, max_lr=BOUND, total_steps=10)\n"
    )
    assert lines(src.replace("BOUND", "1e-2"), "SL102") == [11]
    # `base_lr` is a number in the helper, but here it holds whatever the caller passed
    assert lines(src.replace("BOUND", "base_lr"), "SL102") == []


def test_helper_group_lrs_are_not_compared_by_text_with_the_default():
    src = (
        "import torch\n"
        "from torch.optim.lr_scheduler import OneCycleLR\n"
        "def groups(model, base_lr):\n"
        "    return [\n"
        "        {'params': model.backbone.parameters()},\n"
        "        {'params': model.head.parameters(), 'lr': HEAD},\n"
        "    ]\n"
        "opt = torch.optim.SGD(groups(model, args.lr), lr=args.lr)\n"
        "s = OneCycleLR(opt, max_lr=0.1, total_steps=10)\n"
    )
    # `base_lr` is `args.lr` here: one lr for both groups, as far as the text can tell
    assert lines(src.replace("HEAD", "base_lr"), "SL102") == []
    # a number against the default's text: as for groups written inline
    assert lines(src.replace("HEAD", "1e-2"), "SL102") == [9]


def test_group_lrs_with_a_long_shared_prefix_stay_told_apart():
    """Clipped to 20 characters, `self.args.learning_rate * 0.1` and `self.args.learning_rate`
    both read `self.args.learnin...`: the help named two identical lrs."""
    source = """\
import torch
from torch.optim.lr_scheduler import OneCycleLR
class Tuner:
    def build(self, enc, head, steps):
        self.optimizer = torch.optim.AdamW(
            [{"params": enc, "lr": self.args.learning_rate * 0.1},
             {"params": head, "lr": self.args.learning_rate}])
        self.scheduler = OneCycleLR(self.optimizer, max_lr=self.args.learning_rate, total_steps=steps)
"""
    [(_, _, help)] = with_help(source, "SL102")
    assert "group lrs self.args.learning_rate * 0.1 and self.args.learning_rate (" in help
