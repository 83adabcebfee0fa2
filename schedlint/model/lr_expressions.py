"""Questions about lr expressions the group-LR rules (SL101-SL106) ask of the model.

These answer small questions about an expression a rule already holds: is it certainly one
number (not a per-group list)? which values were assigned to a local name? does it depend on
an epoch/step counter in a way that matters? They walk only the node they are given (and, to
follow a local name, the body of the function that binds it), never the whole file.
"""

from __future__ import annotations

import re

import libcst as cst

from schedlint.model.builder import dotted_name, subscript_key, target_names
from schedlint.model.numbers import fold_number

# Plural or list-like names: a per-group list, not one number.
_LISTY = re.compile(r"(s|_list|_lst|_seq|_tuple|_all|_per_group|_per_layer)$", re.I)
_LR_TEXT = re.compile(r"lr|learning_rate", re.I)
# Builtins and math functions: a number in, a number out, no hidden state.
_PURE_CALLS = frozenset(
    {
        "float",
        "int",
        "abs",
        "round",
        "min",
        "max",
        "pow",
        "sqrt",
        "exp",
        "log",
        "cos",
        "sin",
        "tanh",
        "floor",
        "ceil",
    }
)
_PURE_MODULES = ("math.", "np.", "numpy.", "torch.")
_ARITH = (cst.Add, cst.Subtract, cst.Multiply, cst.Divide, cst.Power, cst.FloorDivide, cst.Modulo)


def strip_call(node):
    """``list(x)`` / ``tuple(x)`` -> ``x``."""
    while (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Name)
        and node.func.value in ("list", "tuple")
        and len(node.args) == 1
    ):
        node = node.args[0].value
    return node


def looks_like_lr(text: str | None) -> bool:
    return bool(text) and _LR_TEXT.search(text) is not None


def is_pure_call(node: cst.Call) -> bool:
    name = dotted_name(node.func)
    if name is None:
        return False
    return name in _PURE_CALLS or name.startswith(_PURE_MODULES)


# -- local assignments ------------------------------------------------------------------------
def _small_statements(container):
    """Small statements of a block and of the blocks nested in it (if/for/while/with/try),
    not of nested function or class bodies."""
    body = getattr(container, "body", ())
    if not isinstance(body, (list, tuple)):
        body = getattr(body, "body", ())
    for stmt in body:
        if isinstance(stmt, cst.BaseSmallStatement):
            yield stmt
        elif isinstance(stmt, cst.SimpleStatementLine):
            yield from stmt.body
        elif isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            continue
        else:
            yield stmt  # callers look at for targets and with-as names
            yield from _compound(stmt)


def _compound(stmt):
    if isinstance(stmt, cst.BaseCompoundStatement) or isinstance(
        stmt, (cst.Else, cst.Finally, cst.ExceptHandler)
    ):
        yield from _small_statements(stmt)
    for attr in ("orelse", "finalbody"):
        sub = getattr(stmt, attr, None)
        if sub is not None:
            yield from _compound(sub)
    for handler in getattr(stmt, "handlers", ()) or ():
        yield from _compound(handler)


_AUGMENTED = {cst.MultiplyAssign: "*=", cst.DivideAssign: "/="}


def bindings_before(scope_node, name: str, stop) -> list | None:
    """(operator, value) of each statement that binds the bare ``name`` directly in
    ``scope_node``'s body before the statement ``stop``, in source order: ``("=", value)``,
    ``("*=", value)``. None when one of them binds a value not known here (unpacking, a
    for target, ``+=``) or ``stop`` is not a statement of that body."""
    out = []
    for small in _small_statements(scope_node):
        if small is stop:
            return out
        if isinstance(small, cst.Assign):
            for t in small.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    out.append(("=", small.value))
                elif isinstance(t.target, (cst.Tuple, cst.List)) and name in target_names(t.target):
                    return None
        elif isinstance(small, cst.AugAssign) and getattr(small.target, "value", None) == name:
            op = _AUGMENTED.get(type(small.operator))
            if op is None or not isinstance(small.target, cst.Name):
                return None
            out.append((op, small.value))
        elif isinstance(small, cst.For) and name in target_names(small.target):
            return None
    return None


def assigned_values(scope_node, name: str) -> list | None:
    """Every value assigned to the bare ``name`` directly in ``scope_node``'s body.

    None when the name is also bound in a way whose value is unknown (augmented assignment,
    unpacking, a for target, ``global``), so callers can stay silent.
    """
    if isinstance(scope_node, cst.Lambda):
        return []
    values = []
    for small in _small_statements(scope_node):
        if isinstance(small, cst.Assign):
            for t in small.targets:
                if isinstance(t.target, cst.Name) and t.target.value == name:
                    values.append(small.value)
                elif isinstance(t.target, (cst.Tuple, cst.List)) and name in target_names(t.target):
                    return None
        elif (
            isinstance(small, cst.AnnAssign)
            and isinstance(small.target, cst.Name)
            and small.target.value == name
            and small.value is not None
        ):
            values.append(small.value)
        elif (
            isinstance(small, cst.AugAssign)
            and isinstance(small.target, cst.Name)
            and small.target.value == name
        ):
            return None
        elif isinstance(small, cst.For) and name in target_names(small.target):
            return None
        elif isinstance(small, cst.With) and any(
            item.asname is not None and name in target_names(item.asname.name)
            for item in small.items
        ):
            return None
        elif isinstance(small, (cst.Global, cst.Nonlocal)) and any(
            n.name.value == name for n in small.names
        ):
            return None
    return values


