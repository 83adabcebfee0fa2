"""Does an lr update compound: scale the current lr by a factor that moves with the epoch/step
counter (SL105)? Read from the lr write's expression, the local names and functions it goes
through, and the counters its loops and callers pass."""

from __future__ import annotations

import re

import libcst as cst

from schedlint.model.builder import dotted_name, expr_text, subscript_key
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import (
    assigned_values,
    binding_scope,
    bindings_before,
    is_pure_call,
    strip_call,
)

# Names that hold the current epoch/step/iteration (not a count or a total: `epochs`,
# `num_epochs`, `total_steps`, `warmup_steps` are constants).
_COUNTER = re.compile(
    r"^(cur_|curr_|current_|global_|i_)?(epoch|ep|step|iter|iteration|it)"
    r"(_?(idx|id|num|no|count))?$"
)
_COUNTER_ATTRS = frozenset({"last_epoch", "num_updates", "step_count", "_step_count"})
_MAX_DEPTH = 3
_COUNTING = frozenset({"sum", "np.sum", "numpy.sum", "torch.sum"})


def _is_counter(node, counters) -> bool:
    if isinstance(node, cst.Name):
        return node.value in counters or _COUNTER.match(node.value) is not None
    if isinstance(node, cst.Attribute) and dotted_name(node) is not None:
        last = node.attr.value
        return _COUNTER.match(last) is not None or last in _COUNTER_ATTRS
    return False


class _Analysis:
    """Does an expression's value change with the epoch/step counter?"""

    def __init__(self, model, scope):
        self.model = model
        self.scope = scope

    def depends(self, node, counters, depth=0) -> bool:
        if depth > _MAX_DEPTH * 8:
            return False
        if _is_counter(node, counters):
            return True
        if isinstance(node, cst.Call) and dotted_name(node.func) in _COUNTING:
            # `sum(epoch >= m for m in steps)`: how many milestones the counter has passed
            # grows with it (the exponent of a step decay), though each test is a condition
            arg = node.args[0].value if len(node.args) == 1 else None
            if isinstance(arg, (cst.GeneratorExp, cst.ListComp)):
                arg = arg.elt
            if isinstance(arg, cst.Comparison):
                sides = [arg.left] + [c.comparator for c in arg.comparisons]
                return any(self.depends(n, counters, depth + 1) for n in sides)
        if isinstance(node, (cst.Comparison, cst.Lambda, cst.BooleanOperation)):
            return False  # `gamma if epoch in milestones else 1`: a condition, not a factor
        if isinstance(node, cst.IfExp):
            return self.depends(node.body, counters, depth + 1) or self.depends(
                node.orelse, counters, depth + 1
            )
        if isinstance(node, cst.Subscript):
            return self.depends(node.value, counters, depth + 1)  # factors[epoch]: a table
        if isinstance(node, cst.BinaryOperation):
            left = self.depends(node.left, counters, depth + 1)
            right = self.depends(node.right, counters, depth + 1)
            if left and right and isinstance(node.operator, (cst.Divide, cst.Subtract)):
                return False  # f(e) / f(e - 1): the incremental (chainable) form is correct
            if isinstance(node.operator, (cst.Add, cst.Subtract)) and left != right:
                # 1 - 1 / (e + 1) == e / (e + 1): a term that fades as the counter grows is
                # the incremental form of a polynomial decay, not a compounding one.
                term = node.left if left else node.right
                if (
                    isinstance(term, cst.BinaryOperation)
                    and isinstance(term.operator, cst.Divide)
                    and not self.depends(term.left, counters, depth + 1)
                ):
                    return False
            return left or right
        if isinstance(node, cst.Call):
            return self._call_depends(node, counters, depth)
        if isinstance(node, cst.Attribute):
            return False  # cfg.gamma
        if isinstance(node, cst.Name):
            return self._local_depends(node.value, counters, depth)
        for child in code_children(node):
            if isinstance(child, (cst.Arg, cst.Element, cst.StarredElement)):
                child = child.value
            if isinstance(child, cst.BaseExpression) and self.depends(child, counters, depth + 1):
                return True
        return False

    def _local_depends(self, name, counters, depth):
        """``factor = 0.9 ** epoch`` ... ``g["lr"] *= factor``: follow a local name."""
        if depth > _MAX_DEPTH * 4:
            return False
        how, owner = binding_scope(self.scope, name)
        if how != "assigned" or owner.kind == "class":
            return False
        values = assigned_values(owner.node, name)
        return bool(values) and any(self.depends(v, counters, depth + 4) for v in values)

    def _call_depends(self, call, counters, depth):
        if is_pure_call(call):
            return any(self.depends(a.value, counters, depth + 1) for a in call.args)
        fn = self.local_function(call)
        if fn is None or depth > _MAX_DEPTH * 4:
            return False  # an opaque callee may return a ratio (MultiplicativeLR's contract)
        params, returns = fn
        inner = {
            p
            for p, a in zip(params, call.args)
            if a.keyword is None and not a.star and self.depends(a.value, counters, depth + 1)
        }
        inner |= {
            a.keyword.value
            for a in call.args
            if a.keyword is not None
            and a.keyword.value in params
            and self.depends(a.value, counters, depth + 1)
        }
        if not inner:
            return False
        return any(self.depends(r, inner, depth + 4) for r in returns)

    def local_function(self, call):
        """(params, return expressions) of a module/function-local def or lambda ``call``
        names, when exactly one definition is visible."""
        if not isinstance(call.func, cst.Name):
            return None
        name = call.func.value
        defs = [
            f
            for f in self.model.functions.get(name, [])
            if f.scope.parent is None or f.scope.parent.kind != "class"
        ]
        if len(defs) == 1:
            info = defs[0]
            return info.params, [r.node for r in info.returns]
        if defs:
            return None
        how, owner = binding_scope(self.scope, name)
        if how != "assigned":
            return None
        values = assigned_values(owner.node, name)
        if not values or len(values) != 1 or not isinstance(values[0], cst.Lambda):
            return None
        lam = values[0]
        params = tuple(p.name.value for p in lam.params.params)
        return params, [lam.body]


