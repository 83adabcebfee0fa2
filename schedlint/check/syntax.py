"""The compiler's verdict on a file (SL001), in memory bounded whatever the file's size.

A file the checker parses is first compiled by CPython (:func:`check`), so SL001 reports the
line and message Python itself gives. A file over :data:`MAX_PARSE_BYTES` is never given to a
parser whole: :func:`check_large` compiles it a piece at a time (pieces cut where a top-level
statement starts), so a 20 MB file costs what a 256 KB one does. Every function returns a
:class:`Problem` (message, line, column) or None, and never raises.
"""

from __future__ import annotations

import bisect
import re
import warnings
from typing import NamedTuple

from schedlint.model.lines import LINE_END, column_of, line_of

# Files bigger than this are never parsed whole, not even by the stdlib (whose compiler takes
# about 130 bytes per source byte: a 5 MB file 0.65 GB). Real training code is far smaller;
# the largest file of the torch package is 1.4 MB and mentions no optimizer.
MAX_PARSE_BYTES = 1 << 20
# A file whose libcst tree is estimated bigger than this (memory_budget.tree_estimate) is not
# parsed either: peak memory stays under 300 MB per process whatever the input.
MAX_TREE_BYTES = 200 << 20
PIECE_BYTES = 256 << 10  # what check_large compiles at once ...
PIECE_MAX_BYTES = 1 << 20  # ... and at most, when a statement runs across a cut
# What the compiler says about a piece cut inside a statement, a bracket or a string.
_CUT_SUSPECT = ("was never closed", "unterminated", "unexpected EOF")
# Lines that cannot start a top-level statement of their own (see _can_start).
_NOT_A_START = re.compile(r"(?:else|elif|except|finally)\b|from\s+__future__\b")
_CUT = re.compile(r"(?:\r\n|\r|\n)(?=[A-Za-z_])")  # before a line starting at column 0


class Problem(NamedTuple):
    message: str
    line: int
    column: int


def compile_quietly(source, path: str, flags: int = 0):
    # The compiler's own warnings (SyntaxWarning, DeprecationWarning) are not schedlint's to
    # print, and under `-W error` / PYTHONWARNINGS=error they would make valid code an SL001.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(source, path, "exec", flags, dont_inherit=True)


def check(path: str, source) -> Problem | None:
    """Where CPython's compiler rejects ``source`` (same line it reports), else None.

    ``source`` is the text, or its ``ast`` tree (then only the compiler's later checks run:
    ``return`` outside a function, duplicate arguments, ...).
    """
    try:
        compile_quietly(source, path)
        return None
    except SyntaxError as exc:  # includes IndentationError/TabError
        return _from_syntax_error(exc, source)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        # NUL bytes (ValueError), pathological nesting: the compiler gave up.
        return _gave_up(source, exc)


def parse_ast(path: str, source: str) -> tuple:
    """(ast tree, None) or (None, Problem): the parse half of :func:`check`."""
    import ast

    try:
        return compile_quietly(source, path, ast.PyCF_ONLY_AST), None
    except SyntaxError as exc:
        return None, _from_syntax_error(exc, source)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return None, _gave_up(source, exc)


def check_large(path: str, source: str) -> Problem | None:
    """:func:`check` for a file too big to compile whole: compile it a piece at a time.

    Pieces end before a line that can start a top-level statement. A cut that lands inside
    a statement (a bracket or a string that a column-0 line continues) makes the compiler
    report an unclosed construct; the piece is then doubled, up to PIECE_MAX_BYTES. Past
    that the rest is not checked (None): a piece's error is reported only when no cut can
    explain it.
    """
    cuts = [m.end() for m in _CUT.finditer(source) if _can_start(source, m.end())]
    cuts.append(len(source))
    start, line_base = 0, 0
    while start < len(source):
        limit = PIECE_BYTES
        while True:
            end = cuts[min(bisect.bisect_left(cuts, start + limit), len(cuts) - 1)]
            if end - start > PIECE_MAX_BYTES:
                return None  # no cut within reach (one huge statement): not checkable here
            piece = source[start:end]
            problem = check(path, piece)
            if problem is None:
                break
            if end == len(source) or not any(s in problem.message for s in _CUT_SUSPECT):
                return problem._replace(line=problem.line + line_base)
            if limit >= PIECE_MAX_BYTES:
                return None
            limit *= 2
        line_base += len(LINE_END.findall(piece))
        start = end
    return None


