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
Every input is a :mod:`schedlint.check.documents` document: notebooks (``*.ipynb``) are
fixed cell by cell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from schedlint.check.documents import DocumentError, open_document, parses, read_bytes, unified_diff
from schedlint.check.edits import EditError, apply_fixes, edit_spans, edit_tuple, line_starts
from schedlint.check.options import Options
from schedlint.check.pipeline import check_file
from schedlint.model.tree import content_hash

MAX_ITERATIONS = 10
APPLICABILITIES = ("safe", "unsafe")


def applicable(fix: dict | None, unsafe: bool) -> bool:
    if not fix or not fix.get("edits"):
        return False
    return fix.get("applicability") == "safe" or unsafe and fix.get("applicability") == "unsafe"


def _key(finding) -> tuple:
    fix = finding.fix
    return (
        finding.code,
        finding.cell if hasattr(finding, "cell") else None,
        tuple(tuple(edit_tuple(e)) for e in fix["edits"]),
    )


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


def fix_file(
    path: str,
    data: bytes | None,
    options,
    *,
    unsafe: bool = False,
    check: Callable | None = None,
    max_iterations: int = MAX_ITERATIONS,
    first=None,
) -> FixOutcome:
    """Fix ``path`` (its bytes ``data``, read when None) in memory; nothing is written.

    ``options`` is the run's :class:`Options` (or just a set of rule codes). ``check(path,
    data)`` returns a FileResult (default: the pipeline with ``options``); ``first`` is the
    result of checking ``data`` when the caller has it. The returned outcome's ``result`` is
    the check of the final text, so its findings are what remains.
    """
    if not isinstance(options, Options):
        options = Options(codes=frozenset(options))
    if check is None:
        strict = replace(options, check_syntax=True)

        def check(p, d):
            return check_file(p, strict, data=d)

    if data is None:
        data = read_bytes(path)
    original = data
    result = first if first is not None else check(path, data)
    outcome = FixOutcome(path=path, original=original, fixed=data, result=result)
    if not any(applicable(f.fix, unsafe) for f in result.findings):
        return outcome
    try:
        doc = open_document(path, data)
    except DocumentError:
        return outcome
    rejected = set()
    seen_states = {data}
    for _ in range(max_iterations):
        todo = [f for f in result.findings if applicable(f.fix, unsafe) and _key(f) not in rejected]
        if not todo:
            break
        new_data, applied, new_text = doc.apply(todo)
        if not applied:
            break
        if not doc.valid(new_data, new_text):
            # Find the culprits one by one; the others still apply.
            new_data, applied = data, []
            for f in todo:
                trial, ok, trial_text = doc.apply([f])
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
        try:
            doc = open_document(path, data)
        except DocumentError:  # cannot happen for a fix that parses; stop all the same
            break
    else:
        if any(applicable(f.fix, unsafe) and _key(f) not in rejected for f in result.findings):
            outcome.converged = False
    outcome.fixed, outcome.result = data, result
    return outcome


def fix_results(results, options: Options, *, stdin: tuple | None = None) -> list:
    """Fix every file in ``results`` (FileResults of a check) that has an applicable fix.

    Replaces each fixed file's entry in ``results`` (in place) by the check of its fixed text
    and returns the :class:`FixOutcome` of each. With ``options.fix`` (and not
    ``options.diff``) changed files are written back (never the stdin entry, named by
    ``stdin = (name, data)``); otherwise nothing is written.
    """
    unsafe, write = options.unsafe_fixes, options.fix and not options.diff
    outcomes = []
    for i, r in enumerate(results):
        if not any(applicable(f.fix, unsafe) for f in r.findings):
            continue
        is_stdin = stdin is not None and i == len(results) - 1 and r.path == stdin[0]
        data = stdin[1] if is_stdin else None
        if data is None:
            try:
                data = read_bytes(r.path)
            except OSError:
                continue
        outcome = fix_file(
            r.path,
            data,
            options,
            unsafe=unsafe,
            first=r if r.sha is None or content_hash(data) == r.sha else None,
        )
        if outcome.changed and write and not is_stdin:
            write_atomic(r.path, outcome.fixed)
        outcome.stdin = is_stdin
        results[i] = outcome.result
        outcomes.append(outcome)
    return outcomes


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


__all__ = [
    "APPLICABILITIES",
    "EditError",
    "FixOutcome",
    "MAX_ITERATIONS",
    "apply_fixes",
    "applicable",
    "edit_spans",
    "fix_file",
    "fix_results",
    "line_starts",
    "parses",
    "unified_diff",
    "write_atomic",
]
