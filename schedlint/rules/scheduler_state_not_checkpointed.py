from schedlint.model.builder import binding_key
from schedlint.model.facts import Optimizer, Scheduler
from schedlint.model.frameworks import accelerate_keeps, accelerate_state_calls
from schedlint.model.usage import enclosing_class, is_known
from schedlint.model.uses import (
    HARMLESS_METHODS,
    binding_root,
    entries_escape,
    escapes,
    fast_forward,
    fast_forward_loop,
    handed_on_before,
    held_escapes,
    kept_by_class_here,
    list_bound_once,
    list_entry,
    restored_start,
    uses,
)
from schedlint.rules.base import Report, clip, rule


def _consequence(sched):
    if sched.cls == "ReduceLROnPlateau":
        return "its best metric and patience counters are lost, so plateau detection starts over"
    if sched.cls == "SequentialLR" and "last_epoch" in sched.args:
        return (
            "the schedule (warm-up included) starts over: `last_epoch=` does not resume a "
            "SequentialLR, whose constructor resets every group to its `initial_lr` and "
            "restarts the first scheduler"
        )
    # a SequentialLR's constructor resets the groups to their initial_lr
    if sched.closed_form or sched.cls == "SequentialLR" or not is_known(sched):
        return "its step counter restarts at 0, so the schedule (warm-up included) starts over"
    return (
        "its step counter restarts at 0 while the loaded lr is already decayed, so the "
        "decays come at the wrong epochs and compound with the loaded lr"
    )


