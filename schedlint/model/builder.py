"""Build a :class:`~schedlint.model.facts.FileModel` from a parsed module in one pass.

One libcst visitor walks the tree once, keeping a stack of scopes (module, class, function)
and loops, and records facts as it meets them. Names are resolved through an import-alias
table built in the same pass (``import torch.optim as optim``,
``from torch.optim import lr_scheduler as S``, ...); no libcst metadata provider runs, since
scope and qualified-name analysis cost several times the parse (linter-anchors §C). Which
variable an expression like ``opt`` refers to is settled after the walk, when every scope's
assignments are known (:func:`_resolve`).
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

import libcst as cst

from schedlint.model import catalogue
from schedlint.model.cstwalk import code_children, walk
from schedlint.model.facts import (
    Checkpoint,
    ClassInfo,
    FileModel,
    FunctionInfo,
    Group,
    GroupDict,
    KeyUse,
    Listed,
    Loop,
    LrWrite,
    MethodCall,
    ModuleRef,
    Optimizer,
    Rebind,
    Scheduler,
    Scope,
    Value,
    top_level,
)
from schedlint.model.flow import UNKNOWN, Flow, SchedulerPartial
from schedlint.model.frameworks import (
    BACKBONE_FINETUNING,
    FrameworkCollector,
    added_group_optimizer,
    is_finetuning_callback,
)
from schedlint.model.numbers import fold_binary, fold_number

# Methods whose calls the rules care about; others are not recorded.
TRACKED_METHODS = frozenset(
    {
        "step",
        "get_lr",
        "get_last_lr",
        "print_lr",
        "add_param_group",
        "load_state_dict",
        "state_dict",
        "zero_grad",
        "optimizer_step",
        "step_update",
    }
)
LR_SCALING_KEY = re.compile(r"^lr_?(mult|mul|multiplier|scale|scaler|factor|ratio|decay_mult)$")
# Foreign schedulers that read a group scaling key themselves (timm's apply "lr_scale"):
# constructing one counts as reading the key, since their code is usually not checked. An
# import alone does not (LAVIS imports timm.models.hub for downloads and applies no lr_scale).
EXTERNAL_KEY_READERS = {"timm": ("lr_scale",)}
_IDENT = re.compile(r"^[A-Za-z_]\w*$")

_AUG_OPS = {
    cst.MultiplyAssign: "*=",
    cst.DivideAssign: "/=",
    cst.AddAssign: "+=",
    cst.SubtractAssign: "-=",
    cst.PowerAssign: "**=",
    cst.FloorDivideAssign: "//=",
}


def _snapshot_of(value) -> str | None:
    """ "opt" for ``opt.state_dict()`` or ``copy.deepcopy(opt.state_dict())``, else None."""
    if (
        isinstance(value, cst.Call)
        and dotted_name(value.func) in ("copy.deepcopy", "deepcopy")
        and len(value.args) == 1
    ):
        value = value.args[0].value
    if (
        isinstance(value, cst.Call)
        and isinstance(value.func, cst.Attribute)
        and value.func.attr.value == "state_dict"
        and not value.args
    ):
        return dotted_name(value.func.value)
    return None


def _type_tested(test) -> str | None:
    """``x`` of ``isinstance(x, ...)`` or ``not isinstance(x, ...)``, else None."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        test = test.expression
    if (
        isinstance(test, cst.Call)
        and isinstance(test.func, cst.Name)
        and test.func.value == "isinstance"
        and test.args
        and isinstance(test.args[0].value, cst.Name)
    ):
        return test.args[0].value.value
    return None


def registry_kind(entries, key, own_optimizer=None) -> tuple:
    """("scheduler" | "optimizer", the distinct short class names) that a call of what a
    registry's ``entries`` (key, qualified class name) pick for ``key`` (a literal, or None
    when read at run time) builds, or (None, ()). A literal key picks its entry; else every
    entry is a candidate, and all must be torch scheduler classes, or all optimizer
    classes: a registry mixing in other classes (in-tree ones, models) builds an unseen
    value, so no rule reports on a guess. ``own_optimizer(qualified)``: whether a class of
    the project is an optimizer (its module shows it derives from a torch optimizer)."""
    if key is not None:
        entries = [e for e in entries if e[0] == key]
    if not entries:
        return None, ()
    shorts = [catalogue.scheduler_class(q) for _, q in entries]
    if all(s is not None and not catalogue.is_transformers_factory(s) for s in shorts):
        return "scheduler", tuple(dict.fromkeys(shorts))
    optimizers = [catalogue.optimizer_class(q) for _, q in entries]
    # a class of the project's own (``"lars": LARS`` next to ``"sgd": torch.optim.SGD``) is
    # one more optimizer, of a class the rules do not know
    own = [
        o is None
        and not q.startswith(_LIBRARIES)
        and own_optimizer is not None
        and own_optimizer(q)
        for o, (_, q) in zip(optimizers, entries)
    ]
    if any(optimizers) and all(o is not None or mine for o, mine in zip(optimizers, own)):
        if any(own):
            return "optimizer", ("Optimizer",)
        return "optimizer", tuple(dict.fromkeys(optimizers))
    return None, ()


def _class_entries(value) -> list | None:
    """The (key, class expression) entries of ``{"sgd": torch.optim.SGD, ...}`` or
    ``dict(steplr=StepLR, ...)`` when every value is a dotted name and every key a literal,
    else None."""
    entries = []
    if isinstance(value, cst.Dict):
        for el in value.elements:
            if not isinstance(el, cst.DictElement):
                return None
            key = string_value(el.key)
            if key is None or dotted_name(el.value) in (None, "True", "False", "None"):
                return None
            entries.append((key, el.value))
    elif isinstance(value, cst.Call) and dotted_name(value.func) == "dict":
        for arg in value.args:
            if (
                arg.star
                or arg.keyword is None
                or dotted_name(arg.value) in (None, "True", "False", "None")
            ):
                return None
            entries.append((arg.keyword.value, arg.value))
    return entries or None


def build_model(path: str, source: str, module: cst.Module, tree=None) -> FileModel:
    """``tree`` (a :class:`schedlint.model.tree.Tree`) lends the summaries of the in-tree
    modules this file imports; without it, imports stay opaque."""
    builder = _Builder(path, source, module)
    walk(module, builder)  # read-only traversal: libcst's visit() rebuilds every node
    if builder.model.parameter_constructions:
        _promote_class_parameters(builder)
    if builder.model.attribute_constructions:
        _promote_class_attributes(builder)
    if tree is not None and builder.model.imports:
        model, read = builder.model, {}
        for _ in range(3):  # a factory's optimizer may make another helper call worth reading
            wanted = _wanted_imports(model, tree)
            if not wanted or wanted.keys() <= read.keys():
                break
            read.update(wanted)
            model.externals, model.external_models, paths = tree.externals(
                path, read, _dotted_uses(model, read)
            )
            model.external_paths.update(paths)
            model._flow = None  # solve again, with the imported modules' code
        if model.external_models:
            _read_imports_of_imports(model, tree)
    if builder.model.registry_calls:
        _promote_registry_calls(builder.model, tree)
    for m in builder.model.external_models if tree is not None else ():
        if m.registry_calls:
            _promote_registry_calls(m, tree)
            builder.model._flow = None
    if builder.model.imported_constructions:
        _promote_imported_schedulers(builder.model)
    if builder.model.imported_optimizers:
        _promote_imported_optimizers(builder)
    if any(m.class_parameter_calls for m in builder.model.external_models):
        _settle_handed_classes(builder)
    if tree is not None:
        _read_importers(builder.model, tree)
    if builder.unsettled:
        _settle_partials(builder)
    _resolve(builder.model)
    builder.frameworks.resolve(builder.model, binding_key)
    if builder.model.externals or builder.model.importers:
        _through_imports(builder.model)
    if tree is not None:
        _methods_of_handed_objects(builder.model, tree)
    if tree is not None:
        builder.model.keys_out_of_sight = _keys_handed_out_of_sight(builder.model, tree)
        builder.model.attributes_unnamed_nearby = _attributes_unnamed_nearby(builder.model, tree)
    return builder.model


def _attributes_unnamed_nearby(model: FileModel, tree) -> set:
    """The ``self`` attributes (``scheduler_g`` of ``self.scheduler_g``) holding a scheduler
    that a manually optimizing LightningModule of this file returns, which no other file
    next to it names: a callback (``pl_module.scheduler_g.step()``) or a subclass there
    may step the scheduler, in code this file's model never reads."""
    wanted = {
        entry.scheduler.target.partition(".")[2]
        for hook in model.lightning
        if hook.manual
        for entry in hook.schedulers
        if entry.scheduler is not None
        and (entry.scheduler.target or "").startswith("self.")
        and entry.scheduler.target.count(".") == 1
    }
    if not wanted:
        return set()
    read: list = []
    named = tree.named_nearby(model.path, wanted, read)
    model.external_paths.update(read)
    return wanted - named


# Calls that hand back the batches of their first argument, or fewer of them, in order:
# progress bars, enumeration, slicing, and accelerate's resume view of a prepared loader.
# A name bound to one of several torch scheduler classes (``cls = StepLR if a else
# CosineAnnealingLR`` as two assignments): a construction of a torch scheduler chosen by name.
_CHOSEN_BY_NAME = object()
# Modules whose classes are never a scheduler of the tree.
_LIBRARIES = (
    "torch",
    "transformers",
    "lightning",
    "pytorch_lightning",
    "accelerate",
    "timm",
    "numpy",
    "diffusers",
    "deepspeed",
    "mmengine",
    "mmcv",
    "fairseq",
    "detectron2",
)
_BATCH_VIEWS = frozenset({"tqdm", "enumerate", "islice", "iter", "skip_first_batches"})


def _batch_view_of(node) -> str | None:
    """The name an assigned value walks the same batches as: ``loader`` for ``loader``,
    ``tqdm(loader)`` or ``accelerator.skip_first_batches(loader, n)``; else None."""
    while isinstance(node, cst.Call):
        func = (
            node.func.attr.value
            if isinstance(node.func, cst.Attribute)
            else node.func.value
            if isinstance(node.func, cst.Name)
            else None
        )
        if (
            func not in _BATCH_VIEWS
            or not node.args
            or node.args[0].keyword is not None
            or node.args[0].star
        ):
            return None
        node = node.args[0].value
    return dotted_name(node)


def _returns_in(block) -> set:
    """ids of the ``return`` statements directly in ``block``."""
    return {
        id(small)
        for stmt in block.body
        if isinstance(stmt, cst.SimpleStatementLine)
        for small in stmt.body
        if isinstance(small, cst.Return)
    }


def _tests_first_step(test) -> bool:
    """``self.last_epoch == 0`` (either side) or ``not self.last_epoch``: true only at a
    scheduler's initial step."""
    if isinstance(test, cst.UnaryOperation) and isinstance(test.operator, cst.Not):
        return (dotted_name(test.expression) or "").endswith("last_epoch")
    if (
        not isinstance(test, cst.Comparison)
        or len(test.comparisons) != 1
        or not isinstance(test.comparisons[0].operator, cst.Equal)
    ):
        return False
    sides = (test.left, test.comparisons[0].comparator)
    return any(
        (dotted_name(a) or "").endswith("last_epoch") and fold_number(b) == 0
        for a, b in (sides, sides[::-1])
    )


def _tests_past_end(test, counters) -> bool:
    """``self.last_epoch > self.max_steps`` (``>=``, or the bound on the left with ``<``,
    ``<=``), the counter also through a local alias of it (``step = self.last_epoch``,
    one of ``counters``), alone or as a term of an ``and``: true only once a scheduler has
    run past the end of its schedule."""
    if isinstance(test, cst.BooleanOperation) and isinstance(test.operator, cst.And):
        return _tests_past_end(test.left, counters) or _tests_past_end(test.right, counters)
    if not isinstance(test, cst.Comparison) or len(test.comparisons) != 1:
        return False
    op = test.comparisons[0].operator
    right = test.comparisons[0].comparator
    if isinstance(op, (cst.GreaterThan, cst.GreaterThanEqual)):
        counter = test.left
    elif isinstance(op, (cst.LessThan, cst.LessThanEqual)):
        counter = right
    else:
        return False
    text = dotted_name(counter) or ""
    return text.endswith("last_epoch") or text in counters


def dotted_name(node) -> str | None:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    # ``__class__ is``, not isinstance: these libcst classes have no subclasses, and
    # isinstance on libcst's ABCs that fails goes through ABCMeta.__instancecheck__ (this is
    # asked of most expressions the builder reads).
    parts = []
    while node.__class__ is cst.Attribute:
        parts.append(node.attr.value)
        node = node.value
    if node.__class__ is cst.Name:
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def string_value(node) -> str | None:
    if node.__class__ is cst.SimpleString:
        try:
            value = node.evaluated_value
        except Exception:  # malformed escapes: not a key we could match anyway
            return None
        return value if isinstance(value, str) else None
    return None


def dict_entries(node, strict: bool = True) -> list | None:
    """(key, key node, value node) of each entry of a dict the code builds: a literal with
    string keys, or ``dict(params=..., lr=...)`` / ``dict({...}, lr=...)`` (the keywords
    after the literal's entries, so a keyword wins). None when it is neither; with
    ``strict``, None too when an entry is hidden (``**base``, a computed key), else those
    entries are left out."""
    if isinstance(node, cst.Dict):
        out = []
        for el in node.elements:
            key = string_value(el.key) if isinstance(el, cst.DictElement) else None
            if key is None:
                if strict:
                    return None
                continue
            out.append((key, el.key, el.value))
        return out
    if not (isinstance(node, cst.Call) and isinstance(node.func, cst.Name)):
        return None
    if node.func.value != "dict":
        return None
    out = []
    for index, arg in enumerate(node.args):
        if arg.keyword is not None:
            out.append((arg.keyword.value, arg.keyword, arg.value))
        elif index == 0 and not arg.star and isinstance(arg.value, cst.Dict):
            inner = dict_entries(arg.value, strict)
            if inner is None:
                return None
            out += inner
        elif strict:
            return None
    return out


def groups_of_entries(items, value, scope=None) -> list | None:
    """Param groups from the entry nodes of a group list (dict literals or ``dict(...)``
    calls, read in ``scope``), with ``value`` summarising a node; None when one is not a
    dict whose keys are all seen."""
    groups = []
    for item in items:
        entries = dict_entries(item)  # {**base, ...}: keys unknown
        if entries is None:
            return None
        group = Group(node=item, scope=scope)
        for key, _, node in entries:
            if key == "lr":
                group.lr = value(node)
            elif key != "params":
                group.keys[key] = value(node)
        groups.append(group)
    return groups or None


# Builtins that read a list without changing it: handing a list to them keeps it known.
_READS_LIST = frozenset({"len", "print", "enumerate", "zip", "sorted", "list", "tuple", "iter"})


def subscript_key(node: cst.Subscript) -> str | None:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return string_value(node.slice[0].slice.value)
    return None


# The arithmetic of an expression (Value.operators): how a length is computed, whether a
# test lets every n-th batch through.
_OPERATORS = {
    cst.Multiply: "*",
    cst.Divide: "/",
    cst.FloorDivide: "//",
    cst.Power: "**",
    cst.Modulo: "%",
    cst.Add: "+",
    cst.Subtract: "-",
}


class _Walk:
    """Collect names, subscripts and strings of an expression without a visitor."""

    __slots__ = ("names", "attributes", "subscripts", "strings", "lens", "operators")

    def __init__(self, node):
        self.names = set()
        self.attributes = set()
        self.subscripts = []
        self.strings = set()
        self.lens = []  # text of X in every len(X): what a schedule length counts
        self.operators = set()
        stack = [node]
        while stack:
            n = stack.pop()
            cls = n.__class__  # as in dotted_name: classes without subclasses, no isinstance
            if cls is cst.Name:
                self.names.add(n.value)
                continue
            if cls is cst.SimpleString:
                s = string_value(n)
                if s is not None:
                    self.strings.add(s)
                continue
            if cls is cst.Attribute:
                dotted = dotted_name(n)
                if dotted is not None:
                    self.attributes.add(dotted)
            elif cls is cst.BinaryOperation:
                op = _OPERATORS.get(n.operator.__class__)
                if op is not None:
                    self.operators.add(op)
            elif cls is cst.Subscript:
                key = subscript_key(n)
                if key is not None:
                    self.subscripts.append((expr_text(n.value), key))
            elif (
                cls is cst.Call
                and n.func.__class__ is cst.Name
                and n.func.value == "len"
                and len(n.args) == 1
            ):
                self.lens.append(expr_text(n.args[0].value))
            stack.extend(code_children(n))


def expr_text(node) -> str:
    """A comparable text for a name, attribute chain or subscript (``opt.param_groups[0]``,
    ``g['lr']``) to compare one target with another; ``<expr>`` for anything else."""
    dotted = dotted_name(node)
    if dotted is not None:
        return dotted
    if isinstance(node, cst.Subscript):
        key = subscript_key(node)
        base = expr_text(node.value)
        if key is not None:
            return f"{base}[{key!r}]"
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            return f"{base}[{expr_text(node.slice[0].slice.value)}]"
    if isinstance(node, cst.Integer):
        return node.value
    return "<expr>"


def reference(node) -> str | None:
    """The text of a name, attribute chain, or one subscript of them by a literal or a name
    (``self.optimizers['disc']``, ``opts[0]``, ``scheds[name]``): what a step call's receiver
    or a scheduler's optimizer argument names, else None."""
    text = expr_text(node)
    return None if "<expr>" in text or text.count("[") > 1 else text


def _exit_bound(node: cst.If):
    """``N`` of ``if counter >= N: break`` (or ``>``; or ``return``), directly in the if's
    body."""
    test = node.test
    if (
        not isinstance(test, cst.Comparison)
        or len(test.comparisons) != 1
        or not isinstance(test.comparisons[0].operator, (cst.GreaterThanEqual, cst.GreaterThan))
        or not isinstance(test.left, (cst.Name, cst.Attribute))
        or not isinstance(node.body, cst.IndentedBlock)
    ):
        return None
    breaks = any(
        isinstance(stmt, cst.SimpleStatementLine)
        and any(isinstance(s, (cst.Break, cst.Return)) for s in stmt.body)
        for stmt in node.body.body
    )
    return test.comparisons[0].comparator if breaks else None


def _param_names(params: cst.Parameters) -> tuple:
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    for star in (params.star_arg, params.star_kwarg):
        if isinstance(star, cst.Param):
            names.append(star.name.value)
    return tuple(names)


def target_names(node) -> set:
    """Names bound by an assignment/for target."""
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, (cst.Tuple, cst.List)):
        out = set()
        for el in node.elements:
            out |= target_names(el.value)
        return out
    if isinstance(node, cst.StarredElement):
        return target_names(node.value)
    return set()


def _scale_folded(lr_node, scale_node) -> bool:
    """The group dict's own ``lr`` already applies its scaling key's value."""
    if lr_node is None or scale_node is None:
        return False
    scale_names = _Walk(scale_node).names - {"True", "False", "None"}
    if scale_names & _Walk(lr_node).names:
        return True  # "lr": lr * scale, "lr_scale": scale
    number = fold_number(scale_node)
    if number is None:
        return False
    stack = [lr_node]
    while stack:  # "lr": base_lr * 0.1, "lr_mult": 0.1
        n = stack.pop()
        if fold_number(n) == number:
            return True
        stack.extend(code_children(n))
    return False