def _factors(node):
    """Multiplicative factors of a product/quotient: [(node, inverted)]."""
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, (cst.Multiply, cst.Divide)
    ):
        left = _factors(node.left)
        right = _factors(node.right)
        if isinstance(node.operator, cst.Divide):
            right = [(n, not inv) for n, inv in right]
        return left + right
    return [(node, False)]


def _is_lr_read(node, group_text) -> bool:
    return (
        isinstance(node, cst.Subscript)
        and subscript_key(node) == "lr"
        and expr_text(node.value) == group_text
    )


def _rescales(scope, node) -> bool:
    """``target / current_lr`` or ``lr / prev`` with ``prev = lr`` after the write: the
    factor divides by the lr it replaces, so each update lands on a target computed afresh
    and the product telescopes instead of compounding."""
    factors = _factors(_single_local(scope, node))
    kept = {expr_text(f) for f, inverted in factors if not inverted}
    for f, inverted in factors:
        if not inverted:
            continue
        f = _single_local(scope, f)
        if isinstance(f, cst.Subscript) and subscript_key(f) == "lr":
            return True  # ``lr / optimizer.param_groups[-1]["lr"]``
        if isinstance(f, cst.Name) and scope.kind == "function":
            values = assigned_values(scope.node, f.value) or []
            if any(expr_text(v) in kept for v in values):
                return True  # ``g["lr"] * lr / prev`` then ``prev = lr``
    return False


def _compounds_product(analysis, node, lr_match, counters) -> bool:
    """``lr * f(epoch)``: one factor is the current lr, another moves with the counter."""
    if _rescales(analysis.scope, node):
        return False
    factors = _factors(node)
    lr_factors = [f for f, inv in factors if not inv and lr_match(f)]
    if len(lr_factors) != 1:
        return False
    return any(analysis.depends(f, counters) for f, _ in factors if f is not lr_factors[0])


def group_target(stmt):
    """The group expression (``g``, ``opt.param_groups[0]``) an lr write statement writes."""
    if isinstance(stmt, cst.AugAssign):
        return stmt.target.value if isinstance(stmt.target, cst.Subscript) else None
    if isinstance(stmt, cst.Assign):
        for t in stmt.targets:
            if isinstance(t.target, cst.Subscript) and subscript_key(t.target) == "lr":
                return t.target.value
    if isinstance(stmt, cst.AnnAssign) and isinstance(stmt.target, cst.Subscript):
        return stmt.target.value
    if isinstance(stmt, cst.NamedExpr) and isinstance(stmt.target, cst.Subscript):
        return stmt.target.value
    if isinstance(stmt, cst.Call) and isinstance(stmt.func, cst.Attribute):
        return stmt.func.value  # g.update(lr=...)
    return None


def written_group(write) -> str:
    """The source text of the group an lr write writes (``g``, ``opt.param_groups[0]``)."""
    return expr_text(group_target(write.node))


