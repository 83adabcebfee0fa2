"""The results cache under ``.schedlint_cache/``: sound by construction.

A file's cached result is used only when everything the result depends on is what it was:

- the file's bytes (a SHA-256 of the bytes, read anyway to be checked: never size or mtime,
  which an edit can keep);
- the checker: the schedlint version and a hash of every source file of the package, the
  libcst version and the Python version (``sys.version_info[:2]``: the grammar);
- the settings of the run (:meth:`Options.results_digest`: the selection, per-file-ignores,
  ``--check-syntax``, the gate);
- the settings of the file (:meth:`Options.settings_digest`: the selection and per-file-ignores
  of the configuration the file uses, which may differ from file to file);
- a file's *dependency digest* (:func:`dependency_digest`), given by the caller of
  :meth:`ResultCache.get` and :meth:`ResultCache.put`: the content hashes of the in-tree
  modules its result depended on (those the model read for their summaries, and those the
  gate asked about; ``FileResult.deps``). An entry records their paths
  (:meth:`ResultCache.dependencies`), so the next run hashes them as they are now: a changed
  helper re-checks the files that call it, and an untouched tree stays warm. A file whose
  class was looked up in the modules that may import it (``Trainer(...)`` in ``train.py``,
  :meth:`Tree.importers <schedlint.model.tree.Tree.importers>`) also depends on every file
  read for that and on the directories listed (a directory's dependency hash is
  :func:`~schedlint.model.tree.listing_hash`, its ``.py`` names), so a new or edited
  caller re-checks the class's file. A file that read no other module has the digest "".
  Not covered: a module created after the result was cached, where an import used to
  resolve to no file of the tree (its importers are checked again when they change, or
  with ``--no-cache``).

The checker and the run's settings make the cache file's name (:func:`run_key`); the bytes,
the file's settings and its dependency digest are each entry's key. Anything else in the file,
of any shape (``null``, ``[]``, wrong types, a truncated write), is ignored and rewritten.
Writes go to a temporary file renamed into place, so concurrent runs never see a torn file; the
last writer wins. An unreadable or unwritable cache only costs speed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from functools import cache
from pathlib import Path

from schedlint import __version__
from schedlint.check.documents import read_bytes
from schedlint.check.jsonfile import write_atomically, write_text_atomically
from schedlint.check.options import Options
from schedlint.check.results import FileResult
from schedlint.model.tree import content_hash, listing_hash
from schedlint.report.findings import Finding

CACHE_DIR_NAME = ".schedlint_cache"
FORMAT = 3  # of an entry; part of the run key
GITIGNORE = "# Automatically created by schedlint.\n*\n"


@cache
def code_digest() -> str:
    """A hash of schedlint's own sources: any edit to the checker is a new cache."""
    package = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                path = os.path.join(dirpath, name)
                h.update(os.path.relpath(path, package).encode() + b"\0")
                try:
                    with open(path, "rb") as fh:
                        h.update(fh.read())
                except OSError:
                    h.update(b"<unreadable>")
                h.update(b"\0")
    return h.hexdigest()


_VERSION_LINE = re.compile(r"""^__version__\b.*?=\s*['"]([^'"]+)['"]""", re.M)