def binding_scope(scope, name: str):
    """The model Scope whose body binds ``name`` as seen from ``scope`` (class bodies skipped
    for code nested in them), and how: ("param"|"assigned", scope), or (None, None)."""
    s, first = scope, True
    while s is not None:
        if s.kind != "class" or first:
            if name in s.params:
                return "param", s
            if name in s.assigned:
                return "assigned", s
        first = False
        s = s.parent
    return None, None


# -- "certainly one number" -------------------------------------------------------------------
def certainly_scalar(node, scope, lr_names=frozenset(), depth=0, arguments=None) -> bool:
    """True when ``node`` certainly evaluates to one number, not a per-group list.

    ``lr_names`` are bare names known to hold a scalar (used as an optimizer's ``lr``).
    ``arguments``: ``FileModel.arguments``, to follow a parameter to what every call binds it
    to (``def fit_one_cycle(self, epochs, max_lr)`` called with ``max_lr=1e-3``).
    """
    if depth > 4:
        return False

    def scalar(n, s, names=lr_names):
        return certainly_scalar(n, s, names, depth + 1, arguments)

    if isinstance(node, (cst.Integer, cst.Float)):
        return True
    if isinstance(node, cst.UnaryOperation):
        return scalar(node.expression, scope)
    if isinstance(node, cst.Attribute):
        text = dotted_name(node)
        return text is not None and not _LISTY.search(node.attr.value)
    if isinstance(node, cst.Subscript):
        # a config lookup, ``cfg["max_lr"]`` or ``self.config["optim"]["lr"]``: one value
        # per key, a number unless the key says it is a list (``cfg["max_lrs"]``)
        key, inner = subscript_key(node), node.value
        while isinstance(inner, cst.Subscript) and subscript_key(inner) is not None:
            inner = inner.value
        return key is not None and dotted_name(inner) is not None and not _LISTY.search(key)
    if isinstance(node, cst.BinaryOperation):
        if not isinstance(node.operator, _ARITH):
            return False
        return scalar(node.left, scope) and scalar(node.right, scope)
    if isinstance(node, cst.IfExp):
        return scalar(node.body, scope) and scalar(node.orelse, scope)
    if isinstance(node, cst.Call):
        name = dotted_name(node.func)
        return (
            name in ("float", "int")
            or (name in ("min", "max", "abs", "round") or (name or "").startswith("math."))
            and bool(node.args)
            and all(a.keyword is None and not a.star and scalar(a.value, scope) for a in node.args)
        )
    if isinstance(node, cst.Name):
        if node.value in lr_names:
            return True
        if _LISTY.search(node.value):
            return False
        how, owner = binding_scope(scope, node.value)
        if how == "param" and arguments is not None:
            bound = arguments(owner, node.value)  # the caller's names are its own
            return bool(bound) and all(scalar(n, s, frozenset()) for s, n in bound)
        if how != "assigned":
            return False
        values = assigned_values(owner.node, node.value)
        return bool(values) and all(scalar(v, owner) for v in values)
    return False


def lr_names_of(optimizer) -> frozenset:
    """Bare names an optimizer's lrs are built from (each certainly holds one number)."""
    names = set()
    # a helper's groups name its own variables: the same name here may hold anything
    values = [optimizer.default_lr] + [
        g.lr for g in optimizer.groups or () if g.scope in (None, optimizer.scope)
    ]
    for v in values:
        if v is None:
            continue
        if isinstance(v.node, cst.Name):
            names.add(v.node.value)
        elif isinstance(v.node, cst.BinaryOperation):
            # lr * 0.1: every bare name in an arithmetic lr is a number
            stack = [v.node]
            while stack:
                n = stack.pop()
                if isinstance(n, cst.BinaryOperation) and isinstance(n.operator, _ARITH):
                    stack += [n.left, n.right]
                elif isinstance(n, cst.Name):
                    names.add(n.value)
    return frozenset(names)


# -- the reference lr of an unsafe fix ------------------------------------------------------
_NUMBER = re.compile(r"(?<![\w.])(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])")


