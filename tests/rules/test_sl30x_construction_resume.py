"""SL301-SL307: construction and resume rules (logic beyond the fixtures).

The second half checks, against the installed torch, the behaviour the rules' messages claim.
"""

import textwrap

import libcst as cst
import pytest
from _snippets import lines, with_help

from schedlint.model.uses import exclusive, uses

HEADER = """\
import torch
import torch.optim.lr_scheduler as lrs
"""


# -- SL301 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "last_epoch, expected",
    [
        ("0", [4]),
        ("5", [4]),
        ("-2", [4]),
        ("start - 1", [4]),
        ("args.last_epoch", [4]),
        ("-1", []),
        ("None", []),
    ],
)
def test_sl301_last_epoch_values(last_epoch, expected):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        f"s = lrs.StepLR(opt, 3, last_epoch={last_epoch})\n"
    )
    assert lines(src, "SL301") == expected


@pytest.mark.parametrize(
    "before",
    [
        "opt.load_state_dict(ckpt['optimizer'])",
        "first = lrs.LinearLR(opt, 0.1)",
        "resume_from(path, model, opt)",
        "for g in opt.param_groups:\n    g['initial_lr'] = g['lr']",
    ],
)
def test_sl301_initial_lr_may_exist(before):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n" + before + "\n"
        "s = lrs.StepLR(opt, 3, last_epoch=start)\n"
    )
    assert lines(src, "SL301") == []


def test_sl301_silent_for_classes_that_do_not_need_initial_lr():
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "s = lrs.SequentialLR(opt, [lrs.LinearLR(opt), lrs.StepLR(opt, 3)], [2],"
        " last_epoch=4)\n"
    )
    assert lines(src, "SL301") == []


# -- SL302 ------------------------------------------------------------------------------------
def test_sl302_message_names_the_scheduler_and_the_outcome():
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "warm = lrs.LambdaLR(opt, lambda e: 1.0)\n"
        "opt.add_param_group({'params': extra})\n"
    )
    [(line, message, help)] = with_help(src, "SL302")
    assert line == 5
    assert message == (
        "`opt.add_param_group(...)` runs after scheduler `warm` (line 4) was built on it"
    )
    assert "in the LambdaLR" in help and "zip()" in help


def test_sl302_plateau_only_with_a_min_lr_list():
    body = (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "p = lrs.ReduceLROnPlateau(opt, min_lr={})\n"
        "opt.add_param_group({{'params': extra}})\n"
    )
    assert lines(HEADER + body.format("1e-6"), "SL302") == []
    assert lines(HEADER + body.format("[1e-6]"), "SL302") == [5]


# -- SL303 ------------------------------------------------------------------------------------
def test_sl303_counts_groups_of_a_list_variable_only_when_untouched():
    base = HEADER + (
        "groups = [{'params': a}, {'params': b}]\nMORE\n"
        "opt = torch.optim.SGD(groups, lr=0.1)\n"
        "s = lrs.LambdaLR(opt, [f, f, f])\n"
    )
    assert lines(base.replace("MORE", "pass"), "SL303") == [6]
    more = "if more:\n    groups.append({'params': c})"
    assert lines(base.replace("MORE", more), "SL303") == []


def test_sl303_momentum_lists_ignored_without_cycle_momentum():
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "s = lrs.OneCycleLR(opt, 0.1, 100, base_momentum=[0.8, 0.8], {})\n"
    )
    assert lines(src.format("cycle_momentum=False"), "SL303") == []
    assert lines(src.format("cycle_momentum=True"), "SL303") == [4]


HELPER_GROUPS = HEADER + (
    "def groups(model):\n"
    "    out = [{'params': model.a.parameters(), 'lr': 0.1}]\n"
    "    BODY\n"
    "    return out\n"
    "opt = torch.optim.SGD(groups(model), lr=0.1)\n"
    "s = lrs.LambdaLR(opt, [f, f])\n"
)