def _find_param_groups(node) -> str | None:
    """Text of ``X`` if ``X.param_groups`` occurs inside ``node``."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Attribute) and n.attr.value == "param_groups":
            return dotted_name(n.value) or expr_text(n.value)
        if isinstance(n, (cst.Lambda, cst.FunctionDef)):
            continue
        stack.extend(code_children(n))
    return None


class _Builder(cst.CSTVisitor):
    def __init__(self, path: str, source: str, module: cst.Module):
        super().__init__()
        self.module = module
        self.model = FileModel(path=path, source=source, module=module, solve_flow=Flow)
        self.model.value = self.value  # rules may summarise a node they hold
        self.order = 0
        self.scope: Scope | None = None
        self.loop: Loop | None = None
        self.class_stack: list = []
        self.function_stack: list = []
        self._first_step_returns: set = set()  # ids of Return nodes under `last_epoch == 0`
        # ids of Return nodes under `last_epoch > bound`, and the locals that alias the counter
        self._past_end_returns: set = set()
        self._counter_aliases: dict = {}  # scope id -> names bound to `self.last_epoch`
        self.handled_calls: set = set()
        # Constructions of this tree's scheduler classes: recorded as Scheduler facts, and
        # still calls whose arguments bind the class's ``__init__`` parameters in the flow.
        self.custom_calls: set = set()
        # (scope id, name) -> the scheduler class expression a local name was bound to
        # (``scheduler_cls = lr_scheduler.CosineAnnealingLR``, ``cls = getattr(lr_scheduler,
        # cfg.name)``), None once bound to anything else or to two different classes
        self._class_aliases: dict = {}
        # module-level names bound more than once: never a registry (FileModel.registries)
        self._rebound_registries: set = set()
        # (scope id, name) -> the registry pick a local name was bound to (``scheduler_class =
        # scheduler_classes[name]``), None once bound to anything else
        self._picked_aliases: dict = {}
        # (Scheduler, Call, listed) of the calls of a parameter or ``self`` attribute kept
        # aside that no class binding settled: a ``functools.partial`` may (``_settle_partials``)
        self.unsettled: list = []
        self.pushed_for_call: dict = {}
        self._saved_loop: list = []
        # The branch arms (if/else bodies, try blocks, match cases) being walked, innermost
        # last: the names each binds to a list, forgotten when it ends (it may not run).
        self._arms: list = []
        self._arm_blocks: set = set()  # ids of the blocks that are such arms
        # the ``with accelerator.accumulate(model):`` statements around the code being walked
        self._accumulating: list = []
        self._if_tests: list = []  # the names each enclosing ``if`` test reads
        # id(arm block) -> the name an ``if isinstance(name, ...)`` dispatches on, and the
        # names dispatched on around the node being walked
        self._type_arms: dict = {}
        self._dispatched: list = []
        # (scope id, name) -> what ``name = X.state_dict()`` (or a deep copy) last bound it
        # to a snapshot of: "X"
        self._snapshots: dict = {}
        # id(method scope) -> {``self.<attribute>``: the Listed it held when the method
        # first called another method of ``self`` (or handed ``self`` on)}
        self._published: dict = {}
        # (id(scope), key) -> the keys of Scope.literals that hold one list through a
        # straight-line alias (``self.param_groups = groups``), itself included
        self._aliases: dict = {}
        self._group_key_nodes: set = set()  # ids of scaling-key nodes in param-group dicts
        self._dicts: list = []  # open dict literals: [node, scope, loop, Checkpoint or None]
        # ids of values read by a subscript: ``opt.state_dict()["param_groups"][0]["lr"]`` in
        # a dict logs the lr, it saves no state
        self._indexed: set = set()
        self._dict_targets: dict = {}  # id(dict node) -> assigned variable text
        self._merged_dicts: set = set()  # ids of {...} in dict({...}, lr=x): read as the call
        self.frameworks = FrameworkCollector(string_value)  # Lightning's configure_optimizers

    # -- helpers ------------------------------------------------------------------------------
    def next_order(self) -> int:
        self.order += 1
        return self.order

    def qualify(self, node) -> str | None:
        """Qualified name of a Name/Attribute chain through the import table."""
        dotted = dotted_name(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        base = self.model.imports.get(head)
        if base is None:
            return dotted
        return f"{base}.{rest}" if rest else base

    def value(self, node) -> Value:
        walk = _Walk(node)
        kind, number, string, items = "other", None, None, ()
        call = call_method = call_receiver = None
        number = fold_number(node)
        if number is not None:
            kind = "number"
        elif isinstance(node, cst.SimpleString):
            kind, string = "str", string_value(node)
        elif isinstance(node, (cst.ConcatenatedString, cst.FormattedString)):
            kind = "str"
        elif isinstance(node, cst.Name):
            kind = {"None": "none", "True": "bool", "False": "bool"}.get(node.value, "name")
        elif isinstance(node, cst.Attribute):
            kind = "attr"
        elif isinstance(node, (cst.List, cst.Tuple)):
            kind = "list" if isinstance(node, cst.List) else "tuple"
            if not any(isinstance(e, cst.StarredElement) for e in node.elements):
                items = tuple(self.value(e.value) for e in node.elements)
            else:
                kind = "other"
        elif isinstance(node, cst.Dict):
            kind = "dict"
        elif isinstance(node, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            kind = "comp"
        elif isinstance(node, cst.Lambda):
            kind = "lambda"
        elif isinstance(node, cst.Call):
            kind = "call"
            call = self.qualify(node.func)
            if isinstance(node.func, cst.Attribute):
                call_method = node.func.attr.value
                call_receiver = dotted_name(node.func.value)
            elif isinstance(node.func, cst.Name):
                call_method = node.func.value
        return Value(
            src=self.module.code_for_node(node).strip(),
            node=node,
            kind=kind,
            number=number,
            string=string,
            items=items,
            names=frozenset(walk.names),
            attributes=frozenset(walk.attributes),
            dotted=dotted_name(node),
            ref=reference(node),
            call=call,
            call_method=call_method,
            call_receiver=call_receiver,
            subscripts=tuple(walk.subscripts),
            strings=frozenset(walk.strings),
            lens=tuple(walk.lens),
            operators=frozenset(walk.operators),
        )

    def bind(self, name: str):
        if self.scope is not None:
            self.scope.assigned.add(name)

    def push_scope(self, kind, name, node, params=(), reset_loop=True):
        scope = Scope(
            id=len(self.model.scopes),
            kind=kind,
            name=name,
            node=node,
            parent=self.scope,
            params=params,
            cls=self.class_stack[-1]
            if self.class_stack
            and kind == "function"
            and self.scope is not None
            and self.scope.kind == "class"
            else None,
        )
        self.model.scopes.append(scope)
        self.scope = scope
        # Loops do not continue into nested functions: their body runs elsewhere.
        self._saved_loop.append((self.loop, self._arms))
        self._arms = []
        if reset_loop:
            self.loop = None

    def pop_scope(self):
        self.scope = self.scope.parent
        self.loop, self._arms = self._saved_loop.pop()

    # A list bound inside a branch arm may or may not be the one an optimizer later receives.
    def visit_With(self, node: cst.With):
        if any(
            isinstance(item.item, cst.Call)
            and isinstance(item.item.func, cst.Attribute)
            and item.item.func.attr.value == "accumulate"
            for item in node.items
        ):
            self._accumulating.append(node)

    def leave_With(self, node):
        if self._accumulating and self._accumulating[-1] is node:
            self._accumulating.pop()

    def leave_If(self, node: cst.If):
        self._if_tests.pop()

    def visit_If(self, node: cst.If):
        self._if_tests.append(_Walk(node.test).names)
        bound = _exit_bound(node) if self.loop is not None else None
        if bound is not None:
            self.loop.exit_bounds.append(self.value(bound))
        self._arm_blocks.add(id(node.body))
        if isinstance(node.orelse, cst.Else):
            self._arm_blocks.add(id(node.orelse.body))
        tested = _type_tested(node.test)
        if tested is not None:
            self._type_arms[id(node.body)] = tested
            if node.orelse is not None:
                self._type_arms[id(getattr(node.orelse, "body", node.orelse))] = tested
        if _tests_first_step(node.test):
            self._first_step_returns.update(_returns_in(node.body))
        counters = self._counter_aliases.get(self.scope.id, ()) if self.scope else ()
        if _tests_past_end(node.test, counters):
            self._past_end_returns.update(_returns_in(node.body))

    def visit_Try(self, node: cst.Try):
        parts = [node, *node.handlers, node.orelse, node.finalbody]
        self._arm_blocks.update(id(p.body) for p in parts if p is not None)

    def visit_Match(self, node: cst.Match):
        self._arm_blocks.update(id(case.body) for case in node.cases)

    def visit_IndentedBlock(self, node):
        if id(node) in self._arm_blocks:
            self._arms.append(set())
        if id(node) in self._type_arms:
            self._dispatched.append(self._type_arms[id(node)])

    def leave_IndentedBlock(self, node):
        if id(node) in self._type_arms:
            self._dispatched.pop()
        if id(node) in self._arm_blocks:
            for name in self._arms.pop():
                held = self.scope.literals.get(name)
                if held is not None and held.items is not None:
                    self.scope.arm_literals.setdefault(name, []).append(held)
                self.scope.literals[name] = None  # bound in an arm that may not run

    visit_SimpleStatementSuite = visit_IndentedBlock
    leave_SimpleStatementSuite = leave_IndentedBlock

    def _may_grow(self, name) -> bool:
        """A list ``name`` holds may grow here: not in a loop, nor in an arm other than the
        one that bound it."""
        return self.loop is None and (not self._arms or name in self._arms[-1])

    def _list_key(self, node) -> str | None:
        """The key of Scope.literals a list held by ``node`` is tracked under: a local name,
        or ``self.<attribute>`` in a method of a class."""
        if isinstance(node, cst.Name):
            return node.value
        if (
            isinstance(node, cst.Attribute)
            and isinstance(node.value, cst.Name)
            and node.value.value == "self"
            and self.scope is not None
            and self.scope.cls is not None
        ):
            return f"self.{node.attr.value}"
        return None

    def _set_literal(self, key, listed) -> None:
        """``key`` now holds ``listed``; an attribute of ``self`` that another method may
        already have read (``self`` was handed to one) keeps what it held then, or None."""
        literals = self.scope.literals
        if key in self._published.get(id(self.scope), ()):
            self._published[id(self.scope)][key] = None
            listed = None
        literals[key] = listed
        # a change through one name of an alias hides from the others
        for other in self._aliases.pop((id(self.scope), key), ()):
            if other != key:
                self._aliases.pop((id(self.scope), other), None)
                self._set_literal(other, None)

    def _track_literal(self, target, value, op):
        """Keep Scope.literals current: the list each local name (or attribute of ``self``
        in a method) certainly holds (Listed)."""
        literals = self.scope.literals
        key = self._list_key(target)
        if key is not None:
            alias = self._list_key(value)
            if (
                op == "="
                and self.loop is None
                and alias is not None
                and alias != key
                and literals.get(alias) is not None
                and (not self._arms or alias in self._arms[-1])
            ):
                # ``self.param_groups = groups`` in straight-line code: both hold the list
                # until either is touched again
                self._set_literal(key, literals[alias])
                shared = self._aliases.get((id(self.scope), alias), {alias}) | {key}
                for name in shared:
                    self._aliases[(id(self.scope), name)] = shared
                if self._arms:
                    self._arms[-1].add(key)
                return
            if alias is not None and alias in literals:
                self._set_literal(alias, None)  # an alias: a change through one hides from us
            if op == "=" and self.loop is None and alias is None:
                self._set_literal(key, self._listed(value))
                if self._arms:
                    self._arms[-1].add(key)
                else:
                    self.scope.arm_literals.pop(key, None)
            elif op == "+=" and self._may_grow(key) and isinstance(value, (cst.List, cst.Tuple)):
                self._set_literal(key, self._grown(literals.get(key), value.elements))
            else:
                self._set_literal(key, None)
        elif isinstance(target, cst.Subscript):
            key = self._list_key(target.value)
            if key is not None and key in literals:
                self._set_literal(key, None)

    def _listed(self, node) -> Listed | None:
        """The list ``node`` certainly is here: a literal, a name holding one, an attribute
        of ``self`` another method binds (followed after the walk), or the result of a call
        (followed after the walk); else None."""
        if isinstance(node, (cst.List, cst.Tuple)):
            return self._grown(Listed(scope=self.scope, order=self.order, items=()), node.elements)
        if isinstance(node, cst.Name):
            return self.scope.literals.get(node.value)
        if isinstance(node, cst.Call):
            return Listed(scope=self.scope, order=self.order, call=node)
        if isinstance(node, cst.ListComp):
            return self._zipped_dicts(node)
        key = self._list_key(node)
        if key is not None:
            if key in self.scope.literals and key not in self._published.get(id(self.scope), ()):
                return self.scope.literals[key]
            return Listed(scope=self.scope, order=self.order, attr=node.attr.value)
        return None

    def _zipped_dicts(self, node: cst.ListComp) -> Listed | None:
        """A comprehension building one dict per entry of lists it zips (``[{"params":
        m.parameters(), "lr": lr} for m, lr in zip(parts, lrs)]``), each operand a list
        known here or a parameter not rebound; else None."""
        comp = node.for_in
        if comp.ifs or comp.inner_for_in is not None or comp.asynchronous is not None:
            return None
        if dict_entries(node.elt) is None:
            return None
        it = comp.iter
        if (
            isinstance(it, cst.Call)
            and not it.args
            and isinstance(it.func, cst.Attribute)
            and it.func.attr.value == "items"
            and isinstance(it.func.value, cst.Name)
            and isinstance(comp.target, cst.Tuple)
            and len(comp.target.elements) == 2
        ):
            # ``for name, mult in LR_MULTS.items()``: a module constant's keys and values,
            # read after the walk
            return Listed(scope=self.scope, order=self.order, comp=node, sources=(it,))
        if isinstance(it, cst.Call) and isinstance(it.func, cst.Name) and it.func.value == "zip":
            if not it.args or any(a.keyword is not None or a.star for a in it.args):
                return None
            operands = [a.value for a in it.args]
            if not isinstance(comp.target, cst.Tuple) or len(comp.target.elements) != len(operands):
                return None
        else:
            operands = [it]
        sources = []
        for operand in operands:
            if isinstance(operand, cst.Name) and operand.value in self.scope.literals:
                source = self.scope.literals[operand.value]
            elif isinstance(operand, (cst.List, cst.Tuple)):
                source = self._listed(operand)
            elif (
                isinstance(operand, cst.Name)
                and operand.value in self.scope.params
                and operand.value not in self.scope.assigned
            ):
                source = operand.value
            else:
                return None
            if source is None or isinstance(source, Listed) and source.items is None:
                return None
            sources.append(source)
        return Listed(scope=self.scope, order=self.order, comp=node, sources=tuple(sources))

    def _grown(self, listed, elements) -> Listed | None:
        """``listed`` with ``elements`` (libcst Elements of a list literal, or the one Arg
        of ``append``) added at its end."""
        if listed is None or listed.items is None:
            return None
        if not all(
            isinstance(e, (cst.Element, cst.Arg)) and not getattr(e, "star", "") for e in elements
        ):
            return None  # *rest: a count unknown
        items = listed.items + tuple(e.value for e in elements)
        return Listed(scope=self.scope, order=self.order, items=items)

    def _list_call(self, node: cst.Call) -> None:
        """A call that may change a list a local name holds: ``groups.append(g)`` grows it
        in straight-line code; another method, or handing it to a function, hides it."""
        literals = self.scope.literals
        func = node.func
        key = self._list_key(func.value) if isinstance(func, cst.Attribute) else None
        if key is not None and key in literals:
            listed, grown = literals[key], None
            args = node.args
            if (
                self._may_grow(key)
                and len(args) == 1
                and args[0].keyword is None
                and not args[0].star
            ):
                if func.attr.value == "append":
                    grown = self._grown(listed, (args[0],))
                elif func.attr.value == "extend" and isinstance(
                    args[0].value, (cst.List, cst.Tuple)
                ):
                    grown = self._grown(listed, args[0].value.elements)
            if grown is not None:
                self.model.list_grows.add(id(node))
            self._set_literal(key, grown)
        elif self.scope.cls is not None and (
            key == "self"
            or isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Call)
            and isinstance(func.value.func, cst.Name)
            and func.value.func.value == "super"
        ):
            # ``self.build_optimizer()`` or ``super().__init__(...)`` may read what ``self``
            # holds
            self._publish()
        if id(node) in self.handled_calls or (
            isinstance(func, cst.Name) and func.value in _READS_LIST
        ):
            return
        for arg in node.args:
            key = self._list_key(arg.value)
            if key is not None and key in literals:
                if literals[key] is not None:
                    # what the callee is handed (``param_groups(model, lrs)``), then unknown
                    self.model.handed_lists[id(arg.value)] = literals[key]
                self._set_literal(key, None)
            elif key == "self" and self.scope.cls is not None:
                self._publish()

    def _publish(self) -> None:
        """Another method may now read the lists this method put on ``self``: they keep
        what they hold now for it (:attr:`ClassInfo.list_attrs`), and any later change
        makes them unknown."""
        published = self._published.setdefault(id(self.scope), {})
        for key, listed in self.scope.literals.items():
            if key.startswith("self.") and key not in published:
                published[key] = listed

    def _record_list_attrs(self) -> None:
        """At the end of a method: what each ``self.<attribute>`` list it binds holds for
        the other methods of its class."""
        scope = self.scope
        published = self._published.pop(id(scope), {})
        for key, listed in scope.literals.items():
            if key.startswith("self."):
                listed = published.get(key, listed)
                scope.cls.list_attrs.setdefault(key[5:], []).append((scope, listed))

    def push_loop(self, kind, node, targets=frozenset(), iter_node=None):
        loop = Loop(
            id=len(self.model.loops),
            kind=kind,
            node=node,
            parent=self.loop,
            scope=self.scope,
            targets=frozenset(targets),
            order=self.next_order(),
        )
        if iter_node is not None:
            loop.iter = self.value(iter_node)
            if (
                isinstance(iter_node, cst.Call)
                and isinstance(iter_node.func, cst.Name)
                and iter_node.func.value == "range"
                and 1 <= len(iter_node.args) <= 2
                and not any(a.star or a.keyword for a in iter_node.args)
            ):
                loop.range_stop = self.value(iter_node.args[-1].value)
            if self.scope is not None:
                loop.iter_views = frozenset(
                    v for name in loop.iter.names for v in self.scope.views.get(name, ())
                )
            groups_of = _find_param_groups(iter_node)
            if groups_of is not None:
                loop.groups_of = groups_of
                self._classify_group_loop(loop, node, iter_node)
        self.model.loops.append(loop)
        self.loop = loop
        return loop

    def _classify_group_loop(self, loop, node, iter_node):
        target = getattr(node, "target", None)
        fn = dotted_name(iter_node.func) if isinstance(iter_node, cst.Call) else None
        if fn == "range":
            if isinstance(target, cst.Name):
                loop.index_var = target.value
        elif fn == "enumerate" and isinstance(target, cst.Tuple) and len(target.elements) == 2:
            first, second = (e.value for e in target.elements)
            if isinstance(first, cst.Name):
                loop.index_var = first.value
            if isinstance(second, cst.Name):
                loop.group_var = second.value
        elif fn == "zip" and isinstance(target, cst.Tuple):
            for arg, el in zip(iter_node.args, target.elements):
                if _find_param_groups(arg.value) is not None and isinstance(el.value, cst.Name):
                    loop.group_var = el.value.value
                    break
        elif isinstance(target, cst.Name):
            loop.group_var = target.value
        # Every other target of a group loop carries a per-group value (zip(groups, lrs)).
        loop.tainted |= set(loop.targets)

    def pop_loop(self):
        self.loop.end_order = self.next_order()
        self.loop = self.loop.parent

    def group_loop(self) -> Loop | None:
        loop = self.loop
        while loop is not None:
            if loop.groups_of is not None:
                return loop
            loop = loop.parent
        return None

    def fact_kwargs(self, node):
        return dict(node=node, scope=self.scope, order=self.next_order(), loop=self.loop)

    # -- imports ------------------------------------------------------------------------------
    def visit_Import(self, node: cst.Import):
        for alias in node.names:
            full = dotted_name(alias.name)
            if full is None:
                continue
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
                self.model.imports[local] = full
            else:
                local = full.partition(".")[0]
                self.model.imports.setdefault(local, local)
            self.bind(local)

    def visit_ImportFrom(self, node: cst.ImportFrom):
        if isinstance(node.names, cst.ImportStar):
            # a package re-exporting a module's names (``from .lr_scheduler import *``)
            module = dotted_name(node.module) if node.module is not None else ""
            if module:
                self.model.star_imports.append("." * len(node.relative) + module)
            return
        if node.relative:
            # ``from .helper import f``: kept with its dots, resolved only against the tree
            dots = "." * len(node.relative)
            module = dotted_name(node.module) if node.module is not None else ""
            for alias in node.names:
                name = dotted_name(alias.name)
                if name is None:
                    continue
                local = (
                    alias.asname.name.value
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name)
                    else name
                )
                self.model.imports[local] = f"{dots}{module}.{name}" if module else f"{dots}{name}"
                self.bind(local)
            return
        if node.module is None:
            return
        base = dotted_name(node.module)
        for alias in node.names:
            name = dotted_name(alias.name)
            if name is None:
                continue
            local = name
            if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                local = alias.asname.name.value
            self.model.imports[local] = f"{base}.{name}"
            self.bind(local)

    # -- scopes -------------------------------------------------------------------------------
    def visit_Module(self, node):
        self.push_scope("module", "<module>", node)

    def visit_ClassDef(self, node: cst.ClassDef):
        self.bind(node.name.value)
        bases = tuple(self.qualify(a.value) or "" for a in node.bases if a.keyword is None)
        local_scheduler_bases = {c.name for c in self.model.classes if c.is_scheduler_subclass}
        local_optimizer_bases = {c.name for c in self.model.classes if c.is_optimizer_subclass}
        info = ClassInfo(
            name=node.name.value,
            node=node,
            bases=bases,
            is_scheduler_subclass=any(
                b in catalogue.SCHEDULER_BASES
                or b in local_scheduler_bases
                or catalogue.scheduler_class(b) is not None
                for b in bases
            ),
            is_optimizer_subclass=any(
                b in catalogue.OPTIMIZER_BASES
                or b in local_optimizer_bases
                or catalogue.optimizer_class(b) is not None
                for b in bases
            ),
        )
        self.model.classes.append(info)
        self.class_stack.append(info)
        self.push_scope("class", node.name.value, node)

    def leave_ClassDef(self, node):
        self.pop_scope()
        self.class_stack.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef):
        self.bind(node.name.value)
        params = _param_names(node.params)
        outer = self.scope
        self.push_scope("function", node.name.value, node, params)
        if node.decorators:
            self.frameworks.on_function(self, node, outer)
        info = FunctionInfo(
            name=node.name.value,
            node=node,
            scope=self.scope,
            params=params,
            takes_keywords=isinstance(node.params.star_kwarg, cst.Param),
        )
        self.model.functions.setdefault(node.name.value, []).append(info)
        if self.scope.cls is not None:
            self.scope.cls.methods[node.name.value] = info
        self.function_stack.append(info)

    def leave_FunctionDef(self, node):
        if self.scope.cls is not None:
            self._record_list_attrs()
        self.function_stack.pop()
        self.pop_scope()

    def visit_Lambda(self, node: cst.Lambda):
        # A lambda keeps the enclosing loop: map(lambda g: ..., opt.param_groups) runs it there.
        self.push_scope("function", "<lambda>", node, _param_names(node.params), reset_loop=False)
        info = FunctionInfo(
            name="<lambda>",
            node=node,
            scope=self.scope,
            params=self.scope.params,
            returns=[self.value(node.body)],
        )
        self.model.lambdas[id(node)] = info

    def leave_Lambda(self, node):
        self.pop_scope()

    def visit_Return(self, node: cst.Return):
        self.frameworks.on_return(self, node)
        if (
            node.value is not None
            and self.function_stack
            and self.function_stack[-1].scope is self.scope
        ):
            value = self.value(node.value)
            self.function_stack[-1].returns.append(value)
            self.function_stack[-1].listed_returns.append(self._listed(node.value))
            if id(node) in self._first_step_returns:
                self.function_stack[-1].first_step_returns.append(value)
            if id(node) in self._past_end_returns:
                self.function_stack[-1].past_end_returns.append(value)

    # -- loops --------------------------------------------------------------------------------
    def visit_For(self, node: cst.For):
        # The iterable is evaluated outside the loop; visit it first, then open the loop.
        walk(node.iter, self)
        for name in target_names(node.target):
            self.bind(name)
        self.model.flow_fors.append((self.scope, node.target, node.iter))
        self.push_loop("for", node, target_names(node.target), node.iter)
        walk(node.target, self)
        walk(node.body, self)
        self.pop_loop()
        if node.orelse is not None:
            walk(node.orelse, self)
        return False

    def visit_While(self, node: cst.While):
        self.push_loop("while", node)

    def leave_While(self, node):
        self.pop_loop()

    def _visit_comp(self, node):
        for_in, targets, first_iter = node.for_in, set(), node.for_in.iter
        while for_in is not None:
            targets |= target_names(for_in.target)
            # values flow into the targets as in a ``for`` statement (``{n: StepLR(o) for n,
            # o in self.optimizers.items()}``); the names are bound in the enclosing scope,
            # which the flow's may-values tolerate (the comprehension's own scope is not kept)
            for name in target_names(for_in.target):
                self.bind(name)
            self.model.flow_fors.append((self.scope, for_in.target, for_in.iter))
            for_in = for_in.inner_for_in
        self.push_loop("comp", node, targets, first_iter)

    def _leave_comp(self, node):
        self.pop_loop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_comp
    leave_ListComp = leave_SetComp = leave_GeneratorExp = leave_DictComp = _leave_comp

    # -- assignments --------------------------------------------------------------------------
    def visit_Assign(self, node: cst.Assign):
        for t in node.targets:
            self._assign(t.target, node.value, node, "=")

    def visit_AnnAssign(self, node: cst.AnnAssign):
        if node.value is not None:
            self._assign(node.target, node.value, node, "=")

    def visit_AugAssign(self, node: cst.AugAssign):
        self._assign(node.target, node.value, node, _AUG_OPS.get(type(node.operator), "op="))

    def visit_NamedExpr(self, node: cst.NamedExpr):
        self._assign(node.target, node.value, node, "=")

    def _assign(self, target, value, stmt, op):
        # ``scheduler = scheduler(optimizer)`` of a partial: the call is built first
        rebuilt = (
            isinstance(target, cst.Name)
            and isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value == target.value
        )
        if op == "=":
            self.frameworks.on_assign(self, target, value)
            if isinstance(target, cst.Name) and self.scope is not None and not rebuilt:
                self._alias_class(target.value, value)
                self._note_registry(target.value, value)
            self.model.flow_assigns.append((self.scope, target, value))
            source = _batch_view_of(value)
            if isinstance(target, cst.Name) and source is not None and self.scope is not None:
                self.scope.views.setdefault(target.value, set()).add(source)
        elif op == "op=":
            self.frameworks.on_augassign(self, target)
        if isinstance(target, cst.Name) and self.scope is not None:
            aliases = self._counter_aliases.setdefault(self.scope.id, set())
            if op == "=" and (dotted_name(value) or "").endswith("last_epoch"):
                aliases.add(target.value)
            elif op not in ("+=", "-="):  # a counter shifted by an offset is still one
                aliases.discard(target.value)
            self._snapshots[(self.scope.id, target.value)] = (
                _snapshot_of(value) if op == "=" else None
            )
        for name in target_names(target):
            self.bind(name)
            if not isinstance(target, cst.Name):
                self.scope.literals[name] = None
        self._track_literal(target, value, op)
        if isinstance(target, cst.Subscript) and subscript_key(target) == "lr":
            self._lr_write(target.value, value, stmt, op)
            return
        text = dotted_name(target)
        if text is None:
            if op == "=" and isinstance(target, (cst.Tuple, cst.List)):
                self._unpacked_rebinds(target, stmt)
                self._unpacked_construction(target, value, stmt)
            return
        if op == "=" and "." not in text and self.loop is not None:
            for loop in self.loop.ancestors():
                loop.assigned.add(text)
        group_loop = self.group_loop()
        if group_loop is not None and op == "=" and "." not in text:
            names = _Walk(value).names
            if names & (group_loop.tainted | {group_loop.group_var, group_loop.index_var}):
                group_loop.tainted.add(text)
        if op != "=":
            return
        if (
            isinstance(value, cst.Dict)
            or isinstance(value, cst.Call)
            and isinstance(value.func, cst.Name)
            and value.func.value == "dict"
        ):
            self._dict_targets[id(value)] = text
        if isinstance(value, cst.Call):
            built = self._construct(value, text, stmt)
            if rebuilt and self.scope is not None:
                self._alias_class(target.value, value)
            if built:
                return
        self.model.rebinds.append(Rebind(target=text, key=(), value=None, **self.fact_kwargs(stmt)))

    def _unpacked_rebinds(self, target, stmt):
        """``a, self.b, *c = ...``: each name is rebound to a value the model cannot see."""
        for el in target.elements:
            node = el.value  # Element or StarredElement: both hold the target in .value
            if isinstance(node, (cst.Tuple, cst.List)):
                self._unpacked_rebinds(node, stmt)
                continue
            text = dotted_name(node)
            if text is not None:
                self.model.rebinds.append(
                    Rebind(target=text, key=(), unpacked=True, **self.fact_kwargs(stmt))
                )

    def _unpacked_construction(self, target, value, stmt):
        """``sched, num_epochs = create_scheduler(args, optimizer)`` (timm): the first name
        holds the scheduler. Recorded after the unpacking's rebinds, so it is what the name
        holds from here on."""
        if not isinstance(value, cst.Call) or not target.elements:
            return
        foreign = catalogue.foreign_scheduler(self.qualify(value.func))
        first = dotted_name(target.elements[0].value)
        if foreign is not None and foreign[0] in catalogue.RETURNS_SCHEDULER_FIRST and first:
            self._construct(value, first, stmt)

    # -- lr writes ----------------------------------------------------------------------------
    def _lr_write(self, group_node, value_node, stmt, op):
        """``<group>["lr"] op value`` where <group> is a loop's group or X.param_groups[i]."""
        loop = self.group_loop()
        group_text = expr_text(group_node)
        optimizer_src = group_var = index_var = None
        all_groups = False
        if (
            isinstance(group_node, cst.Name)
            and loop is not None
            and group_node.value in (loop.group_var,) + tuple(loop.targets)
        ):
            optimizer_src, group_var, all_groups = loop.groups_of, group_node.value, True
        elif (
            isinstance(group_node, cst.Subscript)
            and isinstance(group_node.value, cst.Attribute)
            and group_node.value.attr.value == "param_groups"
        ):
            optimizer_src = expr_text(group_node.value.value)
            idx = group_node.slice[0].slice
            if (
                isinstance(idx, cst.Index)
                and isinstance(idx.value, cst.Name)
                and loop is not None
                and idx.value.value in (loop.index_var,) + tuple(loop.targets)
            ):
                index_var, all_groups = idx.value.value, True
        else:
            return
        value = self.value(value_node)
        dependent = {group_var, index_var} - {None}
        if loop is not None and all_groups:
            dependent |= loop.tainted | {loop.group_var, loop.index_var} - {None}
        reads_current = any(key == "lr" and base == group_text for base, key in value.subscripts)
        # ``if i < len(groups) - 1: ... else: ... * 10``: a value picked per group
        picked = any(names & dependent for names in self._if_tests) if all_groups else False
        write = LrWrite(
            optimizer_src=optimizer_src,
            op=op,
            value=value,
            all_groups=all_groups,
            group_var=group_var,
            index_var=index_var,
            depends_on_group=bool(value.names & dependent) or reads_current or picked,
            reads_current_lr=reads_current,
            type_dispatched=isinstance(value_node, cst.Name)
            and value_node.value in self._dispatched,
            in_class=self.class_stack[-1] if self.class_stack else None,
            **self.fact_kwargs(stmt),
        )
        self.model.lr_writes.append(write)
        if write.in_class is not None:
            write.in_class.writes_group_lr = True

    def _restores_snapshot(self, receiver, node) -> bool:
        """``opt.load_state_dict(saved)`` where this function last bound ``saved`` to
        ``opt.state_dict()`` or a deep copy of it: an in-memory snapshot put back (an lr
        range test), not a resume."""
        if self.scope is None or len(node.args) != 1:
            return False
        arg = node.args[0].value
        return (
            isinstance(arg, cst.Name)
            and self._snapshots.get((self.scope.id, arg.value)) == receiver
        )

    # -- calls --------------------------------------------------------------------------------
    def visit_Call(self, node: cst.Call):
        func = node.func
        if id(node) not in self.handled_calls:
            self._construct(node, None, node)
        self._list_call(node)
        if id(node) not in self.handled_calls or id(node) in self.custom_calls:
            self.model.flow_calls.append((self.scope, node, self.next_order(), self.loop))
        if (
            isinstance(func, cst.Name)
            and func.value == "map"
            and len(node.args) >= 2
            and isinstance(node.args[0].value, cst.Lambda)
        ):
            groups_of = _find_param_groups(node.args[1].value)
            lam = node.args[0].value
            if groups_of is not None and lam.params.params:
                # map(lambda g: g.update(lr=x), opt.param_groups): a loop over the groups.
                loop = self.push_loop("comp", node, {lam.params.params[0].name.value})
                loop.groups_of, loop.group_var = groups_of, lam.params.params[0].name.value
                self.pushed_for_call[id(node)] = loop
        for arg in node.args:
            if arg.keyword is not None:
                self.model.code_keys.add(arg.keyword.value)  # dict(initial_lr=...)
        self.frameworks.on_construct(self, node)
        if isinstance(func, cst.Attribute):
            method = func.attr.value
            self.frameworks.on_call(self, node, method)
            if (
                isinstance(func.value, cst.Call)
                and dotted_name(func.value.func) == "super"
                and self.function_stack
                and self.function_stack[-1].scope is self.scope
                and self.function_stack[-1].name == method
            ):
                self.function_stack[-1].extends_super = True
            if method == "update" and isinstance(func.value, cst.Name):
                self._group_update(node, func.value)
            elif method in ("get", "pop", "setdefault") and node.args:
                key = string_value(node.args[0].value)
                if key is not None:
                    self.model.read_keys.add(key)
            added_to = added_group_optimizer(node) if self.scope.cls is not None else None
            if added_to is not None and is_finetuning_callback(self.scope.cls):
                # Lightning's ``BaseFinetuning.unfreeze_and_add_param_group``: a group added
                receiver = reference(added_to)
                if receiver is not None:
                    self.model.calls.append(
                        MethodCall(
                            receiver=receiver,
                            method="add_param_group",
                            **self.fact_kwargs(node),
                        )
                    )
            if method in TRACKED_METHODS:
                receiver = reference(func.value)
                if receiver is not None:
                    args = tuple(
                        self.value(a.value) for a in node.args if a.keyword is None and not a.star
                    )
                    kwargs = {
                        a.keyword.value: self.value(a.value)
                        for a in node.args
                        if a.keyword is not None
                    }
                    self.model.calls.append(
                        MethodCall(
                            receiver=receiver,
                            method=method,
                            args=args,
                            kwargs=kwargs,
                            snapshot=method == "load_state_dict"
                            and self._restores_snapshot(receiver, node),
                            accumulating=self._accumulating[-1] if self._accumulating else None,
                            **self.fact_kwargs(node),
                        )
                    )
                    if method == "state_dict" and self._dicts and id(node) not in self._indexed:
                        self._checkpoint().state_dicts.append(self.model.calls[-1])
        qualified = self.qualify(func)
        if (
            qualified is not None
            and (qualified in ("torch.save", "dict") or qualified in BACKBONE_FINETUNING)
            or isinstance(func, cst.Name)
            and func.value in self.model.functions
        ):
            self.model.calls_by_name.setdefault(qualified, []).append(self.value(node))
        if isinstance(func, cst.Name) and func.value == "dict":
            self._open_dict(node)
            entries = dict_entries(node, strict=False) or ()
            values = {key: value for key, _, value in entries}
            if "params" in values:
                if node.args and node.args[0].keyword is None:
                    # dict({"params": p}, lr=x): this call is the group, not the literal
                    self._merged_dicts.add(id(node.args[0].value))
                self._group_dict_keys(((k, n) for k, n, _ in entries), values)
                self._group_dict(node, values.get("lr"))

    def leave_Call(self, node):
        loop = self.pushed_for_call.pop(id(node), None)
        if loop is not None:
            self.pop_loop()
        if self._dicts and self._dicts[-1][0] is node:
            self._dicts.pop()

    def _group_update(self, call: cst.Call, receiver: cst.Name):
        """``g.update(lr=x)`` / ``g.update({"lr": x})`` on a loop's group."""
        value_node = None
        for arg in call.args:
            if arg.keyword is not None and arg.keyword.value == "lr":
                value_node = arg.value
            elif arg.keyword is None and isinstance(arg.value, cst.Dict):
                for el in arg.value.elements:
                    if isinstance(el, cst.DictElement) and string_value(el.key) == "lr":
                        value_node = el.value
        if value_node is not None:
            self._lr_write(receiver, value_node, call, "update")

    def visit_Dict(self, node: cst.Dict):
        self._open_dict(node)
        for el in node.elements:
            if isinstance(el, cst.DictElement) and isinstance(el.key, cst.SimpleString):
                key = string_value(el.key)
                if key is not None:
                    self.model.code_keys.add(key)
        keys = [
            (string_value(el.key), el.key)
            for el in node.elements
            if isinstance(el, cst.DictElement)
        ]
        if any(k == "params" for k, _ in keys) and id(node) not in self._merged_dicts:
            values = {
                string_value(el.key): el.value
                for el in node.elements
                if isinstance(el, cst.DictElement)
            }
            self._group_dict_keys(keys, values)
            self._group_dict(node, values.get("lr"))

    def leave_Dict(self, node):
        if self._dicts and self._dicts[-1][0] is node:
            self._dicts.pop()

    # -- checkpoint dicts ({"optimizer": opt.state_dict(), ...}) ---------------------------------
    def _open_dict(self, node):
        self._dicts.append([node, self.scope, self.loop, None])

    def _checkpoint(self) -> Checkpoint:
        """The Checkpoint fact of the outermost open dict literal, created on first use."""
        entry = self._dicts[0]
        if entry[3] is None:
            node = entry[0]
            if isinstance(node, cst.Dict):
                opaque = any(isinstance(el, cst.StarredDictElement) for el in node.elements)
            else:  # dict(...): positional or ** arguments carry unseen entries
                opaque = any(a.keyword is None for a in node.args)
            entry[3] = Checkpoint(
                node=node,
                scope=entry[1],
                order=self.next_order(),
                loop=entry[2],
                target=self._dict_targets.get(id(node)),
                opaque=opaque,
            )
            self.model.checkpoints.append(entry[3])
        return entry[3]

    def _group_dict(self, node, lr_node):
        self.model.group_dicts.append(
            GroupDict(
                node=node,
                scope=self.scope,
                lr=self.value(lr_node) if lr_node is not None else None,
                loop=self.loop,
            )
        )

    def _group_dict_keys(self, keys, values=None):
        for key, key_node in keys:
            if key and LR_SCALING_KEY.match(key):
                self._group_key_nodes.add(id(key_node))
                if values is not None and _scale_folded(values.get("lr"), values.get(key)):
                    continue  # {"lr": base * s, "lr_scale": s}: already applied, a record
                self.model.group_keys.append(KeyUse(key=key, node=key_node))

    def visit_SimpleString(self, node: cst.SimpleString):
        # A scaling key named anywhere but as a group-dict key ("lr_mult" in a list of fields,
        # g[key] through a variable) may be read in ways the model does not follow.
        if "lr" in node.value and id(node) not in self._group_key_nodes:
            key = string_value(node)
            if key is not None and LR_SCALING_KEY.match(key):
                self.model.read_keys.add(key)

    def visit_Subscript(self, node: cst.Subscript):
        self._indexed.add(id(node.value))
        key = subscript_key(node)
        if key is not None and _IDENT.match(key):
            self.model.read_keys.add(key)

    def visit_Comparison(self, node: cst.Comparison):
        # "lr_mult" in group
        key = string_value(node.left)
        if key is not None and any(
            isinstance(c.operator, (cst.In, cst.NotIn)) for c in node.comparisons
        ):
            self.model.read_keys.add(key)

    # -- constructions ------------------------------------------------------------------------
    def _alias_class(self, name, value) -> None:
        """Remember ``name = <a scheduler class>`` so that ``name(optimizer, ...)`` later in
        the scope (or in a function of the module, for a module-level name) is recorded as
        that scheduler's construction. Two different classes bound to one name (if/else
        arms) leave only what both say: a torch scheduler chosen by name, or nothing."""
        key = (self.scope.id, name)
        known = self._scheduler_class_of(value)
        if known is None:
            self._class_aliases[key] = None
            return
        if key in self._class_aliases:
            before = self._class_aliases[key]
            if self._partial_class(before) is not None or self._partial_class(value) is not None:
                # two partials (or a partial and a class) in two arms: arguments differ
                self._class_aliases[key] = None
                return
            if before is None or self._scheduler_class_of(before) != known:
                torch_both = before is not None and self._is_torch_class(before)
                value = _CHOSEN_BY_NAME if torch_both and self._is_torch_class(value) else None
        self._class_aliases[key] = value

    def _note_registry(self, name, value) -> None:
        """Remember a module-level dict of classes (a registry a factory picks from by a
        config's key) and a local name bound to what one of them picks."""
        key = (self.scope.id, name)
        picked = self._registry_pick(value)
        if picked is not None or key in self._picked_aliases:
            self._picked_aliases[key] = picked
        if self.scope.kind != "module":
            return
        registries = self.model.registries
        entries = _class_entries(value)
        if name in registries or name in self._rebound_registries or entries is None:
            registries.pop(name, None)
            self._rebound_registries.add(name)
            return
        qualified = [(key, self.qualify(node)) for key, node in entries]
        if all(q is not None for _, q in qualified):
            registries[name] = qualified

    def _registry_pick(self, node):
        """(entries, key) for ``REGISTRY[key]`` or ``REGISTRY.get(key)`` over a module-level
        registry; ``key`` is the literal string, or None when it is read at run time."""
        read = _registry_read(node)
        if read is None or read[1] is None or self.scope is None:
            return None
        head, index = read
        # a name bound in the function walked is not the module's registry
        for scope in self.scope.function_chain():
            if scope.kind == "module":
                break
            if head in scope.assigned or head in scope.params:
                return None
        key = string_value(index)
        entries = self.model.registries.get(head)
        if entries:
            return entries, key
        if head in self._rebound_registries:
            return None  # bound here to something else
        qualified = self.model.imports.get(head)
        if qualified is None or qualified.startswith(_LIBRARIES):
            return None
        return qualified, key  # read once the walk is over (_promote_registry_calls)

    def _picked(self, func):
        """The registry pick a callee is (``AVAI_SCH[name]``, ``classes.get(name)``, or a local
        name bound to one), else None."""
        if isinstance(func, cst.Name) and self.scope is not None:
            return self._picked_aliases.get((self.scope.id, func.value))
        return self._registry_pick(func)

    def _construct_picked(self, call, picked, target, stmt, aside=False) -> bool:
        """``AVAI_SCH[cfg.scheduler](optimizer, **cfg.scheduler_args)``: a construction of
        one of the registry's classes. A literal key picks its entry. Else, when every entry
        is a torch scheduler class, one scheduler of a class chosen at run time
        (``CHOSEN_BY_NAME``) is recorded with the classes it may be as ``candidates``: rules
        that need the class ask every candidate and report only what all of them share. When
        every entry is a torch optimizer class, one optimizer (the class, when there is only
        one). A registry mixing other classes (in-tree ones, models) records nothing: the
        value stays unknown, so no rule reports on a guess."""
        entries, key = picked
        if isinstance(entries, str) or aside:
            # a registry of another module: both facts kept aside, one kept once it is read
            if any(c is call for _, _, c, *_ in self.model.registry_calls):
                return False
            n_listed = len(self.model.listed_args)
            self._scheduler(call, catalogue.CHOSEN_BY_NAME, "torch", target, stmt)
            sched = self.model.schedulers.pop()
            self._optimizer(call, "Optimizer", target, stmt)
            opt = self.model.optimizers.pop()
            del self.model.constructed[id(call)]
            listed = self.model.listed_args[n_listed:]
            del self.model.listed_args[n_listed:]
            self.model.registry_calls.append((sched, opt, call, listed, entries, key))
            return False
        kind, classes = registry_kind(entries, key)
        if kind is None:
            if not any(not q.startswith(_LIBRARIES) for _, q in entries):
                return False
            # classes of the project's own: the optimizers among them are known once their
            # modules are read (_promote_registry_calls)
            return self._construct_picked(call, (entries, key), target, stmt, aside=True)
        self.handled_calls.add(id(call))
        if kind == "optimizer":
            self._optimizer(call, classes[0] if len(classes) == 1 else "Optimizer", target, stmt)
        elif len(classes) == 1:
            self._scheduler(call, classes[0], "torch", target, stmt)
        else:
            self._scheduler(call, catalogue.CHOSEN_BY_NAME, "torch", target, stmt)
            self.model.schedulers[-1].candidates = classes
        return True

    def _is_torch_class(self, node) -> bool:
        node = self._partial_class(node) or node
        if node is _CHOSEN_BY_NAME or self._scheduler_by_name(node) is not None:
            return True
        short = catalogue.scheduler_class(self.qualify(node))
        return short is not None and not catalogue.is_transformers_factory(short)

    def _partial_class(self, node):
        """The scheduler class expression ``functools.partial(cls, ...)`` binds, else None."""
        if (
            not isinstance(node, cst.Call)
            or not node.args
            or node.args[0].star
            or node.args[0].keyword is not None
            or self.qualify(node.func) != "functools.partial"
        ):
            return None
        first = node.args[0].value
        return first if self._scheduler_class_of(first) is not None else None

    def _scheduler_class_of(self, node):
        """The scheduler class an expression names without calling it (also through
        ``functools.partial(cls, ...)``), else None."""
        if node is _CHOSEN_BY_NAME:
            return catalogue.CHOSEN_BY_NAME
        if isinstance(node, cst.Call):
            inner = self._partial_class(node)
            if inner is not None:
                return self._scheduler_class_of(inner)
            return self._scheduler_by_name(node)
        if isinstance(node, (cst.Name, cst.Attribute)):
            return catalogue.scheduler_class(self.qualify(node))
        return None

    def _aliased(self, func):
        """The scheduler class expression a called name was bound to, else ``func``."""
        if not isinstance(func, cst.Name) or self.scope is None:
            return func
        module = list(self.scope.function_chain())[-1]
        for scope in (self.scope, module) if module is not self.scope else (module,):
            key = (scope.id, func.value)
            if key in self._class_aliases:
                return self._class_aliases[key] or func
            if func.value in scope.assigned or func.value in scope.params:
                return func  # bound here to something else
        return func

    def _construct(self, call: cst.Call, target: str | None, stmt) -> bool:
        """Record an optimizer or scheduler construction; True if ``call`` is one."""
        picked = self._picked(call.func)
        if picked is not None:
            return self._construct_picked(call, picked, target, stmt)
        func = self._aliased(call.func)
        inner = self._partial_class(func) if func is not call.func else None
        if inner is not None:
            # ``make_scheduler = partial(StepLR, step_size=...)``, then ``make_scheduler(opt)``:
            # StepLR built with the partial's arguments first, then the call's
            short = self._scheduler_class_of(inner)
            origin = "transformers" if catalogue.is_transformers_factory(short) else "torch"
            self.handled_calls.add(id(call))
            self._scheduler(
                call, short, origin, target, stmt, self.qualify(inner), pre=func.args[1:]
            )
            self.model.schedulers[-1].partial = func
            return True
        if func is _CHOSEN_BY_NAME:
            self.handled_calls.add(id(call))
            self._scheduler(call, catalogue.CHOSEN_BY_NAME, "torch", target, stmt)
            return True
        qualified = self.qualify(func)
        if qualified is None:
            short = self._scheduler_by_name(func)
            if short is not None:
                self.handled_calls.add(id(call))
                self._scheduler(call, short, "torch", target, stmt)
                return True
            opt_cls = self._optimizer_by_name(func)
            if opt_cls is not None:
                self.handled_calls.add(id(call))
                self._optimizer(call, opt_cls, target, stmt)
                return True
            return False
        if qualified in catalogue.CONFIG_BUILDERS:
            return self._configured(call, target, stmt)
        short = catalogue.scheduler_class(qualified)
        origin = "torch"
        if short is None:
            local = next(
                (c for c in self.model.classes if c.name == qualified and c.is_scheduler_subclass),
                None,
            )
            if local is not None:
                short, origin = local.name, "custom"
            else:
                short, origin = catalogue.foreign_scheduler(qualified) or (None, None)
        elif catalogue.is_transformers_factory(short):
            origin = "transformers"
        if short is not None:
            self.handled_calls.add(id(call))
            if origin == "custom":
                self.custom_calls.add(id(call))
            self._scheduler(call, short, origin, target, stmt, qualified)
            return True
        opt_cls = catalogue.optimizer_class(qualified)
        if opt_cls is not None:
            self.handled_calls.add(id(call))
            self._optimizer(call, opt_cls, target, stmt)
            return True
        local = next(
            (c for c in self.model.classes if c.name == qualified and c.is_optimizer_subclass),
            None,
        )
        if local is not None:
            self.handled_calls.add(id(call))
            self._optimizer(call, local.name, target, stmt, local)
            return True
        if self._picked_from_module(call, target, stmt):
            return True
        if self._maybe_imported_scheduler(func, call, qualified) and all(
            c is not call for _, c, _ in self.model.imported_constructions
        ):
            # kept aside: a fact only if its module shows a scheduler subclass (once: the
            # statement binding it and the call itself are both walked)
            n_listed = len(self.model.listed_args)
            self._scheduler(call, qualified.rpartition(".")[2], "custom", target, stmt)
            sched = self.model.schedulers.pop()
            del self.model.constructed[id(call)]
            listed = self.model.listed_args[n_listed:]
            del self.model.listed_args[n_listed:]
            self.model.imported_constructions.append((sched, call, listed))
            if catalogue.named_like_optimizer(qualified.rpartition(".")[2], own=True) and all(
                c is not call for _, c, _ in self.model.imported_optimizers
            ):
                # ... or an optimizer, if its class there derives from a torch optimizer
                self._optimizer(call, qualified.rpartition(".")[2], target, stmt)
                opt = self.model.optimizers.pop()
                del self.model.constructed[id(call)]
                listed = self.model.listed_args[n_listed:]
                del self.model.listed_args[n_listed:]
                self.model.imported_optimizers.append((opt, call, listed))
        elif self._class_parameter(func, call) and all(
            c is not call for _, c, _ in self.model.parameter_constructions
        ):
            # kept aside: a fact only if every call of the function hands it a scheduler class
            n_listed = len(self.model.listed_args)
            self._scheduler(call, func.value, "torch", target, stmt)
            sched = self.model.schedulers.pop()
            del self.model.constructed[id(call)]
            listed = self.model.listed_args[n_listed:]
            del self.model.listed_args[n_listed:]
            self.model.parameter_constructions.append((sched, call, listed))
        elif self._class_attribute(func, call) and all(
            c is not call for _, c, _ in self.model.attribute_constructions
        ):
            # kept aside: a fact only if the class binds the attribute to a scheduler class
            n_listed = len(self.model.listed_args)
            self._scheduler(call, func.attr.value, "torch", target, stmt)
            sched = self.model.schedulers.pop()
            del self.model.constructed[id(call)]
            listed = self.model.listed_args[n_listed:]
            del self.model.listed_args[n_listed:]
            self.model.attribute_constructions.append((sched, call, listed))
        return False

    def _configured(self, call, target, stmt) -> bool:
        """``instantiate(cfg.scheduler, optimizer=opt)``: a scheduler of a class the config
        chooses (or an optimizer, for ``cfg.optimizer``); True if it is one."""
        first = call.args[0] if call.args else None
        if first is None or first.star or first.keyword is not None:
            return False
        kind = catalogue.configured_kind(dotted_name(first.value))
        if kind == "scheduler":
            self._scheduler(
                call,
                catalogue.CHOSEN_BY_NAME,
                "config",
                target,
                stmt,
                signature=("config", "optimizer"),
            )
        elif kind == "optimizer":
            self._optimizer(call, "Optimizer", target, stmt, signature=("config", "params"))
        else:
            return False
        self.handled_calls.add(id(call))
        self.model.config_nodes.add(id(first.value))
        return True

    def _picked_from_module(self, call, target, stmt) -> bool:
        """``config.init_obj("lr_scheduler", torch.optim.lr_scheduler, optimizer)``: a factory
        handed a name, then a module of torch schedulers (or ``torch.optim``) and the object
        to build on, by position, picks a class of that module by the name (the
        pytorch-template ``ConfigParser``); True if it is one."""
        positional = []
        for arg in call.args:
            if arg.star or arg.keyword is not None:
                break
            positional.append(arg)
        # after the name it picks by: ``getattr(torch.optim, name)`` picks a class, not an object
        for index, arg in enumerate(positional[:-1]):
            if index == 0 or not isinstance(arg.value, (cst.Name, cst.Attribute)):
                continue
            kind = catalogue.module_kind(self.qualify(arg.value))
            # the names it binds the leading arguments to are never read
            leading = tuple(f"picked_by_{i}" for i in range(index + 1))
            if kind == "scheduler":
                signature = (*leading, "optimizer")
                self._scheduler(
                    call, catalogue.CHOSEN_BY_NAME, "config", target, stmt, signature=signature
                )
            elif kind == "optimizer":
                self._optimizer(call, "Optimizer", target, stmt, signature=(*leading, "params"))
            else:
                continue
            self.handled_calls.add(id(call))
            return True
        return False

    def _class_attribute(self, func, call) -> bool:
        """``self.scheduler_cls(optimizer, ...)`` in a method: possibly the scheduler class
        the class keeps in that attribute (``self.scheduler_cls = OneCycleLR``)."""
        return (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == "self"
            and _method_class(self.scope) is not None
            and bool(call.args)
            and not call.args[0].star
            and (call.args[0].keyword is None or call.args[0].keyword.value == "optimizer")
        )

    def _class_parameter(self, func, call) -> bool:
        """``scheduler_cls(optimizer, ...)`` where ``scheduler_cls`` is a parameter of the
        ``def`` being walked, never rebound in it: possibly a scheduler class its callers
        hand it (``preview_schedule(optimizer, OneCycleLR, total, max_lr=lr)``)."""
        return (
            isinstance(func, cst.Name)
            and self.scope.kind == "function"
            and bool(self.function_stack)
            and self.function_stack[-1].scope is self.scope
            and func.value in self.scope.params
            and func.value not in self.scope.assigned
            and bool(call.args)
            and not call.args[0].star
            and (call.args[0].keyword is None or call.args[0].keyword.value == "optimizer")
        )

    def _maybe_imported_scheduler(self, func, call, qualified) -> bool:
        """``Cls(optimizer, ...)`` where ``Cls`` is a class name imported from a module that
        is not a library the catalogue knows: possibly a scheduler class of the tree."""
        head = (dotted_name(func) or "").partition(".")[0]
        name = qualified.rpartition(".")[2]
        return (
            head in self.model.imports
            and name[:1].isupper()
            and not qualified.startswith(_LIBRARIES)
            and bool(call.args)
            and (call.args[0].keyword is None or call.args[0].keyword.value == "optimizer")
            and not call.args[0].star
        )

    @staticmethod
    def _getattr_args(func):
        """(object, name) of a ``getattr(object, name)`` callee, else None."""
        if (
            isinstance(func, cst.Call)
            and isinstance(func.func, cst.Name)
            and func.func.value == "getattr"
            and len(func.args) == 2
            and not any(a.star or a.keyword is not None for a in func.args)
        ):
            return func.args[0].value, func.args[1].value
        return None

    def _scheduler_by_name(self, func) -> str | None:
        """``getattr(torch.optim.lr_scheduler, name)`` as a callee: the class it names."""
        args = self._getattr_args(func)
        if args is None:
            return None
        return catalogue.scheduler_by_name(self.qualify(args[0]), string_value(args[1]))

    def _optimizer_by_name(self, func) -> str | None:
        """The optimizer class a config names: ``getattr(torch.optim, cfg.optimizer)``
        (every torch optimizer takes ``params`` and ``lr`` first), ``"Optimizer"`` when the
        name is not a literal one; else None."""
        args = self._getattr_args(func)
        if args is None or self.qualify(args[0]) != "torch.optim":
            return None
        name = args[1]
        if isinstance(name, cst.SimpleString):
            found = catalogue.optimizer_class(f"torch.optim.{name.evaluated_value}")
            if found is not None:
                return found
        return "Optimizer"

    def _named_args(self, call: cst.Call, signature) -> dict:
        return named_arguments(self.value, call, signature)

    def _scheduler(self, call, short, origin, target, stmt, qualified=None, signature=None, pre=()):
        signature = signature or catalogue.signature_of(short, qualified) or ("optimizer",)
        args = named_arguments(self.value, call, signature, pre)
        positional = sum(1 for a in (*pre, *call.args) if a.keyword is None and not a.star)
        if origin == "transformers":
            short, origin = catalogue.resolve_factory(short, args)
        self.model.read_keys.update(EXTERNAL_KEY_READERS.get(origin, ()))
        opt = args.get("optimizer")
        sched = Scheduler(
            target=target,
            key=None,
            cls=short,
            origin=origin,
            args=args,
            positional=tuple(signature[:positional]),
            optimizer_src=opt.ref if opt is not None else None,
            **self.fact_kwargs(call if target is None else stmt),
        )
        self.model.schedulers.append(sched)
        self.model.constructed[id(call)] = sched
        for name, value in args.items():
            listed = self._listed(value.node)
            # a helper's list only for the children: following every call argument
            # (total_steps=len(loader)) would solve the flow for every scheduler
            if listed is not None and (
                listed.items is not None
                or listed.attr is not None
                or name == "schedulers"
                and short in catalogue.COMPOSITE
            ):
                self.model.listed_args.append((sched, name, listed))

    def _optimizer(self, call, short, target, stmt, local=None, signature=None):
        args = self._named_args(call, signature or _constructor_signature(local))
        first = args.get("params")
        groups = self._groups_of(first.node) if first is not None else None
        branch = None
        if groups is None and first is not None and isinstance(first.node, cst.Name):
            for listed in self.scope.arm_literals.get(first.node.value, ()):
                found = groups_of_entries(listed.items, self.value, self.scope)
                if found is not None and len(found) > 1:
                    branch = found
                    break
        opt = Optimizer(
            target=target,
            key=(),
            cls=short,
            default_lr=args.get("lr"),
            groups=groups,
            params=first,
            branch_groups=branch,
            local_class=local,
            **self.fact_kwargs(call if target is None else stmt),
        )
        self.model.optimizers.append(opt)
        self.model.constructed[id(call)] = opt
        listed = self._listed(first.node) if groups is None and first is not None else None
        if listed is not None and listed.items is None:
            self.model.listed_args.append((opt, "params", listed))  # a helper's groups

    def _groups_of(self, node) -> list | None:
        """Param groups of an optimizer's first argument, when statically known here (a
        list of group dicts, written inline or grown in this scope, or one module's
        parameters); a helper's groups are settled after the walk."""
        if isinstance(node, cst.Call):
            method = node.func.attr.value if isinstance(node.func, cst.Attribute) else None
            if method in ("parameters", "named_parameters"):
                return [Group(node=node)]
        listed = self._listed(node)
        if listed is None or listed.items is None:
            return None
        return groups_of_entries(listed.items, self.value, self.scope)


