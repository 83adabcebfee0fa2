"""The functions given to LambdaLR/MultiplicativeLR and what their returned values are scaled by
(SL106): the lambdas and defs an ``lr_lambda`` argument names, and the lr expression (the one the
optimizer's groups were built with) a returned value carries, following local names."""

from __future__ import annotations

import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import (
    assigned_values,
    binding_scope,
    strip_call,
)

_PASS_THROUGH = frozenset({"min", "max", "abs", "float"})


def _product_atoms(node):
    """Atoms multiplied into ``node`` (numerators only): ``args.lr * 0.1 / 2`` -> args.lr..."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        return _product_atoms(node.left) + _product_atoms(node.right)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Divide):
        return _product_atoms(node.left)
    return [node]


def product_texts(value) -> list:
    """Dotted names multiplied into a Value (numerators only): ``args.lr * 0.1 / 2`` ->
    ``["args.lr"]``."""
    return [t for t in map(dotted_name, _product_atoms(value.node)) if t is not None]


def _mentions(node, texts) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if dotted_name(n) in texts:
            return True
        stack.extend(code_children(n))
    return False


class LrCarrier:
    """Finds the LR expression a returned value is scaled by, following local names."""

    def __init__(self, texts, params, fn_node):
        self.texts = texts
        self.params = set(params)
        self.fn_node = fn_node  # function whose locals are followed (None for a lambda)

    def find(self, node, depth=0):
        if depth > 12:
            return None
        text = dotted_name(node)
        if text is not None:
            head = text.partition(".")[0]
            if head in self.params:
                return None  # the lambda's own argument, not the optimizer's lr
            local = assigned_values(self.fn_node, head) if self.fn_node is not None else []
            if local is None:
                return None
            if local:
                if "." in text:
                    return None
                found = [self.find(v, depth + 1) for v in local]
                return found[0] if found and all(found) else None
            return text if text in self.texts else None
        if isinstance(node, cst.BinaryOperation):
            op = node.operator
            if isinstance(op, cst.Multiply):
                return self.find(node.left, depth + 1) or self.find(node.right, depth + 1)
            if isinstance(op, cst.Divide):
                if _mentions(node.right, self.texts):
                    return None  # x / args.lr: made relative on purpose
                return self.find(node.left, depth + 1)
            if isinstance(op, (cst.Add, cst.Subtract)):
                return self.find(node.left, depth + 1) or self.find(node.right, depth + 1)
            return None
        if isinstance(node, cst.UnaryOperation):
            return self.find(node.expression, depth + 1)
        if isinstance(node, cst.IfExp):
            return self.find(node.body, depth + 1) or self.find(node.orelse, depth + 1)
        if isinstance(node, cst.Call) and dotted_name(node.func) in _PASS_THROUGH:
            for arg in node.args:
                hit = self.find(arg.value, depth + 1)
                if hit:
                    return hit
        return None


def lr_lambda_functions(model, sched, value):
    """(label, params, function node or None, [return expressions]) for an lr_lambda."""
    node = strip_call(value.node)
    if isinstance(node, (cst.List, cst.Tuple)):
        for el in node.elements:
            yield from lr_lambda_functions(model, sched, model.value(el.value))
        return
    if isinstance(node, cst.Lambda):
        params = [p.name.value for p in node.params.params]
        yield "the lambda", params, None, [node.body]
        return
    if not isinstance(node, cst.Name):
        return
    how, owner = binding_scope(sched.scope, node.value)
    defs = [
        f
        for f in model.functions.get(node.value, [])
        if owner is not None and f.scope.parent is owner
    ]
    if len(defs) == 1:
        info = defs[0]
        yield f"`{info.name}`", list(info.params), info.node, [r.node for r in info.returns]
        return
    if how == "assigned" and not defs:
        values = assigned_values(owner.node, node.value)
        if values and len(values) == 1 and isinstance(values[0], cst.Lambda):
            lam = values[0]
            yield f"`{node.value}`", [p.name.value for p in lam.params.params], None, [lam.body]
