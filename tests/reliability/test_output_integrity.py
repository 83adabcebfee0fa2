"""Output integrity: the same findings in the same order whatever ``--jobs`` is, and a worker
process that dies loses nothing but the file it was checking (reported as SL003, exit 2).

The dying worker is simulated by wrapping SL101's check so that it kills its own process
(``os._exit`` or SIGKILL, as the OOM killer would) when the file holds a marker string. The
engine's pool forks its workers, so the patched rule table reaches them; the test process itself
never checks the marker file in-process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from schedlint.check import engine, pipeline
from schedlint.check.options import POOL_THRESHOLD, Options
from schedlint.rules import all_rules

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "fixtures"
KNOWN_BAD = FIXTURES / "SL101" / "bad_warmup_loop.py"
ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
DIE = "SCHEDLINT_TEST_KILL_THIS_WORKER"

needs_fork = pytest.mark.skipif(
    not hasattr(os, "fork"), reason="the dying-worker simulation needs the fork start method"
)


def _tree(root: Path, n_bad: int = 40) -> list[Path]:
    """Enough files for several pool batches: every fixture, shifted copies of the known-bad
    sample (so each has its own positions), syntax errors, clean and unrelated files."""
    root.mkdir(parents=True, exist_ok=True)
    files = []
    for fx in sorted(FIXTURES.rglob("*.py")):
        dest = root / "fixtures" / fx.relative_to(FIXTURES)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(fx, dest)
        files.append(dest)
    bad = KNOWN_BAD.read_text()
    for i in range(n_bad):
        p = root / f"bad_{i:03d}.py"
        p.write_text("\n" * i + bad)
        files.append(p)
    for i in range(6):
        p = root / f"syntax_{i}.py"
        p.write_text("import torch\n" + "\n" * i + "optimizer = torch.optim.SGD(\n")
        files.append(p)
    for i in range(6):
        p = root / f"plain_{i}.py"
        p.write_text(f"def f{i}(x):\n    return x * {i}\n")
        files.append(p)
    return sorted(files)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple:
    """(root, files) of one :func:`_tree`, shared by the module's tests: none writes into it."""
    root = tmp_path_factory.mktemp("integrity") / "tree"
    return root, _tree(root)


@pytest.fixture(scope="module")
def serial(tree) -> list:
    """The reference every pooled run is compared with: the tree checked in this process."""
    return engine.check_paths(
        [str(p) for p in tree[1]], Options(codes=ALL_CODES, jobs=1, check_syntax=True)
    )


@pytest.fixture(scope="module")
def cli_json(tree) -> str:
    """``--jobs 1`` JSON output of the tree: the reference of the CLI tests."""
    return _cli_tree(tree[0], "json", "1")


def _key(findings):
    return [
        (f.path, f.line, f.column, f.code, f.message, f.end_line, f.end_column) for f in findings
    ]


def _cli(args, cwd, env=None):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "schedlint", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _cli_tree(root: Path, fmt: str, jobs: str) -> str:
    """The output of ``schedlint --output-format fmt --jobs jobs --check-syntax .`` in ``root``."""
    args = ["--isolated", "--no-cache", "--output-format", fmt, "--jobs", jobs, "--check-syntax"]
    r = _cli([*args, "."], root)
    assert r.returncode == 1, r.stderr  # findings, no internal error
    return r.stdout


# --- --jobs 1 vs N ---------------------------------------------------------------------------


def test_cli_output_is_identical_for_any_jobs(tree, cli_json):
    root, files = tree
    assert len(files) > 2 * POOL_THRESHOLD  # so --jobs > 1 really uses a pool
    outputs = {("json", "1"): cli_json}
    runs = {"json": ("1", "2", "8"), "text": ("1", "3")}
    for fmt, jobs_values in runs.items():
        for jobs in jobs_values:
            if (fmt, jobs) not in outputs:
                outputs[fmt, jobs] = _cli_tree(root, fmt, jobs)
        assert len({outputs[fmt, j] for j in jobs_values}) == 1, (
            f"{fmt} output differs between --jobs values"
        )
    rows = json.loads(outputs["json", "1"])
    # Sorted by path, line, column, code, and every shifted known-bad copy is present.
    assert rows == sorted(rows, key=lambda d: (d["path"], d["line"], d["column"], d["code"]))
    for i in range(40):
        assert any(
            d["path"] == f"bad_{i:03d}.py" and d["line"] == 16 + i and d["code"] == "SL101"
            for d in rows
        ), i
    assert {d["path"] for d in rows if d["code"] == "SL001"} == {f"syntax_{i}.py" for i in range(6)}
    assert not any(d["code"] == "SL003" for d in rows)


