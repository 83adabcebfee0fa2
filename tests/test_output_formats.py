"""text, json, sarif and github output (issue 2, "Command line"), on findings built here.

``assert_valid_json_findings`` and ``assert_valid_sarif`` are the structural checks the
console-script tests also apply to real output.
"""

import json
import random
import re

import pytest
from fixture_markers import ROOT

from schedlint.check.engine import sort_findings
from schedlint.cli import use_color
from schedlint.report.findings import Finding
from schedlint.report.formats import (
    format_findings,
    format_full,
    format_github,
    format_json,
    format_sarif,
    format_text,
    repository_url,
    rule_docs_base,
    sarif_document,
    statistics,
    summary,
)
from schedlint.rules import all_rules, by_code

JSON_KEYS = {
    "code",
    "name",
    "message",
    "help",
    "path",
    "line",
    "column",
    "end_line",
    "end_column",
    "severity",
    "fix",
}


def finding(
    path="a.py",
    line=3,
    column=5,
    code="SL101",
    message="one scalar lr",
    *,
    end_line=None,
    end_column=None,
    fix=None,
    help="",
):
    rule = by_code()[code]
    return Finding(
        path=path,
        line=line,
        column=column,
        code=code,
        message=message,
        end_line=end_line or line,
        end_column=end_column or column + 4,
        severity=rule.severity,
        name=rule.name,
        fix=fix,
        help=help,
    )


def assert_valid_json_findings(rows):
    """A JSON array of findings with exactly the documented keys, sorted as documented."""
    assert isinstance(rows, list)
    codes = by_code()
    for row in rows:
        assert isinstance(row, dict) and set(row) == JSON_KEYS, row
        assert row["code"] in codes and row["name"] == codes[row["code"]].name
        assert isinstance(row["message"], str) and row["message"]
        assert isinstance(row["help"], str)
        assert isinstance(row["path"], str) and row["path"]
        for key in ("line", "column", "end_line", "end_column"):
            assert isinstance(row[key], int) and row[key] >= 1, (key, row)
        assert (row["end_line"], row["end_column"]) >= (row["line"], row["column"])
        assert row["severity"] in ("error", "warning")
        assert row["severity"] == codes[row["code"]].severity
        fix = row["fix"]
        assert fix is None or (
            isinstance(fix, dict)
            and fix.get("applicability") in ("safe", "unsafe")
            and isinstance(fix.get("message"), str)
            and isinstance(fix.get("edits"), list)
        )
    keys = [(r["path"], r["line"], r["column"], r["code"]) for r in rows]
    assert keys == sorted(keys), "json findings not sorted by path, line, column, code"


def assert_valid_sarif(doc, findings_count=None):
    """The parts of SARIF 2.1.0 that GitHub code scanning requires, checked field by field."""
    assert isinstance(doc, dict)
    assert isinstance(doc.get("$schema"), str) and "sarif" in doc["$schema"]
    assert doc["version"] == "2.1.0"
    assert isinstance(doc["runs"], list) and len(doc["runs"]) == 1
    run = doc["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "schedlint"
    rules = driver["rules"]
    assert isinstance(rules, list) and rules
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)), "duplicate rule descriptors"
    for r in rules:
        for key in ("shortDescription", "fullDescription", "help"):
            assert isinstance(r[key]["text"], str) and r[key]["text"].strip(), (r["id"], key)
            assert len(r[key]["text"]) <= 1024 or key == "help"
        assert r["defaultConfiguration"]["level"] in ("error", "warning", "note")
    results = run["results"]
    assert isinstance(results, list)
    if findings_count is not None:
        assert len(results) == findings_count
    for res in results:
        assert res["ruleId"] in ids
        if "ruleIndex" in res:
            assert rules[res["ruleIndex"]]["id"] == res["ruleId"]
        assert res["level"] in ("error", "warning", "note")
        assert isinstance(res["message"]["text"], str) and res["message"]["text"]
        assert res["locations"], res
        for loc in res["locations"]:
            phys = loc["physicalLocation"]
            uri = phys["artifactLocation"]["uri"]
            assert isinstance(uri, str) and uri and "\\" not in uri
            region = phys["region"]
            assert isinstance(region["startLine"], int) and region["startLine"] >= 1
            for key in ("startColumn", "endLine", "endColumn"):
                if key in region:
                    assert isinstance(region[key], int) and region[key] >= 1
            if "endLine" in region:
                assert region["endLine"] >= region["startLine"]
    return run


