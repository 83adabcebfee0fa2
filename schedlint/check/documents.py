"""Documents: one input to check or fix, and the Python source schedlint reads in it.

A document is a ``.py`` file, a Jupyter notebook (``.ipynb``), source read from stdin, or the
lines flake8 hands its plugin. This module is the one place that

- reads a file's bytes (:func:`read_bytes`),
- decodes Python source as Python does (:func:`decode`: PEP 263 coding cookie, UTF-8 BOM),
- tells a notebook from a ``.py`` file (:func:`open_document`), and
- maps what the checker saw back to the input: a notebook's code cells are one virtual Python
  source, and its findings and fixes are mapped back to (cell, line) here.

Checking (:mod:`schedlint.check.pipeline`), fixing (:mod:`schedlint.check.fixes`), the flake8
plugin and stdin all go through it. A document that cannot be read raises
:class:`DocumentError`, whose message is the SL002 finding's.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import replace

from schedlint.check.edits import apply_fixes
from schedlint.check.notebook import CodeCell, Notebook, NotebookError
from schedlint.model.lines import line_of, line_reader

NOTEBOOK_SUFFIX = ".ipynb"


class DocumentError(Exception):
    """The input cannot be read as source: ``message`` (at ``line``) is its SL002."""

    def __init__(self, message: str, line: int = 1):
        super().__init__(message)
        self.message, self.line = message, line


def read_bytes(path: str) -> bytes:
    """The file's bytes; raises OSError, also for what is not a regular file (a FIFO would
    block the run forever, a device never end): the open does not wait for a writer."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with open(fd, "rb", closefd=True) as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return fh.read()


def is_notebook(path: str) -> bool:
    return str(path).endswith(NOTEBOOK_SUFFIX)


def decode(data: bytes) -> tuple:
    """``(text, encoding, bom)``: the source text as Python decodes ``data`` (PEP 263, BOM);
    raises :class:`DocumentError`. ``encoding`` is the codec that encodes the text back
    (``utf-8`` for a file with a UTF-8 BOM, which ``bom`` then says)."""
    import tokenize  # only for files that get this far

    try:
        encoding, _ = tokenize.detect_encoding(line_reader(data))
        text = data.decode(encoding)
    except (SyntaxError, LookupError) as exc:
        raise DocumentError(f"cannot decode file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DocumentError(
            f"cannot decode file as {exc.encoding}: invalid byte at offset {exc.start}",
            line=line_of(data, exc.start),
        ) from None
    bom = text.startswith("\ufeff")
    if bom:
        text = text[1:]
    if encoding == "utf-8-sig":
        encoding = "utf-8"
    return text, encoding, bom


