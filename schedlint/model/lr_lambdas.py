"""The functions given to LambdaLR/MultiplicativeLR and what their returned values are scaled by
(SL106): the lambdas and defs an ``lr_lambda`` argument names, that a helper call builds
(``make_warmup_cosine(args.lr, 500, total)``) or ``functools.partial`` binds, the methods it
reads through an instance (``self.get_lr``, ``schedule.lr_at``) and the functions an instance
keeps (``self.lr_lambda``), and the lr expression (the one the optimizer's groups were built
with) a returned value carries, following local names and the instance's attributes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import libcst as cst

from schedlint.model.builder import dotted_name, reference
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import (
    assigned_values,
    binding_scope,
    strip_call,
)
from schedlint.model.numbers import fold_binary, fold_number

_PASS_THROUGH = frozenset({"min", "max", "abs", "float"})
# What names an absolute lr: ``lr``, ``args.lr``, ``base_lr``, ``cfg.learning_rate``; not a
# floor (``min_lr``) or a multiplier (``lr_mult``), which a factor may well be built from.
_ABSOLUTE_LR_NAME = re.compile(r"^(?:base_|init_|initial_|max_|peak_)?(?:lr|learning_rate)$", re.I)


def names_absolute_lr(text) -> bool:
    """``text`` (dotted) names an lr by its last part: ``cfg.lr``, ``base_lr``, or by the
    key of a config dict: ``cfg['lr']``."""
    if not text:
        return False
    last = text.rpartition(".")[2]
    if last.endswith("']") and "['" in last:
        last = last[last.rindex("['") + 2 : -2]
    return _ABSOLUTE_LR_NAME.match(last) is not None


def _value_text(node) -> str | None:
    """A name or attribute chain (``args.lr``), or a config entry read by a string key
    (``cfg['lr']``, ``self.hparams['lr']``): what an lr is spelled as."""
    text = dotted_name(node)
    if text is None and isinstance(node, cst.Subscript):
        ref = reference(node)
        if ref is not None and ref.endswith("']") and "['" in ref:
            return ref
    return text


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
    return [t for t in map(_value_text, _product_atoms(value.node)) if t is not None]


def helper_group_lr_texts(model, optimizer) -> set:
    """The lr texts, as the optimizer's own code spells them, of the groups a helper of
    another scope builds (``get_parameters(self, base_lr=1.0)`` returning ``"lr": 0.1 *
    base_lr``): each of the helper's parameters multiplied into a group's lr stands for the
    argument the optimizer's call hands it (``classifier.get_parameters(base_lr=args.lr)``).
    A parameter left at its default names no lr of the caller's."""
    call = optimizer.params.node if optimizer.params is not None else None
    if not isinstance(call, cst.Call):
        return set()
    texts = set()
    for group in optimizer.groups or ():
        if group.lr is None or group.scope is None or group.scope is optimizer.scope:
            continue
        entry = model.flow.arguments.get(id(group.scope), {}).get(id(call))
        if entry is None or entry[1] is None:
            continue
        for text in product_texts(group.lr):
            arg = entry[1].get(text)
            bound = _value_text(arg) if arg is not None else None
            if bound is not None:
                texts.add(bound)
    return texts


def helper_group_lr_numbers(model, optimizer) -> list | None:
    """The lrs of the groups a helper of another scope builds, as numbers where each is
    certain at the optimizer's call: the helper's parameters stand for the numbers the call
    hands them, or for their defaults when it hands none (tllib's ``get_parameters()`` at
    ``base_lr=1.0`` builds 0.1 and 1.0: multipliers). None when any is unknown."""
    call = optimizer.params.node if optimizer.params is not None else None
    groups = optimizer.groups or ()
    if not isinstance(call, cst.Call) or not groups:
        return None
    numbers = []
    for group in groups:
        scope = group.scope
        if group.lr is None or scope is None or scope is optimizer.scope:
            return None
        entry = model.flow.arguments.get(id(scope), {}).get(id(call))
        params = getattr(scope.node, "params", None)
        if entry is None or entry[1] is None or params is None:
            return None
        caller, bound = entry
        values = {}
        for p in (*params.params, *params.kwonly_params):
            name = p.name.value
            if name in bound:
                values[name] = model.flow.number(bound[name], caller)
            elif p.default is not None:
                values[name] = fold_number(p.default)
        number = _folded(group.lr.node, values)
        if number is None:
            return None
        numbers.append(number)
    return numbers