@pytest.mark.parametrize(
    "body, expected",
    [
        ("out.append(dict(params=model.b.parameters()))", []),
        ("out += [{'params': model.b.parameters()}, {'params': model.c.parameters()}]", [8]),
        ("out.extend([{'params': model.b.parameters()}, {'params': model.c.parameters()}])", [8]),
        ("out.insert(0, {'params': model.b.parameters()})", []),  # not followed: unknown
        ("pass", [8]),
        ("if model.c:\n        out.append({'params': model.c.parameters()})", []),
        ("for m in model.more:\n        out.append({'params': m.parameters()})", []),
        ("add_norm_groups(out, model)", []),  # the helper may grow it
        ("log(len(out))", [8]),  # reading its length leaves it as it is
        ("alias = out\n    alias.append({'params': model.b.parameters()})", []),
        ("return [{'params': model.b.parameters()}]", []),  # two returns: either may run
    ],
)
def test_sl303_groups_a_helper_returns(body, expected):
    assert lines(HELPER_GROUPS.replace("BODY", body), "SL303") == expected


@pytest.mark.parametrize(
    "build, expected",
    [
        ("lams = [f, f, f]", [6]),
        ("lams = [f, f]", []),
        ("lams = [f, f]\nlams.append(g)", [7]),
        ("lams = [f, f]\nif more:\n    lams.append(g)", []),
        ("lams = make_lambdas()", []),
    ],
)
def test_sl303_per_group_list_bound_to_a_name(build, expected):
    src = HEADER + (
        "groups = [{'params': a}, {'params': b}]\n"
        "opt = torch.optim.SGD(groups, lr=0.1)\n"
        f"{build}\n"
        "s = lrs.LambdaLR(opt, lams)\n"
    )
    assert lines(src, "SL303") == expected


def test_sl303_helper_groups_through_a_method_others_override():
    src = HEADER + (
        "class Base:\n"
        "    def groups(self):\n"
        "        return [{'params': self.a.parameters()}]\n"
        "    def build(self):\n"
        "        opt = torch.optim.SGD(self.groups(), lr=0.1)\n"
        "        return lrs.LambdaLR(opt, [f, f])\n"
        "OTHER"
    )
    assert lines(src.replace("OTHER", ""), "SL303") == [8]
    other = (
        "class Two(Base):\n"
        "    def groups(self):\n"
        "        return [{'params': self.a.parameters()}, {'params': self.b.parameters()}]\n"
    )
    assert lines(src.replace("OTHER", other), "SL303") == []


@pytest.mark.parametrize(
    "more, expected",
    [
        ("groups.append({'params': c})", [6]),
        ("groups.extend([{'params': c}])", [6]),
        ("groups += [{'params': c}]", [6]),
        ("groups.append({'params': c})\ngroups.append({'params': d})", [6]),
        ("for m in extra:\n    groups.append({'params': m})", []),
        ("groups.insert(0, {'params': c})", []),
        ("add_norm_groups(groups)\ngroups.append({'params': c})", []),
    ],
)
def test_sl303_counts_groups_appended_before_the_optimizer(more, expected):
    # the appends the model counted in straight-line code leave the list certain; one it
    # did not (a loop, ``insert``, a helper given the list) leaves it unknown
    src = HEADER + (
        "groups = [{'params': a}, {'params': b}]\n"
        f"{more}\n"
        "opt = torch.optim.SGD(groups, lr=0.1)\n"
        "s = lrs.LambdaLR(opt, [f, f])\n"
    )
    expected = [e + more.count("\n") for e in expected]
    assert lines(src, "SL303") == expected


TRAINER_GROUPS = HEADER + (
    "class Trainer(Base):\n"
    "    def __init__(self, model):\n"
    "        self.groups = [{'params': model.a.parameters()}]\n"
    "        INIT\n"
    "    def build(self):\n"
    "        self.opt = torch.optim.SGD(self.groups, lr=0.1)\n"
    "        self.sched = lrs.LambdaLR(self.opt, [f, f, f])\n"
    "OTHER\n"
)


