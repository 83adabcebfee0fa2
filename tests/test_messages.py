"""Messages follow ruff: one short sentence saying what is wrong; the advice is the help.

Every finding of every fixture is checked, so a new rule or a new message is held to it too.
"""

import textwrap

import pytest

from fixture_markers import FIXTURES, fixture_files
from schedlint.check.engine import check_source, run_project_rules
from schedlint.rules import all_rules
from schedlint.rules.base import clip, some

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
STATIC = frozenset(r.code for r in all_rules() if r.kind == "static")
LIMIT = 120


def _fixture_findings():
    results = [check_source(str(p), None, ALL_CODES) for p in fixture_files()]
    return [f for r in results for f in r.findings] + run_project_rules(results, ALL_CODES)


FINDINGS = _fixture_findings()


@pytest.mark.parametrize("f", FINDINGS, ids=lambda f: f"{f.code}-{f.path.split('/')[-1]}:{f.line}")
def test_message_is_one_short_sentence_and_the_advice_is_the_help(f):
    assert f.path.startswith(str(FIXTURES))
    assert "\n" not in f.message and len(f.message) <= LIMIT, (len(f.message), f.message)
    # What to do lives in the help, not after a semicolon in the message.
    assert ";" not in f.message, f.message
    if f.code in STATIC:
        assert f.help and "\n" not in f.help, f


def test_every_static_rule_is_covered():
    assert {f.code for f in FINDINGS} >= STATIC


def test_a_thousand_groups_give_a_short_message():
    # On main before this test, 10,000 groups gave an 89 KB message.
    groups = ",\n".join(f'    {{"params": p{i}, "lr": {i + 1}e-6}}' for i in range(1000))
    src = (f"import torch\noptimizer = torch.optim.SGD([\n{groups}\n], lr=1e-3)\n"
           "for g in optimizer.param_groups:\n    g['lr'] = 1e-3\n")
    result = check_source("many.py", src.encode(), frozenset({"SL101"}))
    [f] = result.findings
    assert f.message == ("one scalar lr `1e-3` overwrites all groups of `optimizer` "
                         "(built with lr 1e-6, 2e-6, 3e-6 and 997 more)")
    assert len(f.help) <= 200


def test_long_source_text_is_clipped():
    src = textwrap.dedent("""\
        import torch
        optimizer = torch.optim.SGD([{"params": a, "lr": 1e-4}, {"params": b}], lr=1e-3)
        for g in optimizer.param_groups:
            g["lr"] = some_configuration_object.learning_rate_schedule_value * warmup_factor
        """)
    [f] = check_source("long.py", src.encode(), frozenset({"SL101"})).findings
    assert f.message == ("one scalar lr `some_configuration_obje...` overwrites all "
                         "groups of `optimizer` (built with lr 1e-4 and 1e-3)")


def test_a_long_message_names_the_count_of_lrs_instead():
    groups = ", ".join(f'{{"params": p{i}, "lr": config.backbone_lr_{i} * 0.5}}' for i in range(5))
    src = (f"import torch\nthe_training_optimizer = torch.optim.SGD([{groups}], lr=1e-3)\n"
           "for g in the_training_optimizer.param_groups:\n"
           "    g['lr'] = warmup_schedule_value(step) * config.base_lr\n")
    [f] = check_source("long.py", src.encode(), frozenset({"SL101"})).findings
    assert f.message == ("one scalar lr `warmup_schedule_value(s...` overwrites all groups of "
                         "`the_training_opti...` (built with 5 distinct lrs)")


def test_some_and_clip():
    assert some([]) == "" and some(["a"]) == "a" and some(["a", "b"]) == "a and b"
    assert some(["a", "b", "c"]) == "a, b and c"
    assert some(["a", "b", "c", "d", "e"]) == "a, b, c and 2 more"
    assert clip("x  +\n   y") == "x + y"
    assert clip("a" * 50, 10) == "aaaaaaa..."
