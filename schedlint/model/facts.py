"""The per-file model: what one source file does with optimizers and schedulers.

Built once per file by :mod:`schedlint.model.builder` in a single pass over the libcst tree, then
read by every rule. It is plain data: facts in source order, each with the libcst node it
came from (used only to locate findings) and an ``order`` index that says what runs before
what inside a scope. Nothing here walks the syntax tree again.

Vocabulary:
- a *binding key* names what an expression like ``opt`` or ``self.scheduler`` refers to: the
  scope that owns the name (the function that assigns it, the class for ``self.x``, or the
  module) plus the text. Two facts about the same binding key talk about the same variable.
- a *Value* is a summary of an expression: its source text, the literal number it folds to,
  the names it reads, its length if it is a list/tuple literal.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from typing import Any

from schedlint.model import catalogue
from schedlint.model.lines import split_lines
from schedlint.model.summaries import FileFacts, ProjectFacts  # noqa: F401  (re-exported)


@dataclass(eq=False)
class Value:
    src: str
    node: Any = field(repr=False)
    kind: str  # number|str|none|bool|list|tuple|dict|name|attr|call|lambda|comp|other
    number: float | None = None
    string: str | None = None
    items: tuple = ()  # Values, for list/tuple literals
    names: frozenset = frozenset()  # every bare Name read anywhere in the expression
    attributes: frozenset = frozenset()  # every attribute chain read in it ("self.loader")
    dotted: str | None = None  # "args.lr" for Name/Attribute chains
    # ``dotted``, or a subscript of one by a literal or a name: "self.optimizers['disc']"
    ref: str | None = None
    call: str | None = None  # qualified (or dotted) callee, when kind == "call"
    call_method: str | None = None  # last attribute of the callee ("state_dict")
    call_receiver: str | None = None  # dotted receiver of a method call ("opt")
    subscripts: tuple = ()  # dotted text of every ``x["key"]`` read: ("g['lr']",)
    strings: frozenset = frozenset()  # string literals anywhere inside
    lens: tuple = ()  # text of X for every ``len(X)`` inside ("train_loader", "self.data")
    operators: frozenset = frozenset()  # binary arithmetic inside: "*", "/", "//", "**", ...

    @property
    def length(self) -> int | None:
        return len(self.items) if self.kind in ("list", "tuple") else None

    @property
    def is_sequence(self) -> bool:
        return self.kind in ("list", "tuple", "comp")


@dataclass(eq=False)
class Scope:
    id: int
    kind: str  # module|class|function
    name: str
    node: Any = field(repr=False)
    parent: Scope | None = field(default=None, repr=False)
    params: tuple = ()
    assigned: set = field(default_factory=set)
    # name -> the Listed it certainly holds here (None once mutated elsewhere, handed to a
    # call that may mutate it, or bound in a branch or loop)
    literals: dict = field(default_factory=dict, repr=False)
    # name -> the Listed it held at the end of each ``if``/``try`` arm that bound it, until
    # it is bound again outside one (``params = [{...}, {...}]`` in one arm of ``if
    # args.same_lr:``)
    arm_literals: dict = field(default_factory=dict, repr=False)
    # name -> texts of the iterables it may be another view of (``pbar = tqdm(loader)``)
    views: dict = field(default_factory=dict, repr=False)
    cls: ClassInfo | None = field(default=None, repr=False)  # enclosing class of a method

    def function_chain(self):
        s = self
        while s is not None:
            yield s
            s = s.parent


@dataclass(eq=False)
class Loop:
    id: int
    kind: str  # for|while|comp
    node: Any = field(repr=False)
    parent: Loop | None = field(default=None, repr=False)
    scope: Scope | None = field(default=None, repr=False)
    targets: frozenset = frozenset()
    iter: Value | None = None
    range_stop: Value | None = None  # N of ``range(N)`` / ``range(start, N)``
    # What the loop walks, seen through names bound earlier in its scope to another name or to
    # a batch view of one: ``pbar = tqdm(loader); for b in pbar`` walks ``loader``'s batches.
    iter_views: frozenset = frozenset()
    groups_of: str | None = None  # optimizer text when the loop walks its param_groups
    group_var: str | None = None  # ``g`` in ``for g in opt.param_groups``
    index_var: str | None = None  # ``i`` in ``for i in range(len(opt.param_groups))``
    tainted: set = field(default_factory=set)  # names that depend on the group in the body
    assigned: set = field(default_factory=set)  # plain names bound by ``=`` in the body
    # Values of ``N`` in ``if counter >= N: break`` (or ``return``) in the body: a count that ends the loop
    # (``completed_steps >= args.max_train_steps``), whatever the loop walks
    exit_bounds: list = field(default_factory=list)
    order: int = 0
    end_order: int = 0  # order index after the loop body

    def ancestors(self):
        loop = self
        while loop is not None:
            yield loop
            loop = loop.parent

    def contains(self, other: Loop) -> bool:
        return any(ancestor is self for ancestor in other.ancestors())


@dataclass(eq=False)
class Group:
    """One param-group dict literal passed to an optimizer."""

    node: Any = field(repr=False)
    lr: Value | None = None
    keys: dict = field(default_factory=dict)  # key -> Value (without "params")
    scope: Scope | None = field(default=None, repr=False)  # where its values are read


@dataclass(eq=False)
class Listed:
    """The entries a list certainly holds where it is read: a literal, a literal grown by
    ``append``/``extend``/``+=`` in straight-line code before the read, or what a helper call
    returns (``call``, followed through the value flow after the walk)."""

    scope: Scope = field(repr=False)
    order: int
    items: tuple | None = field(default=None, repr=False)  # entry nodes, in order
    call: Any = field(default=None, repr=False)
    # ``self.param_groups`` read in a method that did not bind it: the list another method
    # of the class binds (followed after the walk, :attr:`ClassInfo.list_attrs`)
    attr: str | None = None
    # ``[{"params": m.parameters(), "lr": lr} for m, lr in zip(parts, lrs)]``, returned by a
    # helper or written inline: the comprehension, and per ``zip`` operand the Listed it
    # certainly is here or the parameter whose argument each call hands it, or the one
    # ``LR_MULTS.items()`` call it iterates (followed after the walk)
    comp: Any = field(default=None, repr=False)
    sources: tuple = field(default=(), repr=False)


@dataclass(eq=False)
class GroupDict:
    """A param-group dict written anywhere in the code (a dict literal or ``dict(...)`` with a
    ``params`` key), wherever it ends up: a helper's return value, a list built in a loop."""

    node: Any = field(repr=False)
    scope: Scope = field(repr=False)
    lr: Value | None = None
    loop: Loop | None = field(default=None, repr=False)  # the innermost loop writing it


