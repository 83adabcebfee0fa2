"""Jupyter notebooks (``*.ipynb``): check the code cells as one Python program.

The notebook is read with the standard library's ``json`` (nbformat 4: a ``cells`` array whose
code cells hold ``source`` as a string or a list of lines). Every code cell, in order, becomes
part of one virtual Python source, so an optimizer built in cell 2 is known to the loop in
cell 5, exactly as when the notebook runs top to bottom. Markdown and raw cells are skipped, and
so are notebooks whose kernel language is not Python, and code cells that VS Code marks as
another language (``"metadata": {"vscode": {"languageId": "plaintext"}}``: a printed training
log kept as a code cell, which the editor does not hand to the Python kernel).

IPython syntax is masked without shifting any position: a line magic (``%time x``), a shell line
(``!nvidia-smi``), an assignment from either (``files = !ls``), a magic called without its ``%``
(``pip install timm``) and a help line (``obj?``) at the start of a statement become ``pass`` at
the same indentation (so an enclosing block stays valid); a cell magic that runs its body as
Python (``%%time``, ``%%timeit``, ``%%capture``, ...) masks only its first line, any other cell
magic (``%%bash``, ``%%writefile``, ...) blanks the whole cell. A ``from __future__`` import at
the top of a cell becomes ``pass`` as well: Jupyter compiles each cell on its own, where the
joined source would reject any but the first cell's. Masked lines keep their number, every other
line keeps its text, so positions map back exactly.

Positions are reported per cell: ``Finding.cell`` is the 1-based index of the cell in the
notebook's ``cells`` array (markdown cells count, so cell N is ``cells[N-1]``), and ``line``,
``column`` and fix edits are relative to that cell's source. The text output prints
``nb.ipynb:cell 3:4:1: SL101 ...`` and JSON adds a ``"cell": 3`` key.

Checking, and fixing cell by cell, go through :class:`schedlint.check.documents.NotebookDocument`;
a fix whose edits leave its cell or touch a masked line is not offered. The notebook is written
back with its own JSON indentation, and every cell the fixes did not touch keeps its source
exactly.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field

_NEWLINE = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_ASSIGN_MAGIC = re.compile(r"^[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")
_HELP = re.compile(r"^(?:\?{1,2}\s*[\w.]+|[\w.]+\s*\?{1,2})\s*$")
# IPython's automagic: a line magic or shell alias called without its ``%`` (``pip install
# timm``, ``cd /content``), as Colab notebooks often do. Only when an argument follows that
# Python could not read after a name: ``time if x else y`` and ``ls -la`` stay code.
_AUTOMAGIC = re.compile(
    r"^(?:pip|conda|cd|ls|ll|pwd|mkdir|cat|cp|mv|rm|rmdir|env|set_env|load_ext|reload_ext"
    r"|matplotlib|run|time|timeit|who|whos|pinfo|psource|pdoc)\s+"
    r"(?!(?:if|else|in|is|and|or|not|for)\b)[\w/~$'\".]"
)
# Cell magics whose body is Python: mask the magic line only.
PYTHON_CELL_MAGICS = frozenset(
    {"time", "timeit", "capture", "prun", "debug", "px", "pypy", "autoreload"}
)


class NotebookError(ValueError):
    """The file is not a notebook this module can read."""


@dataclass
class CodeCell:
    number: int  # 1-based index in the notebook's cells array
    text: str  # the cell's source, as stored
    lines: list  # the masked lines (no terminators) that go into the virtual source
    masked: set = field(default_factory=set)  # 1-based cell lines that were masked
    first_line: int = 1  # virtual line of the cell's line 1


def _cell_text(source) -> str:
    if isinstance(source, list):
        if not all(isinstance(s, str) for s in source):
            raise NotebookError("a cell's source is not text")
        return "".join(source)
    if isinstance(source, str):
        return source
    raise NotebookError("a cell's source is not text")


def _split(text: str) -> list:
    lines = _NEWLINE.split(text)
    if lines and lines[-1] == "" and len(lines) > 1:
        lines.pop()  # the text ends with a line break
    return [] if lines == [""] else lines


class _Scanner:
    """Tracks whether the next line starts a statement (not inside brackets, a string, or a
    backslash continuation), which is the only place IPython rewrites magics."""

    def __init__(self):
        self.depth = 0
        self.string = None  # the open string's delimiter
        self.continued = False

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued

    def feed(self, line: str) -> None:
        i, n = 0, len(line)
        while i < n:
            c = line[i]
            if self.string is not None:
                if c == "\\":
                    i += 2
                elif line.startswith(self.string, i):
                    i += len(self.string)
                    self.string = None
                else:
                    i += 1
                continue
            if c == "#":
                n = i  # the rest is a comment
                break
            if c in "([{":
                self.depth += 1
            elif c in ")]}":
                self.depth = max(0, self.depth - 1)
            elif c in "\"'":
                self.string = c * 3 if line.startswith(c * 3, i) else c
                i += len(self.string)
                continue
            i += 1
        code = line[:n].rstrip()
        self.continued = code.endswith("\\") and (self.string is None or len(self.string) == 1)
        if self.string is not None and len(self.string) == 1 and not self.continued:
            self.string = None  # an unterminated one-line string: a syntax error anyway


def is_magic(line: str) -> bool:
    """True for an IPython line magic (with or without its ``%``), shell escape, magic
    assignment or help line."""
    s = line.strip()
    if not s:
        return False
    return s[0] in "%!?" or any(p.match(s) for p in (_ASSIGN_MAGIC, _HELP, _AUTOMAGIC))


def mask_cell(lines: list) -> tuple:
    """``(lines, masked)``: the cell's lines with IPython syntax masked, and which (1-based)."""
    out, masked = list(lines), set()
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(None, 1)
        if not name or name[0] not in PYTHON_CELL_MAGICS:
            return [""] * len(lines), set(range(1, len(lines) + 1))
        out[first], masked = "", {first + 1}
    scanner = _Scanner()
    continuing_magic = False
    for i, line in enumerate(lines):
        if i + 1 in masked:
            continue
        if continuing_magic or scanner.at_statement_start and is_magic(line):
            indent = line[: len(line) - len(line.lstrip())]
            out[i] = indent + "pass" if not continuing_magic else ""
            masked.add(i + 1)
            continuing_magic = line.rstrip().endswith("\\")
            continue
        scanner.feed(line)
    if any("__future__" in line for line in out):
        _mask_future_imports(out, masked)
    return out, masked