@rule("SL304", "scheduler-state-not-checkpointed", "warning")
def scheduler_state_not_checkpointed(model):
    """A checkpoint or resume path handles the optimizer's state but not its scheduler's.

    ## What it does
    Flags a dict of states (`torch.save({...})`, `ckpt = {...}`) that holds
    `optimizer.state_dict()` but not the state of the scheduler built on that optimizer in the
    same file, and an `optimizer.load_state_dict(...)` with no `scheduler.load_state_dict(...)`
    anywhere for that scheduler (a scheduler whose state the file saves but never loads back
    is flagged there too; a resume helper of another in-tree module loading the optimizer,
    `load_checkpoint(path, model, optimizer=optimizer)`, is flagged at its call, also when
    the factory's scheduler is only handed to an imported trainer class that steps it and
    never loads it). The scheduler may be built by a factory
    (`scheduler = make_scheduler(optimizer)`) and followed through the names it is stepped
    by, or picked by a config's name (hydra's `instantiate(cfg.scheduler,
    optimizer=optimizer)`, pytorch-template's `config.init_obj("lr_scheduler",
    torch.optim.lr_scheduler, optimizer)`), and the optimizer through a dict of the run's
    objects handed to a checkpoint helper of another module (`state = TrainState(model=model, optimizer=optimizer)`, a
    `TypedDict`, or `dict(...)` with keywords, then `save_checkpoint(path, state)` saving
    `state["optimizer"].state_dict()`). It stays silent when the scheduler is saved or loaded in any
    way the file shows (its `state_dict()`/`load_state_dict()` called anywhere, the scheduler
    passed to a helper, stored in a container or returned; handed to a class of the same
    file whose `__init__` only stores it on `self`, `Engine(model, optimizer, scheduler)`,
    it is followed into that class), when it is resumed through
    `last_epoch` (not a `SequentialLR`: its constructor resets every group to `initial_lr`
    and restarts its first scheduler, whatever `last_epoch` it is given) or `step(epoch)`,
    when it is fast-forwarded in a loop (unless it is chainable
    and the loop replays it after `optimizer.load_state_dict`: that decays the restored lr a
    second time, and is flagged), and when the optimizer
    comes from elsewhere (a helper's argument) with no scheduler seen. A load that puts back a
    snapshot the same function took (`saved = copy.deepcopy(opt.state_dict())`, an lr range
    test) is not a resume. A trainer class handed
    both by a module of the tree (`Trainer(model, optimizer, scheduler)` in `train.py`, or
    in a script of `tools/` or `scripts/` next to the class's package) is
    checked too: its `save`/`resume` methods are flagged when they handle `self.optimizer`
    but not the scheduler it steps, unless some module saves or loads that scheduler or reads
    it from the trainer (`trainer.scheduler`); so is a base class whose subclass in
    another module hands it both (`super().__init__(model, optimizer, scheduler)`), also
    when that subclass steps the scheduler and `train.py` builds both and calls the
    subclass. The optimizers and schedulers may be kept in lists (`self.optimizers =
    [opt_g, opt_d]`, `self.schedulers = [MultiStepLR(o, ...) for o in self.optimizers]`)
    (or grown by `append` in a setup method: `for optimizer in self.optimizers:
    self.schedulers.append(MultiStepLR(optimizer, ...))`)
    and saved or loaded by entry in a loop (`for i, o in enumerate(self.optimizers):
    o.load_state_dict(ckpt["optim"][i])`, `self.optimizers[i].load_state_dict(...)`): the
    schedulers count as saved when an entry of theirs is used other than by `step()`, or
    the list is handed on (or built again, at the resumed epoch). A checkpoint dict built by a helper of
    another in-tree module (`save_checkpoint(path, model, optimizer, epoch)`) is flagged at
    the call that hands it this file's optimizer. Also flags a resume that restores the
    weights and the epoch counter (`start_epoch = ckpt["epoch"] + 1`, a helper returning
    it, or `self.start_epoch` in a trainer, then `for epoch in range(start_epoch, ...)`) but
    neither the optimizer's nor the stepped scheduler's state, unless the optimizer is handed
    to a helper before the loop. With accelerate, flags `accelerator.save_state(...)` (or,
    without one, `load_state(...)`) in the code that steps a scheduler built on a prepared
    optimizer when the scheduler itself is neither passed to `accelerator.prepare(...)` nor
    to `accelerator.register_for_checkpointing(...)` (nor saved by hand), also one that a
    factory of another module builds (whichever its configuration picks) on the file's only
    optimizer: accelerate saves and restores only those objects. Likewise a detectron2 or fvcore
    `Checkpointer(model, save_dir, optimizer=optimizer)` given the optimizer but not the
    scheduler stepped on it (also one detectron2's `build_lr_scheduler` built), and a
    project's own `...Checkpointer` class called the same way (two positional arguments at
    most, `optimizer=` and the other objects it saves by keyword).

    ## Why is this bad?
    The lr itself lives in the optimizer state, but the scheduler's position does not: after a
    resume a fresh scheduler starts counting from step 0. Closed-form schedules (warm-up plus
    cosine, transformers schedules, OneCycleLR) start over; chainable ones (StepLR,
    MultiStepLR, ...) decay again at the wrong epochs on top of the already decayed lr;
    ReduceLROnPlateau forgets its best metric. Nothing fails: the resumed run just trains with
    the wrong learning rate.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
        torch.save({"model": model.state_dict(),
                    "optimizer": optimizer.state_dict(), "epoch": epoch}, path)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(), "epoch": epoch}, path)
    # on resume: optimizer.load_state_dict(...); scheduler.load_state_dict(ckpt["scheduler"])
    ```
    """
    yield from _resumed_without_states(model)
    yield from _accelerate_state(model)
    yield from _checkpointer_state(model)
    cache = {}

    def unsaved(opt, allowed=HARMLESS_METHODS, imported=False):
        if (opt, allowed) not in cache:
            found = model.schedulers_of(opt) + model.schedulers_reached(opt)
            found += [s for s in _bound_elsewhere(model, opt) if all(s is not f for f in found)]
            found += [s for s in _built_by_factories(model, opt) if all(s is not f for f in found)]
            cache[opt, allowed] = [s for s in found if _state_is_lost(model, s, allowed, imported)]
        return cache[opt, allowed]

    def unloaded(opt):
        # at a resume only a load restores the position: a state the file saves but never
        # loads back is lost all the same; so is one only an imported class steps (the class's
        # own checkpoint is checked in its file)
        return unsaved(opt, _SAVING_METHODS, imported=True)

    yield from _replayed_on_restored_lr(model)
    for ckpt in model.checkpoints:
        if ckpt.opaque:
            continue
        for call in ckpt.state_dicts:
            where, built = "this checkpoint saves", ""
            if ckpt.via is not None:  # a dict an imported helper builds from our optimizer
                where = "this call saves a checkpoint with"
                built = f"The dict is built on {model.where(ckpt.via.node)}; "
            for name, sched, alternatives in _lost(model, call, unsaved):
                each = _each(model, name, sched)
                yield Report(
                    call.node,
                    f"{where} `{clip(call.receiver, 30)}.state_dict()` but "
                    f"not the state of scheduler `{clip(name, 30)}`",
                    help=f"{built}`{name}` ({_which(model, alternatives)}) "
                    f"is bound to it: on resume {_consequences(alternatives)}; save "
                    f"`{each}.state_dict()` next to it and restore it with "
                    f"`{each}.load_state_dict(...)`",
                )
    for call in model.calls_of("load_state_dict"):
        if call.snapshot:
            continue
        for name, sched, alternatives in _lost(model, call, unloaded):
            each = _each(model, name, sched)
            save = next(
                (c for c in model.calls if c.method == "state_dict" and sched in c.targets), None
            )
            todo = (
                f"its state is saved ({model.where(save.node)}) but never loaded back; call"
                if save is not None
                else f"save `{each}.state_dict()` in the checkpoint and call"
            )
            what = f"`{clip(call.receiver, 30)}.load_state_dict(...)`"
            if call.via is not None:  # a helper of another module resumes our optimizer
                what = f"`{clip(model.code(call.node.func), 30)}(...)`"
            yield Report(
                call.node,
                f"{what} resumes the optimizer, but scheduler `{clip(name, 30)}` is never restored",
                help=f"`{name}` ({_which(model, alternatives)}) is "
                f"bound to it: {_consequences(alternatives)}; {todo} "
                f"`{each}.load_state_dict(...)` here",
            )


