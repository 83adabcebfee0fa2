"""SL201-SL208: the pieces of logic the fixtures do not pin down on their own.

Branch reasoning (a hand-off is not a conflict), name resolution (a name that may hold a timm
scheduler is never taken for a torch one), size classification (epochs vs iterations) and the
fixes (applied with the real fix machinery, the result must parse and re-check clean).
"""

import textwrap

import libcst as cst
import pytest
from fixture_markers import FIXTURES

from schedlint.check.engine import check_source
from schedlint.check.fixes import apply_fixes, parses
from schedlint.model.builder import build_model
from schedlint.model.usage import Branches, Names, sized_in

CODES = frozenset(f"SL20{i}" for i in range(1, 9))


def _dedent(src):
    if src.startswith(HEADER):
        return HEADER + textwrap.dedent(src[len(HEADER) :])
    return textwrap.dedent(src)


def _model(src):
    src = _dedent(src)
    return build_model("t.py", src, cst.parse_module(src))


def _check(src, codes=CODES):
    src = _dedent(src)
    result = check_source("t.py", src.encode(), codes)
    return src, sorted((f.line, f.code) for f in result.findings), result.findings


HEADER = """\
import torch
from torch.optim import lr_scheduler as S
model = torch.nn.Linear(2, 2)
opt = torch.optim.SGD(model.parameters(), lr=0.1)
"""


def test_branches_if_else_and_early_exit_are_exclusive():
    m = _model(
        HEADER
        + """
    for it in range(10):
        if it < 5:
            a.step()
        elif it < 7:
            b.step()
        else:
            c.step()
        if it < 2:
            d.step()
            continue
        e.step()
        f.step()
    """
    )
    br = Branches()
    calls = {c.receiver: c for c in m.calls}
    p = {k: br.path(c) for k, c in calls.items()}
    assert Branches.exclusive(p["a"], p["b"]) and Branches.exclusive(p["b"], p["c"])
    assert Branches.exclusive(p["d"], p["e"])  # `continue` makes the rest an else branch
    assert not Branches.exclusive(p["e"], p["f"])
    assert not Branches.exclusive(p["a"], p["d"])


@pytest.mark.parametrize(
    "src,expected",
    [
        ("args.epochs", "epochs"),
        ("num_epochs - warmup_epochs", "epochs"),
        ("[int(0.5 * cfg.max_epoch), int(0.75 * cfg.max_epoch)]", "epochs"),
        ("epochs * len(train_loader)", "iterations"),
        ("args.max_steps", "iterations"),
        ("steps_per_epoch", "iterations"),
        ("100", None),
        ("cfg.decay", None),
        # a config's last key names the unit, as an attribute would
        ('cfg["epochs"]', "epochs"),
        ('cfg["train"]["epochs"]', "epochs"),
        ('config["lr_decay_epochs"]', "epochs"),
        ('cfg["train"]["total_steps"]', "iterations"),
        ('cfg["epochs"] * cfg["iters_per_epoch"]', "iterations"),
        ('cfg["epochs"]["warmup"]', None),
        ('cfg["T_0"]', None),
        ("cfg[key]", None),
    ],
)
def test_sized_in(src, expected):
    m = _model(f"x = f({src})\n")
    value = m.value(cst.parse_expression(src))
    assert sized_in([value]) == expected


def test_name_holding_a_factory_result_is_not_resolved():
    m = _model(
        HEADER
        + """
    sched = S.StepLR(opt, 3)
    if cond:
        sched = create_scheduler(args, opt)
    sched.step(1)
    """
    )
    call = next(c for c in m.calls if c.method == "step")
    assert call.target is not None  # the builder's best guess ...
    assert Names(m).schedulers(call) is None  # ... is not trusted by the SL2xx rules


def test_accelerate_prepare_keeps_the_scheduler():
    _, got, _ = _check(
        HEADER
        + """
    sched = S.StepLR(opt, 3)
    model, opt, sched = accelerator.prepare(model, opt, sched)
    print(sched.get_lr())
    """
    )
    assert got == [(8, "SL206")]