def _mask_future_imports(out: list, masked: set) -> None:
    """Mask (as ``pass``) the ``from __future__`` imports at the top of the cell.

    Jupyter compiles each cell on its own, so a future import is valid at the top of any cell
    (after comments, blank lines, a docstring and other future imports); in the virtual
    source, which joins the cells, it is valid only at the top of the first, and the compiler
    would reject the notebook (SL001). One that is not at the top of its cell, or that the
    compiler rejects on its own (an unknown feature), is left for the compiler to report.
    """
    import ast

    scanner = _Scanner()
    first, start = True, None
    for i, line in enumerate(out):
        if start is None:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if line[0].isspace():
                return
            start = i
        scanner.feed(line)
        if not scanner.at_statement_start:
            continue
        text = "\n".join(out[start : i + 1]) + "\n"
        try:
            with warnings.catch_warnings():  # the compiler's (a docstring's "\d") are not ours
                warnings.simplefilter("ignore")
                [statement] = ast.parse(text).body
                future = isinstance(statement, ast.ImportFrom) and statement.module == "__future__"
                if future:
                    compile(text, "<cell>", "exec", dont_inherit=True)  # the feature exists
            if future:
                out[start : i + 1] = ["pass"] + [""] * (i - start)
                masked.update(range(start + 1, i + 2))
            elif not (
                first
                and isinstance(statement, ast.Expr)
                and isinstance(statement.value, ast.Constant)
                and isinstance(statement.value.value, str)
            ):  # not the docstring
                return
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            # more than one statement, or not valid alone
            return
        first, start = False, None