@cache
def libcst_version() -> str:
    """The installed libcst's version, from the ``_version.py`` its build writes: a warm run
    parses nothing, so it should import neither libcst (a quarter of a second) nor
    ``importlib.metadata`` (25 ms, more than reading and hashing a small tree)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("libcst")
        locations = spec.submodule_search_locations if spec is not None else None
        if locations:
            with open(os.path.join(list(locations)[0], "_version.py"), encoding="utf-8") as fh:
                found = _VERSION_LINE.search(fh.read())
            if found is not None:
                return found.group(1)
    except (OSError, ImportError, ValueError):
        pass
    from importlib import metadata  # a libcst built without the file

    try:
        return metadata.version("libcst")
    except metadata.PackageNotFoundError:
        return "?"


def run_key(options: Options) -> str:
    """What every result of this run depends on, besides each file's own inputs."""
    blob = json.dumps(
        [
            FORMAT,
            __version__,
            code_digest(),
            libcst_version(),
            list(sys.version_info[:2]),
            options.results_digest(),
        ]
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def dependency_digest(deps) -> str:
    """The digest of ``deps``, (path, content hash or None when unreadable) pairs; "" for
    none."""
    if not deps:
        return ""
    blob = json.dumps(sorted([os.path.abspath(p), h] for p, h in deps))
    return hashlib.sha256(blob.encode()).hexdigest()


def current_dependency_digest(paths, seen: dict) -> str:
    """:func:`dependency_digest` of the files ``paths`` as they are now; ``seen`` (path ->
    content hash) keeps what this run already read, since many files import one helper."""
    deps = []
    for p in paths:
        if p not in seen and os.path.isdir(p):
            # a directory listed for the modules importing a class (model/tree.py)
            seen[p] = listing_hash(p)
        elif p not in seen:
            try:
                seen[p] = content_hash(read_bytes(p))
            except OSError:
                seen[p] = None
        deps.append((p, seen[p]))
    return dependency_digest(deps)


class ResultCache:
    def __init__(self, root: Path, options: Options):
        self.dir = Path(root) / CACHE_DIR_NAME / __version__
        self.file = self.dir / f"results-{run_key(options)}.json"
        self.options = options
        self.entries = self._load()
        self.dirty = {}

    def _load(self) -> dict:
        try:
            with open(self.file, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(
        self, path: str, data: bytes, dependency_digest: str = "", sha: str | None = None
    ) -> FileResult | None:
        """The cached result of ``path`` whose bytes are ``data`` (of content hash ``sha``,
        when the caller has it already), or None."""
        sha = sha or content_hash(data)
        entry = self.entries.get(os.path.abspath(path))
        if (
            not isinstance(entry, dict)
            or entry.get("sha") != sha
            or entry.get("deps") != dependency_digest
            or entry.get("settings") != self.options.settings_digest(path)
        ):
            return None
        try:
            return _result(path, sha, len(data), entry)
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # a foreign or damaged entry: checked again, then rewritten

    def dependencies(self, path: str) -> list:
        """The in-tree modules ``path``'s cached result depended on (paths), for the caller
        to compute the dependency digest it asks :meth:`get` with."""
        entry = self.entries.get(os.path.abspath(path))
        deps = entry.get("dep_paths") if isinstance(entry, dict) else None
        if not isinstance(deps, list) or not all(isinstance(p, str) for p in deps):
            return []
        return deps

    def put(self, result: FileResult, dependency_digest: str = "") -> None:
        if (
            result.sha is None
            or result.crashed
            or any(f.code in ("SL002", "SL003") for f in result.findings)
        ):
            return  # transient failures (permissions, crashes) must be retried next run
        facts = result.facts
        self.dirty[os.path.abspath(result.path)] = {
            "sha": result.sha,
            "deps": dependency_digest,
            "settings": self.options.settings_digest(result.path),
            "dep_paths": [p for p, _ in result.deps],
            "parsed": result.parsed,
            "findings": [
                {k: v for k, v in f.to_dict().items() if k != "path"} for f in result.findings
            ],
            "facts": {"group_keys": facts.group_keys, "read_keys": sorted(facts.read_keys)}
            if facts
            else None,
        }

    def save(self) -> None:
        if not self.dirty:
            return
        merged = {**self._load(), **self.dirty}
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError:
            return  # a read-only tree still gets checked, just not cached
        _ensure_gitignore(self.dir.parent / ".gitignore")
        write_atomically(str(self.file), merged)


_FIELD_TYPES = (
    ("code", str),
    ("message", str),
    ("severity", str),
    ("name", str),
    ("line", int),
    ("column", int),
    ("end_line", int),
    ("end_column", int),
    ("help", str),
)


def _result(path: str, sha: str, size: int, entry: dict) -> FileResult:
    from schedlint.model.summaries import FileFacts

    findings = entry["findings"]
    parsed = entry["parsed"]
    if not isinstance(findings, list) or not isinstance(parsed, bool):
        raise TypeError("not an entry")
    out = []
    for f in findings:
        finding = Finding(**{**f, "path": path})
        if (
            not all(isinstance(getattr(finding, name), kind) for name, kind in _FIELD_TYPES)
            or not isinstance(finding.fix, (dict, type(None)))
            or not isinstance(finding.cell, (int, type(None)))
        ):
            raise TypeError("not a finding")
        out.append(finding)
    facts = entry["facts"]
    if facts is not None:
        keys = [tuple(k) for k in facts["group_keys"]]
        if not all(len(k) == 5 and isinstance(k[0], str) for k in keys):
            raise TypeError("not a group key")
        facts = FileFacts(path=path, group_keys=keys, read_keys=set(facts["read_keys"]))
    return FileResult(path=path, findings=out, parsed=parsed, facts=facts, sha=sha, size=size)


def _ensure_gitignore(path: Path) -> None:
    """The cache folder ignores itself for git; a missing or damaged (e.g. 0-byte, from a
    write that failed) ``.gitignore`` is written again, atomically."""
    try:
        if path.read_text(encoding="utf-8") == GITIGNORE:
            return
    except (OSError, UnicodeDecodeError):
        pass
    write_text_atomically(str(path), GITIGNORE)


__all__ = [
    "CACHE_DIR_NAME",
    "ResultCache",
    "code_digest",
    "current_dependency_digest",
    "dependency_digest",
    "run_key",
]
