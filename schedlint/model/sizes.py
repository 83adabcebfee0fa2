"""What sizes a list a function returns: one entry per param group, or one per something else.

A custom scheduler's ``get_lr`` must return one lr per param group (torch pairs them by
position). :func:`counted_list` answers, for a returned expression, the count it is sized by
when that count is certainly not the groups: a comprehension over ``range(self.warmup)``, a
list filled by ``append`` in a ``for`` over such a range, or the same returned by a helper
method (``return self._ramp()``).
"""

from __future__ import annotations

import re

import libcst as cst

from schedlint.model.cstwalk import code_children

_COMPS = (cst.ListComp, cst.GeneratorExp)
# Counts that are not groups: epochs, steps, a warm-up length, milestones, stages.
_COUNT_WORD = re.compile(r"epoch|step|iter|warmup|milestone|stage|phase", re.IGNORECASE)
_GROUP_ATTRS = ("param_groups", "base_lrs")
_SCOPED = (cst.FunctionDef, cst.ClassDef, cst.Lambda)


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def _unwrap(node):
    """``list(x)`` / ``tuple(x)`` -> ``x``."""
    while (
        isinstance(node, cst.Call)
        and _dotted(node.func) in ("list", "tuple")
        and len(node.args) == 1
        and node.args[0].keyword is None
        and not node.args[0].star
    ):
        node = node.args[0].value
    return node


def _mentions_groups(node) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Attribute) and n.attr.value in _GROUP_ATTRS:
            return True
        if not isinstance(n, _SCOPED):
            stack.extend(code_children(n))
    return False


def _range_count(iter_node) -> str | None:
    """``range(self.warmup_epochs)`` (or ``range(0, n_steps)``): the counted text when it
    names epochs, steps, a warm-up..., and nothing about the groups."""
    if (
        not (
            isinstance(iter_node, cst.Call)
            and _dotted(iter_node.func) == "range"
            and iter_node.args
        )
        or len(iter_node.args) > 2
        or _mentions_groups(iter_node)
    ):
        return None
    text = _dotted(iter_node.args[-1].value)
    return text if text is not None and _COUNT_WORD.search(text) else None


def _statements(body):
    """The statements of a function body, nested blocks included (not nested scopes)."""
    stack = [body]
    while stack:
        n = stack.pop()
        if isinstance(n, _SCOPED):
            continue
        if isinstance(n, (cst.BaseSmallStatement, cst.BaseCompoundStatement)):
            yield n
        stack.extend(code_children(n))


def _bindings(fn_node, name):
    """Values assigned to ``name`` in the function (None when it is bound some other way)."""
    values = []
    for stmt in _statements(fn_node.body):
        if isinstance(stmt, cst.Assign):
            for t in stmt.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    values.append(stmt.value)
                elif not isinstance(t.target, (cst.Name, cst.Attribute, cst.Subscript)):
                    return None  # unpacking: not followed
        elif (
            isinstance(stmt, (cst.AugAssign, cst.AnnAssign))
            and isinstance(stmt.target, cst.Name)
            and stmt.target.value == name
        ):
            return None
        elif isinstance(stmt, cst.For) and name in _names(stmt.target):
            return None
    return values


def _names(target) -> set:
    out, stack = set(), [target]
    while stack:
        t = stack.pop()
        if isinstance(t, cst.Name):
            out.add(t.value)
        elif isinstance(t, (cst.Tuple, cst.List)):
            stack.extend(e.value for e in t.elements)
        elif isinstance(t, cst.StarredElement):
            stack.append(t.value)
    return out


def _filled_by_loop(fn_node, name) -> str | None:
    """``name = []`` filled only by ``name.append(...)`` inside ``for e in range(count)``:
    the count. Any other use that may add entries (extend, +=, insert) gives None."""
    count = None
    for stmt in _statements(fn_node.body):
        if not isinstance(stmt, cst.For):
            continue
        appends = [
            n
            for n in _statements(stmt.body)
            if isinstance(n, cst.Expr)
            and isinstance(n.value, cst.Call)
            and _dotted(n.value.func) == f"{name}.append"
        ]
        if not appends:
            continue
        this = _range_count(stmt.iter)
        if this is None or count is not None:
            return None
        count = this
    for stmt in _statements(fn_node.body):
        if (
            isinstance(stmt, cst.Expr)
            and isinstance(stmt.value, cst.Call)
            and _dotted(stmt.value.func) in (f"{name}.extend", f"{name}.insert")
        ):
            return None
    return count


def counted_list(flow, fn, node, depth: int = 0) -> str | None:
    """The count (``self.warmup_epochs``) the list ``node`` returned by function ``fn`` (a
    FunctionInfo) has one entry per, when that is certainly not the param groups."""
    if depth > 3 or node is None:
        return None
    node = _unwrap(node)
    if isinstance(node, _COMPS):
        if node.for_in.inner_for_in is not None:
            return None
        return _range_count(node.for_in.iter)
    if isinstance(node, cst.Name) and isinstance(fn.node, cst.FunctionDef):
        values = _bindings(fn.node, node.value)
        if not values or len(values) != 1:
            return None
        value = _unwrap(values[0])
        if isinstance(value, cst.List) and not value.elements:
            return _filled_by_loop(fn.node, node.value)
        return counted_list(flow, fn, value, depth + 1)
    if isinstance(node, cst.Call) and not node.args:
        callees = flow.functions(node.func, fn.scope)
        text = _dotted(node.func) or ""
        if not callees and text.startswith("self.") and text.count(".") == 1:
            # a method of the scheduler's own class (no instance of it is built in the file)
            cls = next((s.cls for s in fn.scope.function_chain() if s.cls is not None), None)
            method = flow.method(cls, text[5:]) if cls is not None else None
            callees = [method] if method is not None else []
        if len(callees) != 1:
            return None
        helper = callees[0]
        counts = {counted_list(flow, helper, r.node, depth + 1) for r in helper.returns}
        return counts.pop() if len(counts) == 1 and None not in counts and helper.returns else None
    return None