def named_arguments(value_of, call: cst.Call, signature, pre=(), pre_value_of=None) -> dict:
    """Parameter name -> Value (``value_of(node)``, the module's own summary) of each
    argument of ``call``, positional ones named by ``signature``; ``pre``: the arguments a
    ``functools.partial`` bound first (summarised by ``pre_value_of``, their module's, when
    the partial is another module's)."""
    args = {}
    summary = {id(a): pre_value_of or value_of for a in pre}
    given = (*pre, *call.args)
    positional = [a for a in given if a.keyword is None and not a.star]
    for name, arg in zip(signature, positional):
        args[name] = summary.get(id(arg), value_of)(arg.value)
    for arg in given:
        if arg.keyword is not None:
            args[arg.keyword.value] = summary.get(id(arg), value_of)(arg.value)
    return args


def _constructor_signature(local) -> tuple:
    """The parameters an optimizer's constructor takes by position, the first read as the
    params: torch's (``params, lr``), or those of the ``__init__`` of a subclass ``local``
    defines (``def __init__(self, params, lr=1e-3, warmup=0)``)."""
    init = local.methods.get("__init__") if local is not None else None
    if init is None or not isinstance(init.node, cst.FunctionDef):
        return catalogue.OPTIMIZER_SIGNATURE
    params = init.node.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    if len(positional) < 2:
        return catalogue.OPTIMIZER_SIGNATURE
    return ("params", *positional[2:])


