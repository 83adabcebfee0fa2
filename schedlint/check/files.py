"""Which files a run checks: walk directories for ``*.py``, apply excludes and .gitignore.

An explicitly named file is always checked, unless ``--force-exclude`` asks for the configured
excludes to apply to it too (what the pre-commit hook passes, as ruff does). A named path that
does not exist is a usage error (``Discovery.missing``: the command line says so and exits 2,
after checking the other paths); a dangling symlink named is passed on, so the engine reports it
(SL002, as ruff's E902). Symlink loops and unreadable directories are reported as warnings,
never raised.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from schedlint.config import path_matches


class GitIgnore:
    """The subset of gitignore semantics that matters for source trees.

    Patterns from every ``.gitignore`` between the walk root and a file apply, later and
    deeper ones winning; ``!`` re-includes, a trailing ``/`` matches directories only, a ``/``
    elsewhere anchors the pattern to the .gitignore's folder, ``**`` spans folders.
    """

    def __init__(self):
        self.rules = []  # (base_dir, regex, negated, dir_only)

    def add_file(self, path: Path):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        # Absolute (not resolved: the walk's paths are not either), so that a .gitignore
        # above the walk root applies whether the root was named as `pkg` or `/abs/pkg`.
        base = Path(os.path.abspath(path.parent))
        for raw in text.splitlines():
            line = raw.rstrip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            if negated:
                line = line[1:]
            dir_only = line.endswith("/")
            line = line.strip("/") if dir_only else line
            anchored = "/" in line.rstrip("/")
            line = line.lstrip("/")
            regex = self._translate(line, anchored)
            self.rules.append((base, regex, negated, dir_only))

    @staticmethod
    def _translate(pattern: str, anchored: bool):
        out, i = [], 0
        while i < len(pattern):
            c = pattern[i]
            if pattern.startswith("**/", i):
                out.append("(?:.*/)?")
                i += 3
                continue
            if pattern.startswith("**", i):
                out.append(".*")
                i += 2
                continue
            out.append("[^/]*" if c == "*" else "[^/]" if c == "?" else re.escape(c))
            i += 1
        body = "".join(out)
        return re.compile(("^" if anchored else "^(?:.*/)?") + body + "$")

    def ignored(self, path: Path, is_dir: bool) -> bool:
        if not self.rules:
            return False
        result = False
        path = Path(os.path.abspath(path))
        for base, regex, negated, dir_only in self.rules:
            if dir_only and not is_dir:
                continue
            try:
                rel = path.relative_to(base).as_posix()
            except ValueError:
                continue
            if regex.match(rel):
                result = not negated
        return result


@dataclass
class Discovery:
    files: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    walked_directory: bool = False
    dirs: list = field(default_factory=list)  # every folder the walk entered (for replay)
    missing: list = field(default_factory=list)  # named paths that do not exist


_name_matchers: dict = {}  # patterns -> (one regex for the slash-free ones, the others)


def _name_matcher(patterns):
    """``fnmatch`` of a name against every slash-free pattern as one compiled regex (a walk
    asks this for every file and folder: per-pattern fnmatch calls dominated discovery)."""
    key = tuple(patterns)
    try:
        return _name_matchers[key]
    except KeyError:
        simple = [os.path.normcase(p) for p in key if "/" not in p.rstrip("/")]
        regex = re.compile("|".join(fnmatch.translate(p) for p in simple)) if simple else None
        entry = _name_matchers[key] = (regex, [p for p in key if "/" in p.rstrip("/")])
        return entry


def _excluded(path: Path, patterns, root: Path, *, walking: bool = False) -> bool:
    name = path.name
    if walking:
        # Inside a walk every folder below the walk root was matched by name on the way down,
        # so a pattern without "/" only needs the entry's own name. Matching it against every
        # component of the path would exclude the whole tree when a folder *above* the named
        # root is called e.g. `site-packages` or `venv` (`schedlint .../site-packages/torch`
        # checked nothing), which ruff does not do either.
        regex, with_slash = _name_matcher(patterns)
        if regex is not None and regex.match(os.path.normcase(name)):
            return True
        return any(path_matches(str(path), pat, root) for pat in with_slash)
    return any(fnmatch.fnmatch(name, pat) or path_matches(str(path), pat, root) for pat in patterns)


def discover(
    paths, excludes, root: Path, *, respect_gitignore=True, force_exclude=False
) -> Discovery:
    found = Discovery()
    seen = set()

    def add(p: Path):
        key = os.path.normcase(os.path.abspath(p))
        if key not in seen:
            seen.add(key)
            found.files.append(str(p))

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found.walked_directory = True
            if force_exclude and _excluded(p, excludes, root):
                continue
            _walk(p, excludes, root, respect_gitignore, add, found)
        elif p.exists() or p.is_symlink():
            if force_exclude and _excluded(p, excludes, root):
                continue
            add(p)
        else:
            # A mistyped path must fail the run, not pass with "All checks passed!".
            found.missing.append(raw)
    return found


def _walk(top: Path, excludes, root: Path, respect_gitignore, add, found):
    ignore = GitIgnore()
    if respect_gitignore:
        # .gitignore files above the walk root still apply (up to the repository root).
        for parent in reversed(Path(os.path.abspath(top)).parents):
            if (parent / ".gitignore").is_file():
                ignore.add_file(parent / ".gitignore")
    visited = set()

    def onerror(err: OSError):
        found.warnings.append(f"{err.filename}: cannot list directory: {err.strerror}")

    for dirpath, dirnames, filenames in os.walk(top, onerror=onerror, followlinks=True):
        current = Path(dirpath)
        try:
            real = os.path.realpath(dirpath)
        except OSError:
            real = dirpath
        if real in visited:  # a symlink loop, or two links to the same folder
            found.warnings.append(f"{dirpath}: skipped, already visited through a symlink")
            dirnames[:] = []
            continue
        visited.add(real)
        found.dirs.append(dirpath)
        if respect_gitignore and ".gitignore" in filenames:
            ignore.add_file(current / ".gitignore")
        keep = []
        for d in sorted(dirnames):
            sub = current / d
            if _excluded(sub, excludes, root, walking=True) or (
                respect_gitignore and ignore.ignored(sub, True)
            ):
                continue
            keep.append(d)
        dirnames[:] = keep
        for name in sorted(filenames):
            if not name.endswith((".py", ".ipynb")):  # notebooks: schedlint.check.notebook
                continue
            f = current / name
            if _excluded(f, excludes, root, walking=True) or (
                respect_gitignore and ignore.ignored(f, False)
            ):
                continue
            if _special(f):  # opening a FIFO named x.py would block the run forever
                found.warnings.append(f"{f}: skipped, not a regular file")
                continue
            add(f)


def _special(path: Path) -> bool:
    """A FIFO, socket or device (a broken link is not: checking it reports SL002)."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False
