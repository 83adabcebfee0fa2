"""Jupyter notebooks (``*.ipynb``): check the code cells as one Python program.

The notebook is read with the standard library's ``json`` (nbformat 4: a ``cells`` array whose
code cells hold ``source`` as a string or a list of lines). Every code cell, in order, becomes
part of one virtual Python source, so an optimizer built in cell 2 is known to the loop in
cell 5, exactly as when the notebook runs top to bottom. Markdown and raw cells are skipped, and
so are notebooks whose kernel language is not Python.

IPython syntax is masked without shifting any position: a line magic (``%time x``), a shell
line (``!nvidia-smi``), an assignment from either (``files = !ls``) and a help line (``obj?``)
at the start of a statement become ``pass`` at the same indentation (so an enclosing block stays
valid); a cell magic that runs its body as Python (``%%time``, ``%%timeit``, ``%%capture``, ...)
masks only its first line, any other cell magic (``%%bash``, ``%%writefile``, ...) blanks the
whole cell. Masked lines keep their number, every other line keeps its text, so positions
map back exactly.

Positions are reported per cell: ``Finding.cell`` is the 1-based index of the cell in the
notebook's ``cells`` array (markdown cells count, so cell N is ``cells[N-1]``), and ``line``,
``column`` and fix edits are relative to that cell's source. The text output prints
``nb.ipynb:cell 3:4:1: SL101 ...`` and JSON adds a ``"cell": 3`` key.

Fixes apply cell by cell (:class:`NotebookDocument`); a fix whose edits leave its cell or touch
a masked line is not offered. The notebook is written back with its own JSON indentation, and
every cell the fixes did not touch keeps its source exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from typing import Optional

_NEWLINE = re.compile(r"\r\n|\r|\n")
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_ASSIGN_MAGIC = re.compile(r"^[A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*\s*=\s*[%!]")
_HELP = re.compile(r"^(?:\?{1,2}\s*[\w.]+|[\w.]+\s*\?{1,2})\s*$")
# Cell magics whose body is Python: mask the magic line only.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "px", "pypy",
                                "autoreload"})


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
    """True for an IPython line magic, shell escape, magic assignment or help line."""
    s = line.strip()
    if not s:
        return False
    return s[0] in "%!?" or bool(_ASSIGN_MAGIC.match(s)) or bool(_HELP.match(s))


def mask_cell(lines: list) -> tuple:
    """``(lines, masked)``: the cell's lines with IPython syntax masked, and which (1-based)."""
    out, masked = list(lines), set()
    first = next((i for i, l in enumerate(lines) if l.strip()), None)
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
            indent = line[:len(line) - len(line.lstrip())]
            out[i] = indent + "pass" if not continuing_magic else ""
            masked.add(i + 1)
            continuing_magic = line.rstrip().endswith("\\")
            continue
        scanner.feed(line)
    return out, masked


def _is_python(nb: dict) -> bool:
    meta = nb.get("metadata") or {}
    if not isinstance(meta, dict):
        return True
    lang = (meta.get("language_info") or {}).get("name") if isinstance(
        meta.get("language_info"), dict) else None
    if lang is None and isinstance(meta.get("kernelspec"), dict):
        lang = meta["kernelspec"].get("language")
    return lang is None or str(lang).lower() in ("python", "python3", "ipython", "ipython3")


class Notebook:
    """A parsed notebook and the virtual Python source of its code cells."""

    def __init__(self, data: bytes):
        try:
            self.raw = data.decode("utf-8-sig")
            nb = json.loads(self.raw)
        except (UnicodeDecodeError, ValueError) as exc:
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
                text = _cell_text(cell.get("source", ""))
                lines, masked = mask_cell(_split(text))
                self.cells.append(CodeCell(number=index, text=text, lines=lines, masked=masked,
                                           first_line=line))
                line += len(lines)
        self.source = "".join(l + "\n" for c in self.cells for l in c.lines)

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

    def cell(self, number: int) -> Optional[CodeCell]:
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
        text = json.dumps(nb, indent=indent, ensure_ascii=ascii_only,
                          separators=(",", ": ") if indent is not None else (", ", ": "))
        return text + ("\n" if self.raw.endswith("\n") else "")


