"""Check files: read, gate, parse once, build the model once, run every selected rule.

:func:`check_source` is the whole per-file pipeline and never raises: unreadable input becomes
SL002, unparsable input SL001, and an exception inside a rule SL003 naming the rule, while the
other rules' findings for that file are kept. :func:`check_paths` runs it over many files
(in a process pool when there are enough of them), then the project rules over the merged
per-file facts, and returns findings in a deterministic order.
"""

from __future__ import annotations

import gc
import hashlib
import io
import os
import warnings
from dataclasses import dataclass, field
from time import perf_counter, process_time
from typing import TYPE_CHECKING, Iterable, Optional

from schedlint.check import gate as prefilter
from schedlint.check.memory_budget import (AST_BYTES_PER_BYTE, LIBCST_BYTES_PER_BYTE, MemoryBudget,
                                     WouldWait, reservation)
from schedlint.report.findings import Finding
from schedlint.rules import by_code, checkable_rules
from schedlint.rules.base import ProjectReport

if TYPE_CHECKING:  # imported where used: runs that parse nothing never need the model
    from schedlint.model.facts import FileFacts

# Below this many files a pool costs more (fork + pickling) than it saves.
POOL_THRESHOLD = 24
BATCH_SIZE = 16  # most files per pool task ...
BATCH_BYTES = 1 << 20  # ... and most source bytes (big files go alone, largest first) ...
TASKS_PER_WORKER = 8  # ... and at least this many tasks per worker, so a small tree's few
# big training scripts are spread over the workers instead of landing in one task
# The pool's shared memory_budget.MemoryBudget (inherited through fork), None in one process.
_BUDGET = None
_PUT_OFF = False  # True: a file whose reservation would wait raises WouldWait (_check_batch)
# Objects allocated and still alive since the last collection before one is run (a parsed
# 10k-line file is about 2M objects while alive; after a file only leftovers remain).
GC_YOUNG_LIMIT = 200_000
TRIM_BYTES = 64 * 1024  # after a file this big, hand its freed trees' memory back (_trim)
# Where a run's time goes (``schedlint --timings``): CPU seconds summed over files and workers.
PHASES = ("read", "prefilter", "parse", "model", "rules", "gc")


@dataclass
class FileResult:
    path: str
    findings: list = field(default_factory=list)
    facts: Optional[FileFacts] = None
    parsed: bool = False
    crashed: bool = False  # the worker checking it died (exit status 2)
    sha: Optional[str] = None  # content hash, for the cache
    stat: Optional[tuple] = None  # (size, mtime_ns) of the file as it was read, for the cache
    timings: Optional[dict] = None  # phase -> seconds, when timing is on (PHASES)
    # (path, size, mtime_ns) of the in-tree modules whose code the result depends on (read
    # for their summaries): the cache re-checks the file when one of them changes
    deps: list = field(default_factory=list)


@dataclass
class RunResult:
    findings: list
    files: int
    parsed: int
    internal_errors: int
    timings: dict = field(default_factory=dict)


def _builtin(code, path, message, line=1, column=1, end_line=None, end_column=None):
    rule = by_code()[code]
    return Finding(path=path, line=line, column=column, code=code, message=message,
                   end_line=end_line or line, end_column=end_column or column + 1,
                   severity=rule.severity, name=rule.name)


def decode(data: bytes, path: str):
    """Source text of ``data`` as Python decodes it (PEP 263, BOM), or an SL002 finding."""
    import tokenize  # only for files the byte gate admits

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (SyntaxError, LookupError) as exc:
        return None, _builtin("SL002", path, f"cannot decode file: {exc}")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return None, _builtin("SL002", path, f"cannot decode file as {exc.encoding}: "
                                             f"invalid byte at offset {exc.start}", line=line)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, None