def test_text_format():
    fs = [finding("a.py", 3, 5, message="first"), finding("b/c.py", 10, 1, "SL001", "bad")]
    assert format_text(fs) == "a.py:3:5: SL101 first\nb/c.py:10:1: SL001 bad\n"
    assert format_text([]) == ""


def test_text_marks_findings_with_a_safe_fix():
    safe = {"applicability": "safe", "message": "m", "edits": []}
    unsafe = {"applicability": "unsafe", "message": "m", "edits": []}
    assert format_text([finding(fix=safe)]) == "a.py:3:5: SL101 [*] one scalar lr\n"
    assert format_text([finding(fix=unsafe)]) == "a.py:3:5: SL101 one scalar lr\n"


def test_json_format_exact_keys_and_values():
    fix = {
        "applicability": "unsafe",
        "message": "scale",
        "edits": [{"line": 3, "column": 5, "end_line": 3, "end_column": 9, "content": "x"}],
    }
    fs = [finding("a.py", 3, 5, end_line=4, end_column=2, fix=fix), finding("a.py", 7, 1)]
    rows = json.loads(format_json(fs))
    assert_valid_json_findings(rows)
    assert rows[0] == {
        "code": "SL101",
        "name": "scalar-lr-overwrite",
        "message": "one scalar lr",
        "help": "",
        "path": "a.py",
        "line": 3,
        "column": 5,
        "end_line": 4,
        "end_column": 2,
        "severity": "error",
        "fix": fix,
    }
    assert rows[1]["fix"] is None
    assert json.loads(format_json([])) == []


HELP = 'scale each group instead, e.g. `g["lr"] = g["initial_lr"] * f`'


def test_text_puts_the_help_on_an_indented_line_under_the_finding():
    fs = [finding("a.py", 3, 5, help=HELP), finding("a.py", 7, 1)]
    assert format_text(fs) == (
        f"a.py:3:5: SL101 one scalar lr\n  help: {HELP}\na.py:7:1: SL101 one scalar lr\n"
    )


def test_json_carries_the_help():
    rows = json.loads(format_json([finding(help=HELP)]))
    assert_valid_json_findings(rows)
    assert rows[0]["message"] == "one scalar lr" and rows[0]["help"] == HELP


def test_sarif_message_markdown_carries_the_help():
    results = sarif_document([finding(help=HELP), finding(line=9)])["runs"][0]["results"]
    assert results[0]["message"] == {
        "text": "one scalar lr",
        "markdown": f"one scalar lr\n\n**help:** {HELP}",
    }
    assert results[1]["message"] == {"text": "one scalar lr"}


def test_github_annotation_body_carries_the_help():
    line = format_github([finding("src/a.py", 3, 5, end_column=12, help="drop it")])
    assert line == (
        "::error file=src/a.py,line=3,col=5,endLine=3,endColumn=12,"
        "title=SL101::SL101 one scalar lr%0Ahelp: drop it\n"
    )


def test_findings_sort_by_path_line_column_code():
    fs = [
        finding(p, lineno, c, code)
        for p in ("a.py", "b.py", "a/z.py")
        for lineno in (2, 10)
        for c in (1, 9)
        for code in ("SL101", "SL001", "SL003")
    ]
    shuffled = fs[:]
    random.Random(7).shuffle(shuffled)
    ordered = sort_findings(shuffled)
    keys = [(f.path, f.line, f.column, f.code) for f in ordered]
    assert keys == sorted(keys)
    assert keys[0] == ("a.py", 2, 1, "SL001") and keys[-1] == ("b.py", 10, 9, "SL101")
    assert [f.line for f in ordered[:6]] == [2] * 6  # numeric, not textual, line order


def test_github_annotations():
    fs = [finding("src/a.py", 3, 5, end_column=12)]
    assert format_github(fs) == (
        "::error file=src/a.py,line=3,col=5,endLine=3,endColumn=12,"
        "title=SL101::SL101 one scalar lr\n"
    )
    assert format_github([]) == ""


def test_github_annotations_escape_what_the_workflow_syntax_reserves():
    f = finding("dir,x/a:b.py", 1, 1, message="50% of lr\nsecond line")
    line = format_github([f])
    assert line.count("\n") == 1  # one annotation, one line
    assert "file=dir%2Cx/a%3Ab.py," in line
    assert line.endswith("::SL101 50%25 of lr%0Asecond line\n")


