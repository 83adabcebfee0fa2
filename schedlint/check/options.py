"""What a check run was asked to do: one frozen object, built once, passed down.

The CLI builds :class:`Options` from its flags and the configuration (:func:`from_config`
expands ``select``/``ignore``/``per-file-ignores`` to rule codes, once); the pipeline, the pool,
the cache and the fixer read it and nothing else, so no setting travels through a module
global or a chain of keyword arguments.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional


@dataclass(frozen=True)
class Options:
    codes: frozenset  # the selected rule codes, expanded
    # ((glob, frozenset of codes), ...): codes not reported in files the glob matches
    per_file_ignores: tuple = ()
    root: Path = Path(".")  # where per-file-ignores globs are anchored (the config's folder)
    check_syntax: bool = False  # SL001 for files the gate skips unparsed, too
    jobs: int = 0  # worker processes (0: one per core; 1: no pool)
    cache_dir: Optional[Path] = None  # results cache folder; None: no cache
    fix: bool = False
    unsafe_fixes: bool = False
    diff: bool = False  # --diff: fix in memory and print the diff, never write
    timings: bool = False  # record where the time goes (FileResult.timings)
    gate: bool = True  # False: parse every file (what tests/test_prefilter.py compares)

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

    def results_digest(self) -> str:
        """What a file's check result depends on besides the file itself (the cache key)."""
        blob = json.dumps([sorted(self.codes),
                           [[g, sorted(c)] for g, c in self.per_file_ignores],
                           str(self.root.resolve()) if self.per_file_ignores else "",
                           self.check_syntax, self.gate])
        return hashlib.sha256(blob.encode()).hexdigest()


def from_config(cfg, *, select=None, ignore=None, extend_select=None, **flags) -> Options:
    """Options for a run: the CLI's selection (code sets, already expanded; None when not
    given) over ``cfg`` (a :class:`schedlint.config.Config`), plus ``flags`` (the other
    :class:`Options` fields)."""
    from schedlint import config
    from schedlint.rules import expand_selectors

    codes = config.effective_codes(cfg, select=select, ignore=ignore,
                                   extend_select=extend_select)
    pfi = tuple((glob, frozenset(expand_selectors(selectors)))
                for glob, selectors in cfg.per_file_ignores.items())
    return Options(codes=codes, per_file_ignores=pfi, root=cfg.root, **flags)


__all__ = ["Options", "from_config"]
