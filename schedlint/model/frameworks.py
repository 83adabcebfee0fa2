"""Framework conventions, recorded during the builder's one pass.

PyTorch Lightning steps the schedulers that ``LightningModule.configure_optimizers`` returns,
at the granularity the returned config asks for (``"interval": "epoch"`` unless told
otherwise), and needs a ``monitor`` for ``ReduceLROnPlateau``. Which of these applies depends
on the shape of the returned value, so the model records, per ``configure_optimizers``, each
scheduler it returns with the config keys Lightning will read for it (as
``pytorch_lightning.core.optimizer`` parses them, version 2.x):

- an optimizer, or a list of optimizers: no scheduler;
- ``[optimizers], [schedulers]``: each scheduler bare (no interval, no monitor) or a config dict;
- ``{"optimizer": o, "lr_scheduler": s, "monitor": m}``: a bare ``s`` takes the top-level
  ``monitor``; a config dict ``s`` only its own keys (the top-level monitor is ignored);
- a list or tuple of such dicts: each ``lr_scheduler`` is used as is; a bare one gets no
  monitor at all.

Lightning reads only its own keys in these dicts (``RETURN_KEYS``, ``CONFIG_KEYS``) and drops
any other with a warning: ``{"optimizer": o, "scheduler": s}`` returns a scheduler nothing
steps. The model records the keys it drops (``dropped``).

Dicts and lists bound to a local name before the ``return`` are followed
(``config = {"scheduler": s, "interval": "step"}`` and ``config["interval"] = "step"``). A
module that sets ``self.automatic_optimization = False`` (or declares it on the class, or
inherits it from a class of the file) steps its schedulers itself: Lightning then ignores
``interval``, ``frequency`` and ``monitor``, and steps nothing.

What ``configure_optimizers`` returns comes back to the module: the value flow
(``model/flow.py``) gives its optimizers to the ``optimizer`` parameter of
``optimizer_step`` (and the other optimizer hooks), to ``self.optimizers()`` and
``self.trainer.optimizers``, and its schedulers to ``self.lr_schedulers()``. Its optimizers
also reach the ``optimizer`` of a ``BaseFinetuning`` callback's ``finetune_function`` (any
such callback of the code read: the flow does not follow which trainer gets which callback),
whose ``unfreeze_and_add_param_group(modules, optimizer)`` is recorded as an
``add_param_group`` on that optimizer.

accelerate: ``accelerator.save_state``/``load_state`` checkpoint exactly the objects passed
through ``accelerator.prepare`` or ``register_for_checkpointing`` (AcceleratorCall facts).

pytorch-ignite: an ``Engine(process_function)`` runs the function once per iteration; its
``run()`` fires, for each epoch, ``EPOCH_STARTED``, then for each batch ``ITERATION_STARTED``,
the process function, ``ITERATION_COMPLETED``, and ``EPOCH_COMPLETED`` once the batches are
done (``ignite.engine.engine.Engine._run_once_on_dataset``, 0.4/0.5). ``create_supervised_trainer
(model, optimizer, loss_fn)`` builds an engine whose process function steps ``optimizer``.
Handlers are registered with ``@engine.on(Events.X)`` or ``engine.add_event_handler(Events.X,
handler)`` (IgniteEngine and IgniteHandler facts; ``ignite_hooks`` ties them together).

DeepSpeed: ``deepspeed.initialize(model=..., optimizer=..., lr_scheduler=s, ...)`` keeps ``s``
(or, for a callable such as ``partial(StepLR, ...)``, what calling it on the optimizer
builds) as ``engine.lr_scheduler`` and returns it as the fourth value of
``(engine, optimizer, training_dataloader, lr_scheduler)``; every ``engine.step()`` that
ends a gradient-accumulation boundary calls ``lr_scheduler.step()`` after the optimizer's
step (skipped only on an fp16 overflow): ``deepspeed/__init__.py`` ``initialize``,
``deepspeed/runtime/engine.py`` ``_configure_lr_scheduler``, ``step``, ``_take_model_step``
(DeepspeedInit facts). A scheduler DeepSpeed builds from the config's ``"scheduler"``
section is not modelled.

detectron2 and fvcore: a ``Checkpointer(model, save_dir, **checkpointables)`` saves and loads
the model and exactly the objects given to it by keyword (``optimizer=o, scheduler=s``), under
any key names (CheckpointerCall facts); so does a project's own ``...Checkpointer`` written
after it and called the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from schedlint.model.facts import ClassInfo, FunctionInfo, Optimizer, Scheduler

CONFIGURE_HOOK = "configure_optimizers"
# The keys Lightning reads in the dict ``configure_optimizers`` returns, and in a scheduler's
# config dict (``lightning.pytorch.core.optimizer``, 2.x).
RETURN_KEYS = frozenset({"optimizer", "lr_scheduler", "monitor"})
CONFIG_KEYS = frozenset(
    {"scheduler", "name", "interval", "frequency", "reduce_on_plateau", "monitor", "strict"}
)
INTERVALS = ("step", "epoch")
# Hooks Lightning calls with one of the optimizers ``configure_optimizers`` returned: the
# parameter's conventional name and its position (``self`` counted) for when it is renamed.
OPTIMIZER_HOOKS = {
    "optimizer_step": ("optimizer", 3),
    "optimizer_zero_grad": ("optimizer", 3),
    "on_before_optimizer_step": ("optimizer", 1),
    "configure_gradient_clipping": ("optimizer", 1),
}
SCHEDULER_HOOKS = {"lr_scheduler_step": ("scheduler", 1)}
# Lightning's ``BaseFinetuning`` callback: the trainer calls ``finetune_function(pl_module,
# epoch, optimizer)`` each epoch with the optimizers ``configure_optimizers`` returned (built,
# with their schedulers, before training starts), and its static
# ``unfreeze_and_add_param_group(modules, optimizer, ...)`` calls
# ``optimizer.add_param_group(...)``.
FINETUNING_BASE = "BaseFinetuning"
FINETUNING_HOOKS = {"finetune_function": ("optimizer", 3)}
FINETUNING_ADD_GROUP = ("unfreeze_and_add_param_group", "optimizer", 1)
# Lightning's own ``BackboneFinetuning`` callback: at ``unfreeze_backbone_at_epoch`` (10 by
# default) its ``finetune_function`` adds ``pl_module.backbone`` to every optimizer the
# trainer holds as a new param group. The callback is built, not subclassed, so no call of
# the code read adds the group.
BACKBONE_FINETUNING = frozenset(
    {
        f"{package}.callbacks{module}.BackboneFinetuning"
        for package in ("lightning.pytorch", "pytorch_lightning")
        for module in ("", ".finetuning")
    }
)
# What a LightningModule reads back: ``self.optimizers()`` / ``self.lr_schedulers()`` (one
# object when there is one, else a list) and ``self.trainer.optimizers`` (always a list).
OPTIMIZERS_CALL = "self.optimizers"
SCHEDULERS_CALL = "self.lr_schedulers"
TRAINER_OPTIMIZERS = "self.trainer.optimizers"
ACCELERATOR_CLASSES = frozenset({"accelerate.Accelerator"})
MANUAL_FLAG = "automatic_optimization"


@dataclass(eq=False)
class LightningScheduler:
    """One scheduler a ``configure_optimizers`` returns, with the config Lightning reads."""

    value: Any  # Value of the scheduler expression (where findings point)
    in_config: bool  # given as {"scheduler": ..., ...}
    interval: Any = None  # Value, or None when not given (Lightning's default: "epoch")
    frequency: Any = None
    monitor: Any = None  # Value of the monitor Lightning uses for it, None when there is none
    opaque: bool = False  # the config holds ``**other``: keys may be set unseen
    scheduler: Any = field(default=None, repr=False)  # resolved Scheduler fact, or None
    # The schedulers it may be when a factory returns one per config choice (``scheduler``
    # is None then): ``return get_cosine_...(...)`` under one test, ``return StepLR(...)``.
    choices: tuple = field(default=(), repr=False)
    helper: str | None = None  # ``self.<helper>(...)`` gave the value: resolved later
    # ``"interval"`` sits beside ``"optimizer"`` in the returned dict, where Lightning ignores
    # it (it only warns of an unsupported key): the author meant it for this scheduler
    stray_interval: bool = False
    # (key, Value) of each key of its config dict that Lightning drops (not CONFIG_KEYS)
    dropped: list = field(default_factory=list)


@dataclass(eq=False)
class LightningHook:
    """A ``configure_optimizers`` method and the schedulers one of its returns hands over."""

    node: Any = field(repr=False)  # the Return statement
    scope: Any = field(repr=False)
    order: int
    cls: Any = field(repr=False)  # ClassInfo
    schedulers: list = field(default_factory=list)
    manual: bool = False  # the module optimizes manually: Lightning steps nothing
    # code of the file reads schedulers back from Lightning, so it may step them in ways the
    # model cannot follow (``self.lr_schedulers()[0].step()``)
    reads_back: bool = False
    # (key, Value) of each key of a returned dict that Lightning drops (not RETURN_KEYS)
    dropped: list = field(default_factory=list)


@dataclass(eq=False)
class Accelerator:
    """An ``accelerate.Accelerator(...)`` built in the file. Unless it splits batches, a
    scheduler it prepares steps ``num_processes`` times per ``step()`` call."""

    node: Any = field(repr=False)
    split_batches: bool | None  # None: set through something the model cannot read
    # ``gradient_accumulation_steps=`` (or a GradientAccumulationPlugin) given, other than a
    # literal 1: inside ``with accelerator.accumulate(model)`` a prepared optimizer and
    # scheduler then step once per accumulation step. None: hidden by ``**kwargs``.
    accumulates: bool | None = False
    # ``step_scheduler_with_optimizer=`` (default True): False makes a prepared scheduler's
    # ``step()`` step it once, as it is. None: set through something the model cannot read.
    steps_with_optimizer: bool | None = True


# accelerate's Accelerator methods that decide what ``save_state``/``load_state`` carry: only
# the objects passed through ``prepare`` (models, optimizers, schedulers) or
# ``register_for_checkpointing`` are saved and restored.
ACCELERATE_KEEPS = frozenset({"prepare", "prepare_scheduler", "register_for_checkpointing"})
ACCELERATE_STATE = frozenset({"save_state", "load_state"})


@dataclass(eq=False)
class AcceleratorCall:
    """``accelerator.<method>(...)`` for a method of ACCELERATE_KEEPS or ACCELERATE_STATE, in a
    file that imports accelerate."""

    node: Any = field(repr=False)
    scope: Any = field(repr=False)
    order: int
    method: str
    receiver: str | None
    args: tuple | None  # positional argument Values; None when ``*args`` hides them


# DeepSpeed's entry point and where its parameters sit (``initialize(args, model, optimizer,
# model_parameters, training_data, lr_scheduler, ...)``, deepspeed/__init__.py).
DEEPSPEED_INITIALIZE = frozenset({"deepspeed.initialize"})
DEEPSPEED_PARAMS = (
    "args",
    "model",
    "optimizer",
    "model_parameters",
    "training_data",
    "lr_scheduler",
)


@dataclass(eq=False)
class DeepspeedInit:
    """``deepspeed.initialize(...)``: the engine it builds steps ``lr_scheduler`` (the
    argument's node, None when not given) on every ``engine.step()`` that updates."""

    node: Any = field(repr=False)
    scope: Any = field(repr=False)
    order: int
    lr_scheduler: Any = field(default=None, repr=False)  # the argument's expression
    optimizer: Any = field(default=None, repr=False)


def deepspeed_argument(call, name):
    """The expression ``deepspeed.initialize(...)`` is given as ``name``, else None."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional):
        return None
    index = DEEPSPEED_PARAMS.index(name)
    return positional[index].value if index < len(positional) else None


# ignite's engine classes and its trainer factory, whose process function steps the
# ``optimizer`` argument (the second positional one).
IGNITE_ENGINES = frozenset({"ignite.engine.Engine", "ignite.engine.engine.Engine"})
IGNITE_TRAINERS = frozenset({"ignite.engine.create_supervised_trainer"})
# The events that fire before the process function of the iteration they belong to (the
# first of an epoch for EPOCH_STARTED): a scheduler stepped there moves before the update.
IGNITE_BEFORE_UPDATE = frozenset({"EPOCH_STARTED", "ITERATION_STARTED"})


@dataclass(eq=False)
class IgniteEngine:
    """An ignite engine built in the file: ``Engine(process)`` (``process``: the function's
    expression) or ``create_supervised_trainer(model, optimizer, ...)`` (``optimizer``)."""

    node: Any = field(repr=False)
    scope: Any = field(repr=False)
    process: Any = field(default=None, repr=False)
    optimizer: Any = field(default=None, repr=False)


@dataclass(eq=False)
class IgniteHandler:
    """A handler registered on an engine for an ignite event: ``@trainer.on(Events.X)`` on a
    def (``handler``: its scope) or ``trainer.add_event_handler(Events.X, fn)`` (``handler``:
    the expression). ``filtered``: ``Events.X(every=n)`` and other filtered or combined
    events, which fire on some of the X only."""

    node: Any = field(repr=False)
    scope: Any = field(repr=False)  # where the engine's name is read
    engine: str
    event: str
    filtered: bool
    handler: Any = field(default=None, repr=False)


def _ignite_event(builder, node):
    """(event name, filtered) of an ``Events.X`` argument of ignite, else None."""
    filtered = False
    if isinstance(node, cst.Call):
        node, filtered = node.func, True
    qualified = builder.qualify(node) or ""
    head, _, event = qualified.rpartition(".Events.")
    if not head.startswith("ignite") or not event.isupper():
        return None
    return event, filtered


# fvcore's Checkpointer and detectron2's subclass (also re-exported by detectron2.checkpoint).
CHECKPOINTER_CLASSES = frozenset(
    {
        "fvcore.common.checkpoint.Checkpointer",
        "detectron2.checkpoint.Checkpointer",
        "detectron2.checkpoint.DetectionCheckpointer",
        "detectron2.checkpoint.detection_checkpoint.DetectionCheckpointer",
    }
)

CHECKPOINTER_OWN_ARGS = frozenset({"model", "save_dir", "save_to_disk"})
# Packages whose ``...Checkpointer`` classes have their own signatures: only the fvcore and
# detectron2 ones above are read from these.
_OTHER_CHECKPOINTER_PACKAGES = frozenset(
    {
        "torch",
        "lightning",
        "pytorch_lightning",
        "accelerate",
        "transformers",
        "deepspeed",
        "fvcore",
        "detectron2",
        "mmengine",
        "mmcv",
        "ignite",
        "composer",
        "torchtnt",
        "orbax",
    }
)


def _own_checkpointer(qualified, node) -> bool:
    """A project's own ``Checkpointer(model, save_dir, optimizer=..., ...)``, written after
    fvcore's (many trainers copy it): only two positional arguments, the rest by keyword, each
    keyword an object it saves."""
    if qualified is None or qualified.partition(".")[0] in _OTHER_CHECKPOINTER_PACKAGES:
        return False
    positional = [a for a in node.args if a.keyword is None]
    return (
        len(positional) <= 2
        and not any(a.star for a in positional)
        and any(a.keyword is not None and a.keyword.value == "optimizer" for a in node.args)
    )


@dataclass(eq=False)
class CheckpointerCall:
    """``Checkpointer(model, save_dir, optimizer=o, ...)`` of CHECKPOINTER_CLASSES."""

    node: Any = field(repr=False)
    scope: Any = field(repr=False)
    cls_name: str  # the class called, as written last (``Checkpointer``)
    checkpointables: dict  # keyword -> Value of every object it saves besides the model
    opaque: bool  # ``**objects`` hides some of them


class FrameworkCollector:
    """Called by the builder from its visitor; adds LightningHook facts to the model."""

    def __init__(self, string_value):
        self.string_value = string_value  # the builder's reading of a string literal
        self.locals: dict = {}  # (scope id, name) -> Dict/List/Tuple node last bound there
        self.overrides: dict = {}  # (scope id, name) -> {key: value node} set by subscript
        self.manual_classes: set = set()  # ids of ClassInfo nodes declaring manual optimization
        # (id(class node), method name) -> (config {key: Value}, opaque, scope) of a method
        # returning a scheduler config dict (``def _lr_config(self, opt): return {...}``)
        self.config_methods: dict = {}
        # (scope id, name) of local dicts changed in a way the model does not read
        # (``cfg.setdefault(...)``, ``cfg |= other``, ``cfg["lr_scheduler"]["interval"] = ...``):
        # their keys may be set unseen
        self.mutated: set = set()
        # some code of the file reads schedulers back from Lightning (``self.lr_schedulers()``,
        # ``trainer.lr_scheduler_configs``; a callback may do it for the module)
        self.reads_back = False

    # -- hooks the builder calls ------------------------------------------------------------------
    def on_call(self, builder, node, method):
        if _reads_schedulers(node.func):
            self.reads_back = True
        if method == "add_event_handler" and len(node.args) >= 2:
            self._ignite_handler(builder, node, builder.scope, node.args[1].value)
        if method in _DICT_MUTATORS and isinstance(node.func.value, cst.Name):
            self._mutate(builder, node.func.value.value, method, node.args)
        if method not in ACCELERATE_KEEPS and method not in ACCELERATE_STATE:
            return
        if not any(q.partition(".")[0] == "accelerate" for q in builder.model.imports.values()):
            return
        starred = any(a.star for a in node.args)
        builder.model.accelerate_calls.append(
            AcceleratorCall(
                node=node,
                scope=builder.scope,
                order=builder.next_order(),
                method=method,
                receiver=_dotted(node.func.value),
                args=None
                if starred
                else tuple(builder.value(a.value) for a in node.args if a.keyword is None),
            )
        )

    def on_function(self, builder, node, outer):
        """``@engine.on(Events.X)`` on a def: the def (now ``builder.scope``) is the handler;
        ``outer`` is the scope the decorator's engine name is read in."""
        for decorator in node.decorators:
            call = decorator.decorator
            if (
                isinstance(call, cst.Call)
                and isinstance(call.func, cst.Attribute)
                and call.func.attr.value == "on"
                and call.args
            ):
                self._ignite_handler(builder, call, outer, builder.scope)

    def _ignite_handler(self, builder, node, scope, handler):
        engine = _dotted(node.func.value)
        event = _ignite_event(builder, node.args[0].value) if node.args[0].keyword is None else None
        if engine is None or event is None:
            return
        builder.model.ignite_handlers.append(
            IgniteHandler(node, scope, engine, event[0], event[1], handler)
        )

    def on_construct(self, builder, node):
        func = node.func
        name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if name in ("Engine", "create_supervised_trainer") and node.args:
            qualified = builder.qualify(func)
            if qualified in IGNITE_ENGINES:
                builder.model.ignite_engines.append(
                    IgniteEngine(node, builder.scope, process=node.args[0].value)
                )
            elif qualified in IGNITE_TRAINERS:
                given = [a for a in node.args if a.keyword is None]
                named = [a for a in node.args if a.keyword and a.keyword.value == "optimizer"]
                arg = named[0] if named else given[1] if len(given) > 1 else None
                if arg is not None:
                    builder.model.ignite_engines.append(
                        IgniteEngine(node, builder.scope, optimizer=arg.value)
                    )
        if name == "initialize" and builder.qualify(func) in DEEPSPEED_INITIALIZE:
            builder.model.deepspeed_inits.append(
                DeepspeedInit(
                    node,
                    builder.scope,
                    builder.next_order(),
                    lr_scheduler=deepspeed_argument(node, "lr_scheduler"),
                    optimizer=deepspeed_argument(node, "optimizer"),
                )
            )
        # the suffix test first: qualifying every call of the file would cost more
        if not isinstance(name, str) or not name.endswith("Checkpointer"):
            return
        qualified = builder.qualify(func)
        if qualified not in CHECKPOINTER_CLASSES and not _own_checkpointer(qualified, node):
            return
        builder.model.checkpointers.append(
            CheckpointerCall(
                node=node,
                scope=builder.scope,
                cls_name=name,
                checkpointables={
                    a.keyword.value: builder.value(a.value)
                    for a in node.args
                    if a.keyword is not None and a.keyword.value not in CHECKPOINTER_OWN_ARGS
                },
                opaque=any(a.star == "**" for a in node.args),
            )
        )

    def on_assign(self, builder, target, value):
        scope = builder.scope
        if _reads_schedulers(value):
            self.reads_back = True
        if isinstance(value, cst.Call) and builder.qualify(value.func) in ACCELERATOR_CLASSES:
            builder.model.accelerators.append(
                Accelerator(
                    node=value,
                    split_batches=_splits(value),
                    accumulates=_accumulates(value),
                    steps_with_optimizer=_literal_flag(
                        value, "step_scheduler_with_optimizer", True
                    ),
                )
            )
        if isinstance(target, cst.Name):
            key = (scope.id, target.value)
            if isinstance(value, (cst.Dict, cst.List, cst.Tuple)):
                self.locals[key] = value
                self.overrides.pop(key, None)
            else:
                self.locals.pop(key, None)
            if target.value == MANUAL_FLAG and scope.kind == "class" and _is_false(value):
                self.manual_classes.add(id(scope.node))
        elif (
            isinstance(target, cst.Attribute)
            and target.attr.value == MANUAL_FLAG
            and isinstance(target.value, cst.Name)
            and target.value.value == "self"
            and builder.class_stack
            and _is_false(value)
        ):
            self.manual_classes.add(id(builder.class_stack[-1].node))
        elif (
            isinstance(target, cst.Subscript)
            and isinstance(target.value, cst.Name)
            and len(target.slice) == 1
            and isinstance(target.slice[0].slice, cst.Index)
        ):
            key = (scope.id, target.value.value)
            name = self.string_value(target.slice[0].slice.value)
            if key in self.locals and name is not None:
                self.overrides.setdefault(key, {})[name] = value
            elif key in self.locals:
                self.mutated.add(key)  # ``cfg[key] = ...``: a computed key
        elif isinstance(target, cst.Subscript):
            root = target.value
            while isinstance(root, cst.Subscript):
                root = root.value
            if isinstance(root, cst.Name):
                # ``config["lr_scheduler"]["interval"] = "step"``: a nested dict changed
                self._mutate(builder, root.value, "[]=", ())

    def on_augassign(self, builder, target):
        # ``cfg |= {...}`` or any other augmented assignment: the config is no longer known
        if isinstance(target, cst.Name):
            self._mutate(builder, target.value, "op=", ())

    def _mutate(self, builder, name, method, args) -> None:
        key = (builder.scope.id, name)
        if key not in self.locals:
            return
        if method == "update" and args and all(a.keyword is not None for a in args):
            overrides = self.overrides.setdefault(key, {})
            for a in args:
                overrides[a.keyword.value] = a.value  # ``cfg.update(interval="step")``
        else:
            self.mutated.add(key)

    def on_return(self, builder, node: cst.Return):
        function = builder.function_stack[-1] if builder.function_stack else None
        if (
            function is None
            or function.scope is not builder.scope
            or builder.scope.cls is None
            or node.value is None
        ):
            return
        if function.name == MANUAL_FLAG and _is_false(node.value):
            self.manual_classes.add(id(builder.scope.cls.node))  # a property returning False
            return
        if function.name != CONFIGURE_HOOK:
            config = self._dict_items(builder, node.value)
            if config is not None and "scheduler" in config[0]:
                items, opaque = config
                self.config_methods[(id(builder.scope.cls.node), function.name)] = (
                    {k: builder.value(v) for k, v in items.items()},
                    opaque,
                    builder.scope,
                )
            return
        hook = LightningHook(
            node=node, scope=builder.scope, order=builder.next_order(), cls=builder.scope.cls
        )
        hook.schedulers = self._returned(builder, node.value)
        hook.dropped = self._dropped(builder, node.value)
        if hook.schedulers or hook.dropped:
            builder.model.lightning.append(hook)

    # -- the shapes Lightning accepts ---------------------------------------------------------------
    def _local(self, builder, node):
        if isinstance(node, cst.Name):
            return self.locals.get((builder.scope.id, node.value), node)
        return node

    def _dict_items(self, builder, node):
        """{key: value node} of a dict literal (through a local name), and whether it is
        opaque; None when ``node`` is not a dict."""
        original = node
        node = self._local(builder, node)
        if (
            isinstance(node, cst.Call)
            and isinstance(node.func, cst.Name)
            and node.func.value == "dict"
        ):
            items = {a.keyword.value: a.value for a in node.args if a.keyword is not None}
            opaque = any(a.keyword is None for a in node.args)
        elif isinstance(node, cst.Dict):
            items, opaque = {}, False
            for el in node.elements:
                key = self.string_value(el.key) if isinstance(el, cst.DictElement) else None
                if key is None:
                    opaque = True
                else:
                    items[key] = el.value
        else:
            return None
        if isinstance(original, cst.Name):
            key = (builder.scope.id, original.value)
            items.update(self.overrides.get(key, {}))
            opaque = opaque or key in self.mutated
        return items, opaque

    def _sequence(self, builder, node):
        node = self._local(builder, node)
        if isinstance(node, (cst.List, cst.Tuple)) and not any(
            isinstance(e, cst.StarredElement) for e in node.elements
        ):
            return [e.value for e in node.elements]
        return None

    def _returned(self, builder, node) -> list:
        top = self._dict_items(builder, node)
        if top is not None:
            items, opaque = top
            entries = self._from_opt_dict(builder, items, items.get("monitor"))
            for entry in entries:
                entry.opaque = entry.opaque or opaque  # its config may be changed unseen
            return entries
        seq = self._sequence(builder, node)
        if seq is None:
            return []
        if len(seq) == 2 and self._sequence(builder, seq[0]) is not None:
            scheds = self._sequence(builder, seq[1])
            return [
                self._entry(builder, s, None) for s in (scheds if scheds is not None else [seq[1]])
            ]
        out = []
        for el in seq:  # a list of {"optimizer": ..., "lr_scheduler": ...} dicts
            items = self._dict_items(builder, el)
            if items is not None:
                out += self._from_opt_dict(builder, items[0], None)
        return out

    def _dropped(self, builder, node) -> list:
        """(key, Value) of the keys Lightning drops from the dict (or each dict of the list)
        ``configure_optimizers`` returns."""
        top = self._dict_items(builder, node)
        dicts = [top] if top is not None else []
        if top is None:
            dicts = [self._dict_items(builder, el) for el in self._sequence(builder, node) or ()]
        return [
            (key, builder.value(value))
            for found in dicts
            if found is not None
            for key, value in found[0].items()
            if key not in RETURN_KEYS
        ]

    def _from_opt_dict(self, builder, items, monitor) -> list:
        if "lr_scheduler" not in items:
            return []
        entry = self._entry(builder, items["lr_scheduler"], monitor)
        entry.stray_interval = "interval" in items
        return [entry]

    def _entry(self, builder, node, monitor) -> LightningScheduler:
        config = self._dict_items(builder, node)
        if config is None:
            helper = (
                node.func.attr.value
                if isinstance(node, cst.Call)
                and isinstance(node.func, cst.Attribute)
                and isinstance(node.func.value, cst.Name)
                and node.func.value.value == "self"
                else None
            )
            return LightningScheduler(
                value=builder.value(node),
                in_config=False,
                monitor=builder.value(monitor) if monitor is not None else None,
                helper=helper,
            )
        items, opaque = config
        value = {
            k: builder.value(v)
            for k, v in items.items()
            if k in ("scheduler", "interval", "frequency", "monitor")
        }
        sched = value.get("scheduler") or builder.value(node)
        return LightningScheduler(
            value=sched,
            in_config=True,
            interval=value.get("interval"),
            frequency=value.get("frequency"),
            monitor=value.get("monitor"),
            opaque=opaque,
            dropped=[(k, builder.value(v)) for k, v in items.items() if k not in CONFIG_KEYS],
        )

    # -- after the walk ---------------------------------------------------------------------------
    def resolve(self, model, binding_key) -> None:
        """Tie each returned scheduler to its construction, and mark manual optimization
        (declared on the class or on a base class of the same file)."""
        manual = set(self.manual_classes)
        by_name = {c.name: c for c in model.classes}
        changed = True
        while changed:
            changed = False
            for c in model.classes:
                if id(c.node) in manual:
                    continue
                if any(id(by_name[b].node) in manual for b in c.bases if b in by_name):
                    manual.add(id(c.node))
                    changed = True
        by_node = {}
        for s in model.schedulers:
            by_node[id(s.node)] = s
            value = getattr(s.node, "value", None)
            if value is not None:
                by_node[id(value)] = s
        for hook in model.lightning:
            hook.manual = id(hook.cls.node) in manual
            hook.reads_back = self.reads_back
            for entry in hook.schedulers:
                scope = hook.scope
                config = self._config_method(by_name, hook.cls, entry.helper)
                if config is not None and "scheduler" in config[0]:
                    items, entry.opaque, scope = config
                    entry.in_config, entry.value = True, items["scheduler"]
                    entry.dropped = [(k, v) for k, v in items.items() if k not in CONFIG_KEYS]
                    entry.interval, entry.frequency, entry.monitor = (
                        items.get("interval"),
                        items.get("frequency"),
                        items.get("monitor"),
                    )
                v = entry.value
                if v.kind == "call":
                    entry.scheduler = by_node.get(id(v.node))
                elif v.dotted is not None:
                    key = binding_key(scope, v.dotted)
                    cands = [s for s in model.schedulers if s.key == key and key is not None]
                    before = [s for s in cands if s.order <= hook.order or scope is not hook.scope]
                    entry.scheduler = before[-1] if before else None
                if entry.scheduler is None and v.dotted is not None:
                    # built by a helper (``s = build_schedule(opt, n)``), of this file or
                    # imported: the value flow knows it when it is the only scheduler the
                    # name may hold
                    held = model.holds_only(scope, v.dotted)
                    if held and all(isinstance(h, Scheduler) for h in held):
                        if len(held) == 1:
                            entry.scheduler = held[0]  # possibly built in an imported module
                        else:
                            entry.choices = tuple(held)

    def _config_method(self, by_name, cls, name):
        """The config dict ``self.<name>(...)`` returns, from ``cls`` or the first class of
        the file up its bases that defines ``name`` (a shared base module's
        ``def one_cycle(self, optimizer): return {"scheduler": ...}``)."""
        todo, seen = [cls], set()
        while todo:
            c = todo.pop(0)
            if id(c) in seen:
                continue
            seen.add(id(c))
            if name in c.methods:
                return self.config_methods.get((id(c.node), name))
            shorts = [b.rpartition(".")[2] for b in c.bases]
            todo += [by_name[b] for b in shorts if b in by_name]
        return None


@dataclass(eq=False)
class IgniteHook:
    """A handler of an ignite event on an engine built in the file (``ignite_hooks``)."""

    handler: IgniteHandler
    scopes: list  # the handler's function scopes
    process: list  # the function scopes the engine runs once per iteration
    optimizers: list  # (Optimizer, node) an ignite trainer factory steps once per iteration


def _functions(model, node, scope) -> list:
    """The functions the expression ``node`` may be: what the value flow knows, else for
    ``self.<method>`` the method of the class ``scope`` is code of (the flow knows ``self``
    only where the file builds the class)."""
    found = model.callees(node, scope)
    if found or not (isinstance(node, cst.Attribute) and _dotted(node.value) == "self"):
        return found
    cls = next((s.cls for s in scope.function_chain() if s.cls), None)
    method = cls.methods.get(node.attr.value) if cls is not None else None
    return [method] if method is not None else []


def _engines_bound(model, scope, name) -> list:
    """The IgniteEngines the name ``name`` of ``scope`` is bound to: ``trainer = Engine(f)``,
    ``trainer = create_supervised_trainer(...)`` of ignite, or of a function of the file
    that builds the engine it returns."""
    by_node = {id(e.node): e for e in model.ignite_engines}
    out = []
    for value in model.assignments(scope, name):
        if id(value) in by_node:
            out.append(by_node[id(value)])
        elif isinstance(value, cst.Call):
            for fn in model.callees(value.func, scope):
                out += [e for e in model.ignite_engines if e.scope is fn.scope]
    return out


def ignite_hooks(model) -> list:
    """Each IgniteHook of the file: a handler registered on a name bound in the same scope to
    an engine the file builds, with what that engine runs per iteration."""
    if not model.ignite_handlers:
        return []
    out = []
    for h in model.ignite_handlers:
        engines = _engines_bound(model, h.scope, h.engine)
        if not engines:
            continue
        if isinstance(h.handler, cst.CSTNode):
            scopes = [fn.scope for fn in _functions(model, h.handler, h.scope)]
        else:
            scopes = [h.handler]
        process, optimizers = [], []
        for e in engines:
            if e.process is not None:
                process += [fn.scope for fn in _functions(model, e.process, e.scope)]
            if e.optimizer is not None:
                ref = _dotted(e.optimizer)
                held = model.holds(e.scope, ref) if ref is not None else []
                optimizers += [(o, e.node) for o in held if isinstance(o, Optimizer)]
        if scopes and (process or optimizers):
            out.append(IgniteHook(h, scopes, process, optimizers))
    return out


def lightning_steps(model):
    """The schedulers Lightning itself steps: each known (torch or transformers) scheduler
    returned from a ``configure_optimizers`` under automatic optimization, with a config the
    model can read in full. Yields LightningScheduler entries (``entry.scheduler`` is set)."""
    for hook in model.lightning:
        if hook.manual:
            continue
        for entry in hook.schedulers:
            sched = entry.scheduler
            if sched is not None and not entry.opaque and sched.origin in ("torch", "transformers"):
                yield entry


def lightning_choices(model):
    """(entry, scheduler) for each scheduler Lightning may step (:func:`lightning_steps`),
    and for each one a factory may return when it returns one per config choice: each
    choice is a run of the module."""
    for hook in model.lightning:
        if hook.manual:
            continue
        for entry in hook.schedulers:
            if entry.opaque:
                continue
            for sched in (entry.scheduler,) if entry.scheduler is not None else entry.choices:
                if sched.origin in ("torch", "transformers"):
                    yield entry, sched


# The LightningModule hook Lightning calls to step each scheduler it steps: a module that
# overrides it steps them its own way.
LR_SCHEDULER_STEP_HOOK = "lr_scheduler_step"

# Methods that run before Lightning starts stepping what configure_optimizers returns.
SETUP_METHODS = frozenset({"__init__", CONFIGURE_HOOK, "setup", "prepare_data"})


def lightning_stepping(model, sched, scope) -> list:
    """The ``configure_optimizers`` returns (LightningHook) that hand ``sched`` to Lightning
    to step, under automatic optimization, seen from code of ``scope`` that runs while it
    does: a method (or a function nested in one) of the same LightningModule hierarchy
    other than its set-up methods."""
    method = None
    for s in scope.function_chain():
        if s.cls is not None:
            method = s
    if method is None or method.name in SETUP_METHODS:
        return []
    return [
        hook
        for hook in model.lightning
        if not hook.manual
        and model.same_hierarchy(hook.cls, method.cls)
        and any(e.scheduler is sched and not e.opaque for e in hook.schedulers)
    ]


# The hook Lightning runs once per batch: under manual optimization, a scheduler stepped
# there advances once per batch whatever its config's ``interval`` says.
BATCH_HOOK = "training_step"


def manual_batch_step(model, sched, scope):
    """The ``configure_optimizers`` return (LightningHook) of a module optimizing manually
    that hands over ``sched``, when ``scope`` is that module's ``training_step``; else None."""
    if scope.cls is None or scope.name != BATCH_HOOK:
        return None
    for hook in model.lightning:
        if (
            hook.manual
            and model.same_hierarchy(hook.cls, scope.cls)
            and any(e.scheduler is sched for e in hook.schedulers)
        ):
            return hook
    return None


def is_finetuning_callback(cls) -> bool:
    """``cls`` derives from Lightning's ``BaseFinetuning`` (directly)."""
    return any(b.rpartition(".")[2] == FINETUNING_BASE for b in cls.bases)


def added_group_optimizer(call):
    """The optimizer argument of ``self.unfreeze_and_add_param_group(modules, optimizer)``
    (a ``BaseFinetuning`` method that adds a param group to it); else None."""
    method, name, position = FINETUNING_ADD_GROUP
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value != method:
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == name:
            return arg.value
    positional = [a for a in call.args if a.keyword is None]
    if any(a.star for a in positional) or len(positional) <= position:
        return None
    return positional[position].value


def backbone_finetunings(model) -> list:
    """The ``BackboneFinetuning(...)`` calls of the file (Values of the Call nodes)."""
    return [v for name in BACKBONE_FINETUNING for v in model.calls_by_name.get(name, ())]


def _callee_name(func) -> str | None:
    """``SegModel`` for ``SegModel(...)`` and ``models.SegModel(...)``."""
    if isinstance(func, cst.Name):
        return func.value
    if isinstance(func, cst.Attribute):
        return func.attr.value
    return None


def fitted_configured_schedulers(model, node) -> list:
    """The schedulers ``configure_optimizers`` builds in the LightningModules (of this file
    or an imported module) that the function holding the call ``node`` builds
    (``classifier = SegModel(...)`` next to ``BackboneFinetuning(...)``): the trainer that
    gets the callback there fits one of them."""
    scope = next((s for s, call, _, _ in model.flow_calls if call is node), None)
    if scope is None:
        return []
    built = {
        _callee_name(call.func)
        for s, call, _, _ in model.flow_calls
        if s is scope and call is not node
    }
    return [
        e.scheduler
        for m in [model, *model.external_models]
        for hook in m.lightning
        if hook.cls.name in built
        for e in hook.schedulers
        if e.scheduler is not None
    ]


def configured_for_hook(model, optimizer, call) -> list:
    """The schedulers ``configure_optimizers`` builds on ``optimizer`` (in this file or
    another module of the flow) when ``call`` runs in a ``BaseFinetuning`` callback's
    ``finetune_function``: Lightning builds them before training starts, so they exist
    whenever the hook runs. Empty otherwise."""
    hook = next((s for s in call.scope.function_chain() if s.cls is not None), None)
    if hook is None or hook.name not in FINETUNING_HOOKS or not is_finetuning_callback(hook.cls):
        return []
    return [
        s
        for m in [model, *model.other_models()]
        for s in m.schedulers
        if s.optimizer is optimizer and s.scope.name == CONFIGURE_HOOK and s.scope.cls is not None
    ]


def hook_parameter(fn, hook) -> str | None:
    """The parameter of the Lightning hook method ``fn`` that receives an optimizer (or, for
    ``lr_scheduler_step``, a scheduler; for ``finetune_function`` of a ``BaseFinetuning``
    callback, an optimizer)."""
    name, position = (
        OPTIMIZER_HOOKS.get(hook)
        or SCHEDULER_HOOKS.get(hook)
        or FINETUNING_HOOKS.get(hook)
        or (None, 0)
    )
    if name is None:
        return None
    if name in fn.params:
        return name
    return fn.params[position] if len(fn.params) > position else None


def accelerate_state_calls(model) -> list:
    """``accelerator.save_state(...)`` and ``load_state(...)`` calls: checkpoints of exactly
    the objects the file's accelerator prepared or registered."""
    return [c for c in model.accelerate_calls if c.method in ACCELERATE_STATE]


def _prepare_forwarder(info):
    """How the function ``info`` hands its arguments to ``accelerator.prepare``, when its body
    returns ``acc.prepare(...)`` of its own parameters (``def setup_distributed_training(
    accelerator, *components): return accelerator.prepare(*components)``): the parameter
    positions forwarded, or the position from which ``*args`` collects them (as a one-item
    list); None for any other function."""
    node = info.node
    if not isinstance(node, cst.FunctionDef) or not isinstance(node.body, cst.IndentedBlock):
        return None
    params = node.params
    positional = [p.name.value for p in (*params.posonly_params, *params.params)]
    star = params.star_arg.name.value if isinstance(params.star_arg, cst.Param) else None
    for stmt in node.body.body:
        small = stmt.body[0] if isinstance(stmt, cst.SimpleStatementLine) and stmt.body else None
        call = small.value if isinstance(small, cst.Return) else None
        if (
            not isinstance(call, cst.Call)
            or not isinstance(call.func, cst.Attribute)
            or call.func.attr.value not in ("prepare", "prepare_scheduler")
            or not isinstance(call.func.value, cst.Name)
            or call.func.value.value not in positional
            or call.func.value.value in ("self", "cls")  # its own method, not accelerate's
            or not call.args
        ):
            continue
        if len(call.args) == 1 and call.args[0].star == "*":
            given = call.args[0].value
            if star is not None and isinstance(given, cst.Name) and given.value == star:
                return [len(positional)]
            return None
        names = [a.value.value if isinstance(a.value, cst.Name) else None for a in call.args]
        if any(a.star or a.keyword for a in call.args) or not all(n in positional for n in names):
            return None
        return tuple(positional.index(n) for n in names)
    return None


def _forwarded_prepares(model) -> list:
    """An AcceleratorCall for each call of this file to a prepare forwarder (of this file or
    of another module of the tree, which may not import accelerate itself), with the
    arguments it hands on to ``prepare``; and the scopes of those forwarders."""
    if not any(q.partition(".")[0] == "accelerate" for q in model.imports.values()):
        return [], set()
    infos = [i for found in model.functions.values() for i in found]
    infos += [v for v in model.externals.values() if isinstance(v, FunctionInfo)]
    # methods of imported classes too (``TrainerUtils.setup_distributed_training``)
    infos += [
        m
        for v in model.externals.values()
        if isinstance(v, ClassInfo)
        for m in v.methods.values()
        if all(m is not i for i in infos)
    ]
    calls, scopes = [], set()
    for info in infos:
        shape = _prepare_forwarder(info)
        if shape is None:
            continue
        # ``self.setup(...)`` binds ``self`` to the first parameter
        shift = 1 if info.scope.cls is not None and info.params[:1] == ("self",) else 0
        sites = model.flow.call_sites(info.scope)
        if sites and all(
            model.flow.model_of(caller) is model and not any(a.star for a in node.args)
            for caller, _, node in sites
        ):
            scopes.add(id(info.scope))  # every call is read here: they stand for its prepare
        for caller, order, node in sites:
            given = [a for a in node.args if a.keyword is None]
            if any(a.star for a in node.args) or model.flow.model_of(caller) is not model:
                continue
            if isinstance(shape, list):
                handed = given[shape[0] - shift :]
            else:
                handed = [given[i - shift] for i in shape if 0 <= i - shift < len(given)]
            calls.append(
                AcceleratorCall(
                    node=node,
                    scope=caller,
                    order=order,
                    method="prepare",
                    receiver=None,
                    args=tuple(model.value(a.value) for a in handed),
                )
            )
    return calls, scopes


def accelerate_keeps(model, entity) -> bool | None:
    """Whether ``entity`` (an Optimizer or Scheduler) is passed to ``accelerator.prepare`` or
    ``register_for_checkpointing``, so that ``save_state`` carries it: True, False, or None
    when a call hides its arguments (``prepare(*objects)``). A helper that only forwards its
    arguments to ``prepare`` counts at each call of it here."""
    forwarded, forwarders = model.shared(_forwarded_prepares)
    for call in model.accelerate_calls + forwarded:
        if call.method not in ACCELERATE_KEEPS:
            continue
        if call.args is None:
            if id(call.scope) in forwarders:
                continue  # its callers' calls stand for it
            return None
        for arg in call.args:
            if arg.kind == "call" and model.constructed.get(id(arg.node)) is entity:
                return True
            if arg.dotted is not None and entity in model.holds(call.scope, arg.dotted):
                return True
    return False


def manual_unstepped(model, kept_on_self=None):
    """(LightningHook, LightningScheduler) for each scheduler a module that optimizes
    manually returns from ``configure_optimizers`` and nothing steps: no ``step()`` call of
    the file reaches it, the module never reads its schedulers back from Lightning, and the
    scheduler is not also kept on ``self`` (where other code may step it), unless
    ``kept_on_self(model, hook, scheduler)`` says it is kept there only to be returned."""
    for hook in model.lightning:
        if not hook.manual or hook.reads_back or not _whole_hierarchy_here(model, hook.cls):
            continue
        for entry in hook.schedulers:
            sched = entry.scheduler
            if (
                sched is None
                or sched.origin not in ("torch", "transformers")
                or sched.key is not None
                and sched.key[0] == "class"
                and not (kept_on_self and kept_on_self(model, hook, sched))
                or sched.parent is not None
            ):
                continue
            if not model.steps_of(sched):
                yield hook, entry


# The transformers ``Trainer`` methods whose scheduler the Trainer steps after every
# optimizer update (``Trainer.create_scheduler`` binds it to ``self.lr_scheduler``).
_HF_SCHEDULER_HOOKS = frozenset({"create_scheduler", "create_optimizer_and_scheduler"})


def hf_trainer_scheduler(model, sched) -> str | None:
    """The name of the transformers ``Trainer`` subclass (of this file) whose
    ``create_scheduler`` builds ``sched``: the Trainer steps it after every optimizer
    update. None for any other scheduler."""
    method = next((s for s in sched.scope.function_chain() if s.cls is not None), None)
    if method is None or method.name not in _HF_SCHEDULER_HOOKS:
        return None
    for base in _outside_bases(model, method.cls):
        head, _, short = base.rpartition(".")
        if head.partition(".")[0] == "transformers" and short.endswith("Trainer"):
            return method.cls.name
    return None


def derives_from_lightning(model, cls) -> bool:
    """``cls`` is a LightningModule: Lightning's ``LightningModule`` is among its bases or
    those of its bases defined in this file (a class merely named like Lightning's hooks,
    ``configure_optimizers`` in a plain trainer, is not)."""
    return any(base.rpartition(".")[2] == "LightningModule" for base in _outside_bases(model, cls))


def _whole_hierarchy_here(model, cls) -> bool:
    """Every base of ``cls`` is a class of this file or Lightning's own ``LightningModule``:
    no base class elsewhere may step the schedulers (``on_train_epoch_end`` in a shared
    GAN base module)."""
    return all(base.rpartition(".")[2] == "LightningModule" for base in _outside_bases(model, cls))


def _outside_bases(model, cls):
    """The base classes (as written) of ``cls`` and of its bases defined in this file that
    are not themselves classes of this file."""
    by_name = {c.name: c for c in model.classes}
    todo, seen = [cls], set()
    while todo:
        c = todo.pop()
        if id(c) in seen:
            continue
        seen.add(id(c))
        for base in c.bases:
            short = base.rpartition(".")[2]
            if short in by_name:
                todo.append(by_name[short])
            else:
                yield base


# Names through which a LightningModule reads back the schedulers it returned.
_READ_BACK = frozenset({"lr_schedulers", "lr_scheduler_configs"})
# dict methods that may set keys of a config before it is returned
_DICT_MUTATORS = frozenset({"update", "setdefault"})


def _reads_schedulers(node) -> bool:
    """``self.lr_schedulers()``, ``self.trainer.lr_scheduler_configs[0].scheduler``, ..."""
    while node is not None:
        if isinstance(node, cst.Attribute):
            if node.attr.value in _READ_BACK:
                return True
            node = node.value
        elif isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            return False
    return False


def _dotted(node) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr.value}" if head is not None else None
    return None