def _folded(node, values):
    """``node`` as a number, its names read from ``values``."""
    number = fold_number(node)
    if number is not None:
        return number
    if isinstance(node, cst.Name):
        return values.get(node.value)
    if isinstance(node, cst.BinaryOperation):
        left, right = _folded(node.left, values), _folded(node.right, values)
        return fold_binary(node.operator, left, right) if None not in (left, right) else None
    return None


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
    # For a method read through an instance: each ``self.<attribute>`` the instance was
    # certainly given, as the text the scheduler's code spells it with (``args.lr`` for
    # ``self.base_lr`` of ``WarmupCosine(args.lr, ...)``), None where unknown. None otherwise.
    receiver: dict | None = None
    # The method is read through the scheduler code's own ``self``: its ``self.lr`` is the
    # optimizer's ``self.lr``.
    same_instance: bool = False
    # For a lambda: the def (or module) it is written in, whose locals its free names read
    # (``lr = cfg["lr"]`` then ``lambda epoch: lr`` in a scheduler factory). None otherwise.
    outer: Any = None


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
        self.receiver = lam.receiver
        self.same_instance = lam.same_instance
        self.outer = lam.outer
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
            if self._through_receiver(text, False) is not None:
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

    def _through_receiver(self, text, summed):
        """The lr ``self.<attribute>...`` of a method's instance is, if it is one."""
        if self.receiver is None or text is None or not text.startswith("self."):
            return None
        if self.same_instance and text in self.texts:
            return text
        parts = text.split(".", 2)
        given = self.receiver.get(parts[1])
        rest = parts[2] if len(parts) > 2 else ""
        if given is None or summed:
            return None
        resolved = f"{given}.{rest}" if rest else given
        if resolved in self.texts or (self.any_lr and names_absolute_lr(resolved)):
            return resolved
        return None

    def _name(self, text, summed):
        if self.receiver is not None and text.partition(".")[0] == "self":
            hit = self._through_receiver(text, summed)
            self.written = text if hit else self.written
            if hit is None and self.any_lr and not summed and names_absolute_lr(text):
                return text  # ``self.base_lr`` over groups that certainly hold lrs
            return hit
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
        text = _value_text(node)
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
            hit = self._name(text, summed)
            if hit or self.outer is None or "." in text or "[" in text:
                return hit
            # a lambda's free name: what the function it is written in assigns to it
            outer = assigned_values(self.outer, head)
            found = [self.find(v, depth + 1, summed) for v in outer or ()]
            if not found or not all(found):
                return None
            self.written = self.written or text  # what the lambda spells it as
            return found[0]
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


def _bind(helper, call, constructor=False) -> dict | None:
    """Each parameter of ``helper`` -> the argument node ``call`` binds it to, None where
    the default is used; None when an argument cannot be placed (``*args``). A
    ``constructor`` call runs ``helper`` (an ``__init__``) on a fresh instance."""
    params = getattr(helper.node, "params", None)
    if not isinstance(params, cst.Parameters):
        return None
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    bound = dict.fromkeys(helper.params)
    if positional[:1] in (["self"], ["cls"]) and (
        constructor or isinstance(call.func, cst.Attribute)
    ):
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


def _is_partial(model, call) -> bool:
    """``call`` is ``functools.partial(fn, ...)`` (also ``partial`` imported from functools)."""
    text = dotted_name(call.func)
    if text is None or not call.args or call.args[0].star:
        return False
    head, dot, rest = text.partition(".")
    qualified = model.imports.get(head, head if dot else None)
    return (f"{qualified}.{rest}" if dot else qualified) == "functools.partial"