def _bound_argument(function, call, param, bound=0):
    """The argument node ``call`` binds to the parameter ``param`` of the ``def`` node
    ``function``, read from its literal arguments; None when a star argument may bind it.
    ``bound``: leading parameters the call binds itself (1 for a method's ``self``)."""
    params = function.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)][bound:]
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is not None:
            if arg.keyword.value == param:
                return arg.value
        elif index < len(positional) and positional[index] == param:
            return arg.value
    return None


def _promote_class_parameters(builder) -> None:
    """The calls of a function's parameter kept aside during the walk become scheduler facts
    when the function is a top-level ``def`` of this module that every call here hands one
    and the same torch or Hugging Face scheduler class as that parameter
    (``preview_schedule(optimizer, OneCycleLR, total, max_lr=lr, total_steps=total)``)."""
    model = builder.model
    pending, model.parameter_constructions = model.parameter_constructions, []
    promoted = []
    for sched, call, listed in pending:
        infos = [
            info for info in model.functions.get(sched.scope.name, ()) if info.scope is sched.scope
        ]
        if (
            len(infos) != 1
            or len(model.functions[sched.scope.name]) != 1
            or sched.scope.parent is None
            or sched.scope.parent.kind not in ("module", "class")
        ):
            continue
        info, classes = infos[0], set()
        # a method (``optimizer._register_scheduler(scheduler_class, **kwargs)``, EDSR) is
        # called through an attribute, which binds its ``self``
        method = sched.scope.parent.kind == "class"
        callers = [
            (scope, c)
            for scope, c, _, _ in model.flow_calls
            if (
                isinstance(c.func, cst.Attribute) and c.func.attr.value == info.name
                if method
                else isinstance(c.func, cst.Name) and c.func.value == info.name
            )
        ]
        for scope, caller in callers:
            node = _bound_argument(info.node, caller, call.func.value, bound=int(method))
            classes.add(_class_named(builder, scope, node))
        if not callers:
            # the module importing this one may hand it a class (``_settle_handed_classes``)
            model.class_parameter_calls.append((sched, call, info))
        if len(classes) != 1 or None in classes:
            if callers:
                builder.unsettled.append((sched, call, listed))
            continue
        _settle_class(builder.value, sched, call, classes.pop())
        promoted.append((sched, call, listed))
    _add_constructions(model, promoted)


