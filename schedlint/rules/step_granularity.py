import re
from dataclasses import replace

from schedlint.model import catalogue
from schedlint.model.facts import Optimizer
from schedlint.model.frameworks import (
    accelerate_keeps,
    deepspeed_handoff,
    hf_trainer_scheduler,
    manual_batch_step,
)
from schedlint.model.usage import (
    ACCUMULATION_WORDS,
    BATCH_LOOP_WORDS,
    ITER_WORDS,
    assigned_value,
    assigns_call_of,
    branches_of,
    callee_optimizer_steps,
    class_text,
    conditions,
    enclosing_class,
    guard_of,
    if_test,
    is_epoch_loop,
    is_if,
    is_known,
    loop_words,
    name_of,
    names_of,
    rebound_value,
    same_batches,
    sized_in,
    skips_rest,
    unconverted,
    words,
)
from schedlint.rules.base import Report, clip, rule

# Arguments that size a schedule, per class.
_LENGTH_ARGS = {
    "OneCycleLR": ("total_steps", "steps_per_epoch"),
    "CyclicLR": ("step_size_up", "step_size_down"),
    "StepLR": ("step_size",),
    "MultiStepLR": ("milestones",),
    "CosineAnnealingLR": ("T_max",),
    "CosineAnnealingWarmRestarts": ("T_0",),
    "LinearLR": ("total_iters",),
    "ConstantLR": ("total_iters",),
    "PolynomialLR": ("total_iters",),
}
_TRANSFORMERS_LENGTH = ("num_training_steps", "num_decay_steps")
# Classes whose length says where the lr decays: "steps" there names the decay points
# (torchvision's `--lr-steps 16 22` are epochs), not a count of iterations.
_DECAY_POINTS = frozenset({"StepLR", "MultiStepLR"})
# Counted in iterations by design (semantics §7.1 #3).
_PER_ITERATION = catalogue.PER_ITERATION | (
    frozenset(catalogue.TRANSFORMERS_FACTORIES) - catalogue.CONSTANT_SCHEDULES
)


def keeps_its_lr(sched) -> bool:
    """A constant transformers schedule: stepped per batch, per epoch or per micro-batch, its
    lr is the same."""
    return sched.origin == "transformers" and sched.cls in catalogue.CONSTANT_SCHEDULES


def _length_values(sched):
    names = (
        _TRANSFORMERS_LENGTH if sched.origin == "transformers" else _LENGTH_ARGS.get(sched.cls, ())
    )
    factory = (
        catalogue.TRANSFORMERS_FACTORIES.get(sched.cls) if sched.origin == "transformers" else None
    )
    if factory is not None:
        # `get_scheduler("constant", num_training_steps=...)` hands the factory it names lengths
        # that factory never reads: only its own parameters size the schedule (none for a
        # constant one, whose lr is the same whenever it is stepped).
        names = tuple(n for n in names if n in factory)
    values = [sched.args[n] for n in names if n in sched.args]
    if (
        not values
        and sched.origin == "transformers"
        and "num_warmup_steps" in sched.args
        and (factory is None or "num_warmup_steps" in factory)
    ):
        values = [sched.args["num_warmup_steps"]]
    return values


def _expand(model, sched, value):
    """A bare name assigned once in the scheduler's scope stands for what it was assigned,
    unless only the name tells the unit: ``num_epochs = 5`` or ``= cfg.n`` keeps
    ``num_epochs``."""
    if value.kind != "name":
        return value
    if model.is_foreign(sched):
        # built in another module: its assignments, not this file's rebinds
        nodes = model.assignments(sched.scope, value.src)
        bound = model.value(nodes[0]) if len(nodes) == 1 else None
        if bound is None or sized_in([bound]) is None and sized_in([value]) is not None:
            return value
        return bound
    found = [
        r
        for r in model.rebinds
        if r.target == value.src and r.scope is sched.scope and not r.unpacked
    ]
    bound = rebound_value(model, found[0]) if len(found) == 1 else None
    if bound is None or found[0].order > sched.order:
        return value
    if sized_in([bound]) is None and sized_in([value]) is not None:
        return value
    return bound


def length_words(sched, model) -> set:
    """Words of the arguments that size ``sched`` (bare names followed once)."""
    out = set()
    for value in _length_values(sched):
        out |= words(_expand(model, sched, value))
    return out


def sized_by_transformers_api(sched) -> str | None:
    """Why a transformers schedule counts optimizer steps when nothing in its length
    expressions tells the unit (``get_cosine_schedule_with_warmup(opt, 100, total)``): its
    own parameters say it (``num_warmup_steps``, ``num_training_steps``). None for other
    schedules and for one without a length."""
    values = _length_values(sched)
    if sched.origin != "transformers" or not values:
        return None
    shown = ", ".join(f"{n}={v.src}" for n, v in sched.args.items() if v in values)
    return f"a transformers schedule, whose lengths count optimizer steps ({shown})"


def granularity(sched, model=None):
    """("iteration" | "epoch", why) for what one ``step()`` of ``sched`` is meant to be, or
    None when the model cannot tell."""
    if sched.candidates:
        return _picked_granularity(sched, model)
    if sched.cls in catalogue.COMPOSITE:
        return _composite_granularity(sched, model)
    values = _length_values(sched)
    shown = ", ".join(f"{n}={v.src}" for n, v in sched.args.items() if v in values)
    if model is not None:
        values = [_expand(model, sched, v) for v in values]
        passed = _passed_for(model, sched, values)
        if passed is not None:
            values = passed
            shown += f", given {', '.join(clip(v.src, 30) for v in passed)}"
    sized = sized_in(values)
    if (
        sized == "iterations"
        and sched.cls in _DECAY_POINTS
        and set().union(*(words(v) & ITER_WORDS for v in values)) <= {"step", "steps"}
    ):
        sized = None  # `milestones=args.lr_steps`: decay steps, counted in epochs as often
    if sched.cls in _PER_ITERATION:
        if sized == "epochs":
            # Deliberately sized in epochs: right when stepped per epoch, and a schedule
            # that ends after `epochs` steps when stepped per batch.
            return "epoch", f"sized in epochs ({shown})"
        if values and sized is None:
            return None  # a literal or an unknown name: could be either
        what = f"sized in iterations ({shown})" if values else "counted in iterations by default"
        return "iteration", what
    if sized == "epochs" and sched.cls in _LENGTH_ARGS:
        return "epoch", f"sized in epochs ({shown})"
    if sized == "iterations" and sched.cls in _LENGTH_ARGS:
        return "iteration", f"sized in iterations ({shown})"
    return None


def _picked_granularity(sched, model):
    """A class a registry picks by a key read at run time (``AVAI_SCH[cfg.name](opt)``):
    what every class it may be says with these arguments, when they all say the same. One
    candidate of another granularity (or of none) may be the one the config picks."""
    kinds = [granularity(replace(sched, cls=c, candidates=()), model) for c in sched.candidates]
    if any(k is None for k in kinds) or len({k[0] for k in kinds}) != 1:
        return None
    return kinds[0][0], f"picked by key, each {kinds[0][1]}"


def _composite_granularity(sched, model):
    """A SequentialLR/ChainedScheduler steps its schedulers with each of its own steps: it
    is meant to be stepped as every one of them is, when they all say the same (with the
    milestones, when they say anything)."""
    members = sched.members
    if not sched.children or members is None or len(members) != len(sched.children):
        return None
    kinds = [granularity(c, model) for c in sched.children]
    if any(k is None for k in kinds) or len({k[0] for k in kinds}) != 1:
        return None
    milestones = sched.args.get("milestones")
    if milestones is not None:
        sized = sized_in([_expand(model, sched, milestones) if model else milestones])
        if sized is not None and sized != kinds[0][0] + "s":
            return None
    why = ", ".join(f"`{c.target or c.cls}` {k[1]}" for c, k in zip(sched.children, kinds))
    return kinds[0][0], f"a {sched.cls} of {why}"


