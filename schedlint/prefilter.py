"""The gate: skip, before parsing with libcst, files that cannot contain a finding.

Every rule needs something the model builder records from one of these, and nothing else:

- an optimizer or scheduler *construction*: a call whose callee, qualified through the file's
  imports, is a class or factory of :mod:`schedlint.catalogue` (``torch.optim.*``,
  ``torch.optim.lr_scheduler.*``, ``transformers.*``, ``bnb.optim.*``, ...), or a local class
  whose base is a torch scheduler (a custom scheduler);
- a ``param_groups`` attribute (group loops, ``opt.param_groups[i]["lr"] = ...``, classes
  that write group lrs);
- a param-group LR scaling key (``lr_mult``, ``lr_scale``, ...), set or read, for the project
  rule SL107.

A qualified name is built only from identifiers written in the file (``from torch import
optim`` then ``optim.SGD``, or ``torch.optim.SGD``), so a construction needs the identifier
``optim``, ``optimizers`` (apex) or ``transformers`` somewhere in the file. Hence two stages:

1. :func:`scan` (bytes, about 1 µs per line): rejects files with none of those identifiers
   and no scaling key; admits outright files with a scaling key.
2. :func:`admits_code` (``ast``, for files stage 1 was unsure of, ~10x cheaper than libcst):
   rejects files where those words occur only in comments, strings or unrelated names, i.e.
   files with no catalogue construction, no scheduler subclass and no ``param_groups``.

``tests/test_prefilter.py`` proves the gate safe over every fixture, the installed torch and
the standard library: no file it rejects gets a finding from the full checker (gate off).
A new rule that fires on something else must extend this module (and that test will say so).
"""

from __future__ import annotations

import ast
import re

REJECT, MAYBE, ADMIT = 0, 1, 2

# Identifiers a catalogue construction's qualified name must contain (see the docstring).
_NAMES = re.compile(rb"\b(?:optim|optimizers|transformers|param_groups)\b")
# Param-group scaling keys: a superset of builder.LR_SCALING_KEY (prefixes: "mult" covers
# "multiplier", "scale" covers "scaler").
_LR_KEY = re.compile(rb"lr_?(?:mult|mul|scale|factor|ratio|decay_mult)")


def scan(data: bytes) -> int:
    """Stage 1 on raw bytes: REJECT, MAYBE (ask :func:`admits_code`) or ADMIT."""
    # Substring tests run at memchr speed; the regexes run only on files that pass them.
    if b"lr" in data and _LR_KEY.search(data) is not None:
        return ADMIT
    if (b"optim" in data or b"transformers" in data or b"param_groups" in data) and \
            _NAMES.search(data) is not None:
        return MAYBE
    return REJECT


# The original byte gate's words: optimizer/scheduler/param-group vocabulary and ``lr``.
_LOOSE_LR = re.compile(rb"\blr\b|lr_|_lr|LR")


def admits(data: bytes) -> bool:
    """A loose byte-level pre-check for callers that hold only bytes (the flake8 plugin, the
    raw JSON of a notebook): True for anything that mentions optimizers, schedulers, param
    groups or ``lr`` at all. A superset of what :func:`scan` admits; the engine's
    :func:`~schedlint.engine.check_source` applies the exact two-stage gate itself."""
    if b"optim" in data or b"param_groups" in data or b"chedul" in data or \
            b"transformers" in data:
        return True
    return (b"lr" in data or b"LR" in data) and (_LOOSE_LR.search(data) is not None or
                                                 _LR_KEY.search(data) is not None)


def _dotted(node):
    parts = []
    while node.__class__ is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if node.__class__ is ast.Name:
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def admits_code(tree: ast.AST) -> bool:
    """Stage 2: does the code (not its comments or strings) build or touch what rules need?

    Qualification is done as the model builder does it, except that every import of a name
    anywhere in the file counts (the builder uses the ones seen so far), so this admits a
    superset of the files where the builder records a construction.
    """
    from schedlint import catalogue

    imports: dict = {}
    callees, bases = [], []
    Attribute, Call, ClassDef = ast.Attribute, ast.Call, ast.ClassDef
    Import, ImportFrom = ast.Import, ast.ImportFrom
    stack = [tree]
    pop, extend = stack.pop, stack.extend
    while stack:
        node = pop()
        cls = node.__class__
        if cls is Attribute:
            if node.attr == "param_groups":
                return True
        elif cls is Call:
            callees.append(node.func)
        elif cls is ClassDef:
            bases.extend(node.bases)
        elif cls is Import:
            for alias in node.names:
                if alias.asname:
                    imports.setdefault(alias.asname, set()).add(alias.name)
                else:
                    head = alias.name.partition(".")[0]
                    imports.setdefault(head, set()).add(head)
        elif cls is ImportFrom:
            if not node.level and node.module is not None:
                for alias in node.names:
                    if alias.name != "*":
                        imports.setdefault(alias.asname or alias.name, set()).add(
                            f"{node.module}.{alias.name}")
        for field in node._fields:
            value = getattr(node, field, None)
            if value.__class__ is list:
                extend(v for v in value if isinstance(v, ast.AST))
            elif isinstance(value, ast.AST):
                stack.append(value)

    def qualified(node):
        dotted = _dotted(node)
        if dotted is None:
            return ()
        head, _, rest = dotted.partition(".")
        names = {dotted}
        for full in imports.get(head, ()):
            names.add(f"{full}.{rest}" if rest else full)
        return names

    for func in callees:
        for q in qualified(func):
            if catalogue.scheduler_class(q) or catalogue.optimizer_class(q):
                return True
    for base in bases:
        for q in qualified(base):
            if q in catalogue.SCHEDULER_BASES or catalogue.scheduler_class(q):
                return True
    return False