def _lost(model, call, unsaved) -> list:
    """(name, scheduler, every scheduler the name may hold) for each scheduler whose state
    is lost, bound to an optimizer the call saves or loads; the entries of one list
    (``self.schedulers[0]``, ``[1]``) are named once, as the list, for a call in a loop
    over a list of optimizers."""
    out = []
    several = len(_optimizers(call)) > 1
    for sched in (s for opt in _optimizers(call) for s in unsaved(opt)):
        name = _name_here(model, sched)
        entry = list_entry(model, sched) if several and sched.target is None else None
        if entry is not None:
            name = entry[1]
        same = next((alts for n, _, alts in out if n == name), None)
        if same is None:
            out.append((name, sched, [sched]))
        elif entry is None and all(sched is not a for a in same):
            same.append(sched)  # another scheduler the name may hold (a configured pick)
    return out


def _which(model, alternatives) -> str:
    """``StepLR, line 11``, or, for a name that may hold one of several schedulers (the one
    a configuration picks), each: ``StepLR, line 11, or MultiStepLR, line 13``."""
    return ", or ".join(f"{a.cls}, {model.where(a.node)}" for a in alternatives)


def _consequences(alternatives) -> str:
    found = list(dict.fromkeys(_consequence(a) for a in alternatives))
    if len(found) == 1:
        return found[0]
    return "its step counter restarts at 0, so the schedule replays from its first step"


def _each(model, name, sched) -> str:
    """What to call ``state_dict()`` on: the scheduler, or each entry of its list."""
    if sched.target is not None or name.endswith("]") or list_entry(model, sched) is None:
        return name
    return f"{name}[i]"


