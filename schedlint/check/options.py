"""What a check run was asked to do: one frozen object, built once, passed down.

The CLI builds :class:`Options` from its flags and the configurations (:func:`from_config`
expands ``select``/``ignore``/``per-file-ignores`` to rule codes, once per configuration); the
pipeline, the pool, the cache and the fixer read it and nothing else, so no setting travels
through a module global or a chain of keyword arguments.

Each file uses the nearest ``pyproject.toml`` with a ``[tool.schedlint]`` table above it (as
ruff). The CLI finds it for every file it checks; :class:`Options` keeps each configuration's
selection once (a :class:`Selection`) and, per folder of the files, which one applies.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

# Below this many files a pool costs more (fork + pickling) than it saves.
POOL_THRESHOLD = 24


@dataclass(frozen=True)
class Selection:
    """One configuration's selection: what is reported in the files that use it."""

    codes: frozenset  # the selected rule codes, expanded
    # ((glob, frozenset of codes), ...): codes not reported in files the glob matches
    per_file_ignores: tuple = ()
    root: Path = Path(".")  # where per-file-ignores globs are anchored (the config's folder)
    # What a file's result depends on from this selection (part of its cache entry's key).
    digest: str = field(default="", compare=False)

    def __post_init__(self):
        if not self.digest:
            blob = json.dumps(
                [
                    sorted(self.codes),
                    [[g, sorted(c)] for g, c in self.per_file_ignores],
                    str(self.root.resolve()) if self.per_file_ignores else "",
                ]
            )
            object.__setattr__(self, "digest", hashlib.sha256(blob.encode()).hexdigest())

    def codes_for(self, path: str) -> frozenset:
        """The codes reported in ``path``: the selection less its per-file-ignores."""
        if not self.per_file_ignores:
            return self.codes
        from schedlint.config import path_matches

        ignored = set()
        for glob, codes in self.per_file_ignores:
            if path_matches(path, glob, self.root):
                ignored |= codes
        return self.codes - ignored if ignored else self.codes


@dataclass(frozen=True)
class Options:
    # The selected rule codes, expanded; these three are the selection of every file that
    # per_folder does not name.
    codes: frozenset
    # ((glob, frozenset of codes), ...): codes not reported in files the glob matches
    per_file_ignores: tuple = ()
    root: Path = Path(".")  # where per-file-ignores globs are anchored (the config's folder)
    # Files whose nearest configuration is another one: (selections, ((dirname, index), ...)),
    # a file's dirname as the CLI names it -> the index of its Selection.
    per_folder: tuple = ((), ())
    check_syntax: bool = False  # SL001 for files the gate skips unparsed, too
    jobs: int = 0  # worker processes (0: one per core; 1: no pool)
    cache_dir: Path | None = None  # results cache folder; None: no cache
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False  # --diff: fix in memory and print the diff, never write
    timings: bool = False  # record where the time goes (FileResult.timings)
    gate: bool = True  # False: parse every file (what tests/test_prefilter.py compares)

    def __post_init__(self):
        # Looked up once per file: built once here (not fields: derived from the fields).
        object.__setattr__(self, "_own", Selection(self.codes, self.per_file_ignores, self.root))
        object.__setattr__(self, "_folders", dict(self.per_folder[1]))

    def selection(self, path: str) -> Selection:
        """The selection ``path`` uses: its folder's configuration's, else the run's own."""
        index = self._folders.get(os.path.dirname(path)) if self._folders else None
        return self._own if index is None else self.per_folder[0][index]

    def codes_for(self, path: str) -> frozenset:
        """The codes reported in ``path``: its selection less its per-file-ignores."""
        return self.selection(path).codes_for(path)

    def workers(self, nfiles: int) -> int:
        """How many processes check ``nfiles`` files (1: no pool)."""
        jobs = self.jobs or os.cpu_count() or 1
        if jobs > 1 and nfiles >= POOL_THRESHOLD:
            return min(jobs, nfiles // POOL_THRESHOLD + 1)
        return 1

    def all_codes(self) -> frozenset:
        """Every code some file selects (the project rules run for these)."""
        return self.codes.union(*(s.codes for s in self.per_folder[0]))

    def settings_digest(self, path: str) -> str:
        """What ``path``'s check result depends on from its configuration: the cache keys each
        file's entry on it, so a change to the configuration a file uses is a miss."""
        return self.selection(path).digest

    def results_digest(self) -> str:
        """The cache's run key: what every file's check result depends on besides the file
        itself. The run's own selection is in it too, so that runs with different ``--select``
        keep separate caches; a file that uses another configuration's selection is keyed on
        that one as well (:meth:`settings_digest`)."""
        blob = json.dumps([self._own.digest, self.check_syntax, self.gate])
        return hashlib.sha256(blob.encode()).hexdigest()


def _selection(cfg, select, ignore, extend_select) -> Selection:
    from schedlint import config
    from schedlint.rules import expand_selectors

    codes = config.effective_codes(cfg, select=select, ignore=ignore, extend_select=extend_select)
    pfi = tuple(
        (glob, frozenset(expand_selectors(selectors)))
        for glob, selectors in cfg.per_file_ignores.items()
    )
    return Selection(codes, pfi, cfg.root)


def from_config(
    cfg, *, select=None, ignore=None, extend_select=None, per_file=None, **flags
) -> Options:
    """Options for a run: the CLI's selection (code sets, already expanded; None when not
    given) over ``cfg`` (a :class:`schedlint.config.Config`), plus ``flags`` (the other
    :class:`Options` fields). ``per_file``: ``{path: Config}``, the configuration of each
    file whose nearest one is not ``cfg`` (the CLI's selection applies over it too)."""
    own = _selection(cfg, select, ignore, extend_select)
    selections, index_of, folders = [], {}, {}
    for path, file_cfg in (per_file or {}).items():
        if file_cfg.path == cfg.path:
            continue
        key = file_cfg.path
        if key not in index_of:
            index_of[key] = len(selections)
            selections.append(_selection(file_cfg, select, ignore, extend_select))
        folders[os.path.dirname(path)] = index_of[key]
    return Options(
        codes=own.codes,
        per_file_ignores=own.per_file_ignores,
        root=own.root,
        per_folder=(tuple(selections), tuple(sorted(folders.items()))),
        **flags,
    )


__all__ = ["Options", "Selection", "from_config"]