def parses(text: str) -> bool:
    """True when both CPython and libcst accept ``text`` (a fix must never break a file)."""
    try:
        compile(text, "<fixed>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    import libcst as cst

    try:
        cst.parse_module(text)
    except Exception:  # ParserSyntaxError, or the parser itself failing
        return False
    return True


def diff_lines(a: str, b: str, from_name: str, to_name: str) -> str:
    from difflib import unified_diff  # only --diff shows one

    out = []
    for line in unified_diff(
        a.splitlines(keepends=True), b.splitlines(keepends=True), fromfile=from_name, tofile=to_name
    ):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


class PythonDocument:
    """A ``.py`` file (or stdin): decoded once, fixed as text, encoded back the same way."""

    notebook = False

    def __init__(
        self, path: str, data: bytes, text: str, encoding: str = "utf-8", bom: bool = False
    ):
        self.path, self.data, self.source = path, data, text
        self.encoding, self.bom = encoding, bom

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> PythonDocument:
        text, encoding, bom = decode(data)
        return cls(path, data, text, encoding, bom)

    @classmethod
    def from_text(cls, path: str, text: str) -> PythonDocument:
        """Source that is already text (flake8 decoded it). The gate reads its UTF-8 bytes:
        it looks only for ASCII words, which every source encoding spells the same."""
        if text.startswith("\ufeff"):
            text = text[1:]
        return cls(path, text.encode("utf-8", "surrogateescape"), text)

    def source_bytes(self) -> bytes:
        """The bytes the gate scans."""
        return self.data

    def map_finding(self, finding):
        return finding

    def apply(self, findings) -> tuple:
        """``(new_bytes, applied_fixes, new_text)`` with the findings' fixes applied."""
        new_text, applied = apply_fixes(self.source, [f.fix for f in findings])
        return self.encode(new_text), applied, new_text

    def encode(self, text: str) -> bytes:
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode(self.encoding)

    def valid(self, data: bytes, text: str) -> bool:
        return parses(text)

    def diff(self, after: bytes) -> str:
        try:
            b = PythonDocument.from_bytes(self.path, after).source
        except DocumentError:
            b = after.decode("utf-8", "replace")
        return diff_lines(self.source, b, self.path, self.path)


class NotebookDocument:
    """A notebook: its code cells are one virtual Python source (see
    :mod:`schedlint.check.notebook`); findings and fixes map back to cells."""

    notebook = True

    def __init__(self, path: str, data: bytes, nb: Notebook):
        self.path, self.data, self.nb = path, data, nb
        self.source = nb.source

    @classmethod
    def from_bytes(cls, path: str, data: bytes) -> NotebookDocument:
        try:
            return cls(path, data, Notebook(data))
        except NotebookError as exc:
            raise DocumentError(f"cannot read notebook: {exc}") from None

    def source_bytes(self) -> bytes:
        return self.source.encode("utf-8")

    def map_finding(self, f):
        nb = self.nb
        cell, line = nb.locate(f.line)
        if cell is None:
            return f
        end_cell, end_line = nb.locate(f.end_line)
        end_column = f.end_column
        if end_cell is not cell:  # a range spanning cells: keep it on the first one
            end_line, end_column = line, f.column + 1
        return replace(
            f,
            line=line,
            end_line=end_line,
            end_column=end_column,
            cell=cell.number,
            fix=_cell_fix(f.fix, cell),
            message=_cell_message(f.message, nb, cell),
            help=_cell_message(f.help, nb, cell),
        )

    def apply(self, findings) -> tuple:
        """Fixes apply cell by cell; every cell they do not touch keeps its source exactly."""
        nb = self.nb
        by_cell = {}
        for f in findings:
            if f.cell is not None:
                by_cell.setdefault(f.cell, []).append(f.fix)
        sources, applied = {}, []
        for number, fixes in sorted(by_cell.items()):
            cell = nb.cell(number)
            if cell is None:
                continue
            new_text, done = apply_fixes(cell.text, fixes)
            if done:
                sources[number] = new_text
                applied += done
        if not sources:
            return self.data, [], None
        return nb.with_sources(sources), applied, None

    def valid(self, data: bytes, text) -> bool:
        try:
            nb = Notebook(data)
        except NotebookError:
            return False
        return parses(nb.source)

    def diff(self, after: bytes) -> str:
        """A unified diff per changed code cell, named ``path:cell N``."""
        try:
            b = Notebook(after)
        except NotebookError:
            return ""
        old = {c.number: c.text for c in self.nb.cells}
        out = []
        for c in b.cells:
            if old.get(c.number, "") != c.text:
                name = f"{self.path}:cell {c.number}"
                out.append(diff_lines(old.get(c.number, ""), c.text, name, name))
        return "".join(out)


def open_document(path: str, data: bytes):
    """The document ``data`` (read from ``path``) holds; raises :class:`DocumentError`."""
    if is_notebook(path):
        return NotebookDocument.from_bytes(path, data)
    return PythonDocument.from_bytes(path, data)


def unified_diff(path: str, before: bytes, after: bytes) -> str:
    """A unified diff of two versions of ``path`` ('' when equal), as ``--diff`` prints it."""
    if before == after:
        return ""
    try:
        doc = open_document(path, before)
    except DocumentError:
        if is_notebook(path):
            return ""
        doc = PythonDocument(path, before, before.decode("utf-8", "replace"))
    return doc.diff(after)


def _cell_fix(fix, cell: CodeCell) -> dict | None:
    """The fix with edits relative to ``cell``, or None if it leaves the cell or touches a
    masked line."""
    if not fix:
        return fix
    last = cell.first_line + len(cell.lines)  # first virtual line after the cell
    edits = []
    for e in fix["edits"]:
        if not (cell.first_line <= e["line"] and e["end_line"] <= last):
            return None
        if e["end_line"] == last and e["end_column"] != 1:
            return None
        # An edit ending at column 1 stops before that line's first character.
        last_touched = e["end_line"] - (
            1 if e["end_column"] == 1 and e["end_line"] > e["line"] else 0
        )
        rel = range(e["line"] - cell.first_line + 1, last_touched - cell.first_line + 2)
        if any(r in cell.masked for r in rel if r <= len(cell.lines)):
            return None
        edits.append(
            {
                **e,
                "line": e["line"] - cell.first_line + 1,
                "end_line": e["end_line"] - cell.first_line + 1,
            }
        )
    return {**fix, "edits": edits}


_LINE_REF = re.compile(r"\bline (\d+)\b")


def _cell_message(message: str, nb: Notebook, here: CodeCell) -> str:
    """Rewrite the virtual ``line N`` a rule's message cites into the cell's numbering."""

    def sub(m):
        cell, line = nb.locate(int(m.group(1)))
        if cell is None or cell is here:
            return f"line {line}"
        return f"cell {cell.number}, line {line}"

    return _LINE_REF.sub(sub, message) if "line " in message else message


__all__ = [
    "DocumentError",
    "NotebookDocument",
    "PythonDocument",
    "decode",
    "diff_lines",
    "is_notebook",
    "open_document",
    "parses",
    "read_bytes",
    "unified_diff",
]
