"""The console script's replay of an unchanged run (schedlint.check.replay).

Each test runs ``schedlint.check.replay.entry`` as the console script does, in a subprocess. To tell
a replay from a real run, the recorded output is tampered with after the first run: a replay
prints the tampered text, a real run the real findings.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BAD = '''import torch
opt = torch.optim.SGD([{"params": a, "lr": 0.1}, {"params": b, "lr": 0.01}])
for g in opt.param_groups:
    g["lr"] = 0.5
'''
GOOD = "import os\nprint(os.sep)\n"
MARK = "REPLAYED-FROM-RECORD\n"


def _run(cwd: Path, *args, env=None):
    code = ("import sys; sys.argv = ['schedlint', *sys.argv[1:]]\n"
            "from schedlint.check.replay import entry\nentry()\n")
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True,
                          text=True, env=full_env, timeout=300)


def _tamper(cwd: Path) -> int:
    """Mark every recorded run's stdout; returns how many records there are."""
    records = list(cwd.glob(".schedlint_cache/*/runs/*.json"))
    for rec in records:
        data = json.loads(rec.read_text())
        data["stdout"] = MARK + data["stdout"]
        rec.write_text(json.dumps(data))
    return len(records)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    (tmp_path / "pkg" / "good.py").write_text(GOOD)
    first = _run(tmp_path, "pkg")
    assert first.returncode == 1 and "SL101" in first.stdout
    assert _tamper(tmp_path) == 1
    return tmp_path, first


def test_an_unchanged_run_is_replayed_exactly(project):
    root, first = project
    again = _run(root, "pkg")
    assert again.stdout == MARK + first.stdout
    assert again.stderr == first.stderr and again.returncode == first.returncode


def _bump(path: Path, text: str):
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


@pytest.mark.parametrize("change", ["edit", "new file", "new folder", "gitignore", "config",
                                    "delete"])
def test_any_change_runs_the_check_again(project, change):
    root, first = project
    pkg = root / "pkg"
    if change == "edit":
        _bump(pkg / "good.py", BAD)
    elif change == "new file":
        (pkg / "other.py").write_text(BAD)
    elif change == "new folder":
        (pkg / "sub").mkdir()
        (pkg / "sub" / "x.py").write_text(BAD)
    elif change == "gitignore":
        (pkg / ".gitignore").write_text("bad.py\n")
    elif change == "config":
        (root / "pyproject.toml").write_text("[tool.schedlint]\nignore = ['SL101']\n")
    elif change == "delete":
        (pkg / "bad.py").unlink()
    again = _run(root, "pkg")
    assert MARK not in again.stdout
    expected = {"edit": 2, "new file": 2, "new folder": 2, "gitignore": 0, "config": 0,
                "delete": 0}[change]
    assert again.stdout.count("SL101") == expected, again.stdout
    # ... and that run is recorded in turn.
    _tamper(root)
    assert _run(root, "pkg").stdout.startswith(MARK)


def test_other_arguments_and_no_cache_are_not_replayed(project):
    root, first = project
    assert MARK not in _run(root, "pkg", "--output-format", "json").stdout
    assert MARK not in _run(root, "pkg", "--no-cache").stdout
    assert MARK not in _run(root, "pkg", env={"SCHEDLINT_NO_REPLAY": "1"}).stdout
    assert MARK not in _run(root, "pkg", env={"SCHEDLINT_DEBUG": "1"}).stdout


def test_a_corrupt_record_is_ignored(project):
    root, first = project
    for rec in root.glob(".schedlint_cache/*/runs/*.json"):
        rec.write_text("{not json")
    again = _run(root, "pkg")
    assert again.stdout == first.stdout and again.returncode == 1


def test_editing_a_nested_pyproject_runs_the_check_again(tmp_path):
    # Each file uses the nearest pyproject.toml above it, so a nested one is an input too;
    # editing it in place leaves its folder's mtime alone.
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "sub" / "bad.py").write_text(BAD)
    nested = tmp_path / "pkg" / "sub" / "pyproject.toml"
    nested.write_text("[tool.schedlint]\n")
    first = _run(tmp_path, "pkg")
    assert first.returncode == 1 and "SL101" in first.stdout
    assert _tamper(tmp_path) == 1
    _bump(nested, "[tool.schedlint]\nignore = ['SL101']\n")
    again = _run(tmp_path, "pkg")
    assert MARK not in again.stdout and "SL101" not in again.stdout
    assert again.returncode == 0
