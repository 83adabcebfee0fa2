from schedlint.model.calls import move_after_edits
from schedlint.model.facts import Optimizer, Scheduler
from schedlint.model.frameworks import IGNITE_BEFORE_UPDATE, ignite_hooks
from schedlint.model.usage import (
    Branches,
    branches_of,
    built_per_entry,
    callee_optimizer_steps,
    conditions,
    name_of,
    names_of,
    skips_first_pass,
    start_gate,
    tests_alike,
)
from schedlint.rules.base import Fix, Report, clip, placed, rule
from schedlint.rules.step_granularity import micro_batch_steps


def _reorder_fix(model, sched_call, opt_call):
    """Move the ``sched.step()`` line to just after the ``opt.step()`` line (same block)."""
    edits = move_after_edits(model, sched_call, opt_call)
    if edits is None:
        return None
    return Fix("unsafe", f"Move `{sched_call.receiver}.step()` after the optimizer step", edits)


def _counter_managed(model, sched) -> bool:
    """``sched.last_epoch = ...`` somewhere: the author keeps the counter by hand (stepping at
    the start of an epoch on purpose, as YOLO-style trainers do)."""
    text = f"{sched.target}.last_epoch"
    return sched.target is not None and any(r.target == text for r in model.rebinds)


def _steps_as_torch(model, sched) -> bool:
    """A torch or transformers scheduler, or a class of the code deriving from a torch
    scheduler only and keeping its ``step()`` (``WarmupMultiStepLR(_LRScheduler)`` with its
    own ``get_lr()``): its ``step()`` is torch's, order warning included."""
    if sched.origin in ("torch", "transformers"):
        return True
    # one a caller module builds from a class it imports: the class is read there
    models = [model, *model.other_models()] if model.is_foreign(sched) else [model]
    return sched.origin == "custom" and any(
        c.name == sched.cls
        and c.is_scheduler_subclass
        and "step" not in c.methods
        and c.bases
        and all(b.startswith("torch.") for b in c.bases)
        for m in models
        for c in m.scheduler_classes()
    )


def _stepped_with_their_optimizers(model):
    """(scheduler, the calls that step its optimizers) for each torch or transformers
    scheduler (or a subclass keeping torch's ``step()``) whose position its own ``step()``
    calls keep (not a plateau, not one whose ``last_epoch`` the code manages). Schedulers a
    caller module builds and hands this file's classes count too (``SimpleTrainer(model,
    loader, optimizer, scheduler)`` in ``train_net.py``), and those a factory of another
    module builds for this file (``self.scheduler = build_lr_scheduler(cfg,
    self.optimizer)``): the order of the steps is this file's code."""
    for sched in model.schedulers + model.schedulers_reached():
        if (
            not _steps_as_torch(model, sched)
            or sched.cls == "ReduceLROnPlateau"
            or _counter_managed(model, sched)
        ):
            continue
        opts = sched.optimizers or _handed_optimizer(model, sched)
        if opts:
            yield sched, [o for opt in opts for o in model.optimizer_steps(opt)]


def _handed_optimizer(model, sched) -> tuple:
    """The one optimizer this file hands the factory of another module that builds
    ``sched`` on its parameter (resolved in its own module, the scheduler knows none)."""
    if not model.is_foreign(sched) or sched.optimizer_src is None:
        return ()
    opts = model.holds_only(sched.scope, sched.optimizer_src) or []
    return tuple(opts) if len(opts) == 1 and isinstance(opts[0], Optimizer) else ()


def _steps(model, sched) -> list:
    """The plain steps of ``sched``: its own, and those of a receiver holding whichever of
    the schedulers one factory returns by configuration (``return CosineAnnealingLR(...)``
    under one test, ``return LambdaLR(...)`` under another)."""
    return model.steps_of(sched) + [
        c for c in model.steps_reaching(sched) if c.target is None and model.chosen(c)
    ]