@pytest.mark.parametrize(
    "init, other, expected",
    [
        ("self.groups.append({'params': model.b.parameters()})", "", [9]),
        ("self.groups += [{'params': model.b.parameters()}]", "", [9]),
        ("pass", "", [9]),
        (
            "self.groups.append({'params': model.b.parameters()})\n        self.build()",
            "",
            [9],
        ),
        # changed after another method of self may have read it: which list it read is
        # not known
        (
            "self.build()\n        self.groups.append({'params': model.b.parameters()})",
            "",
            [],
        ),
        (
            "super().__init__()\n        self.groups.append({'params': model.b.parameters()})",
            "",
            [],
        ),
        (
            "self.groups.append({'params': model.b.parameters()})\n        super().__init__()",
            "",
            [9],
        ),
        (
            "self.groups = self.groups + [{'params': model.b}]",
            "",
            [],
        ),
        ("for m in model.more:\n            self.groups.append({'params': m})", "", []),
        ("if model.b:\n            self.groups.append({'params': model.b})", "", []),
        ("add_groups(self.groups)", "", []),
        ("groups = self.groups\n        groups.append({'params': model.b})", "", []),
        # another method, or a subclass, changes or rebinds it
        (
            "self.groups.append({'params': model.b.parameters()})",
            "    def unfreeze(self):\n        self.groups.append({'params': self.c})",
            [],
        ),
        (
            "self.groups.append({'params': model.b.parameters()})",
            "class Sub(Trainer):\n    def __init__(self, model):\n        self.groups = []",
            [],
        ),
        (
            "self.groups.append({'params': model.b.parameters()})",
            "    def log(self):\n        print(len(self.groups))\n"
            "        for g in self.groups:\n            print(g)",
            [9],
        ),
        (
            "self.groups.append({'params': model.b.parameters()})",
            "    def get(self):\n        return self.groups",
            [],
        ),
    ],
)
def test_sl303_groups_kept_on_self(init, other, expected):
    src = TRAINER_GROUPS.replace("INIT", init).replace("OTHER", other)
    expected = [e + init.count("\n") for e in expected]
    assert lines(src, "SL303") == expected


ALIASED_GROUPS = HEADER + (
    "class Trainer:\n"
    "    def __init__(self, model):\n"
    "        groups = [{'params': model.a.parameters()}]\n"
    "        groups.append({'params': model.b.parameters()})\n"
    "        INIT\n"
    "    def build(self):\n"
    "        self.opt = torch.optim.SGD(self.groups, lr=0.1)\n"
    "        self.sched = lrs.LambdaLR(self.opt, [f, f, f])\n"
)


@pytest.mark.parametrize(
    "init, expected",
    [
        # a list built locally, then bound to self: both names hold it
        ("self.groups = groups", [10]),
        ("self.groups = groups\n        self.build()", [10]),
        ("self.groups = groups\n        print(len(groups))", [10]),
        # grown or handed on through either name after the alias: unknown
        ("self.groups = groups\n        groups.append({'params': model.c})", []),
        ("self.groups = groups\n        add_groups(groups)", []),
        ("self.groups = groups\n        groups[0] = {'params': model.c}", []),
        (
            "self.groups = groups\n        more = groups\n        more.append({'params': model.c})",
            [],
        ),
        ("if model.c:\n            self.groups = groups", []),
        ("for _ in range(1):\n            self.groups = groups", []),
        # bound after a call of another method, as a literal would be
        ("self.build()\n        self.groups = groups", [10]),
    ],
)
def test_sl303_group_list_aliased_to_self(init, expected):
    src = ALIASED_GROUPS.replace("INIT", init)
    expected = [e + init.count("\n") for e in expected]
    assert lines(src, "SL303") == expected


# -- SL304 ------------------------------------------------------------------------------------
TRAIN = (
    HEADER
    + """\
def main(model, loader, ckpt):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = lrs.StepLR(opt, 30)
    {resume}
    for epoch in range(90):
        train(model, loader, opt)
        sched.step({arg})
        torch.save({{"model": model.state_dict(), "opt": opt.state_dict(){extra}}}, "c.pt")
"""
)


