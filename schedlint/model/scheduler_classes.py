"""What a custom scheduler class's `get_lr` returns (SL104): one value per param group or one
value for every group. Read from its return expressions and the local names they go through.
A list sized by something else than the groups (one per epoch/step/milestone) is answered by
`model/sizes.py` (``counted_list``)."""

from __future__ import annotations

import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import assigned_values, strip_call
from schedlint.model.numbers import fold_number

_COMPS = (cst.ListComp, cst.GeneratorExp)
# What a per-group element reads: the stored bases, the groups, anything keyed per group.
_PER_GROUP_ATTRS = frozenset(
    {"base_lrs", "param_groups", "initial_lr", "min_lrs", "max_lrs", "base_values", "lr_lambdas"}
)
# Calls with state that may hand out a different value on each iteration.
_STATEFUL = frozenset({"next", "pop", "popleft", "__next__", "send"})


def _over_groups(iter_node) -> bool:
    """The comprehension walks the groups: param_groups / base_lrs, directly or through
    enumerate/zip/range(len(...))."""
    stack = [iter_node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Attribute) and n.attr.value in ("param_groups", "base_lrs"):
            return True
        if isinstance(n, (cst.Lambda, cst.FunctionDef)):
            continue
        stack.extend(code_children(n))
    return False


def _one_entry(node) -> bool:
    """``self.base_lrs[0]``, ``self.optimizer.param_groups[0]["lr"]``: one group's value,
    picked by a literal index, the same whatever group it is given to."""
    while isinstance(node, cst.Subscript):
        value = node.value
        if (
            len(node.slice) == 1
            and isinstance(node.slice[0].slice, cst.Index)
            and isinstance(node.slice[0].slice.value, cst.Integer)
            and isinstance(value, cst.Attribute)
            and value.attr.value in _PER_GROUP_ATTRS
        ):
            return True
        node = value
    return False


def _reads(node):
    """Names, attribute names and stateful calls anywhere in ``node`` (one group's entry,
    ``self.base_lrs[0]``, reads nothing per group)."""
    names, attrs, stateful = set(), set(), False
    stack = [node]
    while stack:
        n = stack.pop()
        if _one_entry(n):
            continue
        if isinstance(n, cst.Name):
            names.add(n.value)
        elif isinstance(n, cst.Attribute):
            attrs.add(n.attr.value)
        elif isinstance(n, cst.Call):
            func = n.func
            last = (
                func.attr.value
                if isinstance(func, cst.Attribute)
                else func.value
                if isinstance(func, cst.Name)
                else None
            )
            stateful = stateful or last in _STATEFUL
        elif isinstance(n, cst.SimpleString) and "lr" in n.value:
            attrs.add(n.value.strip("'\""))  # g["initial_lr"] through a name we do not see
        stack.extend(code_children(n))
    return names, attrs, stateful


def _targets(comp) -> set:
    out, for_in = set(), comp.for_in
    while for_in is not None:
        stack = [for_in.target]
        while stack:
            t = stack.pop()
            if isinstance(t, cst.Name):
                out.add(t.value)
            elif isinstance(t, (cst.Tuple, cst.List)):
                stack.extend(e.value for e in t.elements)
            elif isinstance(t, cst.StarredElement):
                stack.append(t.value)
        for_in = for_in.inner_for_in
    return out


def _counts_groups(count, init) -> bool:
    """``len(self.optimizer.param_groups)``, or ``self.n_groups`` that ``__init__`` (the
    ``init`` node, or None) sets to it."""
    attr = _self_attr(count)
    if attr is not None and init is not None:
        values = _stored_values(init, attr)
        return len(values) == 1 and _counts_groups(values[0], None)
    return (
        isinstance(count, cst.Call)
        and dotted_name(count.func) == "len"
        and bool(count.args)
        and _over_groups(count.args[0].value)
    )


def uniform_lr(node, fn_node, depth=0, init=None):
    """The element expression if ``node`` builds one value for every group, else None
    (``init``: the class's ``__init__`` node, which may store the group count)."""
    node = strip_call(node)
    if isinstance(node, cst.Name) and depth < 2:
        values = assigned_values(fn_node, node.value)
        if not values or len(values) != 1:
            return None
        return uniform_lr(values[0], fn_node, depth + 1, init)
    if isinstance(node, _COMPS):
        if not _over_groups(node.for_in.iter):
            return None
        element = node.elt
        names, attrs, stateful = _reads(element)
        if stateful or names & _targets(node) or attrs & _PER_GROUP_ATTRS:
            return None
        if fold_number(element) == 0:
            return None  # zero for every group keeps every ratio (a frozen phase)
        return element
    # [lr] * len(self.optimizer.param_groups), [lr] * self.num_param_groups
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        for seq, count in ((node.left, node.right), (node.right, node.left)):
            if isinstance(seq, cst.List) and len(seq.elements) == 1 and _counts_groups(count, init):
                element = seq.elements[0].value
                _, attrs, stateful = _reads(element)
                if stateful or attrs & _PER_GROUP_ATTRS or fold_number(element) == 0:
                    return None
                return element
    return None