def _walks_schedulers(call, loop) -> bool:
    """``loop`` binds the receiver of ``call``: it walks a container of schedulers
    (``for s in schedulers``, ``for name, s in self.schedulers.items()``), which says
    nothing about when the training loop around it steps them."""
    return loop is not None and call.receiver.partition(".")[0] in loop.targets


def _training_loop(call):
    """The loop a scheduler step repeats with: its own, or the one around the loops that
    walk a container of schedulers."""
    loop = call.loop
    while _walks_schedulers(call, loop):
        loop = loop.parent
    return loop


def _replaced_optimizer_steps(model, branches):
    """``if scheduler: scheduler.step() else: optimizer.step()``: a library scheduler stepped
    in a loop where every step of its optimizers (the file's, and its helpers') is in the
    other arm of an ``if`` around it, in the same loop. Not when anything else in the loop
    steps (``scaler.step(optimizer)``, a helper that may step the optimizer), nor when the
    same scheduler also steps in the optimizer's arm (a pass skipped, schedule and all)."""
    for call in model.calls:
        loop = _training_loop(call)
        if call.method != "step" or call.args or call.kwargs or loop is None:
            continue
        scheds = [t for t in call.targets if isinstance(t, Scheduler)]
        if (
            not scheds
            or len(scheds) != len(call.targets)
            or any(
                s.origin not in ("torch", "transformers")
                or s.cls == "ReduceLROnPlateau"
                or _counter_managed(model, s)
                for s in scheds
            )
        ):
            continue
        opts = set()
        for s in scheds:
            found = s.optimizers or (
                model.holds(s.scope, s.optimizer_src) if s.optimizer_src else []
            )
            opts.update(id(o) for o in found if isinstance(o, Optimizer))
        if not opts:
            continue
        path = branches.path(call)
        replaced, clear = [], True
        for c in model.calls + model.calls_via_imports:
            if c is call or "step" not in c.method:
                continue
            targets = list(c.targets) + [c.optimizer_arg] * (c.optimizer_arg is not None)
            here = c.scope is call.scope and c.loop is not None and loop.contains(c.loop)
            if targets and all(isinstance(t, Scheduler) for t in targets):
                if (
                    here
                    and any(t in scheds for t in targets)
                    and Branches.exclusive(path, branches.path(c))
                ):
                    # The schedule also steps on the passes that update the weights: the
                    # branch skips a pass (a warm-up's zero-lr first epoch), it does not
                    # replace the update.
                    clear = False
                    break
                continue  # another scheduler
            if here and Branches.exclusive(path, branches.path(c)):
                if any(id(t) in opts for t in targets):
                    replaced.append(c)
                continue
            if here or any(id(t) in opts for t in targets):
                clear = False  # steps next to it, or steps the optimizer elsewhere
                break
        if not clear or not replaced or any(c.via is not None for c in replaced):
            continue
        first = min(replaced, key=lambda c: c.order)
        sched = scheds[0]
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` runs instead of "
            f"`{clip(first.receiver, 30)}.step()` (line {model.line(first.node)})",
            help=f"`{call.receiver}` is a `{sched.cls}` ({model.where(sched.node)}) on "
            f"the optimizer that `{first.receiver}.step()` steps only in the other branch: "
            f"whenever the scheduler steps, the optimizer does not, so the weights never "
            f"change while the schedule advances; call `{first.receiver}.step()` on every "
            f"pass and `{call.receiver}.step()` after it",
        )


def _custom_torch_step(model, names, call):
    """The one scheduler a call's receiver is when it is a class of the code keeping torch's
    ``step()`` (``WarmupMultiStepLR(_LRScheduler)`` with its own ``get_lr()``), else None."""
    ents = names.holds(call.scope, call.receiver)
    if (
        not ents
        or len(ents) != 1
        or not isinstance(ents[0], Scheduler)
        or ents[0].origin != "custom"
        or call.target is not ents[0]
    ):
        return None
    return ents[0] if _steps_as_torch(model, ents[0]) else None


def _loop_steps(model, names):
    """(call, scheduler, optimizer key) for each plain ``sched.step()`` in a loop on one known
    scheduler other than ReduceLROnPlateau, whose optimizer variable is known; a step in a
    walk over a container of schedulers (``{"gen": StepLR(opt_g), "disc": ...}``) once for
    each scheduler it may be."""
    for call in model.calls:
        if call.method != "step" or call.args or call.kwargs or _training_loop(call) is None:
            continue
        sched = names.scheduler(call) or _custom_torch_step(model, names, call)
        if sched is not None:
            scheds = [sched]
        elif _walks_schedulers(call, call.loop):
            scheds = names.schedulers(call) or []
        else:
            continue
        for sched in scheds:
            if sched.cls == "ReduceLROnPlateau":
                continue
            key = names.optimizer_key(sched)
            if key is not None:
                yield call, sched, key


def _opt_text(call, sched) -> str:
    if call.args and (
        call.args[0].dotted == sched.optimizer_src
        or call.receiver.rpartition(".")[2].lower().endswith("scaler")
    ):
        return f"{call.receiver}.step({call.args[0].src})"
    return f"{call.receiver}.step()"


def _subject(call, sched) -> str:
    """The scheduler as the message names it: its variable, else the receiver stepping it
    (``self.schedulers['disc']`` of a dict a comprehension builds)."""
    return name_of(sched) if sched.target else f"`{clip(call.receiver, 40)}`"


def _named(model, call, sched) -> str:
    """The scheduler as the message names it; one a caller module built (its variable
    there means nothing here) by the receiver this file steps it through."""
    return f"`{clip(call.receiver, 40)}`" if model.is_foreign(sched) else name_of(sched)


def _optimizer_words(sched) -> str:
    """The optimizer a scheduler is on: its variable, or, for one built per entry of a
    container (the variable is a comprehension's), that entry."""
    if built_per_entry(sched):
        return "built for each optimizer of a container"
    return f"on `{sched.optimizer_src}`"


def _per_call_first(model, branches):
    """A per-epoch function (``train(epoch, ...)``, ``Trainer.train``, or one imported from
    another module of the tree) that steps the scheduler unconditionally at its top, before
    the batch loop where it steps the optimizer, and is itself called from a loop: each
    epoch starts one schedule step early. Or a per-iteration one (``run_step()``) that steps
    it before its one optimizer step: each update runs one schedule step early."""
    for sched, opt_steps in _stepped_with_their_optimizers(model):
        for step in _steps(model, sched):
            own = step.via or step  # the call itself, in the imported helper when re-anchored
            if own.args or own.kwargs or own.loop is not None or own.scope.kind != "function":
                continue
            if step.via is None and own.scope.cls is None and model.is_foreign(sched):
                continue  # a plain function handed the scheduler: its callers report their call
            if conditions(branches.path(own), {own.receiver}):
                continue  # `if epoch > 0:`, an early return: the author decides when
            first = min(
                ((o.via or o) for o in opt_steps if (o.via or o).scope is own.scope),
                key=lambda o: o.order,
                default=None,
            )
            if first is None or first.order < own.order:
                continue
            if step.via is not None:
                site, fn = (step.node if step.loop is not None else None), own.scope.name
            else:
                site = next(
                    (call for _, call, loop in model.call_sites(own.scope) if loop is not None),
                    None,
                ) or next(
                    # the loop of a base class in another module (``TrainerBase.train`` in
                    # engine/train_loop.py calling ``self.run_step()``), or of a caller there
                    (c[1].node for c in model.call_chains(own) if len(c) > 1 and c[1].loop),
                    None,
                )
                fn = own.scope.name
            if site is None:
                continue  # run once: a deliberate first step (skipping a warm-up's 0) is common
            here, there = placed(model, first.node)
            on = f"`{_opt_text(first, sched)}` is on {there}. " if there else ""
            # ``run_step()`` steps the optimizer once, with no loop of its own: each call is
            # one iteration of the loop that calls it
            unit = "epoch's updates" if first.loop is not None else "call's update"
            after = "the loop that runs " if first.loop is not None else ""
            yield Report(
                step.node,
                f"`{clip(own.receiver, 30)}.step()` runs before "
                f"`{clip(_opt_text(first, sched), 40)}`{here} in every call of "
                f"`{clip(fn, 30)}()`",
                help=f"{on}`{fn}()` runs once per iteration of the loop at "
                f"{model.where(site)}, so {_named(model, own, sched)} (a `{sched.cls}`, "
                f"{model.where(sched.node)}) advances before each {unit}: "
                f"the first lr of the schedule is never used; call "
                f"`{own.receiver}.step()` after {after}`{_opt_text(first, sched)}`",
            )


def _runs_in_loop(model, fact, loop, scope):
    """The call in ``loop``'s body (in ``scope``) that runs ``fact``: the fact itself, or the
    call of a function (of a function, ...) that does; None when no chain reaches it."""
    for chain in model.call_chains(fact):
        for site in chain:
            if site.scope is scope and site.loop is not None and loop.contains(site.loop):
                return site
    return None


def _hooked_schedulers(model):
    """(scheduler, the calls that step its optimizers) for the hook check: this file's, and
    the torch schedulers a module calling or deriving from this file's classes builds
    (``self.schedulers`` that ``SRModel.__init__`` fills for ``BaseModel``), with the steps
    of their optimizers there (``optimize_parameters`` of the subclass)."""
    lent = model.lent_calls("step")
    reached = model.schedulers_reached()
    seen = []
    for sched, opt_steps in _stepped_with_their_optimizers(model):
        seen.append(sched)
        if any(sched is r for r in reached):
            opt_steps = opt_steps + [
                c for c, ts in lent if any(t is opt for opt in sched.optimizers for t in ts)
            ]
        yield sched, opt_steps
    for sched in reached:
        if any(sched is s for s in seen):
            continue
        if (
            sched.origin not in ("torch", "transformers")
            or sched.cls == "ReduceLROnPlateau"
            or not sched.optimizers
            or any(_counter_managed(m, sched) for m in [model, *model.other_models()])
        ):
            continue
        opt_steps = [o for opt in sched.optimizers for o in model.optimizer_steps(opt)]
        opt_steps += [c for c, ts in lent if any(t is opt for opt in sched.optimizers for t in ts)]
        yield sched, opt_steps


def _hook_first(model, branches):
    """A function with no loop of its own (``on_epoch_start``, ``before_epoch``) that steps
    the scheduler unconditionally, called in a loop whose body steps the optimizer only
    after that call (inline, or in another function it calls, ``self.train_epoch()``): every
    iteration advances the schedule before its updates. A walk over a container of
    schedulers (``for s in self.schedulers: s.step()``) is not a loop of its own: each call
    steps every scheduler once. The loop may be in a module calling this file's class
    (``model.update_learning_rate()`` in ``train.py``)."""
    for sched, opt_steps in _hooked_schedulers(model):
        for step in model.steps_reaching(sched):
            if step.via is not None or step.args or step.kwargs:
                continue
            walks = []
            loop = step.loop
            while _walks_schedulers(step, loop):
                walks.append(loop)
                loop = loop.parent
            if step.target is not sched and not walks and not model.chosen(step):
                continue  # may be another scheduler, not a walk over them all
            if conditions(branches.path(step), {step.receiver}):
                continue  # `if epoch > 0:`, an early return: the author decides when
            if any(o.scope is step.scope for o in opt_steps):
                continue  # the function steps the optimizer itself: _per_call_first's shape
            for site in model.loops_around_calls(step, walks):
                runs = [_runs_in_loop(model, o, site.loop, site.scope) for o in opt_steps]
                runs = [r for r in runs if r is not None]
                if not runs or any(r.order <= site.order for r in runs):
                    continue  # the optimizer steps first in that loop (or not in it at all)
                first = min(runs, key=lambda r: r.order)
                fn = step.scope.name
                what = (
                    f"{_named(model, step, sched)} (a `{sched.cls}`, {model.where(sched.node)})"
                    if sched.target or model.is_foreign(sched)
                    else f"the `{sched.cls}` built at {model.where(sched.node)}"
                )
                yield Report(
                    step.node,
                    f"`{clip(step.receiver, 30)}.step()` in `{clip(fn, 30)}()` runs before "
                    + (
                        f"`{clip(model.code(first.node), 32)}` in the loop at line "
                        f"{model.line(site.loop.node)}"
                        if site.here
                        else f"`{clip(model.code(first.node), 30)}` in "
                        f"`{clip(site.scope.name, 20)}()`'s loop"
                    ),
                    help=f"`{fn}()` is called at {model.where(site.node)}, before the "
                    f"optimizer steps at {model.where(first.node)} in the same loop body "
                    f"(at {model.where(site.loop.node)}), so {what} advances before each "
                    f"iteration's updates: the first lr of the schedule is never used; step "
                    f"the scheduler after the optimizer (at the end of the loop body)",
                )
                break


def _runs_in(model, fact, scopes) -> bool:
    """``fact`` is code of one of the function ``scopes``, or of a function they call."""
    return any(
        any(site.scope is s for site in chain for s in scopes) for chain in model.call_chains(fact)
    )


def _ignite_first(model, branches):
    """A scheduler stepped in an ignite handler of ``Events.EPOCH_STARTED`` or
    ``ITERATION_STARTED`` on an engine whose process function (run once per iteration, after
    those events) steps the scheduler's optimizer: each epoch's (or iteration's) updates run
    at the next lr of the schedule."""
    hooks = [
        h
        for h in ignite_hooks(model)
        if h.handler.event in IGNITE_BEFORE_UPDATE and not h.handler.filtered
    ]
    if not hooks:
        return
    for sched, opt_steps in _stepped_with_their_optimizers(model):
        for step in model.steps_reaching(sched):
            if step.via is not None or step.args or step.kwargs:
                continue
            if step.target is not sched and not _walks_schedulers(step, step.loop):
                continue
            if _training_loop(step) is not None:
                continue  # a loop of its own in the handler
            if conditions(branches.path(step), {step.receiver}):
                continue  # `if engine.state.epoch > 1:`: the author decides when
            for hook in hooks:
                if not any(step.scope is s for s in hook.scopes):
                    continue
                runs = [
                    (o.node, f"`{model.code(o.node)}`")
                    for o in opt_steps
                    if _runs_in(model, o, hook.process)
                ]
                runs += [
                    (node, f"the update in `{model.code(node).partition('(')[0]}()`")
                    for opt, node in hook.optimizers
                    if any(opt is o for o in sched.optimizers)
                ]
                if not runs:
                    continue
                node, text = min(runs, key=lambda r: model.position(r[0]))
                event = f"Events.{hook.handler.event}"
                unit = "epoch" if hook.handler.event.startswith("EPOCH") else "iteration"
                yield Report(
                    step.node,
                    f"`{clip(step.receiver, 30)}.step()` runs on `{event}`, before "
                    f"{clip(text, 50)} (line {model.line(node)})",
                    help=f"ignite fires `{event}` before the engine's process function runs, "
                    f"so {name_of(sched)} (a `{sched.cls}`, {model.where(sched.node)}) "
                    f"advances before the {unit}'s updates: the first lr of the schedule is "
                    f"never used (torch warns once); step it on "
                    f"`Events.{unit.upper()}_COMPLETED`, or attach ignite's `LRScheduler`",
                )
                break


def _late_start(model, branches, call, sched, loop, path, inside, via):
    """A report when every step of the scheduler's optimizer in ``loop`` (``inside``: its
    calls in the loop; ``via``: (call, function, its steps) of the functions of this file
    the loop calls) waits for a start threshold (``if total_steps >= cfg.disc_start:``) that
    the scheduler step does not: the schedule moves for passes that make no update."""
    if sched.loop is not None and loop.contains(sched.loop):
        return None  # built in the loop: when the optimizer starts, say
    gated = []  # (node, what runs there, the threshold's `if`)
    for c in inside:
        # a helper of another module steps it: name the call here
        text = _opt_text(c, sched) if c.via is None else model.code(c.node).partition("(")[0] + "()"
        gated.append((c.node, text, start_gate(model, branches.path(c), c.scope, loop)))
    for node, info, opt_steps in via:
        gate = start_gate(model, branches.path_in(node, call.scope.node), call.scope, loop)
        if gate is None:  # waits inside the function (``self.train_disc()``), every step
            site = (node, call.scope, loop)
            inner = [start_gate(model, branches.path(o), o.scope, site=site) for o in opt_steps]
            gate = inner[0] if inner and None not in inner else None
        gated.append((node, f"{info.name}()", gate))
    if not gated or any(gate is None for *_, gate in gated):
        return None
    if any(tests_alike(model, path, gate) for *_, gate in gated):
        return None  # stepped under the same condition (or one on the same counter)
    node, opt_text, gate = min(gated, key=lambda g: model.position(g[0]))
    return Report(
        call.node,
        f"`{clip(call.receiver, 20)}.step()` runs from the first pass, `{clip(opt_text, 20)}` "
        f"(line {model.line(node)}) only once `{clip(model.code(gate.test), 24)}`",
        help=f"{_subject(call, sched)} (a `{sched.cls}` {_optimizer_words(sched)}, line "
        f"{model.line(sched.node)}) moves the lr on every pass while `{opt_text}` waits "
        f"for the condition at line {model.line(gate)}, so the optimizer's first updates "
        f"run at an lr the schedule has already decayed (torch warns once); step the "
        f"scheduler under the same condition, or build it when the optimizer starts",
    )


@rule("SL203", "scheduler-step-before-optimizer-step", "error", fixable="sometimes")
def scheduler_step_before_optimizer_step(model):
    """`scheduler.step()` runs before `optimizer.step()` in the same loop body.

    ## What it does
    Flags a `scheduler.step()` call that comes, in the body of a loop, before the first
    `optimizer.step()` (or `scaler.step(optimizer)`) of the optimizer the scheduler is bound to,
    where that optimizer step is in the same loop (directly, in a nested loop, or in a function
    of the same file called there, such as `train_one_epoch(model, loader, optimizer)`, or of
    another module of the tree, `utils.train_one_epoch(model, loader, optimizer, scaler)`
    whose `scaler.step(optimizer)` steps the optimizer that call hands it). The loop may be
    in a top-level function of another module that the script building the optimizer and
    scheduler calls with both (`do_train(cfg, model, loader, optimizer, scheduler)` in
    `engine.py`, the optimizer from a factory such as `make_optimizer(cfg, model)`).
    Schedulers kept in a dict or a list and stepped through a walk over it (`for name, s in
    self.schedulers.items(): s.step()`) are judged by the loop around that walk; optimizers
    and schedulers in dicts (also built by comprehensions, `{n: StepLR(o) for n, o in
    self.optimizers.items()}`) are followed through their subscripts
    (`self.schedulers["disc"].step()` before `self.optimizers["disc"].step()`). Calls
    in mutually exclusive branches, `ReduceLROnPlateau`, `step(epoch)` with an explicit value
    (which sets the position itself), a scheduler handed to the called function, and a
    scheduler whose `last_epoch` the code sets by hand (stepping first on purpose), and a step
    the first pass of the loop skips (`if it > 0: scheduler.step()`, with `it` counting the
    passes from 0 through `range` or `enumerate`: every update then runs at the lr the
    schedule meant for it) are not flagged. Also flags a per-epoch function or method (`train(epoch, ...)`,
    `Trainer.train`, a `train_one_epoch` imported from another module) that steps the
    scheduler at its top, unconditionally, before the loop where it steps the optimizer, when
    that function is called from a loop, or before its one optimizer step when it has no loop
    (detectron2's `run_step()`, called once per iteration, also by the loop of a base class
    in another module, `TrainerBase.train`, and when the scheduler comes from
    another module: built by the script that hands it to the trainer, `SimpleTrainer(model,
    loader, optimizer, scheduler)`, or by a factory there, `self.scheduler =
    build_lr_scheduler(cfg, self.optimizer)`), and a function with no loop of its own
    (`on_epoch_start()`, `before_epoch(scheduler)`) that steps the scheduler unconditionally
    and is called in a loop whose body steps the optimizer only after that call (inline, or
    in another function it calls, `self.train_epoch()`); a walk over a list of schedulers
    (`for scheduler in self.schedulers: scheduler.step()` in BasicSR's
    `update_learning_rate()`, the list filled per optimizer by a subclass, also in another
    module) counts as no loop, and the loop may be in a script calling the class
    (`model.update_learning_rate()` before `model.optimize_parameters()`). Also flags a
    scheduler stepped in a pytorch-ignite handler of `Events.EPOCH_STARTED` or
    `ITERATION_STARTED` (`@trainer.on(...)`, `trainer.add_event_handler(...)`) on an engine
    whose process function steps its optimizer (`Engine(update)`, `Engine(self.train_step)`,
    also built by a function of the file, or ignite's `create_supervised_trainer(model,
    optimizer, loss_fn)`): ignite
    fires those events before the epoch's (the iteration's) updates. A filtered event
    (`Events.EPOCH_STARTED(every=2)`) and ignite's own `LRScheduler` and
    `create_lr_scheduler_with_warmup` handlers, attached on `ITERATION_STARTED` as ignite
    documents, are not flagged. These checks take torch and transformers schedulers, and
    a class of the code deriving from a torch scheduler that keeps torch's `step()`
    (`WarmupMultiStepLR(_LRScheduler)` with its own `get_lr()`, also imported from the
    module defining it). Also flags a torch or transformers
    scheduler stepped in one arm of an `if` in a loop whose every step of that scheduler's
    optimizer is in the other arm (`if scheduler: scheduler.step() else: optimizer.step()`),
    when nothing else in the loop steps and no other code steps that optimizer: the
    scheduler's step replaces the optimizer's. Also flags a scheduler stepped from the first
    pass of its loop while every step of its optimizer there (inline, or in a function it calls)
    waits for a start threshold, as a GAN's discriminator does: `if total_steps >=
    cfg.disc_start: opt_disc.step()` (`>`, or `cfg.disc_start <= total_steps`), with a counter
    that is 0 on the first pass (the loop's `range`/`enumerate` index, a name set to 0 before
    the loop and raised with `+=` after the test, a `self.global_step` set to 0 in `__init__`
    and only raised) and a configured start (or a positive integer, for a counter of the
    scheduler's own passes). A scheduler stepped under the same condition (or any test of that
    counter), one built in the loop (when the optimizer starts), a counter a checkpoint may set,
    and a modulo test (`if i % n_critic == 0:`) are not flagged. A scheduler stepped on every
    micro-batch while the optimizer steps only under a gradient-accumulation test is a question
    of granularity, not of order: SL207 reports it.

    ## Why is this bad?
    Since PyTorch 1.1 the scheduler must be stepped *after* the optimizer. Stepping it first
    moves the learning rate before the first update is made, so the first value of the schedule
    (the warm-up start, the initial lr) is never used and the whole schedule runs one step
    early. PyTorch warns only on the very first call, and the warning is hidden by libraries
    that filter it (accelerate). A scheduler that moves while its optimizer waits for a
    start threshold decays the lr before the first update: the optimizer starts at an lr
    the schedule meant for much later.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        scheduler.step()
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        for x, y in loader:
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
    ```

    ## Fix
    Unsafe, and only when both calls are single-line statements of the same block: the
    `scheduler.step()` line is moved after the `optimizer.step()` line. This changes which
    learning rate every step uses (that is the point), so it is never applied without
    `--unsafe-fixes`.
    """
    names = names_of(model)
    branches = branches_of(model)
    reported = set()
    for call, _, _ in micro_batch_steps(model, names, branches):
        reported.add(id(call.node))  # per micro-batch: a question of granularity (SL207)
    for report in [
        *_replaced_optimizer_steps(model, branches),
        *_per_call_first(model, branches),
        *_hook_first(model, branches),
        *_ignite_first(model, branches),
    ]:
        if id(report.node) not in reported:
            reported.add(id(report.node))
            yield report
    steps_by_key = {}
    for call, sched, key in _loop_steps(model, names):
        if id(call.node) in reported:
            continue
        if key not in steps_by_key:
            steps_by_key[key] = names.optimizer_steps(key, through_helpers=True)
        loop = _training_loop(call)
        if _counter_managed(model, sched):
            continue  # stepped at the epoch's start on purpose, counter fixed by hand
        inside = [
            c
            for c in steps_by_key[key]
            if c.scope is call.scope and c.loop is not None and loop.contains(c.loop)
        ]
        path = branches.path(call)
        if skips_first_pass(path, loop):
            continue  # `if it > 0:` at the top: the first update runs at the first lr
        inside = [c for c in inside if not Branches.exclusive(path, branches.path(c))]
        via = []  # (call node, function, its steps): a function of this file stepping it
        for info, node, opt_steps in callee_optimizer_steps(
            model, names, loop, call.scope, call.receiver, sched.optimizer_src, key
        ):
            if opt_steps is None:
                via = None
                break
            if opt_steps and not Branches.exclusive(path, branches.path_in(node, call.scope.node)):
                via.append((node, info, opt_steps))
        if via is None:
            continue  # the scheduler is handed to a function: what it does there is unseen
        late = _late_start(model, branches, call, sched, loop, path, inside, via)
        if late is not None:
            reported.add(id(call.node))
            yield late
            continue
        via = [(n, info) for n, info, _ in via]
        if any(c.order < call.order for c in inside):
            continue
        if any(model.starts_before(n, call.node, loop.node) for n, _ in via):
            continue  # the scheduler is handed to a function, or one steps the optimizer first
        if inside:
            first = min(inside, key=lambda c: c.order)
            if any(model.starts_before(n, first.node, loop.node) for n, _ in via):
                continue  # keep it simple: report the direct optimizer step only
            if first.via is not None:
                # a helper of another module steps it: name the call here, and the step there
                opt_text = model.code(first.node).partition("(")[0] + "()"
                nested = (
                    f", which steps `{sched.optimizer_src}` with `{_opt_text(first.via, sched)}` "
                    f"({model.where(first.via.node)})"
                )
            else:
                opt_text = _opt_text(first, sched)
                nested = ", in the nested loop" if first.loop is not loop else ""
        elif via:
            _, node, info = min(((model.position(n), n, i) for n, i in via), key=lambda v: v[0])
            first = None
            opt_text = f"{info.name}()"
            nested = f", which steps `{sched.optimizer_src}`"
            line = model.line(node)
        else:
            continue
        reported.add(id(call.node))  # once per call, however many schedulers it steps
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` runs before `{clip(opt_text, 40)}` "
            f"(line {model.line(first.node) if first else line}) in the same loop body",
            fix=_reorder_fix(model, call, first) if first else None,
            help=f"{_subject(call, sched)} is a `{sched.cls}` {_optimizer_words(sched)} "
            f"({model.where(sched.node)}); stepped before `{opt_text}`{nested}, it "
            f"never uses the first lr of the schedule and every update gets the "
            f"next one; call `{call.receiver}.step()` after the optimizer step",
        )