def test_conflict_needs_both_steps_under_the_same_conditions():
    base = (
        HEADER
        + """
    warm = S.LambdaLR(opt, lambda s: 1.0)
    main = S.StepLR(opt, 30)
    for epoch in range(10):
        opt.step()
        {a}
        {b}
    """
    )
    _, both, _ = _check(base.format(a="warm.step()", b="main.step()"))
    assert both == [(7, "SL202")]
    _, guarded, _ = _check(base.format(a="if warm is not None: warm.step()", b="main.step()"))
    assert guarded == [(7, "SL202")]  # a presence test is not a phase
    _, phased, _ = _check(base.format(a="if epoch < 3: warm.step()", b="main.step()"))
    assert phased == []


def _fixed(src, findings, unsafe=False):
    fixes = [f.fix for f in findings if f.fix and (unsafe or f.fix["applicability"] == "safe")]
    text, applied = apply_fixes(src, fixes)
    assert parses(text)
    return text, applied


def test_safe_fixes_apply_and_recheck_clean():
    src, got, findings = _check(
        HEADER
        + """
    sched = S.StepLR(opt, 3, verbose=True)
    for epoch in range(10):
        opt.step()
        print(sched.get_lr())
        sched.print_lr(True, 0, 0.1)
        sched.step(epoch + 1)
    """
    )
    assert got == [(6, "SL208"), (9, "SL206"), (10, "SL208"), (11, "SL204")]
    text, applied = _fixed(src, findings)
    assert len(applied) == 4
    assert "S.StepLR(opt, 3)\n" in text and "sched.step()\n" in text
    assert "get_last_lr()" in text and "print_lr" not in text
    again = check_source("t.py", text.encode(), CODES)
    assert again.findings == []
    assert _fixed(text, again.findings)[0] == text  # idempotent


@pytest.mark.parametrize(
    "loop,call,applicability",
    [
        ("for epoch in range(10):", "sched.step(epoch + 1)", "safe"),
        ("for epoch in range(0, 10):", "sched.step(epoch + 1)", "safe"),
        ("for epoch in range(10):", "sched.step(epoch)", "unsafe"),  # lags one epoch
        ("for epoch in range(3, 10):", "sched.step(epoch + 1)", None),  # resumed: not the same
        ("for epoch in range(10):", "if epoch > 2: sched.step(epoch + 1)", None),
        ("for epoch in range(10):", "sched.step(epoch * 2)", None),
    ],
)
def test_epoch_fix_applicability(loop, call, applicability):
    _, _, findings = _check(
        HEADER
        + f"""
    sched = S.StepLR(opt, 3)
    {loop}
        opt.step()
        {call}
    """
    )
    assert [f.code for f in findings] == ["SL204"]
    fix = findings[0].fix
    assert (fix and fix["applicability"]) == applicability


def test_dropping_the_counter_plus_one_keeps_the_schedule():
    torch = pytest.importorskip("torch")
    import warnings

    def lrs(arg):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = torch.optim.lr_scheduler.MultiStepLR(opt, [2, 4], 0.1)
        used = []
        for epoch in range(6):
            used.append(opt.param_groups[0]["lr"])
            opt.step()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sched.step(*arg(epoch))
        return used

    assert lrs(lambda e: (e + 1,)) == pytest.approx(lrs(lambda e: ()))
    assert lrs(lambda e: (e,)) != pytest.approx(lrs(lambda e: ()))  # why step(e) is unsafe


def test_reorder_fix_is_unsafe_and_moves_the_line():
    src, got, findings = _check(
        HEADER
        + """
    sched = S.StepLR(opt, 3)
    for x in loader:
        sched.step()
        model(x).sum().backward()
        opt.step()
    """
    )
    assert got == [(8, "SL203")]
    assert findings[0].fix["applicability"] == "unsafe"
    assert _fixed(src, findings)[1] == []  # never applied as a safe fix
    text, _ = _fixed(src, findings, unsafe=True)
    assert text.endswith("    opt.step()\n    sched.step()\n")
    assert check_source("t.py", text.encode(), CODES).findings == []


