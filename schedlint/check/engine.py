"""The static checker's entry points: check files, then the project rules.

- :func:`check_paths`: each file through the per-document pipeline
  (:mod:`schedlint.check.pipeline`), answered from the results cache
  (:mod:`schedlint.check.cache`) where it can be, the rest in a process pool when there are
  many (:mod:`schedlint.check.pool`); source from stdin last.
- :func:`run_project_rules`: the project rules over the per-file facts.
- :func:`check_source`: one file's bytes under a code selection (the library API the tests and
  the integrations use).

Every setting comes from one :class:`~schedlint.check.options.Options`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import replace
from time import perf_counter

from schedlint.check.cache import current_dependency_digest, dependency_digest
from schedlint.check.documents import read_bytes
from schedlint.check.options import Options
from schedlint.check.results import PHASES, FileResult, builtin_finding
from schedlint.model.tree import content_hash
from schedlint.report.findings import Finding
from schedlint.rules import checkable_rules


def check_source(
    path: str,
    data: bytes | None,
    codes: frozenset,
    *,
    check_syntax_all: bool = False,
    gate: bool = True,
) -> FileResult:
    """The pipeline on one file's bytes (read from ``path`` when None), rules ``codes``.

    ``gate=False`` bypasses the prefilter (every file is parsed and checked), which is what
    ``tests/test_prefilter.py`` compares the gated pipeline against.
    """
    from schedlint.check.pipeline import check_file

    options = Options(codes=frozenset(codes), check_syntax=check_syntax_all, gate=gate)
    return check_file(path, options, data=data)


def check_paths(
    paths: list,
    options: Options,
    *,
    cache=None,
    stdin: tuple | None = None,
    timings: dict | None = None,
) -> list:
    """Per-file results for ``paths`` (in the given order), then ``stdin = (name, data)``.

    ``timings``, a dict, receives where the time went: the PHASES of the pipeline summed over
    files and workers, plus ``cache`` (wall seconds) and counts.
    """
    t0 = perf_counter()
    todo, cached, seen = [], {}, {}
    pooled = options.workers(len(paths)) > 1
    for p in paths:
        if cache is None:
            todo.append(p)
            continue
        try:
            data = read_bytes(p)
        except OSError:  # the pipeline reports it
            todo.append(p)
            continue
        sha = content_hash(data)
        # Other files' results may depend on this one (a helper module): its bytes are read
        # and hashed once for both.
        seen.setdefault(os.path.abspath(p), sha)
        hit = cache.get(p, data, current_dependency_digest(cache.dependencies(p), seen), sha=sha)
        if hit is not None:
            cached[p] = hit
        else:  # a pool's workers read the file themselves (cheaper than sending it)
            todo.append(p if pooled else (p, data))
    t_cache = perf_counter() - t0
    fresh = _check_many(todo, options) if todo else []
    t1 = perf_counter()
    if cache is not None:
        for r in fresh:
            cache.put(r, dependency_digest(r.deps))
    t_cache += perf_counter() - t1
    if timings is not None:
        for phase in PHASES:
            timings[phase] = timings.get(phase, 0.0) + sum(
                r.timings[phase] for r in fresh if r.timings is not None
            )
        timings["cache"] = timings.get("cache", 0.0) + t_cache
        timings["files"] = len(paths)
        timings["cached"] = len(cached)
        timings["parsed"] = sum(r.parsed for r in fresh)
        timings["workers"] = options.workers(len(todo))
    by_path = {r.path: r for r in fresh}
    by_path.update(cached)
    results = [by_path[p] for p in paths]
    if stdin is not None:
        name, data = stdin
        from schedlint.check.pipeline import check_file

        results.append(check_file(name, replace(options, check_syntax=True), data=data))
    return results


def _check_many(todo: list, options: Options) -> list:
    # Imported here: a run the cache answers whole never loads the parser and the model.
    from schedlint.check.pool import check_many

    return check_many(todo, options)


# What marks a project's root: the folder in-tree imports and a whole-tree run start from.
ROOT_MARKERS = ("pyproject.toml", ".git")


def project_root(path: str) -> str | None:
    """The nearest folder at or above ``path`` holding pyproject.toml or .git, else None."""
    here = os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")
    while True:
        if any(os.path.exists(os.path.join(here, m)) for m in ROOT_MARKERS):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


def unread_keys(results: Iterable[FileResult]) -> set:
    """Scaling keys the results' files set in a param group and none of them reads (what SL107
    would report on these files alone)."""
    facts = [r.facts for r in results if r.facts is not None]
    read = set().union(*(f.read_keys for f in facts))
    return {k[0] for f in facts for k in f.group_keys if k[0] not in read and "lr_" in k[0]}


def project_readers(results: list, named: list, walk, options: Options) -> list:
    """Summaries (read keys only, nothing reported) of the files of the named files' projects
    that a run over part of a project did not check, so SL107 judges the named files as a
    run over the whole project would.

    ``named``: the paths named on the command line; ``walk(root)``: the files a run over the
    folder ``root`` checks (the same excludes and .gitignore). Bounded: nothing is read unless
    a checked file sets a key none of them reads, a project named whole is not walked again,
    and only files whose bytes name such a key (or the library that applies it) are modelled.
    """
    keys = unread_keys(results)
    if not keys:
        return []
    from schedlint.model.builder import EXTERNAL_KEY_READERS

    needles = {k.encode() for k in keys}
    # A library's scheduler that applies the key is built where its name and "scheduler" occur.
    libraries = {lib.encode() for lib, read in EXTERNAL_KEY_READERS.items() if keys & set(read)}
    checked = {os.path.abspath(r.path) for r in results}
    whole = {os.path.abspath(p) for p in named if os.path.isdir(p)}
    # Outside any project, a file's folder is its tree (where its in-tree imports resolve).
    roots = {
        project_root(r.path) or os.path.dirname(os.path.abspath(r.path))
        for r in results
        if r.facts is not None and r.facts.group_keys
    }
    others = []
    for root in sorted(roots):
        if any(root == w or root.startswith(w + os.sep) for w in whole):
            continue  # a folder at or above the root was walked: the run saw the project
        for path in walk(root):
            if os.path.abspath(path) in checked:
                continue
            checked.add(os.path.abspath(path))
            try:
                data = read_bytes(path)
            except OSError:
                continue
            if any(n in data for n in needles) or (
                b"cheduler" in data and any(lib in data for lib in libraries)
            ):
                others.append(path)
    if not others:
        return []
    # Only SL107's facts are wanted: the other rules stay off, and nothing is cached or fixed.
    quiet = replace(options, codes=frozenset({"SL107"}), per_folder=((), ()), fix=False, diff=False)
    summaries = []
    for r in check_paths(others, quiet):
        if r.facts is not None:
            summaries.append(replace(r, findings=[], facts=replace(r.facts, group_keys=[])))
    return summaries


def run_project_rules(results: Iterable[FileResult], codes) -> list:
    files = [r.facts for r in results if r.facts is not None]
    if not files:  # nothing was parsed (skipped or cached files only)
        return []
    from schedlint.model.summaries import ProjectFacts

    facts = ProjectFacts(files=files)
    findings = []
    for rule in checkable_rules():
        if rule.code not in codes or rule.scope != "project":
            continue
        try:
            for rep in rule.check(facts):
                findings.append(
                    Finding(
                        path=rep.path,
                        line=rep.line,
                        column=rep.column,
                        code=rule.code,
                        message=rep.message,
                        end_line=rep.end_line,
                        end_column=rep.end_column,
                        severity=rule.severity,
                        name=rule.name,
                        help=rep.help,
                    )
                )
        except Exception as exc:
            findings.append(
                builtin_finding(
                    "SL003",
                    "<project>",
                    f"internal error in rule {rule.code} ({rule.name}): "
                    f"{type(exc).__name__}: {exc}",
                )
            )
    return findings


def sort_findings(findings) -> list:
    return sorted(findings, key=Finding.sort_key)


__all__ = ["FileResult", "check_paths", "check_source", "run_project_rules", "sort_findings"]
