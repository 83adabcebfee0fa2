"""The per-document pipeline: read, decode, gate, parse once, model once, rules, suppressions.

:func:`check_file` is the whole pipeline for one input and never raises:

1. **read** the bytes (unreadable: SL002);
2. **decode** them as Python does, through :mod:`schedlint.check.documents` (undecodable:
   SL002, whether or not the file mentions an optimizer);
3. **gate** (:mod:`schedlint.check.gate`): skip files that cannot hold a finding (a file that
   only reaches optimizers through an in-tree helper module is admitted through it);
4. **size**: a file too big to parse gets its syntax checked by the bounded
   :mod:`schedlint.check.syntax` and an SL002 saying it was not parsed; nothing builds a
   tree for it (libcst's costs 0.3-1.2 KB per source byte);
5. **parse** with libcst (the compiler's verdict first: SL001);
6. **model** (:mod:`schedlint.model.builder`, reading the in-tree modules the file hands its
   objects to through a :class:`~schedlint.model.tree.Tree`) and **rules** (a rule that
   raises: SL003 naming it, the other rules' findings kept);
7. **report**: the one place findings are filtered, by the file's selection (``select`` less
   its ``per-file-ignores``) and its ``# noqa`` comments.

Everything it needs comes in as arguments: the :class:`~schedlint.check.options.Options`, and
from the pool a memory ``reserve`` function and the batch's ``Tree``. The in-tree modules a
result depended on are recorded in ``FileResult.deps`` for the results cache.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from time import process_time

from schedlint.check import gate as prefilter
from schedlint.check import syntax
from schedlint.check.documents import (
    DocumentError,
    NotebookDocument,
    PythonDocument,
    is_notebook,
    read_bytes,
)
from schedlint.check.memory_budget import (
    AST_BYTES_PER_BYTE,
    SMALL_FILE,
    no_reservation,
    release_memory,
    tree_estimate,
)
from schedlint.check.options import Options
from schedlint.check.results import PHASES, FileResult, builtin_finding
from schedlint.model.tree import MAX_BYTES as MAX_MODULE_BYTES
from schedlint.model.tree import Tree, content_hash
from schedlint.report.findings import Finding
from schedlint.rules import checkable_rules

# Files at least this big are parsed on a thread with a deep stack (see _on_deep_stack), and
# their freed trees' memory is handed back to the OS afterwards.
DEEP_BYTES = 16 << 10
TRIM_BYTES = 64 * 1024
# A file this big sets the run's peak memory: its parse's working memory is handed back
# between the phases too (a trim costs milliseconds, and so does faulting the pages in again).
PEAK_BYTES = 256 * 1024
DEEP_STACK = 512 << 20
DEEP_RECURSION = 200_000


class _Selection:
    """The codes reported in one file (:meth:`Options.codes_for`), worked out on first use:
    matching per-file-ignores globs costs system calls, and most files (those the gate
    skips) never need it."""

    __slots__ = ("options", "path", "_codes")

    def __init__(self, options: Options, path: str):
        self.options, self.path, self._codes = options, path, None

    def __contains__(self, code: str) -> bool:
        if self._codes is None:
            self._codes = self.options.codes_for(self.path)
        return code in self._codes


class _Clock:
    """CPU time per phase into ``result.timings``, or nothing when timing is off."""

    def __init__(self, result: FileResult, on: bool):
        self.result, self.on = result, on
        self.t = process_time() if on else 0.0
        if on:
            result.timings = dict.fromkeys(PHASES, 0.0)

    def lap(self, phase: str) -> None:
        if self.on:
            now = process_time()
            self.result.timings[phase] += now - self.t
            self.t = now


def check_file(
    path: str,
    options: Options,
    *,
    data: bytes | None = None,
    reserve: Callable = no_reservation,
    project: Tree | None = None,
) -> FileResult:
    """Run the pipeline on ``path`` (its bytes ``data``, read when None).

    ``reserve(source_bytes, per_byte)`` is the pool's memory budget: a context manager held
    while a tree is alive (it may raise WouldWait, see schedlint.check.pool). ``project``
    reads the in-tree modules the file imports (shared by the files of a batch, so each is read
    once); a fresh one when None.
    """
    if project is None:
        project = Tree()
    result = FileResult(path=path)
    clock = _Clock(result, options.timings)
    codes = _Selection(options, path)
    if data is None:
        try:
            data = read_bytes(path)
        except OSError as exc:
            return _report(
                result,
                codes,
                builtin_finding("SL002", path, f"cannot read file: {exc.strerror or exc}"),
            )
    result.sha, result.size = content_hash(data), len(data)
    clock.lap("read")
    if is_notebook(path):
        return _check_notebook(result, data, options, codes, reserve, clock, project)
    try:
        doc = PythonDocument.from_bytes(path, data)
    except DocumentError as exc:
        return _report(result, codes, builtin_finding("SL002", path, exc.message, line=exc.line))
    return _check_python(result, doc, options, codes, reserve, clock, project)


def check_text(path: str, text: str, options: Options) -> FileResult:
    """The pipeline on source that is already text (what flake8 hands its plugins)."""
    result = FileResult(path=path)
    doc = PythonDocument.from_text(path, text)
    codes = _Selection(options, path)
    return _check_python(
        result, doc, options, codes, no_reservation, _Clock(result, options.timings), Tree()
    )


def _check_notebook(result, data, options, codes, reserve, clock, project) -> FileResult:
    # The raw JSON holds every cell's text verbatim (JSON escapes keep these words intact).
    if options.gate and not prefilter.admits(data) and not options.check_syntax:
        return result
    try:
        doc = NotebookDocument.from_bytes(result.path, data)
    except DocumentError as exc:
        return _report(result, codes, builtin_finding("SL002", result.path, exc.message))
    if not doc.nb.cells:
        return result
    inner = _check_python(
        FileResult(path=result.path, timings=result.timings),
        doc,
        options,
        codes,
        reserve,
        clock,
        project,
    )
    result.parsed, result.deps = inner.parsed, inner.deps
    result.findings = [doc.map_finding(f) for f in inner.findings]
    if inner.facts is not None:
        # Keys read in the notebook count for the project rules; keys it defines are not
        # reported by them (a project finding has no cell to point at).
        inner.facts.group_keys = []
        result.facts = inner.facts
    return result


def _check_python(
    result: FileResult, doc, options: Options, codes, reserve, clock: _Clock, project: Tree
) -> FileResult:
    path, source = result.path, doc.source
    data = doc.source_bytes()
    verdict = prefilter.scan(data) if options.gate else prefilter.ADMIT
    # scan admits outright only on a scaling key's bytes, which may sit in a string alone.
    by_key = options.gate and verdict == prefilter.ADMIT
    unused = False  # nothing in it a rule reads: too large to parse is then not worth a word
    if (
        verdict == prefilter.REJECT
        and path.endswith(".py")
        and project.inside(os.path.dirname(path) or ".")
        and prefilter.admits_through_imports(
            data, path, project.find, lambda p: _verdict_of(project, p, result)
        )
    ):
        verdict = prefilter.ADMIT  # it uses a helper module that builds or drives them
    elif (
        verdict == prefilter.REJECT
        and path.endswith(".py")
        and project.inside(os.path.dirname(path) or ".")
        and prefilter.admits_through_callers(
            data,
            lambda names: _callers(project, path, names, result),
            lambda p: _caller_verdict(project, p, result),
        )
    ):
        verdict = prefilter.ADMIT  # a module it serves hands its class an optimizer
    if verdict == prefilter.REJECT and not options.check_syntax:
        clock.lap("prefilter")
        return result
    if len(data) > syntax.MAX_PARSE_BYTES:
        # Before any tree is built: the stdlib compiler, a piece at a time, is all it gets.
        problem = _sl001(path, syntax.check_large(path, source))
        if problem is None and verdict != prefilter.REJECT:
            problem = builtin_finding("SL002", path, syntax.too_large_message(len(data)))
        clock.lap("prefilter")
        return _report(result, codes, problem)
    estimate = None
    if (
        verdict == prefilter.MAYBE
        and not options.check_syntax
        and result.sha is not None
        and _code_rejected(project, path, result.sha)
    ):
        # Stage 2 already read these very bytes when another file of the batch imported
        # this one (_verdict_of), parsed them and rejected the code: not again.
        clock.lap("prefilter")
        return result
    if verdict == prefilter.MAYBE or verdict == prefilter.ADMIT and len(data) >= SMALL_FILE:
        # The stdlib ast is several times cheaper than libcst's tree: stage 2 of the gate
        # reads it, the compiler's own checks run on it, and it sizes libcst's tree.
        with reserve(len(data), AST_BYTES_PER_BYTE):
            tree, problem = syntax.parse_ast(path, source)
            if problem is None:
                if verdict == prefilter.MAYBE and not prefilter.admits_code(tree, path):
                    verdict = prefilter.REJECT
                    if not options.check_syntax:
                        clock.lap("prefilter")
                        return result
                problem = syntax.check(path, tree)
                if verdict != prefilter.REJECT:
                    estimate = tree_estimate(len(data), tree, source)
                    unused = (
                        by_key
                        and estimate > syntax.MAX_TREE_BYTES
                        and not prefilter.admits_code(tree)
                        and not prefilter.names_scaling_key(tree)
                    )
            del tree
        if len(data) > PEAK_BYTES:
            release_memory()  # the compiler's tree is freed, and libcst's parse is next
    else:
        problem = syntax.check(path, source)
    clock.lap("prefilter")
    if problem is not None and not syntax.newer_grammar_at(source, problem):
        return _report(result, codes, _sl001(path, problem))
    # Else the compiler stopped at a construct of a newer Python: libcst's parse (the newest
    # grammar) tells valid code for that Python, to be checked, from an SL001.
    if verdict == prefilter.REJECT and problem is None:
        return result
    if estimate is None:
        estimate = tree_estimate(len(data), None, source)
    if estimate > syntax.MAX_TREE_BYTES:
        if problem is not None:
            return _report(result, codes, _sl001(path, problem))
        if unused:  # a generated protobuf module naming caffe's ``lr_mult`` field
            return result
        return _report(
            result,
            codes,
            builtin_finding("SL002", path, syntax.too_complex_message(len(data), estimate)),
        )
    if len(data) >= DEEP_BYTES:
        with reserve(len(data), estimate // max(len(data), 1)):
            result = _on_deep_stack(
                _parse_and_check, result, source, codes, clock, (), project, problem, verdict
            )
            if len(data) > TRIM_BYTES:
                release_memory()  # its tree is freed: hand the memory back before the next
            return result
    before = (list(result.findings), dict(result.timings) if result.timings else None)
    try:
        return _parse_and_check(
            result, source, codes, clock, (RecursionError,), project, problem, verdict
        )
    except RecursionError:  # valid but deeply nested code: start over with room to recurse
        result.findings, result.facts, result.parsed = before[0], None, False
        result.timings = before[1]
        return _on_deep_stack(
            _parse_and_check, result, source, codes, clock, (), project, problem, verdict
        )


def _verdict_of(project: Tree, path: str, result: FileResult) -> int:
    """The gate's verdict on the in-tree module ``path`` (REJECT when unreadable), once per
    run of a batch; ``result`` now depends on that module."""
    verdict = project.verdicts.get(path)
    if verdict is None:
        data = project.read(path)
        verdict = prefilter.scan(data) if data is not None else prefilter.REJECT
        if verdict == prefilter.MAYBE and len(data) <= MAX_MODULE_BYTES:
            # Stage 2, as for a checked file: a package's __init__ or a diffusion model that
            # only names a scheduler or optimizer (a lazy-import table, a docstring) admits
            # nothing, and would otherwise let every module importing it be parsed.
            admitted = _admits_code(data, path)
            verdict = prefilter.ADMIT if admitted else prefilter.REJECT
            if admitted is False:  # parsed and rejected: its own check need not parse it
                project.code_rejected.add(path)
        project.verdicts[path] = verdict
    _depends_on(result, project, path)
    return verdict


def _caller_verdict(project: Tree, path: str, result: FileResult) -> int:
    """The gate's verdict on a module calling a class of the checked file, admitting too one
    that imports an in-tree module the gate admits, though it names no optimizer itself
    (``train_net.py`` handing ``manager.restore(detector, cfg)`` the ``Detector`` whose
    module builds one)."""
    verdict = _verdict_of(project, path, result)
    if verdict != prefilter.REJECT:
        return verdict
    data = project.read(path)
    if data is not None and prefilter.imports_admitted(
        data, path, project.find, lambda p: _verdict_of(project, p, result)
    ):
        return prefilter.ADMIT
    return verdict


def _code_rejected(project: Tree, path: str, sha: str) -> bool:
    """Did :func:`_verdict_of` parse and reject the code of these very bytes of ``path``?"""
    path = os.path.abspath(path)  # the tree names modules by absolute paths
    return path in project.code_rejected and project.hashes.get(path) == sha


def _callers(project: Tree, path: str, names, result: FileResult):
    """The in-tree files calling one of the classes ``names`` of ``path``, directly or
    through a factory function (:meth:`Tree.forwarding_callers`), lazily: the gate stops at
    the first one it admits. ``result`` now depends on every file and directory listing
    read to find those it saw."""
    read = []
    for found in project.forwarding_callers(path, names, read):
        for p in read:
            _depends_on(result, project, p)
        read.clear()
        yield found
    for p in read:
        _depends_on(result, project, p)


def _admits_code(data: bytes, path: str) -> bool | None:
    """Stage 2 on a module's bytes; None when they do not parse (it lends no summary
    either: the tree cannot model it)."""
    import ast

    try:
        tree = ast.parse(data)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None
    return prefilter.admits_code(tree, path)


def _depends_on(result: FileResult, project: Tree, path: str) -> None:
    if all(p != path for p, _ in result.deps):
        result.deps.append((path, project.hashes.get(path)))


def _sl001(path: str, problem):
    if problem is None:
        return None
    return builtin_finding("SL001", path, problem.message, line=problem.line, column=problem.column)


# Deep nesting. libcst's native parser recurses on the C stack once per nesting level and
# kills the process (SIGSEGV) on valid Python some thousands of levels deep (`a or a or ...`
# 8,000 times, 40 kB; the compiler accepts it since its own tree is flat there), and the
# model walk recurses in Python past the recursion limit on long implicit string
# concatenations (the stdlib's pydoc_data/topics.py). Files of DEEP_BYTES or more (no smaller
# one nests deep enough to crash the parser) are parsed and checked on a thread with a large
# stack and a high recursion limit; a RecursionError on a smaller file is retried there.
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
        # daemon: on Ctrl-C the main thread stops waiting, and so must the interpreter's exit
        thread = threading.Thread(target=run, name="schedlint-deep", daemon=True)
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


def _parse_and_check(
    result: FileResult,
    source: str,
    codes,
    clock: _Clock,
    reraise: tuple = (),
    project: Tree | None = None,
    rejected: syntax.Problem | None = None,
    verdict=prefilter.ADMIT,
) -> FileResult:
    """Parse ``source`` with libcst and run the rules. ``rejected``: the compiler's syntax
    error, which stands (SL001) unless the tree needs a newer grammar than the interpreter's;
    ``verdict``: the gate's, whose REJECT (a file read for ``--check-syntax``) runs no rule."""
    import libcst as cst

    from schedlint.model.cstwalk import grammar_version, parse

    path = result.path
    try:
        module = parse(source)
    except reraise:
        raise
    except cst.ParserSyntaxError as exc:
        if rejected is not None:
            return _report(result, codes, _sl001(path, rejected))
        # The compiler accepted the file (it ran first), so this is a construct libcst cannot
        # parse (e.g. a parenthesized annotated target, `(x): int`): say so, not "your file
        # has a syntax error".
        return _report(
            result,
            codes,
            builtin_finding(
                "SL001",
                path,
                f"Python compiles this file but schedlint's parser (libcst) cannot "
                f"parse it, so it was not checked: {exc.message}",
                line=exc.raw_line,
                column=exc.raw_column + 1,
            ),
        )
    except (RecursionError, MemoryError, Exception) as exc:  # the parser itself failed
        if rejected is not None:
            return _report(result, codes, _sl001(path, rejected))
        return _report(
            result,
            codes,
            builtin_finding("SL001", path, f"cannot parse file: {type(exc).__name__}: {exc}"),
        )
    if rejected is not None and grammar_version(module) <= sys.version_info[:2]:
        return _report(result, codes, _sl001(path, rejected))
    if verdict == prefilter.REJECT:
        return result
    clock.lap("parse")
    if len(source) > PEAK_BYTES:
        # The native parser's working memory (about ten times the tree it returns) is
        # freed now but kept by malloc, and the model's allocations do not reuse it.
        release_memory()
    result.parsed = True
    return _run_rules(result, source, module, codes, clock, reraise=reraise, project=project)


