"""Helpers shared by the guard tests (a plain module: pytest puts tests/guard on sys.path)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, *args, env=None, timeout=120, cwd=None):
    """Run ``code`` in a fresh interpreter of this venv, with the repository importable."""
    full_env = dict(os.environ)
    full_env.pop("SCHEDLINT_GUARD", None)
    # an outer run's options (``--durations``...) would reach the pytest these tests start and
    # change the summary they read
    full_env.pop("PYTEST_ADDOPTS", None)
    full_env["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(ROOT), full_env.get("PYTHONPATH", "")] if p
    )
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        cwd=cwd,
    )


def line_of(path: str, marker: str) -> int:
    """The line of ``path`` that ends with the comment ``marker`` (exactly one must)."""
    with open(path) as f:
        (n,) = [i for i, line in enumerate(f, 1) if line.rstrip().endswith(marker)]
    return n