@pytest.mark.parametrize(
    "resume, arg, extra, expected",
    [
        ("pass", "", "", [10]),
        ("opt.load_state_dict(ckpt['opt'])", "", "", [6, 10]),
        # saved, but the resume never loads it back: the optimizer's decayed lr is restored and
        # the StepLR starts over on it (BasicSR#327 shape)
        ("opt.load_state_dict(ckpt['opt'])", "", ", 'sched': sched.state_dict()", [6]),
        (
            "opt.load_state_dict(ckpt['opt']); sched.load_state_dict(ckpt['sched'])",
            "",
            ", 'sched': sched.state_dict()",
            [],
        ),
        ("pass", "", ", 'sched': sched.state_dict()", []),
        ("opt.load_state_dict(ckpt['opt'])", "epoch", "", []),  # positioned by the epoch
        ("[sched.step() for _ in range(ckpt['epoch'])]", "", "", []),  # fast-forward
        ("sched.last_epoch = ckpt['epoch']", "", "", []),
        ("register(sched)", "", "", []),
        ("pass", "", ", **extra_state", []),
    ],
)
def test_sl304_what_counts_as_saving_or_restoring(resume, arg, extra, expected):
    src = TRAIN.format(resume=resume, arg=arg, extra=extra)
    assert sorted(lines(src, "SL304")) == expected


def test_sl304_silent_when_the_scheduler_is_never_stepped_here():
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "sched = lrs.StepLR(opt, 30)\n"
        "torch.save({'opt': opt.state_dict()}, 'c.pt')\n"
    )
    assert lines(src, "SL304") == []


# -- SL305 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "milestones, expected",
    [
        ("[5, 10]", []),
        ("[10, 5]", [4]),
        ("[5, 5]", [4]),
        ("[5]", [4]),
        ("ms", []),
    ],
)
def test_sl305_milestones(milestones, expected):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        f"s = lrs.SequentialLR(opt, [lrs.LinearLR(opt), lrs.StepLR(opt, 3), "
        f"lrs.ExponentialLR(opt, 0.9)], {milestones})\n"
    )
    assert lines(src, "SL305") == expected


@pytest.mark.parametrize(
    "build, expected",
    [
        ("phases = [warm, cos]", [7]),
        ("phases = [warm]\nphases.append(cos)", [8]),
        ("phases = []\nphases += [warm, cos]", [8]),
        ("phases = [warm]\nif late:\n    phases.append(cos)", []),
        ("phases = [warm, cos]\nextend_phases(phases)", []),
        ("phases = make_phases(opt)", []),  # an unseen helper
        ("phases = [warm, cos] if late else [warm]", []),
    ],
)
def test_sl305_schedulers_list_bound_to_a_name(build, expected):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "warm = lrs.LinearLR(opt, 0.1, total_iters=5)\n"
        "cos = lrs.CosineAnnealingLR(opt, 95)\n"
        f"{build}\n"
        "s = lrs.SequentialLR(opt, schedulers=phases, milestones=[5, 50])\n"
    )
    assert lines(src, "SL305") == expected


def test_sl305_schedulers_list_built_in_a_branch_arm():
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "warm = lrs.LinearLR(opt, 0.1, total_iters=5)\n"
        "cos = lrs.CosineAnnealingLR(opt, 95)\n"
        "if __name__ == '__main__':\n"
        "    phases = [warm, cos]\n"
        "    s = lrs.SequentialLR(opt, phases, milestones=[5, 50])\n"  # the same arm: 8
        "elif late:\n"
        "    s = lrs.SequentialLR(opt, phases, milestones=[5, 50])\n"  # another arm
        "else:\n"
        "    phases.append(cos)\n"
        "s = lrs.SequentialLR(opt, phases, milestones=[5, 50])\n"  # after: either arm ran
    )
    assert lines(src, "SL305") == [8]


def test_sl305_schedulers_a_helper_returns():
    src = HEADER + (
        "def phases(opt, n):\n"
        "    return [lrs.LinearLR(opt, 0.1, total_iters=n), lrs.CosineAnnealingLR(opt, 95)]\n"
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "s = lrs.SequentialLR(opt, phases(opt, 5), milestones=MS)\n"
    )
    assert lines(src.replace("MS", "[5]"), "SL305") == []
    assert lines(src.replace("MS", "[5, 50]"), "SL305") == [6]