def _optimizers(call):
    """The optimizers a ``state_dict()``/``load_state_dict()`` call acts on: its one target,
    or each entry of a list of optimizers it runs on in a loop (``for i, o in
    enumerate(self.optimizers): o.load_state_dict(ckpt["optim"][i])``, or
    ``self.optimizers[i].load_state_dict(...)`` by index)."""
    if isinstance(call.target, Optimizer):
        return [call.target]
    if (
        call.target is None
        and call.targets
        and all(isinstance(t, Optimizer) for t in call.targets)
        and call.loop is not None
        and (call.receiver in call.loop.targets or _indexed_by(call.receiver, call.loop))
    ):
        return list(call.targets)
    return []


def _indexed_by(receiver, loop) -> bool:
    """``self.optimizers[i]`` in ``for i in range(len(self.optimizers))``: an entry the loop's
    index picks."""
    head, _, index = receiver.rpartition("[")
    return bool(head) and receiver.endswith("]") and index[:-1] in loop.targets


def _replayed_on_restored_lr(model):
    """``for _ in range(start_epoch): scheduler.step()`` after ``optimizer.load_state_dict``:
    a chainable scheduler multiplies the restored, already decayed lr again."""
    for sched in model.schedulers:
        if sched.closed_form or not is_known(sched) or sched.optimizer is None:
            continue
        if sched.cls in ("ReduceLROnPlateau", "SequentialLR", "ChainedScheduler"):
            continue
        if any(c.method == "load_state_dict" and sched in c.targets for c in model.calls):
            continue  # its own state is restored too: the loop is something else
        for step in model.steps_of(sched):
            if step.loop is None or step.args or step.kwargs or not fast_forward(step):
                continue
            if _walks(step):
                continue  # ``for s in schedulers: s.step()`` steps each once
            load = next(
                (
                    c
                    for c in model.calls
                    if c.method == "load_state_dict"
                    and not c.snapshot
                    and c.target is sched.optimizer
                    and c.scope is step.scope
                    and c.order < step.order
                ),
                None,
            )
            if load is None:
                continue
            name = _name_here(model, sched)
            yield Report(
                step.node,
                f"replaying `{clip(name, 30)}` re-applies its decay to the lr "
                f"`{clip(load.receiver, 30)}.load_state_dict` restored",
                help=f"`{sched.cls}` is chainable: each step scales the current lr, and "
                f"the optimizer state loaded on line {model.line(load.node)} already holds "
                f"the decayed lr, so the decay is applied twice; save "
                f"`{name}.state_dict()` in the checkpoint and restore it with "
                f"`{name}.load_state_dict(...)` instead of stepping",
            )


def _walks(step) -> bool:
    """The loop around ``step`` walks a list of schedulers (``for s in schedulers``)."""
    return step.receiver.partition(".")[0].partition("[")[0] in step.loop.targets


def _bound_elsewhere(model, opt) -> list:
    """Schedulers on ``opt`` that a subclass of a class here, in a module calling it, steps
    (``Trainer(BaseTrainer)`` stepping the ``self.lr_scheduler`` the base stores), and the
    schedulers a list comprehension builds on each optimizer of a list holding ``opt``
    (``[MultiStepLR(o, ...) for o in self.optimizers]``)."""
    out = [
        s
        for s in model.schedulers
        if s.optimizer is None
        and any(o is opt for o in s.optimizers)
        and (entry := list_entry(model, s)) is not None
        and entry[2] is None
    ]
    for _, targets in model.lent_calls("step"):
        for t in targets:
            if isinstance(t, Scheduler) and t.optimizer is opt and all(t is not o for o in out):
                out.append(t)
    return out


def _built_by_factories(model, opt) -> list:
    """Schedulers that a factory of another module builds on the optimizer a call here hands
    it (``scheduler = warmup_cosine(optimizer, ..., last_epoch=start_epoch - 1)`` with the
    factory in ``schedules.py``): that module's fact knows only its parameter."""
    out = []
    for caller, _, sched, bound in model.factory_builds():
        handed = model.factory_optimizer(caller, sched, bound)
        held = handed[1] if handed is not None else None
        if held and len(held) == 1 and held[0] is opt and all(sched is not o for o in out):
            out.append(sched)
    return out