@rule("SL207", "step-granularity-mismatch", "warning")
def step_granularity_mismatch(model):
    """A per-iteration scheduler stepped once per epoch, or an epoch-sized one per batch.

    ## What it does
    Flags a scheduler meant to advance once per optimizer step (OneCycleLR, CyclicLR, the
    transformers `get_*_schedule_with_warmup` factories (whose parameters count optimizer
    steps, whatever names size them), or any schedule whose length is
    computed from `len(loader)` or a step count) that is stepped only in the epoch loop while
    its optimizer steps in the nested batch loop; and a scheduler sized in epochs (`T_max`,
    `step_size`, `milestones`, `total_iters` computed from `epochs`, or a cosine `T_max` that
    is the very count of the `range(N)` epoch loop around it; also a OneCycleLR or transformers
    schedule whose total is an epoch count, `num_training_steps=args.epochs`) stepped inside
    the batch loop next to the optimizer (or in the one loop of an iteration-based trainer,
    `for iteration in range(cfg.max_iter):`), or next to it in a per-batch helper the batch loop
    calls (`self.train_step(batch)`, or `trainer.update_lr()` called every batch in another
    module next to `trainer.train_step(batch)`); and a scheduler sized in epochs or in
    iterations stepped in the batch loop only under a logging test of its own (`if it %
    cfg.log_every == 0:`, around the step or around the helper's call) while its optimizer
    steps every batch, unless the schedule is sized in that interval. The loop nesting must be visible in one function or
    through a function the epoch loop calls (of this file, or imported from another module of
    the tree, `train_one_epoch`; a step at the top of an end-of-epoch hook with no loop of
    its own, `self.on_epoch_end()` or `end_of_epoch(scheduler, writer)`, counts at each call
    of the hook when every call sits in a loop; a helper of another module handed both,
    `train_with_early_stopping(..., scheduler=scheduler)`, with the epoch and the batch
    loop of its own, is reported at its call), the outer loop must look like an epoch loop (or the inner one iterate a
    loader), and the length expressions must clearly speak of epochs or of iterations;
    otherwise nothing is reported. Also flags a scheduler stepped both in a batch loop and in
    the epoch loop around it, or in the epoch loop and in a batch loop of a method or imported
    function that loop calls (`Trainer.fit` and `Trainer.train_epoch`), or in an end-of-epoch
    method and a batch loop both called in the epoch loop, or at the top level and in the batch
    loop (directly or through a per-batch `train_step()`) of one function called in a loop
    (`train_xe()`, once per epoch; of this file or imported from another module of the tree),
    under the same conditions; and a
    per- iteration schedule sized with `len(X)` of a dataset or another loader than the one
    whose loop steps it (`steps_per_epoch=len(train_dataset)`, `len(val_loader)`), where a
    helper's loader parameter stands for what its callers pass, or sized with
    `len(loader)` of a loader that is then rebuilt as a new `DataLoader` (a
    `DistributedSampler`, a batch size found by a memory probe) before the loop that walks
    it in the same function, or, for a trainer whose `__init__` sized it from
    `len(self.train_loader)`, in another of its methods that `__init__` does not run before
    building the schedule and that does not build it again (not a loader built again from
    the same dataset and batch size with no sampler: it has as many batches). Under
    gradient accumulation, flags a `scheduler.step()` that runs on every micro-batch while the optimizer steps only
    under an accumulation test (`if (i + 1) % accum == 0:`, or after `if (i + 1) % accum !=
    0: continue`, directly or through a helper such as `self.optimizer_step()`; also in a
    per-batch method, `train_step(batch)`, that every caller calls in a loop; also when the
    loop's function receives the optimizer and the scheduler from the one that built them,
    `run_train(cfg, loader, optimizer, scheduler)`, whatever a factory's configuration picks,
    and when `if scheduler is not None:` guards the step), or, inside `with
    accelerator.accumulate(model):`, next to the step of an optimizer passed through
    `accelerator.prepare` (or through a helper, of any module of the tree, that returns
    `accelerator.prepare(*objects)` of what it is handed) while the scheduler was not
    (accelerate skips the prepared
    optimizer's step on every micro-batch but the last of an accumulation), unless the
    schedule is sized in micro-batches (from the loader's length, undivided), which then
    ends with the run, or the loops around the step run as many micro-batches as the
    schedule is long (an epoch loop of `range(ceil(max_steps / len(loader)))` around the loop
    over `loader`, the schedule built with `max_steps`, also through a helper's parameter
    every caller binds to it); and the reverse, a schedule
    sized in micro-batches (`len(loader) * epochs`, or a count of updates multiplied by the
    accumulation steps, `max_train_steps * gradient_accumulation_steps`; also as the total a
    LambdaLR factory such
    as `get_linear_schedule(optimizer, warmup, t_total)` is given, or the length parameter
    of a factory, `build_scheduler(name, optimizer, num_training_steps)`, as every caller
    passes it) stepped with the optimizer
    only under the `%` accumulation test, which covers 1/accum of its length, or inside
    `with accelerator.accumulate(model):` when the scheduler is prepared and the
    `Accelerator` accumulates (`gradient_accumulation_steps=`): accelerate's prepared
    scheduler skips its step on every other micro-batch. With
    accelerate, flags a
    schedule sized from a loader's length after `accelerator.prepare` sharded it, when the
    scheduler is then prepared too and the file's `Accelerator` does not split batches: a
    prepared scheduler steps `num_processes` times per call; or sized with the very count
    that ends the loop stepping it (`if completed_steps >= args.max_train_steps: break`, a
    count of this process's steps, not recomputed in that function). For the same reason,
    flags a scheduler passed to `accelerator.prepare` and stepped once per epoch (an epoch
    schedule, or one whose unit is unknown; also in the epoch loop of a trainer class of
    another module it is handed to, `engine.run()`, reported at that call) unless the
    `Accelerator` splits batches or is built with `step_scheduler_with_optimizer=False`
    (accelerate #2926). A scheduler handed to DeepSpeed
    (`deepspeed.initialize(..., lr_scheduler=scheduler)`, also through a wrapper of another
    module that forwards it) is stepped by the engine after every optimizer update: one sized
    in epochs, or one the code steps itself only under an interval test (`if i % 100 ==
    0:`) or once per epoch (in the branch that runs without DeepSpeed), is flagged where it
    is handed over. In a LightningModule that
    optimizes manually (`self.automatic_optimization = False`), `training_step` is the batch
    loop's body: an epoch-sized scheduler from `configure_optimizers` stepped there next to the
    optimizer (`self.lr_schedulers().step()`) is stepped per batch, whatever `"interval"` its
    config gives (Lightning ignores it then). Likewise the transformers `Trainer` steps the
    scheduler its subclass's `create_scheduler` builds after every optimizer update: one
    sized in epochs there (`num_training_steps=self.args.num_train_epochs`,
    `CosineAnnealingLR(..., T_max=self.args.num_train_epochs)`) is flagged where it is
    built. A scheduler built by a factory
    (`build_scheduler(optimizer, ...)`) is tied to the optimizer the caller hands it, and one
    built in another module of the tree and handed to a class here
    (`Trainer(model, optimizer, scheduler)` in `train.py`, also through a factory of a third
    module or `Trainer.from_config(...)`) is checked where the class steps it; each
    scheduler a factory may return (one per config choice) is checked on its own, and a
    class a registry picks by a key read at run time (`SCHEDULERS[cfg.name](optimizer)`
    over a module-level `{"onecycle": OneCycleLR, ...}`) only when every class of the
    registry is meant to be stepped alike (a literal key picks its class); a
    `True` it returns with the scheduler (`scheduler, per_batch = build(...)`) makes
    `if per_batch: scheduler.step()` a step of that scheduler every batch. A config
    entry speaks of epochs like an attribute does when its last key does
    (`T_max=cfg["train"]["epochs"]`). A `SequentialLR` or `ChainedScheduler` counts what
    its schedulers count, when they all (and its milestones) say the same. A constant
    transformers schedule (`get_constant_schedule`, `get_scheduler("constant", ...)`) is
    never flagged: its lr is the same however often it steps, and the lengths
    `get_scheduler` is handed for it are read by no factory.

    ## Why is this bad?
    Schedulers count `step()` calls, not time. A OneCycleLR built with
    `steps_per_epoch=len(loader)` but stepped once per epoch never leaves its warm-up (the lr
    stays near `max_lr / div_factor` for the whole run). A `StepLR(step_size=epochs // 3)`
    stepped per batch decays every few dozen batches, and a `CosineAnnealingLR(T_max=epochs)`
    stepped per batch oscillates with a period of `2 * epochs` batches. A OneCycleLR sized
    with `len(train_dataset)` is `batch_size` times too long and never anneals; one sized with
    a shorter loader's length raises `ValueError` part-way through training. A schedule sized
    in optimizer updates but stepped on every micro-batch advances `accum` times per update:
    the warm-up and the decay are over after a fraction of the run.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import OneCycleLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
    for epoch in range(epochs):
        for x, y in loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import OneCycleLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = OneCycleLR(optimizer, max_lr=0.1, epochs=epochs, steps_per_epoch=len(loader))
    for epoch in range(epochs):
        for x, y in loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
    ```
    """
    names = names_of(model)
    branches = branches_of(model)
    done = set()
    for report in accumulation_reports(model, names, branches):
        done.add(id(report.node))
        yield report
    for report in update_steps_reports(model, names, branches):
        done.add(id(report.node))
        yield report
    # with those a caller module built and hands this file's classes (``Trainer(...)``)
    for sched in model.schedulers + model.schedulers_reached():
        if (
            not is_known(sched)
            or keeps_its_lr(sched)
            or sched.parent is not None
            or any(id(s.node) in done for s in model.steps_of(sched))
        ):
            continue
        both = _both_granularities(model, names, sched, branches)
        if both is not None:
            yield both
            continue
        other = _sized_from_other_iterable(model, names, sched) or _sized_before_rebuild(
            model, names, sched
        )
        if other is not None:
            yield other
            continue
        hf = None if model.is_foreign(sched) else _hf_trainer_epochs(model, sched)
        if hf is not None:
            yield hf
            continue
        deepspeed = _stepped_by_deepspeed(model, branches, sched)
        if deepspeed is not None:
            yield deepspeed
            continue
        # reported on the construction: only where it is built
        prepared = None if model.is_foreign(sched) else _sized_per_process(model, sched)
        if prepared is None:
            prepared = _sized_by_loop_bound(model, sched)
        if prepared is not None:
            yield prepared
            continue
        kind = granularity(sched, model) or _sized_like_epoch_loop(model, sched)
        if kind is None and sized_by_transformers_api(sched) is not None:
            kind = "iteration", sized_by_transformers_api(sched)
        if kind is None or kind[0] != "iteration":
            # a per-iteration schedule stepped per epoch is reported below, prepared or not
            epoch = _prepared_stepped_per_epoch(model, branches, sched)
            if epoch is not None:
                yield epoch
                continue
        if kind is None:
            continue
        key = names.optimizer_key(sched)
        # a factory's alternatives (one per config) are each stepped where the receiver is
        steps = model.steps_of(sched) or [
            c
            for c in model.calls
            if c.method == "step" and len(names.choices(c)) > 1 and sched in names.choices(c)
        ]
        if (
            key is None
            or not steps
            or not all(
                any(c is sched for c in names.choices(s)) or s.via is not None and s.target is sched
                for s in steps
            )
        ):
            continue
        gated = list(_logging_gated(model, names, sched, key, steps, kind, branches))
        if gated:
            found = gated
        elif kind[0] == "iteration":
            found = list(_per_epoch(model, names, sched, key, steps, kind[1], branches))
            found = found or list(_per_epoch_in_imported_loops(model, sched, steps, kind[1]))
        else:
            found = list(_per_batch(model, names, sched, key, steps, kind[1], branches))
            found = found or list(_manual_training_step(model, sched, steps, kind[1], branches))
        for report in found:
            # a factory's alternatives stepped by one call: one finding there, not one each
            if id(report.node) not in done:
                done.add(id(report.node))
                yield report


