import os
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def fixture_files():
    return sorted(p for p in FIXTURES.rglob("*.py"))


def expected_findings(path: Path) -> set:
    """(line, code) pairs from `# expect: CODE[, CODE]` markers."""
    out = set()
    for lineno, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = EXPECT.search(text)
        if m:
            out |= {(lineno, c.strip()) for c in m.group(1).split(",")}
    return out


@pytest.fixture
def run_cli():
    """Invoke the CLI in-process through click's runner."""
    from click.testing import CliRunner

    from schedlint.cli import main

    def run(*args, input=None, env=None):
        runner = CliRunner()
        return runner.invoke(main, list(args), input=input, env=env, catch_exceptions=False)

    return run
