"""Lines as Python's tokenizer (and libcst) number them: ended by ``\\r\\n``, ``\\r`` or ``\\n``.

Every line number schedlint reports or acts on comes from the parser, so anything that finds
a line in the text itself must break lines the same way. ``str.splitlines()`` also breaks at
form feeds, vertical tabs, ``\\x1c``-``\\x1e``, ``\\x85`` and ``\\u2028``/``\\u2029``, and a
count of ``\\n`` misses classic-Mac ``\\r`` endings; either shifts every later line.
"""

from __future__ import annotations

import re

LINE_END = re.compile(r"\r\n|\r|\n")
LINE_END_BYTES = re.compile(rb"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str, keepends: bool = False) -> list:
    """``text``'s lines (with their line ends when ``keepends``)."""
    lines = _LINE.findall(text)
    return lines if keepends else [line.rstrip("\r\n") for line in lines]


def line_of(text, offset: int) -> int:
    """The 1-based line of ``offset`` in ``text`` (str or bytes)."""
    ends = LINE_END if isinstance(text, str) else LINE_END_BYTES
    return sum(1 for _ in ends.finditer(text, 0, offset)) + 1


def column_of(text: str, offset: int) -> int:
    """The 1-based column of ``offset`` in ``text``."""
    return offset - max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset))


def line_reader(data: bytes):
    """A ``readline`` over ``data`` for ``tokenize.detect_encoding``: ``BytesIO.readline``
    knows only ``\\n``, so the coding cookie of a file with ``\\r`` line ends would be looked
    for in its whole text (and an undecodable byte anywhere blamed on line 1)."""
    pos = 0

    def readline() -> bytes:
        nonlocal pos
        m = LINE_END_BYTES.search(data, pos)
        start, pos = pos, m.end() if m else len(data)
        return data[start:pos]

    return readline


__all__ = ["LINE_END", "LINE_END_BYTES", "column_of", "line_of", "line_reader", "split_lines"]
