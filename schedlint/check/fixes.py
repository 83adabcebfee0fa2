"""Apply rule fixes to source text, with ruff's semantics.

A rule attaches a :class:`schedlint.rules.base.Fix` to a report: an applicability (``safe`` or
``unsafe``), a message and position-based edits ``(line, column, end_line, end_column,
content)`` (1-based, end exclusive, columns in characters as libcst counts them) on the text
the rule read. Everything outside the edited ranges is left byte for byte as it was, so
comments and formatting elsewhere survive.

:func:`fix_file` is the whole ``--fix`` / ``--diff`` loop for one file: check, apply every
applicable fix that does not overlap an earlier one, verify the result still parses (a fix whose
result does not parse is dropped, never written), check again, and repeat until nothing changes
(at most :data:`MAX_ITERATIONS` rounds). A fix is applied atomically: all of its edits or none.
Notebooks (``*.ipynb``) are fixed cell by cell through :mod:`schedlint.check.notebook`.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Optional

MAX_ITERATIONS = 10
APPLICABILITIES = ("safe", "unsafe")
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


def edit_spans(text: str, edits, starts: Optional[list] = None) -> list:
    """``[(start_offset, end_offset, content)]`` for ``edits``, sorted; raises EditError."""
    starts = starts if starts is not None else line_starts(text)
    spans = []
    for e in edits:
        line, col, end_line, end_col, content = _edit_tuple(e)
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


def _edit_tuple(e):
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


def parses(text: str) -> bool:
    """True when both CPython and libcst accept ``text``."""
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


def applicable(fix: Optional[dict], unsafe: bool) -> bool:
    if not fix or not fix.get("edits"):
        return False
    return fix.get("applicability") == "safe" or unsafe and fix.get("applicability") == "unsafe"


def _key(finding) -> tuple:
    fix = finding.fix
    return (finding.code, finding.cell if hasattr(finding, "cell") else None,
            tuple(tuple(_edit_tuple(e)) for e in fix["edits"]))


@dataclass
class FixOutcome:
    path: str
    original: bytes
    fixed: bytes
    result: object  # the FileResult of checking ``fixed``
    fixed_counts: Counter = field(default_factory=Counter)  # code -> fixes applied
    converged: bool = True
    rejected: int = 0  # fixes whose result did not parse (never applied)
    stdin: bool = False

    @property
    def changed(self) -> bool:
        return self.fixed != self.original

    @property
    def fixed_total(self) -> int:
        return sum(self.fixed_counts.values())

    def diff(self) -> str:
        return unified_diff(self.path, self.original, self.fixed)


class _PythonDocument:
    """A ``.py`` file: decoded once, fixed as text, encoded back the same way."""

    def __init__(self, data: bytes, path: str):
        import io
        import tokenize

        self.bom = data.startswith(b"\xef\xbb\xbf")
        try:
            self.encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except (SyntaxError, LookupError):
            self.encoding = None
        if self.encoding == "utf-8-sig":
            self.encoding = "utf-8"

    def apply(self, data: bytes, findings) -> tuple:
        text = data.decode(self.encoding)
        if self.bom and text.startswith("\ufeff"):
            text = text[1:]
        new_text, applied = apply_fixes(text, [f.fix for f in findings])
        return self._encode(new_text), applied, new_text

    def _encode(self, text: str) -> bytes:
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode(self.encoding)

    def valid(self, data: bytes, text: str) -> bool:
        return parses(text)


def _document(path: str, data: bytes):
    if path.endswith(".ipynb"):
        from schedlint.check.notebook import NotebookDocument

        return NotebookDocument(data, path)
    return _PythonDocument(data, path)


def fix_file(path: str, data: Optional[bytes], codes, *, unsafe: bool = False,
             check: Optional[Callable] = None, max_iterations: int = MAX_ITERATIONS,
             first=None) -> FixOutcome:
    """Fix ``path`` (its bytes ``data``, read when None) in memory; nothing is written.

    ``check(path, data)`` returns a FileResult (default: the engine's ``check_source`` with
    ``codes``); ``first`` is the result of checking ``data`` when the caller has it. The
    returned outcome's ``result`` is the check of the final text, so its findings are what
    remains.
    """
    from schedlint.check.engine import check_source

    if check is None:
        def check(p, d):
            return check_source(p, d, codes, check_syntax_all=True)
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    original = data
    result = first if first is not None else check(path, data)
    outcome = FixOutcome(path=path, original=original, fixed=data, result=result)
    if not any(applicable(f.fix, unsafe) for f in result.findings):
        return outcome
    try:
        doc = _document(path, data)
        if getattr(doc, "encoding", "") is None:
            return outcome
    except ValueError:
        return outcome
    rejected = set()
    seen_states = {data}
    for _ in range(max_iterations):
        todo = [f for f in result.findings
                if applicable(f.fix, unsafe) and _key(f) not in rejected]
        if not todo:
            break
        new_data, applied, new_text = doc.apply(data, todo)
        if not applied:
            break
        if not doc.valid(new_data, new_text):
            # Find the culprits one by one; the others still apply.
            new_data, applied = data, []
            for f in todo:
                trial, ok, trial_text = doc.apply(new_data, [f])
                if ok and doc.valid(trial, trial_text):
                    new_data = trial
                    applied.append(f.fix)
                    break  # positions of the others moved: re-check first
                rejected.add(_key(f))
                outcome.rejected += 1
            if not applied:
                continue
        applied_ids = {id(x) for x in applied}
        for f in todo:
            if id(f.fix) in applied_ids:
                outcome.fixed_counts[f.code] += 1
        data = new_data
        result = check(path, data)
        if data in seen_states:  # a cycle of fixes undoing each other
            outcome.converged = False
            break
        seen_states.add(data)
    else:
        if any(applicable(f.fix, unsafe) and _key(f) not in rejected for f in result.findings):
            outcome.converged = False
    outcome.fixed, outcome.result = data, result
    return outcome


def fix_results(results, codes_for: Callable, *, unsafe: bool, write: bool,
                stdin: Optional[tuple] = None) -> list:
    """Fix every file in ``results`` (FileResults of a check) that has an applicable fix.

    Replaces each fixed file's entry in ``results`` (in place) by the check of its fixed text
    and returns the :class:`FixOutcome` of each. ``write`` writes changed files back (never
    the stdin entry, named by ``stdin = (name, data)``); otherwise nothing is written.
    """
    from dataclasses import replace

    outcomes = []
    for i, r in enumerate(results):
        codes = codes_for(r.path)
        r = replace(r, findings=[f for f in r.findings if f.code in codes])
        if not any(applicable(f.fix, unsafe) for f in r.findings):
            continue
        is_stdin = stdin is not None and i == len(results) - 1 and r.path == stdin[0]
        data = stdin[1] if is_stdin else None
        if data is None:
            try:
                with open(r.path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
        outcome = fix_file(r.path, data, codes, unsafe=unsafe,
                           first=r if r.sha is None or _sha(data) == r.sha else None)
        if outcome.changed and write and not is_stdin:
            write_atomic(r.path, outcome.fixed)
        outcome.stdin = is_stdin
        results[i] = outcome.result
        outcomes.append(outcome)
    return outcomes


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def write_atomic(path: str, data: bytes) -> None:
    """Replace the file's content (through a symlink, keeping its permissions)."""
    import os
    import tempfile

    real = os.path.realpath(path)
    folder = os.path.dirname(real) or "."
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".schedlint-fix-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.chmod(tmp, os.stat(real).st_mode & 0o7777)
        except OSError:
            pass
        os.replace(tmp, real)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def unified_diff(path: str, before: bytes, after: bytes) -> str:
    """A unified diff of two versions of ``path`` ('' when equal), as ``--diff`` prints it."""
    if before == after:
        return ""
    if path.endswith(".ipynb"):
        from schedlint.check.notebook import notebook_diff

        return notebook_diff(path, before, after)
    a = _text_for_diff(before)
    b = _text_for_diff(after)
    return _diff_lines(a, b, path, path)


def _text_for_diff(data: bytes) -> str:
    from schedlint.check.engine import decode

    text, problem = decode(data, "<diff>")
    return text if problem is None else data.decode("utf-8", "replace")


def _diff_lines(a: str, b: str, from_name: str, to_name: str) -> str:
    out = []
    for line in difflib.unified_diff(a.splitlines(keepends=True), b.splitlines(keepends=True),
                                     fromfile=from_name, tofile=to_name):
        if not line.endswith(("\n", "\r")):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


__all__ = ["APPLICABILITIES", "EditError", "FixOutcome", "MAX_ITERATIONS", "apply_fixes",
           "applicable", "edit_spans", "fix_file", "fix_results", "line_starts", "parses",
           "unified_diff", "write_atomic"]
