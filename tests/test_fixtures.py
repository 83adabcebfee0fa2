"""Every fixture's findings equal, exactly, the `# expect:` markers it carries.

Fixtures live in fixtures/<CODE>/ (bad_*.py files carry markers, good_*.py carry none) and
fixtures/project/ (project-level rules, checked together). A package case is a directory,
fixtures/<CODE>/bad_<case>/ or good_<case>/, of modules that import each other: each module is
checked alone (as pre-commit names one file: its in-tree imports are read, not reported on)
and the directory as a tree, and both must give exactly the markers. A missing finding and an
extra finding both fail.
"""

from pathlib import Path

import pytest
from fixture_markers import FIXTURES, expected_findings, fixture_files

from schedlint.check.engine import check_paths, check_source, run_project_rules
from schedlint.check.options import Options
from schedlint.rules import all_rules

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
PER_FILE = [p for p in fixture_files() if "project" not in p.relative_to(FIXTURES).parts]


def _case_dir(p: Path):
    """fixtures/<CODE>/<case>/ holding ``p`` (a package case may nest packages of its own,
    ``trainer/trainer.py``), else None."""
    parts = p.relative_to(FIXTURES).parts
    return FIXTURES.joinpath(*parts[:2]) if len(parts) > 2 else None


PACKAGES = sorted({_case_dir(p) for p in PER_FILE if _case_dir(p) is not None})


def _id(p: Path) -> str:
    return str(p.relative_to(FIXTURES))


def _case_name(p: Path) -> str:
    """bad_/good_ is the file's name, or its package case directory's."""
    case = _case_dir(p)
    return case.name if case is not None else p.name


@pytest.mark.parametrize("path", PER_FILE, ids=_id)
def test_fixture_findings_match_markers(path):
    result = check_source(str(path), None, ALL_CODES)
    project = run_project_rules([result], ALL_CODES)
    got = {(f.line, f.code) for f in result.findings + project}
    expected = expected_findings(path)
    assert got == expected, "\n".join(
        [f"missing: line {lineno} {c}" for lineno, c in sorted(expected - got)]
        + [
            f"unexpected: line {lineno} {c}: "
            + next(f.message for f in result.findings + project if (f.line, f.code) == (lineno, c))
            for lineno, c in sorted(got - expected)
        ]
    )


@pytest.mark.parametrize("case", PACKAGES, ids=_id)
def test_package_case_checked_as_a_tree(case):
    files = sorted(case.rglob("*.py"))
    results = check_paths([str(p) for p in files], Options(codes=ALL_CODES, jobs=1))
    findings = [f for r in results for f in r.findings] + run_project_rules(results, ALL_CODES)
    got = {(Path(f.path).name, f.line, f.code) for f in findings}
    expected = {(p.name, line, code) for p in files for line, code in expected_findings(p)}
    assert got == expected, (sorted(expected - got), sorted(got - expected))


def test_good_fixtures_have_no_markers_and_bad_ones_do():
    for path in PER_FILE:
        name = _case_name(path)
        if name.startswith("good_"):
            assert not expected_findings(path), f"{_id(path)} is named good_ but has markers"
    for case in {p for p in PER_FILE if _case_name(p).startswith("bad_")}:
        group = (
            [p for p in PER_FILE if _case_dir(p) == _case_dir(case)]
            if _case_dir(case) is not None
            else [case]
        )
        assert any(expected_findings(p) for p in group), f"{_id(case)}: bad_ but no markers"


def test_every_static_rule_has_bad_and_good_fixtures():
    for rule in all_rules():
        if rule.kind != "static":
            continue
        folder = FIXTURES / rule.code
        names = [_case_name(p) for p in folder.rglob("*.py")] if folder.is_dir() else []
        if rule.scope == "project":
            names += [p.name for p in (FIXTURES / "project").rglob("*.py")]
        assert any(n.startswith("bad_") for n in names), f"{rule.code}: no bad_ fixture"
        assert any(n.startswith("good_") for n in names), f"{rule.code}: no good_ fixture"
        markers = {c for p in fixture_files() for _, c in expected_findings(p)}
        assert rule.code in markers, f"{rule.code}: no fixture expects it"
