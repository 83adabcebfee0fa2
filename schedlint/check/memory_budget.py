"""The memory budget a process pool's workers share, so that big syntax trees never pile up.

A syntax tree is far bigger than its source: libcst's takes 240-590 bytes per source byte for
ordinary code (a 462 KB torch test file: 142 MB) and up to 1.2 KB for one huge literal (10,000
param-group dicts), the stdlib ``ast``'s 75-130. :func:`tree_estimate` predicts libcst's from
the tokens and the largest statement; the pipeline refuses to parse a file whose estimate is
over its per-process limit (schedlint.check.syntax.MAX_TREE_BYTES). One big file parsed
next to small ones is fine; two parsed at once, or one big tree next to a worker's ``ast`` pass
over a 300 KB file, push the process tree past its memory target. So before building a tree
for a file of SMALL_FILE bytes or more, a worker reserves the tree's estimated size, and waits
while the reservations of the other workers would exceed CAP. A reservation bigger than CAP
proceeds when nothing else is reserved, so every file is checked eventually; a wait gives up
after WAIT seconds (a worker stuck elsewhere must not stall the run). A worker first asks
without waiting (``wait=False`` raises :class:`WouldWait`) and checks the rest of its task
before it comes back to the files it had to put off.

Only the estimate is shared, never a measurement: reading RSS is slower than parsing a small
file, and the estimate is what decides whether to wait.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager, nullcontext
from functools import cache

AST_BYTES_PER_BYTE = 130  # measured 75-130 (the compiler's ast of dense code)
# libcst's tree, measured with libcst 1.9 (peak RSS of parse_module): 240-590 bytes per source
# byte for ordinary code, 1.1-1.9 KB for one huge literal (10,000 param-group dicts). Tokens
# predict it better than bytes: 1.1-2.1 KB per token, plus about 1.5 KB per token of the
# largest single statement (a huge literal is far costlier than the same tokens as separate
# statements); blank lines and comments inside brackets cost about 0.6 KB per line.
LIBCST_PER_TOKEN = 2200
LIBCST_PER_STATEMENT_TOKEN = 1600
LIBCST_PER_LINE = 600
LIBCST_BYTES_PER_BYTE = 1900  # the worst measured per byte: for files too small to estimate
SMALL_FILE = 32 << 10  # smaller files reserve nothing: their trees stay under 13 MB
CAP = 200 << 20  # estimated tree bytes alive at once across the workers
WAIT = 300.0


class WouldWait(Exception):
    """A reservation asked for with ``wait=False`` would have had to wait."""


class MemoryBudget:
    """Estimated tree bytes reserved by the workers of one pool (fork-inherited)."""

    def __init__(self, ctx, cap: int = CAP):
        self._cond = ctx.Condition()
        self._used = ctx.Value("q", 0, lock=False)  # guarded by _cond
        self.cap = cap

    @contextmanager
    def reserve(self, nbytes: int, wait: bool = True):
        with self._cond:
            if not wait and self._used.value and self._used.value + nbytes > self.cap:
                raise WouldWait
            deadline = time.monotonic() + WAIT
            while self._used.value and self._used.value + nbytes > self.cap:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            self._used.value += nbytes
        try:
            yield
        finally:
            with self._cond:
                self._used.value -= nbytes
                self._cond.notify_all()


def reservation(budget, source_bytes: int, per_byte: int, wait: bool = True):
    """``budget.reserve`` for a tree of ``source_bytes`` source, or nothing when there is no
    budget (one process) or the file is small."""
    if budget is None or source_bytes < SMALL_FILE:
        return nullcontext()
    return budget.reserve(source_bytes * per_byte, wait)


def no_reservation(source_bytes: int, per_byte: int):
    """The ``reserve`` of a process without a budget (no pool)."""
    return nullcontext()


_TOKEN = re.compile(r"\w+|[^\w\s]")
_LINE = re.compile(r"\n")


def tree_estimate(nbytes: int, tree, source: str) -> int:
    """Estimated bytes of libcst's tree (and the parse's peak) for ``source``; ``tree`` is its
    stdlib ``ast`` (None: estimate from the size alone, the worst case per byte)."""
    if tree is None or nbytes < SMALL_FILE:
        return nbytes * LIBCST_BYTES_PER_BYTE
    tokens = len(_TOKEN.findall(source))
    largest = _largest_statement(tree, source)
    return (
        tokens * LIBCST_PER_TOKEN
        + tokens * largest // max(len(source), 1) * LIBCST_PER_STATEMENT_TOKEN
        + len(_LINE.findall(source)) * LIBCST_PER_LINE
    )


def _largest_statement(tree, source: str) -> int:
    """Characters of the longest simple statement or compound-statement header (the part
    before its body) in ``tree``; only statements are visited, never expressions."""
    import ast

    starts = [0] + [m.end() for m in _LINE.finditer(source)]

    def offset(line, col):
        return starts[min(line, len(starts)) - 1] + (col or 0)

    largest, todo = 0, list(tree.body)
    while todo:
        stmt = todo.pop()
        begin = offset(stmt.lineno, stmt.col_offset)
        body = getattr(stmt, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
            end = offset(body[0].lineno, body[0].col_offset)
            for name in ("body", "orelse", "finalbody"):
                todo += getattr(stmt, name, None) or ()
            for part in getattr(stmt, "handlers", None) or getattr(stmt, "cases", None) or ():
                todo += part.body
        else:
            end = offset(stmt.end_lineno or stmt.lineno, stmt.end_col_offset)
        largest = max(largest, end - begin)
    return largest


@cache
def _malloc_trim():
    try:
        import ctypes

        fn = ctypes.CDLL(None).malloc_trim
        fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        return fn
    except (ImportError, OSError, AttributeError):  # not glibc: nothing to do
        return None


def release_memory() -> None:
    """Give freed syntax trees' memory back to the OS. glibc keeps freed heap memory in the
    process (a worker that parsed a 10k-line file stays at 200 MB for the rest of the run,
    on top of what the next file needs); malloc_trim returns it (to 60 MB)."""
    fn = _malloc_trim()
    if fn is not None:
        fn(0)
