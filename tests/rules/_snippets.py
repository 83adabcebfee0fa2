"""Run the checker on a source snippet (shared by the SL10x unit tests)."""

import textwrap

from schedlint.check.engine import check_source


def findings(source: str, code: str):
    """[(line, message)] of ``code`` on the dedented ``source``."""
    return [(line, message) for line, message, _ in with_help(source, code)]


def with_help(source: str, code: str):
    """[(line, message, help)] of ``code`` on the dedented ``source``."""
    data = textwrap.dedent(source).encode()
    result = check_source("snippet.py", data, frozenset({code, "SL003"}))
    assert not [f for f in result.findings if f.code == "SL003"], result.findings
    return [(f.line, f.message, f.help) for f in result.findings if f.code == code]


def lines(source: str, code: str):
    return [line for line, _ in findings(source, code)]
