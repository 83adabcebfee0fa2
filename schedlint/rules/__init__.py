"""The rule catalogue: every module in this package that declares a rule is a rule.

Adding a rule means adding one module here (nothing to register elsewhere). The runtime
guard's SLG codes are declared in :mod:`schedlint.guard.codes` and listed next to the static
ones, without importing torch.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from schedlint.rules.base import Rule

_GUARD_CODES_MODULE = "schedlint.guard.codes"


def _rules_in(module) -> list:
    return [obj.RULE for obj in vars(module).values() if callable(obj) and hasattr(obj, "RULE")]


@lru_cache(maxsize=None)
def all_rules() -> tuple:
    """Every rule, sorted by code (static, builtin and guard): every rule module imported."""
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


@lru_cache(maxsize=None)
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
