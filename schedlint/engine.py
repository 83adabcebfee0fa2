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
import tokenize
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Iterable, Optional

from schedlint import prefilter
from schedlint.findings import Finding
from schedlint.model import FileFacts, ProjectFacts
from schedlint.rules import by_code, checkable_rules
from schedlint.rules.base import ProjectReport

# Below this many files a pool costs more (fork + pickling) than it saves.
POOL_THRESHOLD = 24
BATCH_SIZE = 16


@dataclass
class FileResult:
    path: str
    findings: list = field(default_factory=list)
    facts: Optional[FileFacts] = None
    parsed: bool = False
    crashed: bool = False  # the worker checking it died (exit status 2)
    sha: Optional[str] = None  # content hash, for the cache


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
        compile(source, path, "exec", dont_inherit=True)
        return None
    except SyntaxError as exc:  # includes IndentationError/TabError
        return _syntax_finding(path, exc)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        # NUL bytes (ValueError), pathological nesting: the compiler gave up.
        return _builtin("SL001", path, f"syntax error: {type(exc).__name__}: {exc}")


def _syntax_finding(path: str, exc: SyntaxError):
    line = exc.lineno or 1
    column = max(exc.offset or 1, 1)
    return _builtin("SL001", path, f"syntax error: {exc.msg}", line=line, column=column)


def _parse_ast(path: str, source: str):
    """(ast tree, None) or (None, SL001 finding): the parse half of :func:`_syntax_error`."""
    import ast

    try:
        return compile(source, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True), None
    except SyntaxError as exc:
        return None, _syntax_finding(path, exc)
    except (ValueError, RecursionError, MemoryError, OverflowError) as exc:
        return None, _builtin("SL001", path, f"syntax error: {type(exc).__name__}: {exc}")


def check_source(path: str, data: Optional[bytes], codes: frozenset, *,
                 check_syntax_all: bool = False, fix: bool = False,
                 python_only: bool = False, gate: bool = True) -> FileResult:
    """Run the per-file pipeline on one file's bytes (read from ``path`` when None).

    ``gate=False`` bypasses the prefilter (every file is parsed and checked), which is what
    ``tests/test_prefilter.py`` compares the gated pipeline against.
    """
    if not python_only and path.endswith(".ipynb"):  # code cells, positions per cell
        from schedlint.notebook import check_notebook

        return check_notebook(path, data, codes, check_syntax_all=check_syntax_all)
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
    verdict = prefilter.scan(data) if gate else prefilter.ADMIT
    if verdict == prefilter.REJECT and not check_syntax_all:
        return result
    source, problem = decode(data, path)
    if problem is None:
        if verdict == prefilter.MAYBE:
            # Stage 2 of the gate reads the stdlib ast (several times cheaper than libcst);
            # the compiler's own checks then run on that tree only for files it admits.
            tree, problem = _parse_ast(path, source)
            if problem is None:
                if not prefilter.admits_code(tree):
                    verdict = prefilter.REJECT
                    if not check_syntax_all:
                        return result
                problem = _syntax_error(path, tree)
        else:
            problem = _syntax_error(path, source)
    if problem is not None:
        result.findings.append(problem)
        return _selected(result, codes)
    if verdict == prefilter.REJECT:
        return result
    import libcst as cst

    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        result.findings.append(_builtin("SL001", path, f"syntax error: {exc.message}",
                                        line=exc.raw_line, column=exc.raw_column + 1))
        return _selected(result, codes)
    except (RecursionError, MemoryError, Exception) as exc:  # the parser itself failed
        result.findings.append(_builtin("SL001", path, f"cannot parse file: "
                                                       f"{type(exc).__name__}: {exc}"))
        return _selected(result, codes)
    result.parsed = True
    _run_rules(result, path, source, module, codes)
    return result


def _run_rules(result: FileResult, path: str, source: str, module, codes):
    from schedlint.builder import build_model
    from schedlint.noqa import Suppressions

    try:
        model = build_model(path, source, module)
    except Exception as exc:  # a bug in the model builder: report it, never crash the run
        result.findings.append(_builtin("SL003", path, f"internal error while building the model:"
                                                       f" {type(exc).__name__}: {exc}"))
        return _selected(result, codes)
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
    return result


def _fix_dict(fix):
    if fix is None:
        return None
    return {"applicability": fix.applicability, "message": fix.message,
            "edits": [{"line": e[0], "column": e[1], "end_line": e[2], "end_column": e[3],
                       "content": e[4]} for e in fix.edits]}


def _selected(result: FileResult, codes) -> FileResult:
    result.findings = [f for f in result.findings if f.code in codes]
    return result


def _check_batch(batch, codes, check_syntax_all):
    # libcst allocates many short-lived cyclic objects; a full collection per file is waste
    # (GC costs 13-35% of parse time, linter-anchors §C3). Memory is freed per file anyway.
    gc.disable()
    try:
        return [check_source(path, None, codes, check_syntax_all=check_syntax_all)
                for path in batch]
    finally:
        gc.enable()


def _pool_map(paths, codes, jobs, check_syntax_all):
    """Check ``paths`` in a process pool; survive workers that die.

    A dying worker breaks the whole pool and fails every unfinished task, so a failed task
    proves nothing about its files: only a file that kills a process of its own is reported
    as crashed (SL003); every other file is checked again.
    """
    import multiprocessing

    ctx = multiprocessing.get_context("fork") if hasattr(os, "fork") else None
    batches = [paths[i:i + BATCH_SIZE] for i in range(0, len(paths), BATCH_SIZE)]
    results = {}
    pending = list(batches)
    while pending:
        retry = []
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures = [(batch, pool.submit(_check_batch, batch, codes, check_syntax_all))
                       for batch in pending]
            for batch, future in futures:
                try:
                    for r in future.result():
                        results[r.path] = r
                except BrokenProcessPool:
                    retry.append(batch)
        if not retry:
            break
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
        for path in suspects:
            results[path] = _check_alone(path, codes, check_syntax_all, ctx)
    return [results[p] for p in paths]


def _check_alone(path, codes, check_syntax_all, ctx) -> FileResult:
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        try:
            return pool.submit(_check_batch, [path], codes, check_syntax_all).result()[0]
        except BrokenProcessPool:
            return FileResult(path=path, crashed=True, findings=[
                _builtin("SL003", path, "internal error: the worker process checking this "
                                        "file died")])


def check_paths(paths: list, codes: frozenset, *, jobs: int = 0, check_syntax_all=False,
                cache=None, stdin: Optional[tuple] = None) -> list:
    """Per-file results for ``paths`` (in the given order)."""
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
    jobs = jobs or os.cpu_count() or 1
    if jobs > 1 and len(todo) >= POOL_THRESHOLD:
        fresh = _pool_map(todo, codes, min(jobs, max(1, len(todo) // BATCH_SIZE + 1)),
                          check_syntax_all)
    else:
        fresh = _check_batch(todo, codes, check_syntax_all)
    by_path = {r.path: r for r in fresh}
    if cache is not None:
        for r in fresh:
            if not r.crashed:
                cache.put(r.path, r)
    by_path.update(cached)
    results = [by_path[p] for p in paths]
    if stdin is not None:
        name, data = stdin
        results.append(check_source(name, data, codes, check_syntax_all=True))
    return results


def run_project_rules(results: Iterable[FileResult], codes) -> list:
    facts = ProjectFacts(files=[r.facts for r in results if r.facts is not None])
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
