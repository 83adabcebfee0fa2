"""The README's rule table is generated from the rule metadata and must be current."""

from fixture_markers import ROOT

from schedlint.report.ruledocs import render_readme, rule_table
from schedlint.rules import all_rules


def test_readme_rule_table_is_generated_from_metadata():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_readme(text) == text, "README rule table is stale: run `python -m schedlint.report.ruledocs`"


def test_table_lists_every_rule():
    table = rule_table()
    for rule in all_rules():
        assert f"| {rule.code} | {rule.name} |" in table
