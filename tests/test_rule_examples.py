"""Every rule's documented examples run: its `## Example` is flagged by that rule and its
`## Use instead` is not. Each section's first ```python block must stand on its own (imports
and the optimizer it uses), so the documentation shows code that can be checked as written.
"""

import re

import pytest

from schedlint.check.engine import check_source, run_project_rules
from schedlint.rules import all_rules

_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
RULES = [r for r in all_rules() if r.kind == "static"]


def _code(rule, section):
    m = _BLOCK.search(rule.docs.get(section, ""))
    assert m, f"{rule.code}: no ```python block under ## {section}"
    return m.group(1)


def _codes(rule, source):
    codes = frozenset({rule.code, "SL001", "SL003"})
    result = check_source(f"{rule.code.lower()}_example.py", source.encode(), codes)
    return [f.code for f in result.findings + run_project_rules([result], codes)]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_example_is_flagged(rule):
    assert rule.code in _codes(rule, _code(rule, "Example")), (
        f"{rule.code}: its ## Example is not flagged"
    )


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.code)
def test_use_instead_is_silent(rule):
    assert _codes(rule, _code(rule, "Use instead")) == [], (
        f"{rule.code}: its ## Use instead is flagged"
    )
