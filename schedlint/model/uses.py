"""How a variable is used inside the code that can see it (queries of the SL3xx rules).

The model records the facts rules usually need; a few precision checks need one more thing:
*every* place a variable appears, to know whether it escapes (is passed to a helper, saved in a
list, returned) where the model cannot follow it. These helpers walk only the subtree that owns
the binding, and only for the rare candidate findings, so they cost nothing on most files.
They also say whether two statements run in different arms of one ``if``/``try``
(:func:`exclusive`), whether a group list escapes (:func:`group_list_private`) and how a
resume path restores its epoch (:func:`restored_start`, :func:`fast_forward`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import libcst as cst

from schedlint.model.builder import binding_key, dotted_name, target_names
from schedlint.model.cstwalk import children
from schedlint.model.usage import call_node_of, enclosing_class

# Methods on a scheduler or optimizer that neither save, load nor hand the object elsewhere.
HARMLESS_METHODS = frozenset(
    {"step", "get_last_lr", "get_lr", "zero_grad", "print_lr", "step_update"}
)


@dataclass
class Use:
    node: Any
    # method|target|unpacked|returned|argument|attribute|attr_write|test|declaration|other
    kind: str
    method: str | None = None
    call: cst.Call | None = None


def binding_root(model, key):
    """The node whose subtree holds every use of the variable with binding ``key``."""
    if key is None:
        return model.module
    if key[0] == "class":
        cls = next((c for c in model.classes if id(c) == key[1]), None)
        return cls.node if cls is not None else model.module
    scope = next((s for s in model.scopes if s.id == key[0]), None)
    return scope.node if scope is not None else model.module


def _matches(node, text) -> bool:
    if isinstance(node, cst.Name):
        return node.value == text
    if isinstance(node, cst.Attribute):
        return dotted_name(node) == text
    return False


def _classify(node, parent, grand) -> Use:
    if isinstance(parent, cst.Attribute) and parent.value is node:
        if isinstance(grand, cst.Call) and grand.func is parent:
            return Use(node, "method", parent.attr.value, grand)
        if (
            isinstance(grand, (cst.AssignTarget, cst.AugAssign))
            or isinstance(grand, cst.AnnAssign)
            and grand.target is parent
        ):
            return Use(node, "attr_write", parent.attr.value)
        return Use(node, "attribute", parent.attr.value)
    if isinstance(parent, cst.Arg) and parent.value is node and isinstance(grand, cst.Call):
        return Use(node, "argument", call=grand)
    if (
        isinstance(parent, cst.AssignTarget)
        or isinstance(parent, (cst.AnnAssign, cst.AugAssign))
        and parent.target is node
        or isinstance(parent, cst.For)
        and parent.target is node
    ):
        return Use(node, "target")
    if isinstance(parent, (cst.Param, cst.NameItem)):
        return Use(node, "declaration")
    if (
        isinstance(parent, (cst.If, cst.While, cst.IfExp))
        and parent.test is node
        or isinstance(parent, (cst.BooleanOperation, cst.UnaryOperation))
        or isinstance(parent, cst.Comparison)
        and parent.left is node
        and all(isinstance(c.operator, (cst.Is, cst.IsNot)) for c in parent.comparisons)
        or isinstance(parent, cst.ComparisonTarget)
        and isinstance(parent.operator, (cst.Is, cst.IsNot))
    ):
        return Use(node, "test")
    return Use(node, "other")


def uses(root, text: str) -> list:
    """Every occurrence of the Name/attribute chain ``text`` under ``root``, classified."""
    found = []
    stack = [(root, None, None, False, False)]
    while stack:
        node, parent, grand, unpacked, returned = stack.pop()
        if _matches(node, text):
            if unpacked:
                found.append(Use(node, "unpacked"))
            elif returned:
                found.append(Use(node, "returned"))
            else:
                found.append(_classify(node, parent, grand))
            continue
        for child in children(node):
            if isinstance(node, cst.Attribute) and child is node.attr:
                continue  # ``x.opt``: the attribute name is not the variable ``opt``
            if isinstance(node, cst.Arg) and child is node.keyword:
                continue
            stack.append(
                (
                    child,
                    node,
                    parent,
                    _unpacks_into(node, child, unpacked),
                    _returned_by(node, child, returned),
                )
            )
    return found


def _returned_by(node, child, returned) -> bool:
    """``child`` is what a ``return`` hands back, or an entry of the tuple or list it does
    (``return optimizer, scheduler``)."""
    if isinstance(node, cst.Return):
        return child is node.value
    return returned and isinstance(node, (cst.Tuple, cst.List, cst.Element))


def escapes_only_by_return(model, entity, allowed=HARMLESS_METHODS) -> bool:
    """The variable holding ``entity``, built here, is returned (a factory's
    ``return optimizer, scheduler``) and otherwise used only as :func:`escapes` allows: what
    happens to it next is up to the callers, which :func:`held_escapes` follows."""
    if entity.target is None or model.is_foreign(entity):
        return False
    found = uses(binding_root(model, entity.key), entity.target)
    return any(u.kind == "returned" for u in found) and not _variable_escapes(
        model, entity.key, entity.target, allowed, returned_ok=True
    )


def _unpacks_into(node, child, unpacked) -> bool:
    """``child`` is bound by unpacking: an entry of the tuple or list an assignment or a
    ``for`` unpacks (``scheduler, epochs = create_scheduler(...)``)."""
    if isinstance(node, (cst.AssignTarget, cst.For)):
        return child is node.target and isinstance(child, (cst.Tuple, cst.List))
    return unpacked and isinstance(node, (cst.Tuple, cst.List, cst.Element, cst.StarredElement))


def escapes(model, entity, allowed=HARMLESS_METHODS) -> bool:
    """True if the variable holding ``entity`` is used other than by harmless method calls,
    assignments to it and truth tests: passed to a function, stored in a container, returned,
    aliased, or an attribute of it is written. Unknown variables count as escaping."""
    if entity.target is None:
        return True
    if model.is_foreign(entity):
        return _escapes_foreign(model, entity, allowed)
    return _variable_escapes(model, entity.key, entity.target, allowed)


def held_escapes(model, entity, allowed=HARMLESS_METHODS, imported=False) -> bool:
    """:func:`escapes` for ``entity`` through the variables this file's calls act on it by
    (:meth:`FileModel.holders`): for one with no name of its own where it is built, such as
    the scheduler a factory returns (``scheduler = make_scheduler(optimizer)``). With
    ``imported``, also through those the calls of imported modules act on it by
    (:meth:`FileModel.imported_calls`: the ``Engine`` stepping the scheduler it is handed)."""
    return _escapes_foreign(model, entity, allowed, imported)


def _variable_escapes(model, key, target, allowed, returned_ok=False) -> bool:
    if (
        key is not None
        and key[0] == "class"
        and any(
            _attribute_read_elsewhere(m, target) for m in [model] + [m for m, _ in model.importers]
        )
    ):
        # ``trainer.scheduler`` outside the class, here or in a script calling it: it may be
        # saved or restored from there
        return True
    for use in uses(binding_root(model, key), target):
        if use.kind == "method" and use.method in allowed:
            continue
        if use.kind in ("target", "unpacked", "test", "declaration"):
            continue
        if returned_ok and use.kind == "returned":
            continue
        if use.kind == "attribute" and use.method not in ("__dict__",):
            continue  # reading ``sched.last_epoch`` for a log line
        return True
    return False


def _escapes_foreign(model, entity, allowed, imported=False) -> bool:
    """``entity`` was built in another module (which handed it to a class here): it escapes
    when a module of the flow saves or loads it, reads the attribute holding it from outside
    (``trainer.lr_scheduler``), or a variable holding it here escapes."""
    holders = model.holders(entity)
    # a subclass in a module calling this file's class steps it (``self.lr_scheduler`` that
    # the base's ``__init__`` stores): that code is where it may be saved or handed on
    lent = [(c, ts) for c, ts in model.lent_calls() if any(t is entity for t in ts)]
    if imported:
        # so does an imported class this file hands it (``Engine(model, optimizer, scheduler)``)
        lent += [(c, (entity,)) for c in model.imported_calls(entity)]
    if any(c.method not in allowed for c, _ in lent):
        return True
    subclassed = [(c.scope, c.receiver) for c, _ in lent]
    if not holders and not subclassed:
        return True  # nothing here acts on it: whatever happens to it happens elsewhere
    for other in model.other_models():
        if any(c.target is entity and c.method not in allowed for c in other.calls):
            return True
        if any(_attribute_read_elsewhere(other, text) for _, text in holders + subclassed):
            return True
    if any(
        _variable_escapes(model.flow.model_of(scope), binding_key(scope, text), text, allowed)
        for scope, text in subclassed
    ):
        return True
    return any(
        _variable_escapes(model, binding_key(scope, text), text, allowed)
        for scope, text in holders + subclassed
    )


def list_entry(model, entity):
    """(scope, variable, position) when ``entity``, built here with no name of its own, is an
    entry of a list or tuple literal bound to a variable: ``self.schedulers[1]`` of
    ``self.schedulers = [MultiStepLR(opt_g, ...), MultiStepLR(opt_d, ...)]``; position None
    when it is every entry of a list comprehension bound to one, a scheduler built on each
    optimizer the comprehension runs over (``self.schedulers = [MultiStepLR(o, ...) for o in
    self.optimizers]``); else None."""
    if model.is_foreign(entity):
        return None
    for scope, target, value in model.flow_assigns:
        if isinstance(value, (cst.List, cst.Tuple)):
            for i, element in enumerate(value.elements):
                if element.value is entity.node:
                    text = dotted_name(target)
                    return (scope, text, i) if text is not None else None
        elif isinstance(value, cst.ListComp) and value.elt is entity.node:
            text = dotted_name(target)
            if text is None or value.for_in.inner_for_in is not None:
                return None
            names = target_names(value.for_in.target)
            if getattr(entity, "optimizer_src", None) not in names:
                return None
            return scope, text, None
    return _appended_entry(model, entity)


def _appended_entry(model, entity):
    """(scope, list variable, None) for a scheduler appended, in a loop over optimizers,
    to a list, built on the loop's optimizer (``for optimizer in self.optimizers:
    self.schedulers.append(MultiStepLR(optimizer, ...))``): one entry per optimizer, as a
    comprehension builds them."""
    for scope, call, _, loop in model.flow_calls:
        func = call.func
        if (
            isinstance(func, cst.Attribute)
            and func.attr.value == "append"
            and len(call.args) == 1
            and call.args[0].value is entity.node
        ):
            text = dotted_name(func.value)
            if (
                text is None
                or loop is None
                or loop.kind != "for"
                or getattr(entity, "optimizer_src", None) not in loop.targets
            ):
                return None
            return scope, text, None
    return None


def list_bound_once(model, scope, text) -> bool:
    """The list variable ``text`` (bound in ``scope``) is bound by one assignment only: not
    built again elsewhere (``self.schedulers = [MultiStepLR(o, ..., last_epoch=epoch - 1)
    for o in self.optimizers]`` on resume)."""
    key = binding_key(scope, text)
    return (
        sum(
            1
            for s, target, _ in model.flow_assigns
            if dotted_name(target) == text and binding_key(s, text) == key
        )
        == 1
    )


def entries_escape(model, scope, text, allowed=HARMLESS_METHODS) -> bool:
    """:func:`escapes` for the entries of the list variable ``text`` bound in ``scope``: the
    list may be iterated (``for s in self.schedulers``, also through ``enumerate``/``zip``,
    and in comprehensions), tested and measured, and each entry it yields used by harmless
    method calls only; any other use (passed on, stored, an entry saved with
    ``state_dict()``) may carry the entries elsewhere."""
    key = binding_key(scope, text)
    if key is not None and key[0] == "class" and _attribute_read_elsewhere(model, text):
        return True
    roots = [binding_root(model, key)]
    if key is not None and key[0] == "class":
        # ``self.schedulers`` filled by a subclass is saved by a base class's method
        cls = next((c for c in model.classes if id(c) == key[1]), None)
        if cls is not None:
            roots += [
                c.node for c in model.classes if c is not cls and model.same_hierarchy(cls, c)
            ]
    return any(_entries_escape_in(root, text, allowed) for root in roots)


def _entries_escape_in(root, text, allowed) -> bool:
    loops = _iterations(root)
    for use in uses(root, text):
        if use.kind in ("target", "unpacked", "test", "declaration"):
            continue
        if use.kind == "attribute" and use.method != "__dict__":
            continue
        if use.kind == "argument" and _is_builtin_call(use.call, "len"):
            continue
        if use.kind == "method" and use.method in ("append", "extend"):
            continue  # the list grows: its entries stay in it
        body_names = loops.get(id(use.node))
        if body_names is None:
            return True
        body, names = body_names
        for name in names:
            for inner in uses(body, name):
                if inner.kind == "method" and inner.method in allowed:
                    continue
                if inner.kind in ("target", "unpacked", "test", "declaration"):
                    continue
                return True
    return False


def _is_builtin_call(call, name) -> bool:
    return call is not None and isinstance(call.func, cst.Name) and call.func.value == name


def _iterations(root) -> dict:
    """{id(sequence node): (the loop's body, the names bound from its entries)} for each
    ``for`` statement and comprehension under ``root``: ``for s in scheds``, ``for i, s in
    enumerate(scheds)``, ``for o, s in zip(opts, scheds)``."""
    out = {}
    stack = [root]
    while stack:
        node = stack.pop()
        stack += children(node)
        if isinstance(node, cst.For):
            body, fors = node.body, [node]
        elif isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
            body = node.elt if not isinstance(node, cst.DictComp) else node.value
            fors, inner = [], node.for_in
            while inner is not None:
                fors.append(inner)
                inner = inner.inner_for_in
        else:
            continue
        for loop in fors:
            target, iterable = loop.target, loop.iter
            if isinstance(iterable, cst.Call) and (
                _is_builtin_call(iterable, "enumerate") or _is_builtin_call(iterable, "zip")
            ):
                elements = (
                    [e.value for e in target.elements]
                    if isinstance(target, (cst.Tuple, cst.List))
                    else []
                )
                if _is_builtin_call(iterable, "enumerate"):
                    pairs = [(elements[1], iterable.args[0].value)] if len(elements) == 2 else []
                else:
                    pairs = list(zip(elements, [a.value for a in iterable.args]))
                if len(pairs) != len(iterable.args) or not pairs:
                    continue
                for element, source in pairs:
                    if isinstance(element, cst.Name):
                        out[id(source)] = (body, [element.value])
            elif isinstance(target, cst.Name):
                out[id(iterable)] = (body, [target.value])
    return out


def kept_by_class(model, entity) -> bool:
    """``entity``, held by ``self.<attr>``, is used by the classes of its hierarchy only to
    be stepped, read, tested, saved (``state_dict()``) and handed to the scheduler
    constructors built on it; nothing outside them reads the attribute. Its state can be
    restored, or its lr written, nowhere the file and the modules its flow reads do not
    show."""
    key = entity.key
    if entity.target is None or key is None or key[0] != "class":
        return False
    if any(_attribute_read_elsewhere(m, entity.target) for m in [model, *model.other_models()]):
        return False  # ``trainer.optimizer`` in this file or a module of its flow
    cls = next((c for c in model.classes if id(c) == key[1]), None)
    if cls is None:
        return False
    constructors = {id(call_node_of(s)) for s in model.schedulers}
    for root in [c.node for c in model.classes if model.same_hierarchy(cls, c)]:
        for use in uses(root, entity.target):
            if use.kind == "method" and use.method in HARMLESS_METHODS | {"state_dict"}:
                continue
            if use.kind in ("target", "unpacked", "test", "declaration"):
                continue
            if use.kind == "attribute" and use.method != "__dict__":
                continue
            if use.kind == "argument" and id(use.call) in constructors:
                continue
            return False
    return True


def _attribute_read_elsewhere(model, target) -> bool:
    """``x.<attr>`` on anything but ``self``/``cls`` (or an imported module, as in
    ``torch.optim.lr_scheduler``) for ``target`` = ``self.<attr>``."""
    head, _, attr = target.rpartition(".")
    if head not in ("self", "cls"):
        return False
    stack = [model.module]
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            continue
        if (
            isinstance(node, cst.Attribute)
            and node.attr.value == attr
            and id(node) not in model.config_nodes
        ):
            dotted = dotted_name(node)
            if dotted != target and (
                dotted is None or dotted.partition(".")[0] not in model.imports
            ):
                return True
        stack.extend(children(node))
    return False


def ancestors(root, target) -> list | None:
    """The chain of nodes from ``root`` down to ``target`` (exclusive), or None."""
    stack = [(root, ())]
    while stack:
        node, path = stack.pop()
        if node is target:
            return list(path)
        path = path + (node,)
        stack.extend((child, path) for child in children(node))
    return None


def _arm(branch, path) -> int | None:
    """Which arm of ``branch`` (If/Try) the path below it goes through."""
    idx = path.index(branch)
    below = path[idx + 1] if idx + 1 < len(path) else None
    if isinstance(branch, cst.If):
        return 0 if below is branch.body else 1 if below is branch.orelse else None
    if isinstance(branch, (cst.Try, cst.TryStar)):
        if below is branch.body:
            return 0
        for i, handler in enumerate(branch.handlers):
            if below is handler:
                return 1 + i
        if below is branch.orelse:
            return 0  # else runs after the body
        return None
    return None


def exclusive(root, a, b) -> bool:
    """True if ``a`` and ``b`` sit in different arms of one if/elif/else or try/except, so
    that one run does not execute both (or the order between them is not the source order)."""
    pa, pb = ancestors(root, a), ancestors(root, b)
    if pa is None or pb is None:
        return True  # cannot tell: treat as exclusive (the caller stays silent)
    pa_full, pb_full = pa + [a], pb + [b]
    for node in pa:
        if node in pb and isinstance(node, (cst.If, cst.Try, cst.TryStar)):
            arm_a, arm_b = _arm(node, pa_full), _arm(node, pb_full)
            if arm_a is not None and arm_b is not None and arm_a != arm_b:
                return True
    return False


def group_list_private(model, opt) -> bool:
    """False when ``opt``'s groups come from a list variable (``optimizer = SGD(groups)``)
    that other code may touch: appended to (but in the straight-line code whose entries the
    model counted, ``model.list_grows``), passed elsewhere, rebound by unpacking."""
    first = _first_arg(opt.node)
    if isinstance(first, cst.Name):
        root = binding_root(model, (opt.scope.id, first.value))
        for use in uses(root, first.value):
            if (
                use.kind == "target"
                or use.kind == "argument"
                and _is_ctor(opt.node, use.call)
                or use.kind == "method"
                and id(use.call) in model.list_grows
            ):
                continue
            return False
    return True


def _first_arg(node):
    call = node if isinstance(node, cst.Call) else getattr(node, "value", None)
    if not isinstance(call, cst.Call):
        return None
    for arg in call.args:
        if (
            arg.keyword is None
            and not arg.star
            or arg.keyword is not None
            and arg.keyword.value == "params"
        ):
            return arg.value
    return None


def _is_ctor(node, call) -> bool:
    return node is call or getattr(node, "value", None) is call


def fast_forward(step) -> bool:
    """The loop around ``step`` only steps: ``for _ in range(start): sched.step()`` or a
    comprehension of steps (a scheduler fast-forwarded to a resumed epoch)."""
    return fast_forward_loop(step.loop)


def fast_forward_loop(loop) -> bool:
    """``loop`` only steps (see :func:`fast_forward`)."""
    if loop.kind == "comp":
        return True
    if loop.kind != "for":
        return False
    body = loop.node.body
    if isinstance(body, cst.IndentedBlock):
        if len(body.body) != 1 or not isinstance(body.body[0], cst.SimpleStatementLine):
            return False
        body = body.body[0]
    return all(isinstance(s, cst.Expr) and isinstance(s.value, cst.Call) for s in body.body)


def restored_start(model, loop):
    """For ``for epoch in range(start, n)``: the assignment that reads ``start`` from a
    checkpoint (``start = ckpt["epoch"] + 1``, or ``start = load_weights(path, model)`` whose
    function returns such an entry) before the loop in its scope, or ``self.start_epoch``
    set so in a method of the same class. Returns (that assignment, the scopes where the
    checkpoint is read), else None."""
    it = loop.iter
    if loop.kind != "for" or it is None or it.call != "range":
        return None
    args = it.node.args
    if len(args) < 2 or args[0].keyword is not None or args[0].star:
        return None
    text = model.value(args[0].value).dotted
    if text is None or "." in text and not text.startswith("self.") or text.count(".") > 1:
        return None
    cls = enclosing_class(model, loop.scope) if "." in text else None
    for r in model.rebinds:
        if r.target != text or r.unpacked or not isinstance(r.node, cst.Assign):
            continue
        if cls is None and (r.scope is not loop.scope or r.order > loop.order):
            continue
        if cls is not None:
            other = enclosing_class(model, r.scope)
            if other is None or not model.same_hierarchy(cls, other):
                continue
        value = model.value(r.node.value)
        if value.subscripts:
            return r, (r.scope,)
        if value.kind == "call":
            readers = tuple(
                fn.scope
                for fn in model.callees(r.node.value.func, r.scope)
                if any(ret.subscripts for ret in fn.returns)
            )
            if readers:
                return r, (r.scope,) + readers
    return None


def handed_on_before(model, opt, line) -> bool:
    """The optimizer passed to a call (not a scheduler constructor) before ``line``: a
    helper such as ``load_checkpoint(path, model, optimizer)`` may restore it."""
    ctors = {id(s.node) for s in model.schedulers} | {
        id(getattr(s.node, "value", None)) for s in model.schedulers
    }
    return any(
        u.kind == "argument" and id(u.call) not in ctors and model.line(u.node) < line
        for u in uses(binding_root(model, opt.key), opt.target)
    )


def state_loaded_before(model, opt, scope, order):
    """(node, load) for what loads ``opt``'s state in ``scope`` before ``order``: the
    ``load_state_dict`` call itself (node and load are the same call), or the call of a
    helper that makes it (``resume(ckpt, model, optimizer)``: node is that call, load the
    ``MethodCall`` in the helper); else None. SL306 reports a scheduler built after it, and
    SL301 leaves the counter written on that scheduler to SL306."""
    loads = [c for c in model.calls if c.method == "load_state_dict" and c.target is opt]
    for c in loads:
        if c.scope is scope and c.order < order:
            return c.node, c
    for c in loads:
        if c.scope is scope:
            continue
        for chain in model.call_chains(c):
            call = next((s for s in chain[1:] if s.scope is scope), None)
            if call is not None and call.here and call.order < order:
                return call.node, c
    return None


def kept_by_class_here(model, entity, allowed=HARMLESS_METHODS) -> bool:
    """The variable holding ``entity`` (built here) escapes only as an argument of
    constructions of classes of this file (``Engine(model, optimizer, scheduler, loader)``)
    whose ``__init__`` stores that parameter on ``self`` and nothing else, and the attributes
    it is kept in escape neither (:func:`held_escapes`): what the class does with it is all
    in this file."""
    if entity.target is None or entity.key is None or model.is_foreign(entity):
        return False
    classes = {c.name: c for c in model.classes}
    handed = False
    for use in uses(binding_root(model, entity.key), entity.target):
        if use.kind == "method" and use.method in allowed:
            continue
        if use.kind in ("target", "unpacked", "test", "declaration"):
            continue
        if use.kind == "attribute" and use.method not in ("__dict__",):
            continue
        call = use.call if use.kind == "argument" else None
        func = getattr(call, "func", None)
        cls = classes.get(func.value) if isinstance(func, cst.Name) else None
        init = cls.methods.get("__init__") if cls is not None else None
        param = _bound_param(init, call, use.node) if init is not None else None
        if param is None or not _stored_on_self(init.node, param):
            return False
        handed = True
    return handed and bool(model.holders(entity)) and not held_escapes(model, entity, allowed)


def _bound_param(init, call, node):
    """The parameter of ``init`` (a method's FunctionInfo) the argument ``node`` of ``call``
    binds, else None."""
    params = init.node.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)][1:]
    index = 0
    for arg in call.args:
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.value is node:
                return arg.keyword.value
            continue
        if arg.value is node:
            return positional[index] if index < len(positional) else None
        index += 1
    return None


def _stored_on_self(function, param) -> bool:
    """Every read of ``param`` in ``function`` is the whole value of ``self.<attr> = param``."""
    stored = 0
    stack = [function.body]
    while stack:
        node = stack.pop()
        stack += children(node)
        if (
            isinstance(node, cst.Assign)
            and isinstance(node.value, cst.Name)
            and node.value.value == param
            and all(
                isinstance(t.target, cst.Attribute)
                and isinstance(t.target.value, cst.Name)
                and t.target.value.value == "self"
                for t in node.targets
            )
        ):
            stored += 1
    reads = [u for u in uses(function.body, param) if u.kind != "declaration"]
    return stored > 0 and len(reads) == stored


def kept_only_to_return(model, hook, sched) -> bool:
    """``sched``, returned by the manually optimizing LightningModule's ``hook``
    (``frameworks.LightningHook``), is kept on ``self`` only to be returned
    (``self.scheduler_g = ExponentialLR(...)``, then ``return [opt_g], [self.scheduler_g]``):
    in its class the attribute is only assigned and read by this return, nothing else in the
    file reads it, and no other file next to this one names it (a callback or a subclass
    there may step it)."""
    head, _, attr = (sched.target or "").rpartition(".")
    if head != "self":
        return False
    for use in uses(binding_root(model, sched.key), sched.target):
        if use.kind != "target" and ancestors(hook.node, use.node) is None:
            return False
    if attr not in model.attributes_unnamed_nearby:
        return False  # a file next to this one names it (see the builder)
    if _names_attribute(model.module, attr, but_self=True):
        return False
    return not any(_names_attribute(other.module, attr) for other in model.other_models())


def _names_attribute(root, attr, but_self=False) -> bool:
    """Some ``x.<attr>`` under ``root`` (with ``but_self``, some whose ``x`` is not
    ``self``)."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, cst.Attribute) and node.attr.value == attr:
            if not (but_self and isinstance(node.value, cst.Name) and node.value.value == "self"):
                return True
        stack.extend(node.children)
    return False
