"""Fixture expectation markers: what `# expect: CODE` in fixtures/ means.

A plain module (not conftest.py): tests/guard/ has a conftest of its own, and two modules named
`conftest` cannot both be imported by name.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
EXPECT = re.compile(r"#\s*expect:\s*([A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)")


def fixture_files():
    return sorted(p for p in FIXTURES.rglob("*.py"))


def standalone_fixture_files():
    """Fixtures that mean the same wherever they are copied: not the modules of a package
    case (fixtures/<CODE>/<case>/), whose findings depend on their sibling modules."""
    return [p for p in fixture_files() if len(p.relative_to(FIXTURES).parts) <= 2]


def expected_findings(path: Path) -> set:
    """(line, code) pairs from `# expect: CODE[, CODE]` markers."""
    out = set()
    for lineno, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        m = EXPECT.search(text)
        if m:
            out |= {(lineno, c.strip()) for c in m.group(1).split(",")}
    return out