def _class_named(builder, scope, node):
    """The scheduler class (short name) an argument names: the class itself, or a local
    bound to one (``scheduler_class = lrs.MultiStepLR``) in ``scope`` or the module; else
    None."""
    if isinstance(node, cst.Name):
        module = list(scope.function_chain())[-1]
        for s in (scope, module):
            key = (s.id, node.value)
            if key in builder._class_aliases:
                node = builder._class_aliases[key]
                break
    if (
        node is None
        or not isinstance(node, (cst.Name, cst.Attribute))
        and node is not _CHOSEN_BY_NAME
    ):
        return None
    return builder._scheduler_class_of(node)


def _settle_handed_classes(builder) -> None:
    """The calls of a class parameter kept aside in a function of an imported in-tree
    module that no call there settles (``scheduler_cls(opt, **kwargs)`` in ``def
    preview_schedule(optimizer, scheduler_cls, steps, **kwargs)`` of ``viz.py``): each call
    here handing it one torch or Hugging Face scheduler class (``preview_schedule(optimizer,
    OneCycleLR, total, max_lr=lr)``) gives that module's construction of that class, kept
    with the call here (``model.handed_constructions``), never among this file's facts."""
    model = builder.model
    for other in model.external_models:
        for sched, call, info in other.class_parameter_calls:
            for scope, node, _, _ in model.flow_calls:
                if _imported_callee(model, builder, node.func) is not info:
                    continue
                arg = _bound_argument(info.node, node, call.func.value)
                named = builder.qualify(arg) if isinstance(arg, (cst.Name, cst.Attribute)) else None
                short = catalogue.scheduler_class(named)
                if short is None:
                    continue
                built = replace(sched)
                _settle_class(other.value, built, call, short)
                model.handed_constructions.append((scope, node, built, other))


def _imported_callee(model, builder, func):
    """The FunctionInfo or ClassInfo of another in-tree module that ``func`` (a callee of
    this file: ``preview_schedule``, ``viz.preview_schedule``) names, else None."""
    qualified = builder.qualify(func)
    if qualified is None:
        return None
    found = model.externals.get(qualified)
    if found is None and "." in qualified:
        head, _, last = qualified.rpartition(".")
        module = model.externals.get(head)
        found = top_level(module.model, last) if isinstance(module, ModuleRef) else None
    return found


def _settle_class(value_of, sched, call, short, partial=None, pre_value_of=None) -> None:
    """Make the construction ``sched`` kept aside for ``call`` one of the scheduler class
    ``short`` (torch's or a Hugging Face factory), its arguments read by that signature
    (``value_of``: the summary of the module ``call`` is code of), after those of the
    ``functools.partial(cls, ...)`` call ``partial`` (read by ``pre_value_of``)."""
    pre = partial.args[1:] if partial is not None else ()
    origin = "transformers" if catalogue.is_transformers_factory(short) else "torch"
    signature = catalogue.signature_of(short) or ("optimizer",)
    args = named_arguments(value_of, call, signature, pre, pre_value_of)
    if origin == "transformers":
        short, origin = catalogue.resolve_factory(short, args)
    opt = args.get("optimizer")
    sched.cls, sched.origin, sched.args = short, origin, args
    sched.partial = partial
    sched.positional = tuple(
        signature[: sum(1 for a in (*pre, *call.args) if a.keyword is None and not a.star)]
    )
    sched.optimizer_src = opt.ref if opt is not None else None


def _promote_class_attributes(builder) -> None:
    """The calls of a ``self`` attribute kept aside during the walk become scheduler facts
    when every binding of that attribute in the class's hierarchy here (``self.X = ...`` in
    a method, ``X = ...`` in the class body) names one and the same torch or Hugging Face
    scheduler class (``self.scheduler_cls = OneCycleLR`` in ``__init__``, then
    ``self.scheduler_cls(copy.copy(self.optimizer), ...)`` to preview the schedule)."""
    model = builder.model
    pending, model.attribute_constructions = model.attribute_constructions, []
    if not pending:
        return
    # The bindings and rebindings of ``self`` attributes, read once: most calls kept aside
    # are methods (``self.assertEqual(a, b)``) that nothing binds.
    bound, rebinds = {}, {}
    for scope, target, value in model.flow_assigns:
        if scope.kind == "class" and isinstance(target, cst.Name):
            bound.setdefault(target.value, []).append((scope, value, True))
        elif scope.kind == "function":
            text = dotted_name(target) or ""
            if text.startswith("self.") and text.count(".") == 1:
                bound.setdefault(text[5:], []).append((scope, value, False))
    for rebind in model.rebinds:
        if rebind.target.startswith("self.") and rebind.target.count(".") == 1:
            rebinds.setdefault(rebind.target[5:], []).append(rebind)
    promoted = []
    for sched, call, listed in pending:
        attr = call.func.attr.value
        if attr not in bound:
            continue
        related = _hierarchy(model, _method_class(sched.scope))
        values = [
            value
            for scope, value, in_body in bound[attr]
            if (
                any(c.node is scope.node for c in related)
                if in_body
                else _method_class(scope) in related
            )
        ]
        rebound = sum(1 for r in rebinds.get(attr, ()) if _method_class(r.scope) in related)
        if not values or rebound > len(values):
            builder.unsettled.append((sched, call, listed))
            continue  # bound by unpacking, a ``for`` or ``with``: not certainly a class
        classes = {builder._scheduler_class_of(v) for v in values}
        partials = [v for v in values if builder._partial_class(v) is not None]
        if (
            len(classes) != 1
            or None in classes
            or catalogue.CHOSEN_BY_NAME in classes
            or partials
            and len(values) != 1
        ):
            builder.unsettled.append((sched, call, listed))
            continue
        _settle_class(builder.value, sched, call, classes.pop(), partials[0] if partials else None)
        promoted.append((sched, call, listed))
    _add_constructions(model, promoted)


def _settle_partials(builder) -> None:
    """The calls of a parameter or ``self`` attribute kept aside that no binding here
    settled become scheduler facts when the value flow says the callee is one
    ``functools.partial`` of a scheduler class and nothing else (``self.dual_scheduler =
    dual_scheduler`` in ``__init__``, handed ``partial(StepLR, step_size=epochs // 4)`` by
    ``train.py``, then ``self.dual_scheduler(self.dual_optimizer)``): that class, with the
    partial's arguments first."""
    model = builder.model
    if not any(_builds_scheduler_partial(m) for m in [model, *model.other_models()]):
        return
    flow, promoted = model.flow.solve(), []
    for sched, call, listed in builder.unsettled:
        values = flow.eval(call.func, sched.scope)
        if len(values) != 1 or not isinstance(next(iter(values)), SchedulerPartial):
            continue
        made = next(iter(values))
        pre_value_of = flow.model_of(made.scope).value
        _settle_class(builder.value, sched, call, made.cls, made.node, pre_value_of)
        promoted.append((sched, call, listed))
    _add_constructions(model, promoted)


def _builds_scheduler_partial(model) -> bool:
    """Some code of ``model`` calls ``functools.partial`` on a scheduler class."""
    if "partial" not in model.source:
        return False
    for _scope, call, _, _ in model.flow_calls:
        if dotted_name(call.func) not in ("partial", "functools.partial") or not call.args:
            continue
        dotted = dotted_name(call.args[0].value) or ""
        head, dot, rest = dotted.partition(".")
        base = model.imports.get(head, head)
        if catalogue.scheduler_class(f"{base}.{rest}" if dot else base) is not None:
            return True
    return False


def _method_class(scope):
    """The class whose method ``scope`` is (or is nested in), else None."""
    return next((s.cls for s in scope.function_chain() if s.cls is not None), None)


def _hierarchy(model, cls) -> list:
    """``cls`` and the classes of this file it derives from or that derive from it (bases
    matched by name), as far as the file shows."""
    if cls is None:
        return []
    by_name = {}
    for c in model.classes:
        by_name.setdefault(c.name, []).append(c)

    def bases(c):
        return [
            b for base in c.bases for b in by_name.get(base.rpartition(".")[2], ()) if b is not c
        ]

    related, todo = [cls], [cls]
    while todo and len(related) < 16:
        c = todo.pop()
        for b in bases(c):
            if all(b is not r for r in related):
                related.append(b)
                todo.append(b)
    for c in model.classes:
        if all(c is not r for r in related) and any(b is r for b in bases(c) for r in related):
            related.append(c)
    return related


def _add_constructions(model: FileModel, promoted: list) -> None:
    """Scheduler facts for the constructions ``(sched, call, listed)`` kept aside during the
    walk and promoted after it; the flow is solved again with them known."""
    for sched, call, listed in promoted:
        model.schedulers.append(sched)
        model.constructed[id(call)] = sched
        model.listed_args.extend(listed)
    if promoted:
        # the walk took ``self.scheduler = scheduler_cls(...)`` for a rebinding to an unseen
        # value; it is this construction now
        built = {(id(s.node), s.target) for s, _, _ in promoted if s.target is not None}
        model.rebinds = [r for r in model.rebinds if (id(r.node), r.target) not in built]
        model.schedulers.sort(key=lambda s: s.order)
        model._flow = None


def _imported_registry(tree, importer: str, qualified: str, read: list, hops=2):
    """The entries of the registry ``qualified`` names seen from ``importer`` (followed
    through a package's re-export ``hops`` times), else None."""
    head, _, name = qualified.rpartition(".")
    path = tree.find(importer, head) if head else None
    if path is None:
        return None
    read.append(path)
    model = tree.model(path)
    if model is None:
        return None
    entries = model.registries.get(name)
    if entries:
        return entries
    target = model.imports.get(name)
    if target is None or hops <= 0 or target.startswith(_LIBRARIES):
        return None
    return _imported_registry(tree, path, target, read, hops - 1)


def _promote_registry_calls(model: FileModel, tree) -> None:
    """The calls of what a registry imported from a module of the tree (or listing classes
    of the project's own) picks, kept aside during the walk, become the scheduler or
    optimizer facts that registry's classes make (see ``registry_kind``)."""
    if tree is None:
        return  # kept: a module lending this one its callers, or importing it, reads them
    pending, model.registry_calls = model.registry_calls, []
    promoted, optimizers = [], []
    for sched, opt, call, listed, registry, key in pending:
        read: list = []
        if isinstance(registry, str):
            entries = _imported_registry(tree, model.path, registry, read)
            importer = model.path if entries is None else read[-1]
        else:
            entries, importer = registry, model.path

        def own_optimizer(qualified, importer=importer, read=read):
            found = tree.definition(importer, qualified, read)
            if found is None:
                # a module missing from the checkout: the name says it
                short = qualified.rpartition(".")[2]
                return catalogue.named_like_optimizer(short, own=True)
            return isinstance(found[0], ClassInfo) and found[0].is_optimizer_subclass

        kind, classes = registry_kind(entries or (), key, own_optimizer)
        model.external_paths.update(read)
        if kind == "scheduler":
            if len(classes) == 1:
                _settle_class(model.value, sched, call, classes[0])
            else:
                _settle_class(model.value, sched, call, catalogue.CHOSEN_BY_NAME)
                sched.candidates = classes
            promoted.append((sched, call, listed))
        elif kind == "optimizer":
            if len(classes) == 1:
                opt.cls = classes[0]
            optimizers.append((opt, call, listed))
    _add_constructions(model, promoted)
    for opt, call, listed in optimizers:
        model.optimizers.append(opt)
        model.constructed[id(call)] = opt
        model.listed_args.extend(listed)
    if optimizers:
        built = {(id(o.node), o.target) for o, _, _ in optimizers if o.target is not None}
        model.rebinds = [r for r in model.rebinds if (id(r.node), r.target) not in built]
        model.optimizers.sort(key=lambda o: o.order)
        model._flow = None


def _promote_imported_schedulers(model: FileModel) -> None:
    """The calls of imported classes kept aside during the walk become scheduler facts when
    the class, read from its in-tree module, derives from a torch scheduler."""
    if not model.external_models:
        return  # kept: a module lending this one its importers may read the classes
    pending, model.imported_constructions = model.imported_constructions, []
    flow, promoted = model.flow, []
    for sched, call, listed in pending:
        classes = [v for v in flow.eval(call.func, sched.scope) if isinstance(v, ClassInfo)]
        if classes and all(c.is_scheduler_subclass for c in classes):
            promoted.append((sched, call, listed))
    _add_constructions(model, promoted)


def _promote_imported_optimizers(builder) -> None:
    """The calls of imported classes kept aside during the walk become optimizer facts when
    the class, read from its in-tree module, derives from a torch optimizer (``AdamW(groups,
    lr=lr, warmup_steps=w)`` of ``class AdamW(torch.optim.AdamW)`` in ``optim.py``), read by
    its ``__init__``'s signature."""
    model = builder.model
    pending, model.imported_optimizers = model.imported_optimizers, []
    if not model.external_models:
        return
    flow, promoted = model.flow, []
    for opt, call, listed in pending:
        classes = [v for v in flow.eval(call.func, opt.scope) if isinstance(v, ClassInfo)]
        if len(classes) != 1 or not classes[0].is_optimizer_subclass:
            continue
        opt.local_class = classes[0]
        opt.default_lr = builder._named_args(call, _constructor_signature(classes[0])).get("lr")
        promoted.append((opt, call, listed))
    for opt, call, listed in promoted:
        model.optimizers.append(opt)
        model.constructed[id(call)] = opt
        model.listed_args.extend(listed)
    if promoted:
        model.optimizers.sort(key=lambda o: o.order)
        model._flow = None


# -- resolution after the walk ----------------------------------------------------------------
def binding_key(scope: Scope, text: str | None):
    """Which variable ``text`` names when read in ``scope`` (see the model's docstring)."""
    if text is None:
        return None
    # ``opts[0]`` (a subscripted receiver) belongs to the variable ``opts``
    head = text.partition(".")[0].partition("[")[0]
    if head in ("self", "cls") and "." in text:
        s = scope
        while s is not None and s.cls is None:
            s = s.parent
        if s is not None:
            return ("class", id(s.cls), text)
    s, first = scope, True
    while s is not None:
        if (s.kind != "class" or first) and (head in s.assigned or head in s.params):
            return (s.id, text)
        first = False
        if s.parent is None:
            return (s.id, text)
        s = s.parent
    return None


def _pick(candidates, order):
    """The entity a use at ``order`` most likely means: the last one created before it."""
    before = [c for c in candidates if c.order <= order]
    if before:
        return before[-1]
    return candidates[0] if candidates else None


def _resolve(model: FileModel) -> None:
    entities = {}
    for ent in (*model.optimizers, *model.schedulers):
        if ent.target is not None:
            ent.key = binding_key(ent.scope, ent.target)
            entities.setdefault(ent.key, []).append(ent)
    for group in entities.values():
        group.sort(key=lambda e: e.order)

    def lookup(scope, text, order, kind=None):
        cands = entities.get(binding_key(scope, text), [])
        if kind is not None:
            cands = [c for c in cands if isinstance(c, kind)]
        return _pick(cands, order)

    by_node = {id(s.node): s for s in model.schedulers}
    flow = model.flow
    for fact, name, listed in model.listed_args:
        entries = listed_entries(flow, listed)
        if entries is None:
            if isinstance(fact, Optimizer) and fact.groups is None:
                fact.groups = zipped_groups(flow, listed)
            continue
        if isinstance(fact, Scheduler):
            fact.lists[name] = entries
        elif fact.groups is None:
            fact.groups = _groups_through(flow, entries)
    for sched in model.schedulers:
        if sched.optimizer_src is not None:
            sched.optimizer = lookup(sched.scope, sched.optimizer_src, sched.order, Optimizer)
            sched.optimizers = (
                (sched.optimizer,)
                if sched.optimizer is not None
                else tuple(flow.optimizers(sched.scope, sched.optimizer_src))
            )
            if sched.optimizer is None and len(sched.optimizers) == 1:
                sched.optimizer = sched.optimizers[0]
        children = sched.args.get("schedulers")
        if sched.cls in catalogue.COMPOSITE and children is not None:
            for item in children.items:
                child = (
                    by_node.get(id(item.node))
                    if item.kind == "call"
                    else lookup(sched.scope, item.dotted, sched.order, Scheduler)
                )
                if child is not None:
                    sched.children.append(child)
                    child.parent = sched
            if not children.items and sched.members:
                # schedulers=phases: the list is bound to a name, grown, or a helper's
                for node, scope, order in sched.members:
                    child = lookup(scope, dotted_name(node), order, Scheduler)
                    if child is None:
                        found = [v for v in flow.eval(node, scope) if isinstance(v, Scheduler)]
                        child = found[0] if len(found) == 1 else None
                    if child is not None:
                        sched.children.append(child)
                        child.parent = sched
            if sched.optimizer is None and sched.children:
                sched.optimizer = sched.children[0].optimizer
                sched.optimizers = sched.children[0].optimizers
    for call in model.calls:
        call.target = lookup(call.scope, call.receiver, call.order)
        if call.target is not None:
            call.targets = (call.target,)
        else:
            call.targets = tuple(
                flow.optimizers(call.scope, call.receiver)
                + flow.schedulers(call.scope, call.receiver)
            )
            if len(call.targets) == 1:
                call.target = call.targets[0]
        if call.target is None and call.method in ("step", "optimizer_step") and call.args:
            opt = lookup(call.scope, call.args[0].ref, call.order, Optimizer)
            if opt is None and call.args[0].ref:
                opts = flow.optimizers(call.scope, call.args[0].ref)
                opt = opts[0] if len(opts) == 1 else None
            call.optimizer_arg = opt
    for write in model.lr_writes:
        if write.optimizer_src is not None:
            write.optimizer = lookup(write.scope, write.optimizer_src, write.order, Optimizer)
            write.optimizers = (
                (write.optimizer,)
                if write.optimizer is not None
                else tuple(flow.optimizers(write.scope, write.optimizer_src))
            )
            if write.optimizer is None and write.optimizers:
                write.optimizer = write.optimizers[0]
            if not write.optimizers and write.optimizer_src == "self":
                write.optimizers = _instances_of_self(model, write.scope)
    for rebind in model.rebinds:
        rebind.key = binding_key(rebind.scope, rebind.target)
    # Group lrs bound to names, constants or argparse defaults: fold them where certain, so
    # `lr_a = 0.1; lr_b = 0.1` are equal lrs and `MAX_LR = 1e-3` is a known bound.
    for opt in model.optimizers:
        for v in [opt.default_lr] + [g.lr for g in opt.groups or ()]:
            if v is not None and v.number is None and v.kind in ("name", "attr", "other"):
                v.number = flow.number(v.node, opt.scope)


