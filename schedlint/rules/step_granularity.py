
from schedlint.model import catalogue
from schedlint.rules._scheduler_usage import (
    ACCUMULATION_WORDS,
    BATCH_LOOP_WORDS,
    Branches,
    Names,
    callee_optimizer_steps,
    conditions,
    is_epoch_loop,
    is_known,
    loop_words,
    name_of,
    sized_in,
)
from schedlint.rules.base import Report, rule

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
# Counted in iterations by design (semantics §7.1 #3).
_PER_ITERATION = catalogue.PER_ITERATION | (frozenset(catalogue.TRANSFORMERS_FACTORIES) -
                                            {"get_constant_schedule"})


def _length_values(sched):
    names = _TRANSFORMERS_LENGTH if sched.origin == "transformers" else \
        _LENGTH_ARGS.get(sched.cls, ())
    values = [sched.args[n] for n in names if n in sched.args]
    if not values and sched.origin == "transformers" and "num_warmup_steps" in sched.args:
        values = [sched.args["num_warmup_steps"]]
    return values


def _expand(model, sched, value):
    """A bare name assigned once in the scheduler's scope stands for what it was assigned."""
    if value.kind != "name":
        return value
    found = [r for r in model.rebinds if r.target == value.src and r.scope is sched.scope
             and not r.unpacked]
    node = getattr(found[0].node, "value", None) if len(found) == 1 else None
    if node is None or found[0].order > sched.order or not hasattr(model, "value"):
        return value
    return model.value(node)


def granularity(sched, model=None):
    """("iteration" | "epoch", why) for what one ``step()`` of ``sched`` is meant to be, or
    None when the model cannot tell."""
    values = _length_values(sched)
    shown = ", ".join(f"{n}={v.src}" for n, v in sched.args.items() if v in values)
    if model is not None:
        values = [_expand(model, sched, v) for v in values]
    sized = sized_in(values)
    if sched.cls in _PER_ITERATION:
        if sized == "epochs":
            return None  # deliberately sized in epochs: stepped per epoch is right
        if values and sized is None:
            return None  # a literal or an unknown name: could be either
        what = f"sized in iterations ({shown})" if values else "counted in iterations by default"
        return "iteration", what
    if sized == "epochs" and sched.cls in _LENGTH_ARGS:
        return "epoch", f"sized in epochs ({shown})"
    if sized == "iterations" and sched.cls in _LENGTH_ARGS:
        return "iteration", f"sized in iterations ({shown})"
    return None


@rule("SL207", "step-granularity-mismatch", "warning")
def step_granularity_mismatch(model):
    """A per-iteration scheduler stepped once per epoch, or an epoch-sized one per batch.

    ## What it does
    Flags a scheduler meant to advance once per optimizer step (OneCycleLR, CyclicLR, the
    transformers `get_*_schedule_with_warmup` factories, or any schedule whose length is
    computed from `len(loader)` or a step count) that is stepped only in the epoch loop while
    its optimizer steps in the nested batch loop; and a scheduler sized in epochs (`T_max`,
    `step_size`, `milestones`, `total_iters` computed from `epochs`) stepped inside the batch
    loop next to the optimizer. The loop nesting must be visible in one function, the outer
    loop must look like an epoch loop (or the inner one iterate a loader), and the length
    expressions must clearly speak of epochs or of iterations; otherwise nothing is reported.

    ## Why is this bad?
    Schedulers count `step()` calls, not time. A OneCycleLR built with
    `steps_per_epoch=len(loader)` but stepped once per epoch never leaves its warm-up (the lr
    stays near `max_lr / div_factor` for the whole run). A `StepLR(step_size=epochs // 3)`
    stepped per batch decays every few dozen batches, and a `CosineAnnealingLR(T_max=epochs)`
    stepped per batch oscillates with a period of `2 * epochs` batches.

    ## Example
    ```python
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
    for epoch in range(epochs):
        for x, y in loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
            scheduler.step()
    ```
    """
    names = Names(model)
    branches = Branches()
    for sched in model.schedulers:
        if not is_known(sched) or sched.parent is not None or sched.key is None:
            continue
        kind = granularity(sched, model)
        if kind is None:
            continue
        key = names.optimizer_key(sched)
        steps = model.steps_of(sched)
        if key is None or not steps or not all(names.scheduler(s) is sched for s in steps):
            continue
        if kind[0] == "iteration":
            yield from _per_epoch(model, names, sched, key, steps, kind[1])
        else:
            yield from _per_batch(model, names, sched, key, steps, kind[1], branches)