def _subclass_steps(model, sched) -> list:
    return [c for c, targets in model.lent_calls("step") if any(t is sched for t in targets)]


def _name_here(model, sched) -> str:
    """What this file calls the scheduler: ``self.lr_scheduler`` for one a caller built,
    ``self.schedulers[1]`` for an entry of a list."""
    if sched.target is None:
        entry = list_entry(model, sched)
        if entry is not None:
            return entry[1] if entry[2] is None else f"{entry[1]}[{entry[2]}]"
    if model.is_foreign(sched) or sched.target is None:
        holders = model.holders(sched) or [
            (c.scope, c.receiver) for c in _subclass_steps(model, sched)
        ]
        if holders:
            return holders[0][1]
    if sched.target is None:
        # stepped only by an imported class it is handed: the name a function here binds it to
        return _bound_here(model, sched) or "?"
    return sched.target


def _bound_here(model, sched):
    """A name some function of this file binds ``sched`` to, else None (a warm-up scheduler
    an imported ``train_one_epoch`` builds and steps within one call is never in our hands)."""
    for scope in model.scopes:
        for name in sorted(scope.assigned):
            if any(t is sched for t in model.holds(scope, name)):
                return name
    return None


# What a scheduler may do and still lose its position at a resume: be stepped, read, and
# have its state taken for a checkpoint.
_SAVING_METHODS = HARMLESS_METHODS | {"state_dict"}


def _state_is_lost(model, sched, allowed=HARMLESS_METHODS, imported=False) -> bool:
    """The scheduler is stepped, and nothing in the file saves, loads or repositions it
    (with ``_SAVING_METHODS`` allowed: nothing loads or repositions it). With ``imported``,
    a factory's scheduler this file only hands an imported class is followed into it."""
    entry = list_entry(model, sched) if sched.target is None else None
    # built with no name of its own and not in a list: a factory's return value, followed
    # through the names this file steps it by
    returned = sched.target is None and entry is None
    if sched.parent is not None:
        return False
    # a factory's scheduler only an imported class acts on (``Engine(..., scheduler=s)``
    # stepping ``self.scheduler``): followed into that class's module
    imported = (
        imported
        and returned
        and not model.holders(sched)
        and bool(model.imported_calls(sched))
        and _bound_here(model, sched) is not None
    )
    if returned and not model.holders(sched) and not imported:
        return False
    if _resumed_by_last_epoch(sched):
        return False
    steps = model.steps_of(sched) + _subclass_steps(model, sched)
    # stepped through a name holding whichever scheduler a factory's configuration picks
    steps += [c for c in model.steps_reaching(sched) if model.chosen(c)]
    each = []
    if entry is not None:
        # an entry of a list, stepped in a loop over it (``for s in self.schedulers``)
        each = [
            c
            for c in model.calls
            if c.method == "step"
            and any(t is sched for t in c.targets)
            and c.loop is not None
            and c.receiver in c.loop.targets
        ]
        # one scheduler built per entry by a comprehension is stepped through the loop too
        steps = [s for s in steps if all(s is not c for c in each)]
    if not steps and not each:
        return False  # stepped by a framework, or not at all
    for step in steps + each:
        if (step.args or step.kwargs) and sched.cls != "ReduceLROnPlateau":
            return False  # step(epoch): the position comes from the epoch
        # the loop over the list steps every entry; the one around it may fast-forward
        loop = step.loop.parent if step in each else step.loop
        if loop is not None and fast_forward_loop(loop):
            return False
    if entry is not None:
        if not list_bound_once(model, entry[0], entry[1]):
            return False  # built again (on resume, at the restored epoch): not known which
        return not entries_escape(model, entry[0], entry[1], allowed)
    if returned:
        return not held_escapes(model, sched, allowed, imported)
    return not escapes(model, sched, allowed) or kept_by_class_here(model, sched, allowed)


