"""Fixes never make training worse: every runnable fix fixture is executed under torch before
and after its fixes, and the lr trajectories are compared.

A runnable fix fixture is ``fixtures/<CODE>/bad_fixable_*.py``. Its ``# fixes:`` line says
exactly which fixes it must be offered (``SL101 unsafe``) or that it must be offered none
(``none``: the issue's backbone-1e-5/head-1e-3 warm-up, where no reference lr can be
established). Run as a script it records ``BUILT`` (each group's lr as the optimizer was built)
and ``LRS`` (each group's lr at every optimizer step).

A safe fix gives the identical trajectory. An unsafe fix gives the trajectory its message
promises (``PROMISES``). SL208's fixtures raise on the pinned torch before the fix (that is the
finding), so there the promise is that the fixed script runs.
"""

import re
import warnings

import pytest
from fixture_markers import FIXTURES

from schedlint.check.engine import check_source
from schedlint.check.fixes import fix_file
from schedlint.rules import all_rules

torch = pytest.importorskip("torch")

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
RUNNABLE = sorted(FIXTURES.glob("*/bad_fixable_*.py"))
DECLARED = re.compile(r"^# fixes: (.+)$", re.M)
RAISES_BEFORE = {"SL208"}  # the original raises on torch 2.x: the finding itself


def _id(path):
    return str(path.relative_to(FIXTURES))


def declared(path) -> set:
    [text] = DECLARED.findall(path.read_text(encoding="utf-8"))
    if text.strip() == "none":
        return set()
    code, applicability = text.split()
    return {(code, applicability)}


def offered(path):
    return [f for f in check_source(str(path), None, ALL_CODES).findings if f.fix]


def run(source: str, path):
    ns = {"__name__": "__main__", "__file__": str(path)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's deprecation warnings for step(epoch) etc.
        exec(compile(source, str(path), "exec"), ns)
    assert ns["LRS"], "the fixture recorded no lr"
    return ns


def _reference(fix_message: str, ns) -> float:
    # The unsafe rescaling fixes name the lr they scale against: "(reference lr BASE_LR)".
    [text] = re.findall(r"\(reference lr (.+)\)$", fix_message)
    return eval(text, ns)  # an expression of the fixture's own source


def _rescaled(before, after, message):
    """Each group follows the scalar schedule, scaled by its own lr over the reference lr."""
    ref = _reference(message, after)
    for b, a in zip(before["LRS"], after["LRS"]):
        assert a == pytest.approx(
            [lr * built / ref for lr, built in zip(b, after["BUILT"])], rel=1e-12
        )
    assert len(before["LRS"]) == len(after["LRS"])


def _one_step_earlier(before, after, message):
    """ "Moved after the optimizer step": every update gets the lr one step earlier."""
    assert after["LRS"][1:] == before["LRS"][:-1]


def _one_epoch_earlier(before, after, message):
    """ "The schedule then runs one epoch earlier"."""
    assert after["LRS"][:-1] == before["LRS"][1:]


PROMISES = {
    ("SL101", "unsafe"): _rescaled,
    ("SL102", "unsafe"): _rescaled,
    ("SL203", "unsafe"): _one_step_earlier,
    ("SL204", "unsafe"): _one_epoch_earlier,
}


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_offered_fixes_are_exactly_the_declared_ones(path):
    assert {(f.code, f.fix["applicability"]) for f in offered(path)} == declared(path)


@pytest.mark.parametrize("path", [p for p in RUNNABLE if declared(p)], ids=_id)
def test_fixed_trajectory_is_the_promised_one(path):
    [(code, applicability)] = declared(path)
    source = path.read_text(encoding="utf-8")
    outcome = fix_file(str(path), None, ALL_CODES, unsafe=applicability == "unsafe")
    assert outcome.fixed_counts[code] == len(offered(path)) > 0
    fixed = outcome.fixed.decode()
    after = run(fixed, path)
    if code in RAISES_BEFORE:
        with pytest.raises((TypeError, AttributeError)):
            run(source, path)
        return
    before = run(source, path)
    if applicability == "safe":
        assert after["LRS"] == before["LRS"]  # exactly: a safe fix changes nothing trained
        return
    [message] = {f.fix["message"] for f in offered(path)}
    PROMISES[(code, applicability)](before, after, message)


def test_every_fix_a_rule_can_offer_has_a_runnable_fixture():
    covered = {pair for p in RUNNABLE for pair in declared(p)}
    for rule in all_rules():
        if rule.kind != "static" or rule.fixable == "none":
            continue
        kinds = {a for c, a in covered if c == rule.code}
        assert kinds, f"{rule.code} offers fixes but has no runnable fix fixture"
        if rule.fixable in ("safe", "unsafe"):
            assert kinds == {rule.fixable}
    for code, applicability in covered:
        assert applicability == "safe" or (code, applicability) in PROMISES, (
            f"no promise is checked for {code}'s {applicability} fix"
        )