def _batch_steps_ok(loop, o):
    """The optimizer step ``o`` runs in a batch loop nested in (or called from) ``loop``."""
    if o.loop is None or o.loop is loop:
        return False
    inner = [ancestor for ancestor in o.loop.ancestors() if ancestor is not loop]
    return not any(is_epoch_loop(ancestor) or loop_words(ancestor) & ACCUMULATION_WORDS
                   for ancestor in inner)


def _steps_in_callee(model, names, loop, step, sched, key):
    """Optimizer steps in a batch loop of a function the epoch loop calls."""
    found = []
    for info, _, opt_steps in callee_optimizer_steps(model, names, loop.node.body, step.scope,
                                                     step.receiver, sched.optimizer_src, key):
        if opt_steps is None:
            return []  # the scheduler goes in too: what the function does with it is unseen
        found += [(c, info) for c in opt_steps if c.loop is not None and _batch_steps_ok(None, c)]
    return found


def _per_epoch(model, names, sched, key, steps, why):
    """Every step of ``sched`` is in an epoch loop whose optimizer steps are all nested in it
    (or in a batch loop of a function it calls)."""
    found = None
    for step in steps:
        loop = step.loop
        if loop is None or not is_epoch_loop(loop):
            return
        opt_steps = [o for o in names.optimizer_steps(key, step.scope)
                     if o.loop is not None and loop.contains(o.loop)]
        via = None
        if opt_steps:
            if not all(_batch_steps_ok(loop, o) for o in opt_steps):
                return
            o = opt_steps[0]
        else:
            callee = _steps_in_callee(model, names, loop, step, sched, key)
            if not callee:
                return
            o, info = callee[0]
            via = info.name
        found = found or (step, o, via)
    if found is None:
        return
    step, o, via = found
    where = f"in `{via}()`, line {model.line(o.node)}" if via else f"line {model.line(o.node)}"
    yield Report(step.node,
                 f"`{step.receiver}.step()` runs once per epoch, but {name_of(sched)} "
                 f"(`{sched.cls}`, line {model.line(sched.node)}) is {why} and "
                 f"`{sched.optimizer_src}` steps per batch ({where}): the schedule advances once "
                 f"per epoch instead of "
                 f"once per update (a OneCycleLR never leaves its warm-up); call "
                 f"`{step.receiver}.step()` right after the optimizer step")


def _per_batch(model, names, sched, key, steps, why, branches):
    """A step of ``sched`` inside a batch loop, next to its optimizer's step."""
    for step in steps:
        loop = step.loop
        if loop is None or is_epoch_loop(loop):
            continue
        outer = [ancestor for ancestor in loop.ancestors() if ancestor is not loop]
        lw = loop_words(loop)
        if not (lw & BATCH_LOOP_WORDS or any(is_epoch_loop(ancestor) for ancestor in outer)):
            continue
        if lw & ACCUMULATION_WORDS:
            continue
        opt_steps = [o for o in names.optimizer_steps(key, step.scope) if o.loop is loop]
        if not opt_steps:
            continue
        ignore = {sched.target}
        mine = conditions(branches.path(step), ignore)
        theirs = {id(n) for n, _ in conditions(branches.path(opt_steps[0]), ignore)}
        if any(id(n) not in theirs for n, _ in mine):
            continue  # stepped only under a condition of its own (e.g. at the epoch's end)
        yield Report(step.node,
                     f"`{step.receiver}.step()` runs every batch (next to `{sched.optimizer_src}` "
                     f"stepping on line {model.line(opt_steps[0].node)}), but {name_of(sched)} "
                     f"(`{sched.cls}`, line {model.line(sched.node)}) is {why}: it advances "
                     f"len(loader) times per epoch, so the schedule is used up (or cycles) "
                     f"within the first epoch(s); step it once per epoch, or size it in "
                     f"iterations (e.g. `epochs * len(loader)`)")
        return