def _resumed_by_last_epoch(sched) -> bool:
    """Built with a ``last_epoch`` that may resume it. Not a SequentialLR: its constructor
    resets every group to ``initial_lr`` and starts its first child over, so its own
    ``last_epoch`` only shifts the milestones (the lr restarts from the warm-up)."""
    last_epoch = sched.args.get("last_epoch")
    return last_epoch is not None and last_epoch.number != -1 and sched.cls != "SequentialLR"


def _accelerate_state(model):
    """``accelerator.save_state``/``load_state`` carry only what ``prepare`` or
    ``register_for_checkpointing`` was given: a stepped scheduler on a prepared optimizer that
    neither reached is not saved, and restarts on resume."""
    calls = accelerate_state_calls(model)
    saves = [c for c in calls if c.method == "save_state"] or calls
    if not saves:
        return
    # also those a factory (of another module, or picking by configuration) builds on an
    # optimizer of this file
    reported = set()
    built = list(model.schedulers)
    reached = [s for s in model.schedulers_reached() if all(s is not b for b in built)]
    for sched in built + reached:
        if not is_known(sched) or sched.parent is not None:
            continue
        if _resumed_by_last_epoch(sched):
            continue
        steps = model.steps_of(sched)
        if sched in reached:
            # whichever scheduler the factory's configuration builds, stepped by one name
            steps = [c for c in model.steps_reaching(sched) if _factory_picks(model, c)]
        if not steps or any(
            (s.args or s.kwargs) and sched.cls != "ReduceLROnPlateau" or s.via is not None
            for s in steps
        ):
            continue
        if any(
            c.method in ("state_dict", "load_state_dict") and sched in c.targets
            for c in model.calls
        ):
            continue  # saved or restored by hand
        if accelerate_keeps(model, sched) is not False or _handed_on(model, steps):
            continue
        if not any(accelerate_keeps(model, opt) for opt in _optimizers_of(model, sched)):
            continue  # the optimizer is not in the saved state either
        for call in saves:
            near = [s for s in steps if _together(model, call.scope, s.scope)]
            if not near:
                continue
            name = min(near, key=lambda s: s.scope is not call.scope).receiver
            if (id(call.node), name) in reported:
                continue  # another scheduler the same factory may build, under the same name
            reported.add((id(call.node), name))
            done = "saves" if call.method == "save_state" else "restores"
            yield Report(
                call.node,
                f"`{clip(call.receiver or 'accelerator', 20)}.{call.method}(...)` {done} the "
                f"prepared optimizer but not scheduler `{clip(name, 30)}`",
                help=f"accelerate checkpoints only objects passed to `prepare(...)` or "
                f"`register_for_checkpointing(...)`; `{name}` ({sched.cls}, "
                f"{model.where(sched.node)}) is neither: on resume {_consequence(sched)}; "
                f"prepare it with the optimizer or register it",
            )


def _factory_picks(model, call) -> bool:
    """``call`` steps, by a name of this file, only schedulers that factories of another
    module build (one of them, by configuration): no scheduler built here."""
    return (
        call.target is None
        and call.via is None
        and all(
            isinstance(t, Scheduler)
            and t.target is None
            and t.parent is None
            and all(t is not s for s in model.schedulers)
            for t in call.targets
        )
    )


def _optimizers_of(model, sched) -> list:
    """The optimizers ``sched`` is built on; for a factory's scheduler whose optimizer is
    the factory's parameter, the file's only optimizer (the one the file hands it)."""
    if sched.optimizers:
        return list(sched.optimizers)
    return list(model.optimizers) if len(model.optimizers) == 1 else []