def _syntax_error(path: str, source):
    """SL001 where CPython's compiler rejects the file (same line it reports), else None.

    ``source`` is the text, or its ``ast`` tree (then only the compiler's later checks run:
    ``return`` outside a function, duplicate arguments, ...).
    """
    try:
        _compile(source, path)
        return None
    except SyntaxError as exc:  # includes IndentationError/TabError
        if exc.lineno is None:
            exc.lineno, exc.offset = _first_nul(source)
        return _syntax_finding(path, exc)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        # NUL bytes (ValueError), pathological nesting: the compiler gave up.
        return _gave_up(path, source, exc)


def _gave_up(path: str, source, exc: Exception):
    line, column = _first_nul(source)
    return _builtin("SL001", path, f"syntax error: {type(exc).__name__}: {exc}", line=line,
                    column=column)


def _first_nul(source) -> tuple:
    """(line, column) of the first NUL, which the compiler rejects without locating it."""
    nul = source.find("\0") if isinstance(source, str) else -1
    if nul < 0:
        return 1, 1
    return source.count("\n", 0, nul) + 1, nul - source.rfind("\n", 0, nul)


def _compile(source, path: str, flags: int = 0):
    # The compiler's own warnings (SyntaxWarning, DeprecationWarning) are not schedlint's to
    # print, and under `-W error` / PYTHONWARNINGS=error they would make valid code an SL001.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return compile(source, path, "exec", flags, dont_inherit=True)


def _syntax_finding(path: str, exc: SyntaxError):
    line = exc.lineno or 1
    column = max(exc.offset or 1, 1)
    return _builtin("SL001", path, f"syntax error: {exc.msg}", line=line, column=column)


def _parse_ast(path: str, source: str):
    """(ast tree, None) or (None, SL001 finding): the parse half of :func:`_syntax_error`."""
    import ast

    try:
        return _compile(source, path, ast.PyCF_ONLY_AST), None
    except SyntaxError as exc:
        if exc.lineno is None:
            exc.lineno, exc.offset = _first_nul(source)
        return None, _syntax_finding(path, exc)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return None, _gave_up(path, source, exc)


_TIMING = False  # record FileResult.timings (set per batch by check_paths(timings=True))