def _hf_trainer_epochs(model, sched):
    """An epoch-sized schedule built in ``create_scheduler`` of a transformers ``Trainer``
    subclass: the Trainer steps it after every optimizer update."""
    trainer = hf_trainer_scheduler(model, sched)
    if trainer is None or sched.cls == "ReduceLROnPlateau":
        return None
    kind = granularity(sched, model)
    if kind is None or kind[0] != "epoch":
        return None
    return Report(
        sched.node,
        f"`{clip(trainer, 30)}.create_scheduler` builds a `{clip(sched.cls, 40)}` sized in "
        f"epochs, stepped every update",
        help=f"{name_of(sched)} is {kind[1]}; the transformers Trainer calls "
        f"`lr_scheduler.step()` after each optimizer step, so the schedule is used up "
        f"within the first epochs; size it with the `num_training_steps` argument "
        f"`create_scheduler` receives",
    )


def _stepped_by_deepspeed(model, branches, sched):
    """A scheduler handed to ``deepspeed.initialize`` as ``lr_scheduler`` (the engine steps
    it after every optimizer update) that is sized in epochs, or that the code steps
    itself only under an interval test (``if i % 100 == 0:``) or once per epoch: its pace
    is not DeepSpeed's. Reported where it is handed over."""
    if (
        sched.cls in catalogue.STEP_TAKES_ARGUMENT
        or not model.deepspeed_inits
        and not any(m.deepspeed_inits for m in model.other_models())
    ):
        return None
    kind = granularity(sched, model)
    if kind is not None and kind[0] == "iteration":
        return None
    handed = deepspeed_handoff(model, sched)
    if handed is None:
        return None
    if kind is not None:
        pace, why = "is sized in epochs", f"it is {kind[1]}"
    else:
        found = _own_pace(model, branches, sched)
        if found is None:
            return None
        pace, why = found
    return Report(
        handed[1],
        f"DeepSpeed steps `{clip(sched.target or sched.cls, 30)}` every update, but it {pace}",
        help=f"{name_of(sched)} ({sched.cls}, {model.where(sched.node)}) is handed to DeepSpeed "
        f"as `lr_scheduler`, and `engine.step()` steps it after every optimizer update; "
        f"{why}, so the schedule runs far too fast; pass `lr_scheduler=None` and step it "
        "yourself at its pace, or size it in optimizer updates",
    )


def _own_pace(model, branches, sched):
    """(pace, why) when the code steps ``sched`` itself only under a ``%`` interval test or
    at the level of an epoch loop (in a branch the DeepSpeed run skips, say): the pace its
    author meant. None when a step of it runs otherwise."""
    found = None
    for step in model.steps_of(sched):
        if step.via is not None:
            return None
        gate = next(
            (
                n
                for n, b in branches.path(step)
                if is_if(n) and b == "body" and "%" in if_test(model, n).operators
            ),
            None,
        )
        if gate is not None:
            found = found or (
                "is paced per interval here",
                f"the code steps it only under `{clip(if_test(model, gate).src, 40)}` "
                f"({model.where(gate)})",
            )
        elif step.loop is not None and is_epoch_loop(step.loop):
            found = found or (
                "is paced per epoch here",
                f"the code steps it once per epoch ({model.where(step.node)})",
            )
        else:
            return None
    return found


def _accumulation_test(model, if_node) -> bool:
    """``if (i + 1) % accum == 0:``, ``if step % args.gradient_accumulation_steps == 0``,
    ``if accelerator.sync_gradients:``: a test that lets only every n-th micro-batch through."""
    test = if_test(model, if_node)
    return "%" in test.operators or bool(words(test) & (ACCUMULATION_WORDS | {"sync", "gradients"}))


def _helper_steps(model, branches, sched, call):
    """Calls in ``call``'s loop of a function that steps ``sched``'s optimizer unconditionally
    (``self.optimizer_step()`` under the accumulation test)."""
    for opt in sched.optimizers:
        for o in model.optimizer_steps(opt):
            if (
                o.via is not None
                or o.scope is call.scope
                or o.scope.kind != "function"
                or o.loop is not None
                or conditions(branches.path(o))
            ):
                continue
            for caller, site, loop in model.call_sites(o.scope):
                if caller is call.scope and loop is call.loop:
                    yield site


def _plain_steps_in_loops(model, names):
    """(call, schedulers) for each argument-free ``sched.step()`` inside a loop on a
    scheduler that counts steps (not a ReduceLROnPlateau): the one it is, or each one the
    factory that built it may return (``get_scheduler(cfg, optimizer, steps)`` choosing a
    LambdaLR by ``cfg.schedule``), when they all drive the same optimizer variable."""
    for call in model.calls:
        if call.method != "step" or call.args or call.kwargs:
            continue
        # a per-batch method (``train_step(batch)``) runs in the loops that call it
        if call.loop is None and not model.loops_around_calls(call):
            continue
        scheds = names.choices(call)
        if (
            scheds
            and all(s.cls != "ReduceLROnPlateau" for s in scheds)
            and len({names.optimizer_key(s) for s in scheds}) == 1
        ):
            yield call, scheds


def micro_batch_steps(model, names, branches):
    """(step, scheduler, optimizer step or helper call node) for each plain ``sched.step()``
    that runs on every micro-batch of a loop where its optimizer steps only under an
    accumulation test (directly, or through a helper called there)."""
    for call, scheds in _plain_steps_in_loops(model, names):
        sched = scheds[0]
        key = names.optimizer_key(sched)
        if key is None:
            continue
        gated = [
            (o.node, branches.path(o))
            for o in names.optimizer_steps(key, call.scope)
            if o.loop is call.loop and o.scope is call.scope
        ]
        gated += [
            (site, branches.path_in(site, call.scope.node))
            for site in _helper_steps(model, branches, sched, call)
        ]
        gated += [(o.node, branches.path(o)) for o in _handed_steps(model, names, key, call)]
        if not gated:
            continue
        # `if scheduler is not None: scheduler.step()` tests whether there is one, not when
        mine = {id(n) for n, _ in conditions(branches.path(call), ignore={call.receiver})}
        gates = []
        for _, theirs in gated:
            if not mine <= {id(n) for n, _ in theirs}:
                break  # the scheduler has a condition of its own (`if i == len(loader) - 1`)
            extra = [(n, b) for n, b in theirs if id(n) not in mine]
            if not extra:
                break  # an optimizer step under the scheduler's own conditions
            gates.append(
                next(
                    (
                        n
                        for n, b in extra
                        if is_if(n)
                        # `if (i + 1) % accum == 0: optimizer.step()`, or the rest of the
                        # body after `if (i + 1) % accum != 0: continue`
                        and (b == "body" or skips_rest(n))
                        and _accumulation_test(model, n)
                    ),
                    None,
                )
            )
        else:
            if all(gates):
                yield call, scheds, gated[0][0]


def _handed_steps(model, names, key, call) -> list:
    """The optimizer steps in ``call``'s loop that step a parameter of its function every
    caller binds to the variable ``key`` (``run_train(cfg, model, loader, optimizer,
    scheduler)`` called by the function that built both): the scheduler's optimizer, met
    under another name."""
    if call.scope.kind != "function" or len(key) != 2 or key[0] == "object":
        return []
    owner = next((s for s in model.scopes if s.id == key[0]), None)
    if owner is None or owner is call.scope:
        return []
    return [
        o
        for o in model.calls
        if o.method == "step"
        and o.scope is call.scope
        and o.loop is call.loop
        and o is not call
        and any(
            k[0] == call.scope.id and _stands_for(model, call.scope, k[1], owner, key[1])
            for k in names.call_optimizer_keys(o)
            if len(k) == 2 and k[0] != "object"
        )
    ]


def unprepared_in_accumulate(model, names, branches):
    """(step, schedulers, optimizer step) for each plain ``sched.step()`` inside ``with
    accelerator.accumulate(model):`` next to the step of an optimizer that was passed
    through ``accelerator.prepare`` while the scheduler was not, the Accelerator
    accumulating gradients, and no ``sync_gradients`` test around the scheduler's step:
    accelerate turns the optimizer's step into a no-op on every micro-batch but the
    accumulation step, and leaves the unprepared scheduler's alone."""
    if not model.accelerators or not all(a.accumulates for a in model.accelerators):
        return
    for call, scheds in _plain_steps_in_loops(model, names):
        block = call.accumulating
        if block is None or any(accelerate_keeps(model, s) is not False for s in scheds):
            continue
        if any(is_if(n) and _accumulation_test(model, n) for n, _ in branches.path(call)):
            continue
        key = names.optimizer_key(scheds[0])
        opts = [o for s in scheds for o in s.optimizers]
        steps = names.optimizer_steps(key, call.scope) if key is not None else []
        steps += [o for opt in opts for o in model.optimizer_steps(opt)]
        prepared = [
            o
            for o in steps
            if o.via is None
            and o.accumulating is block
            and isinstance(o.target, Optimizer)
            and accelerate_keeps(model, o.target) is True
        ]
        if prepared:
            yield call, scheds, prepared[0].node


