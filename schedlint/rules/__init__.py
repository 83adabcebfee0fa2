"""The rule catalogue: every module in this package that declares a rule is a rule.

Adding a rule means adding one module here (nothing to register elsewhere). The runtime
guard's SLG codes are declared in :mod:`schedlint.guard.codes` and listed next to the static
ones, without importing torch.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

from schedlint.rules.base import Rule

_GUARD_CODES_MODULE = "schedlint.guard.codes"


def _rules_in(module) -> list:
    return [obj.RULE for obj in vars(module).values() if callable(obj) and hasattr(obj, "RULE")]


@cache
def all_rules() -> tuple:
    """Every rule, sorted by code (static, builtin and guard).

    Built from the cached index of the rules' metadata when it is current (each check then
    imports its module on first call), else by importing every rule module, which then
    writes the index (see :mod:`schedlint.rules._index`: this keeps libcst out of runs that
    parse nothing).
    """
    from schedlint.rules import _index as _ruleindex

    extra = _guard_codes_file()
    indexed = _ruleindex.load(__path__[0], extra, Rule)
    if indexed is not None:
        return indexed
    rules = _import_all()
    _ruleindex.save(__path__[0], extra, rules)
    return rules


def _guard_codes_file() -> tuple:
    import os

    path = os.path.join(os.path.dirname(__path__[0]), "guard", "codes.py")
    return (path,)


def _import_all() -> tuple:
    found = []
    for info in pkgutil.iter_modules(__path__):
        if info.name == "base":
            continue
        found += _rules_in(importlib.import_module(f"{__name__}.{info.name}"))
    try:
        found += _rules_in(importlib.import_module(_GUARD_CODES_MODULE))
    except ImportError:  # the guard package is optional in a stripped install
        pass
    codes = [r.code for r in found]
    duplicates = {c for c in codes if codes.count(c) > 1}
    if duplicates:
        raise RuntimeError(f"rule codes declared twice: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda r: r.code))


@cache
def by_code() -> dict:
    return {r.code: r for r in all_rules()}


def checkable_rules() -> tuple:
    """Rules the static engine runs (per-file and project); guard codes are runtime only."""
    return tuple(r for r in all_rules() if r.check is not None)


def expand_selectors(selectors, *, what: str = "selector") -> set:
    """Resolve codes, prefixes (``SL1``) and ``ALL`` to a set of codes.

    Raises ValueError naming the first selector that matches no rule.
    """
    codes = by_code()
    result = set()
    for sel in selectors:
        sel = sel.strip().upper()
        if not sel:
            continue
        if sel == "ALL":
            result |= set(codes)
            continue
        matched = {c for c in codes if c.startswith(sel)}
        if not matched:
            raise ValueError(f"unknown rule {what} {sel!r}")
        result |= matched
    return result


__all__ = ["Rule", "all_rules", "by_code", "checkable_rules", "expand_selectors"]
