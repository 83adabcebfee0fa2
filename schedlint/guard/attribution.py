"""Keep torch's own warnings pointing at the user's line.

The guard calls the real ``scheduler.step()`` from inside its wrapper, so a warning torch raises
there with ``stacklevel=2`` ("Detected call of `lr_scheduler.step()` before
`optimizer.step()`", the deprecated epoch argument...) would name the guard's file, and its
once-per-location bookkeeping would live in the guard's module. :func:`call_at` makes that call
from a one-line function compiled at the caller's file and line and run in the caller's
globals: the warning then carries the user's location, module and registry exactly as without
the guard.
"""

from __future__ import annotations

import types
from collections import OrderedDict

MAX_SITES = 512
_codes: OrderedDict = OrderedDict()  # (filename, line) -> code object; holds no user object


def _code_for(filename: str, line: int):
    key = (filename, line)
    code = _codes.get(key)
    if code is not None:
        _codes.move_to_end(key)
        return code
    source = "\n" * (max(line, 1) - 1) + (
        "def scheduler_step(fn, s, a, k): __tracebackhide__ = True; return fn(s, *a, **k)\n"
    )
    module = compile(source, filename, "exec", dont_inherit=True)
    code = next(c for c in module.co_consts if isinstance(c, types.CodeType))
    _codes[key] = code
    if len(_codes) > MAX_SITES:
        _codes.popitem(last=False)
    return code


def call_at(frame, fn, sched, args, kwargs):
    """``fn(sched, *args, **kwargs)`` as if called at ``frame``'s current line."""
    if frame is None:
        return fn(sched, *args, **kwargs)
    code = _code_for(frame.f_code.co_filename, frame.f_lineno)
    # A new function per call: caching it would keep the caller's globals (a script's
    # optimizer and schedulers) alive.
    return types.FunctionType(code, frame.f_globals)(fn, sched, args, kwargs)