def test_sl305_explicit_optimizer_differs_from_children():
    src = HEADER + (
        "a = torch.optim.SGD(m1.parameters(), lr=0.1)\n"
        "b = torch.optim.SGD(m2.parameters(), lr=0.1)\n"
        "s = lrs.ChainedScheduler([lrs.StepLR(b, 3)], optimizer=a)\n"
    )
    assert lines(src, "SL305") == [5]


# -- SL306 ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "cls, expected",
    [
        ("lrs.LinearLR(opt, 0.1)", [5]),
        ("lrs.ConstantLR(opt, 0.5)", [5]),
        ("lrs.OneCycleLR(opt, 0.1, 100)", [5]),
        ("lrs.StepLR(opt, 3)", []),
        ("lrs.CosineAnnealingLR(opt, 10)", []),
        ("lrs.LinearLR(opt, 0.1, last_epoch=3)", []),
    ],
)
def test_sl306_only_classes_whose_constructor_rewrites_the_lr(cls, expected):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "opt.load_state_dict(ckpt['opt'])\n"
        f"s = {cls}\n"
        "s.load_state_dict(ckpt['sched'])\n"
    )
    assert lines(src, "SL306") == expected


# -- SL307 ------------------------------------------------------------------------------------
def test_sl307_needs_the_old_scheduler_stepped_after_the_rebind():
    src = (
        HEADER
        + """\
def run(model, n):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = lrs.StepLR(opt, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(n):
        opt.step()
        {after}
"""
    )
    assert lines(src.format(after="sched.step()"), "SL307") == [6]
    assert lines(src.format(after="pass"), "SL307") == []


def test_sl307_rebound_scheduler_variable_is_silent():
    src = (
        HEADER
        + """\
def run(model, n, make):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = lrs.StepLR(opt, 3)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = make(opt)
    for _ in range(n):
        opt.step()
        sched.step()
"""
    )
    assert lines(src, "SL307") == []


# -- helpers ----------------------------------------------------------------------------------
def test_uses_classifies_each_occurrence():
    module = cst.parse_module(
        textwrap.dedent("""\
        sched = make()
        sched.step()
        x.sched = 1
        save(sched)
        if sched is not None:
            sched.last_epoch = 3
        keep = [sched]
    """)
    )
    kinds = [u.kind for u in uses(module, "sched")]
    assert sorted(kinds) == sorted(["target", "method", "argument", "test", "attr_write", "other"])


def test_exclusive_branches():
    module = cst.parse_module("if a:\n    x = 1\nelse:\n    y = 2\nz = 3\n")
    if_node = module.body[0]
    x = if_node.body.body[0]
    y = if_node.orelse.body.body[0]
    z = module.body[1]
    assert exclusive(module, x, y)
    assert not exclusive(module, x, z)


# -- the torch behaviour the messages state ---------------------------------------------------
torch = pytest.importorskip("torch")
from torch.optim import lr_scheduler as S  # noqa: E402


def _opt(groups=1):
    params = [
        {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.1 * (i + 1)} for i in range(groups)
    ]
    return torch.optim.SGD(params, lr=0.1, momentum=0.9)


def test_torch_last_epoch_without_initial_lr_raises_keyerror():
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(), 3, last_epoch=0)


def test_torch_per_group_list_length_errors():
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas, but got 3"):
        S.LambdaLR(_opt(2), [lambda e: 1.0] * 3)
    with pytest.raises(ValueError, match="max_lr must have the same length"):
        S.OneCycleLR(_opt(2), max_lr=[0.1] * 3, total_steps=10)
    with pytest.raises(ValueError, match="expected 2 min_lrs, got 3"):
        S.ReduceLROnPlateau(_opt(2), min_lr=[0.0] * 3)