def compounding(model, write):
    """None, or how ``write`` compounds: "" (directly) or a phrase naming the helper."""
    group = group_target(write.node)
    if group is None:
        return None
    group_text = expr_text(group)
    counters = set()
    for loop in write.loops:
        if (
            loop.groups_of is None
            and loop.kind == "for"
            and loop.iter is not None
            and loop.iter.call in ("range", "enumerate")
        ):
            counters |= {loop.index_var} if loop.index_var else set()
            target = getattr(loop.node, "target", None)
            if isinstance(target, cst.Name):
                counters.add(target.value)
            elif (
                isinstance(target, cst.Tuple)
                and target.elements
                and isinstance(target.elements[0].value, cst.Name)
            ):
                counters.add(target.elements[0].value.value)
    analysis = _Analysis(model, write.scope)
    counters |= _counter_params(model, write.scope, analysis)
    value = write.value.node
    if write.op in ("*=", "/="):
        if write.op == "*=" and _rescales(write.scope, value):
            return None
        return "" if analysis.depends(value, counters) else None
    if write.op not in ("=", "update"):
        return None
    if _compounds_product(analysis, value, lambda n: _is_lr_read(n, group_text), counters):
        return ""
    if isinstance(value, cst.Name) and _compounds_through_local(
        analysis, write, value.value, group_text, counters
    ):
        return ""
    # g["lr"] = decay(g["lr"], epoch) through a local helper, a lambda, or a function reached
    # through the value flow (``self.fns[i](epoch, lr)`` with the list given to the class)
    value = _single_local(write.scope, value)
    if isinstance(value, cst.Call):
        candidates = []
        fn = analysis.local_function(value)
        if fn is not None:
            candidates.append(fn)
        else:
            candidates += [
                (f.params, [r.node for r in f.returns])
                for f in model.callees(value.func, write.scope)
            ]

        def lr_read(node):
            return _is_lr_read(node, group_text) or _is_lr_read(
                _single_local(write.scope, node), group_text
            )

        for params, returns in candidates:
            lr_param, counter_params = None, set()
            for p, a in zip(params, value.args):
                if a.keyword is not None or a.star:
                    break
                if lr_read(a.value):
                    lr_param = p
                elif analysis.depends(a.value, counters):
                    counter_params.add(p)
            for a in value.args:
                if a.keyword is not None and a.keyword.value in params:
                    if lr_read(a.value):
                        lr_param = a.keyword.value
                    elif analysis.depends(a.value, counters):
                        counter_params.add(a.keyword.value)
            if lr_param is None or not counter_params:
                continue
            inner = _Analysis(model, write.scope)

            def is_param(n, lr_param=lr_param):
                return isinstance(n, cst.Name) and n.value == lr_param

            if any(_compounds_product(inner, r, is_param, counter_params) for r in returns):
                callee = dotted_name(value.func) or model.module.code_for_node(value.func)
                return (
                    f" (through `{callee}`, which multiplies the lr it "
                    f"receives by a factor of the counter)"
                )
    return None


def _compounds_through_local(analysis, write, name, group_text, counters) -> bool:
    """``lr = g["lr"]``, then ``lr *= decay ** epoch`` (or ``lr = lr * ...``), then
    ``g["lr"] = lr``: the current lr scaled by a factor of the counter on its way through a
    local name. Any other binding of the name on the way starts it afresh."""
    if write.scope.kind != "function":
        return False
    holds = None  # "lr": the name holds the current lr; "compounds": scaled by the counter
    for op, value in bindings_before(write.scope.node, name, write.node) or ():
        if op != "=":
            if holds and analysis.depends(value, counters):
                holds = "compounds"
            continue
        current = holds is not None

        def lr_match(n, current=current):
            return _is_lr_read(n, group_text) or (current and getattr(n, "value", None) == name)

        if _is_lr_read(value, group_text):
            holds = "lr"
        elif _compounds_product(analysis, value, lr_match, counters):
            holds = "compounds"
        elif not (current and any(lr_match(f) for f, inverted in _factors(value) if not inverted)):
            holds = None
    return holds == "compounds"


def _single_local(scope, node):
    """The one value a local name is assigned in ``scope`` (``new_lr = fn(epoch, lr)``), else
    the node itself."""
    if isinstance(node, cst.Name) and scope.kind == "function" and node.value in scope.assigned:
        values = assigned_values(scope.node, node.value)
        if values is not None and len(values) == 1:
            return values[0]
    return node