def computed_from(value, ref) -> bool:
    """Whether the expression ``value`` is computed from ``ref`` (an optimizer's ``lr=``
    default): it is that value, or an expression that reads it (``ref * step / warmup``).

    An unsafe fix that rescales a scalar per group needs the lr the scalar was meant for; the
    default is that lr only when the scalar was computed from it. Any other guess (the first
    group's lr, say) can train every other group at the wrong scale."""
    if value is None or ref is None:
        return False
    if ref.number is not None and (
        value.number == ref.number
        or any(float(n) == ref.number for n in _NUMBER.findall(value.src))
    ):
        return True
    # a name the flow folded to a number (``lr=BASE_LR``) is still read by name
    if isinstance(ref.node, cst.Name):
        return ref.node.value in value.names
    if ref.dotted is not None:
        return re.search(r"(?<![\w.])" + re.escape(ref.dotted) + r"(?!\w)", value.src) is not None
    if ref.number is not None:
        return False
    return " ".join(ref.src.split()) in " ".join(value.src.split())


# Expressions that need no parentheses inside a larger one.
_ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float)


def is_atom(value) -> bool:
    """The Value is a name, attribute, call, subscript or number: a fix can write it inside a
    larger expression without parentheses."""
    return isinstance(value.node, _ATOMS)


def group_written(model, write):
    """(source, quote) of the expression that denotes the group an lr write writes (``g``,
    ``opt.param_groups[i]``) and the quote its ``"lr"`` key is written with, else (None, None)."""
    stmt = write.node
    if isinstance(stmt, cst.Call) and isinstance(stmt.func, cst.Attribute):
        return model.module.code_for_node(stmt.func.value), '"'  # g.update(lr=...)
    targets = (
        [t.target for t in stmt.targets]
        if isinstance(stmt, cst.Assign)
        else [stmt.target]
        if isinstance(stmt, cst.AnnAssign)
        else []
    )
    for t in targets:
        if (
            isinstance(t, cst.Subscript)
            and len(t.slice) == 1
            and isinstance(t.slice[0].slice, cst.Index)
            and isinstance(t.slice[0].slice.value, cst.SimpleString)
        ):
            key = t.slice[0].slice.value
            if key.evaluated_value == "lr":
                return model.module.code_for_node(t.value), key.quote if len(
                    key.quote
                ) == 1 else '"'
    return None, None


def certainly_nonzero(node, scope, lr_names, floor_is_target) -> bool:
    """Certainly a non-zero number (a floor of 0 keeps every ratio); ``floor_is_target`` when
    the floor is the lr a phase trains at (``swa_lr``), never 0 whatever gives it."""
    if not certainly_scalar(node, scope, lr_names):
        return False
    if isinstance(node, (cst.Integer, cst.Float, cst.UnaryOperation, cst.BinaryOperation)):
        number = fold_number(node)
        if number is not None:
            return number != 0
    if isinstance(node, cst.Name):
        # min_lr = 1e-6 ... eta_min=min_lr: every value the name is given is a non-zero number
        how, owner = binding_scope(scope, node.value)
        values = assigned_values(owner.node, node.value) if how == "assigned" else None
        numbers = [fold_number(v) for v in values or ()]
        if numbers and all(n not in (None, 0) for n in numbers):
            return True
    if floor_is_target:
        # swa_lr is the lr SWA trains at: it is never 0, whatever expression gives it.
        return True
    # lr * 0.01, args.lr / 100: non-zero whenever the lr itself is.
    if isinstance(node, cst.BinaryOperation) and isinstance(
        node.operator, (cst.Multiply, cst.Divide)
    ):
        sides = (node.left, node.right)
        numbers = [fold_number(s) for s in sides]
        others = [s for s, n in zip(sides, numbers) if n is None]
        return (
            any(n not in (None, 0) for n in numbers)
            and len(others) == 1
            and looks_like_lr(dotted_name(others[0]))
        )
    return False


def zipped_sources(model, write) -> list:
    """The values a per-group lr written from a ``zip`` target is taken from: ``lr`` of
    ``for group, lr in zip(opt.param_groups, warmup_lrs): group["lr"] = lr``, with
    ``warmup_lrs`` followed to every value assigned to it in the function. [] for another
    shape, or when a binding is unknown (a parameter, an unpacking)."""
    source = write.via or write
    loop = source.loop
    while loop is not None and loop.groups_of is None:
        loop = loop.parent
    value = write.value
    if loop is None or not isinstance(value.node, cst.Name):
        return []
    node = loop.node
    if not (
        isinstance(node, cst.For)
        and isinstance(node.iter, cst.Call)
        and dotted_name(node.iter.func) == "zip"
        and isinstance(node.target, cst.Tuple)
    ):
        return []
    operand = next(
        (
            arg.value
            for arg, el in zip(node.iter.args, node.target.elements)
            if isinstance(el.value, cst.Name) and el.value.value == value.node.value
        ),
        None,
    )
    if operand is None:
        return []
    nodes = [operand]
    if isinstance(operand, cst.Name):
        nodes = assigned_values(source.scope.node, operand.value) or []
    return [model.value(n) for n in nodes]
