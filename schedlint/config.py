"""``[tool.schedlint]`` in pyproject.toml: discovery, validation, and the effective selection.

Keys follow ruff's vocabulary: ``select``, ``ignore``, ``extend-select``, ``exclude``,
``extend-exclude``, ``per-file-ignores``. Anything else, an unknown rule code, or a value of the
wrong type is a :class:`ConfigError` naming the file and the key; the CLI turns it into exit 2.
"""

from __future__ import annotations

import fnmatch
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from schedlint.rules import all_rules, expand_selectors

DEFAULT_EXCLUDES = (
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    "__pycache__",
    "build",
    "dist",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".schedlint_cache",
    "node_modules",
    "site-packages",
    ".eggs",
    "*.egg-info",
    ".ipynb_checkpoints",
)
_LIST_KEYS = ("select", "ignore", "extend-select", "exclude", "extend-exclude")
KNOWN_KEYS = frozenset(_LIST_KEYS + ("per-file-ignores",))


class ConfigError(Exception):
    """A configuration problem the user must fix; the message names file and key."""


@dataclass
class Config:
    path: Path | None = None  # the pyproject.toml it came from
    root: Path = field(default_factory=Path.cwd)  # where relative globs are anchored
    select: list | None = None
    ignore: list = field(default_factory=list)
    extend_select: list = field(default_factory=list)
    exclude: list | None = None
    extend_exclude: list = field(default_factory=list)
    per_file_ignores: dict = field(default_factory=dict)  # glob -> [selectors]

    @property
    def excludes(self) -> list:
        base = list(DEFAULT_EXCLUDES) if self.exclude is None else list(self.exclude)
        return base + list(self.extend_exclude)


def default_selection() -> list:
    """Every static rule: all checks are on unless a user turns one off."""
    return ["ALL"]


def real_path(path) -> Path:
    """The absolute path with symlinks resolved as far as they go. Never raises: a symlink
    loop (which ``Path.resolve()`` turns into RuntimeError before Python 3.13) stays as it
    is, so the run reports it as SL002 instead of ending."""
    return Path(os.path.realpath(path))


def find_pyproject(start: Path) -> Path | None:
    start = real_path(start)
    if start.is_file() or not start.exists():
        start = start.parent
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if claims(candidate):
            return candidate
    return None