def _checkpointer_state(model):
    """A detectron2/fvcore ``Checkpointer`` given the optimizer but not the scheduler stepped
    on it: it saves and restores only the objects it is given."""
    for call in model.checkpointers:
        if call.opaque or not model.saves_what_it_is_given(call):
            continue
        given = [v for v in call.checkpointables.values() if v.dotted is not None]
        held = [e for v in given for e in model.holds(call.scope, v.dotted)]
        for value in given:
            for sched in _bound_to(model, call.scope, value):
                if sched in held or not _state_is_lost(model, sched):
                    continue
                name = _name_here(model, sched)
                yield Report(
                    call.node,
                    f"this checkpointer saves `{clip(value.dotted, 30)}` but not the state "
                    f"of scheduler `{clip(name, 30)}`",
                    help=f"`{name}` ({sched.cls}, {model.where(sched.node)}) is bound to it: "
                    f"on resume {_consequence(sched)}; pass it too "
                    f"(`scheduler={name}`), so that `save` and `resume_or_load` carry it",
                )


def _bound_to(model, scope, value):
    """Stepped schedulers built on the optimizer that ``value`` names: one the model knows,
    or, for an optimizer a library factory built (detectron2's ``build_optimizer``), a
    scheduler built in the same function on that name."""
    opts = [e for e in model.holds(scope, value.dotted) if isinstance(e, Optimizer)]
    if opts:
        return [s for o in opts for s in model.schedulers_of(o) + model.schedulers_reached(o)]
    return [
        s
        for s in model.schedulers
        if s.optimizer is None and s.scope is scope and s.optimizer_src == value.dotted
    ]


def _together(model, here, there) -> bool:
    """Code of one function, or of methods of one class hierarchy (a trainer's
    ``save_checkpoint`` and its ``train_step``)."""
    if here is there:
        return True
    cls, other = enclosing_class(model, here), enclosing_class(model, there)
    return cls is not None and other is not None and model.same_hierarchy(cls, other)


def _handed_on(model, steps) -> bool:
    """A variable the scheduler is stepped through is used other than by harmless calls:
    passed to a function, stored, returned (it may be saved there)."""
    for step in steps:
        key = binding_key(step.scope, step.receiver)
        if key is None:
            return True
        for use in uses(binding_root(model, key), step.receiver):
            if use.kind == "method" and use.method in HARMLESS_METHODS:
                continue
            if use.kind not in ("target", "unpacked", "test", "declaration", "attribute"):
                return True
    return False


def _resumed_without_states(model):
    """Weights and the epoch counter restored, the loop continuing from that epoch, and
    neither the optimizer nor the scheduler state restored: the schedule starts over."""
    loads = [c for c in model.calls if c.method == "load_state_dict"]
    for loop in model.loops:
        found = restored_start(model, loop)
        if found is None:
            continue
        restored, readers = found
        if not any(
            c.scope is loop.scope and c.order < loop.order or any(c.scope is r for r in readers)
            for c in loads
        ):
            continue  # no weights restored next to the counter: not a resume
        cls = enclosing_class(model, loop.scope)
        for sched in model.schedulers:
            opt = sched.optimizer
            if (
                not isinstance(opt, Optimizer)
                or opt.target is None
                or sched.target is None
                or not _state_is_lost(model, sched)
            ):
                continue
            if not (
                sched.scope is loop.scope
                and sched.order < loop.order
                or cls is not None
                and sched.key is not None
                and sched.key[0] == "class"
                and (owner := enclosing_class(model, sched.scope)) is not None
                and model.same_hierarchy(cls, owner)
            ):
                continue  # not built before the loop, nor held by the trainer running it
            if not any(c.loop is not None and loop.contains(c.loop) for c in model.steps_of(sched)):
                continue
            if any(c.target is opt or c.target is sched for c in loads) or handed_on_before(
                model, opt, model.line(loop.node)
            ):
                continue
            yield Report(
                restored.node,
                f"training resumes from the checkpoint's epoch, but neither "
                f"`{clip(opt.target, 25)}` nor `{clip(sched.target, 25)}` is restored",
                help=f"The `{sched.cls}` schedule ({model.where(sched.node)}) "
                f"starts over at the resumed epoch; save both `state_dict()`s in "
                f"the checkpoint and restore them with `load_state_dict(...)`",
            )
            break  # one finding per resumed loop
