"""The functions given to LambdaLR/MultiplicativeLR and what their returned values are scaled by
(SL106): the lambdas and defs an ``lr_lambda`` argument names, or that a helper call builds
(``make_warmup_cosine(args.lr, 500, total)``), and the lr expression (the one the optimizer's
groups were built with) a returned value carries, following local names."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import (
    assigned_values,
    binding_scope,
    strip_call,
)

_PASS_THROUGH = frozenset({"min", "max", "abs", "float"})
# What names an absolute lr: ``lr``, ``args.lr``, ``base_lr``, ``cfg.learning_rate``; not a
# floor (``min_lr``) or a multiplier (``lr_mult``), which a factor may well be built from.
_ABSOLUTE_LR_NAME = re.compile(r"^(?:base_|init_|initial_|max_|peak_)?(?:lr|learning_rate)$", re.I)


def names_absolute_lr(text) -> bool:
    """``text`` (dotted) names an lr by its last part: ``cfg.lr``, ``base_lr``."""
    return bool(text) and _ABSOLUTE_LR_NAME.match(text.rpartition(".")[2]) is not None


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


@dataclass(eq=False)
class LrLambda:
    """One function given as an ``lr_lambda``."""

    label: str  # "the lambda", "`warm`", "`make_warmup_cosine(...)`"
    params: list
    node: Any  # the def whose locals are followed; None for a lambda
    returns: list  # the returned expressions
    # For a function a helper call built: each of the helper's parameters and the argument
    # node the call binds it to (None where the default is used). None otherwise.
    bound: dict | None = None
    # Defined in another module: its names are not this file's, so none is an lr text here.
    foreign: bool = False


class LrCarrier:
    """Finds the LR expression a returned value is scaled by, following local names.

    ``texts``: the lr expressions the optimizer's groups were built with. ``any_lr``: the
    groups certainly hold absolute lrs, so any value named like an lr carries one. What a
    helper's parameter is bound to and ``any_lr`` only count a value multiplied into the
    result, not one added (``min_lr + (lr - min_lr) * f`` may be a floor ratio spelled with
    lr names)."""

    def __init__(self, texts, lam: LrLambda, any_lr=False):
        self.texts = texts
        # names the function reads that are not this file's: none is one of ``texts``
        self.foreign = lam.foreign
        self.params = set(lam.params)
        self.fn_node = lam.node  # function whose locals are followed (None for a lambda)
        self.bound = lam.bound
        self.any_lr = any_lr
        # the helper's parameter a hit was bound to (``lr`` for ``args.lr``): what to drop
        self.written = None

    def first(self, returns):
        """The lr the first return expression that carries one carries, else None."""
        for node in returns:
            self.written = None
            hit = self.find(node)
            if hit:
                return hit
        return None

    def _relative(self, node) -> bool:
        """``node`` names one of the lrs, so dividing by it makes a ratio."""
        stack = [node]
        while stack:
            n = stack.pop()
            text = dotted_name(n)
            if text in self.texts or (self.any_lr and names_absolute_lr(text)):
                return True
            if text is not None and self.bound and self.bound.get(text) is not None:
                if self._argument(self.bound[text]) is not None:
                    return True
            stack.extend(code_children(n))
        return False

    def _argument(self, arg):
        """The lr an argument bound to a helper's parameter is, if it is one."""
        text = dotted_name(arg) if arg is not None else None
        if text is not None and (text in self.texts or (self.any_lr and names_absolute_lr(text))):
            return text
        return None

    def _name(self, text, summed):
        if self.bound is not None:
            head = text.partition(".")[0]
            if summed:
                return None
            if head in self.bound:
                hit = None if "." in text else self._argument(self.bound[head])
                self.written = text if hit else self.written
                return hit
            if text in self.texts and not self.foreign:
                return text
            return text if self.any_lr and names_absolute_lr(text) else None
        if text in self.texts and not self.foreign:
            return text
        return text if self.any_lr and not summed and names_absolute_lr(text) else None

    def find(self, node, depth=0, summed=False):
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
                found = [self.find(v, depth + 1, summed) for v in local]
                return found[0] if found and all(found) else None
            return self._name(text, summed)
        if isinstance(node, cst.BinaryOperation):
            op = node.operator
            if isinstance(op, cst.Multiply):
                return self.find(node.left, depth + 1, summed) or self.find(
                    node.right, depth + 1, summed
                )
            if isinstance(op, cst.Divide):
                if self._relative(node.right):
                    return None  # x / args.lr: made relative on purpose
                return self.find(node.left, depth + 1, summed)
            if isinstance(op, (cst.Add, cst.Subtract)):
                return self.find(node.left, depth + 1, True) or self.find(
                    node.right, depth + 1, True
                )
            return None
        if isinstance(node, cst.UnaryOperation):
            return self.find(node.expression, depth + 1, summed)
        if isinstance(node, cst.IfExp):
            return self.find(node.body, depth + 1, summed) or self.find(
                node.orelse, depth + 1, summed
            )
        if isinstance(node, cst.Call) and dotted_name(node.func) in _PASS_THROUGH:
            for arg in node.args:
                hit = self.find(arg.value, depth + 1, summed)
                if hit:
                    return hit
        return None