def _is_false(node) -> bool:
    return isinstance(node, cst.Name) and node.value == "False"


def _accumulates(call) -> bool | None:
    """Whether an ``Accelerator(...)`` accumulates gradients: ``gradient_accumulation_steps=``
    other than a literal 1, or ``gradient_accumulation_plugin=``; None when ``**kwargs`` may."""
    for arg in call.args:
        if arg.star:
            return None
        name = arg.keyword.value if arg.keyword is not None else None
        if name == "gradient_accumulation_plugin":
            return True
        if name == "gradient_accumulation_steps":
            return not (isinstance(arg.value, cst.Integer) and arg.value.value == "1")
    return False


def _splits(call) -> bool | None:
    """``split_batches=`` given to the Accelerator or to a configuration object it receives:
    True/False when literal, None when unknown (``**kwargs``, a variable)."""
    return _literal_flag(call, "split_batches", False)


def _literal_flag(call, keyword, default) -> bool | None:
    """The literal True/False given as ``keyword=`` to the Accelerator or to a configuration
    object it receives, ``default`` when not given, None when unknown (``**kwargs``, a
    variable, a configuration built elsewhere)."""
    stack = [call]
    while stack:
        node = stack.pop()
        for arg in node.args:
            if arg.star:
                return None
            if arg.keyword is not None and arg.keyword.value == keyword:
                if isinstance(arg.value, cst.Name) and arg.value.value in ("True", "False"):
                    return arg.value.value == "True"
                return None
            if isinstance(arg.value, cst.Call):
                stack.append(arg.value)
            elif arg.keyword is not None and arg.keyword.value == "dataloader_config":
                return None  # a configuration built elsewhere
    return default