def _counter_params(model, scope, analysis) -> set:
    """Parameters of the function ``scope`` that its callers in this file pass a counter:
    ``adjust(optimizer, e)`` called as ``adjust(optimizer, epoch)``."""
    info = next((f for f in model.functions.get(scope.name, ()) if f.scope is scope), None)
    if info is None or scope.kind != "function":
        return set()
    out = set()
    for call in model.calls_by_name.get(info.name, ()):
        node = call.node
        if not isinstance(node, cst.Call):
            continue
        params = info.params[1:] if scope.cls is not None else info.params
        for param, arg in zip(params, node.args):
            if arg.keyword is not None or arg.star:
                break
            if analysis.depends(arg.value, set()):
                out.add(param)
        out |= {
            a.keyword.value
            for a in node.args
            if a.keyword is not None
            and a.keyword.value in info.params
            and analysis.depends(a.value, set())
        }
    return out


def rebased(model, write, group, base):
    """The write's statement with its read of the current lr replaced by the base lr."""
    group_text = expr_text(group_target(write.node))
    stack = [write.value.node]
    while stack:
        n = stack.pop()
        if _is_lr_read(n, group_text):
            try:
                new = write.node.deep_replace(n, cst.parse_expression(base))
            except Exception:  # pragma: no cover - libcst refuses odd trees
                return None
            text = model.module.code_for_node(new).strip()
            return text if "\n" not in text else None
        stack.extend(code_children(n))
    return None


# torch schedulers whose ``get_lr`` returns each group's *current* lr times a per-step ratio
# (torch 2.13): a subclass that scales ``super().get_lr()`` scales that current lr again.
_CHAINABLE_GET_LR = frozenset(
    {
        "StepLR",
        "MultiStepLR",
        "ExponentialLR",
        "MultiplicativeLR",
        "LinearLR",
        "ConstantLR",
        "CosineAnnealingLR",
        "PolynomialLR",
    }
)


def _parent_get_lr(node, cls) -> bool:
    """``super().get_lr()`` (or ``MultiStepLR.get_lr(self)``) in a subclass of a torch
    scheduler whose ``get_lr`` hands back the groups' current lrs."""
    if cls is None or not isinstance(node, cst.Call) or not isinstance(node.func, cst.Attribute):
        return False
    if node.func.attr.value != "get_lr":
        return False
    parents = {b.rpartition(".")[2] for b in cls.bases}
    if not parents & _CHAINABLE_GET_LR:
        return False
    owner = node.func.value
    if isinstance(owner, cst.Call) and dotted_name(owner.func) == "super":
        return True
    return (dotted_name(owner) or "").rpartition(".")[2] in parents


def compounding_return(model, method, node, cls=None):
    """The element of a custom ``get_lr`` return that scales each group's *current* lr by a
    factor moving with the step counter (``[g["lr"] * (1 - self.last_epoch / self.max_iters)
    ** self.power for g in self.optimizer.param_groups]``), else None. torch stores what
    ``get_lr`` returns as the group's lr, so a closed-form factor is applied on top of every
    previous one; the chainable forms torch's own schedulers use (a ratio of consecutive
    factors, a constant ``gamma``) are not reported."""
    node = strip_call(node)
    if isinstance(node, cst.Name):
        values = assigned_values(method.node, node.value)
        node = strip_call(values[0]) if values and len(values) == 1 else None
    if not isinstance(node, (cst.ListComp, cst.GeneratorExp)):
        return None
    for_in = node.for_in
    iterated = dotted_name(for_in.iter) or ""
    if for_in.inner_for_in is not None or not isinstance(for_in.target, cst.Name):
        return None
    group = for_in.target.value
    if iterated.endswith("param_groups"):

        def matches(f):
            return _is_lr_read(f, group)

    elif _parent_get_lr(for_in.iter, cls):
        # ``[lr * warmup for lr in super().get_lr()]`` over MultiStepLR: each ``lr`` is
        # already the group's current lr times the parent's ratio

        def matches(f):
            return isinstance(f, cst.Name) and f.value == group

    else:
        return None
    analysis = _Analysis(model, method.scope)
    element = node.elt
    parts = [element]
    if isinstance(element, cst.Call) and dotted_name(element.func) in ("max", "min"):
        parts = [a.value for a in element.args]  # max(self.min_lr, g["lr"] * f): a floor
    for part in parts:
        if _compounds_product(analysis, part, matches, set()):
            return element
    return None