def single_entry(node, fn_node, depth=0):
    """The element of a one-entry list literal ``node`` is (``[self.final_lr * factor]``,
    also through a name bound to it), else None: torch pairs a ``get_lr`` list with the
    param groups by position, so only the first group gets it."""
    node = strip_call(node)
    if isinstance(node, cst.Name) and depth < 2:
        values = assigned_values(fn_node, node.value)
        if not values or len(values) != 1:
            return None
        return single_entry(values[0], fn_node, depth + 1)
    if (
        isinstance(node, cst.List)
        and len(node.elements) == 1
        and isinstance(node.elements[0], cst.Element)
    ):
        return node.elements[0].value
    return None


def restores_bases(method, shared, methods=None) -> bool:
    """Another return of ``method`` (a ``get_lr``) gives each group a value from
    ``self.base_lrs``, itself or through a helper method of the class (``return
    self._decay(step)``, one of ``methods``): apart from the ``shared`` return, the groups
    run at their own lrs (a warm-up from a common start)."""
    return any(
        other is not shared and _from_bases(other, method, methods or {})
        for other in method.returns
    )


def _from_bases(value, method, methods, depth=0) -> bool:
    node = value.node
    if "base_lrs" in _reads(node)[1] and uniform_lr(node, method.node) is None:
        return True
    func = node.func if isinstance(node, cst.Call) else None
    name = dotted_name(func) if func is not None else None
    helper = methods.get(name[5:]) if name and name.startswith("self.") else None
    return (
        depth < 2
        and helper is not None
        and helper is not method
        and any(_from_bases(v, helper, methods, depth + 1) for v in helper.returns)
    )


def _self_attr(node) -> str | None:
    text = dotted_name(node)
    if text and text.startswith("self.") and text.count(".") == 1:
        return text[5:]
    return None


def _annealed_toward(element, own: set) -> str | None:
    """``A`` for ``self.A + (base_lr - self.A) * f`` (either order of the sum and of the
    product), where ``base_lr`` is one of the names ``own`` (the group's own value): an lr
    annealed from each group's own value toward one attribute."""
    if not isinstance(element, cst.BinaryOperation) or not isinstance(element.operator, cst.Add):
        return None
    for floor, rest in ((element.left, element.right), (element.right, element.left)):
        attr = _self_attr(floor)
        if (
            attr is None
            or not isinstance(rest, cst.BinaryOperation)
            or not isinstance(rest.operator, cst.Multiply)
        ):
            continue
        for part in (rest.left, rest.right):
            if (
                isinstance(part, cst.BinaryOperation)
                and isinstance(part.operator, cst.Subtract)
                and _self_attr(part.right) == attr
                and _reads(part.left)[0] & own
            ):
                return attr
    return None


def returned_floor(method, ret) -> str | None:
    """The attribute a return of ``get_lr`` anneals every group toward (``min_lr`` in
    ``[self.min_lr + (base_lr - self.min_lr) * cos for base_lr in self.base_lrs]``), or None.
    One attribute for every group: a scalar floor, since a list would not add to a number."""
    node = strip_call(ret.node)
    if isinstance(node, cst.Name):
        values = assigned_values(method.node, node.value)
        node = strip_call(values[0]) if values and len(values) == 1 else None
    if not isinstance(node, _COMPS) or not _over_groups(node.for_in.iter):
        return None
    return _annealed_toward(node.elt, _targets(node))


def written_floor(write) -> str | None:
    """The attribute an lr write in a loop over the groups anneals toward
    (``g["lr"] = self.min_lr + (base - self.min_lr) * f``), or None."""
    if not write.all_groups:
        return None
    own = set(write.value.names) - {"self"}
    return _annealed_toward(write.value.node, own)


def _stored_values(init_node, attr) -> list:
    """The values ``self.<attr> = <value>`` assigns in the ``__init__`` node ``init_node``
    (not in functions or classes nested in it)."""
    found = []
    stack = [init_node.body]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if isinstance(n, cst.Assign) and len(n.targets) == 1:
            if _self_attr(n.targets[0].target) == attr:
                found.append(n.value)
        stack.extend(code_children(n))
    return found


def stored_from(init, attr) -> str | None:
    """The parameter of ``__init__`` that ``self.<attr> = <param>`` stores, or None."""
    if init is None:
        return None
    params = set(init.params[1:])
    found = _stored_values(init.node, attr)
    if len(found) == 1 and isinstance(found[0], cst.Name) and found[0].value in params:
        return found[0].value
    return None