def _sized_in_micro_batches(model, sched) -> bool:
    """Every length of ``sched`` counts a loader's batches, undivided by an accumulation
    factor (``epochs * len(loader)``): stepped per micro-batch, it ends on time."""
    values = [_expand(model, sched, v) for v in _length_values(sched)]
    return bool(values) and all(_counts_micro_batches(v) for v in values)


def _stands_for(model, scope, name, target_scope, target) -> bool:
    """``name`` read in ``scope`` is the name ``target`` of ``target_scope``: the same
    variable, or a parameter every call binds to that name there."""
    if scope is target_scope:
        return name == target
    if name not in scope.params or name in scope.assigned:
        return False
    bound = model.arguments(scope, name)
    return bool(bound) and all(
        caller is target_scope and model.value(node).src == target for caller, node in bound
    )


def _runs_its_length_in_micro_batches(model, sched, call) -> bool:
    """The loops around ``call`` run as many micro-batches as the schedule is long: the
    batch loop walks a loader inside an epoch loop of ``range(ceil(n / len(loader)))``, and
    ``n`` is the length the schedule was built with (``num_training_steps=max_steps``, with
    ``train_epochs(loader, max_steps, scheduler)`` counting ``max_steps`` in batches)."""
    inner = call.loop
    if inner is None or inner.iter is None:
        return False
    walked = {inner.iter.src} | set(inner.iter_views)
    lengths = [_expand(model, sched, v) for v in _length_values(sched)]
    if not lengths or any(v.kind != "name" for v in lengths):
        return False
    for loop in inner.ancestors():
        stop = loop.range_stop
        if (
            loop is inner
            or stop is None
            or not stop.operators & {"/", "//"}
            or stop.operators & {"*", "**"}
            or not stop.lens
            or not set(stop.lens) <= walked
            or words(stop) & ACCUMULATION_WORDS
        ):
            continue
        if all(
            any(_stands_for(model, call.scope, n, sched.scope, v.src) for n in stop.names)
            for v in lengths
        ):
            return True
    return False


def accumulation_reports(model, names, branches):
    """A schedule sized in optimizer updates, stepped on every micro-batch under gradient
    accumulation: it runs ``accum`` times too fast."""
    for call, scheds, opt_node in micro_batch_steps(model, names, branches):
        if any(
            keeps_its_lr(s)
            or _sized_in_micro_batches(model, s)
            or _runs_its_length_in_micro_batches(model, s, call)
            for s in scheds
        ):
            continue
        sched = scheds[0]
        opt_name = names.optimizer_key(sched)[-1]  # the caller's name, for a factory's
        if model.is_foreign(sched):
            # built in another module: what this file calls it (``self.optimizer``)
            held = [t for o in sched.optimizers for _, t in model.holders(o)]
            opt_name = held[0] if len(set(held)) == 1 else None
        if not isinstance(opt_name, str):
            opt_name = sched.optimizer_src
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` runs every micro-batch, but "
            f"`{clip(opt_name, 30)}` steps only every accumulation step",
            help=f"The optimizer steps under the accumulation condition (line "
            f"{model.line(opt_node)}), so a schedule counted in optimizer updates "
            f"runs ahead by the accumulation factor; step the scheduler right after the "
            f"optimizer step, under the same accumulation condition",
        )
    for call, scheds, opt_node in unprepared_in_accumulate(model, names, branches):
        if any(keeps_its_lr(s) or _sized_in_micro_batches(model, s) for s in scheds):
            continue
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` runs every micro-batch, but the prepared "
            f"optimizer steps only on accumulation steps",
            help=f"Inside `with ...accumulate(...)` accelerate skips the step of the prepared "
            f"optimizer (line {model.line(opt_node)}) on every micro-batch but the last of "
            f"an accumulation, and `{clip(call.receiver, 30)}` was not passed to "
            f"`accelerator.prepare`, so a schedule counted in optimizer updates runs ahead "
            f"by the accumulation factor; prepare the scheduler too, or step it under "
            f"`if accelerator.sync_gradients:`",
        )


# A factory parameter that sizes the schedule it builds (``num_training_steps``, ``t_total``).
_TOTAL_PARAM = re.compile(r"(^|_)(total|training|max_steps|max_iters)(_|$)")


def _passed_for(model, sched, values) -> list | None:
    """For a factory sizing ``sched`` by its own parameters (``total_steps=max_steps``),
    what every caller passes them, when that tells a unit: the caller's argument
    (``get_scheduler(name, optimizer, max_steps=cfg.max_epoch)``) says what the length
    counts, not the parameter's name. None when a parameter is not bound at every call or
    the arguments tell no unit."""
    if sched.scope.kind != "function":
        return None
    out = _bound_by_callers(model, sched, values)
    if out is None or out == values or sized_in(out) is None:
        return None  # a parameter some call leaves unbound, or none followed
    return out


def _bound_by_callers(model, sched, values) -> list | None:
    """``values`` with each parameter of ``sched``'s function (``num_training_steps``)
    replaced by what every call binds it to; None when a call leaves one unbound."""
    out = []
    for v in values:
        v = unconverted(model, v)
        if v.kind != "name" or v.src not in sched.scope.params or v.src in sched.scope.assigned:
            out.append(v)
            continue
        bound = model.arguments(sched.scope, v.src)
        if not bound:
            return None
        out += [_expand_in(model, caller, model.value(node)) for caller, node in bound]
    return out


def _expand_in(model, scope, value):
    """A bare name assigned once in ``scope`` stands for what it was assigned."""
    if value.kind != "name":
        return value
    bound = model.assignments(scope, value.src)
    return model.value(bound[0]) if len(bound) == 1 else value


def _size_values(model, sched) -> list:
    """What sizes ``sched``: its length arguments, or for a LambdaLR built by a factory
    (``get_linear_schedule(optimizer, warmup, t_total)``), the factory's total-steps
    parameter as every caller binds it; [] when unknown."""
    values = [_expand(model, sched, v) for v in _length_values(sched)]
    if values and sched.scope.kind == "function":
        # a factory's parameter (``num_training_steps=num_training_steps``) is what every
        # caller passes it
        return _bound_by_callers(model, sched, values) or []
    if values or sched.cls != "LambdaLR" or sched.scope.kind != "function":
        return values
    for param in sched.scope.params:
        if not _TOTAL_PARAM.search(param.lower()):
            continue
        bound = model.arguments(sched.scope, param)
        if not bound:
            return []
        values += [_expand_in(model, caller, model.value(node)) for caller, node in bound]
    return values