def _instances_of_self(model, scope) -> tuple:
    """The optimizers built here of the optimizer subclass whose method ``scope`` is (or of
    its subclasses here): what ``self.param_groups`` holds in its ``step()``."""
    cls = next((s.cls for s in scope.function_chain() if s.cls is not None), None)
    if cls is None or not cls.is_optimizer_subclass:
        return ()
    flow = model.flow
    return tuple(
        opt
        for opt in model.optimizers
        if opt.local_class is cls
        or opt.local_class is not None
        and flow.derives(opt.local_class, cls)
    )


def listed_entries(flow, listed, depth=0) -> tuple | None:
    """(node, scope, order) of each entry of a list where certainly known: ``listed``'s own
    items, or what the one function its call runs certainly returns (through helpers that
    return another helper's list, a few calls deep)."""
    if listed.items is not None:
        return tuple((node, listed.scope, listed.order) for node in listed.items)
    if listed.attr is not None:
        bound = _attribute_list(flow, listed)
        return listed_entries(flow, bound, depth + 1) if bound is not None else None
    if depth > 3 or listed.call is None:
        return None
    fn = flow.only_callee(listed.call, listed.scope)
    if fn is None or len(fn.listed_returns) != 1:
        return None  # several candidates, a class, or several returns
    if fn.scope.cls is not None and _overridden(flow, fn):
        return None
    returned = fn.listed_returns[0]
    return listed_entries(flow, returned, depth + 1) if returned is not None else None


def _passed_on(flow, node, scope):
    """(node, scope) of the list literal a parameter of ``scope`` holds when ``node`` reads
    one that every call binds to the same literal (``Learner(model, data, lrs=(1e-5,
    1e-3))`` whose ``__init__`` hands ``lrs`` to the groups helper); else (node, scope)."""
    if (
        not isinstance(node, cst.Name)
        or node.value not in scope.params
        or node.value in scope.assigned
    ):
        return node, scope
    sites = list(flow.arguments.get(id(scope), {}).values())
    if not sites or any(b is None or node.value not in b for _, b in sites):
        return node, scope
    literals = {flow.model_of(c).code(b[node.value]) for c, b in sites}
    caller, bound = sites[0]
    if len(literals) != 1 or not isinstance(bound[node.value], (cst.List, cst.Tuple)):
        return node, scope
    return bound[node.value], caller


def zipped_groups(flow, listed):
    """The groups a comprehension builds, one per entry of the shortest operand it zips,
    where every operand's length is certain and the dict's other values are constants;
    else None. Written inline (``[{"params": m.parameters(), "lr": base_lr * mult} for m,
    mult in zip(parts, (0.1, 1.0))]``, or ``for name, mult in LR_MULTS.items()``), or
    returned by a helper for the call ``listed`` reads (``SGD(param_groups(model, [lr / 10,
    lr]))`` with ``return [{"params": m.parameters(), "lr": lr} for m, lr in zip(parts,
    lrs)]``): its lr the entry the call hands in (also through a list of the helper's
    parameters, ``zip(parts, [base_lr, head_lr])``)."""
    if listed.comp is not None:
        return _comprehension_groups(flow, listed, None)
    if listed.call is None:
        return None
    fn = flow.only_callee(listed.call, listed.scope)
    if fn is None or len(fn.listed_returns) != 1:
        return None
    if fn.scope.cls is not None and _overridden(flow, fn):
        return None
    returned = fn.listed_returns[0]
    if returned is None or returned.comp is None:
        return None
    entry = flow.arguments.get(id(fn.scope), {}).get(id(listed.call))
    if entry is None or entry[1] is None:
        return None
    return _comprehension_groups(flow, returned, (fn.scope, *entry))


def _comprehension_groups(flow, listed, helper):
    """The groups of ``listed``'s comprehension; a helper's when ``helper`` is given: (its
    scope, the calling scope, the call's arguments by parameter)."""
    fn_scope, caller, bound = helper or (None, None, None)
    columns = []  # per loop variable: [(node, scope)]
    for source in listed.sources:
        if isinstance(source, cst.Call):
            entries = flow.constant_dict(source.func.value, listed.scope)
            if entries is None:
                return None
            columns += [[(k, at) for k, _, at in entries], [(v, at) for _, v, at in entries]]
            continue
        if isinstance(source, str):
            if bound is None:
                return None
            arg, at = _passed_on(flow, bound.get(source), caller)
            if isinstance(arg, (cst.List, cst.Tuple)):
                if not all(isinstance(e, cst.Element) for e in arg.elements):
                    return None  # *rest: a count unknown
                columns.append([(e.value, at) for e in arg.elements])
                continue
            # a list the caller bound to a name (and grew) before handing it over
            source = flow.model_of(caller).handed_lists.get(id(arg))
            if source is None:
                return None
        entries = listed_entries(flow, source)
        if entries is None:
            return None
        columns.append([(node, scope) for node, scope, _ in entries])
    comp = listed.comp
    target = comp.for_in.target
    names = (
        [e.value.value if isinstance(e.value, cst.Name) else None for e in target.elements]
        if isinstance(target, cst.Tuple)
        else [target.value if isinstance(target, cst.Name) else None]
    )
    if len(names) != len(columns):
        return None  # ``for m, lr in pairs``: tuples the loop unpacks
    own = flow.model_of(listed.scope)
    lr_column, scaled, keys = None, None, {}
    for key, _, node in dict_entries(comp.elt):
        if key == "params":
            continue
        if key == "lr" and isinstance(node, cst.Name) and node.value in names:
            lr_column = columns[names.index(node.value)]
        elif key == "lr" and (scaled := _scaled_by(own, node, names)) is not None:
            lr_column = columns[names.index(scaled[2].value)]
        elif isinstance(node, (cst.Integer, cst.Float, cst.SimpleString)):
            keys[key] = node  # the same constant in every group
        else:
            return None  # read from the loop's variables or the helper's scope
    if lr_column is None:
        return None
    count = min(len(c) for c in columns)
    if scaled is not None:
        return _scaled_groups(flow, listed, scaled, lr_column[:count], keys)
    groups = []
    for node, scope in lr_column[:count]:
        if (
            scope is fn_scope
            and isinstance(node, cst.Name)
            and node.value in bound
            and node.value not in fn_scope.assigned
        ):
            # ``zip(parts, [base_lr, head_lr])`` of the helper's parameters: the lrs the
            # call hands in (``model.param_groups(cfg.lr, cfg.lr)`` builds equal groups)
            node, scope = bound[node.value], caller
        lr = flow.model_of(scope).value(node)
        if lr.number is None and lr.kind in ("name", "attr", "other"):
            lr.number = flow.number(node, scope)
        groups.append(
            Group(
                node=comp.elt,
                lr=lr,
                keys={k: own.value(v) for k, v in keys.items()},
                scope=scope,
            )
        )
    return groups or None


def _scaled_by(model, node, names):
    """(``node``, the other operand, the loop variable) of an lr that scales a loop variable by a
    value the loop does not change (``base_lr * mult``, ``mult * args.lr``, ``lr / div``);
    else None."""
    if not isinstance(node, cst.BinaryOperation) or not isinstance(
        node.operator, (cst.Multiply, cst.Divide)
    ):
        return None
    for var, other in ((node.left, node.right), (node.right, node.left)):
        if (
            isinstance(var, cst.Name)
            and var.value in names
            and not model.value(other).names & set(names)
        ):
            return node, other, var
    return None


def _scaled_groups(flow, listed, scaled, column, keys):
    """One group per number of ``column`` (``(0.1, 1.0)``, a constant dict's values), each
    lr the comprehension's, ``base_lr * 0.1``, with that number in: where every entry is a
    number literal, groups whose numbers differ differ; else None."""
    own = flow.model_of(listed.scope)
    lr_node, other, var = scaled
    op = "*" if isinstance(lr_node.operator, cst.Multiply) else "/"
    base = flow.number(other, listed.scope)
    texts, groups = {}, []
    for entry, scope in column:
        number = fold_number(entry)
        if number is None:
            return None  # ``cfg.head_mult``: whether it differs is not known here
        # ``1.0`` and ``1.`` are one lr, not two texts
        text = texts.setdefault(number, flow.model_of(scope).code(entry))
        if not isinstance(entry, (cst.Integer, cst.Float)):
            text = f"({text})"
        left, right = (text, own.code(other)) if var is lr_node.left else (own.code(other), text)
        folded = None
        if base is not None:
            numbers = (number, base) if var is lr_node.left else (base, number)
            folded = fold_binary(lr_node.operator, *numbers)
        lr = replace(own.value(lr_node), src=f"{left} {op} {right}", number=folded)
        groups.append(
            Group(
                node=listed.comp.elt,
                lr=lr,
                keys={k: own.value(v) for k, v in keys.items()},
                scope=listed.scope,
            )
        )
    return groups or None


def _attribute_list(flow, listed):
    """The Listed ``self.<listed.attr>`` certainly holds where ``listed`` reads it in a
    method: the one method of the class hierarchy (in this file) that binds it binds a list
    (``self.param_groups = [...]`` grown by ``append``), and no other code of the hierarchy
    touches it but to hand it to a construction or read it (``len``, ``for``)."""
    cls = listed.scope.cls
    if cls is None:
        return None
    model = flow.model_of(listed.scope)
    root = flow.root_class(cls)
    hierarchy = [c for c in model.classes if flow.root_class(c) is root]
    bindings = [b for c in hierarchy for b in c.list_attrs.get(listed.attr, ())]
    if len(bindings) != 1:
        return None
    scope, bound = bindings[0]
    if bound is None or scope is listed.scope:
        return None  # read before the method binding it binds it, or changed elsewhere
    text = f"self.{listed.attr}"
    allowed = set(model.constructed)  # ids of the construction calls
    for c in hierarchy:
        if not _only_read(c.node, text, scope.node, allowed):
            return None
    return bound


def _only_read(root, text, skip, constructions) -> bool:
    """Every ``text`` (``self.param_groups``) under ``root``, outside the node ``skip``, is
    an argument of a construction (ids ``constructions``) or of a call that only reads a
    list (``len``), or the iterable of a ``for``."""
    stack = [(root, None, None)]
    while stack:
        node, parent, grand = stack.pop()
        if node is skip:
            continue
        if node.__class__ is cst.Attribute and dotted_name(node) == text:
            if parent.__class__ is cst.Arg and grand.__class__ is cst.Call:
                func = grand.func
                if id(grand) in constructions or (
                    func.__class__ is cst.Name and func.value in _READS_LIST
                ):
                    continue
            elif parent.__class__ in (cst.For, cst.CompFor) and parent.iter is node:
                continue
            return False
        for child in code_children(node):
            stack.append((child, node, parent))
    return True


def _overridden(flow, method) -> bool:
    """A subclass in the checked code overrides ``method``: ``self.m()`` may run that one.
    A class outside its hierarchy that merely defines a method of the same name (tllib's
    classifier and domain discriminator, each with its ``get_parameters``) runs only on
    its own objects, which the flow tells apart."""
    own = method.scope.cls
    return any(
        other is not method and (own is None or flow.derives(cls, own))
        for m in [flow.model, *flow.other_models()]
        for cls in m.classes
        for other in [cls.methods.get(method.name)]
        if other is not None
    )


def _groups_through(flow, entries):
    """Groups from list entries found through the flow, each read in its own module and
    scope, their lrs folded to numbers where certain."""
    scopes = {id(scope) for _, scope, _ in entries}
    if len(scopes) != 1:
        return None
    scope = entries[0][1]
    groups = groups_of_entries([node for node, _, _ in entries], flow.model_of(scope).value, scope)
    for group in groups or ():
        v = group.lr
        if v is not None and v.number is None and v.kind in ("name", "attr", "other"):
            v.number = flow.number(v.node, scope)
    return groups


def _imported_head(resolvable, func) -> str | None:
    """The local import name a callee starts with (``utils`` in ``utils.adjust_lr``)."""
    text = dotted_name(func)
    if text is None:
        return None
    head = text.partition(".")[0]
    return head if head in resolvable else None


def _in_tree_imports(model: FileModel, tree) -> dict:
    """The imports of ``model`` (local name -> qualified) that name a module of the tree, or
    a definition in one (``from utils import adjust_lr``)."""
    out = {}
    for head, qualified in model.imports.items():
        # a library, not ``torchtools`` or ``torch_utils`` of the tree
        if qualified.partition(".")[0] not in ("torch", "transformers"):
            found = tree.find(model.path, qualified)
            if found is None and "." in qualified.lstrip("."):
                found = tree.find(model.path, qualified.rpartition(".")[0])
            if found is not None:
                out[head] = qualified
    return out


# What a class does with an optimizer or scheduler it holds: a subclass calling one of these
# on ``self.<attr>`` needs the attribute's binding, which may be in its base's module.
_STATE_METHODS = frozenset({"step", "state_dict", "load_state_dict", "add_param_group"})


def _used_texts(model: FileModel, resolvable) -> set:
    """The names and attributes ``model``'s code uses as an optimizer or scheduler: steps or
    saves (``opt.step()``), builds a scheduler on, writes the lr of, iterates to do so, or
    hands to one of the in-tree helpers ``resolvable`` names (``set_lr(opt, lr)``)."""
    used = (
        {c.receiver for c in model.calls}
        | {loop.groups_of for loop in model.loops}
        | {s.optimizer_src for s in model.schedulers}
        | {w.optimizer_src for w in model.lr_writes}
    )
    for _scope, call, _, _ in model.flow_calls:
        # handed on to another in-tree helper: ``opt = create_optimizer(m); set_lr(opt, lr)``,
        # or to the class one returns (``get_runner(name)(model, optimizer, scheduler)``)
        func = call.func.func if isinstance(call.func, cst.Call) else call.func
        if _imported_head(resolvable, func) is not None:
            used.update(dotted_name(a.value) for a in call.args)
    for _scope, target, iterable in model.flow_fors:
        # ``for scheduler in self.schedulers: scheduler.step()``: the container is used too
        if target_names(target) & used:
            used.add(dotted_name(_container(iterable)))
    used.discard(None)
    return used


def _wanted_imports(model: FileModel, tree, finetuned=False) -> dict:
    """The imports (local name -> qualified) worth reading: called with an optimizer,
    scheduler or a value that may carry one (:meth:`Flow.may_carry`), or whose result this
    file then uses as an optimizer or scheduler (``opt = build_optimizer(model)``;
    ``opt.step()``) or hands to another in-tree helper. Other imports are never read, so a
    file that imports half a package does not parse it."""
    resolvable = _in_tree_imports(model, tree)
    if not resolvable:
        return {}
    used = _used_texts(model, resolvable)
    heads = set()
    instances = {}  # ``unfreeze = BackboneUnfreeze(...)``: "unfreeze" -> "BackboneUnfreeze"
    # ``finetuned``: the caller of a finetuning callback of the checked file
    finetunes = finetuned or any(name in model.calls_by_name for name in BACKBONE_FINETUNING)
    for _scope, target, value in model.flow_assigns:
        if isinstance(value, (cst.ListComp, cst.DictComp)):
            # ``self.schedulers = [networks.get_scheduler(o, opt) for o in self.optimizers]``
            value = value.elt if isinstance(value, cst.ListComp) else value.value
        if isinstance(value, cst.IfExp):
            # ``backend = DeepSpeedBackend() if args.deepspeed else None``
            arms = [v for v in (value.body, value.orelse) if isinstance(v, cst.Call)]
            value = arms[0] if len(arms) == 1 else value
        if isinstance(value, cst.Call):
            head = _imported_head(resolvable, value.func)
            if head is not None and _bound_texts(target) & used:
                heads.add(head)
            if head is not None and dotted_name(target) is not None:
                instances[dotted_name(target)] = head
            if head is not None and finetunes:
                # ``model = SegModel(...)`` next to ``BackboneFinetuning(...)``: the module
                # whose ``configure_optimizers`` builds what the callback adds a group to
                heads.add(head)
    for _fact, _name, listed in model.listed_args:
        # ``SGD(param_groups(model, cfg))``: the helper's list is the optimizer's groups; also
        # a method of an imported class's instance (``self.model.param_groups(lr, head_lr)``)
        if listed.call is not None:
            head = _imported_head(resolvable, listed.call.func)
            if head is None and isinstance(listed.call.func, cst.Attribute):
                head = instances.get(dotted_name(listed.call.func.value))
            if head is not None:
                heads.add(head)
    for call in model.checkpointers:
        # ``Checkpointer(model=m, optimizer=opt, ...)`` of the project's own module: its
        # ``__init__`` says whether it saves every object it is given (fvcore's copy)
        head = _imported_head(resolvable, call.node.func)
        if head is not None:
            heads.add(head)
    for sched in model.schedulers:
        # ``LambdaLR(opt, make_warmup_cosine(args.lr, ...))``: what the helper returns is the
        # lr_lambda, whose code says whether it returns a factor or an lr (SL106)
        lr_lambda = sched.args.get("lr_lambda")
        head = _lr_lambda_head(model, resolvable, lr_lambda.node) if lr_lambda else None
        if head is not None:
            heads.add(head)
    if any(c.receiver.startswith("self.") and c.method in _STATE_METHODS for c in model.calls):
        # ``class Trainer(BaseTrainer):`` stepping ``self.lr_scheduler``, which the base's
        # ``__init__`` in another module builds: the base's code is this class's too
        bases = {b for c in model.classes for b in c.bases}
        heads.update(
            h
            for h, qualified in resolvable.items()
            if any(b == qualified or b.startswith(qualified + ".") for b in bases)
        )
    flow = None
    for scope, call, _, _ in model.flow_calls:
        head = _imported_head(resolvable, call.func)
        if head is None and isinstance(call.func, cst.Attribute):
            # a method of an imported class's instance handed this file's optimizer
            # (``unfreeze.on_epoch_start(epoch, model, optimizer)``)
            head = instances.get(dotted_name(call.func.value))
        if head is None or head in heads or not call.args:
            continue
        if flow is None:
            flow = model.flow.solve()
        if any(flow.may_carry(flow.eval(a.value, scope)) for a in call.args):
            heads.add(head)
    return {h: model.imports[h] for h in heads}


