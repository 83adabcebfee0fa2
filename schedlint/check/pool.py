"""Checking many files: batches in a process pool, worker crash recovery, a memory budget.

:func:`check_many` runs :func:`schedlint.check.pipeline.check_file` over a list of files, in
this process for a few files, else in a fork pool of ``options.jobs`` workers:

- **Batches.** Largest files first, each big file alone, small files grouped
  (longest-processing-time-first: no worker is left with a 10k-line file at the end while
  the others idle). A task is sent only when a worker is free.
- **Memory.** The workers share a :class:`~schedlint.check.memory_budget.MemoryBudget`: a
  worker reserves a big tree's estimated size before building it. A file that does not fit
  now is handed back and queued at the end, so the worker takes other work meanwhile.
- **Crashes.** A dying worker (segfault, OOM kill) breaks the whole pool and fails every
  unfinished task, so a failed task proves nothing about its files: they are checked again,
  one per task, and only a file that kills a process of its own gets SL003.
- **Orphans.** A worker dies with the process that started it (``PR_SET_PDEATHSIG`` on
  Linux, and a watchdog thread that notices a new parent everywhere else), so killing
  ``schedlint`` never leaves workers behind.
- **Ctrl-C.** The terminal sends SIGINT to the whole process group. Workers ignore it (a
  worker's KeyboardInterrupt would print a traceback and break the pool, whose files would
  then be retried); the parent alone ends the run, and terminates its workers first, which
  would otherwise finish the tasks they hold.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
from contextlib import contextmanager
from time import process_time

from schedlint.check.memory_budget import (
    MemoryBudget,
    WouldWait,
    no_reservation,
    release_memory,
    reservation,
)
from schedlint.check.options import Options
from schedlint.check.pipeline import TRIM_BYTES, check_file
from schedlint.check.results import FileResult, builtin_finding
from schedlint.model.tree import Tree
from schedlint.rules import checkable_rules

BATCH_SIZE = 16  # most files per pool task ...
BATCH_BYTES = 1 << 20  # ... and most source bytes (big files go alone, largest first) ...
TASKS_PER_WORKER = 8  # ... and at least this many tasks per worker, so a small tree's few
# big training scripts are spread over the workers instead of landing in one task
# Objects allocated and still alive since the last collection before one is run (a parsed
# 10k-line file is about 2M objects while alive; after a file only leftovers remain).
GC_YOUNG_LIMIT = 200_000
WATCHDOG_SECONDS = 1.0  # how often a worker without PR_SET_PDEATHSIG looks at its parent


def check_many(paths: list, options: Options) -> list:
    """:func:`check_file` for each of ``paths`` (results in the same order)."""
    workers = options.workers(len(paths))
    if workers > 1:
        return _pool_map(paths, options, workers)
    return check_batch(paths, options)


def check_batch(batch, options: Options, reserve=no_reservation) -> list:
    """:func:`check_file` over ``batch`` (paths, or (path, data) pairs), collector off.

    Automatic collections are what make libcst slow (GC costs 13-35% of parse time,
    linter-anchors §C3): a parse allocates hundreds of thousands of objects, and every
    threshold crossing re-traverses the growing tree. The pipeline breaks the model's cycles
    itself, so trees are freed by reference counting; a young-generation collection runs
    only when something still piles up.
    """
    enabled = gc.isenabled()
    gc.disable()
    tree = Tree()  # the in-tree modules the files import are read once per batch
    try:
        return [_check_item(item, options, reserve, tree) for item in batch]
    finally:
        if enabled:
            gc.enable()


def _check_item(item, options: Options, reserve, tree: Tree) -> FileResult:
    path, data = item if isinstance(item, tuple) else (item, None)
    result = check_file(path, options, data=data, reserve=reserve, project=tree)
    big = result.size > TRIM_BYTES
    if result.parsed or big:
        t = process_time()
        if result.parsed and gc.get_count()[0] > GC_YOUNG_LIMIT:
            gc.collect(0)
        if big:  # its libcst or ast tree is freed now
            release_memory()
        if result.timings is not None:
            result.timings["gc"] += process_time() - t
    return result


# -- in a worker process ----------------------------------------------------------------------
class _Worker:
    """What a worker inherits from the pool that forked it (set once, by _start_worker)."""

    budget = None  # the pool's MemoryBudget
    # The in-tree modules the worker's files import, read once per worker rather than once
    # per task: popular helpers (a package's utils) are imported by most files.
    tree = None


def _start_worker(budget, parent: int) -> None:
    """Pool initializer: keep the shared budget, leave Ctrl-C to the parent (which stops
    the workers itself, see _stopped_on_interrupt), and die with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _Worker.budget = budget
    _Worker.tree = Tree()
    _die_with_parent(parent)


def _die_with_parent(parent: int) -> None:
    if _set_parent_death_signal():
        # The parent may have died before the call: then this process was re-parented.
        if os.getppid() != parent:
            os._exit(1)
        return
    thread = threading.Thread(
        target=_watch_parent, args=(parent,), daemon=True, name="schedlint-watchdog"
    )
    thread.start()