def _map_fix(fix, cell: CodeCell):
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
        last_touched = e["end_line"] - (1 if e["end_column"] == 1 and e["end_line"] > e["line"]
                                        else 0)
        rel = range(e["line"] - cell.first_line + 1, last_touched - cell.first_line + 2)
        if any(r in cell.masked for r in rel if r <= len(cell.lines)):
            return None
        edits.append({**e, "line": e["line"] - cell.first_line + 1,
                      "end_line": e["end_line"] - cell.first_line + 1})
    return {**fix, "edits": edits}


def _map_finding(f, nb: Notebook):
    cell, line = nb.locate(f.line)
    if cell is None:
        return f
    end_cell, end_line = nb.locate(f.end_line)
    end_column = f.end_column
    if end_cell is not cell:  # a range spanning cells: keep it on the first one
        end_line, end_column = line, f.column + 1
    return replace(f, line=line, end_line=end_line, end_column=end_column, cell=cell.number,
                   fix=_map_fix(f.fix, cell), message=_map_message(f.message, nb, cell),
                   help=_map_message(f.help, nb, cell))


_LINE_REF = re.compile(r"\bline (\d+)\b")


def _map_message(message: str, nb: Notebook, here: CodeCell) -> str:
    """Rewrite the virtual ``line N`` a rule's message cites into the cell's numbering."""
    def sub(m):
        cell, line = nb.locate(int(m.group(1)))
        if cell is None or cell is here:
            return f"line {line}"
        return f"cell {cell.number}, line {line}"

    return _LINE_REF.sub(sub, message) if "line " in message else message


def check_notebook(path: str, data: Optional[bytes], codes, *, check_syntax_all: bool = False):
    """The engine's per-file pipeline for a notebook; never raises."""
    from schedlint.check import gate as prefilter
    from schedlint.check.engine import FileResult, _builtin, _selected, check_source

    result = FileResult(path=path)
    if data is None:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            result.findings.append(_builtin("SL002", path,
                                            f"cannot read file: {exc.strerror or exc}"))
            return _selected(result, codes)
    result.sha = hashlib.sha256(data).hexdigest()
    # The raw JSON holds every cell's text verbatim (JSON escapes keep these words intact).
    if not prefilter.admits(data) and not check_syntax_all:
        return result
    try:
        nb = Notebook(data)
    except NotebookError as exc:
        result.findings.append(_builtin("SL002", path, f"cannot read notebook: {exc}"))
        return _selected(result, codes)
    if not nb.cells:
        return result
    inner = check_source(path, nb.source.encode("utf-8"), codes,
                         check_syntax_all=check_syntax_all, python_only=True)
    result.parsed = inner.parsed
    result.findings = [_map_finding(f, nb) for f in inner.findings]
    if inner.facts is not None:
        # Keys read in the notebook count for the project rules; keys it defines are not
        # reported by them (a project finding has no cell to point at).
        inner.facts.group_keys = []
        result.facts = inner.facts
    return result


class NotebookDocument:
    """What :func:`schedlint.check.fixes.fix_file` needs to fix a notebook cell by cell."""

    encoding = "utf-8"

    def __init__(self, data: bytes, path: str):
        Notebook(data)  # raises NotebookError (a ValueError) when it is not one

    def apply(self, data: bytes, findings) -> tuple:
        from schedlint.check.fixes import apply_fixes

        nb = Notebook(data)
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
            return data, [], None
        return nb.with_sources(sources), applied, None

    def valid(self, data: bytes, text) -> bool:
        from schedlint.check.fixes import parses

        try:
            nb = Notebook(data)
        except NotebookError:
            return False
        return parses(nb.source)


def notebook_diff(path: str, before: bytes, after: bytes) -> str:
    """A unified diff per changed code cell, named ``path:cell N``."""
    from schedlint.check.fixes import _diff_lines

    try:
        a, b = Notebook(before), Notebook(after)
    except NotebookError:
        return ""
    old = {c.number: c.text for c in a.cells}
    out = []
    for c in b.cells:
        if old.get(c.number, "") != c.text:
            name = f"{path}:cell {c.number}"
            out.append(_diff_lines(old.get(c.number, ""), c.text, name, name))
    return "".join(out)


def is_notebook(path: str) -> bool:
    return str(path).endswith(".ipynb")


__all__ = ["Notebook", "NotebookDocument", "NotebookError", "check_notebook", "is_magic",
           "is_notebook", "mask_cell", "notebook_diff"]
