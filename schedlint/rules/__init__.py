"""The rule catalogue: every module in this package that declares a rule is a rule.

Adding a rule means adding one module here (nothing to register elsewhere). The runtime
guard's SLG codes are declared in :mod:`schedlint.guard.codes` and listed next to the static
ones, without importing torch.

The catalogue is read from the rule modules' source, not by importing them: a declaration is
a literal ``@rule(...)`` call on a function with a docstring, so ``ast`` gives every field
(from the decorator to the end of the docstring: the rule's body is not parsed), and a rule's
check imports its module on first call (:class:`LazyCheck`). Listing rules,
expanding ``--select`` and printing cached findings then never import libcst (a quarter of a
second, which is what a warm run costs on top of reading and hashing a tree). A module whose
declaration is not literal is imported instead; ``tests/test_rules_registry.py`` checks that
both ways give the same catalogue.
"""

from __future__ import annotations

import ast
import importlib
import os
import pkgutil
import re
from functools import cache

from schedlint.rules.base import Rule, declare

_GUARD_CODES_MODULE = "schedlint.guard.codes"
_BASE_MODULE = "schedlint.rules.base"


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


def _rules_in(module) -> list:
    return [obj.RULE for obj in vars(module).values() if callable(obj) and hasattr(obj, "RULE")]


def _modules() -> list:
    """(module name, source path) of every rule module and of the guard's codes."""
    out = [
        (f"{__name__}.{info.name}", os.path.join(__path__[0], f"{info.name}.py"))
        for info in pkgutil.iter_modules(__path__)
        if info.name != "base"
    ]
    guard = os.path.join(os.path.dirname(__path__[0]), "guard", "codes.py")
    if os.path.exists(guard):
        out.append((_GUARD_CODES_MODULE, guard))
    return out


# A rule function's signature, to where its docstring opens.
_SIGNATURE = re.compile(
    r"^(?:async[ \t]+)?def[ \t]+\w+\([^)]*\)[^:\n]*:[ \t]*\n[ \t]+[rRuU]?(\"\"\"|\'\'\')", re.M
)


def _declarations(source: str):
    """The top-level functions of ``source`` that ``@rule(...)`` declares, each parsed from
    its decorator to the end of its docstring only (a rule module's bodies are most of its
    text, and parsing them all was most of a warm run's catalogue time); None when the
    text is not that plain shape, or may import ``rule`` or the base module otherwise
    than as ``from schedlint.rules.base import ..., rule``: the whole module is then read."""
    imports = []  # every line naming ``import``, through its closing parenthesis
    i = source.find("import")
    while i >= 0:
        start, end = source.rfind("\n", 0, i) + 1, source.find("\n", i)
        end = len(source) if end < 0 else end
        text = source[start:end]
        if "(" in text and ")" not in text.partition("(")[2]:
            end = source.find(")", end) + 1
            text = source[start:end]
        if text.endswith("\\"):
            return None
        imports.append(text.replace(f"{_BASE_MODULE} import", ""))
        i = source.find("import", end)
    text = "\n".join(imports)
    if re.search(r"\brule\s+as\b|\bbase\b", text):
        return None
    nodes = []
    at = 0 if source.startswith("@rule(") else source.find("\n@rule(") + 1 or -1
    while at >= 0:
        m = _SIGNATURE.search(source, at)
        close = source.find(m.group(1), m.end()) if m is not None else -1
        if close < 0:
            return None
        try:
            body = ast.parse(source[at : close + 3]).body
        except SyntaxError:  # an escaped quote in the docstring, say
            return None
        if not (
            len(body) == 1
            and isinstance(body[0], (ast.FunctionDef, ast.AsyncFunctionDef))
            and len(body[0].body) == 1
            and ast.get_docstring(body[0], clean=False) is not None
        ):
            return None
        nodes.append(body[0])
        at = source.find("\n@rule(", close) + 1 or -1
    # Every top-level decorator starts one declaration (any other: read the whole module).
    if len(nodes) != source.count("\n@") + source.startswith("@"):
        return None
    return nodes


def _declared(module: str, path: str):
    """The rules ``module`` declares, read from its source; None when that cannot be done
    exactly (it must then be imported)."""
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        if "rule" not in source:  # a helper module (its name is no promise)
            return []
        nodes = _declarations(source)
        if nodes is not None:
            return _from_nodes(module, nodes)
        tree = ast.parse(source)
    except (OSError, SyntaxError, ValueError):
        return None
    # `rule` only as itself, imported from the base module. Rule modules import at the top;
    # walking only the module's statements keeps a warm run from walking every rule's body.
    for node in tree.body:
        if (
            isinstance(node, ast.ImportFrom)
            and node.module == _BASE_MODULE
            and any(a.name == "rule" and a.asname for a in node.names)
        ):
            return None
        if isinstance(node, (ast.Import, ast.ImportFrom)) and any(
            a.name in (_BASE_MODULE, "base") for a in node.names
        ):
            return None
    return _from_nodes(module, tree.body)


def _from_nodes(module: str, nodes):
    """The rules the top-level statements ``nodes`` declare (None: not literally)."""
    out = []
    for node in nodes:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for dec in node.decorator_list:
            if not (
                isinstance(dec, ast.Call)
                and isinstance(dec.func, ast.Name)
                and dec.func.id == "rule"
            ):
                if "rule" in ast.dump(dec):
                    return None
                continue
            try:
                args = [ast.literal_eval(a) for a in dec.args]
                kwargs = {k.arg: ast.literal_eval(k.value) for k in dec.keywords}
                out.append(
                    declare(
                        *args,
                        ast.get_docstring(node, clean=False),
                        LazyCheck(module, node.name),
                        **kwargs,
                    )
                )
            except (ValueError, TypeError, SyntaxError):
                return None
    return out


def _imported(module: str) -> list:
    try:
        return _rules_in(importlib.import_module(module))
    except ImportError:
        if module == _GUARD_CODES_MODULE:  # the guard package is optional in a stripped install
            return []
        raise


@cache
def all_rules() -> tuple:
    """Every rule, sorted by code (static, builtin and guard)."""
    found = []
    for module, path in _modules():
        declared = _declared(module, path)
        found += declared if declared is not None else _imported(module)
    codes = [r.code for r in found]
    duplicates = {c for c in codes if codes.count(c) > 1}
    if duplicates:
        raise RuntimeError(f"rule codes declared twice: {sorted(duplicates)}")
    return tuple(sorted(found, key=lambda r: r.code))


def imported_rules() -> tuple:
    """The catalogue as importing every rule module gives it (what :func:`all_rules` reads
    from the source; tests compare the two)."""
    return tuple(
        sorted((r for module, _ in _modules() for r in _imported(module)), key=lambda r: r.code)
    )


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


__all__ = [
    "LazyCheck",
    "Rule",
    "all_rules",
    "by_code",
    "checkable_rules",
    "expand_selectors",
    "imported_rules",
]
