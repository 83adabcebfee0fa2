"""``# noqa`` suppression, as ruff and flake8 read it.

``# noqa`` alone suppresses every finding on its line; ``# noqa: SL101, SL2`` only those codes
(or code prefixes). A ``# noqa`` on the first line of a multi-line statement covers findings on
any line of that statement. Only comments count: ``"# noqa"`` in a string does not. Comments
and their lines come from the libcst tree the checker parsed (lines as Python's tokenizer
counts them), so a file is never read twice; a file that does not mention noqa costs nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_right

import libcst as cst

from schedlint.model.cstwalk import walk
from schedlint.model.lines import LINE_END

_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Za-z]+[0-9]*(?:[\s,]+[A-Za-z]+[0-9]*)*))?", re.IGNORECASE
)
_MENTION = re.compile("noqa", re.IGNORECASE)


def directive(line_text: str):
    """None (no directive), "all", or the set of codes named in the comment."""
    if "noqa" not in line_text.lower():
        return None
    m = _NOQA.search(line_text)
    if m is None:
        return None
    if not m.group("codes"):
        return "all"
    return {c.upper() for c in re.split(r"[\s,]+", m.group("codes")) if c}


class _Comments(cst.CSTVisitor):
    def __init__(self):
        super().__init__()
        self.nodes = []

    def visit_Comment(self, node) -> None:
        self.nodes.append(node)


def _covers(d, code: str) -> bool:
    return d == "all" or d is not None and any(code.startswith(c) for c in d)


class Suppressions:
    """Answers "is this finding suppressed?" for one file."""

    def __init__(self, source: str, model):
        self.source = source
        self.model = model
        self._starts = None
        self._mentions = None  # lines whose text says noqa: in a comment, or in a string
        self._noqa = None  # line -> directive, from the real comments

    def _mentioned(self) -> frozenset:
        """Lines whose text mentions noqa: a cheap text search that rules out most lines (and
        most files), so that comments are collected only where one may suppress a finding."""
        if self._mentions is None:
            offsets = [m.start() for m in _MENTION.finditer(self.source)]
            if offsets:
                starts = [0] + [m.end() for m in LINE_END.finditer(self.source)]
                self._mentions = frozenset(bisect_right(starts, o) for o in offsets)
            else:
                self._mentions = frozenset()
        return self._mentions

    def _directives(self) -> dict:
        if self._noqa is None:
            finder = _Comments()
            walk(self.model.module, finder)
            self._noqa = {}
            for node in finder.nodes:
                found = directive(node.value)
                if found is not None:
                    self._noqa[self.model.position(node)[0]] = found
        return self._noqa

    def _statement_start(self, line: int) -> int:
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
        mentioned = self._mentioned()
        if not mentioned:
            return False
        candidates = {line, self._statement_start(line)} & mentioned
        return bool(candidates) and any(
            _covers(self._directives().get(c), code) for c in candidates
        )