def test_torch_sequential_validation():
    opt, other = _opt(), _opt()
    with pytest.raises(ValueError, match="one more than the number of milestone"):
        S.SequentialLR(opt, [S.LinearLR(opt), S.StepLR(opt, 3)], milestones=[2, 4])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.LinearLR(opt), S.ReduceLROnPlateau(opt)], milestones=[2])
    with pytest.raises(ValueError, match="same optimizer"):
        S.ChainedScheduler([S.StepLR(opt, 3), S.StepLR(other, 3)])


def test_torch_group_added_after_lambda_scheduler_raises():
    opt = _opt()
    sched = S.LambdaLR(opt, lambda e: 1.0)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(1))]})
    opt.step()
    with pytest.raises(ValueError, match="zip"):
        sched.step()


def test_torch_linear_built_after_optimizer_load_diverges():
    import copy

    def run(order):
        opt = _opt()
        sched = S.LinearLR(opt, 0.5, total_iters=4)
        for _ in range(2):
            opt.step()
            sched.step()
        o_sd, s_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
        opt2 = _opt()
        if order == "scheduler first":
            sched2 = S.LinearLR(opt2, 0.5, total_iters=4)
            opt2.load_state_dict(o_sd)
        else:
            opt2.load_state_dict(o_sd)
            sched2 = S.LinearLR(opt2, 0.5, total_iters=4)
        sched2.load_state_dict(s_sd)
        lrs_seen = []
        for _ in range(6):
            opt2.step()
            sched2.step()
            lrs_seen.append(opt2.param_groups[0]["lr"])
        return lrs_seen

    good, bad = run("scheduler first"), run("optimizer first")
    assert good[-1] == pytest.approx(0.1)
    assert bad[-1] != pytest.approx(0.1)


def test_torch_writing_last_epoch_keeps_the_constructor_lr():
    # SL306 on `scheduler.last_epoch = N` after a LambdaLR built on a loaded optimizer: the
    # write (and a later scheduler.load_state_dict) keep initial_lr * lf(0); a step fixes it.
    import copy

    lf = lambda e: 0.9**e  # noqa: E731
    opt = _opt()
    sched = S.LambdaLR(opt, lf)
    for _ in range(5):
        opt.step()
        sched.step()
    o_sd, s_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict())
    opt2 = _opt()
    opt2.load_state_dict(o_sd)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * lf(5))
    sched2 = S.LambdaLR(opt2, lf)
    sched2.last_epoch = 4
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1)
    sched2.load_state_dict(s_sd)
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1)
    sched2.last_epoch = 4
    sched2.step()
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.1 * lf(5))


@pytest.mark.parametrize(
    "after, expected",
    [
        ("", [6]),
        ("s.load_state_dict(ckpt['sched'])", [6]),  # does not rewrite the lr either
        ("s.step()", []),  # recomputes the closed-form lr before training
    ],
)
def test_sl306_last_epoch_write_after_optimizer_load(after, expected):
    src = HEADER + (
        "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "opt.load_state_dict(ckpt['opt'])\n"
        "start_epoch = ckpt['epoch'] + 1\n"
        "s = lrs.LambdaLR(opt, lambda e: 0.9 ** e)\n"
        "s.last_epoch = start_epoch - 1\n"
        f"{after}\n"
        "for epoch in range(start_epoch, 100):\n"
        "    opt.step()\n"
        "    s.step()\n"
    )
    assert lines(src, "SL306") == expected


def test_sl304_class_scheduler_saved_from_outside_the_class_is_silent():
    src = (
        HEADER
        + """\
class Trainer:
    def __init__(self, model):
        self.optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        self.scheduler = lrs.StepLR(self.optimizer, 30)

    def epoch(self):
        self.optimizer.step()
        self.scheduler.step()
        torch.save({"optimizer": self.optimizer.state_dict()}, "opt.pt")
OUTSIDE
"""
    )
    outside = "def save(trainer):\n    torch.save(trainer.scheduler.state_dict(), 's.pt')\n"
    assert lines(src.replace("OUTSIDE", ""), "SL304") == [11]
    assert lines(src.replace("OUTSIDE", outside), "SL304") == []