def _bind(helper, call) -> dict | None:
    """Each parameter of ``helper`` -> the argument node ``call`` binds it to, None where
    the default is used; None when an argument cannot be placed (``*args``)."""
    params = getattr(helper.node, "params", None)
    if not isinstance(params, cst.Parameters):
        return None
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    bound = dict.fromkeys(helper.params)
    if positional[:1] in (["self"], ["cls"]) and isinstance(call.func, cst.Attribute):
        # the receiver: ``self.args.lr`` in the closure is the instance's, read as is
        del bound[positional.pop(0)]
    for i, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is None:
            if i >= len(positional):
                return None
            bound[positional[i]] = arg.value
        elif arg.keyword.value in bound:
            bound[arg.keyword.value] = arg.value
        else:
            return None
    return bound


def _built_by(model, scope, call):
    """The functions a helper call returns, defined in the helper (a closure or lambda over
    its parameters), with the helper's parameters bound by the call."""
    made = model.callees(call, scope)
    helper = model.flow.only_callee(call, scope) if made else None
    if helper is None or isinstance(helper.node, cst.Lambda):
        return
    bound = _bind(helper, call)
    if bound is None:
        return
    foreign = model.flow.model_of(helper.scope) is not model
    for fn in made:
        if fn.scope.parent is not helper.scope:
            continue
        node = None if isinstance(fn.node, cst.Lambda) else fn.node
        returns = [r.node for r in fn.returns]
        yield LrLambda(f"`{helper.name}(...)`", list(fn.params), node, returns, bound, foreign)


def lr_lambda_functions(model, sched, value):
    """The functions (:class:`LrLambda`) an ``lr_lambda`` argument may be."""
    node = strip_call(value.node)
    if isinstance(node, (cst.List, cst.Tuple)):
        for el in node.elements:
            yield from lr_lambda_functions(model, sched, model.value(el.value))
        return
    if isinstance(node, cst.Lambda):
        params = [p.name.value for p in node.params.params]
        yield LrLambda("the lambda", params, None, [node.body])
        return
    if isinstance(node, cst.Call):
        yield from _built_by(model, sched.scope, node)
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
        returns = [r.node for r in info.returns]
        yield LrLambda(f"`{info.name}`", list(info.params), info.node, returns)
        return
    if how == "assigned" and not defs:
        values = assigned_values(owner.node, node.value)
        if values and len(values) == 1 and isinstance(values[0], cst.Lambda):
            lam = values[0]
            params = [p.name.value for p in lam.params.params]
            yield LrLambda(f"`{node.value}`", params, None, [lam.body])
        elif values and len(values) == 1 and isinstance(values[0], cst.Call):
            yield from _built_by(model, owner, values[0])
        if values:
            return
    if not defs:
        # a function of another module (``from schedules import noam``)
        imported = [
            f for f in model.callees(node, sched.scope) if model.flow.model_of(f.scope) is not model
        ]
        if len(imported) == 1 and not isinstance(imported[0].node, cst.Lambda):
            info = imported[0]
            returns = [r.node for r in info.returns]
            yield LrLambda(f"`{info.name}`", list(info.params), info.node, returns, {}, True)