def deepspeed_handoff(model, sched):
    """(DeepspeedInit, node of this file) where ``sched`` is handed to DeepSpeed as the
    engine's ``lr_scheduler``: the argument of a ``deepspeed.initialize`` call here, or,
    for a function of any module of the tree that forwards its own parameter to it (``def
    distribute(self, ..., lr_scheduler=None): return deepspeed.initialize(...,
    lr_scheduler=lr_scheduler)``), the argument of a call here binding that parameter.
    None when nothing here hands it over (a forwarder's callers report it, a call of
    another module is that module's) or hands it only under a condition (``lr_scheduler=
    sched if not using_deepspeed else None``: the run that steps it by hand may not use
    DeepSpeed at all)."""
    flow = model.flow.solve()
    for m in [model, *model.other_models()]:
        for init in m.deepspeed_inits:
            arg = init.lr_scheduler
            if arg is None or sched not in flow.eval(arg, init.scope):
                continue
            if isinstance(arg, cst.Name) and arg.value in init.scope.params:
                for caller, bound in flow.arguments.get(id(init.scope), {}).values():
                    node = (bound or {}).get(arg.value)
                    if (
                        node is not None
                        and flow.model_of(caller) is model
                        and not isinstance(node, cst.IfExp)
                        and sched in flow.eval(node, caller)
                    ):
                        return init, node
                continue
            if m is model and not isinstance(arg, cst.IfExp):
                return init, arg
    return None
