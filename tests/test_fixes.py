"""Autofixes: the machinery (schedlint.check.fixes), every rule's fixes over every fixture, the CLI.

Over every fixture, with safe and unsafe fixes applied: the result parses, fixing the result
again changes nothing, and every line and comment a fix did not touch survives. Through the
CLI: ``--diff`` never writes and exits 1 only when there is a diff, ``--fix`` writes and
re-checks, unsafe fixes need ``--unsafe-fixes``.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
import tokenize
from collections import Counter
from pathlib import Path

import pytest
from fixture_markers import FIXTURES, fixture_files

from schedlint.check.engine import check_paths, check_source
from schedlint.check.fixes import (
    EditError,
    applicable,
    apply_fixes,
    edit_spans,
    fix_file,
    line_starts,
    parses,
    unified_diff,
)
from schedlint.check.options import Options
from schedlint.report.findings import Finding
from schedlint.rules import all_rules, by_code

ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
FIXTURES_PY = fixture_files()


def _id(p: Path) -> str:
    return str(p.relative_to(FIXTURES))


def _comments(text: str, skip_lines=frozenset()) -> Counter:
    out = Counter()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT and tok.start[0] not in skip_lines:
            out[tok.string] += 1
    return out


def _touched_lines(findings, unsafe=True) -> set:
    """Lines a round of fixes may rewrite: the findings' own lines and their edits' lines."""
    lines = set()
    for f in findings:
        if applicable(f.fix, unsafe):
            lines |= set(range(f.line, f.end_line + 1))
            for e in f.fix["edits"]:
                lines |= set(range(e["line"], e["end_line"] + 1))
    return lines


def _is_subsequence(needles, haystack) -> bool:
    it = iter(haystack)
    return all(any(n == h for h in it) for n in needles)


# -- every fixture
@pytest.mark.parametrize("path", FIXTURES_PY, ids=_id)
def test_fixing_a_fixture_parses_is_idempotent_and_keeps_the_rest(path, tmp_path):
    copy = tmp_path / path.name
    shutil.copyfile(path, copy)
    outcome = fix_file(str(copy), None, ALL_CODES, unsafe=True)
    fixed = outcome.fixed.decode("utf-8")
    assert outcome.converged, "fixes kept changing the file"
    assert outcome.rejected == 0, "a fix produced a file that does not parse"
    if not outcome.changed:
        assert outcome.fixed_total == 0
        assert not any(applicable(f.fix, True) for f in outcome.result.findings)
        return
    assert parses(fixed)
    # Fixing the fixed text again changes nothing.
    again = fix_file(str(copy), outcome.fixed, ALL_CODES, unsafe=True)
    assert not again.changed, unified_diff(str(copy), outcome.fixed, again.fixed)
    assert again.fixed_total == 0
    # The fix removed what it fixed: no applicable fix is left in the result.
    assert not any(applicable(f.fix, True) for f in outcome.result.findings)


@pytest.mark.parametrize("path", FIXTURES_PY, ids=_id)
def test_one_round_of_fixes_leaves_untouched_lines_and_comments_alone(path):
    original = path.read_text(encoding="utf-8")
    findings = check_source(str(path), None, ALL_CODES).findings
    fixes = [f.fix for f in findings if applicable(f.fix, True)]
    fixed, applied = apply_fixes(original, fixes)
    if not applied:
        assert fixed == original
        return
    touched = _touched_lines([f for f in findings if f.fix in applied])
    old_lines = original.splitlines()
    kept = [text for i, text in enumerate(old_lines, 1) if i not in touched]
    assert _is_subsequence(kept, fixed.splitlines()), "a line no fix touches changed"
    missing = _comments(original, touched) - _comments(fixed)
    assert not missing, f"comments lost: {sorted(missing)}"
    # On the lines a fix touches, a comment may only go with all the code of its line (a
    # deleted statement takes its trailing comment along); a rewrite keeps it.
    spans = [s for fix in applied for s in edit_spans(original, fix["edits"])]
    starts = line_starts(original)
    required = Counter()
    for tok in tokenize.generate_tokens(io.StringIO(original).readline):
        if tok.type != tokenize.COMMENT or tok.start[0] not in touched:
            continue
        line_start = starts[tok.start[0] - 1]
        code_start = line_start + len(tok.line) - len(tok.line.lstrip())
        comment_at = line_start + tok.start[1]
        deleted = any(
            a <= code_start and b > comment_at and not content.strip() for a, b, content in spans
        )
        if not deleted:
            required[tok.string] += 1
    lost = required - (_comments(fixed) - _comments(original, touched))
    assert not lost, f"a fix dropped comments of lines it rewrites: {sorted(lost)}"


def test_fixtures_exercise_every_declared_fix():
    """A rule that declares a fix has it applied on some fixture, with the declared
    applicability; a rule that declares none never offers one."""
    offered = {}
    # One engine run over every fixture: a pool, rather than the files one by one.
    for result in check_paths([str(p) for p in FIXTURES_PY], Options(codes=ALL_CODES)):
        for f in result.findings:
            if f.fix:
                offered.setdefault(f.code, set()).add(f.fix["applicability"])
    for rule in all_rules():
        if rule.kind != "static":
            continue
        got = offered.get(rule.code, set())
        if rule.fixable == "none":
            assert not got, f"{rule.code} offers a fix but declares fixable='none'"
        elif rule.fixable in ("safe", "unsafe"):
            assert got == {rule.fixable}, (
                f"{rule.code} declares a {rule.fixable} fix; fixtures show {sorted(got) or 'none'}"
            )
        else:
            assert got, f"{rule.code} declares a fix sometimes; no fixture shows one"
        if rule.fixable != "none":
            assert rule.docs.get("Fix"), f"{rule.code} has a fix but no '## Fix' section"


# -- the edit machinery
def _fix(edits, applicability="safe"):
    return {
        "applicability": applicability,
        "message": "m",
        "edits": [
            dict(zip(("line", "column", "end_line", "end_column", "content"), e)) for e in edits
        ],
    }


def test_apply_fixes_replaces_ranges_and_keeps_everything_else():
    text = "a = 1  # one\nb = get_lr()  # two\n"
    new, applied = apply_fixes(text, [_fix([(2, 9, 2, 11, "last_lr")])])
    assert new == "a = 1  # one\nb = get_last_lr()  # two\n"
    assert len(applied) == 1


def test_overlapping_fixes_apply_first_only_and_multi_edit_fixes_are_atomic():
    text = "x = 1\ny = 2\n"
    first = _fix([(1, 5, 1, 6, "10")])
    overlapping = _fix([(1, 1, 1, 6, "x = 3"), (2, 5, 2, 6, "20")])
    other = _fix([(2, 1, 2, 2, "z")])
    new, applied = apply_fixes(text, [overlapping, first, other])
    # `overlapping` starts first, so it wins; `first` overlaps it and waits for a later round;
    # `other` does not overlap any edit of `overlapping` and applies.
    assert applied == [overlapping, other]
    assert new == "x = 3\nz = 20\n"


def test_insertions_at_one_point_do_not_both_apply():
    text = "x = 1\n"
    a, b = _fix([(1, 1, 1, 1, "# a\n")]), _fix([(1, 1, 1, 1, "# b\n")])
    new, applied = apply_fixes(text, [a, b])
    assert applied == [a] and new == "# a\nx = 1\n"


def test_edits_out_of_range_are_refused():
    with pytest.raises(EditError):
        edit_spans("x = 1\n", [(1, 8, 1, 9, "")])
    with pytest.raises(EditError):
        edit_spans("x = 1\n", [(3, 1, 3, 1, "")])
    with pytest.raises(EditError):
        edit_spans("x = 1\n", [(1, 3, 1, 2, "")])
    new, applied = apply_fixes("x = 1\n", [_fix([(9, 1, 9, 2, "y")])])
    assert (new, applied) == ("x = 1\n", [])


def test_positions_count_characters_and_crlf_is_kept():
    text = "s = 'é'\r\nt = get_lr()\r\n"
    new, _ = apply_fixes(text, [_fix([(2, 5, 2, 11, "a(\nb)")]), _fix([(1, 5, 1, 8, "'e'")])])
    assert new == "s = 'e'\r\nt = a(\r\nb)()\r\n"


def test_a_fix_whose_result_does_not_parse_is_never_applied(tmp_path):
    """fix_file verifies the result; a broken fix is dropped, a good one still applies."""
    src = b"x = 1\ny = 2\n"
    broken = _fix([(1, 5, 1, 6, "(")])
    good = _fix([(2, 5, 2, 6, "3")])

    def check(path, data):
        from schedlint.check.engine import FileResult

        text = data.decode()
        findings = []
        if "x = 1" in text:
            findings.append(Finding(path, 1, 1, "SL101", "m", 1, 2, fix=broken))
        if "y = 2" in text:
            findings.append(Finding(path, 2, 1, "SL101", "m", 2, 2, fix=good))
        return FileResult(path=path, findings=findings)

    outcome = fix_file("f.py", src, ALL_CODES, check=check)
    assert outcome.fixed == b"x = 1\ny = 3\n"
    assert outcome.rejected == 1 and outcome.fixed_total == 1


def test_fixes_that_undo_each_other_stop():
    def check(path, data):
        from schedlint.check.engine import FileResult

        a, b = (b"x = 2\n", b"x = 1\n") if data == b"x = 1\n" else (b"x = 1\n", b"x = 2\n")
        return FileResult(
            path=path,
            findings=[
                Finding(path, 1, 1, "SL101", "m", 1, 2, fix=_fix([(1, 5, 1, 6, a.decode()[4])]))
            ],
        )

    outcome = fix_file("f.py", b"x = 1\n", ALL_CODES, check=check)
    assert not outcome.converged


# Every SL101 in it has an unsafe fix (its scalars are computed from the optimizer's default).
FIXABLE_SL101 = FIXTURES / "SL101" / "bad_fixable_warmup_from_base_lr.py"


def test_unsafe_fixes_apply_only_when_asked(tmp_path):
    path = tmp_path / "t.py"
    shutil.copyfile(FIXABLE_SL101, path)
    safe_only = fix_file(str(path), None, ALL_CODES, unsafe=False)
    findings = safe_only.result.findings
    assert any(f.code == "SL101" and f.fix and f.fix["applicability"] == "unsafe" for f in findings)
    assert safe_only.fixed_counts["SL101"] == 0
    assert b"setdefault" not in safe_only.fixed
    both = fix_file(str(path), None, ALL_CODES, unsafe=True)
    assert both.fixed_counts["SL101"] == sum(
        1 for f in check_source(str(path), None, ALL_CODES).findings if f.code == "SL101"
    )


# -- SL101's rewrite ------------------------------------------------------------------------------
def test_sl101_fix_keeps_the_group_ratio_at_runtime(tmp_path):
    """Run the fixed code: every group gets the scalar scaled by its own base lr, with and
    without a scheduler built first."""
    torch = pytest.importorskip("torch")
    src = (
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "optimizer = torch.optim.SGD([{'params': [model.weight]},\n"
        "                             {'params': [model.bias], 'lr': 0.01}], lr=0.1,\n"
        "                            momentum=0.9)\n"
        "if WITH_SCHEDULER:\n"
        "    sched = torch.optim.lr_scheduler.StepLR(optimizer, 10)\n"
        "def warmup(factor):\n"
        "    for g in optimizer.param_groups:\n"
        "        g['lr'] = 0.1 * factor\n"
        "warmup(0.5)\n"
        "warmup(0.2)\n"
    )
    path = tmp_path / "w.py"
    path.write_text(src)
    outcome = fix_file(str(path), None, ALL_CODES, unsafe=True)
    assert outcome.fixed_counts["SL101"] == 1
    fixed = outcome.fixed.decode()
    assert "g['lr'] = g.setdefault('initial_lr', g['lr']) * ((0.1 * factor) / 0.1)" in fixed
    for with_scheduler in (False, True):
        ns = {"WITH_SCHEDULER": with_scheduler}
        exec(compile(fixed, str(path), "exec"), ns)
        lrs = [g["lr"] for g in ns["optimizer"].param_groups]
        assert lrs == pytest.approx([0.02, 0.002])
    assert torch is not None


def test_sl102_fix_gives_each_group_its_own_bound_at_runtime(tmp_path):
    torch = pytest.importorskip("torch")
    src = (
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "opt = torch.optim.SGD([{'params': [model.weight], 'lr': 1e-4},\n"
        "                       {'params': [model.bias]}], lr=1e-3, momentum=0.9)\n"
        "sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3 * 10, total_steps=100)\n"
    )
    path = tmp_path / "o.py"
    path.write_text(src)
    outcome = fix_file(str(path), None, ALL_CODES, unsafe=True)
    assert outcome.fixed_counts["SL102"] == 1
    ns = {}
    exec(compile(outcome.fixed.decode(), str(path), "exec"), ns)
    peaks = [g["max_lr"] for g in ns["opt"].param_groups]
    assert peaks == pytest.approx([1e-3, 1e-2])  # the 1:10 ratio of the groups is kept
    assert torch is not None


def test_sl101_and_sl102_offer_no_fix_without_an_lr_default_the_scalar_comes_from(tmp_path):
    """The issue's case: dividing by the first group's literal trained the head at 100x."""
    path = tmp_path / "n.py"
    path.write_text(
        "import torch\n"
        "opt = torch.optim.AdamW([{'params': a, 'lr': 1e-5}, {'params': b, 'lr': 1e-3}])\n"
        "for g in opt.param_groups:\n"
        "    g['lr'] = 1e-3 * warm\n"
        "s = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-2, total_steps=9)\n"
        "opt2 = torch.optim.SGD([{'params': a, 'lr': 1e-5}, {'params': b}], lr=1e-3)\n"
        "for g in opt2.param_groups:\n"
        "    g['lr'] = 0.5\n"  # a constant not computed from the default: meant for which?
        "s2 = torch.optim.lr_scheduler.OneCycleLR(opt2, 1e-2, total_steps=9)\n"
    )
    findings = sorted(
        (f.line, f.code, f.fix)
        for f in check_source(str(path), None, ALL_CODES).findings
        if f.code in ("SL101", "SL102")
    )
    assert findings == [
        (4, "SL101", None),
        (5, "SL102", None),
        (8, "SL101", None),
        (9, "SL102", None),
    ]


def test_sl101_offers_no_fix_without_a_literal_reference_lr(tmp_path):
    path = tmp_path / "n.py"
    path.write_text(
        "import torch\n"
        "opt = torch.optim.SGD([{'params': a, 'lr': base}, {'params': b, 'lr': base / 10}])\n"
        "for g in opt.param_groups:\n"
        "    g['lr'] = 1e-3\n"
    )
    findings = [f for f in check_source(str(path), None, ALL_CODES).findings if f.code == "SL101"]
    assert len(findings) == 1 and findings[0].fix is None


def test_sl101_docs_describe_the_fix():
    rule = by_code()["SL101"]
    assert rule.fixable == "unsafe"
    assert "setdefault" in rule.docs["Fix"] and "unsafe" in rule.docs["Fix"].lower()


# -- through the command line
def _bad_copy(tmp_path) -> Path:
    path = tmp_path / "bad.py"
    shutil.copyfile(FIXABLE_SL101, path)
    return path


def test_diff_without_unsafe_fixes_shows_nothing_and_exits_0(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    before = path.read_bytes()
    r = run_cli("--isolated", "--no-cache", "--diff", str(path))
    assert r.exit_code == 0, r.output
    assert "---" not in r.stdout
    assert path.read_bytes() == before


def test_diff_prints_a_unified_diff_exits_1_and_writes_nothing(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    before = path.read_bytes()
    r = run_cli("--isolated", "--no-cache", "--diff", "--unsafe-fixes", str(path))
    assert r.exit_code == 1, r.output
    assert r.stdout.startswith(f"--- {path}\n+++ {path}\n@@ ")
    assert path.read_bytes() == before
    removed = [
        text[1:]
        for text in r.stdout.splitlines()
        if text.startswith("-") and not text.startswith("---")
    ]
    added = [
        text[1:]
        for text in r.stdout.splitlines()
        if text.startswith("+") and not text.startswith("+++")
    ]
    assert removed and len(removed) == len(added)
    assert all('setdefault("initial_lr"' in text for text in added)
    # Applying the diff's result is exactly what --fix writes.
    r2 = run_cli("--isolated", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    after = path.read_text().splitlines()
    assert all(text in after for text in added) and not any(text in after for text in removed)
    assert r2.exit_code == 0, r2.output


def test_diff_on_a_clean_file_exits_0(run_cli, tmp_path):
    path = tmp_path / "good.py"
    shutil.copyfile(FIXTURES / "SL101" / "good_group_dependent.py", path)
    r = run_cli("--isolated", "--no-cache", "--diff", "--unsafe-fixes", str(path))
    assert r.exit_code == 0 and r.stdout == ""


def test_fix_writes_rechecks_and_reports_what_remains(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    n = sum(1 for f in check_source(str(path), None, ALL_CODES).findings if f.code == "SL101")
    r = run_cli("--isolated", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert r.exit_code == 0, r.output
    assert r.stdout == ""
    assert f"Found {n} problems ({n} fixed, 0 remaining)." in r.stderr
    assert parses(path.read_text())
    again = run_cli("--isolated", "--no-cache", str(path))
    assert again.exit_code == 0, again.output


def test_fix_without_unsafe_fixes_never_applies_unsafe_ones(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    before = path.read_bytes()
    r = run_cli("--isolated", "--no-cache", "--fix", str(path))
    assert path.read_bytes() == before
    assert r.exit_code == 1
    assert "SL101" in r.stdout and "[*]" not in r.stdout
    assert "hidden fix" in r.stderr and "--unsafe-fixes" in r.stderr


def test_fix_keeps_remaining_findings_and_exit_1(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    text = path.read_text()
    # A second optimizer whose lrs are not literals: SL101 is found, no fix is offered.
    text += (
        "opt2 = optim.SGD([{'params': model.weight, 'lr': base},\n"
        "                  {'params': model.bias, 'lr': base / 10}])\n"
        "for g in opt2.param_groups:\n"
        "    g['lr'] = 1e-3\n"
    )
    path.write_text(text)
    r = run_cli("--isolated", "--no-cache", "--fix", "--unsafe-fixes", str(path))
    assert r.exit_code == 1
    remaining = [text for text in r.stdout.splitlines() if " SL101 " in text]
    assert len(remaining) == 1 and remaining[0].startswith(f"{path}:{len(text.splitlines())}:")
    assert "1 remaining)." in r.stderr


def test_text_marks_fixable_findings_and_summary_counts_them(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    n = sum(1 for f in check_source(str(path), None, ALL_CODES).findings if f.code == "SL101")
    plain = run_cli("--isolated", "--no-cache", "--select", "SL101", str(path))
    assert "[*]" not in plain.stdout
    assert f"No fixes available ({n} hidden fixes can be enabled" in plain.stderr
    shown = run_cli("--isolated", "--no-cache", "--select", "SL101", "--unsafe-fixes", str(path))
    lines = [text for text in shown.stdout.splitlines() if not text.startswith("  help: ")]
    assert len(lines) == n and all(" SL101 [*] " in text for text in lines)
    assert f"[*] {n} fixable with the `--fix` option." in shown.stderr


def test_json_carries_the_edits(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    r = run_cli("--isolated", "--no-cache", "--output-format", "json", str(path))
    rows = json.loads(r.stdout)
    fixed = [row for row in rows if row["fix"]]
    assert fixed
    text = path.read_text()
    for row in fixed:
        assert set(row) == {
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
        assert row["fix"]["applicability"] in ("safe", "unsafe")
        assert row["fix"]["message"]
        # Applying one finding's edits to the file gives a file that parses.
        new, applied = apply_fixes(text, [row["fix"]])
        assert applied and new != text and parses(new)


def test_fix_respects_noqa_and_per_file_ignores(run_cli, tmp_path):
    path = _bad_copy(tmp_path)
    text = path.read_text().replace("# expect: SL101", "# noqa: SL101", 1)
    path.write_text(text)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.schedlint]\nper-file-ignores = {"other.py" = ["SL101"]}\n'
    )
    other = tmp_path / "other.py"
    shutil.copyfile(FIXABLE_SL101, other)
    before_other = other.read_bytes()
    r = run_cli("--no-cache", "--fix", "--unsafe-fixes", str(path), str(other))
    assert other.read_bytes() == before_other
    fixed = path.read_text()
    noqa_line = next(text for text in fixed.splitlines() if "# noqa: SL101" in text)
    assert "setdefault" not in noqa_line
    assert fixed.count("setdefault") == text.count("# expect: SL101")
    assert r.exit_code == 0, r.output


def test_stdin_fix_prints_the_fixed_source(run_cli):
    src = (FIXABLE_SL101).read_text()
    r = run_cli("--isolated", "--fix", "--unsafe-fixes", "-", "--stdin-filename", "x.py", input=src)
    assert r.exit_code == 0, r.output
    assert r.stdout != src and "setdefault" in r.stdout and parses(r.stdout)


def test_console_script_diff_exit_codes(tmp_path):
    exe = Path(sys.executable).with_name("schedlint")
    if not exe.exists():
        pytest.skip("the schedlint console script is not installed next to this python")
    path = _bad_copy(tmp_path)
    r = subprocess.run(
        [str(exe), "--isolated", "--no-cache", "--diff", "--unsafe-fixes", str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 1 and r.stdout.startswith("---")
    r = subprocess.run(
        [str(exe), "--isolated", "--no-cache", "--fix", "--unsafe-fixes", str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [str(exe), "--isolated", "--no-cache", "--diff", "--unsafe-fixes", str(path)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and r.stdout == ""
