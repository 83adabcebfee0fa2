"""``# noqa`` suppression, as ruff and flake8 read it.

``# noqa`` alone suppresses every finding on its line; ``# noqa: SL101, SL2`` only those codes
(or code prefixes). A ``# noqa`` on the first line of a multi-line statement covers findings on
any line of that statement.
"""

from __future__ import annotations

import re

import libcst as cst

_NOQA = re.compile(r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]*(?:[\s,]+[A-Za-z]+[0-9]*)*))?",
                   re.IGNORECASE)


def directive(line_text: str):
    """None (no directive), "all", or the set of codes named on the line."""
    if "noqa" not in line_text.lower():
        return None
    m = _NOQA.search(line_text)
    if m is None:
        return None
    if not m.group("codes"):
        return "all"
    return {c.upper() for c in re.split(r"[\s,]+", m.group("codes")) if c}


def _covers(d, code: str) -> bool:
    return d == "all" or d is not None and any(code.startswith(c) for c in d)


class Suppressions:
    """Answers "is this finding suppressed?" for one file."""

    def __init__(self, source: str, model=None):
        self.lines = source.splitlines()
        self.model = model
        self._starts = None

    def _statement_start(self, line: int) -> int:
        if self.model is None:
            return line
        if self._starts is None:
            self._starts = {}
            self._collect(self.model.module.body)
        return self._starts.get(line, line)

    def _collect(self, body):
        for stmt in body:
            start, _, end, _ = self.model.position(stmt)
            if isinstance(stmt, cst.SimpleStatementLine):
                header_end = end
            else:
                inner = getattr(stmt, "body", None)
                header_end = start
                if isinstance(inner, cst.IndentedBlock) and inner.body:
                    header_end = max(start, self.model.position(inner.body[0])[0] - 1)
            for line in range(start + 1, header_end + 1):
                self._starts.setdefault(line, start)
            for attr in ("body", "orelse", "handlers", "finalbody"):
                child = getattr(stmt, attr, None)
                if child is None or isinstance(stmt, cst.SimpleStatementLine):
                    continue
                if isinstance(child, (list, tuple)):
                    for handler in child:
                        self._collect_block(handler)
                else:
                    self._collect_block(child)

    def _collect_block(self, node):
        inner = getattr(node, "body", None)
        if isinstance(inner, (list, tuple)):
            self._collect(inner)
        elif inner is not None:
            self._collect_block(inner)

    def suppressed(self, line: int, code: str) -> bool:
        for candidate in {line, self._statement_start(line)}:
            if 1 <= candidate <= len(self.lines) and _covers(directive(self.lines[candidate - 1]),
                                                             code):
                return True
        return False
