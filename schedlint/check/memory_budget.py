"""The memory budget a process pool's workers share, so that big syntax trees never pile up.

A syntax tree is far bigger than its source: libcst's takes about 360 bytes per source byte
(a 451 KB torch test file: 162 MB), the stdlib ``ast``'s about 75 (33 MB). One big file parsed
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

import time
from contextlib import contextmanager, nullcontext

LIBCST_BYTES_PER_BYTE = 400  # measured 360 with libcst 1.9, rounded up for the model
AST_BYTES_PER_BYTE = 80  # measured 75
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