def test_sl207_names_a_factory_returned_scheduler_once():
    # ``return CosineAnnealingLR(...)`` binds no name: the message says "the
    # `CosineAnnealingLR`", not the class twice
    from pathlib import Path

    from schedlint.check.engine import check_paths
    from schedlint.check.options import Options

    case = Path(__file__).resolve().parents[2] / "fixtures/SL207/bad_factory_in_third_module"
    results = check_paths(
        [str(p) for p in sorted(case.glob("*.py"))], Options(codes=frozenset({"SL207"}), jobs=1)
    )
    (finding,) = [f for r in results for f in r.findings]
    assert finding.message.endswith("but the `CosineAnnealingLR` counts epochs")
    assert "line 7 of schedules.py" in finding.help


def test_a_comprehension_of_scheduler_steps_does_not_crash_sl203():
    # Found writing an SL304 fixture: SL203 read the comprehension's `body` (it has none).
    src = """
    import torch
    from torch.optim.lr_scheduler import MultiStepLR


    def main(model, ckpt, epochs):
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = MultiStepLR(optimizer, milestones=[100, 150], gamma=0.1)
        start_epoch = ckpt["epoch"] + 1
        [scheduler.step() for _ in range(start_epoch)]
        for epoch in range(start_epoch, epochs):
            optimizer.step()
            scheduler.step()
    """
    _, found, _ = _check(src, frozenset({"SL203", "SL003"}))
    assert found == []


def test_sl201_help_on_a_plateau_says_what_the_plateau_does():
    # found by a new-user trial: "the `ReduceLROnPlateau` is chainable (`ReduceLROnPlateau`):
    # ... compounds with the schedule", which names the class twice and is not what it does
    path = FIXTURES / "SL201" / "bad_warmup_helper_module" / "trainer.py"
    findings = check_source(str(path), None, frozenset({"SL201"})).findings
    assert [f.code for f in findings] == ["SL201"]
    help_text = findings[0].help
    assert "is chainable" not in help_text
    assert "cuts whatever lr it finds" in help_text and "compounds" not in help_text


START_GATE = """
import torch
from torch.optim.lr_scheduler import ExponentialLR


def train(cfg, gen, disc, loader, use_disc):
    opt_g = torch.optim.Adam(gen.parameters())
    opt_d = torch.optim.Adam(disc.parameters())
    sched_g = ExponentialLR(opt_g, gamma=0.99)
    sched_d = ExponentialLR(opt_d, gamma=0.99)
    start = cfg.disc_start
    total = 0
    for epoch in range(cfg.epochs):
        for x in loader:
            {reset}gen(x).sum().backward()
            opt_g.step()
            {before}if {test}:
                disc(x).sum().backward()
                opt_d.step()
            total += 1
        sched_g.step()
        {sched_d}sched_d.step()
"""


@pytest.mark.parametrize(
    "test, flagged",
    [
        ("total >= cfg.disc_start", True),
        ("cfg.disc_start <= total", True),
        ("cfg.disc_start < total", True),
        ("total > start", True),
        ("total >= cfg.disc_start and use_disc", True),
        ("not total < cfg.disc_start", True),
        ("epoch >= 2", True),  # counts the scheduler's own passes: a literal start will do
        ("epoch > 0", True),
        ("total >= 100", False),  # a step counter may pass 100 within the first epoch
        ("total == cfg.disc_start", False),
        ("total >= cfg.disc_start or use_disc", False),
        ("total % cfg.n_critic == 0", False),
        ("total >= cfg.disc_start - 1", False),  # a start that may be 0 or below
        ("epoch >= 0", False),
        ("use_disc", False),
    ],
)
def test_sl203_start_thresholds(test, flagged):
    src = START_GATE.format(test=test, reset="", before="", sched_d="")
    _, found, _ = _check(src, frozenset({"SL203"}))
    assert found == ([(22, "SL203")] if flagged else [])