def _run_rules(
    result: FileResult,
    source: str,
    module,
    codes,
    clock: _Clock,
    reraise=(),
    project: Tree | None = None,
):
    from schedlint.check.noqa import Suppressions
    from schedlint.model.builder import build_model
    from schedlint.model.summaries import FileFacts

    path = result.path
    try:
        model = build_model(path, source, module, tree=project)
    except reraise:
        raise
    except Exception as exc:  # a bug in the model builder: report it, never crash the run
        return _report(
            result,
            codes,
            builtin_finding(
                "SL003",
                path,
                f"internal error while building the model: {type(exc).__name__}: {exc}",
            ),
        )
    if project is not None:
        for other in sorted(model.external_paths):
            _depends_on(result, project, other)
    clock.lap("model")
    reported = []
    for rule in checkable_rules():
        if rule.code not in codes or rule.scope != "file":
            continue
        try:
            for report in rule.check(model):
                line, col, end_line, end_col = model.position(report.node)
                reported.append(
                    Finding(
                        path=path,
                        line=line,
                        column=col,
                        code=rule.code,
                        message=report.message,
                        end_line=end_line,
                        end_column=end_col,
                        severity=rule.severity,
                        name=rule.name,
                        fix=_fix_dict(report.fix),
                        help=report.help,
                    )
                )
        except reraise:
            raise
        except Exception as exc:
            if "SL003" in codes:
                reported.append(
                    builtin_finding(
                        "SL003",
                        path,
                        f"internal error in rule {rule.code} ({rule.name}): "
                        f"{type(exc).__name__}: {exc}",
                    )
                )
    suppress = Suppressions(source, model)
    # Keys the in-tree modules it imports read count as read (a helper that applies
    # g["lr_scale"] may sit outside the files checked together with this one).
    read_keys = set(model.read_keys) | model.keys_out_of_sight
    for other in model.external_models:
        read_keys |= other.read_keys
    facts = FileFacts(path=path, read_keys=read_keys)
    if "SL107" in codes:
        for use in model.group_keys:
            line, col, end_line, end_col = model.position(use.node)
            if not suppress.suppressed(line, "SL107"):
                facts.group_keys.append((use.key, line, col, end_line, end_col))
    result.facts = facts
    result = _report(result, codes, reported=reported, suppress=suppress)
    _dismantle(model)
    clock.lap("rules")
    return result


def _report(result: FileResult, codes, problem=None, reported=(), suppress=None) -> FileResult:
    """The one place a file's findings are filtered: by its selection (``select`` less its
    ``per-file-ignores``), and the rules' findings also by its ``# noqa`` comments."""
    if problem is not None:
        result.findings.append(problem)
    kept = [f for f in result.findings if f.code in codes]
    for f in reported:
        if f.code in codes and (f.code == "SL003" or not suppress.suppressed(f.line, f.code)):
            kept.append(f)
    result.findings = kept
    return result


def _dismantle(model) -> None:
    """Break the model's reference cycles (class <-> method <-> scope, builder <-> model), so
    reference counting frees the file's syntax tree right here, without a collector pass
    over it. Only FileResult (plain data) outlives this point. The imported modules'
    models are not this file's to break: the batch's Tree keeps them for the next importer."""
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
    return {
        "applicability": fix.applicability,
        "message": fix.message,
        "edits": [
            {"line": e[0], "column": e[1], "end_line": e[2], "end_column": e[3], "content": e[4]}
            for e in fix.edits
        ],
    }


__all__ = ["check_file", "check_text"]
