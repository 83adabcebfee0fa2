"""Configuration faults: exit 2, a message naming the file and the key, never a traceback.

Each fault runs the real console entry point in a subprocess (``python -m schedlint``, which
goes through ``schedlint.cli.entry`` exactly as the installed script does), from a project that
also holds a known-bad file: a run that ignored the fault would print that file's SL101
findings and exit 1, so these tests fail if a fault is silently skipped.
``tests/test_config.py`` covers the same validation in-process; this file covers what a user
sees from a real process, faults in places other than ``./pyproject.toml`` and the encoding and
shape faults tomllib leaves to the caller.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
KNOWN_BAD = ROOT / "fixtures" / "SL101" / "bad_warmup_loop.py"


def _schedlint(args, cwd):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    return subprocess.run(
        [sys.executable, "-m", "schedlint", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _project(tmp_path: Path, pyproject: bytes | str | None) -> Path:
    proj = tmp_path / "proj"
    (proj / "pkg").mkdir(parents=True)
    shutil.copy(KNOWN_BAD, proj / "pkg" / "bad.py")
    if pyproject is not None:
        data = pyproject.encode() if isinstance(pyproject, str) else pyproject
        (proj / "pyproject.toml").write_bytes(data)
    return proj


def _assert_config_error(result, config_path: Path, *words):
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    assert "internal error" not in result.stderr, result.stderr
    assert result.stdout == "", "findings were printed although the config is broken"
    assert result.stderr.startswith("schedlint: error: "), result.stderr
    assert str(config_path) in result.stderr or config_path.name in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, (word, result.stderr)


def test_the_known_bad_project_is_flagged_with_a_good_config(tmp_path):
    """Control: with a valid config the same project gives exit 1 and its SL101 findings."""
    proj = _project(
        tmp_path,
        "[tool.schedlint]\nselect = ['SL1']\nper-file-ignores = { 'pkg/other.py' = ['SL101'] }\n",
    )
    (proj / "pkg" / "other.py").write_text("x = 1\n")
    result = _schedlint(["--no-cache", "."], proj)
    assert result.returncode == 1, result.stderr
    assert "SL101" in result.stdout


FAULTS = {
    # name: (pyproject body, words the message must contain)
    "malformed-toml": ("[tool.schedlint\nselect = ['SL101']\n", ["invalid TOML", "line 1"]),
    "unterminated-list": ("[tool.schedlint]\nselect = ['SL101'\n", ["invalid TOML"]),
    "duplicate-key": ("[tool.schedlint]\nselect = ['SL1']\nselect = ['SL2']\n", ["invalid TOML"]),
    "unknown-key": ("[tool.schedlint]\nselct = ['SL101']\n", ["'selct'"]),
    "snake-case-key": (
        "[tool.schedlint]\nper_file_ignores = {}\n",
        ["'per_file_ignores'", "per-file-ignores"],
    ),
    "unknown-code-select": ("[tool.schedlint]\nselect = ['SL999']\n", ["'select'", "SL999"]),
    "unknown-code-ignore": ("[tool.schedlint]\nignore = ['E501']\n", ["'ignore'", "E501"]),
    "unknown-code-extend-select": (
        "[tool.schedlint]\nextend-select = ['SLX']\n",
        ["'extend-select'", "SLX"],
    ),
    "unknown-code-per-file": (
        "[tool.schedlint.per-file-ignores]\n'pkg/*' = ['SL9']\n",
        ["'per-file-ignores'", "SL9"],
    ),
    "wrong-type-string": ("[tool.schedlint]\nselect = 'SL101'\n", ["'select'", "list"]),
    "wrong-type-number-item": ("[tool.schedlint]\nexclude = ['gen', 3]\n", ["'exclude'"]),
    "wrong-type-bool": ("[tool.schedlint]\nextend-exclude = true\n", ["'extend-exclude'"]),
    "wrong-type-per-file-list": (
        "[tool.schedlint]\nper-file-ignores = ['pkg']\n",
        ["'per-file-ignores'"],
    ),
    "wrong-type-per-file-value": (
        "[tool.schedlint.per-file-ignores]\n'pkg/*' = 'SL101'\n",
        ["'per-file-ignores'", "pkg/*"],
    ),
    "nested-list-per-file-value": (
        "[tool.schedlint.per-file-ignores]\n'pkg/*' = [['SL101']]\n",
        ["'per-file-ignores'", "pkg/*"],
    ),
    "schedlint-not-a-table": ("[tool]\nschedlint = 3\n", ["[tool.schedlint]"]),
    "glob-matches-nothing": (
        "[tool.schedlint.per-file-ignores]\n'nothing/*.py' = ['SL101']\n",
        ["'per-file-ignores'", "nothing/*.py"],
    ),
}


@pytest.mark.parametrize("name", sorted(FAULTS))
def test_fault_in_pyproject_is_exit_2_naming_file_and_key(tmp_path, name):
    body, words = FAULTS[name]
    proj = _project(tmp_path, body)
    result = _schedlint(["--no-cache", "."], proj)
    _assert_config_error(result, proj / "pyproject.toml", *words)


@pytest.mark.parametrize("name", ["unknown-key", "wrong-type-string", "malformed-toml"])
def test_fault_in_a_parent_pyproject_found_upward(tmp_path, name):
    """The config is searched upward from the first path; a fault there is still exit 2."""
    body, words = FAULTS[name]
    proj = _project(tmp_path, body)
    result = _schedlint(["--no-cache", str(proj / "pkg" / "bad.py")], proj / "pkg")
    _assert_config_error(result, proj / "pyproject.toml", *words)


def test_pyproject_that_is_not_utf8(tmp_path):
    proj = _project(tmp_path, b"[tool.schedlint]\nselect = ['SL101']\n# caf\xe9 \xff\n")
    result = _schedlint(["--no-cache", "."], proj)
    _assert_config_error(result, proj / "pyproject.toml", "invalid TOML", "UTF-8")


def test_pyproject_with_a_byte_order_mark(tmp_path):
    # TOML forbids a BOM and tomllib rejects it; it must still be a clean config error.
    proj = _project(tmp_path, b"\xef\xbb\xbf[tool.schedlint]\nselect = ['SL101']\n")
    result = _schedlint(["--no-cache", "."], proj)
    _assert_config_error(result, proj / "pyproject.toml", "invalid TOML")


def test_config_option_faults(tmp_path):
    proj = _project(tmp_path, None)
    cases = {
        "keys.toml": ("select = ['NOPE']\n", ["'select'", "NOPE"]),
        "broken.toml": ("select = [\n", ["invalid TOML"]),
        "types.toml": ("per-file-ignores = 7\n", ["'per-file-ignores'"]),
        "pyproject.toml": ("tool = 3\n", ["'tool'"]),
    }
    for name, (body, words) in cases.items():
        cfg = tmp_path / "cfgs" / name
        cfg.parent.mkdir(exist_ok=True)
        cfg.write_text(body)
        result = _schedlint(["--no-cache", "--config", str(cfg), "."], proj)
        _assert_config_error(result, cfg, *words)
    missing = tmp_path / "cfgs" / "missing.toml"
    result = _schedlint(["--no-cache", "--config", str(missing), "."], proj)
    _assert_config_error(result, missing, "cannot read config")


def test_a_foreign_pyproject_with_odd_shapes_is_not_ours(tmp_path):
    """A pyproject.toml without [tool.schedlint] (even one whose `tool` is not a table) is not
    schedlint's configuration: the run goes on with the defaults and reports the bad file."""
    proj = _project(tmp_path, "tool = 3\n[project]\nname = 'x'\n")
    result = _schedlint(["--no-cache", "."], proj)
    assert result.returncode == 1, result.stderr
    assert "SL101" in result.stdout and "Traceback" not in result.stderr


def test_isolated_skips_a_broken_config(tmp_path):
    proj = _project(tmp_path, FAULTS["malformed-toml"][0])
    result = _schedlint(["--no-cache", "--isolated", "."], proj)
    assert result.returncode == 1, result.stderr
    assert "SL101" in result.stdout