def _set_parent_death_signal() -> bool:
    """Linux: the kernel sends SIGKILL to this process when its parent thread exits."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_PDEATHSIG = 1
        return libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) == 0
    except (ImportError, OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    stop = threading.Event()
    while not stop.wait(WATCHDOG_SECONDS):
        if os.getppid() != parent:
            os._exit(1)


def _task(batch, options: Options, may_put_off: bool):
    """A pool task: ``(results, put_off)``. With ``may_put_off``, a file whose tree does not
    fit the budget now is not checked but handed back (the pool queues it again, as a task
    that waits for the budget), so the worker takes other work meanwhile."""
    budget = _Worker.budget

    def reserve(source_bytes, per_byte):
        return reservation(budget, source_bytes, per_byte, wait=not may_put_off)

    enabled = gc.isenabled()
    gc.disable()
    tree = _Worker.tree if _Worker.tree is not None else Tree()
    try:
        out, put_off = [], []
        for item in batch:
            try:
                out.append(_check_item(item, options, reserve, tree))
            except WouldWait:
                put_off.append(item)
        return out, put_off
    finally:
        if enabled:
            gc.enable()


# -- in the parent ----------------------------------------------------------------------------
def _batches(paths, jobs: int) -> list:
    """Pool tasks: largest files first, each big file alone, small files grouped."""
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


def _preload() -> None:
    """Import what parsing needs (libcst, the builder, the rules) before forking,
    so the workers share one copy instead of each importing it (about 0.3 s of CPU each)."""
    try:
        import libcst  # noqa: F401

        from schedlint.check import noqa  # noqa: F401
        from schedlint.model import (
            builder,  # noqa: F401
            flow,  # noqa: F401
        )

        for rule in checkable_rules():
            load = getattr(rule.check, "load", None)
            if load is not None:
                load()
    except Exception:  # a broken rule module is reported per file (SL003), not here
        pass


def _executor(workers: int, ctx, budget):
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=ctx,
        initializer=_start_worker,
        initargs=(budget, os.getpid()),
    )


def _pool_map(paths, options: Options, jobs: int) -> list:
    """Check ``paths`` in a process pool; survive workers that die."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
    if ctx is not None:
        _preload()
    results = {}
    pending = _batches(paths, jobs)
    while pending:
        # A fresh budget per pool: a reservation of a worker that died must not block the
        # next. gate=False (the prefilter's safety test) parses everything and wants speed.
        budget = MemoryBudget(ctx) if ctx is not None and options.gate else None
        with _executor(jobs, ctx, budget) as pool, _stopped_on_interrupt(pool):
            retry, unsent = _pool_round(pool, pending, jobs, results, options)
        if not retry:
            pending = unsent  # empty unless the pool broke before they were sent
            continue
        # A worker died. Re-check the unfinished batches one file per task. Failed one-file
        # tasks: the first few (those running when the pool broke, the culprit among them;
        # tasks start in submission order) are checked each in a process of its own, the
        # rest go round again. Every round retires at least one file.
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
            results[path] = _check_alone(path, options, ctx)
    return [results[p] for p in paths]


def _pool_round(pool, batches, jobs, results, options: Options):
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
                with _interrupts_held():  # a submit may fork a worker
                    in_flight[pool.submit(_task, batch, options, may_put_off)] = batch
            except BrokenProcessPool:
                queue.insert(0, batch)
                broken = True
        if not in_flight:
            break
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for future in done:
            batch = in_flight.pop(future)
            try:
                done_results, put_off = future.result()
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


def _check_alone(path, options: Options, ctx) -> FileResult:
    from concurrent.futures.process import BrokenProcessPool

    with _executor(1, ctx, None) as pool, _stopped_on_interrupt(pool):
        try:
            with _interrupts_held():  # the submit forks the worker
                future = pool.submit(_task, [path], options, False)
            return future.result()[0][0]
        except BrokenProcessPool:
            return FileResult(
                path=path,
                crashed=True,
                findings=[
                    builtin_finding(
                        "SL003", path, "internal error: the worker process checking this file died"
                    )
                ],
            )


@contextmanager
def _stopped_on_interrupt(pool):
    """On Ctrl-C, end ``pool`` now, then let the KeyboardInterrupt go on: its workers ignore
    SIGINT and would finish their tasks (and leaving the ``with`` would wait for them)."""
    import multiprocessing

    try:
        yield
    except KeyboardInterrupt:
        pool.shutdown(wait=False, cancel_futures=True)
        children = multiprocessing.active_children()
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)
        raise


@contextmanager
def _interrupts_held():
    """Hold Ctrl-C while forking workers, and raise it afterwards. A KeyboardInterrupt raised
    inside os.fork()'s at-fork callbacks is swallowed (printed as "Exception ignored"), so the
    run would go on; and a worker interrupted before its initializer ran would print a
    traceback. Where SIGINT is not Python's default handler (ignored, or the caller's own),
    nothing changes."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    caught = []
    signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if caught:
        raise KeyboardInterrupt


__all__ = ["check_batch", "check_many"]