def _partial(model, scope, call):
    """The function ``functools.partial(fn, *args, **kwargs)`` makes: ``fn`` with the
    parameters the call binds bound, the others its own."""
    fns = model.callees(call.args[0].value, scope)
    if len(fns) != 1 or isinstance(fns[0].node, cst.Lambda) or fns[0].scope.cls is not None:
        return
    fn = fns[0]
    bound = _bind(fn, call.with_changes(args=call.args[1:]))
    if bound is None:
        return
    given = {p: a for p, a in bound.items() if a is not None}
    own = [p for p in fn.params if p not in given]
    foreign = model.flow.model_of(fn.scope) is not model
    returns = [r.node for r in fn.returns]
    yield LrLambda(f"`{fn.name}`", own, fn.node, returns, given, foreign)


def _made_by(model, scope, call):
    """The functions a call that makes one returns: a partial, or a helper's closure."""
    if _is_partial(model, call):
        yield from _partial(model, scope, call)
    else:
        yield from _built_by(model, scope, call)


def _enclosing_class(scope):
    """The class whose method ``scope`` is, or is nested in."""
    while scope is not None and scope.cls is None:
        scope = scope.parent
    return scope.cls if scope is not None else None


def _attribute_values(model, cls) -> dict:
    """attribute -> [(method scope, value)] of each ``self.<attribute> = value`` in the
    methods of ``cls`` (``self.a, self.b = a, b`` included), in the module defining it."""
    methods = list(cls.methods.values())
    if not methods:
        return {}
    out = {}
    for scope, target, value in model.flow.model_of(methods[0].scope).flow_assigns:
        if scope is None or scope.cls is not cls:
            continue
        pairs = [(target, value)]
        if isinstance(target, (cst.Tuple, cst.List)):
            values = value.elements if isinstance(value, (cst.Tuple, cst.List)) else ()
            if len(values) != len(target.elements):
                values = [None] * len(target.elements)  # unpacked from a call: unknown
            pairs = [(t.value, getattr(v, "value", None)) for t, v in zip(target.elements, values)]
        for t, v in pairs:
            text = dotted_name(t)
            if text is not None and text.startswith("self.") and text.count(".") == 1:
                out.setdefault(text[5:], []).append((scope, v))
    return out


def _construction(model, scope, text):
    """(calling scope, Call) of the one constructor call the instance named ``text`` (a local
    name, or ``self.<attribute>``) is assigned from where ``scope`` reads it, else None."""
    if "." not in text:
        how, owner = binding_scope(scope, text)
        values = assigned_values(owner.node, text) if how == "assigned" else None
        found = [(owner, values[0])] if values and len(values) == 1 else []
    else:
        head, _, attr = text.partition(".")
        cls = _enclosing_class(scope)
        if head != "self" or "." in attr or cls is None:
            return None
        found = _attribute_values(model, cls).get(attr, [])
    if len(found) != 1 or not isinstance(found[0][1], cst.Call):
        return None
    return found[0]


def _constructor_binding(model, scope, text, cls):
    """(``__init__``, its parameters bound) for the instance of ``cls`` that ``text`` names
    in ``scope``, built by one constructor call; None when not known."""
    built = _construction(model, scope, text)
    if built is None:
        return None
    caller, call = built
    runs = model.flow.callees(call, caller)
    if len(runs) != 1 or runs[0][0].name != "__init__":
        return None
    init = runs[0][0]
    if init.scope.cls is None or not model.same_hierarchy(init.scope.cls, cls):
        return None
    bound = _bind(init, call, constructor=True)
    return (init, bound) if bound is not None else None


def _given_attributes(model, sched, receiver, cls):
    """attribute -> the text (as the scheduler's code spells it) each ``self.<attribute>`` of
    the instance ``receiver`` certainly holds, for the attributes set once, where known."""
    values = _attribute_values(model, cls)
    if receiver == "self":
        # the scheduler's own instance: what its code stored on ``self`` right there
        return {
            attr: dotted_name(found[0][1])
            for attr, found in values.items()
            if len(found) == 1
            and found[0][0] is sched.scope
            and dotted_name(found[0][1]) is not None
            and not dotted_name(found[0][1]).startswith("self.")
        }
    made = _constructor_binding(model, sched.scope, receiver, cls)
    if made is None:
        return {}
    init, bound = made
    foreign = model.flow.model_of(init.scope) is not model
    out = {}
    for attr, found in values.items():
        text = dotted_name(found[0][1]) if len(found) == 1 else None
        if text is None or found[0][0] is not init.scope:
            continue
        head, dot, rest = text.partition(".")
        if head in bound:
            given = dotted_name(bound[head]) if bound[head] is not None else None
            if given is not None:
                out[attr] = f"{given}{dot}{rest}"
        elif head not in init.scope.params and head not in init.scope.assigned and not foreign:
            out[attr] = text  # a module-level name, the same one here
    return out