@pytest.mark.parametrize(
    "reset, before, sched_d",
    [
        ("total = 0\n            ", "", ""),  # reset on every pass: counts within an epoch
        ("", "total += 1\n            ", ""),  # raised before the test: 1 on the first pass
        ("", "", "if total >= cfg.disc_start:\n            "),  # waits as its optimizer does
        ("", "", "if epoch > 0:\n            "),
    ],
)
def test_sl203_start_threshold_counters_and_conditions(reset, before, sched_d):
    src = START_GATE.format(test="total >= start", reset=reset, before=before, sched_d=sched_d)
    _, found, _ = _check(src, frozenset({"SL203"}))
    assert [code for _, code in found] == []


def test_a_start_threshold_check_on_module_level_code_does_not_crash():
    """The start-threshold check reads the bindings of a counter in the loop's function; at
    module level that is the module, whose body is a tuple of statements, not a block: an
    SL003 on this generated program (tests/reliability/test_generated.py found it)."""
    src = (
        "import torch\nif x:\n    pass\nelif x:\n"
        "    opt = torch.optim.SGD([{'params': model.m0.parameters(), 'lr': 0.1}, "
        "{'params': model.m1.parameters(), 'lr': 0.01}], momentum=0.9)\n"
        "    sched = torch.optim.lr_scheduler.SequentialLR(opt, [S.LinearLR(opt, "
        "start_factor=0.1), LambdaLR(opt, lambda e: 0.95 ** e)], milestones=[5])\n"
        "    for epoch in range(epochs):\n        opt.step()\n        sched.step()\n"
        "        for g in opt.param_groups:\n            g['lr'] = new_lr\n"
    )
    found = check_source("gen.py", src.encode(), CODES | {"SL003"}).findings
    assert [f.message for f in found if f.code == "SL003"] == []


SKIPPED_PASS = """\
import torch
from torch.optim.lr_scheduler import LambdaLR, StepLR
def probe(head, loader, cfg):
    opt = torch.optim.AdamW(head.parameters(), lr=cfg.lr)
    sched = LambdaLR(opt, lambda e: e / 5 if e < 5 else 1.0)
    other = StepLR(opt, step_size=10)
    for epoch in range(cfg.epochs):
        if epoch == 0:
            {skipped}.step()
            continue
        for x in loader:
            head(x).sum().backward()
            opt.step()
        {after}
"""


@pytest.mark.parametrize(
    "skipped, after, flagged",
    [
        ("sched", "sched.step()", False),  # the schedule moves on every pass: a skipped pass
        ("sched", "if cfg.use_scheduler: sched.step()", False),
        ("sched", "pass", True),  # it moves only when the update does not run
        ("other", "sched.step()", True),  # another scheduler moves in the update's stead
    ],
)
def test_sl203_scheduler_step_on_a_skipped_pass(skipped, after, flagged):
    src = SKIPPED_PASS.format(skipped=skipped, after=after)
    _, found, _ = _check(src, frozenset({"SL203"}))
    assert found == ([(9, "SL203")] if flagged else [])


FACTORY_OBJECT = """\
import torch
class Maker:
    def __init__(self, milestones):
        self.milestones = milestones
    {call}
def main(net, epochs):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    maker = Maker([3, 6])
    sched = maker(opt)
    for epoch in range(epochs):
        print(sched.get_lr())
        opt.step()
        sched.step()
"""


@pytest.mark.parametrize(
    "call, flagged",
    [
        (
            "def __call__(self, opt):\n"
            "        return torch.optim.lr_scheduler.MultiStepLR(opt, self.milestones)",
            True,
        ),
        ("def __call__(self, opt):\n        return {'lr': 0.1}", False),
        ("def build(self, opt):\n        return torch.optim.lr_scheduler.StepLR(opt, 3)", False),
    ],
)
def test_sl206_scheduler_built_by_a_called_factory_object(call, flagged):
    src = FACTORY_OBJECT.format(call=call)
    _, found, _ = _check(src, frozenset({"SL206"}))
    assert found == ([(12, "SL206")] if flagged else [])
