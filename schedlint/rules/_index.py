"""The rule registry's metadata, cached so that listing rules does not import them.

Every rule module imports libcst (about 0.25 s) at import time, yet most of a run needs only
the rules' codes, names and severities: expanding ``--select``, keying the results cache,
printing findings. A run that parses nothing (a warm run from the results cache, or files the
gate skips) should not pay for libcst. So the first full import of the rules writes their
metadata here, and later runs build the registry from it, with each rule's ``check`` a
:class:`LazyCheck` that imports its module on first call.

The index is keyed by the schedlint version and the size and modification time of every file
in ``schedlint/rules/`` and of ``schedlint/guard/codes.py`` (what Python's own bytecode cache
trusts), so adding or editing a rule invalidates it. It lives in the user cache directory
(``$SCHEDLINT_CACHE_DIR``, else ``$XDG_CACHE_HOME/schedlint``, else ``~/.cache/schedlint``);
an unreadable, unwritable or corrupt index only means the rules are imported.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os

from schedlint import __version__
from schedlint.jsonfile import write_atomically

INDEX_FORMAT = 1
_FIELDS = ("code", "name", "summary", "severity", "kind", "scope", "docs", "fixable")


class LazyCheck:
    """A rule's check function, imported from its module on first call."""

    __slots__ = ("module", "function", "_fn")

    def __init__(self, module: str, function: str):
        self.module, self.function, self._fn = module, function, None

    def load(self):
        if self._fn is None:
            self._fn = getattr(importlib.import_module(self.module), self.function)
        return self._fn

    def __call__(self, *args, **kwargs):
        return (self._fn or self.load())(*args, **kwargs)

    def __repr__(self):
        return f"<lazy check {self.module}.{self.function}>"


def cache_dir() -> str:
    explicit = os.environ.get("SCHEDLINT_CACHE_DIR")
    if explicit:
        return explicit
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "schedlint")


def _stamp(rules_dir: str, extra_files) -> str:
    parts = [f"{INDEX_FORMAT}", __version__, rules_dir]
    for dirpath, dirnames, filenames in os.walk(rules_dir):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py"):
                parts.append(_stat(os.path.join(dirpath, name)))
    parts += [_stat(f) for f in extra_files]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def _stat(path: str) -> str:
    try:
        st = os.stat(path)
        return f"{path}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{path}:-"


def _index_file(rules_dir: str, extra_files) -> str:
    return os.path.join(cache_dir(), f"rules-{_stamp(rules_dir, extra_files)}.json")


def load(rules_dir: str, extra_files, rule_cls):
    """The registry from the index, or None (missing, stale or unreadable)."""
    if os.environ.get("SCHEDLINT_NO_RULE_INDEX"):
        return None
    try:
        with open(_index_file(rules_dir, extra_files), encoding="utf-8") as fh:
            data = json.load(fh)
        rules = []
        for entry in data["rules"]:
            check = LazyCheck(entry["module"], entry["function"]) if entry["module"] else None
            rules.append(rule_cls(check=check, **{k: entry[k] for k in _FIELDS}))
        return tuple(rules)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save(rules_dir: str, extra_files, rules) -> None:
    """Write the index for ``rules`` (just imported); silently skip what cannot be indexed."""
    if os.environ.get("SCHEDLINT_NO_RULE_INDEX"):
        return
    entries = []
    for r in rules:
        module = function = None
        if r.check is not None:
            module, function = getattr(r.check, "__module__", None), \
                getattr(r.check, "__name__", None)
            try:  # only checks a LazyCheck can find again
                if getattr(importlib.import_module(module), function) is not r.check:
                    return
            except (ImportError, AttributeError, TypeError, ValueError):
                return
        entries.append({**{k: getattr(r, k) for k in _FIELDS}, "module": module,
                        "function": function})
    write_atomically(_index_file(rules_dir, extra_files),
                     {"format": INDEX_FORMAT, "rules": entries}, prefix=".tmp-rules-")
