"""The flake8 plugin: `flake8 --select SL` reports exactly what `schedlint` reports, at the
same line and column, with flake8's own noqa and selection. Runs the real flake8."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from fixture_markers import FIXTURES, ROOT

from schedlint.rules import all_rules

try:
    import flake8  # noqa: F401

    HAVE_FLAKE8 = True
except ImportError:  # pragma: no cover - the dev extra installs it
    HAVE_FLAKE8 = False

needs_flake8 = pytest.mark.skipif(
    not HAVE_FLAKE8,
    reason="flake8 is not installed in this environment (pip install 'schedlint[dev]' installs it)",
)

FORMAT = "%(path)s|%(row)d|%(col)d|%(code)s"
PER_FILE = {
    r.code for r in all_rules() if r.kind != "guard" and r.scope == "file" and r.code != "SL001"
}


def _flake8(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", "--format", FORMAT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )


def _rows(out: str) -> set:
    rows = set()
    for line in out.splitlines():
        path, row, col, code = line.split("|")
        rows.add((str(Path(path)), int(row), int(col), code))
    return rows


def _schedlint(*paths, cwd=ROOT) -> set:
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "schedlint",
            "--isolated",
            "--no-cache",
            "--output-format",
            "json",
            *paths,
        ],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert r.returncode in (0, 1), r.stderr
    return {
        (str(Path(f["path"])), f["line"], f["column"], f["code"])
        for f in json.loads(r.stdout)
        if f["code"] in PER_FILE
    }


def test_entry_point_is_registered_with_a_valid_prefix():
    eps = [ep for ep in metadata.entry_points(group="flake8.extension") if ep.name == "SL"]
    assert [ep.value for ep in eps] == ["schedlint.integrations.flake8_plugin:Checker"]
    assert re.fullmatch(r"^[A-Z]{1,3}[0-9]{0,3}$", eps[0].name)
    assert (
        (ROOT / "pyproject.toml")
        .read_text()
        .count('SL = "schedlint.integrations.flake8_plugin:Checker"')
    )


@needs_flake8
def test_flake8_positions_equal_schedlint_positions_on_every_fixture(tmp_path):
    # Both tools read one snapshot of the fixtures.
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    r = _flake8("--select", "SL", "fixtures", cwd=tmp_path)
    assert r.returncode in (0, 1), r.stderr
    got = _rows(r.stdout)
    expected = _schedlint("fixtures", cwd=tmp_path)
    assert expected, "the fixtures produce no per-file finding: nothing was compared"
    assert got == expected, (
        f"only flake8: {sorted(got - expected)[:5]}\nonly schedlint: {sorted(expected - got)[:5]}"
    )


@needs_flake8
def test_flake8_noqa_select_and_ignore_apply(tmp_path):
    src = (FIXTURES / "SL101" / "bad_warmup_loop.py").read_text()
    n = src.count("# expect: SL101")
    (tmp_path / "a.py").write_text(src.replace("# expect: SL101", "# noqa: SL101", 1))
    r = _flake8("--select", "SL", "a.py", cwd=tmp_path)
    assert r.returncode == 1 and len(_rows(r.stdout)) == n - 1
    r = _flake8("--select", "SL", "--extend-ignore", "SL101", "a.py", cwd=tmp_path)
    assert r.returncode == 0 and r.stdout == ""
    r = _flake8("--select", "E", "a.py", cwd=tmp_path)  # not selected: nothing from schedlint
    assert "SL" not in r.stdout


@needs_flake8
def test_flake8_reads_stdin_with_the_same_positions(tmp_path):
    path = FIXTURES / "SL101" / "bad_warmup_loop.py"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "flake8",
            "--isolated",
            "--select",
            "SL",
            "--format",
            FORMAT,
            "--stdin-display-name",
            str(path),
            "-",
        ],
        input=path.read_text(),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    got = {(row, col, code) for _, row, col, code in _rows(r.stdout)}
    expected = {(row, col, code) for p, row, col, code in _schedlint(str(path))}
    assert got == expected and got


def test_plugin_prefilter_skips_files_without_optimizer_code(monkeypatch):
    from schedlint.check import pipeline
    from schedlint.integrations.flake8_plugin import Checker

    def boom(*a, **k):
        raise AssertionError("parsed a file the prefilter should have skipped")

    monkeypatch.setattr(pipeline, "check_text", boom)
    assert list(Checker(None, "x.py", ["import os\n", "print(os.sep)\n"]).run()) == []
    with pytest.raises(AssertionError):
        list(Checker(None, "x.py", ["optimizer.step()\n"]).run())


def test_plugin_yields_zero_based_columns_for_flake8_to_shift():
    from schedlint.check.engine import check_source
    from schedlint.integrations.flake8_plugin import Checker

    path = FIXTURES / "SL101" / "bad_warmup_loop.py"
    lines = path.read_text().splitlines(keepends=True)
    got = {
        (row, col + 1, text.split()[0])
        for row, col, text, _ in Checker(None, str(path), lines).run()
    }
    expected = {
        (f.line, f.column, f.code) for f in check_source(str(path), None, PER_FILE).findings
    }
    assert got == expected and got