def _is_python(nb: dict) -> bool:
    meta = nb.get("metadata") or {}
    if not isinstance(meta, dict):
        return True
    lang = (
        (meta.get("language_info") or {}).get("name")
        if isinstance(meta.get("language_info"), dict)
        else None
    )
    if lang is None and isinstance(meta.get("kernelspec"), dict):
        lang = meta["kernelspec"].get("language")
    return lang is None or str(lang).lower() in ("python", "python3", "ipython", "ipython3")


def _cell_is_python(cell: dict) -> bool:
    """False when the editor records another language for this code cell.

    VS Code stores a code cell's language under ``metadata.vscode.languageId`` when it differs
    from the kernel's; the editor does not hand such a cell (pasted output, shell, SQL) to the
    Python kernel, and compiling it as Python would report a syntax error that is not one.
    """
    meta = cell.get("metadata")
    vscode = meta.get("vscode") if isinstance(meta, dict) else None
    lang = vscode.get("languageId") if isinstance(vscode, dict) else None
    return not isinstance(lang, str) or lang.lower() in ("python", "python3", "ipython")


class Notebook:
    """A parsed notebook and the virtual Python source of its code cells."""

    def __init__(self, data: bytes):
        try:
            self.raw = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:  # nbformat says UTF-8; a JSON error would not say
            raise NotebookError(f"not UTF-8: invalid byte at offset {exc.start}") from None
        try:
            nb = json.loads(self.raw)
        except ValueError as exc:
            raise NotebookError(f"not a notebook: invalid JSON ({exc})") from None
        if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
            raise NotebookError("not a notebook: no `cells` array")
        self.nb = nb
        self.cells = []
        line = 1
        if _is_python(nb):
            for index, cell in enumerate(nb["cells"], 1):
                if not isinstance(cell, dict) or cell.get("cell_type") != "code":
                    continue
                if not _cell_is_python(cell):
                    continue
                text = _cell_text(cell.get("source", ""))
                lines, masked = mask_cell(_split(text))
                self.cells.append(
                    CodeCell(number=index, text=text, lines=lines, masked=masked, first_line=line)
                )
                line += len(lines)
        self.source = "".join(line + "\n" for c in self.cells for line in c.lines)

    def locate(self, line: int) -> tuple:
        """``(cell, line_in_cell)`` of a virtual line (clamped to the last cell's end)."""
        if not self.cells:
            return None, line
        found = self.cells[0]
        for c in self.cells:
            if c.first_line <= line:
                found = c
            else:
                break
        rel = line - found.first_line + 1
        if found is self.cells[-1] and len(found.lines) and rel > len(found.lines) + 1:
            rel = len(found.lines) + 1
        return found, max(rel, 1)

    def cell(self, number: int) -> CodeCell | None:
        return next((c for c in self.cells if c.number == number), None)

    # -- writing back -------------------------------------------------------------------------
    def with_sources(self, sources: dict) -> bytes:
        """The notebook's bytes with code cell ``number``'s source replaced by ``sources``."""
        nb = self.nb
        for number, text in sources.items():
            cell = nb["cells"][number - 1]
            if isinstance(cell.get("source"), list):
                cell["source"] = _LINE.findall(text)
            else:
                cell["source"] = text
        return self._dumps(nb).encode("utf-8")

    def _dumps(self, nb) -> str:
        m = re.search(r"\n( +)\S", self.raw)
        indent = len(m.group(1)) if m else None
        ascii_only = not any(ord(ch) > 127 for ch in self.raw) and "\\u" in self.raw
        text = json.dumps(
            nb,
            indent=indent,
            ensure_ascii=ascii_only,
            separators=(",", ": ") if indent is not None else (", ", ": "),
        )
        return text + ("\n" if self.raw.endswith("\n") else "")


__all__ = ["CodeCell", "Notebook", "NotebookError", "is_magic", "mask_cell"]