def _dotted_uses(model: FileModel, imports: dict) -> set:
    """The qualified attribute chains of the imported modules ``imports`` (local name ->
    qualified) that this file calls: ``reidlib.optim.build_lr_scheduler`` of ``import
    reidlib``, which the package's ``__init__.py`` files re-export from another module."""
    out = set()
    for _scope, call, _, _ in model.flow_calls:
        text = dotted_name(call.func)
        if text is None or "." not in text:
            continue
        head, _, rest = text.partition(".")
        qualified = imports.get(head)
        if qualified is not None and "." in rest:
            out.add(f"{qualified}.{rest}")
    return out


def _read_imports_of_imports(model: FileModel, tree) -> None:
    """Follow the imports of the modules this file imports one level further, where that
    code hands them a value that may carry this file's optimizer or scheduler
    (:meth:`Flow.may_carry`, asked of this file's flow) or returns their result from a
    function the flow runs: ``DefaultTrainer.build_lr_scheduler(cfg, optimizer)`` in
    ``engine/defaults.py`` calling ``build_lr_scheduler`` of ``solver/build.py``, or a
    script's ``reidlib.optim.build_optimizer(model)``. Their modules join the flow, with
    the imported module's names bound to what they define (``model.deeper_externals``)."""
    candidates = []
    for m in model.external_models:
        if m is model or not m.imports:
            continue
        resolvable = _in_tree_imports(m, tree)
        calls = [
            (scope, call, head)
            for scope, call, _, _ in m.flow_calls
            if (head := _imported_head(resolvable, call.func)) is not None
        ]
        if calls:
            candidates.append((m, calls))
    if not candidates:
        return
    flow = model.flow.solve()
    returned = _forwarded_results(model, flow, [m for m, _ in candidates])
    added = False
    for m, calls in candidates:
        heads = set()
        for scope, call, head in calls:
            if head in heads:
                continue
            if id(call) in returned or any(
                flow.may_carry(flow.eval(a.value, scope), strict=True) for a in call.args
            ):
                heads.add(head)
        if not heads:
            continue
        wanted = {h: m.imports[h] for h in heads}
        found, models, paths = tree.externals(m.path, wanted, _dotted_uses(m, wanted))
        model.external_paths.update(paths)
        if not found:
            continue
        model.deeper_externals.append((m, found))
        for other in models:
            if other is not model and all(other is not x for x in model.external_models):
                model.external_models.append(other)
        added = True
    if added:
        model._flow = None  # solve again, with the third modules' code


def _forwarded_results(model: FileModel, flow, forwarders) -> set:
    """ids of the calls that a function of one of the modules ``forwarders`` returns
    directly (``return build_optimizer(cfg, model)``), where a call of that function binds
    its result to a name its code then uses as an optimizer or scheduler (``optimizer =
    DefaultTrainer.build_optimizer(cfg, model)``, then ``optimizer.step()``): a factory
    forwarding another module's. A dataset or model factory is left unread."""
    candidates = {
        id(fn.scope): fn
        for m in forwarders
        for infos in m.functions.values()
        for fn in infos
        if any(isinstance(r.node, cst.Call) for r in fn.returns)
    }
    if not candidates:
        return set()
    out, used, bound = set(), {}, None
    for key, fn in candidates.items():
        for _caller, _, call in flow.callers.get(key, ()):
            if bound is None:  # id(call) -> (its model, the target it is assigned to)
                bound = {
                    id(value): (m, target)
                    for m in [model, *model.external_models]
                    for _scope, target, value in m.flow_assigns
                    if isinstance(value, cst.Call)
                }
            found = bound.get(id(call))
            if found is None:
                continue
            m, target = found
            if id(m) not in used:
                used[id(m)] = _used_texts(m, {})
            if _bound_texts(target) & used[id(m)]:
                out.update(id(r.node) for r in fn.returns if isinstance(r.node, cst.Call))
                break
    return out


def _lr_lambda_head(model: FileModel, resolvable, node) -> str | None:
    """The in-tree import an ``lr_lambda`` argument comes from: the function itself
    (``from schedules import lr_at``), the helper whose call builds it, called in place or
    bound to the name passed (``schedule = warmup_linear(args.lr, 500)``), the function a
    ``partial(lr_at, ...)`` binds, or the class whose instance's method it is
    (``self.schedule.lr_at`` of ``self.schedule = WarmupCosine(args.lr, ...)``)."""
    if isinstance(node, cst.Name) and node.value in resolvable:
        return node.value
    if isinstance(node, (cst.Name, cst.Attribute)):
        text = dotted_name(node.value if isinstance(node, cst.Attribute) else node)
        made = [
            value
            for _scope, target, value in model.flow_assigns
            if text is not None and dotted_name(target) == text
        ]
        node = made[0] if len(made) == 1 else None
    if isinstance(node, cst.Call):
        if dotted_name(node.func) in ("partial", "functools.partial") and node.args:
            return _imported_head(resolvable, node.args[0].value)
        return _imported_head(resolvable, node.func)
    return None


def _keys_handed_out_of_sight(model: FileModel, tree) -> set:
    """This module's param-group keys, when an optimizer it builds is handed to a function
    imported from a module the tree lacks and no known library provides: here, or by an
    in-tree module calling the function that builds it (``optimizer =
    create_optimizer(args, model)``, then ``train_one_epoch(model, loader, optimizer)``
    from an ``engine_for_finetuning`` that a folder meant to be copied over another
    checkout leaves out). That function steps the optimizer in code no file of the project
    holds and may set its lr from the keys (``g["lr"] = lr * g["lr_scale"]``), so they
    cannot be called unread. Only a plain call of the imported name counts."""
    if not model.group_keys:
        return set()
    keys = {k.key for k in model.group_keys}
    flow = None
    for scope, call, _, _ in model.flow_calls:
        if _out_of_sight(model, tree, call.func) and call.args:
            flow = flow or model.flow.solve()
            if any(
                isinstance(v, Optimizer) and flow.model_of(v.scope) is model
                for a in call.args
                for v in flow.eval(a.value, scope)
            ):
                return keys
    builders = {_top_level_function(o.scope) for o in model.optimizers} - {None}
    if not builders:
        return set()
    found, paths = tree.importers(model.path, builders)
    model.external_paths.update(paths)
    for importer, bound in found:
        local = {n for n, q in importer.imports.items() if bound.get(q) in builders}
        built = {  # (scope, name) bound to what a builder of this module returns
            (id(scope), name)
            for scope, target, value in importer.flow_assigns
            if isinstance(value, cst.Call) and dotted_name(value.func) in local
            for name in target_names(target)
        }
        for scope, call, _, _ in importer.flow_calls:
            if _out_of_sight(importer, tree, call.func) and any(
                (isinstance(a.value, cst.Name) and (id(scope), a.value.value) in built)
                or (isinstance(a.value, cst.Call) and dotted_name(a.value.func) in local)
                for a in call.args
            ):
                return keys
    return set()


def _top_level_function(scope) -> str | None:
    """The name of the module-level function ``scope`` is code of, else None."""
    while scope.parent is not None and scope.parent.kind != "module":
        scope = scope.parent
    return scope.name if scope.kind == "function" and scope.parent is not None else None


def _out_of_sight(model: FileModel, tree, func) -> bool:
    """``func`` is a name imported from a module that neither the tree nor a known library
    holds: its code is nowhere to read."""
    if not isinstance(func, cst.Name):
        return False
    qualified = model.imports.get(func.value)
    if qualified is None or qualified.lstrip(".").partition(".")[0] in _LIBRARIES:
        return False
    module = qualified.rpartition(".")[0]
    return tree.find(model.path, qualified) is None and not (
        module.strip(".") and tree.find(model.path, module) is not None
    )


def _bound_texts(target) -> set:
    """The names and attributes an assignment binds: ``opt`` and ``self.opt_d, self.opt_g``."""
    elements = [e.value for e in target.elements] if hasattr(target, "elements") else [target]
    return {dotted_name(e) for e in elements} | target_names(target)


def _read_importers(model: FileModel, tree) -> None:
    """Lend the flow the in-tree modules that call this file's classes, when a method here
    steps what the file never binds: ``self.lr_scheduler.step()`` in a ``Trainer`` that
    ``train.py`` builds with ``lr_scheduler=ReduceLROnPlateau(...)``. A caller that builds
    the class in a top-level function (``build_trainer(cfg, model, opt, sched)`` in
    ``trainer_factory.py``) lends, too, the modules calling that function, one level and no
    further. The facts found there stay theirs; only their values reach this file's code."""
    names = _called_classes(model)
    if not names:
        return
    functions = {
        n
        for n, infos in model.functions.items()
        if any(f.scope.parent is not None and f.scope.parent.kind == "module" for f in infos)
    }
    found, paths = tree.importers(model.path, names, also=functions)
    model.external_paths.update(paths)
    if not found:
        return
    lent = {}  # id(importer model) -> (model, {qualified import name: value})
    for m, bound in found:
        lent[id(m)] = (m, _bound_values(model, bound))
    own = os.path.abspath(model.path)
    # A class chain (``BaseTrainer`` <- ``SupervisedTrainer`` <- ``ClassificationTrainer``,
    # each in a module of its own) is followed to its end, up to ``tree.class_chain`` modules:
    # ``train.py`` hands the leaf what reaches the base. A function forwarding the class
    # (``build_trainer``) is followed one level.
    frontier = [(m, bound, names) for m, bound in found]
    for depth in range(tree.class_chain):
        ahead = []
        for m, bound, called in frontier:
            forwarded = _forwarding_functions(m, bound, called)
            if depth and forwarded:
                forwarded &= {c.name for c in m.classes}
            if not forwarded:
                continue
            more, paths = tree.importers(m.path, forwarded)
            model.external_paths.update(paths)
            classes = forwarded & {c.name for c in m.classes}
            for caller, via in more:
                if os.path.abspath(caller.path) == own:
                    continue
                new = id(caller) not in lent
                entry = lent.setdefault(id(caller), (caller, {}))
                entry[1].update(_bound_values(m, via))
                if new and classes:
                    ahead.append((caller, via, classes))
        frontier = ahead
    _lend_callers_factories(model, tree, lent, _handed_methods(model))
    model.importers = list(lent.values())
    model._flow = None  # solve again, with the importers' code


def _lend_callers_factories(model: FileModel, tree, lent: dict, methods=frozenset()) -> None:
    """A lent caller is modelled without its own imports, so ``scheduler =
    build_scheduler(cfg, optimizer)`` from a third module would reach the class as nothing
    known: read the helpers each caller hands its objects to (as :func:`_wanted_imports`
    picks them for a checked file), one level, and lend their modules to the flow too."""
    own = os.path.abspath(model.path)
    # a ``BaseFinetuning`` callback here: the LightningModule its callers fit (``model =
    # ImageClassifier(...)`` imported from ``model.py``) builds the schedulers of the
    # optimizer Lightning hands it
    finetuning = any(is_finetuning_callback(c) for c in model.classes)
    for caller, bound in list(lent.values()):
        wanted = {
            head: qualified
            for head, qualified in {
                **_wanted_imports(caller, tree, finetuned=finetuning),
                **_handed_instances(caller, tree, bound, methods),
                **_kept_aside_classes(caller, tree),
            }.items()
            if qualified not in bound
        }
        if not wanted:
            continue
        found, models, paths = tree.externals(caller.path, wanted)
        model.external_paths.update(paths)
        bound.update({q: v for q, v in found.items() if q not in bound})
        if caller.imported_constructions and not caller.external_models and models:
            # ``scheduler = WarmupMultiStepLR(optimizer, ...)`` of a class the caller imports:
            # a scheduler fact once its module shows a scheduler subclass, as when the caller
            # is checked itself
            caller.externals, caller.external_models = dict(found), list(models)
            caller._flow = None  # solve again, with the classes' modules
            _promote_imported_schedulers(caller)
        for m in models:
            if os.path.abspath(m.path) != own:
                lent.setdefault(id(m), (m, {}))
    for caller, _ in lent.values():
        if caller.registry_calls:
            # ``OPTIMIZERS[name](**kwargs)`` over a registry listing the project's own
            # optimizer classes: their modules say which are optimizers
            _promote_registry_calls(caller, tree)


def _kept_aside_classes(caller: FileModel, tree) -> dict:
    """The imports (local name -> qualified) of the classes a lent caller's factory builds
    on an optimizer, kept aside until their module is read (``scheduler =
    WarmupMultiStepLR(optimizer, ...)`` in one arm of ``get_scheduler``, next to torch
    schedulers in the others): read, the arm is a scheduler, not an unseen value."""
    if not caller.imported_constructions:
        return {}
    resolvable = _in_tree_imports(caller, tree)
    heads = {_imported_head(resolvable, call.func) for _, call, _ in caller.imported_constructions}
    heads.discard(None)
    return {h: caller.imports[h] for h in heads}


def _handed_instances(caller: FileModel, tree, bound: dict, methods=frozenset()) -> dict:
    """The imports (local name -> qualified) of the in-tree classes whose objects ``caller``
    hands to the lent class (``hooks = [UnfreezeEncoder(...)]; FineTuner(..., hooks=hooks)``),
    or to one of its ``methods`` that act on what a parameter holds
    (``self.checkpoint.create_model(BaseModel(cfg), cfg)``): the class runs their methods,
    so their code is read too."""
    called = set()
    for local, qualified in caller.imports.items():
        if qualified in bound:
            called.add(local)
    if not called:
        return {}
    resolvable = {
        head: qualified
        for head, qualified in _in_tree_imports(caller, tree).items()
        if head not in called
    }
    if not resolvable:
        return {}
    values = {}  # (id(scope), name) -> assigned values
    for scope, target, value in caller.flow_assigns:
        if isinstance(target, cst.Name):
            values.setdefault((id(scope), target.value), []).append(value)
    out = {}
    for scope, call, _, _ in caller.flow_calls:
        text = dotted_name(call.func)
        if text is None or (
            text.partition(".")[0] not in called and text.rpartition(".")[2] not in methods
        ):
            continue
        for arg in call.args:
            nodes = [arg.value]
            if isinstance(arg.value, cst.Name):
                nodes += values.get((id(scope), arg.value.value), [])
            for node in nodes:
                for inner in _calls_in(node):
                    head = _imported_head(resolvable, inner.func)
                    if head is not None:
                        out[head] = resolvable[head]
    return out


