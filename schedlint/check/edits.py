"""Text edits: apply a rule fix's position-based edits to source text.

A fix's edits are ``(line, column, end_line, end_column, content)`` (1-based, end exclusive,
columns in characters as libcst counts them) on the text the rule read. Everything outside the
edited ranges is left byte for byte as it was. Used by :mod:`schedlint.check.fixes` for ``.py``
files and by :mod:`schedlint.check.documents` for notebook cells.
"""

from __future__ import annotations

import re

_NEWLINE = re.compile(r"\r\n|\r|\n")


class EditError(ValueError):
    """An edit that does not fit the text (out of range, reversed, overlapping)."""


def line_starts(text: str) -> list:
    """Offset of the first character of each line (lines end at \\r\\n, \\r or \\n, as libcst)."""
    starts = [0]
    for m in _NEWLINE.finditer(text):
        starts.append(m.end())
    return starts


def _offset(starts: list, text: str, line: int, column: int) -> int:
    if not 1 <= line <= len(starts):
        raise EditError(f"line {line} out of range")
    start = starts[line - 1]
    end = starts[line] if line < len(starts) else len(text)
    length = len(text[start:end].rstrip("\r\n"))  # without the line terminator
    if not 1 <= column <= length + 1:
        raise EditError(f"column {column} out of range on line {line}")
    return start + column - 1


def edit_spans(text: str, edits, starts: list | None = None) -> list:
    """``[(start_offset, end_offset, content)]`` for ``edits``, sorted; raises EditError."""
    starts = starts if starts is not None else line_starts(text)
    spans = []
    for e in edits:
        line, col, end_line, end_col, content = edit_tuple(e)
        a = _offset(starts, text, line, col)
        b = _offset(starts, text, end_line, end_col)
        if b < a:
            raise EditError("edit ends before it starts")
        spans.append((a, b, content))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (a1, b1, _), (a2, b2, _) in zip(spans, spans[1:]):
        if a2 < b1 or (a2 == b1 == a1 == b2):
            raise EditError("edits of one fix overlap")
    return spans


def edit_tuple(e):
    if isinstance(e, dict):
        return e["line"], e["column"], e["end_line"], e["end_column"], e["content"]
    return tuple(e)


def _dominant_newline(text: str) -> str:
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    return "\r\n" if crlf > lf else "\n"


def apply_fixes(text: str, fixes) -> tuple:
    """Apply each fix in ``fixes`` (dicts as findings carry them) that fits and does not
    overlap one applied before it. Returns ``(new_text, applied_fixes)``.

    Fixes are taken in order of their first edit; one touching (or inserting inside) a range an
    earlier fix already edits is left for the next round, as ruff does. Inserted text uses the
    file's own line ending.
    """
    starts = line_starts(text)
    newline = _dominant_newline(text)
    chosen, taken = [], []
    candidates = []
    for fix in fixes:
        try:
            spans = edit_spans(text, fix["edits"], starts)
        except (EditError, KeyError, TypeError, ValueError):
            continue
        if not spans:
            continue
        candidates.append((spans[0][0], spans[0][1], len(candidates), fix, spans))
    for _, _, _, fix, spans in sorted(candidates, key=lambda c: c[:3]):
        if any(_overlaps(a, b, ta, tb) for a, b, _ in spans for ta, tb in taken):
            continue
        taken += [(a, b) for a, b, _ in spans]
        chosen.append((fix, spans))
    all_spans = sorted((s for _, spans in chosen for s in spans), key=lambda s: (s[0], s[1]))
    out, pos = [], 0
    for a, b, content in all_spans:
        out.append(text[pos:a])
        if newline != "\n":
            content = re.sub(r"(?<!\r)\n", newline, content)
        out.append(content)
        pos = b
    out.append(text[pos:])
    return "".join(out), [fix for fix, _ in chosen]


def _overlaps(a, b, ta, tb) -> bool:
    if a == b and ta == tb:
        return a == ta  # two insertions at one point: order would be ambiguous
    if a == b:
        return ta < a < tb
    if ta == tb:
        return a < ta < b
    return a < tb and ta < b


__all__ = ["EditError", "apply_fixes", "edit_spans", "edit_tuple", "line_starts"]