_ANY = object()  # schedulers_reached: whatever optimizer

# Names that say a group's "lr" holds a multiplier of the base lr, not an lr.
_MULTIPLIER_NAME = re.compile(r"(^|_)(mult|mul|multiplier|scale|factor|ratio)(_|$)")


@dataclass(eq=False)
class Site:
    """One place code runs from: a fact itself, or a call that (transitively) runs it."""

    scope: Scope = field(repr=False)
    node: Any = field(repr=False)
    order: int = 0
    loop: Loop | None = field(default=None, repr=False)
    here: bool = True  # code of the checked file (not of a module it imports)

    @property
    def loops(self):
        return tuple(self.loop.ancestors()) if self.loop else ()


@dataclass(eq=False)
class Fact:
    node: Any = field(repr=False)
    scope: Scope = field(repr=False)
    order: int
    loop: Loop | None = field(repr=False)

    @property
    def loops(self):
        return tuple(self.loop.ancestors()) if self.loop else ()


@dataclass(eq=False)
class Optimizer(Fact):
    target: str
    key: tuple
    cls: str  # short class name
    default_lr: Value | None = None
    groups: list | None = None  # [Group]; None when the groups are not statically known
    params: Value | None = field(default=None, repr=False)  # the first argument, as written
    # the groups one arm of an ``if`` builds for ``params`` when ``groups`` is unknown (the
    # name is bound differently in another arm): what the optimizer holds on that path
    branch_groups: list | None = field(default=None, repr=False)
    # the class of this file it constructs, when a subclass of a torch optimizer
    local_class: ClassInfo | None = field(default=None, repr=False)

    def in_branch(self):
        """This optimizer as the arm of an ``if`` that builds its groups (``params =
        [{..., "lr": lr / 10}, {..., "lr": lr}]`` under ``else:``) makes it, or None."""
        if self.branch_groups is None:
            return None
        return replace(self, groups=self.branch_groups, branch_groups=None)

    def group_lrs(self):
        """Each group's lr as a Value (the default for groups without one), or None."""
        if self.groups is None:
            return None
        return [g.lr if g.lr is not None else self.default_lr for g in self.groups]

    def distinct_lrs(self):
        """The distinct group lr texts if the groups certainly differ, else None."""
        lrs = self.group_lrs()
        if not lrs or len(lrs) < 2:
            return None
        # Texts compare only within one scope: a helper's ``base_lr`` may be this
        # ``args.lr``, and its ``lr`` another variable than the ``lr`` here.
        texts_from = {
            id(g.scope if g.lr is not None and g.scope is not None else self.scope)
            for g, v in zip(self.groups, lrs)
            if v is not None and v.number is None
        }
        if len(texts_from) > 1:
            return None
        seen = {}
        for v in lrs:
            if v is None:
                key = ("default", None)
            elif v.number is not None:
                key = ("number", v.number)
            else:
                key = ("src", v.src)
            seen.setdefault(key, v.src if v is not None else "the default")
        return list(seen.values()) if len(seen) > 1 else None


@dataclass(eq=False)
class Scheduler(Fact):
    target: str | None
    key: tuple | None
    cls: str  # short: "StepLR", "get_linear_schedule_with_warmup", or a local subclass name
    origin: str  # torch|transformers|custom|config (a class a config file names), or a library
    args: dict = field(default_factory=dict)  # name -> Value
    # the names of ``args`` given by position (``get_..._with_warmup(opt, a, b)``), in order
    positional: tuple = ()
    optimizer_src: str | None = None
    optimizer: Optimizer | None = field(default=None, repr=False)
    children: list = field(default_factory=list, repr=False)  # for Sequential/Chained
    # arg -> the entries of a list argument where certainly known (a literal, a name bound
    # to one and grown by appends; for a composite's ``schedulers``, a helper's return too):
    # (node, scope, order) triples.
    lists: dict = field(default_factory=dict, repr=False)
    optimizers: tuple = field(default=(), repr=False)  # every optimizer it may be bound to
    parent: Scheduler | None = field(default=None, repr=False)
    # the ``functools.partial(cls, ...)`` call whose arguments it was built with first
    # (they are written there, where the optimizer the call hands it is not in scope)
    partial: Any = field(default=None, repr=False)
    # the torch classes a module-level registry may hand the call for a key read at run time
    # (``AVAI_SCH[cfg.name](optimizer)`` over ``{"cosine": CosineAnnealingLR, ...}``), then
    # recorded as ``CHOSEN_BY_NAME``; () when the class is known or chosen otherwise
    candidates: tuple = field(default=(), repr=False)

    @property
    def members(self) -> tuple | None:
        """The entries of a SequentialLR/ChainedScheduler ``schedulers`` list, if known."""
        return self.lists.get("schedulers") if self.cls in catalogue.COMPOSITE else None

    @property
    def closed_form(self) -> bool:
        return catalogue.is_closed_form(self.cls)

    @property
    def chainable(self) -> bool:
        return self.cls in catalogue.CHAINABLE


@dataclass(eq=False)
class MethodCall(Fact):
    """``receiver.method(...)`` where the receiver is a Name or attribute chain."""

    receiver: str
    method: str
    args: tuple = ()  # positional Values
    kwargs: dict = field(default_factory=dict)
    target: Any = field(default=None, repr=False)  # resolved Optimizer/Scheduler, or None
    optimizer_arg: Optimizer | None = field(default=None, repr=False)  # scaler.step(opt)
    targets: tuple = field(default=(), repr=False)  # every Optimizer/Scheduler it may be
    via: MethodCall | None = field(default=None, repr=False)  # see LrWrite.via
    # ``load_state_dict`` of a snapshot the same function took of the same object
    # (``saved = copy.deepcopy(opt.state_dict())``): a restore, not a resume
    snapshot: bool = False
    # the ``with accelerator.accumulate(model):`` statement the call runs in, if any
    accumulating: Any = field(default=None, repr=False)