def _decorated(fn) -> bool:
    decorators = getattr(fn.node, "decorators", ())
    return any(dotted_name(d.decorator) in ("staticmethod", "classmethod") for d in decorators)


def _read_from_instance(model, sched, node):
    """The function an ``lr_lambda`` read from an attribute is: a method bound to the
    instance (``self.get_lr``, ``schedule.lr_at``), or a lambda or def the instance keeps
    (``self.lr_lambda``, ``schedule.fn``)."""
    receiver = dotted_name(node.value)
    # what calling it would run: ``self.get_lr`` is looked up on the class (and overrides)
    runs = model.flow.callees(cst.Call(func=node), sched.scope)
    fns = list(dict.fromkeys(fn for fn, _ in runs))
    if receiver is None or len(fns) != 1 or _decorated(fns[0]):
        return
    fn = fns[0]
    returns = [r.node for r in fn.returns]
    label = f"`{receiver}.{node.attr.value}`"
    lam_node = None if isinstance(fn.node, cst.Lambda) else fn.node
    foreign = model.flow.model_of(fn.scope) is not model
    if fn.scope.cls is not None and not isinstance(fn.node, cst.Lambda):
        cls = fn.scope.cls
        if receiver == "self":
            own = _enclosing_class(sched.scope)
            if own is None or not model.same_hierarchy(own, cls):
                return
        given = _given_attributes(model, sched, receiver, cls)
        yield LrLambda(
            label,
            list(fn.params[1:]),
            fn.node,
            returns,
            foreign=foreign,
            receiver=given,
            same_instance=receiver == "self",
        )
        return
    owner = fn.scope.parent
    if any(s is owner for s in sched.scope.function_chain()):
        # kept on ``self`` where the scheduler is built: its names are the ones read here
        yield LrLambda(label, list(fn.params), lam_node, returns, foreign=foreign)
        return
    if owner is None or owner.cls is None:
        return
    own = _enclosing_class(sched.scope)
    if receiver == "self" and own is not None and model.same_hierarchy(own, owner.cls):
        # kept by another method of the scheduler's own instance: only what it reads through
        # ``self`` is what the scheduler's code reads, none of that method's local names
        yield LrLambda(
            label,
            list(fn.params),
            lam_node,
            returns,
            bound={},
            foreign=True,
            receiver={},
            same_instance=True,
        )
        return
    if owner.name != "__init__":
        return
    made = _constructor_binding(model, sched.scope, receiver, owner.cls)
    if made is not None and made[0].scope is owner:
        yield LrLambda(label, list(fn.params), lam_node, returns, made[1], foreign)


def lr_lambda_functions(model, sched, value):
    """The functions (:class:`LrLambda`) an ``lr_lambda`` argument may be."""
    node = strip_call(value.node)
    if isinstance(node, (cst.List, cst.Tuple)):
        for el in node.elements:
            yield from lr_lambda_functions(model, sched, model.value(el.value))
        return
    if isinstance(node, cst.Lambda):
        params = [p.name.value for p in node.params.params]
        yield LrLambda("the lambda", params, None, [node.body], outer=sched.scope.node)
        return
    if isinstance(node, cst.Call):
        yield from _made_by(model, sched.scope, node)
        return
    if isinstance(node, cst.Attribute):
        yield from _read_from_instance(model, sched, node)
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
            yield LrLambda(f"`{node.value}`", params, None, [lam.body], outer=owner.node)
        elif values and len(values) == 1 and isinstance(values[0], cst.Call):
            yield from _made_by(model, owner, values[0])
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
