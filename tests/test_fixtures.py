"""Every fixture's findings equal, exactly, the `# expect:` markers it carries.

Fixtures live in fixtures/<CODE>/ (bad_*.py files carry markers, good_*.py carry none) and
fixtures/project/ (project-level rules, checked together). A missing finding and an extra
finding both fail.
"""

from pathlib import Path

import pytest
from fixture_markers import FIXTURES, expected_findings, fixture_files

from schedlint.check.engine import check_source, run_project_rules
from schedlint.rules import all_rules

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
PER_FILE = [p for p in fixture_files() if "project" not in p.relative_to(FIXTURES).parts]


def _id(p: Path) -> str:
    return str(p.relative_to(FIXTURES))


@pytest.mark.parametrize("path", PER_FILE, ids=_id)
def test_fixture_findings_match_markers(path):
    result = check_source(str(path), None, ALL_CODES)
    project = run_project_rules([result], ALL_CODES)
    got = {(f.line, f.code) for f in result.findings + project}
    expected = expected_findings(path)
    assert got == expected, "\n".join(
        [f"missing: line {ln} {c}" for ln, c in sorted(expected - got)] +
        [f"unexpected: line {ln} {c}: " + next(f.message for f in result.findings + project
                                              if (f.line, f.code) == (ln, c))
         for ln, c in sorted(got - expected)])


def test_good_fixtures_have_no_markers_and_bad_ones_do():
    for path in PER_FILE:
        if path.name.startswith("good_"):
            assert not expected_findings(path), f"{_id(path)} is named good_ but has markers"
        elif path.name.startswith("bad_"):
            assert expected_findings(path), f"{_id(path)} is named bad_ but has no markers"


def test_every_static_rule_has_bad_and_good_fixtures():
    for rule in all_rules():
        if rule.kind != "static":
            continue
        folder = FIXTURES / rule.code
        names = [p.name for p in folder.glob("*.py")] if folder.is_dir() else []
        if rule.scope == "project":
            names += [p.name for p in (FIXTURES / "project").rglob("*.py")]
        assert any(n.startswith("bad_") for n in names), f"{rule.code}: no bad_ fixture"
        assert any(n.startswith("good_") for n in names), f"{rule.code}: no good_ fixture"
        markers = {c for p in fixture_files() for _, c in expected_findings(p)}
        assert rule.code in markers, f"{rule.code}: no fixture expects it"