def test_warning_severity_maps_to_warning_level():
    warning_rules = [r for r in all_rules() if r.severity == "warning" and r.kind != "guard"]
    if not warning_rules:
        pytest.skip("no static rule has severity 'warning' yet")
    rule = warning_rules[0]
    f = Finding(
        path="a.py",
        line=1,
        column=1,
        code=rule.code,
        message="m",
        end_line=1,
        end_column=2,
        severity="warning",
        name=rule.name,
    )
    assert format_github([f]).startswith("::warning ")
    assert sarif_document([f])["runs"][0]["results"][0]["level"] == "warning"


def test_sarif_document(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fs = [
        finding("a.py", 3, 5),
        finding(str(tmp_path / "sub" / "b.py"), 1, 1, "SL001", "bad"),
        finding("/elsewhere/c.py", 2, 2),
    ]
    doc = json.loads(format_sarif(fs))
    run = assert_valid_sarif(doc, findings_count=3)
    uris = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]
    ]
    assert uris == ["a.py", "sub/b.py", "file:///elsewhere/c.py"]
    first = run["results"][0]
    assert first["ruleId"] == "SL101" and first["level"] == "error"
    assert first["message"]["text"] == "one scalar lr"
    assert first["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 3,
        "startColumn": 5,
        "endLine": 3,
        "endColumn": 9,
    }
    assert run["results"][1]["ruleId"] == "SL001"


def test_sarif_rules_are_the_catalogue():
    rules = sarif_document([])["runs"][0]["tool"]["driver"]["rules"]
    static = [r for r in all_rules() if r.kind != "guard"]
    assert [d["id"] for d in rules] == [r.code for r in static]
    for d, r in zip(rules, static):
        assert d["name"] == r.name
        assert d["shortDescription"]["text"] == r.summary[:1024]
        assert d["fullDescription"]["text"] == r.docs["What it does"][:1024]
        assert d["help"]["markdown"] == r.markdown()
        assert d["defaultConfiguration"]["level"] == r.severity


def test_sarif_fingerprints_are_stable_and_distinct():
    a, b = finding("a.py", 3, 5, message="x"), finding("b.py", 3, 5, message="x")
    first = sarif_document([a, b])["runs"][0]["results"]
    again = sarif_document([a, b])["runs"][0]["results"]
    prints = [r["partialFingerprints"] for r in first]
    assert prints == [r["partialFingerprints"] for r in again]
    assert prints[0] != prints[1]


def test_format_findings_dispatch():
    fs = [finding()]
    assert format_findings(fs, "text") == format_text(fs)
    assert format_findings(fs, "json") == format_json(fs)
    assert format_findings(fs, "github") == format_github(fs)
    assert json.loads(format_findings(fs, "sarif")) == json.loads(format_sarif(fs))


def test_statistics_marks_only_what_the_summary_counts_as_fixable():
    unsafe = {"applicability": "unsafe", "message": "m", "edits": []}
    fs = [finding("a.py", 1, fix=unsafe), finding("a.py", 2, code="SL203", fix=unsafe)]
    assert [r.split("\t")[2] for r in statistics(fs).splitlines()] == [
        "[ ] scalar-lr-overwrite",
        "[ ] scheduler-step-before-optimizer-step",
    ]
    assert summary(fs).splitlines()[1].startswith("No fixes available (2 hidden fixes")
    assert [r.split("\t")[2] for r in statistics(fs, unsafe_fixes=True).splitlines()] == [
        "[*] scalar-lr-overwrite",
        "[*] scheduler-step-before-optimizer-step",
    ]
    assert (
        summary(fs, unsafe_fixes=True).splitlines()[1] == "[*] 2 fixable with the `--fix` option."
    )


def test_statistics_and_summary():
    fs = [
        finding("a.py", 1),
        finding("a.py", 2),
        finding("b.py", 1, code="SL001"),
        finding("c.py", 4, fix={"applicability": "safe", "message": "m", "edits": []}),
    ]
    rows = [line.split("\t") for line in statistics(fs).splitlines()]
    assert [(r[0].strip(), r[1]) for r in rows] == [("1", "SL001"), ("3", "SL101")]
    assert rows[1][2] == "[*] scalar-lr-overwrite" and rows[0][2] == "[ ] syntax-error"
    assert statistics([]) == ""
    assert summary([]) == "All checks passed!"
    assert summary(fs[:1]).splitlines()[0] == "Found 1 problem in 1 file."
    assert summary(fs).splitlines()[0] == "Found 4 problems in 3 files."