def _calls_in(node) -> list:
    """The calls in the expression ``node`` (``[UnfreezeEncoder(model.encoder), LogLr()]``)."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, cst.Call):
            out.append(n)
        if isinstance(n, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            continue
        stack.extend(code_children(n))
    return out


def _bound_values(model: FileModel, bound: dict) -> dict:
    """{qualified import name: the ModuleRef of ``model`` or its top-level def or class} for
    a :meth:`Tree.importers` binding."""
    return {q: ModuleRef(model) if n is None else top_level(model, n) for q, n in bound.items()}


def _forwarding_functions(importer: FileModel, bound: dict, names: set) -> set:
    """Names of the top-level functions of ``importer`` that call one of the classes
    ``names`` it imports (``bound``, as :meth:`Tree.importers` gives it): ``build_trainer``
    returning ``Trainer(model, optimizer, lr_scheduler)``; and of its top-level classes
    deriving from one (``class Trainer(BaseTrainer):`` handing its base, through
    ``super().__init__``, the optimizer and scheduler ``train.py`` builds). What their
    callers pass them is what the class is handed."""
    out = set()
    for c in importer.classes:
        for b in c.bases:
            head, _, name = b.rpartition(".")
            derived = bound.get(b) in names or head in bound and bound[head] is None
            if derived and name in names and top_level(importer, c.name) is c:
                out.add(c.name)
    called = set()
    for local, qualified in importer.imports.items():
        if qualified in bound:
            name = bound[qualified]
            # ``from engine.trainer import Trainer as T``: ``T(``; ``import engine.trainer
            # as et``: ``et.Trainer(``
            called |= {local} if name is not None else {f"{local}.{n}" for n in names}
    # a module-level registry listing one (``AVAI_RUNNER = {"sem_runner": SemRunner}``): a
    # function returning what it picks (``return AVAI_RUNNER[name]``) hands its callers the
    # class, and one calling what it picks builds it
    registries = {
        name
        for name, entries in importer.registries.items()
        if any(bound.get(q) in names for _, q in entries)
    }
    for infos in importer.functions.values() if registries else ():
        for f in infos:
            if (
                f.scope.parent is not None
                and f.scope.parent.kind == "module"
                and any(_registry_name(r.node) in registries for r in f.returns)
                and top_level(importer, f.name) is not None
            ):
                out.add(f.name)
    for scope, call, _, _ in importer.flow_calls:
        text = dotted_name(call.func)
        # ``Trainer(...)`` or a factory method of it, ``Trainer.from_config(...)``, or
        # ``AVAI_RUNNER[name](...)``
        if (
            text is None or text not in called and text.rpartition(".")[0] not in called
        ) and _registry_name(call.func) not in registries:
            continue
        top = None
        for s in scope.function_chain():
            if s.kind == "function" and s.parent is not None and s.parent.kind == "module":
                top = s
        if top is not None and top_level(importer, top.name) is not None:
            out.add(top.name)
    return out


def _registry_read(node) -> tuple | None:
    """(``REGISTRY``, the key expression) for ``REGISTRY[key]`` or ``REGISTRY.get(key)``, else
    None; the key is None unless it is the only index or argument (``REGISTRY.get(key, d)``)."""
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name):
        one = len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index)
        return node.value.value, node.slice[0].slice.value if one else None
    if (
        isinstance(node, cst.Call)
        and isinstance(node.func, cst.Attribute)
        and node.func.attr.value == "get"
        and isinstance(node.func.value, cst.Name)
    ):
        one = len(node.args) == 1 and not node.args[0].star and node.args[0].keyword is None
        return node.func.value.value, node.args[0].value if one else None
    return None


def _registry_name(node) -> str | None:
    """``REGISTRY`` for ``REGISTRY[...]`` or ``REGISTRY.get(...)``, else None."""
    read = _registry_read(node)
    return read[0] if read is not None else None


def _loop_functions(model: FileModel) -> set:
    """Names of the top-level functions here, called nowhere in this file, whose own loop
    steps a parameter the flow knows nothing of before the loop nested in it steps again
    (``do_train(cfg, model, loader, optimizer, scheduler)`` calling ``scheduler.step()`` at
    the top of its epoch loop, ``optimizer.step()`` in the batch loop): only the modules
    calling the function (``train.py``) know what it steps. A step after the nested loop is
    judged at those modules' call (SL207's ``train_with_early_stopping(...)``)."""
    flow = None
    out = set()
    for call in model.calls:
        scope = call.scope
        if (
            call.method != "step"
            or call.args
            or call.kwargs
            or call.loop is None
            or not any(
                c.method == "step"
                and c.scope is scope
                and c.order > call.order
                and c.loop is not None
                and c.loop is not call.loop
                and call.loop.contains(c.loop)
                for c in model.calls
            )
            or scope.kind != "function"
            or scope.parent is None
            or scope.parent.kind != "module"
            or scope.name in out
            or call.receiver.partition(".")[0] not in scope.params
        ):
            continue
        if flow is None:
            flow = model.flow.solve()
        if (
            flow.call_sites(scope)
            or flow.schedulers(scope, call.receiver)
            or flow.optimizers(scope, call.receiver)
        ):
            continue
        out.add(scope.name)
    return out


def _ignite_functions(model: FileModel) -> set:
    """Names of the top-level functions here that register an ignite handler stepping what
    the flow knows nothing of (``do_train(cfg, model, loader, optimizer, scheduler)`` whose
    ``Events.EPOCH_STARTED`` handler calls ``scheduler.step()``): ignite, not a call here,
    runs the handler, so only the modules calling the function know what it steps."""
    registering = {_top_level_function(h.scope) for h in model.ignite_handlers} - {None}
    if not registering:
        return set()
    flow = model.flow.solve()
    return {
        name
        for call in model.calls
        if call.method == "step"
        and (name := _top_level_function(call.scope)) in registering
        and not flow.schedulers(call.scope, call.receiver)
        and not flow.optimizers(call.scope, call.receiver)
    }


def _called_classes(model: FileModel) -> set:
    """Names of the top-level classes here (and their subclasses here) whose methods call
    ``step()`` on something the flow knows nothing of (what their callers pass them), or
    step a scheduler in a method no code here calls, outside any loop of its own
    (``def update_lr(self): self.scheduler.step()``): the loop its callers call it in says
    how often it steps; or save or restore the state of an attribute the flow knows
    nothing of (``self.optimizer.state_dict()`` in a base trainer whose subclass, in another
    module, steps the scheduler both were handed); or build an optimizer on the groups a
    method of such an attribute returns (``AdamW(self.model.param_groups(lr, head_lr))`` on
    the model ``train.py`` hands the trainer); or build a scheduler and resume only half of
    the pair (:func:`_half_resumed_classes`)."""
    out = set()
    flow = None
    # A class nested in another (``DistributedTest._DistTestBase``) is no name another
    # module can import and call, so no caller can lend it anything.
    top = {
        id(s.node)
        for s in model.scopes
        if s.kind == "class" and s.parent is not None and s.parent.kind == "module"
    }
    for call in model.calls:
        if call.method not in ("step", "state_dict", "load_state_dict"):
            continue
        if call.method != "step" and _handed_receiver(call):
            # ``model.optimizer.load_state_dict(...)`` on the ``model`` a caller in another
            # module hands ``create_model(self, model, config)``: the callers know what it is
            if flow is None:
                flow = model.flow.solve()
            name = _lent_scope(call.scope, top)
            if (
                name is not None
                and not flow.call_sites(call.scope)
                and all(v is UNKNOWN for v in flow.eval_text(call.scope, call.receiver))
            ):
                out.add(name)
            continue
        cls = next((s.cls for s in call.scope.function_chain() if s.cls is not None), None)
        if cls is None or cls.name in out or id(cls.node) not in top:
            continue
        if flow is None:
            flow = model.flow.solve()
        if call.method != "step":
            # ``self.optimizer.state_dict()`` in a base trainer's checkpoint, on what its
            # constructor is handed: the scheduler a subclass steps may be lost there
            if not call.receiver.startswith("self.") or any(
                v is not UNKNOWN for v in flow.eval_text(call.scope, call.receiver)
            ):
                continue
            out.add(cls.name)
            continue
        schedulers = flow.schedulers(call.scope, call.receiver)
        if schedulers and (
            call.loop is not None
            or call.scope.cls is None
            or flow.call_sites(call.scope)
            or call.scope.name.startswith("_")
        ):
            continue
        if not schedulers and flow.optimizers(call.scope, call.receiver):
            continue
        out.add(cls.name)
    for sched in model.schedulers:
        # ``OneCycleLR(self.opt, max_lr=max_lr)`` in a method no code here calls: the bound is
        # what the class's callers pass (``learn.fit_one_cycle(5, max_lr=1e-3)``)
        cls, params = sched.scope.cls, sched.scope.params
        if cls is None or cls.name in out or id(cls.node) not in top:
            continue
        bounds = [sched.args.get(b) for b in catalogue.GROUP_BOUNDS.get(sched.cls, ())]
        if any(b is not None and b.kind == "name" and b.src in params for b in bounds):
            if flow is None:
                flow = model.flow.solve()
            if not flow.call_sites(sched.scope):
                out.add(cls.name)
    for sched in model.schedulers:
        # ``LambdaLR(optimizer, lambda e: lr)`` in a top-level factory no code here calls
        # (``make_scheduler(optimizer, cfg)``): whether the lambda returns a factor or the
        # lr depends on the groups of the optimizer its callers hand it
        scope = sched.scope
        if (
            sched.optimizer is not None
            or "lr_lambda" not in sched.args
            or scope.kind != "function"
            or scope.parent is None
            or scope.parent.kind != "module"
            or sched.optimizer_src not in scope.params
            or scope.name in out
        ):
            continue
        if flow is None:
            flow = model.flow.solve()
        if not flow.call_sites(scope):
            out.add(scope.name)
    for cls in _dispatching_classes(model, top, out):
        out.add(cls.name)
    for write in model.lr_writes:
        # ``group["lr"] = self.fns[i](epoch, lr)`` in a hand-written scheduler whose decay
        # functions ``train.py`` hands the constructor: only the callers know what runs there
        cls = next((s.cls for s in write.scope.function_chain() if s.cls is not None), None)
        if cls is None or cls.name in out or id(cls.node) not in top:
            continue
        values = [write.value.node]
        if isinstance(values[0], cst.Name):
            values = model.assignments(write.scope, values[0].value)
        if len(values) != 1 or not isinstance(values[0], cst.Call):
            continue
        func = values[0].func
        if not (dotted_name(getattr(func, "value", None) or func) or "").startswith("self."):
            continue
        if flow is None:
            flow = model.flow.solve()
        if not model.callees(func, write.scope):
            out.add(cls.name)
    for call in model.calls:
        # a Lightning ``BaseFinetuning`` callback adding a group: the module whose optimizers
        # Lightning hands it is the callers' (``Trainer(callbacks=[Unfreeze()]).fit(module)``)
        cls = call.scope.cls
        if (
            call.method == "add_param_group"
            and cls is not None
            and id(cls.node) in top
            and is_finetuning_callback(cls)
        ):
            out.add(cls.name)
    for cls in _half_resumed_classes(model, top, out):
        out.add(cls.name)
    out |= _ignite_functions(model)
    out |= _loop_functions(model)
    for fact, _name, listed in model.listed_args:
        # ``AdamW(self.model.param_groups(cfg.base_lr, cfg.head_lr))`` on the model a caller
        # hands the class: its groups are what that model's class builds
        if (
            not isinstance(fact, Optimizer)
            or listed.call is None
            or not isinstance(listed.call.func, cst.Attribute)
            or not (dotted_name(listed.call.func.value) or "").startswith("self.")
        ):
            continue
        cls = next((s.cls for s in fact.scope.function_chain() if s.cls is not None), None)
        if cls is None or cls.name in out or id(cls.node) not in top:
            continue
        if flow is None:
            flow = model.flow.solve()
        if not flow.callees(listed.call, listed.scope):
            out.add(cls.name)
    for name in list(out):
        out |= {
            c.name
            for c in model.classes
            if any(b.rpartition(".")[2] == name for b in c.bases) and id(c.node) in top
        }
    return out


def _handed_methods(model: FileModel) -> set:
    """Names of the methods here that save or restore the state of what a parameter holds
    (``create_model(self, model, config)`` calling ``model.optimizer.load_state_dict``)."""
    return {
        c.scope.name
        for c in model.calls
        if c.method in ("state_dict", "load_state_dict")
        and c.scope.cls is not None
        and _handed_receiver(c)
    }


def _handed_value(call) -> bool:
    """The receiver of ``call`` is a parameter of its function, or read from one:
    ``optimizer`` or ``state["optimizer"]`` in ``def restore(path, optimizer, state)``."""
    head = re.match(r"\w*", call.receiver).group()
    return head != "self" and head in call.scope.params


def _handed_receiver(call) -> bool:
    """The receiver of ``call`` is an attribute of a parameter of its function, not ``self``:
    ``model.optimizer`` in ``def resume(model, path)``."""
    head, dot, _ = call.receiver.partition(".")
    return bool(dot) and head != "self" and head in call.scope.params


def _lent_scope(scope, top: set) -> str | None:
    """The name another module imports to run ``scope``: its top-level class, or the
    top-level function it is."""
    cls = next((s.cls for s in scope.function_chain() if s.cls is not None), None)
    if cls is not None:
        return cls.name if id(cls.node) in top else None
    return _top_level_function(scope)


def _half_resumed_classes(model: FileModel, top: set, known: set) -> list:
    """Top-level classes that build their scheduler and whose methods resume only half of
    the pair, when nothing in the file saves or loads a scheduler's state: the optimizer's
    state saved or loaded (``self.optimizer.load_state_dict(state["optimizer"])`` in
    ``load``), or the scheduler's counter moved by hand (``self.scheduler.last_epoch =
    ckpt["epoch"]`` in ``resume``). The script calling the class may restore the other half
    right after (``trainer.load(state); trainer.scheduler.load_state_dict(...)``)."""
    if not model.schedulers or any(
        c.method == "load_state_dict" and isinstance(t, Scheduler)
        for c in model.calls
        for t in c.targets
    ):
        return []

    def top_class(scope):
        cls = next((s.cls for s in scope.function_chain() if s.cls is not None), None)
        if cls is None or cls.name in known or id(cls.node) not in top:
            return None
        return cls

    saved = any(
        c.method == "state_dict" and isinstance(t, Scheduler)
        for c in model.calls
        for t in c.targets
    )
    out = []
    for call in model.calls:
        if (
            call.method not in ("state_dict", "load_state_dict")
            or saved
            and call.method == "state_dict"
        ):
            continue
        cls = top_class(call.scope)
        if (
            cls is not None
            and call.receiver.startswith("self.")
            and any(isinstance(t, Optimizer) for t in call.targets)
            and all(c is not cls for c in out)
        ):
            out.append(cls)
    for r in model.rebinds:
        receiver, _, attr = r.target.rpartition(".")
        cls = top_class(r.scope) if attr == "last_epoch" and receiver.startswith("self.") else None
        if cls is not None and all(c is not cls for c in out):
            out.append(cls)
    return out


def _dispatching_classes(model: FileModel, top: set, known: set) -> list:
    """Top-level classes with a method that hands an optimizer built here to a method of an
    object nothing in the file binds (``hook.on_epoch_begin(epoch, self.optimizer)`` for each
    of the ``hooks`` a caller passed in): what that method does to it is the callers' code."""
    if not model.optimizers:
        return []  # nothing of this file's to hand over (and no flow to solve for it)
    out = []
    flow = None
    for scope, call, _, _ in model.flow_calls:
        if not isinstance(call.func, cst.Attribute) or not call.args:
            continue
        cls = next((s.cls for s in scope.function_chain() if s.cls is not None), None)
        if cls is None or cls.name in known or id(cls.node) not in top or cls in out:
            continue
        receiver = call.func.value
        head = (dotted_name(receiver) or "").partition(".")[0]
        own = isinstance(receiver, cst.Name) and head in ("self", "cls")
        if not head or head in model.imports or own:
            continue  # ``nn.functional.relu(x)``, ``self.log(...)``: not a passed-in object
        if flow is None:
            flow = model.flow.solve()
        if flow.eval(receiver, scope) - {UNKNOWN}:
            continue
        if any(isinstance(v, Optimizer) for a in call.args for v in flow.eval(a.value, scope)):
            out.append(cls)
    return out


def _container(iterable):
    """``scheds`` of ``scheds``, ``scheds.values()`` and ``scheds.items()``."""
    if (
        isinstance(iterable, cst.Call)
        and isinstance(iterable.func, cst.Attribute)
        and iterable.func.attr.value in ("values", "items")
        and not iterable.args
    ):
        return iterable.func.value
    return iterable


def _own_writes_through_import(model: FileModel, other: FileModel) -> None:
    """The lr writes into ``self.param_groups`` of an optimizer class of ``other`` (in its
    ``step()``), for each optimizer of that class (or of a subclass of it) built here,
    re-anchored at the construction: the groups written are the ones built there."""
    built = [o for o in model.optimizers if o.local_class is not None]
    if not built:
        return
    flow = model.flow
    for write in other.lr_writes:
        cls = _method_class(write.scope)
        if write.optimizer_src != "self" or cls is None or not cls.is_optimizer_subclass:
            continue
        for opt in built:
            if opt.local_class is not cls and not flow.derives(opt.local_class, cls):
                continue
            model.lr_writes.append(
                replace(
                    write,
                    node=opt.node,
                    scope=opt.scope,
                    order=opt.order,
                    loop=opt.loop,
                    optimizer_src=opt.target or write.optimizer_src,
                    optimizer=opt,
                    optimizers=(opt,),
                    in_class=None,
                    via=write,
                )
            )


def _through_imports(model: FileModel) -> None:
    """Facts of imported in-tree modules that act on this file's objects, re-anchored at the
    call in this file that reaches them (``utils.adjust_lr(opt, e)``): lr writes into
    ``model.lr_writes``, step calls (and ``add_param_group``) into
    ``model.calls_via_imports``."""
    flow = model.flow
    local = {id(s) for s in model.scopes}
    # the modules lent by callers too: a hook class ``train.py`` hands this file's trainer
    for other in model.other_models():
        for write in other.lr_writes:
            if write.optimizer_src is None:
                continue
            opts = flow.optimizers(write.scope, write.optimizer_src)
            if not opts:
                continue
            for scope, order, call, loop in flow.local_call_sites(write.scope, local):
                src = next(
                    (
                        dotted_name(a.value)
                        for a in call.args
                        if dotted_name(a.value)
                        and set(flow.optimizers(scope, dotted_name(a.value))) & set(opts)
                    ),
                    None,
                )
                model.lr_writes.append(
                    LrWrite(
                        node=call,
                        scope=scope,
                        order=order,
                        loop=loop,
                        optimizer_src=src or write.optimizer_src,
                        op=write.op,
                        value=write.value,
                        all_groups=write.all_groups,
                        group_var=write.group_var,
                        index_var=write.index_var,
                        depends_on_group=write.depends_on_group,
                        reads_current_lr=write.reads_current_lr,
                        type_dispatched=write.type_dispatched,
                        optimizer=opts[0],
                        optimizers=tuple(opts),
                        via=write,
                    )
                )
        for ckpt in other.checkpoints:
            _checkpoint_through_import(model, flow, local, ckpt)
        _own_writes_through_import(model, other)
        for mcall in other.calls:
            # ``add_param_group`` too: a helper that unfreezes a backbone
            # (``utils.unfreeze_backbone(model, optimizer)``) grows this file's optimizer
            # ``load_state_dict`` too, in a resume function restoring what it is handed
            # (``resume_from_checkpoint(path, model, optimizer=optimizer)``); a method's
            # restore of ``self.optimizer`` is the class's own business, checked in its file
            if mcall.method == "load_state_dict":
                if mcall.scope.cls is not None or not _handed_value(mcall):
                    continue
            elif mcall.method not in ("step", "optimizer_step", "zero_grad", "add_param_group"):
                continue
            targets = flow.optimizers(mcall.scope, mcall.receiver) + flow.schedulers(
                mcall.scope, mcall.receiver
            )
            stepped = None  # ``scaler.step(optimizer)`` in the helper
            scaler_step = (
                not targets
                and mcall.method in ("step", "optimizer_step")
                and mcall.args
                and mcall.args[0].ref
            )
            if scaler_step:
                opts = flow.optimizers(mcall.scope, mcall.args[0].ref)
                stepped = opts[0] if len(opts) == 1 else None
            for scope, order, call, loop in flow.local_call_sites(mcall.scope, local):
                # the helper's parameter is what this call hands it (a helper every trainer
                # of the project calls is stepped with each one's optimizer)
                here = _argument_values(
                    flow, mcall, call, mcall.args[0].ref if scaler_step else mcall.receiver
                )
                site_targets, site_stepped = targets, stepped
                if here is not None and scaler_step:
                    opts = [v for v in here if isinstance(v, Optimizer)]
                    site_stepped = opts[0] if len(opts) == 1 else None
                elif here is not None:
                    site_targets = [v for v in here if isinstance(v, (Optimizer, Scheduler))]
                if not site_targets and site_stepped is None:
                    continue
                model.calls_via_imports.append(
                    MethodCall(
                        node=call,
                        scope=scope,
                        order=order,
                        loop=loop,
                        receiver=mcall.receiver,
                        method=mcall.method,
                        args=mcall.args,
                        kwargs=mcall.kwargs,
                        target=site_targets[0] if len(site_targets) == 1 else None,
                        targets=tuple(site_targets),
                        optimizer_arg=site_stepped,
                        via=mcall,
                        snapshot=mcall.snapshot,
                    )
                )


def _methods_of_handed_objects(model: FileModel, tree) -> None:
    """``self.model.unfreeze_encoder(self.optimizer, lr)`` on an object this file is only
    handed (a trainer given its model by a script the tree may not hold): the one method of
    that name defined next to this file says what the call does to the optimizer it passes.
    Its ``add_param_group`` on that parameter is anchored at the call here (SL302)."""
    flow = model.flow
    wanted = {}
    for scope, call, order, loop in model.flow_calls:
        func = call.func
        if not isinstance(func, cst.Attribute) or any(a.star for a in call.args):
            continue
        if any(v is not UNKNOWN for v in flow.eval(func.value, scope)) or flow.callees(call, scope):
            continue  # an object the flow knows: its methods are read through the imports
        if any(isinstance(v, Optimizer) for a in call.args for v in flow.eval(a.value, scope)):
            wanted.setdefault(func.attr.value, []).append((scope, call, order, loop))
    if not wanted:
        return
    read = []
    found = tree.defining_methods(model.path, wanted, read)
    model.external_paths.update(read)
    for name, paths in found.items():
        defs = [
            (other, f)
            for other in filter(None, map(tree.model, paths))
            for f in other.functions.get(name, ())
            if f.scope.cls is not None
        ]
        if len(defs) != 1:
            continue  # several classes define it: which one runs is the caller's
        other, fn = defs[0]
        added = [
            c
            for c in other.calls
            if c.method == "add_param_group" and c.scope is fn.scope and c.receiver in fn.params[1:]
        ]
        for mcall in added:
            for scope, call, order, loop in wanted[name]:
                arg = _bound_argument(fn.node, call, mcall.receiver, bound=1)
                opts = [v for v in flow.eval(arg, scope) if isinstance(v, Optimizer)] if arg else []
                if len(opts) != 1:
                    continue
                if all(m is not other for m in model.external_models):
                    # where the group is added is told, and placed, in that module
                    model.external_models = [*model.external_models, other]
                model.calls_via_imports.append(
                    MethodCall(
                        node=call,
                        scope=scope,
                        order=order,
                        loop=loop,
                        receiver=mcall.receiver,
                        method=mcall.method,
                        args=mcall.args,
                        kwargs=mcall.kwargs,
                        target=opts[0],
                        targets=(opts[0],),
                        via=mcall,
                    )
                )


def _argument_values(flow, mcall, call, text):
    """What the call ``call`` of the function ``mcall`` is in hands the parameter ``text``
    names (sorted facts), when ``call`` runs that function directly and binds it; else
    None (the flow's values, merged over every call, stand)."""
    if not text or text not in mcall.scope.params:
        return None
    entry = flow.arguments.get(id(mcall.scope), {}).get(id(call))
    if entry is None or entry[1] is None or text not in entry[1]:
        return None
    caller, bound = entry
    found = [v for v in flow.eval(bound[text], caller) if isinstance(v, (Optimizer, Scheduler))]
    return sorted(found, key=lambda v: v.order)


def _checkpoint_through_import(model, flow, local, ckpt) -> None:
    """A checkpoint dict an imported helper builds from this file's optimizer
    (``save_checkpoint(path, model, optimizer, epoch)``), anchored at each local call."""
    saved = []
    for mcall in ckpt.state_dicts:
        opts = flow.optimizers(mcall.scope, mcall.receiver)
        if len(opts) == 1:
            saved.append((mcall, opts[0]))
    if not saved:
        return
    for scope, order, call, loop in flow.local_call_sites(ckpt.scope, local):
        state_dicts = []
        for mcall, opt in saved:
            src = next(
                (
                    dotted_name(a.value)
                    for a in call.args
                    if dotted_name(a.value) and opt in flow.optimizers(scope, dotted_name(a.value))
                ),
                mcall.receiver,
            )
            state_dicts.append(
                MethodCall(
                    node=call,
                    scope=scope,
                    order=order,
                    loop=loop,
                    receiver=src,
                    method="state_dict",
                    target=opt,
                    targets=(opt,),
                    via=mcall,
                )
            )
        model.checkpoints.append(
            Checkpoint(
                node=call,
                scope=scope,
                order=order,
                loop=loop,
                state_dicts=state_dicts,
                opaque=ckpt.opaque,
                via=ckpt,
            )
        )
