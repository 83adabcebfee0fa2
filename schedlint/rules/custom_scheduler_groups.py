import re

import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.numbers import fold_number
from schedlint.model.cstwalk import code_children
from schedlint.model.lr_expressions import assigned_values, strip_call
from schedlint.rules.base import Report, clip, rule

_COMPS = (cst.ListComp, cst.GeneratorExp)
# What a per-group element reads: the stored bases, the groups, anything keyed per group.
_PER_GROUP_ATTRS = frozenset({"base_lrs", "param_groups", "initial_lr", "min_lrs", "max_lrs",
                              "base_values", "lr_lambdas"})
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


def _reads(node):
    """Names, attribute names and stateful calls anywhere in ``node``."""
    names, attrs, stateful = set(), set(), False
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Name):
            names.add(n.value)
        elif isinstance(n, cst.Attribute):
            attrs.add(n.attr.value)
        elif isinstance(n, cst.Call):
            func = n.func
            last = func.attr.value if isinstance(func, cst.Attribute) else \
                func.value if isinstance(func, cst.Name) else None
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


_COUNT_WORD = re.compile(r"epoch|step|iter|warmup|milestone|stage|phase", re.I)


def _sized_by_count(node, fn_node, depth=0):
    """``[... for e in range(self.warmup_epochs)]``: the list has one entry per epoch (or
    step, milestone...), whatever the number of groups. Returns the counted text, else None."""
    node = strip_call(node)
    if isinstance(node, cst.Name) and depth < 2:
        values = assigned_values(fn_node, node.value)
        if not values or len(values) != 1:
            return None
        return _sized_by_count(values[0], fn_node, depth + 1)
    if not isinstance(node, _COMPS) or node.for_in.inner_for_in is not None:
        return None
    it = node.for_in.iter
    if not (isinstance(it, cst.Call) and dotted_name(it.func) == "range" and it.args) or \
            _over_groups(it):
        return None
    count = it.args[-1].value if len(it.args) <= 2 else None
    text = dotted_name(count) if count is not None else None
    return text if text is not None and _COUNT_WORD.search(text) else None


def _uniform(node, fn_node, depth=0):
    """The element expression if ``node`` builds one value for every group, else None."""
    node = strip_call(node)
    if isinstance(node, cst.Name) and depth < 2:
        values = assigned_values(fn_node, node.value)
        if not values or len(values) != 1:
            return None
        return _uniform(values[0], fn_node, depth + 1)
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
    # [lr] * len(self.optimizer.param_groups)
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.Multiply):
        for seq, count in ((node.left, node.right), (node.right, node.left)):
            if isinstance(seq, cst.List) and len(seq.elements) == 1 and \
                    isinstance(count, cst.Call) and dotted_name(count.func) == "len" and \
                    count.args and _over_groups(count.args[0].value):
                element = seq.elements[0].value
                _, attrs, stateful = _reads(element)
                if stateful or attrs & _PER_GROUP_ATTRS or fold_number(element) == 0:
                    return None
                return element
    return None


@rule("SL104", "custom-scheduler-ignores-groups", "error")
def custom_scheduler_ignores_groups(model):
    """A custom LRScheduler's `get_lr` returns the same value for every param group.

    ## What it does
    Flags `get_lr` of a subclass of `LRScheduler` (or `_LRScheduler`, or a torch scheduler)
    that returns one value repeated for every group: a comprehension over
    `self.optimizer.param_groups` or `self.base_lrs` whose element uses neither the group,
    the loop variable nor `self.base_lrs`, or `[lr] * len(self.optimizer.param_groups)`.

    Also flags a `get_lr` that returns one value per something else than a group (a
    comprehension over `range(self.warmup_epochs)`).

    ## Why is this bad?
    torch writes `get_lr()[i]` into group `i` on every `step()`. A list that repeats one value
    gives every group the same LR, so an optimizer built with per-group LRs (a backbone at
    1e-5, a head at 1e-3) silently loses them at the first step, and `base_lrs` is never used.

    ## Example
    ```python
    import torch


    class Warmup(torch.optim.lr_scheduler.LRScheduler):
        def get_lr(self):
            lr = self.peak * min(1.0, (self.last_epoch + 1) / self.warmup)
            return [lr for _ in self.optimizer.param_groups]
    ```

    ## Use instead
    ```python
    import torch


    class Warmup(torch.optim.lr_scheduler.LRScheduler):
        def get_lr(self):
            factor = min(1.0, (self.last_epoch + 1) / self.warmup)
            return [base_lr * factor for base_lr in self.base_lrs]
    ```
    """
    for cls in model.classes:
        if not cls.is_scheduler_subclass:
            continue
        method = cls.methods.get("get_lr")
        if method is None:
            continue
        for ret in method.returns:
            count = _sized_by_count(ret.node, method.node)
            if count is not None:
                yield Report(ret.node,
                             f"`{clip(cls.name, 30)}.get_lr` returns one lr per "
                             f"`{clip(count, 30)}`, not one per param group",
                             help="torch pairs the values with the param groups by position: "
                                  "return one lr per group, e.g. `[base_lr * factor for "
                                  "base_lr in self.base_lrs]`")
                continue
            element = _uniform(ret.node, method.node)
            if element is None:
                continue
            elem_src = model.module.code_for_node(element).strip()
            yield Report(ret.node,
                         f"`{clip(cls.name, 30)}.get_lr` returns the same value "
                         f"`{clip(elem_src, 30)}` for every param group",
                         help="It reads neither `self.base_lrs` nor the group: on each step() "
                              "every group of the optimizer gets that one lr, erasing per-group "
                              "lrs; scale each group's base instead, e.g. "
                              "`[base_lr * factor for base_lr in self.base_lrs]`")