def test_engine_results_are_identical_for_any_jobs(tree, serial):
    files = [str(p) for p in tree[1]]
    assert [r.path for r in serial] == files
    for jobs in (2, 5):
        pooled = engine.check_paths(files, Options(codes=ALL_CODES, jobs=jobs, check_syntax=True))
        assert [r.path for r in pooled] == files
        assert [_key(r.findings) for r in pooled] == [_key(r.findings) for r in serial]
        assert [r.parsed for r in pooled] == [r.parsed for r in serial]
        assert not any(r.crashed for r in pooled)
    project = engine.run_project_rules(serial, ALL_CODES)
    assert _key(engine.run_project_rules(pooled, ALL_CODES)) == _key(project)


# --- a worker that dies -----------------------------------------------------------------------


def _dying_rules(how: str):
    """The rule table with SL101 wrapped to kill its process on files holding the marker."""

    def wrap(rule):
        def check(model):
            if DIE in model.source:
                if how == "exit":
                    os._exit(3)
                os.kill(os.getpid(), signal.SIGKILL)
            return rule.check(model)

        return dataclasses.replace(rule, check=check)

    rules = tuple(wrap(r) if r.code == "SL101" else r for r in pipeline.checkable_rules())
    assert any(r.code == "SL101" for r in rules)
    return rules


def _dying_file(path: Path) -> Path:
    # Admitted by the prefilter and parsed, so the (patched) rules run on it.
    path.write_text(f"# {DIE}\n" + KNOWN_BAD.read_text())
    return path


@needs_fork
@pytest.mark.parametrize("how", ["exit", "sigkill"])
@pytest.mark.parametrize("positions", [(20,), (0, 33, 34)], ids=["one", "three"])
def test_dying_worker_loses_only_its_file(tmp_path, monkeypatch, tree, serial, how, positions):
    files = [str(p) for p in tree[1]]
    # Beside the shared tree, which the other tests walk; the file list alone makes the batches.
    dying = [str(_dying_file(tmp_path / f"die_{i}.py")) for i in positions]
    # Put each dying file mid-batch, so innocent files share its batch and its pool.
    for pos, path in zip(positions, dying):
        files.insert(pos, path)
    others = [p for p in files if p not in dying]
    rules = _dying_rules(how)
    monkeypatch.setattr(pipeline, "checkable_rules", lambda: rules)
    # The reference: every other file, checked in this process (none of them kills it).
    expected = {r.path: _key(r.findings) for r in serial}
    assert sorted(expected) == sorted(others)
    assert sum(len(v) for v in expected.values()) > 40

    results = engine.check_paths(files, Options(codes=ALL_CODES, jobs=2, check_syntax=True))

    assert [r.path for r in results] == files
    by_path = {r.path: r for r in results}
    for path in dying:
        r = by_path[path]
        assert r.crashed
        assert [f.code for f in r.findings] == ["SL003"]
        assert "died" in r.findings[0].message
    lost = {
        p: (expected[p], _key(by_path[p].findings))
        for p in others
        if _key(by_path[p].findings) != expected[p] or by_path[p].crashed
    }
    assert not lost, f"findings of innocent files were lost or changed: {sorted(lost)}"


@needs_fork
def test_cli_with_a_dying_worker_exits_2_and_keeps_every_other_finding(tmp_path, tree, cli_json):
    root = tmp_path / "tree"
    shutil.copytree(tree[0], root)
    _dying_file(root / "bad_020_die.py")
    driver = tmp_path / "driver.py"
    driver.write_text(
        textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from schedlint.check import pipeline
        import test_output_integrity as t
        rules = t._dying_rules("exit")
        pipeline.checkable_rules = lambda: rules
        sys.argv = ["schedlint", *sys.argv[1:]]
        from schedlint.cli import main
        main()
    """)
    )
    args = ["--isolated", "--no-cache", "--output-format", "json", "--jobs", "2", "--check-syntax"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}

    died = subprocess.run(
        [sys.executable, str(driver), *args, "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert died.returncode == 2, (died.returncode, died.stderr)
    assert "Traceback" not in died.stderr
    # The reference is the tree without the dying file, which no other file imports.
    got, want = json.loads(died.stdout), json.loads(cli_json)
    crash = [d for d in got if d["code"] == "SL003"]
    assert [d["path"] for d in crash] == ["bad_020_die.py"]
    # Every finding of every other file is still reported, identically.
    assert [d for d in got if d["path"] != "bad_020_die.py"] == want
    assert len(want) > 40