def check_source(path: str, data: Optional[bytes], codes: frozenset, *,
                 check_syntax_all: bool = False, fix: bool = False,
                 python_only: bool = False, gate: bool = True, project=None) -> FileResult:
    """Run the per-file pipeline on one file's bytes (read from ``path`` when None).

    ``gate=False`` bypasses the prefilter (every file is parsed and checked), which is what
    ``tests/test_prefilter.py`` compares the gated pipeline against. ``project`` (a
    :class:`schedlint.model.tree.Tree`, shared by the files of a batch) reads the in-tree
    modules the file imports; a fresh one is made when None.
    """
    if not python_only and path.endswith(".ipynb"):  # code cells, positions per cell
        from schedlint.check.notebook import check_notebook

        return check_notebook(path, data, codes, check_syntax_all=check_syntax_all)
    result = FileResult(path=path)
    t = process_time() if _TIMING else 0.0
    if data is None:
        try:
            with open(path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
            result.stat = (st.st_size, st.st_mtime_ns)
        except OSError as exc:
            result.findings.append(_builtin("SL002", path,
                                            f"cannot read file: {exc.strerror or exc}"))
            return _selected(result, codes)
    result.sha = hashlib.sha256(data).hexdigest()
    if _TIMING:
        result.timings = times = dict.fromkeys(PHASES, 0.0)
        t = _lap(times, "read", t)
    verdict = prefilter.scan(data) if gate else prefilter.ADMIT
    if verdict == prefilter.REJECT and path.endswith(".py"):
        from schedlint.model.tree import Tree

        if project is None:
            project = Tree()
        if project.inside(os.path.dirname(path) or ".") and prefilter.admits_through_imports(
                data, path, project.find, lambda p: prefilter.file_verdict(p, project.verdicts)):
            verdict = prefilter.ADMIT  # it uses a helper module that builds or drives them
    if verdict == prefilter.REJECT and not check_syntax_all:
        if _TIMING:
            _lap(times, "prefilter", t)
        return result
    source, problem = decode(data, path)
    if problem is None:
        if verdict == prefilter.MAYBE:
            # Stage 2 of the gate reads the stdlib ast (several times cheaper than libcst);
            # the compiler's own checks then run on that tree only for files it admits.
            with reservation(_BUDGET, len(data), AST_BYTES_PER_BYTE, not _PUT_OFF):
                tree, problem = _parse_ast(path, source)
                if problem is None:
                    if not prefilter.admits_code(tree):
                        verdict = prefilter.REJECT
                        if not check_syntax_all:
                            if _TIMING:
                                _lap(times, "prefilter", t)
                            return result
                    problem = _syntax_error(path, tree)
                del tree
        else:
            problem = _syntax_error(path, source)
    if _TIMING:
        t = _lap(times, "prefilter", t)
    if problem is not None:
        result.findings.append(problem)
        return _selected(result, codes)
    if verdict == prefilter.REJECT:
        return result
    if len(data) > MAX_PARSE_BYTES:
        result.findings.append(_builtin(
            "SL002", path, f"file too large to check: {len(data) / 2**20:.1f} MiB, over the "
                           f"{MAX_PARSE_BYTES / 2**20:g} MiB schedlint parses (its parser needs "
                           f"about 0.6 GiB of memory per MiB); its syntax was checked, its "
                           f"optimizer and scheduler code was not"))
        return _selected(result, codes)
    if len(data) >= DEEP_BYTES:
        with reservation(_BUDGET, len(data), LIBCST_BYTES_PER_BYTE, not _PUT_OFF):
            result = _on_deep_stack(_parse_and_check, result, path, source, codes, t, (),
                                    project)
            if len(data) > TRIM_BYTES:
                _trim()  # its tree is freed: hand the memory back before the next big file
            return result
    before = (list(result.findings), dict(result.timings) if _TIMING else None)
    try:
        return _parse_and_check(result, path, source, codes, t, reraise=(RecursionError,),
                                project=project)
    except RecursionError:  # valid but deeply nested code: start over with room to recurse
        result.findings, result.facts, result.parsed = before[0], None, False
        if _TIMING:
            result.timings = before[1]
        return _on_deep_stack(_parse_and_check, result, path, source, codes, t, (), project)


# Deep nesting. libcst's native parser recurses on the C stack once per nesting level and
# kills the process (SIGSEGV) on valid Python some thousands of levels deep (`a or a or ...`
# 8,000 times, 40 kB; the compiler accepts it since its own tree is flat there), and the
# model walk recurses in Python past the recursion limit on long implicit string
# concatenations (the stdlib's pydoc_data/topics.py). Files of DEEP_BYTES or more (no smaller
# one nests deep enough to crash the parser) are parsed and checked on a thread with a large
# stack and a high recursion limit; a RecursionError on a smaller file is retried there.
DEEP_BYTES = 16 << 10
# libcst's tree takes about 0.6 GiB per MiB of source (and the model more): a bigger file that
# the prefilter admits is reported (SL002) instead of parsed, so memory stays bounded. Real
# training code is far smaller; the largest files of torch and the stdlib are about 1.4 MB and
# mention no optimizer.
MAX_PARSE_BYTES = 1 << 20
DEEP_STACK = 512 << 20
DEEP_RECURSION = 200_000


def _on_deep_stack(fn, *args):
    """``fn(*args)`` on a thread with a DEEP_STACK stack and a DEEP_RECURSION limit."""
    import sys
    import threading

    out = []

    def run():
        try:
            out.append((fn(*args), None))
        except BaseException as exc:  # handed back to the calling thread
            out.append((None, exc))

    limit = sys.getrecursionlimit()
    try:
        old_size = threading.stack_size(DEEP_STACK)
    except (ValueError, RuntimeError):  # the platform refuses the size: recurse in place
        return fn(*args)
    try:
        thread = threading.Thread(target=run, name="schedlint-deep")
        sys.setrecursionlimit(max(limit, DEEP_RECURSION))
        thread.start()
    except RuntimeError:  # cannot start a thread (address-space limits): recurse in place
        sys.setrecursionlimit(limit)
        return fn(*args)
    finally:
        threading.stack_size(old_size)
    try:
        thread.join()
    finally:
        sys.setrecursionlimit(limit)
    value, exc = out[0]
    if exc is not None:
        raise exc
    return value


def _parse_and_check(result: FileResult, path: str, source: str, codes, t: float,
                     reraise: tuple = (), project=None) -> FileResult:
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        # The compiler accepted the file (it ran first), so this is a construct libcst cannot
        # parse (e.g. a parenthesized annotated target, `(x): int`): say so, not "your file
        # has a syntax error".
        result.findings.append(_builtin(
            "SL001", path, f"Python compiles this file but schedlint's parser (libcst) cannot "
                           f"parse it, so it was not checked: {exc.message}",
            line=exc.raw_line, column=exc.raw_column + 1))
        return _selected(result, codes)
    except reraise:
        raise
    except (RecursionError, MemoryError, Exception) as exc:  # the parser itself failed
        result.findings.append(_builtin("SL001", path, f"cannot parse file: "
                                                       f"{type(exc).__name__}: {exc}"))
        return _selected(result, codes)
    if _TIMING:
        t = _lap(result.timings, "parse", t)
    result.parsed = True
    _run_rules(result, path, source, module, codes, reraise=reraise, project=project)
    return result


def _lap(times: dict, phase: str, since: float) -> float:
    now = process_time()
    times[phase] += now - since
    return now


def _run_rules(result: FileResult, path: str, source: str, module, codes, reraise=(),
               project=None):
    from schedlint.model.builder import build_model
    from schedlint.model.tree import Tree
    from schedlint.model.facts import FileFacts
    from schedlint.check.noqa import Suppressions

    t = process_time() if _TIMING else 0.0
    try:
        model = build_model(path, source, module, tree=project if project is not None else Tree())
    except reraise:
        raise
    except Exception as exc:  # a bug in the model builder: report it, never crash the run
        result.findings.append(_builtin("SL003", path, f"internal error while building the model:"
                                                       f" {type(exc).__name__}: {exc}"))
        return _selected(result, codes)
    for other in model.external_models:
        try:
            st = os.stat(other.path)
            result.deps.append((other.path, st.st_size, st.st_mtime_ns))
        except OSError:
            result.deps.append((other.path, -1, -1))
    if _TIMING:
        t = _lap(result.timings, "model", t)
    suppress = Suppressions(source, model)
    for rule in checkable_rules():
        if rule.code not in codes or rule.scope != "file":
            continue
        try:
            for report in rule.check(model):
                line, col, end_line, end_col = model.position(report.node)
                if suppress.suppressed(line, rule.code):
                    continue
                result.findings.append(Finding(
                    path=path, line=line, column=col, code=rule.code, message=report.message,
                    end_line=end_line, end_column=end_col, severity=rule.severity,
                    name=rule.name, fix=_fix_dict(report.fix)))
        except reraise:
            raise
        except Exception as exc:
            if "SL003" in codes:
                result.findings.append(_builtin(
                    "SL003", path, f"internal error in rule {rule.code} ({rule.name}): "
                                   f"{type(exc).__name__}: {exc}"))
    facts = FileFacts(path=path, read_keys=set(model.read_keys))
    for use in model.group_keys:
        line, col, end_line, end_col = model.position(use.node)
        if not suppress.suppressed(line, "SL107"):
            facts.group_keys.append((use.key, line, col, end_line, end_col))
    result.facts = facts
    _dismantle(model)
    if _TIMING:
        _lap(result.timings, "rules", t)
    return result


def _dismantle(model) -> None:
    """Break the model's reference cycles (class <-> method <-> scope, builder <-> model), so
    reference counting frees the file's syntax tree right here, without a collector pass
    over it. Only FileResult (plain data) outlives this point. The imported modules' models
    are not this file's to break: the batch's tree keeps them for the next importer."""
    model.external_models, model.externals = [], {}
    for value in list(vars(model).values()):
        if isinstance(value, dict):
            value = list(value.values())
        elif not isinstance(value, (list, tuple)):
            continue
        for item in value:
            for obj in item if isinstance(item, list) else (item,):
                d = getattr(obj, "__dict__", None)
                if d is not None and type(obj).__module__ == "schedlint.model.facts":
                    d.clear()
    vars(model).clear()


def _fix_dict(fix):
    if fix is None:
        return None
    return {"applicability": fix.applicability, "message": fix.message,
            "edits": [{"line": e[0], "column": e[1], "end_line": e[2], "end_column": e[3],
                       "content": e[4]} for e in fix.edits]}


def _selected(result: FileResult, codes) -> FileResult:
    result.findings = [f for f in result.findings if f.code in codes]
    return result


_libc_trim = []


def _trim() -> None:
    """Give the freed syntax tree's memory back to the OS. glibc keeps freed heap memory in
    the process (a worker that parsed a 10k-line file stays at 200 MB for the rest of the
    run, on top of what the next file needs); malloc_trim returns it (to 60 MB)."""
    if not _libc_trim:
        fn = None
        try:
            import ctypes

            fn = ctypes.CDLL(None).malloc_trim
            fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
        except (ImportError, OSError, AttributeError):  # not glibc: nothing to do
            fn = None
        _libc_trim.append(fn)
    if _libc_trim[0] is not None:
        _libc_trim[0](0)


def _check_batch(batch, codes, check_syntax_all, timing=False, gate=True,
                 may_put_off=False):
    """check_source over ``batch``, with the collector off (paths, or (path, data) pairs).

    In a pool (with a memory budget), a file whose tree does not fit the budget now is put
    off until the rest of the batch is done, instead of idling the worker; with
    ``may_put_off`` it is not checked at all but handed back, and the result is
    ``(results, put_off)``, so the pool can give the worker other work meanwhile.

    Automatic collections are what make libcst slow (GC costs 13-35% of parse time,
    linter-anchors §C3): a parse allocates hundreds of thousands of objects, and every
    threshold crossing re-traverses the growing tree. The engine breaks the model's cycles
    itself (:func:`_dismantle`), so trees are freed by reference counting; a young-generation
    collection runs only when something still piles up.
    """
    from schedlint.model.tree import Tree

    global _TIMING, _PUT_OFF
    enabled = gc.isenabled()
    gc.disable()
    _TIMING = timing
    project = Tree()  # imported in-tree modules are read once per batch
    try:
        out, put_off = [], []
        _PUT_OFF = _BUDGET is not None
        for item in batch:
            try:
                out.append(_check_item(item, codes, check_syntax_all, timing, gate, project))
            except WouldWait:
                put_off.append(item)
        _PUT_OFF = False
        if may_put_off:
            return out, put_off
        for item in put_off:
            out.append(_check_item(item, codes, check_syntax_all, timing, gate, project))
        return out
    finally:
        _TIMING = _PUT_OFF = False
        if enabled:
            gc.enable()


def _check_item(item, codes, check_syntax_all, timing, gate, project=None) -> FileResult:
    path, data = item if isinstance(item, tuple) else (item, None)
    result = check_source(path, data, codes, check_syntax_all=check_syntax_all, gate=gate,
                          project=project)
    big = result.stat is not None and result.stat[0] > TRIM_BYTES
    if result.parsed or big:
        t = process_time()
        if result.parsed and gc.get_count()[0] > GC_YOUNG_LIMIT:
            gc.collect(0)
        if big:  # its libcst or ast tree is freed now
            _trim()
        if timing and result.timings is not None:
            result.timings["gc"] += process_time() - t
    return result


def _batches(paths, jobs: int) -> list:
    """Pool tasks: largest files first, each big file alone, small files grouped.

    Sorting by size puts the long tasks (a 10k-line test file) at the front, so no worker
    is left with one at the end while the others idle (longest-processing-time-first).
    """
    sizes = {}
    for p in paths:
        try:
            sizes[p] = os.stat(p).st_size
        except OSError:
            sizes[p] = 0
    limit = min(BATCH_BYTES, sum(sizes.values()) // (jobs * TASKS_PER_WORKER) + 1)
    batches, batch = [], _Batch()
    for p in sorted(paths, key=lambda p: -sizes[p]):
        if batch and (len(batch) >= BATCH_SIZE or batch.nbytes + sizes[p] > limit):
            batches.append(batch)
            batch = _Batch()
        batch.append(p)
        batch.nbytes += sizes[p]
    if batch:
        batches.append(batch)
    return batches


class _Batch(list):
    """The paths of one pool task, and their total size."""

    nbytes = 0
    put_off = False  # files a task handed back: its worker waits for the memory budget


def _preload(codes) -> None:
    """Import what parsing needs (libcst, the builder, the selected rules) before forking,
    so the workers share one copy instead of each importing it (about 0.3 s of CPU each)."""
    try:
        import libcst  # noqa: F401

        from schedlint.model import builder  # noqa: F401
        from schedlint.check import noqa

        for rule in checkable_rules():
            if rule.code in codes and hasattr(rule.check, "load"):
                rule.check.load()
    except Exception:  # a broken rule module is reported per file (SL003), not here
        pass


def _pool_map(paths, codes, jobs, check_syntax_all, timing=False, gate=True):
    """Check ``paths`` in a process pool; survive workers that die.

    A dying worker breaks the whole pool and fails every unfinished task, so a failed task
    proves nothing about its files: only a file that kills a process of its own is reported
    as crashed (SL003); every other file is checked again.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    global _BUDGET
    ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
    if ctx is not None:
        _preload(codes)
    results = {}
    pending = _batches(paths, jobs)
    while pending:
        # A fresh budget per pool: a reservation of a worker that died must not block the
        # next. gate=False (the prefilter's safety test) parses everything and wants speed.
        _BUDGET = MemoryBudget(ctx) if ctx is not None and gate else None
        try:
            with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
                retry, unsent = _pool_round(pool, pending, jobs, results, codes,
                                            (check_syntax_all, timing, gate))
        finally:
            _BUDGET = None
        if not retry:
            pending = unsent  # empty unless the pool broke before they were sent
            continue
        # A worker died (segfault, OOM kill, os._exit). Re-check the unfinished batches one
        # file per task. Failed one-file tasks: the first few (those running when the pool
        # broke, the culprit among them; tasks start in submission order) are checked each in
        # a process of its own, the rest go round again. Every round retires at least one file.
        pending, suspects = [], []
        for batch in retry:
            if len(batch) > 1:
                pending += [[p] for p in batch]
            elif len(suspects) <= 2 * jobs:
                suspects.append(batch[0])
            else:
                pending.append(batch)
        pending += unsent
        for path in suspects:
            results[path] = _check_alone(path, codes, check_syntax_all, ctx, timing, gate)
    return [results[p] for p in paths]


def _pool_round(pool, batches, jobs, results, codes, options):
    """Feed ``batches`` (largest first) to the pool, one task per worker at a time (a task
    is sent when a worker is free, so none waits in a queue behind a long one). Files a task
    put off for want of memory budget go to the end of the queue, as a batch whose worker
    waits for the budget. Returns the batches whose task failed because the pool broke, and
    those never sent."""
    from concurrent.futures import FIRST_COMPLETED, wait
    from concurrent.futures.process import BrokenProcessPool

    queue = list(batches)
    in_flight = {}  # future -> batch
    failed, broken = [], False
    while in_flight or (queue and not broken):
        while not broken and queue and len(in_flight) < jobs:
            batch = queue.pop(0)
            may_put_off = not getattr(batch, "put_off", False)
            try:
                in_flight[pool.submit(_check_batch, batch, codes, *options,
                                      may_put_off)] = batch
            except BrokenProcessPool:
                queue.insert(0, batch)
                broken = True
        if not in_flight:
            break
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            batch = in_flight.pop(future)
            try:
                value = future.result()
                done_results, put_off = value if isinstance(value, tuple) else (value, ())
                for r in done_results:
                    results[r.path] = r
                if put_off:
                    later = _Batch(put_off)
                    later.put_off = True
                    queue.append(later)
            except BrokenProcessPool:
                failed.append(batch)
                broken = True
    return failed, queue


def _check_alone(path, codes, check_syntax_all, ctx, timing=False, gate=True) -> FileResult:
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        try:
            return pool.submit(_check_batch, [path], codes, check_syntax_all,
                               timing, gate).result()[0]
        except BrokenProcessPool:
            return FileResult(path=path, crashed=True, findings=[
                _builtin("SL003", path, "internal error: the worker process checking this "
                                        "file died")])


def check_paths(paths: list, codes: frozenset, *, jobs: int = 0, check_syntax_all=False,
                cache=None, stdin: Optional[tuple] = None, timings: Optional[dict] = None,
                gate: bool = True) -> list:
    """Per-file results for ``paths`` (in the given order).

    ``gate=False`` checks every file fully, prefilter bypassed (see :func:`check_source`).

    ``timings``, a dict, receives where the time went: the PHASES of check_source summed over
    files and workers, plus ``cache`` and ``check`` (wall seconds of this call) and counts.
    """
    t0 = perf_counter()
    todo, cached = [], {}
    if cache is not None:
        for p in paths:
            hit = cache.get(p)
            if hit is not None:
                cached[p] = hit
            else:
                todo.append(p)
    else:
        todo = list(paths)
    t_cache = perf_counter() - t0
    timing = timings is not None
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(todo) >= POOL_THRESHOLD:
        fresh = _pool_map(todo, codes, min(jobs, len(todo) // POOL_THRESHOLD + 1),
                          check_syntax_all, timing, gate)
    else:
        fresh = _check_batch(todo, codes, check_syntax_all, timing, gate)
    by_path = {r.path: r for r in fresh}
    t1 = perf_counter()
    if cache is not None:
        for r in fresh:
            if not r.crashed:
                cache.put(r.path, r)
    t_cache += perf_counter() - t1
    if timing:
        for phase in PHASES:
            timings[phase] = timings.get(phase, 0.0) + sum(
                r.timings[phase] for r in fresh if r.timings is not None)
        timings["cache"] = timings.get("cache", 0.0) + t_cache
        timings["files"] = len(paths)
        timings["cached"] = len(cached)
        timings["parsed"] = sum(r.parsed for r in fresh)
        timings["workers"] = min(jobs, len(todo) // POOL_THRESHOLD + 1) \
            if jobs > 1 and len(todo) >= POOL_THRESHOLD else 1
    by_path.update(cached)
    results = [by_path[p] for p in paths]
    if stdin is not None:
        name, data = stdin
        results.append(check_source(name, data, codes, check_syntax_all=True))
    return results


def run_project_rules(results: Iterable[FileResult], codes) -> list:
    files = [r.facts for r in results if r.facts is not None]
    if not files:  # nothing was parsed (skipped files, or a replay of cached results)
        return []
    from schedlint.model.facts import ProjectFacts

    facts = ProjectFacts(files=files)
    findings = []
    for rule in checkable_rules():
        if rule.code not in codes or rule.scope != "project":
            continue
        try:
            for rep in rule.check(facts):
                findings.append(Finding(path=rep.path, line=rep.line, column=rep.column,
                                        code=rule.code, message=rep.message,
                                        end_line=rep.end_line, end_column=rep.end_column,
                                        severity=rule.severity, name=rule.name))
        except Exception as exc:
            findings.append(_builtin("SL003", "<project>", f"internal error in rule {rule.code}"
                                                           f" ({rule.name}): "
                                                           f"{type(exc).__name__}: {exc}"))
    return findings


def sort_findings(findings) -> list:
    return sorted(findings, key=Finding.sort_key)


__all__ = ["FileResult", "RunResult", "check_paths", "check_source", "run_project_rules",
           "sort_findings", "ProjectReport"]