def update_steps_reports(model, names, branches):
    """A schedule sized in micro-batches (``len(loader) * epochs``, undivided) stepped with
    its optimizer only under the accumulation test: it covers ``1/accum`` of its length."""
    for call, scheds in _plain_steps_in_loops(model, names):
        if len(scheds) != 1:
            continue
        sched = scheds[0]
        if keeps_its_lr(sched):
            continue
        gate = next(
            (
                n
                for n, b in branches.path(call)
                if is_if(n) and b == "body" and "%" in if_test(model, n).operators
            ),
            None,
        )
        block = _accumulate_block(model, call, sched) if gate is None else None
        if gate is None and block is None:
            continue
        key = names.optimizer_key(sched)
        # a factory's scheduler: its optimizer is the one the caller hands it
        steps = [o for opt in sched.optimizers for o in model.optimizer_steps(opt)]
        steps += names.optimizer_steps(key, call.scope) if key is not None else []
        gated = [
            o
            for o in steps
            if o.via is None
            and o.loop is call.loop
            and (
                any(n is gate for n, _ in branches.path(o))
                if block is None
                else o.accumulating is block
            )
        ]
        values = _size_values(model, sched) if gated else []
        if not values or not all(_counts_micro_batches(v) for v in values):
            continue
        sizes = ", ".join(clip(v.src, 40) for v in values)
        multiplied = any(words(v) & ACCUMULATION_WORDS for v in values)
        counts = (
            "is multiplied by the accumulation steps"
            if multiplied
            else "counts every batch of the loader"
        )
        remedy = (
            "drop the accumulation factor"
            if multiplied
            else "divide the length by the accumulation steps"
        )
        where = (
            f"under the accumulation test (line {model.line(gate)})"
            if block is None
            else f"inside `with ...accumulate(...)` (line {model.line(block)}), where accelerate "
            f"steps a prepared scheduler only on the accumulation step"
        )
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` runs once per accumulation step, but "
            f"`{clip(call.receiver, 30)}` is sized in micro-batches",
            help=f"Its length ({sizes}) {counts}, and it steps only "
            f"with the optimizer {where}, so the schedule covers 1/accum of its length (a "
            f"linear decay stops a fraction of the way down); {remedy}",
        )


def _counts_micro_batches(value) -> bool:
    """A length that counts micro-batches: a loader's batches undivided (``len(loader) *
    epochs``), or a count multiplied by the accumulation factor (``max_train_steps *
    gradient_accumulation_steps``), divided by nothing."""
    if value.operators & {"/", "//"}:
        return False
    if words(value) & ACCUMULATION_WORDS:
        return "*" in value.operators
    return bool(value.lens)


def _accumulate_block(model, call, sched):
    """The ``with accelerator.accumulate(model):`` around ``call`` when it steps a scheduler
    passed through ``accelerator.prepare`` and the Accelerator accumulates gradients: accelerate
    then skips the scheduler's step on every micro-batch but the accumulation step."""
    block = call.accumulating
    if (
        block is None
        or accelerate_keeps(model, sched) is not True
        or not model.accelerators
        or not all(a.accumulates for a in model.accelerators)
    ):
        return None
    return block


# Lengths that, equal to the epoch loop's count, say "one step per epoch".
_EPOCH_COUNT_ARGS = {"CosineAnnealingLR": "T_max", "PolynomialLR": "total_iters"}


def _sized_like_epoch_loop(model, sched):
    """("epoch", why) when ``sched``'s length is a number (a literal or a name folded to one,
    at least 10) equal to the count of a ``range(N)`` loop around every loop that steps it
    (``T_max=200`` under ``for epoch in range(200)``), that loop not counting iterations."""
    arg = _EPOCH_COUNT_ARGS.get(sched.cls)
    value = sched.args.get(arg) if arg else None
    n = model.number(value.node, sched.scope) if value is not None else None
    steps = model.steps_of(sched)
    if n is None or n < 10 or not steps:
        return None
    for step in steps:
        if step.via is not None or step.loop is None:
            return None
        outer = [enclosing for enclosing in step.loop.ancestors() if enclosing is not step.loop]
        if not any(
            enclosing.range_stop is not None
            and not loop_words(enclosing) & ITER_WORDS
            and model.number(enclosing.range_stop.node, enclosing.scope) == n
            for enclosing in outer
        ):
            return None
    return "epoch", f"sized like the epoch loop ({arg}={value.src}, {n:g} epochs)"


def _batch_steps_ok(loop, o):
    """The optimizer step ``o`` runs in a batch loop nested in (or called from) ``loop``."""
    if o.loop is None or o.loop is loop:
        return False
    inner = [enclosing for enclosing in o.loop.ancestors() if enclosing is not loop]
    return not any(
        is_epoch_loop(enclosing) or loop_words(enclosing) & ACCUMULATION_WORDS
        for enclosing in inner
    )


def _steps_in_callee(model, names, loop, anchor, receiver, sched, key):
    """Optimizer steps in a batch loop of a function the epoch loop calls (other than the
    call ``anchor`` of an end-of-epoch hook that steps the scheduler)."""
    found = []
    for info, call, opt_steps in callee_optimizer_steps(
        model, names, loop, anchor.scope, receiver, sched.optimizer_src, key
    ):
        if call is anchor.node:
            continue
        if opt_steps is None:
            return []  # the scheduler goes in too: what the function does with it is unseen
        found += [(c, info) for c in opt_steps if c.loop is not None and _batch_steps_ok(None, c)]
    return found


def _steps_in_imported(model, sched, loop):
    """(optimizer step, FunctionInfo-like name holder) for optimizer steps in a batch loop of
    an imported in-tree function called in ``loop``; none when any call of such a function
    in ``loop`` also hands it the scheduler."""
    found = []
    for opt in sched.optimizers:
        for o in model.optimizer_steps(opt):
            if o.via is None or o.loop is None or not loop.contains(o.loop):
                continue
            if any(s.node is o.node for s in model.steps_of(sched)):
                return []  # the same call hands over the scheduler: it steps it there
            if o.via.loop is not None and _batch_steps_ok(None, o.via):
                found.append((o.via, o.via.scope))
    return found


def _epoch_anchors(model, branches, step):
    """Where ``step`` runs once per epoch: the step itself in its loop, or, for a step at
    the top of a function with no loop of its own (``self.on_epoch_end()``), each call of
    that function, all in loops of this file; None when some run is not seen in a loop."""
    if step.via is not None:
        return None  # an imported helper steps it: at whatever granularity it does
    if step.loop is not None:
        return [step]
    if conditions(branches.path(step), {step.receiver}):
        return None  # the hook decides when (`if self.per_batch:`)
    sites = model.loops_around_calls(step)
    if not sites or not all(s.here for s in sites):
        return None
    return sites


def _per_epoch(model, names, sched, key, steps, why, branches):
    """Every step of ``sched`` is in an epoch loop whose optimizer steps are all nested in it
    (or in a batch loop of a function it calls); a step in an end-of-epoch hook counts at
    each call of the hook."""
    found = None
    for step in steps:
        anchors = _epoch_anchors(model, branches, step)
        if anchors is None:
            return
        for anchor in anchors:
            loop = anchor.loop
            if not is_epoch_loop(loop):
                return
            opt_steps = [
                o
                for o in names.optimizer_steps(key, anchor.scope)
                if o.loop is not None and loop.contains(o.loop)
            ]
            via = None
            if opt_steps:
                if not all(_batch_steps_ok(loop, o) for o in opt_steps):
                    return
                o = opt_steps[0]
            else:
                callee = _steps_in_callee(
                    model, names, loop, anchor, step.receiver, sched, key
                ) or _steps_in_imported(model, sched, loop)
                if not callee:
                    return
                o, info = callee[0]
                via = info.name
            found = found or (step, o, via, anchor)
    if found is None:
        return
    step, o, via, anchor = found
    where = f"in `{via}()`, {model.where(o.node)}" if via else f"line {model.line(o.node)}"
    hook = (
        ""
        if anchor is step
        else f"`{step.scope.name}()`, which steps it, is called once per epoch (line "
        f"{model.line(anchor.node)}), and "
    )
    yield Report(
        step.node,
        f"`{clip(step.receiver, 30)}.step()` runs once per epoch, but "
        f"{_called(sched)} counts iterations",
        help=f"{hook}{name_of(sched)} ({model.where(sched.node)}) is {why} and "
        f"`{sched.optimizer_src}` steps per batch ({where}): the schedule advances "
        f"once per epoch instead of once per update (a OneCycleLR never leaves its "
        f"warm-up); call `{step.receiver}.step()` right after the optimizer step",
    )


def _per_epoch_in_imported_loops(model, sched, steps, why):
    """Every step of ``sched`` is in the epoch loop of one helper of another module it is
    handed to (``train_with_early_stopping(..., scheduler=scheduler)`` of ``loops.py``),
    whose batch loop, nested in that epoch loop, steps the optimizer it is handed too."""
    if not steps or any(s.via is None for s in steps):
        return
    own = [s.via for s in steps]
    if own[0].scope.cls is not None:
        return  # a method: its class's own file is checked with what the caller hands it
    if len({id(o.scope) for o in own}) != 1 or not all(
        o.loop is not None and is_epoch_loop(o.loop) for o in own
    ):
        return
    opt_steps = [
        o.via
        for o in model.optimizer_steps(sched.optimizer)
        if o.via is not None and o.via.scope is own[0].scope
    ]
    if not opt_steps or not all(
        o.loop is not None and o.loop is not s.loop and s.loop.contains(o.loop)
        for o in opt_steps
        for s in own
    ):
        return
    step, helper = steps[0], own[0].scope.name
    yield Report(
        step.node,
        f"`{clip(helper, 30)}()` steps `{clip(own[0].receiver, 30)}` once per epoch, but "
        f"{_called(sched)} counts iterations",
        help=f"{name_of(sched)} ({model.where(sched.node)}) is {why}; `{helper}()` "
        f"({model.where(own[0].node)}) steps it in its epoch loop and the optimizer in the "
        f"batch loop ({model.where(opt_steps[0].node)}): the schedule advances once per "
        f"epoch instead of once per update; step it right after the optimizer step",
    )


def _steps_in_batch_loops(model, names, sched, key, steps, branches):
    """(step, the step itself, batch loop, helper call Site or None, optimizer steps beside
    it, the conditions only the scheduler's step runs under) for each step of ``sched`` in
    a batch loop where its optimizer steps too: directly, or through a per-batch helper."""
    candidates = []
    for step in steps:
        own = step.via or step  # in an imported helper, the step itself is there
        if own.loop is not None:
            candidates.append((step, own, own.loop, None))
        elif step.via is None:
            # a per-batch helper (``self.train_step(x, y)`` in the batch loop)
            candidates += [(step, own, s.loop, s) for s in model.loops_around_calls(step)]
    for step, own, loop, helper in candidates:
        if is_epoch_loop(loop):
            continue
        outer = [enclosing for enclosing in loop.ancestors() if enclosing is not loop]
        if step.via is not None:
            outer += list(step.loop.ancestors()) if step.loop is not None else []
        lw = loop_words(loop)
        if not (
            lw & BATCH_LOOP_WORDS
            or lw & _ITERATION_LOOP_WORDS
            and not outer
            or any(is_epoch_loop(enclosing) for enclosing in outer)
        ):
            continue
        if lw & ACCUMULATION_WORDS:
            continue
        beside = []  # (optimizer step, its conditions) beside the helper's call
        if helper is not None:  # the optimizer steps in the helper too, outside any loop
            opt_steps = [o for o in names.optimizer_steps(key, step.scope) if o.loop is None]
            if not opt_steps:
                beside = _steps_beside(model, names, branches, key, helper)
                opt_steps = [o for o, _ in beside]
        elif step.via is None:
            opt_steps = [o for o in names.optimizer_steps(key, step.scope) if o.loop is loop]
        else:
            opt_steps = [
                o.via
                for opt in sched.optimizers
                for o in model.optimizer_steps(opt)
                if o.via is not None and o.via.loop is loop
            ]
        if not opt_steps:
            continue
        ignore = {sched.target, own.receiver}
        # a flag the factory returns with this scheduler, True for it: the step always runs
        ignore |= {
            guard_of(n)
            for n, b in branches.path(own)
            if b == "body"
            and is_if(n)
            and isinstance(guard_of(n), str)
            and model.paired_flag(own.scope, guard_of(n), sched) is True
        }
        mine = conditions(branches.path(own), ignore)
        theirs = {id(n) for n, _ in conditions(branches.path(opt_steps[0]), ignore)}
        if beside:
            # the helper's call and the optimizer's step run under conditions of their own
            mine += conditions(branches.path_in(helper.node, helper.scope.node), ignore)
            theirs = {id(n) for n, _ in beside[0][1]}
        own_only = [(n, b) for n, b in mine if id(n) not in theirs]
        yield step, own, loop, helper, opt_steps, own_only


# An iteration-based trainer's one loop (``for iteration in range(cfg.max_iter):``): each
# pass is one update, as a batch loop's.
_ITERATION_LOOP_WORDS = frozenset({"iter", "iters", "iteration", "iterations"})


def _per_batch(model, names, sched, key, steps, why, branches):
    """A step of ``sched`` inside a batch loop, next to its optimizer's step."""
    for step, own, loop, helper, opt_steps, own_only in _steps_in_batch_loops(
        model, names, sched, key, steps, branches
    ):
        if own_only:
            continue  # stepped only under a condition of its own (e.g. at the epoch's end)
        unit = "batch" if loop_words(loop) & BATCH_LOOP_WORDS else "iteration"
        what = (
            f"`{clip(own.scope.name, 30)}()` steps `{clip(own.receiver, 30)}` every {unit}"
            if step.via is not None or helper is not None
            else f"`{clip(own.receiver, 30)}.step()` runs every {unit}"
        )
        yield Report(
            step.node,
            f"{what}, but {_called(sched)} counts epochs",
            help=f"{name_of(sched)} ({model.where(sched.node)}) is {why}, and it "
            f"steps next to `{opt_steps[0].receiver}.step()` "
            f"({model.where(opt_steps[0].node)}){_called_at(model, helper)}: "
            + (
                "it advances len(loader) times per epoch, so the schedule is used up (or "
                "cycles) within the first epoch(s); step it once per epoch, or size it in "
                "iterations (e.g. `epochs * len(loader)`)"
                if unit == "batch"
                else "it advances once per update of a loop over iterations, so the schedule "
                "is used up (or cycles) within its first iterations; size it in iterations "
                "(the count the loop runs)"
            ),
        )
        return


# Words of an interval that paces logging, not training (``cfg.log_every``, ``print_freq``).
_LOGGING_WORDS = frozenset(
    {"log", "logging", "print", "display", "disp", "show", "vis", "verbose", "report"}
)


def _logging_gate(model, own_only, sched):
    """The ``if`` among the scheduler's own conditions that lets only every n-th batch of a
    logging interval through (``if it % cfg.log_every == 0:``), when nothing sizes the
    schedule in that interval; else None."""
    sizes = set().union(*(words(v) for v in _length_values(sched)))
    for n, b in own_only:
        if not is_if(n) or b != "body":
            continue
        test = if_test(model, n)
        w = words(test)
        if (
            "%" in test.operators
            and w & _LOGGING_WORDS
            and not w & (ACCUMULATION_WORDS | {"len", "epoch", "epochs"})
            and not (w & _LOGGING_WORDS) & sizes
        ):
            return n
    return None


def _logging_gated(model, names, sched, key, steps, kind, branches):
    """A step of ``sched`` in a batch loop where its optimizer steps every batch, but only
    under a logging test of its own: the schedule advances once per logging interval, a
    pace it is sized in neither as epochs nor as iterations."""
    for step, own, _, helper, opt_steps, own_only in _steps_in_batch_loops(
        model, names, sched, key, steps, branches
    ):
        gate = _logging_gate(model, own_only, sched)
        if gate is None or len(own_only) != 1:
            continue
        what = (
            f"`{clip(own.scope.name, 30)}()` steps `{clip(own.receiver, 30)}`"
            if step.via is not None or helper is not None
            else f"`{clip(own.receiver, 30)}.step()` runs"
        )
        unit = "epoch" if kind[0] == "epoch" else "optimizer update"
        yield Report(
            step.node,
            f"{what} only under a logging test, but {_called(sched)} counts {unit}s",
            help=f"`{clip(if_test(model, gate).src, 40)}` ({model.where(gate)}) lets the "
            f"step through once per logging interval, while "
            f"`{opt_steps[0].receiver}.step()` ({model.where(opt_steps[0].node)}) updates "
            f"every batch; {name_of(sched)} ({model.where(sched.node)}) is {kind[1]}, so "
            f"it runs at a pace it was not sized for; step it "
            f"{'once per epoch' if kind[0] == 'epoch' else 'after every optimizer step'}, "
            f"outside the logging block",
        )
        return


def _called_at(model, site) -> str:
    """Where a per-batch helper is called, when that is in another module."""
    if site is None or site.here:
        return ""
    return f", in the batch loop that calls it ({model.where(site.node)})"


def _steps_beside(model, names, branches, key, site):
    """(optimizer step, the conditions it runs under in ``site``'s loop) for each step of
    the optimizer ``key`` that runs in the loop of ``site`` (the call of a per-batch helper
    that steps the scheduler only): directly in that loop, or at the top of another helper
    called in it (``trainer.train_step(batch)`` next to ``trainer.update_lr()``)."""
    out = []
    for o in names.optimizer_steps(key):
        if o.scope is site.scope and o.loop is site.loop:
            out.append((o, conditions(branches.path(o))))
        elif o.loop is None and o.scope is not site.scope:
            own = conditions(branches.path(o))
            out += [
                (o, own + conditions(branches.path_in(s.node, s.scope.node)))
                for s in model.loops_around_calls(o)
                if s.loop is site.loop
            ]
    return out


def _called(sched) -> str:
    """`scheduler` (`StepLR`), or the `StepLR` when nothing names it (a factory returns it)."""
    if sched.target is None:
        return name_of(sched)
    return f"{clip(name_of(sched), 30)} (`{clip(class_text(sched), 40)}`)"


def _manual_training_step(model, sched, steps, why, branches):
    """A step of ``sched`` in the ``training_step`` of a LightningModule that optimizes
    manually, next to its optimizer's step: Lightning runs it once per batch."""
    for step in steps:
        hook = manual_batch_step(model, sched, step.scope) if step.via is None else None
        if hook is None or step.loop is not None:
            continue
        opt_steps = [
            o
            for opt in sched.optimizers
            for o in model.optimizer_steps(opt)
            if o.scope is step.scope and o.loop is None
        ]
        if not opt_steps:
            continue
        mine = conditions(branches.path(step), {sched.target, step.receiver})
        theirs = {id(n) for n, _ in conditions(branches.path(opt_steps[0]))}
        if any(id(n) not in theirs for n, _ in mine):
            continue  # `if self.trainer.is_last_batch:`: once per epoch
        entry = next(e for e in hook.schedulers if e.scheduler is sched)
        ignored = (
            ' (Lightning ignores `"interval": "epoch"` when the module optimizes manually)'
            if entry.interval is not None and entry.interval.string == "epoch"
            else ""
        )
        yield Report(
            step.node,
            f"`{clip(step.receiver, 30)}.step()` runs every batch in `training_step`, but "
            f"{_called(sched)} counts epochs",
            help=f"{name_of(sched)} ({model.where(sched.node)}) is {why}, and under "
            f"manual optimization Lightning calls `training_step` once per batch{ignored}; "
            f"step it in `on_train_epoch_end`, or size it in iterations",
        )
        return


def _both_granularities(model, names, sched, branches):
    """``sched.step()`` in a batch loop and again in the epoch loop around it (the same
    function, not in exclusive branches): the schedule advances len(loader) + 1 times per
    epoch. Reported on the per-epoch call."""
    if sched.cls in catalogue.STEP_TAKES_ARGUMENT:
        return None
    steps = model.steps_of(sched)
    if len(steps) < 2 or not all(
        names.scheduler(s) is sched or s.via is not None and s.target is sched for s in steps
    ):
        return None
    hooked = _epoch_hook_and_batch_loop(model, branches, sched, steps)
    if hooked is not None:
        return hooked
    once = _epoch_function_steps_both(model, branches, sched, steps)
    if once is not None:
        return once
    for outer in steps:
        if outer.loop is None or outer.via is not None:
            continue
        called = _batch_step_called_from(model, branches, sched, steps, outer)
        if called is not None:
            inner, fn = called
            return Report(
                outer.node,
                f"`{clip(outer.receiver, 30)}.step()` runs once per epoch and "
                f"also every batch in `{clip(fn, 30)}()`",
                help=f"`{fn}()`, called in this loop, also steps it every batch "
                f"({model.where(inner.node)}), so the schedule advances "
                f"twice at each epoch's end; keep the one call its schedule is "
                f"sized for",
            )
        for inner in steps:
            if (
                inner is outer
                or inner.scope is not outer.scope
                or inner.loop is None
                or inner.loop is outer.loop
                or not outer.loop.contains(inner.loop)
            ):
                continue
            if [id(n) for n, _ in branches.path(inner)] != [id(n) for n, _ in branches.path(outer)]:
                continue  # either runs under a condition of its own (`if per_batch:`)
            return Report(
                outer.node,
                f"`{clip(outer.receiver, 30)}.step()` runs once per epoch and also every batch",
                help=f"It also steps every batch (line {model.line(inner.node)}), so "
                f"the schedule advances twice at each epoch's end; keep the one "
                f"call its schedule is sized for",
            )
    return None


def _epoch_hook_and_batch_loop(model, branches, sched, steps):
    """A step at the top level of a method called once per epoch (``on_epoch_end()``) and
    one in the batch loop of another method called in the same epoch loop
    (``train_epoch()``), both unconditional: reported on the per-epoch one."""

    def plain(step):
        return (
            step.via is None
            and step.scope.kind == "function"
            and not conditions(branches.path(step), {step.receiver})
        )

    def sites(scope):
        return [
            (caller, call, loop)
            for caller, call, loop in model.call_sites(scope)
            if loop is not None
        ]

    for outer in steps:
        if outer.loop is not None or not plain(outer):
            continue
        for caller, call, loop in sites(outer.scope):
            path = [id(n) for n, _ in conditions(branches.path_in(call, caller.node))]
            for inner in steps:
                if (
                    inner.loop is None
                    or inner.scope is outer.scope
                    or not plain(inner)
                    or not any(
                        c is caller
                        and site_loop is loop
                        and path == [id(n) for n, _ in conditions(branches.path_in(site, c.node))]
                        for c, site, site_loop in sites(inner.scope)
                    )
                ):
                    continue
                hook, fn = outer.scope.name, inner.scope.name
                return Report(
                    outer.node,
                    f"`{clip(outer.receiver, 30)}.step()` runs once per epoch in "
                    f"`{clip(hook, 30)}()` and also every batch in `{clip(fn, 30)}()`",
                    help=f"Both are called in the loop at line {model.line(call)}; "
                    f"`{fn}()` steps it every batch (line "
                    f"{model.line(inner.node)}), so the schedule advances twice "
                    f"at each epoch's end; keep the one call its schedule is "
                    f"sized for",
                )
    return None


def _epoch_function_steps_both(model, branches, sched, steps):
    """A function called in a loop (``train_xe(...)`` once per epoch) that steps ``sched``
    in its batch loop, next to the optimizer, and again outside that loop: each call advances
    the schedule len(loader) + 1 times. Both steps unconditional; reported on the outer one."""

    def plain(step):
        return (
            step.via is None
            and step.scope.kind == "function"
            and not conditions(branches.path(step), {step.receiver})
        )

    for outer in steps:
        if outer.loop is not None or not plain(outer):
            continue
        looped = [call for _, call, loop in model.call_sites(outer.scope) if loop is not None]
        if not looped:
            continue  # not seen called once per epoch: the extra step may be a one-off
        inner = _batch_step_in(model, branches, sched, steps, outer.scope, plain)
        if inner is None:
            continue
        return Report(
            outer.node,
            f"`{clip(outer.receiver, 30)}.step()` runs once per call of "
            f"`{clip(outer.scope.name, 30)}()` and also every batch",
            help=f"`{outer.scope.name}()` is called in a loop (line "
            f"{model.line(looped[0])}) and also steps it every batch "
            f"({model.where(inner.node)}), so the schedule advances twice at each "
            f"epoch's end; keep the one call its schedule is sized for",
        )
    return _imported_epoch_function(model, branches, sched, steps)


def _imported_epoch_function(model, branches, sched, steps):
    """The same with the function in an imported module (``engine.train_one_epoch``): its
    two steps are anchored at the local call, made in a loop here; reported at that call."""

    def quiet(own):
        return own.scope.kind == "function" and not conditions(branches.path(own), {own.receiver})

    batch_loops = {
        id(o.via.loop) for o in model.optimizer_steps(sched.optimizer) if o.via is not None
    }
    for outer in steps:
        own = outer.via
        if own is None or outer.loop is None or own.loop is not None or not quiet(own):
            continue
        for inner in steps:
            mine = inner.via
            if (
                mine is None
                or inner.node is not outer.node
                or mine.scope is not own.scope
                or mine.loop is None
                or mine.loop.iter is None
                or id(mine.loop) not in batch_loops
                or not quiet(mine)
            ):
                continue
            fn = clip(own.scope.name, 30)
            return Report(
                outer.node,
                f"`{fn}()` steps `{clip(own.receiver, 30)}` every batch and again after "
                f"its batch loop",
                help=f"Called in the loop of line {model.line(outer.loop.node)}, it steps "
                f"the schedule every batch ({model.where(mine.node)}) and once more per "
                f"call ({model.where(own.node)}), so the schedule advances twice at each "
                f"epoch's end; keep the one call its schedule is sized for",
            )
    return None


def _batch_step_in(model, branches, sched, steps, scope, plain):
    """An unconditional step of ``sched`` that runs every batch of a loop of ``scope``:
    in that loop next to the optimizer, or at the top level of a function the loop calls
    unconditionally (``train_step(batch)``) next to the optimizer's step."""
    opt_steps = model.optimizer_steps(sched.optimizer)
    for inner in steps:
        if not plain(inner):
            continue
        if inner.scope is scope:
            if (
                inner.loop is not None
                and inner.loop.iter is not None
                and any(o.loop is inner.loop for o in opt_steps)
            ):
                return inner
            continue
        if inner.loop is not None or not any(
            o.scope is inner.scope and o.loop is None for o in opt_steps
        ):
            continue
        for caller, call, loop in model.call_sites(inner.scope):
            if (
                caller is scope
                and loop is not None
                and loop.iter is not None
                and not conditions(branches.path_in(call, scope.node), {sched.target})
            ):
                return inner
    return None


def _batch_step_called_from(model, branches, sched, steps, outer):
    """(step, function name): a step of ``sched`` in a loop of a function that ``outer``'s
    loop calls, both unconditional (``Trainer.fit`` stepping per epoch around
    ``self.train_epoch()``, which steps per batch)."""
    mine = [id(n) for n, _ in conditions(branches.path(outer), {sched.target})]
    for inner in steps:
        own = inner.via
        if (
            own is not None
            and own.loop is not None
            and inner.loop is outer.loop
            and not conditions(branches.path(own), {own.receiver})
            and mine == [id(n) for n, _ in conditions(branches.path(inner), {sched.target})]
        ):
            return own, own.scope.name  # an imported helper's batch loop, called here
        if (
            inner.scope is outer.scope
            or inner.loop is None
            or inner.via is not None
            or inner.scope.kind != "function"
            or conditions(branches.path(inner), {inner.receiver})
        ):
            continue
        for caller, call, loop in model.call_sites(inner.scope):
            if (
                caller is outer.scope
                and loop is outer.loop
                and mine
                == [
                    id(n)
                    for n, _ in conditions(branches.path_in(call, caller.node), {sched.target})
                ]
            ):
                return inner, inner.scope.name
    return None


def _batch_loop_steps(model, names, sched, key):
    """(step, loop) for each step of ``sched`` in a loop where its optimizer steps too."""
    for step in model.steps_of(sched):
        if step.loop is None or step.loop.iter is None:
            continue
        if any(o.loop is step.loop for o in names.optimizer_steps(key, step.scope)):
            yield step, step.loop


def _per_iteration_key(names, sched):
    """The binding key of the optimizer of a schedule counted in iterations (a per-iteration
    torch class or a transformers schedule), else None."""
    if sched.cls not in _PER_ITERATION and sched.origin != "transformers":
        return None
    return names.optimizer_key(sched)


def _sized_from_other_iterable(model, names, sched):
    """A per-iteration schedule sized with ``len(X)`` and stepped in a loop over ``Y``: X a
    dataset (batch_size times too many steps) or another loader."""
    key = _per_iteration_key(names, sched)
    if key is None:
        return None
    counted = []
    for value in _length_values(sched):
        value = _expand(model, sched, value)
        if value.operators & {"/", "//"}:
            return None  # len(dataset) / batch_size: counted in batches, by hand
        counted += [t for t in value.lens if t != "<expr>"]
    if not counted:
        return None
    for step, loop in _batch_loop_steps(model, names, sched, key):
        if is_epoch_loop(loop):
            continue
        iterated = _iterated(model, loop)
        if iterated is None:
            continue  # a parameter some call fills with something unseen
        if any(
            t in it.names or t == it.dotted or t in it.attributes
            for t in counted
            for it in iterated
        ) or any(t in loop.iter_views for t in counted):
            continue
        other = counted[0]
        if not set(re.findall(r"[a-z]+", other.lower())) & BATCH_LOOP_WORDS:
            continue
        reads_param = loop.scope is not None and any(
            n in loop.scope.params for n in loop.iter.names
        )
        iterated = iterated[0].src if reads_param else loop.iter.src  # what a caller passes
        return Report(
            step.node,
            f"`{clip(sched.cls, 40)}` is sized from `len({clip(other, 25)})`, but "
            f"steps once per batch of `{clip(iterated, 25)}`",
            help=f"`{step.receiver}.step()` runs once per batch of `{iterated}`, but "
            f"`len({other})` counts something else (a dataset's items, another "
            f"loader's batches), so the schedule ends early or never reaches its "
            f"end; size it from `len({iterated})` (times the epochs)",
        )
    return None


def _sized_before_rebuild(model, names, sched):
    """A per-iteration schedule sized with ``len(loader)``, then ``loader`` rebuilt as a new
    ``DataLoader`` (another batch size, a sampler) before the loop that walks it and steps
    the schedule per batch: the schedule counts the batches of a loader no loop walks."""
    key = _per_iteration_key(names, sched)
    if key is None:
        return None
    counted = set()
    for value in _length_values(sched):
        counted.update(t for t in _expand(model, sched, value).lens if t != "<expr>")
    for step, loop in _batch_loop_steps(model, names, sched, key):
        if is_epoch_loop(loop):
            continue
        for r in model.rebinds:
            if loop.scope is sched.scope:
                if not (
                    r.scope is loop.scope
                    and r.target in counted
                    and r.target in loop.iter.names
                    and sched.order < r.order < loop.order
                ):
                    continue
            elif not (
                r.target in counted
                and r.target == loop.iter.dotted
                and _rebuilt_after_init(model, sched, r)
            ):
                continue
            rebuilt = assigned_value(model, r)
            if rebuilt is None or not (rebuilt.call or "").endswith("DataLoader"):
                continue  # prepared, wrapped or skipped into: the same batches, counted
            others = [f for f in model.rebinds if f.target == r.target and f is not r]
            if others and all(same_batches(model, f, r) for f in others):
                continue  # built again from the same dataset and batch size: as long
            return Report(
                step.node,
                f"`{clip(sched.cls, 30)}` is sized from `len({clip(r.target, 20)})`, but "
                f"`{clip(r.target, 20)}` is rebuilt on line {model.line(r.node)}",
                help=f"The schedule ({model.where(sched.node)}) counts the batches of "
                f"the loader `{r.target}` held when it was built; the `DataLoader` built on "
                f"line {model.line(r.node)} has another length (a batch size, a sampler), "
                f"so the schedule ends early or never reaches its end; build the scheduler "
                f"after the last loader, or size it from that loader",
            )
    return None


def _rebuilt_after_init(model, sched, rebind) -> bool:
    """A trainer's ``__init__`` sized ``sched`` with ``len(self.train_loader)``, and another
    of its methods (``distribute``, not one ``__init__`` runs before building ``sched``)
    rebinds ``self.train_loader``: any call of that method comes after the construction.
    Not when that method builds the scheduler again, or calls code that does."""
    if not rebind.target.startswith("self.") or rebind.scope is sched.scope:
        return False
    cls = enclosing_class(model, rebind.scope)
    owner = enclosing_class(model, sched.scope)
    if cls is None or owner is None or not model.same_hierarchy(cls, owner):
        return False
    init = owner.methods.get("__init__")
    if (
        init is None
        or sched.scope is not init.scope
        and not model.runs_from(init.scope, sched.scope)
    ):
        return False
    before = sched.order if sched.scope is init.scope else None
    if model.runs_from(init.scope, rebind.scope, before=before):
        return False  # ``__init__`` runs it before the scheduler is built
    return not any(
        s.target == sched.target
        and (s.scope is rebind.scope or model.runs_from(rebind.scope, s.scope))
        for s in model.schedulers
    )


def _iterated(model, loop):
    """The Values a loop's iterable stands for: itself, what a local name it reads was bound
    to (``active = skip_first_batches(train_loader, n)`` or ``active = train_loader``), or,
    when it reads a parameter of its function (``for x, y in loader`` in
    ``train_one_epoch(model, loader, ...)``), what each call passes there; None when a call
    passes it unseen."""
    it = loop.iter
    if loop.scope is None:
        return [it]
    passed = []
    for name in it.names:
        if name in loop.scope.params:
            bound = model.arguments(loop.scope, name)
            if bound is None:
                return None
            passed += [model.value(node) for _, node in bound]
        else:
            passed += [model.value(node) for node in model.assignments(loop.scope, name)]
    return passed + [it] if passed else [it]


def _prepare_rebinds(model, scope, name):
    """Rebinds of ``name`` in ``scope`` by ``x = accelerator.prepare(...)`` (or unpacking it)."""
    for r in model.rebinds:
        if r.target == name and r.scope is scope and assigns_call_of(r, "prepare"):
            yield r


def _len_targets(model, sched, value, depth=0):
    """``len(X)`` targets a length expression counts, following bare names bound once in the
    scheduler's scope before it; None when it speaks of processes (already scaled)."""
    if words(value) & {"processes", "world", "replicas", "devices", "gpus"}:
        return None
    found = list(value.lens)
    for name in value.names:
        binds = [
            r
            for r in model.rebinds
            if r.target == name
            and r.scope is sched.scope
            and r.order < sched.order
            and not r.unpacked
        ]
        bound = assigned_value(model, binds[0]) if depth < 3 and len(binds) == 1 else None
        if bound is not None:
            inner = _len_targets(model, sched, bound, depth + 1)
            if inner is None:
                return None
            found += inner
    return found


def _prepared_stepped_per_epoch(model, branches, sched):
    """A scheduler handed to ``accelerator.prepare`` and stepped once per epoch: unless the
    Accelerator splits batches or was built with ``step_scheduler_with_optimizer=False``, a
    prepared scheduler's ``step()`` steps it ``num_processes`` times (accelerate assumes
    per-batch steps on a sharded loader), so on N processes an epoch schedule runs N times
    too fast (accelerate #2926)."""
    if sched.target is None or model.is_foreign(sched) or len(model.accelerators) != 1:
        return None
    accelerator = model.accelerators[0]
    if accelerator.split_batches is not False or accelerator.steps_with_optimizer is not True:
        return None
    # ``scheduler = accelerator.prepare(scheduler)``, or into another name (``(self.model,
    # ..., self.scheduler) = self.accelerator.prepare(model, ..., scheduler)``)
    prepared = [
        r
        for r in model.rebinds
        if r.scope is sched.scope
        and r.order > sched.order
        and assigns_call_of(r, "prepare")
        and (r.target == sched.target or sched.target in rebound_value(model, r).names)
    ]
    if not prepared:
        return None
    steps = [
        s
        for s in model.steps_of(sched)
        if s.scope is not sched.scope or s.order > prepared[0].order
    ]
    if not steps:
        return None
    for step in steps:
        if step.via is not None:
            # a trainer of another module steps it: in the epoch loop of its own method
            # (``Trainer.fit``); that module cannot see the Accelerator, this one can
            if step.via.loop is None or not is_epoch_loop(step.via.loop):
                return None
            continue
        anchors = _epoch_anchors(model, branches, step)
        if not anchors or not all(is_epoch_loop(a.loop) for a in anchors):
            return None
    step = steps[0]
    if step.via is None:
        what, where = f"`{clip(step.receiver, 30)}.step()` runs", ""
    else:
        helper = step.via.scope.name
        what = f"`{clip(helper, 30)}()` steps `{clip(step.via.receiver, 30)}`"
        where = f"`{helper}()` steps it in its epoch loop ({model.where(step.via.node)}); "
    return Report(
        step.node,
        f"{what} once per epoch on a prepared scheduler, which steps it num_processes times",
        help=f"{where}{name_of(sched)} ({model.where(sched.node)}) was passed to "
        f"`accelerator.prepare` on line {model.line(prepared[0].node)}: accelerate then "
        f"steps it once per process on every call, as for per-batch steps on a sharded "
        f"loader, so on N processes this epoch schedule runs N times too fast; leave it out "
        f"of `prepare`, or build the `Accelerator` with `step_scheduler_with_optimizer=False`",
    )


def _sized_by_loop_bound(model, sched):
    """A prepared schedule sized with the very count that ends the loop stepping it (``if
    completed_steps >= args.max_train_steps: break``): the loop counts this process's
    steps, but a prepared scheduler advances ``num_processes`` steps per call, so on N
    processes it is over after 1/N of the run (accelerate #2318)."""
    if len(model.accelerators) != 1:
        return None
    accelerator = model.accelerators[0]
    if accelerator.split_batches is not False or accelerator.steps_with_optimizer is not True:
        return None
    if (
        sched.cls not in _PER_ITERATION
        and sched.origin != "transformers"
        and sched.cls not in _LENGTH_ARGS
    ) or accelerate_keeps(model, sched) is not True:
        return None
    sizes = {v.src for v in _size_values(model, sched) if v.kind in ("name", "attr")}
    for step in model.steps_of(sched):
        if step.via is not None or step.loop is None:
            continue
        for loop in step.loop.ancestors():
            bound = next((b for b in loop.exit_bounds if b.src in sizes), None)
            # a count recomputed somewhere in the function (after ``prepare`` sharded the
            # loader) may not be the one the schedule was built with
            if bound is None or any(
                r.target == bound.src and r.scope is loop.scope for r in model.rebinds
            ):
                continue
            return Report(
                step.node,
                f"`{clip(step.receiver, 30)}` is prepared but sized by `{clip(bound.src, 30)}`, "
                f"the per-process count that ends this loop",
                help=f"{name_of(sched)} ({model.where(sched.node)}) was passed to "
                f"`accelerator.prepare`, which steps it once per process on every call; the "
                f"loop stops after `{bound.src}` steps of this process (line "
                f"{model.line(loop.node)}), so on N processes the schedule ends after 1/N of "
                f"the run; size it with `{bound.src} * accelerator.num_processes`",
            )
    return None


def _sized_per_process(model, sched):
    """A schedule sized from ``len(loader)`` after ``accelerator.prepare`` sharded the loader
    (a per-process count), and then prepared itself: a prepared scheduler advances
    ``num_processes`` steps per call, so it ends after 1/num_processes of the run."""
    if (
        sched.target is None
        or sched.cls not in _PER_ITERATION
        and sched.origin != "transformers"
        and sched.cls not in _LENGTH_ARGS
    ):
        return None
    if len(model.accelerators) != 1 or model.accelerators[0].split_batches is not False:
        return None  # the Accelerator is built elsewhere, or may split batches
    prepared_after = [
        r for r in _prepare_rebinds(model, sched.scope, sched.target) if r.order > sched.order
    ]
    if not prepared_after:
        return None
    for value in _length_values(sched):
        targets = _len_targets(model, sched, value)
        if not targets:
            continue
        for t in targets:
            sharded = [r for r in _prepare_rebinds(model, sched.scope, t) if r.order < sched.order]
            if sharded:
                return Report(
                    sched.node,
                    f"`{clip(sched.cls, 40)}` is sized from `len({clip(t, 25)})` after "
                    f"`accelerator.prepare` sharded it",
                    help=f"`{t}` was prepared on line {model.line(sharded[0].node)}, "
                    f"so its length is per process, but a prepared scheduler "
                    f"steps once per process on every call: the schedule runs "
                    f"num_processes times too fast; size it from the length "
                    f"before `prepare` (times `num_processes`)",
                )
    return None
