"""The README's rule table is generated from the rule metadata and must be current."""

from fixture_markers import ROOT

from schedlint.report.ruledocs import render_readme, rule_table
from schedlint.rules import all_rules


def test_readme_rule_table_is_generated_from_metadata():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert render_readme(text) == text, (
        "README rule table is stale: run `python -m schedlint.report.ruledocs`"
    )


def test_table_lists_every_rule():
    table = rule_table()
    for rule in all_rules():
        assert f"| {rule.code} | {rule.name} |" in table


def test_rule_pages_are_generated_from_metadata():
    """docs/rules/<CODE>.md, one page per rule (SARIF's helpUri links them), must be current."""
    from schedlint.report.ruledocs import RULE_PAGES, rule_pages

    folder = ROOT / RULE_PAGES
    on_disk = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.md")}
    assert on_disk == rule_pages(), "docs/rules is stale: run `python -m schedlint.report.ruledocs`"
    assert set(on_disk) == {f"{r.code}.md" for r in all_rules()}