# -- concise / full (issue 16) ----------------------------------------------------------------
SOURCE = "import torch\nfor g in opt.param_groups:\n\tg['lr'] = 0.5  # warm-up\n"


def _sources(path):
    return {"a.py": SOURCE}.get(path)


def test_full_shows_the_source_line_a_caret_under_the_span_and_the_help():
    f = finding("a.py", 3, 2, end_column=14, help="scale each group")
    assert format_full([f], source_of=_sources) == (
        "a.py:3:2: SL101 one scalar lr\n"
        "  |\n"
        "3 |  g['lr'] = 0.5  # warm-up\n"
        "  |  ^^^^^^^^^^^^\n"
        "  help: scale each group\n"
        "\n"
    )


def test_full_without_the_source_and_a_multi_line_span():
    f = finding("gone.py", 3, 5, help="h")
    assert format_full([f], source_of=_sources) == "gone.py:3:5: SL101 one scalar lr\n  help: h\n\n"
    g = finding("a.py", 2, 1, end_line=3, end_column=3)
    assert format_full([g], source_of=_sources).splitlines()[2:4] == [
        "2 | for g in opt.param_groups:",
        "  | ^^^^^^^^^^^^^^^^^^^^^^^^^^",
    ]


def test_full_colours_only_when_asked():
    f = finding("a.py", 3, 2, end_column=14, help="h")
    plain = format_full([f], source_of=_sources)
    coloured = format_full([f], source_of=_sources, color=True)
    assert "\x1b[" not in plain and "\x1b[1;31mSL101\x1b[0m" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_show_fixes_adds_the_fix_line():
    fix = {"applicability": "safe", "message": "Use `get_last_lr()`", "edits": []}
    f = finding(fix=fix, help="h")
    assert format_text([f], show_fixes=True) == (
        "a.py:3:5: SL101 [*] one scalar lr\n  help: h\n  fix: Use `get_last_lr()` (safe)\n"
    )
    assert "  fix: Use `get_last_lr()` (safe)\n" in format_full([f], show_fixes=True)
    assert "fix:" not in format_text([f])


def test_colour_needs_a_terminal_and_respects_no_color():
    assert use_color(True, False, {})
    assert not use_color(False, False, {})
    assert not use_color(True, True, {})
    assert not use_color(True, False, {"NO_COLOR": "1"})
    assert use_color(True, False, {"NO_COLOR": ""})  # the standard: only a non-empty value


class _Metadata:
    def __init__(self, urls):
        self.urls = urls

    def get_all(self, name):
        return self.urls if name == "Project-URL" else None


def test_sarif_help_uri_links_the_rule_page_in_the_repository():
    base = rule_docs_base(
        _Metadata(
            ["Homepage, https://example.org/x", "Repository, https://git.example.org/me/schedlint/"]
        )
    )
    assert base == "https://git.example.org/me/schedlint/blob/main/docs/rules/"
    rules = sarif_document([], docs_base=base)["runs"][0]["tool"]["driver"]["rules"]
    assert rules[0]["helpUri"] == f"{base}{rules[0]['id']}.md"
    for r in rules:  # every page it links exists in the repository
        assert (ROOT / "docs" / "rules" / f"{r['id']}.md").is_file()


def test_sarif_has_no_help_uri_without_a_repository_url():
    # Before issue 16 it pointed at a PyPI anchor that does not exist.
    assert rule_docs_base(_Metadata([])) is None
    driver = sarif_document([], docs_base="", home="")["runs"][0]["tool"]["driver"]
    assert all("helpUri" not in r for r in driver["rules"])
    # schedlint is not on PyPI: no informationUri rather than a page that does not exist.
    assert "informationUri" not in driver
    assert repository_url(_Metadata([])) is None


def test_sarif_information_uri_is_the_repository():
    meta = _Metadata(["Repository, https://git.example.org/me/schedlint"])
    home = repository_url(meta)
    assert home == "https://git.example.org/me/schedlint"
    driver = sarif_document([], docs_base="", home=home)["runs"][0]["tool"]["driver"]
    assert driver["informationUri"] == home
