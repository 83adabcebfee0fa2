"""The project's own code passes ``ruff check`` with the configuration in pyproject.toml."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff():
    beside = Path(sys.executable).parent / "ruff"  # the venv's own ruff (dev extra)
    return str(beside) if beside.is_file() else shutil.which("ruff")


def test_ruff_check_passes():
    ruff = _ruff()
    if ruff is None:
        pytest.skip("ruff is not installed (it is in the dev extra: pip install -e '.[dev]')")
    proc = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise",
                           "schedlint", "tests", "bench"], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