def toml_parser():
    """The TOML module, imported when a file is read: a run that reads no config file (one
    file checked with ``--isolated``, a tree with no pyproject.toml) does not pay for it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on 3.10 only
        import tomli as tomllib
    return tomllib


def claims(candidate: Path) -> bool:
    """Whether ``candidate`` is a pyproject.toml with a ``[tool.schedlint]`` table."""
    if not candidate.is_file():
        return False
    tomllib = toml_parser()
    try:
        with open(candidate, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        # A broken pyproject.toml that has a schedlint table is still "ours": let
        # load_config report it rather than silently skipping to a parent.
        return True
    tool = data.get("tool")
    return isinstance(tool, dict) and "schedlint" in tool


def load_config(path: Path | None) -> Config:
    if path is None:
        return Config()
    tomllib = toml_parser()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:  # TOML is UTF-8; tomllib lets the decode error escape
        raise ConfigError(
            f"{path}: invalid TOML: not UTF-8 (invalid byte at offset {exc.start})"
        ) from None
    tool = data.get("tool", {}) if path.name == "pyproject.toml" else None
    if tool is not None and not isinstance(tool, dict):
        raise ConfigError(f"{path}: key 'tool' must be a table")
    table = tool.get("schedlint") if tool is not None else data
    if table is None:
        table = {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.schedlint] must be a table")
    return parse_table(table, path)


def parse_table(table: dict, path: Path) -> Config:
    cfg = Config(path=path, root=path.parent)
    for key, value in table.items():
        where = f"{path}: [tool.schedlint] key {key!r}"
        if key not in KNOWN_KEYS:
            from difflib import get_close_matches  # only to word this error

            close = [
                k for k in KNOWN_KEYS if k.replace("-", "_") == key.replace("-", "_")
            ] or get_close_matches(key, sorted(KNOWN_KEYS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(
                f"{path}: unknown key {key!r} in [tool.schedlint]{hint}; "
                f"known keys: {', '.join(sorted(KNOWN_KEYS))}"
            )
        if key in _LIST_KEYS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where} must be a list of strings, got {type(value).__name__}")
            if key in ("select", "ignore", "extend-select"):
                _validate_selectors(value, where)
            setattr(cfg, key.replace("-", "_"), list(value))
        else:  # per-file-ignores
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{where} must be a table of glob = [codes], got {type(value).__name__}"
                )
            for glob, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"{where}: entry {glob!r} must be a list of rule codes")
                _validate_selectors(codes, f"{where}: entry {glob!r}")
            cfg.per_file_ignores = dict(value)
    return cfg


def _validate_selectors(selectors, where):
    try:
        expand_selectors(selectors)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def effective_codes(cfg: Config, *, select=None, ignore=None, extend_select=None) -> frozenset:
    """The codes to run: CLI beats config; then extend-select adds and ignore removes.
    The CLI's values are lists of selectors, or sets of the codes they already expand to
    (what schedlint.cli passes: it expands each option once, as it validates it)."""

    def codes(value):
        return set(value) if isinstance(value, (set, frozenset)) else expand_selectors(value or [])

    if select:
        chosen = codes(select)
    else:
        chosen = expand_selectors(cfg.select if cfg.select is not None else default_selection())
    chosen |= expand_selectors(cfg.extend_select) | codes(extend_select)
    chosen -= expand_selectors(cfg.ignore) | codes(ignore)
    static = {r.code for r in all_rules() if r.kind != "guard"}
    return frozenset(chosen & static)


def unmatched_per_file_globs(cfg: Config, files) -> list:
    """per-file-ignores globs that match none of the checked files (a likely typo)."""
    return [g for g in cfg.per_file_ignores if not any(path_matches(f, g, cfg.root) for f in files)]


def path_matches(path: str, pattern: str, root: Path) -> bool:
    """ruff-like glob matching: a pattern matches the path relative to the config root, or
    (for a pattern without a slash) any path component / the file name."""
    p = Path(path)
    try:
        rel = real_path(p).relative_to(real_path(root)).as_posix()
    except (ValueError, OSError):
        rel = p.as_posix()
    pattern = pattern.rstrip("/")
    if fnmatch.fnmatch(rel, pattern) or fnmatch.fnmatch(rel, pattern + "/*"):
        return True
    if pattern.startswith("**/") and fnmatch.fnmatch(rel, pattern[3:]):
        return True
    if "/" not in pattern:
        return any(fnmatch.fnmatch(part, pattern) for part in Path(rel).parts)
    return False


class PerFileConfigs:
    """The configuration each file uses, as ruff: the nearest ``pyproject.toml`` with a
    ``[tool.schedlint]`` table above the file (:meth:`config`). ``fixed`` (``--config`` or
    ``--isolated``) overrides them all. :func:`schedlint.check.options.from_config` turns what
    it finds into the run's selection per file."""

    def __init__(self, *, fixed: Config | None = None):
        self.fixed = fixed
        self._by_folder = {}  # folder -> Config
        self._by_dirname = {}  # a file's dirname as given -> Config (skips resolving it again)
        self._by_file = {}  # pyproject path (or None) -> Config

    def config(self, path: str) -> Config:
        """The configuration of ``path`` (a file, or a name given with --stdin-filename)."""
        if self.fixed is not None:
            return self.fixed
        dirname = os.path.dirname(path)
        cfg = self._by_dirname.get(dirname)
        if cfg is None:
            cfg = self._by_dirname[dirname] = self._of_folder(
                real_path(Path(os.path.abspath(path)).parent)
            )
        return cfg

    def _of_folder(self, folder: Path) -> Config:
        # Memoised per folder, so a walk of many folders reads each pyproject.toml once.
        cfg = self._by_folder.get(folder)
        if cfg is None:
            candidate = folder / "pyproject.toml"
            if claims(candidate):
                cfg = self._by_file.get(candidate)
                if cfg is None:
                    cfg = self._by_file[candidate] = load_config(candidate)
            elif folder.parent != folder:
                cfg = self._of_folder(folder.parent)
            else:
                cfg = self._by_file.setdefault(None, Config())
            self._by_folder[folder] = cfg
        return cfg


__all__ = [
    "Config",
    "ConfigError",
    "PerFileConfigs",
    "claims",
    "find_pyproject",
    "load_config",
    "effective_codes",
    "path_matches",
    "unmatched_per_file_globs",
    "os",
]