@dataclass(eq=False)
class LrWrite(Fact):
    """A write to a param group's ``lr``."""

    optimizer_src: str | None
    op: str  # "=", "*=", "/=", "update", ...
    value: Value
    all_groups: bool  # inside a loop over every group (or a comprehension / map over them)
    group_var: str | None = None
    index_var: str | None = None
    depends_on_group: bool = False
    reads_current_lr: bool = False  # the value reads this group's current lr
    # the written name is one an ``if isinstance(name, ...)`` around the write dispatches on:
    # a helper taking a scalar or a per-group list, whose scalar arm may never run
    type_dispatched: bool = False
    optimizer: Optimizer | None = field(default=None, repr=False)
    in_class: ClassInfo | None = field(default=None, repr=False)
    # Every optimizer the written groups may belong to (through parameters, attributes,
    # factories and in-tree imports); ``optimizer`` is the one a flat script names.
    optimizers: tuple = field(default=(), repr=False)
    # The write in an imported module this fact stands for (anchored at the local call).
    via: LrWrite | None = field(default=None, repr=False)


@dataclass(eq=False)
class Rebind(Fact):
    """An assignment to a tracked-looking target (``opt = ...``)."""

    target: str
    key: tuple
    value: Value | None = None
    unpacked: bool = False  # bound by unpacking (``model, sched = prepare(model, sched)``)


@dataclass(eq=False)
class Checkpoint(Fact):
    """A dict literal (``{...}`` or ``dict(...)``) holding ``X.state_dict()`` values: what a
    checkpoint saves together. Only the outermost such dict is recorded."""

    target: str | None = None  # variable it is assigned to (``ckpt = {...}``)
    state_dicts: list = field(default_factory=list, repr=False)  # MethodCalls inside it
    opaque: bool = False  # ``**other`` inside: it may hold more than is seen
    # The dict built in an imported module this fact stands for (anchored at the local call).
    via: Checkpoint | None = field(default=None, repr=False)


@dataclass(eq=False)
class FunctionInfo:
    name: str
    node: Any = field(repr=False)
    scope: Scope = field(repr=False)
    params: tuple = ()
    returns: list = field(default_factory=list)  # Values of return statements (direct only)
    # Those of ``returns`` reached only at a scheduler's initial step, under ``if
    # self.last_epoch == 0:`` (the lr the schedule starts from, not the one it keeps).
    first_step_returns: list = field(default_factory=list)
    # Those reached only once the counter is past a bound (``if self.last_epoch >
    # self.max_steps:``): where the schedule has ended, not the lr it runs at.
    past_end_returns: list = field(default_factory=list)
    # One entry per ``return <value>``: the Listed it certainly returns, or None.
    listed_returns: list = field(default_factory=list, repr=False)
    module_path: str | None = None  # set on definitions read from another in-tree module
    # The body calls the method it overrides (``super().step(metric)``): the base's code
    # still runs for the subclass.
    extends_super: bool = False
    takes_keywords: bool = False  # a ``**kwargs`` parameter


@dataclass(eq=False)
class ClassInfo:
    name: str
    node: Any = field(repr=False)
    bases: tuple = ()  # qualified or dotted base names
    is_scheduler_subclass: bool = False
    # derives (here) from a torch optimizer class or ``torch.optim.Optimizer``: constructing
    # it builds an optimizer, and ``self.param_groups`` in its methods are that optimizer's
    is_optimizer_subclass: bool = False
    methods: dict = field(default_factory=dict)  # name -> FunctionInfo
    writes_group_lr: bool = False
    # attribute -> [(method Scope, the Listed ``self.<attribute>`` holds when the method
    # ends or first calls another method of ``self``, or None)]: one entry per method that
    # binds it (``self.param_groups = [...]`` grown by ``append`` in ``__init__``)
    list_attrs: dict = field(default_factory=dict, repr=False)

    @property
    def looks_like_scheduler(self) -> bool:
        """A torch scheduler subclass, or a class with a ``step`` that writes group lrs."""
        return self.is_scheduler_subclass or (
            self.writes_group_lr
            and any(
                m in self.methods
                for m in (
                    "step",
                    "step_update",
                    "get_lr",
                    "_set_lr",
                    "set_lr",
                    "update_lr",
                    "adjust_lr",
                )
            )
        )


@dataclass(eq=False)
class KeyUse:
    key: str
    node: Any = field(repr=False)


# FileModel's lists of facts, each with the scope it was recorded in, that make the scope act
# on an optimizer or scheduler (FileModel.acting_scopes).
ACTING_FACTS = (
    "optimizers",
    "schedulers",
    "calls",
    "calls_via_imports",
    "lr_writes",
    "checkpoints",
    "checkpointers",
    "group_dicts",
    "lightning",
    "accelerate_calls",
    "deepspeed_inits",
)