def _can_start(source: str, at: int) -> bool:
    """Whether the line at offset ``at`` (column 0, a letter or ``_``) can start a top-level
    statement: not a clause of the statement before it, not a future import (only the start
    of a file may hold those), and not the line after a decorator."""
    if _NOT_A_START.match(source, at):
        return False
    end = at - 1  # the line break before the line
    if source[end] == "\n" and end > 0 and source[end - 1] == "\r":
        end -= 1
    if end > 0 and source[end - 1] == "\\":  # a backslash continuation
        return False
    before = max(source.rfind("\n", 0, end), source.rfind("\r", 0, end)) + 1
    return source[before : before + 1] != "@"


def too_large_message(nbytes: int) -> str:
    return (
        f"file too large to check: {nbytes / 2**20:.1f} MiB, over the "
        f"{MAX_PARSE_BYTES / 2**20:g} MiB schedlint parses (its parser needs "
        f"about 0.6 GiB of memory per MiB); its syntax was checked, its "
        f"optimizer and scheduler code was not"
    )


def too_complex_message(nbytes: int, estimate: int) -> str:
    return (
        f"file too large to check: its syntax tree would take about "
        f"{estimate / 2**20:.0f} MiB of memory ({nbytes / 2**10:.0f} KiB of source), over "
        f"the {MAX_TREE_BYTES / 2**20:.0f} MiB schedlint allows; its syntax was checked, "
        f"its optimizer and scheduler code was not"
    )


# Where a compiler older than the construct stops: a type parameter list, a ``type`` alias, an
# f- or t-string (PEP 701 quotes, template strings), ``except A, B:``.
_NEWER_CONSTRUCT = re.compile(
    r"\b(?:def|class)\s+\w+\s*\[|^\s*type\s+\w|(?:\b[rR]?[fFtT]|\b[fFtT][rR])['\"]"
    r"|^\s*except\*?\s+[^\s(:][^:]*,",
    re.M,
)


def newer_grammar_at(source: str, problem: Problem) -> bool:
    """Whether the compiler's ``problem`` sits on a construct a newer grammar added (its line
    or the two before, where an f-string may start): only then is libcst's parse asked
    whether the file is valid code for a newer Python. Any other syntax error stays the
    compiler's (and a 10,000-deep bracket never reaches libcst's parser)."""
    lines = source.splitlines()[max(problem.line - 3, 0) : problem.line]
    return bool(_NEWER_CONSTRUCT.search("\n".join(lines)))


def _from_syntax_error(exc: SyntaxError, source) -> Problem:
    line, column = exc.lineno, exc.offset
    if line is None:
        line, column = _first_nul(source)
    return Problem(f"syntax error: {exc.msg}", line or 1, max(column or 1, 1))


def _gave_up(source, exc: Exception) -> Problem:
    line, column = _first_nul(source)
    return Problem(f"syntax error: {type(exc).__name__}: {exc}", line, column)


def _first_nul(source) -> tuple:
    """(line, column) of the first NUL, which the compiler rejects without locating it."""
    nul = source.find("\0") if isinstance(source, str) else -1
    if nul < 0:
        return 1, 1
    return line_of(source, nul), column_of(source, nul)


__all__ = [
    "MAX_PARSE_BYTES",
    "MAX_TREE_BYTES",
    "Problem",
    "check",
    "check_large",
    "compile_quietly",
    "newer_grammar_at",
    "parse_ast",
    "too_complex_message",
    "too_large_message",
]