@dataclass
class FileModel:
    path: str
    source: str = field(repr=False)
    module: Any = field(repr=False)
    imports: dict = field(default_factory=dict)  # local name -> qualified name
    star_imports: list = field(default_factory=list)  # qualified modules of ``import *``
    scopes: list = field(default_factory=list)
    loops: list = field(default_factory=list)
    optimizers: list = field(default_factory=list)
    schedulers: list = field(default_factory=list)
    calls: list = field(default_factory=list)  # MethodCall
    lr_writes: list = field(default_factory=list)
    rebinds: list = field(default_factory=list)
    functions: dict = field(default_factory=dict)  # name -> [FunctionInfo]
    classes: list = field(default_factory=list)
    calls_by_name: dict = field(default_factory=dict)  # qualified/dotted callee -> [Value]
    group_keys: list = field(default_factory=list)  # custom keys in param-group dicts (KeyUse)
    read_keys: set = field(default_factory=set)  # string keys read anywhere (x["k"], .get("k"))
    code_keys: set = field(default_factory=set)  # dict-literal keys and call keywords
    # group keys of an optimizer this file hands to a function of a module the tree lacks,
    # which sets the lr out of sight and may apply them (see the builder)
    keys_out_of_sight: set = field(default_factory=set)
    # ``self`` attributes holding a scheduler that a manually optimizing LightningModule
    # returns, which no other file next to this one names (see the builder): nothing there
    # steps them
    attributes_unnamed_nearby: set = field(default_factory=set)
    # ids of the config nodes a hydra ``instantiate(cfg.scheduler, ...)`` builds from: reading
    # ``cfg.scheduler`` is not reading another object's ``scheduler`` attribute
    config_nodes: set = field(default_factory=set, repr=False)
    checkpoints: list = field(default_factory=list)  # Checkpoint (dicts of state_dicts)
    group_dicts: list = field(default_factory=list)  # GroupDict, anywhere in the file
    lightning: list = field(default_factory=list)  # frameworks.LightningHook
    accelerators: list = field(default_factory=list)  # frameworks.Accelerator
    accelerate_calls: list = field(default_factory=list)  # frameworks.AcceleratorCall
    checkpointers: list = field(default_factory=list)  # frameworks.CheckpointerCall
    ignite_engines: list = field(default_factory=list)  # frameworks.IgniteEngine
    deepspeed_inits: list = field(default_factory=list)  # frameworks.DeepspeedInit
    ignite_handlers: list = field(default_factory=list)  # frameworks.IgniteHandler
    # Value-flow inputs (see schedlint.model.flow): constructions by Call node id, lambdas by
    # node id, and the statements values flow through, as (scope, target, value) /
    # (scope, target, iterable) / (scope, Call, order).
    constructed: dict = field(default_factory=dict, repr=False)
    lambdas: dict = field(default_factory=dict, repr=False)
    flow_assigns: list = field(default_factory=list, repr=False)
    flow_fors: list = field(default_factory=list, repr=False)
    flow_calls: list = field(default_factory=list, repr=False)
    # (Optimizer or Scheduler, argument name, Listed): a list a construction is given (the
    # groups, a composite's schedulers, per-group values), settled after the walk (it may be
    # what a helper defined later returns).
    listed_args: list = field(default_factory=list, repr=False)
    # ids of the ``append``/``extend`` calls whose entries a tracked list (Listed) holds
    list_grows: set = field(default_factory=set, repr=False)
    # id of a name handed to a call -> the Listed it held there (``param_groups(model, lrs)``)
    handed_lists: dict = field(default_factory=dict, repr=False)
    externals: dict = field(default_factory=dict, repr=False)  # in-tree imports resolved
    external_models: list = field(default_factory=list, repr=False)  # their FileModels
    # (Scheduler, Call node, its listed args) for each call of a class imported from a module of the
    # tree, built as a custom scheduler would be: a fact once that module shows the class
    # derives from a torch scheduler (``AnnealLR(optimizer, last_epoch=step)`` from
    # ``utils/generic_utils.py``), dropped otherwise
    imported_constructions: list = field(default_factory=list, repr=False)
    # (Optimizer, Call node, its listed args) for the same calls: a fact once that module
    # shows the class derives from a torch optimizer (``class AdamW(torch.optim.AdamW)``)
    imported_optimizers: list = field(default_factory=list, repr=False)
    # module-level name -> the (key, qualified class name) entries of the dict of classes
    # it is bound to once (``SCHEDULERS = {"cosine": CosineAnnealingLR, ...}``), a registry
    # that this module's factories, or a module importing the name, pick from by key
    registries: dict = field(default_factory=dict, repr=False)
    # (Scheduler, Optimizer, Call node, its listed args, qualified registry name, key) for
    # each call of what a registry imported from a module of the tree picks
    # (``SCHEDULERS[name](optimizer)`` after ``from schedules import SCHEDULERS``): one of
    # the two facts once that module shows the registry, dropped otherwise
    registry_calls: list = field(default_factory=list, repr=False)
    # The same for each call of a function's parameter (``scheduler_cls(opt, **kw)``): a fact
    # once every call of the function here hands that parameter one scheduler class
    parameter_constructions: list = field(default_factory=list, repr=False)
    # The same for each call of a ``self`` attribute (``self.scheduler_cls(opt, **kw)``): a
    # fact once the class binds that attribute to one scheduler class
    attribute_constructions: list = field(default_factory=list, repr=False)
    # (Scheduler, Call node, FunctionInfo) for each call of a class parameter that no call
    # of its function here settles: a module importing this one may hand it a class
    class_parameter_calls: list = field(default_factory=list, repr=False)
    # (calling scope, Call node here, Scheduler, its FileModel) for each call here handing a
    # function of an imported in-tree module a scheduler class it builds (see the builder):
    # that module's construction, settled for this call; none of this file's schedulers
    handed_constructions: list = field(default_factory=list, repr=False)
    external_paths: set = field(default_factory=set, repr=False)  # files read for them
    # (imported model, {qualified import name: value}) for the imports of an imported
    # module followed one level further (a factory there calling a third module's factory)
    deeper_externals: list = field(default_factory=list, repr=False)
    # In-tree modules that import this file and call its classes (``Trainer(...)`` in
    # ``train.py``), each with its imports that name this file's definitions (qualified
    # name -> FunctionInfo / ClassInfo / ModuleRef): their calls feed the classes' methods.
    importers: list = field(default_factory=list, repr=False)
    calls_via_imports: list = field(default_factory=list, repr=False)  # MethodCall (via set)
    # The value-flow solver (schedlint.model.flow.Flow), handed in by the builder so that the
    # facts do not import the flow that reads them.
    solve_flow: Any = field(default=None, repr=False)
    _flow: Any = field(default=None, repr=False)
    _positions: Any = field(default=None, repr=False)
    _shared: dict = field(default_factory=dict, repr=False)

    def acting_scopes(self):
        """The scopes whose own code records a fact: a construction, a tracked call, an lr
        write, a checkpoint, a framework hook, a loop over param groups, a list handed to a
        construction. Assignments (``rebinds``) record no fact of their own."""
        for name in ACTING_FACTS:
            for fact in getattr(self, name):
                if fact.scope is not None:
                    yield fact.scope
        for loop in self.loops:
            if loop.groups_of is not None:
                yield loop.scope
        for _fact, _name, listed in self.listed_args:
            yield listed.scope

    @property
    def flow(self):
        """The value flow (:class:`schedlint.model.flow.Flow`); solved on its first query."""
        if self._flow is None:
            self._flow = self.solve_flow(self, self.externals)
        return self._flow

    # -- queries rules share ---------------------------------------------------------------
    def position(self, node):
        """(line, column, end_line, end_column), 1-based, end exclusive; computed lazily."""
        if self._positions is None:
            try:  # one lean codegen pass (MetadataWrapper.resolve adds a rebuilding visit)
                from schedlint.model.cstwalk import positions

                self._positions = positions(self.module)
            except (AttributeError, TypeError, ImportError):  # a libcst without these internals
                import libcst as cst
                from libcst.metadata import PositionProvider

                wrapper = cst.MetadataWrapper(self.module, unsafe_skip_copy=True)
                self._positions = {
                    n: (r.start.line, r.start.column, r.end.line, r.end.column)
                    for n, r in wrapper.resolve(PositionProvider).items()
                }
        try:
            line, column, end_line, end_column = self._positions[node]
        except KeyError:
            # a node of an imported in-tree module (an optimizer its factory builds), or of
            # a module importing this one (the scheduler it hands a class): its position there
            for other in self.other_models():
                try:
                    return other.position(node)
                except KeyError:
                    continue
            raise
        return line, column + 1, end_line, end_column + 1

    def line(self, node) -> int:
        return self.position(node)[0]

    def starts_before(self, a, b, within) -> bool:
        """``position(a) < position(b)``, answered from the structure of ``within`` (a node of
        this file holding both) where it can: the positions cost a codegen pass over the
        whole module, several times the walk of one loop. Children are in source order, so
        of two nodes neither of which contains the other, the one under the earlier child
        of their nearest common ancestor starts first, and so compares first. Anything else
        (a node not found there, one holding the other) is left to the positions."""
        from schedlint.model.cstwalk import code_children

        parents = {}  # id(node) -> (parent, index among its code children)
        stack = [within]
        while stack and (id(a) not in parents or id(b) not in parents):
            node = stack.pop()
            for index, child in enumerate(code_children(node)):
                parents[id(child)] = (node, index)
                stack.append(child)
        if id(a) in parents and id(b) in parents:
            chains = []
            for node in (a, b):
                chain = [(node, None)]
                while id(chain[-1][0]) in parents:
                    parent, index = parents[id(chain[-1][0])]
                    chain[-1] = (chain[-1][0], index)
                    chain.append((parent, None))
                chains.append(chain[::-1])  # (within, None) ... (node, its index)
            for (x, ix), (y, iy) in zip(*chains):
                if x is not y:
                    return ix < iy  # siblings: the earlier child's whole range comes first
        return self.position(a) < self.position(b)

    def code(self, node) -> str:
        """The source of ``node`` as one stripped string, for a message or a fix."""
        return self.module.code_for_node(node).strip()

    def source_lines(self, keepends: bool = False) -> list:
        """The source's lines as positions number them (Python's tokenizer, libcst): broken at
        \\r\\n, \\r and \\n only (see :mod:`schedlint.model.lines`)."""
        return split_lines(self.source, keepends)

    def other_models(self) -> list:
        """The models of the in-tree modules this file's flow reads: those it imports, then
        those importing it."""
        return list(self.external_models) + [m for m, _ in self.importers]

    def saves_what_it_is_given(self, checkpointer) -> bool:
        """A ``Checkpointer(...)`` call may save every object passed by keyword, as fvcore's
        (``__init__(self, model, save_dir, **checkpointables)``): False only for a class of
        the checked code whose ``__init__`` takes no ``**`` parameter (a fixed signature,
        whose ``optimizer=`` need not be saved at all)."""
        inits = [
            cls.methods["__init__"]
            for m in [self, *self.other_models()]
            for cls in m.classes
            if cls.name == checkpointer.cls_name and "__init__" in cls.methods
        ]
        return not inits or any(i.takes_keywords for i in inits)

    def where(self, node) -> str:
        """``line N`` for a message, naming the module when ``node`` is in an imported one
        (``line 5 of optim_factory.py``: the optimizer a factory there builds)."""
        line = self.line(node)
        if node in self._positions:
            return f"line {line}"
        for other in self.other_models():
            if other._positions is not None and node in other._positions:
                where = os.path.relpath(other.path, os.path.dirname(self.path) or ".")
                return f"line {line} of {where}"
        return f"line {line}"

    def steps_of(self, entity):
        """``entity.step()`` calls, including those made by imported in-tree helpers
        (anchored at the local call of the helper)."""
        return [c for c in self.calls_of("step") if c.target is entity]

    def steps_reaching(self, entity):
        """``step()`` calls that may step ``entity``, also among others: ``scheduler.step()``
        in ``for scheduler in self.schedulers:`` steps each scheduler of the list."""
        return [c for c in self.calls_of("step") if any(t is entity for t in c.targets)]

    def calls_of(self, method):
        """``x.method(...)`` calls, including those made by imported in-tree helpers
        (anchored at the local call of the helper: ``utils.unfreeze_backbone(model, opt)``
        for its ``optimizer.add_param_group(...)``)."""
        return [c for c in self.calls + self.calls_via_imports if c.method == method]

    def undone_by_restore(self, write) -> bool:
        """The function that makes ``write`` later puts back a snapshot it took of the same
        optimizer (``opt.load_state_dict(saved)``, an lr range test): the write does not
        outlive it."""
        return any(
            c.snapshot
            and c.scope is write.scope
            and c.order > write.order
            and c.receiver == write.optimizer_src
            for c in self.calls
        )

    def optimizer_steps(self, optimizer):
        """Calls that step ``optimizer``: ``opt.step()``, ``scaler.step(opt)``."""
        return [
            c
            for c in self.calls + self.calls_via_imports
            if c.method in ("step", "optimizer_step")
            and (c.target is optimizer or c.optimizer_arg is optimizer)
        ]

    # -- the query API rules read the model through (docs/architecture.md) ------------------
    def holds(self, scope, text) -> list:
        """Every optimizer and scheduler the name ``text`` (read in ``scope``) *may* hold,
        through assignments, parameters, attributes, containers, factories and imports."""
        return self.flow.optimizers(scope, text) + self.flow.schedulers(scope, text)

    def paired_flag(self, scope, name, entity) -> bool | None:
        """The literal flag a factory returns next to ``entity`` in one tuple, read as
        ``name`` in ``scope`` (``scheduler, step_per_batch = make_scheduler(...)``)."""
        return self.flow.paired_flag(scope, name, entity)

    def received(self, scope) -> list:
        """The optimizers and schedulers that reach the function ``scope`` through its
        parameters (``def train(self, optimizer, scheduler)``, also from another module):
        each exists whenever that code runs."""
        out = []
        for param in scope.params:
            for held in self.holds(scope, param) if param not in ("self", "cls") else ():
                if all(held is not o for o in out):
                    out.append(held)
        return out

    def holds_only(self, scope, text):
        """Like :meth:`holds`, but None unless nothing unseen can reach the name either."""
        return self.flow.certain(scope, text)

    def callees(self, node, scope) -> list:
        """The functions (FunctionInfo: defs, lambdas, partials, methods) a callee
        expression may run: ``adjust(...)``, ``self.fns[i](...)``, ``utils.f(...)``."""
        return self.flow.functions(node, scope)

    def runs_from(self, caller, to_scope, after=-1, before=None) -> bool:
        """Code of the function scope ``to_scope`` runs through calls made in ``caller``
        between the orders ``after`` and ``before``."""
        return self.flow.reaches(caller, after, to_scope, before_order=before)

    def call_sites(self, scope) -> list:
        """(calling scope, Call node, Loop or None) of each call in this file that runs the
        function ``scope``: ``self.train(epoch)`` in ``fit``'s epoch loop gives that loop."""
        local = {id(s) for s in self.scopes}
        return [
            (caller, call, loop)
            for caller, _, call, loop in self.flow.local_call_sites(scope, local)
        ]

    def arguments(self, scope, param):
        """(calling scope, argument node) for each call that binds the parameter ``param``
        of the function ``scope``; None when one of them may not (``*args``, a default)."""
        self.flow.solve()
        out = []
        for caller, bound in self.flow.arguments.get(id(scope), {}).values():
            if bound is None or param not in bound:
                return None
            out.append((caller, bound[param]))
        return out

    def assignments(self, scope, name) -> list:
        """The value nodes of every ``name = ...`` in ``scope`` (both arms of an if/else),
        also where ``scope`` is code of another in-tree module."""
        return [
            value
            for s, target, value in self.flow.model_of(scope).flow_assigns
            if s is scope
            and getattr(target, "value", None) == name
            and type(target).__name__ == "Name"
        ]

    def same_hierarchy(self, cls, other) -> bool:
        """The two classes share ``self`` attributes (one derives from the other in-tree)."""
        return self.flow.root_class(cls) is self.flow.root_class(other)

    def number(self, node, scope):
        """The number an expression certainly is (literals, names, arithmetic, argparse
        defaults), else None."""
        return self.flow.number(node, scope)

    def is_float(self, node, scope) -> bool:
        """The expression certainly is a Python float (``0.5 * epochs``, ``epochs / 2``,
        ``f * total`` for ``f`` in ``(0.3, 0.6)``); False when it may be an int or is unknown."""
        return self.flow.is_float(node, scope)

    def entries(self, node, scope) -> list | None:
        """(node, scope) of each entry a list expression certainly holds: a literal's items,
        a comprehension's element (standing for every entry), also through a name bound
        once; None when unknown."""
        return self.flow.entries(node, scope)

    def names_key(self, key: str) -> bool:
        """Code (not a comment or a string of prose) names the dict key ``key``: as a
        subscript, ``.get``/``.setdefault``/``.pop`` argument, ``in`` test, dict-literal key
        or keyword argument."""
        return key in self.read_keys or key in self.code_keys

    def call_chains(self, fact, depth: int = 4) -> list:
        """Where ``fact`` runs: chains of :class:`Site`, each starting at the fact and going
        out through the calls that run its function (``warmup(opt, e)`` inside ``train``,
        ``self.end_epoch()`` inside ``fit``), at most ``depth`` calls out. A chain stops at a
        function nothing in the checked code calls."""
        first = (
            Site(
                fact.scope, fact.node, fact.order, fact.loop, self.flow.model_of(fact.scope) is self
            ),
        )
        chains, done = [], []
        frontier = [first]
        for _ in range(depth + 1):
            grown = []
            for chain in frontier:
                scope = chain[-1].scope
                sites = self.flow.call_sites(scope) if scope.kind == "function" else []
                seen = {id(s.scope) for s in chain}
                sites = [s for s in sites if id(s[0]) not in seen]
                if not sites:
                    done.append(chain)
                    continue
                chains.append(chain)
                grown += [
                    chain
                    + (
                        Site(
                            caller,
                            call,
                            order,
                            self.flow.call_loop(call),
                            self.flow.model_of(caller) is self,
                        ),
                    )
                    for caller, order, call in sites
                ]
            frontier = grown
        return chains + done + frontier

    def loops_around_calls(self, fact, walks=()) -> list:
        """For a fact in a function with no loop of its own around it (``self.scheduler.step()``
        in ``train_step``): a :class:`Site` for each call that runs that function, with the
        loop the call sits in (``self.train_step(x, y)`` in ``train_epoch``'s batch loop),
        in this file or in a module that calls this file's class (``trainer.update_lr()`` in
        ``train.py``'s batch loop; ``site.here`` is False there). Empty when the fact has a
        loop of its own, or a call of its function sits in no loop (then some run of the
        function is not repeated by a loop), or in code of another kind of module. The loops
        in ``walks`` do not count as the fact's own: a walk over a container of schedulers
        (``for s in self.schedulers: s.step()``) steps each once per call."""
        own = fact.loop
        while own is not None and any(own is w for w in walks):
            own = own.parent
        if own is not None or fact.scope.kind != "function":
            return []
        lending = {id(m) for m, _ in self.importers}
        out = []
        for caller, order, call in self.flow.call_sites(fact.scope):
            loop = self.flow.call_loop(call)
            owner = self.flow.model_of(caller)
            if loop is None or owner is not self and id(owner) not in lending:
                return []
            out.append(Site(caller, call, order, loop, owner is self))
        return out

    def group_lr_style(self, optimizer) -> str | None:
        """How ``optimizer``'s groups state their lr: ``"multiplier"`` when they hold factors
        of a base lr that a schedule multiplies in (1.0 and 0.1; ``"lr": lr_mult``),
        ``"absolute"`` when they hold lrs (1e-3 and 1e-4; ``args.lr * 0.1``), None when
        unknown. Groups built elsewhere (a helper, a loop) are judged by every group dict the
        code writes, here and in the in-tree modules it imports."""
        if optimizer.groups is not None and len(optimizer.groups) > 1:
            lrs = [(g.lr, g.scope or optimizer.scope) for g in optimizer.groups if g.lr is not None]
        elif optimizer.groups is None:
            lrs = [
                (d.lr, d.scope)
                for m in [self] + list(self.external_models)
                for d in m.group_dicts
                if d.lr is not None
            ]
        else:
            return None
        if not lrs:
            return None
        numbers, other = [], 0
        for value, scope in lrs:
            name = (value.dotted or "").rpartition(".")[2].lower()
            if name and _MULTIPLIER_NAME.search(name):
                return "multiplier"
            number = self.number(value.node, scope)
            if number is None:
                other += 1
            else:
                numbers.append(number)
        # A base lr of 1.0 or more is rare, a multiplier set without 1.0 (or a 10x head) too.
        if numbers and max(numbers) >= 1.0:
            return "multiplier"
        return "absolute" if numbers and not other else None

    def varied_group_lrs(self, optimizer) -> list | None:
        """What says ``optimizer``'s groups train at different lrs: the distinct group lr
        texts (:meth:`Optimizer.distinct_lrs`), or, for groups a loop builds (in this scope,
        or in the helper the optimizer's first argument calls), the one lr text of a group
        dict whose lr varies with that loop (``base_lr * decay ** depth`` for each depth);
        else None."""
        distinct = optimizer.distinct_lrs()
        if distinct is not None or optimizer.groups is not None or optimizer.params is None:
            return distinct
        first = optimizer.params
        if first.kind == "call":
            scopes = {id(f.scope) for f in self.callees(first.node.func, optimizer.scope)}
        elif first.kind == "name":
            scopes = {id(optimizer.scope)}
        else:
            return None
        for m in [self] + list(self.external_models):
            for d in m.group_dicts:
                if d.lr is None or d.loop is None or id(d.scope) not in scopes:
                    continue
                if d.scope is optimizer.scope and d.loop.order > optimizer.order:
                    continue
                if _varies_with_loop(m, d):
                    return [d.lr.src]
        return None

    def bindings(self, scope) -> list:
        """(calling scope, {parameter: argument node}) for each call in this file that runs
        the function ``scope`` with every argument seen (no ``*args``)."""
        self.flow.solve()
        local = {id(s) for s in self.scopes}
        return [
            (caller, dict(bound))
            for caller, bound in self.flow.arguments.get(id(scope), {}).values()
            if bound is not None and id(caller) in local
        ]

    def parameter_number(self, scope, name) -> float | None:
        """The number the parameter ``name`` of the function ``scope`` holds on every call of
        this file: its literal default, and the same number from every call that passes it;
        else None."""
        if scope.kind != "function" or name in scope.assigned:
            return None
        params = getattr(getattr(scope.node, "params", None), "params", ())
        default = next(
            (p.default for p in params if p.name.value == name and p.default is not None), None
        )
        number = self.number(default, scope.parent) if default is not None else None
        if number is None:
            return None
        self.flow.solve()
        for caller, bound in self.flow.arguments.get(id(scope), {}).values():
            if bound is None or (name in bound and self.number(bound[name], caller) != number):
                return None
        return number

    def scheduler_classes(self) -> list:
        """Classes that look like schedulers: this file's, then those it imports by name from
        in-tree modules."""
        out = [c for c in self.classes if c.looks_like_scheduler]
        for c in self.externals.values():
            if isinstance(c, ClassInfo) and c.looks_like_scheduler and c not in out:
                out.append(c)
        return out

    def schedulers_of(self, optimizer):
        return [s for s in self.schedulers if s.optimizer is optimizer]

    def schedulers_reached(self, optimizer=_ANY):
        """Schedulers (built on ``optimizer``, when given) in another in-tree module that this
        file's code acts on: ``self.lr_scheduler.step()`` in a ``Trainer`` that ``train.py``
        builds with the scheduler and its optimizer. Their facts stay the other module's."""
        local = {id(s) for s in self.schedulers}
        out = []
        for call in self.calls:
            for t in call.targets:
                if (
                    isinstance(t, Scheduler)
                    and id(t) not in local
                    and (optimizer is _ANY or t.optimizer is optimizer)
                    and all(t is not o for o in out)
                ):
                    out.append(t)
        return out

    def lent_calls(self, method=None) -> list:
        """(call, targets) for each ``x.method(...)`` (any method when None) in a method of a
        class that a module calling this file's classes derives from one here (``class
        Trainer(BaseTrainer):`` in ``trainer/trainer.py`` stepping the ``self.lr_scheduler``
        that ``BaseTrainer.__init__`` stores), with every optimizer or scheduler it may act
        on as this file's flow sees it (the call's own fact knows only what its module
        binds). The calls stay that module's: a rule reads them, never reports at them."""
        if not self.importers or not self.classes:
            return []
        out = []
        for other, _ in self.importers:
            for call in other.calls:
                if method is not None and call.method != method:
                    continue
                cls = next((s.cls for s in call.scope.function_chain() if s.cls), None)
                if cls is None or not any(self.same_hierarchy(cls, c) for c in self.classes):
                    continue
                targets = self.holds(call.scope, call.receiver)
                if targets:
                    out.append((call, targets))
        return out

    def imported_calls(self, entity) -> list:
        """Each ``x.method(...)`` in an imported module that acts on ``entity`` as this file's
        flow sees it (``self.scheduler.step()`` in the ``Engine`` that ``train.py`` hands
        the scheduler its factory built). The calls stay that module's: a rule reads them,
        never reports at them."""
        out = []
        for other in self.external_models:
            for call in other.calls:
                if call.receiver and any(
                    t is entity for t in self.holds(call.scope, call.receiver)
                ):
                    out.append(call)
        return out

    def callers_calls(self, method) -> list:
        """(call, targets) for each ``x.method(...)`` in a module calling this file's classes
        (``trainer.optimizer.load_state_dict(ckpt["optimizer"])`` in ``train.py``, right
        after ``trainer.resume(ckpt)``) that acts on an optimizer or scheduler this file's
        flow knows. The calls stay that module's: a rule reads them, never reports at them."""
        out = []
        for other, _ in self.importers:
            for call in other.calls:
                if call.method == method:
                    targets = self.holds(call.scope, call.receiver)
                    if targets:
                        out.append((call, targets))
        return out

    def schedulers_from_factories(self) -> list:
        """(scope, name, Call node, scheduler, optimizer) for each scheduler that a factory of
        another in-tree module builds on one of its parameters and that a call here binds to
        a name (``self.sched_d`` of ``self.sched_g, self.sched_d = build_schedulers(self.opt_g,
        self.opt_g, cfg)``), with the optimizer that the call hands it: only where the name
        certainly holds that one scheduler and the parameter that optimizer."""
        out = []
        for scope, text, call in self.flow.call_results(self.flow_assigns):
            held = self.holds_only(scope, text)
            if not held or len(held) != 1 or not isinstance(held[0], Scheduler):
                continue
            sched = held[0]
            if (
                not self.is_foreign(sched)
                or sched.parent is not None
                or sched.scope.kind != "function"
                or sched.optimizer_src not in sched.scope.params
            ):
                continue
            opts = self.holds_only(sched.scope, sched.optimizer_src)
            if opts and len(opts) == 1 and isinstance(opts[0], Optimizer):
                out.append((scope, text, call, sched, opts[0]))
        return out

    def factory_builds(self) -> list:
        """(calling scope, Call node, scheduler, {parameter: argument node}) for each call
        here of a function of another in-tree module that builds a scheduler on one of its
        parameters (``build_scheduler(optimizer_d, ..., last_epoch=last_epoch)``): what that
        one call hands the factory, whatever other calls hand it."""
        foreign = [
            s
            for m in self.external_models
            for s in m.schedulers
            if s.scope.kind == "function" and s.parent is None and s.optimizer_src in s.scope.params
        ]
        if not foreign:
            return []  # no factory to call: no need to solve the flow for it
        flow = self.flow
        flow.solve()
        calls = {id(c[1]): c[1] for c in self.flow_calls}
        out = []
        for s in foreign:
            for call_id, (caller, bound) in flow.arguments.get(id(s.scope), {}).items():
                if bound is None:
                    continue
                if call_id in calls:
                    out.append((caller, calls[call_id], s, bound))
                elif caller.kind == "function" and flow.model_of(caller) is not self:
                    # a factory of an imported module forwarding its parameters to another
                    # module's (``DefaultTrainer.build_lr_scheduler(cls, cfg, optimizer)``
                    # returning ``build_lr_scheduler(cfg, optimizer)``): what the call here
                    # hands the forwarder is what the factory gets
                    for outer_id, (outer, handed) in flow.arguments.get(id(caller), {}).items():
                        if handed is None or outer_id not in calls:
                            continue
                        through = {
                            p: handed[text]
                            for p, a in bound.items()
                            if (text := flow.dotted(a)) is not None and text in handed
                        }
                        if through:
                            out.append((outer, calls[outer_id], s, through))
        return out

    def factory_optimizer(self, caller, sched, bound):
        """(Value, held) of the optimizer one call (``caller``, ``bound``, as
        :meth:`factory_builds` gives them) hands a factory of another module for ``sched``:
        the argument, and what its name certainly holds in the caller (None when something
        unseen may reach it). That module's fact knows only its parameter, so the optimizer a
        finding is about is the caller's. None when the call hands no dotted name for it."""
        arg = bound.get(sched.optimizer_src)
        value = self.value(arg) if arg is not None else None
        if value is None or value.dotted is None:
            return None
        return value, self.holds_only(caller, value.dotted)

    def optimizers_from_factories(self) -> list:
        """(scope, name, optimizer) for each optimizer that a factory of another in-tree
        module builds and a call here binds to a name (``self.opt_d`` of ``self.opt_d,
        self.opt_g = define_optimizers(...)``), where the name certainly holds that one."""
        out = []
        for scope, text, _ in self.flow.call_results(self.flow_assigns):
            held = self.holds_only(scope, text)
            if held and len(held) == 1 and isinstance(held[0], Optimizer):
                if self.is_foreign(held[0]):
                    out.append((scope, text, held[0]))
        return out

    def holders(self, entity) -> list:
        """(scope, text) of each variable through which this file's calls act on
        ``entity``, in source order: ``self.lr_scheduler`` for a scheduler a caller built."""
        out = []
        for call in self.calls:
            acts = call.target is entity or entity in call.targets and self.chosen(call)
            if acts and all(
                text != call.receiver or scope.cls is not call.scope.cls for scope, text in out
            ):
                out.append((call.scope, call.receiver))
        return out

    def chosen(self, call) -> bool:
        """The receiver of ``call`` holds one of the schedulers one factory returns by
        configuration (``return StepLR(...)`` under one test, ``return MultiStepLR(...)``
        under another): the call acts on whichever the run built."""
        targets = call.targets
        return (
            call.target is None
            and len(targets) > 1
            and all(
                isinstance(t, Scheduler) and t.target is None and t.parent is None for t in targets
            )
            and targets[0].scope.kind == "function"
            and all(t.scope is targets[0].scope for t in targets)
        )

    def is_foreign(self, entity) -> bool:
        """``entity`` (a fact, or a scope) is code of another in-tree module than this file."""
        return self.flow.model_of(getattr(entity, "scope", entity)) is not self

    def shared(self, build):
        """``build(self)``, computed once per file and shared by every rule that asks. The
        builder is the key, so modules above the facts (``model.usage``) can cache on the
        model without the facts importing them."""
        try:
            return self._shared[build]
        except KeyError:
            value = self._shared[build] = build(self)
            return value


class ModuleRef:
    """An in-tree module bound to a name (``import utils``): its attributes are its
    top-level functions and classes."""

    __slots__ = ("model",)

    def __init__(self, model):
        self.model = model

    def __repr__(self):
        return f"ModuleRef({self.model.path})"


def top_level(model, name):
    """A module's top-level def or class named ``name``, else None."""
    for f in model.functions.get(name, ()):
        if f.scope.parent is not None and f.scope.parent.kind == "module":
            return f
    for c in model.classes:
        if c.name == name:
            return c
    return None


def _varies_with_loop(model, group) -> bool:
    """The group dict's lr reads a target of a loop around it, directly or through a name
    assigned from one in its scope (``scale = decay ** depth``)."""
    targets = set()
    for loop in group.loop.ancestors():
        targets |= set(loop.targets)
    names = set(group.lr.names)
    if names & targets:
        return True
    for name in names:
        for node in model.assignments(group.scope, name):
            if set(model.value(node).names) & targets:
                return True
    return False
