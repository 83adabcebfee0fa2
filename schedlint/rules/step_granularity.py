import re

from schedlint.model import catalogue
from schedlint.model.usage import (ACCUMULATION_WORDS, BATCH_LOOP_WORDS, assigned_value,
                                   assigns_call_of, callee_optimizer_steps, conditions,
                                   is_epoch_loop, is_known, loop_words, name_of, rebound_value,
                                   sized_in, words)
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
    bound = rebound_value(model, found[0]) if len(found) == 1 else None
    if bound is None or found[0].order > sched.order:
        return value
    return bound


def length_words(sched, model) -> set:
    """Words of the arguments that size ``sched`` (bare names followed once)."""
    out = set()
    for value in _length_values(sched):
        out |= words(_expand(model, sched, value))
    return out


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
    Also flags a scheduler stepped both in a batch loop and in the epoch loop around it
    (under the same conditions), and a per-iteration schedule sized with `len(X)` of a
    dataset or another loader than the one whose loop steps it (`steps_per_epoch=
    len(train_dataset)`, `len(val_loader)`). With accelerate, flags a schedule sized from
    a loader's length after `accelerator.prepare` sharded it, when the scheduler is then
    prepared too and the file's `Accelerator` does not split batches: a prepared scheduler
    steps `num_processes` times per call.

    ## Why is this bad?
    Schedulers count `step()` calls, not time. A OneCycleLR built with
    `steps_per_epoch=len(loader)` but stepped once per epoch never leaves its warm-up (the lr
    stays near `max_lr / div_factor` for the whole run). A `StepLR(step_size=epochs // 3)`
    stepped per batch decays every few dozen batches, and a `CosineAnnealingLR(T_max=epochs)`
    stepped per batch oscillates with a period of `2 * epochs` batches. A OneCycleLR sized
    with `len(train_dataset)` is `batch_size` times too long and never anneals; one sized with
    a shorter loader's length raises `ValueError` part-way through training.

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
    names = model.names()
    branches = model.branches()
    for sched in model.schedulers:
        if not is_known(sched) or sched.parent is not None or sched.key is None:
            continue
        both = _both_granularities(model, names, sched, branches)
        if both is not None:
            yield both
            continue
        other = _sized_from_other_iterable(model, names, sched)
        if other is not None:
            yield other
            continue
        prepared = _sized_per_process(model, sched)
        if prepared is not None:
            yield prepared
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
    inner = [l for l in o.loop.ancestors() if l is not loop]
    return not any(is_epoch_loop(l) or loop_words(l) & ACCUMULATION_WORDS for l in inner)


def _steps_in_callee(model, names, loop, step, sched, key):
    """Optimizer steps in a batch loop of a function the epoch loop calls."""
    found = []
    for info, _, opt_steps in callee_optimizer_steps(model, names, loop, step.scope,
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
                 f"`{clip(step.receiver, 30)}.step()` runs once per epoch, but "
                 f"{clip(name_of(sched), 30)} (`{sched.cls}`) counts iterations",
                 help=f"{name_of(sched)} (line {model.line(sched.node)}) is {why} and "
                      f"`{sched.optimizer_src}` steps per batch ({where}): the schedule advances "
                      f"once per epoch instead of once per update (a OneCycleLR never leaves its "
                      f"warm-up); call `{step.receiver}.step()` right after the optimizer step")


def _per_batch(model, names, sched, key, steps, why, branches):
    """A step of ``sched`` inside a batch loop, next to its optimizer's step."""
    for step in steps:
        loop = step.loop
        if loop is None or is_epoch_loop(loop):
            continue
        outer = [l for l in loop.ancestors() if l is not loop]
        lw = loop_words(loop)
        if not (lw & BATCH_LOOP_WORDS or any(is_epoch_loop(l) for l in outer)):
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
                     f"`{clip(step.receiver, 30)}.step()` runs every batch, but "
                     f"{clip(name_of(sched), 30)} (`{sched.cls}`) counts epochs",
                     help=f"{name_of(sched)} (line {model.line(sched.node)}) is {why}, and it "
                          f"steps next to `{sched.optimizer_src}` (line "
                          f"{model.line(opt_steps[0].node)}): it advances len(loader) times per "
                          f"epoch, so the schedule is used up (or cycles) within the first "
                          f"epoch(s); step it once per epoch, or size it in iterations (e.g. "
                          f"`epochs * len(loader)`)")
        return


def _both_granularities(model, names, sched, branches):
    """``sched.step()`` in a batch loop and again in the epoch loop around it (the same
    function, not in exclusive branches): the schedule advances len(loader) + 1 times per
    epoch. Reported on the per-epoch call."""
    if sched.cls in catalogue.STEP_TAKES_ARGUMENT:
        return None
    steps = model.steps_of(sched)
    if len(steps) < 2 or not all(names.scheduler(s) is sched for s in steps):
        return None
    for outer in steps:
        if outer.loop is None:
            continue
        for inner in steps:
            if inner is outer or inner.scope is not outer.scope or inner.loop is None or \
                    inner.loop is outer.loop or not outer.loop.contains(inner.loop):
                continue
            if [id(n) for n, _ in branches.path(inner)] != \
                    [id(n) for n, _ in branches.path(outer)]:
                continue  # either runs under a condition of its own (`if per_batch:`)
            return Report(outer.node,
                          f"`{clip(outer.receiver, 30)}.step()` runs once per epoch and "
                          f"also every batch",
                          help=f"It also steps every batch (line {model.line(inner.node)}), so "
                               f"the schedule advances twice at each epoch's end; keep the one "
                               f"call its schedule is sized for")
    return None


def _batch_loop_steps(model, names, sched, key):
    """(step, loop) for each step of ``sched`` in a loop where its optimizer steps too."""
    for step in model.steps_of(sched):
        if step.loop is None or step.loop.iter is None:
            continue
        if any(o.loop is step.loop for o in names.optimizer_steps(key, step.scope)):
            yield step, step.loop


def _sized_from_other_iterable(model, names, sched):
    """A per-iteration schedule sized with ``len(X)`` and stepped in a loop over ``Y``: X a
    dataset (batch_size times too many steps) or another loader."""
    if sched.cls not in _PER_ITERATION and not (sched.origin == "transformers"):
        return None
    key = names.optimizer_key(sched)
    if key is None:
        return None
    counted = []
    for value in _length_values(sched):
        value = _expand(model, sched, value)
        if "/" in value.src:
            return None  # len(dataset) / batch_size: counted in batches, by hand
        counted += [t for t in value.lens if t != "<expr>"]
    if not counted:
        return None
    for step, loop in _batch_loop_steps(model, names, sched, key):
        if is_epoch_loop(loop):
            continue
        it = loop.iter
        if any(t in it.names or t == it.dotted or "." in t and t in it.src or
               t in loop.iter_views for t in counted):
            continue
        other = counted[0]
        if not set(re.findall(r"[a-z]+", other.lower())) & BATCH_LOOP_WORDS:
            continue
        iterated = it.src
        return Report(step.node,
                      f"`{clip(sched.cls, 40)}` is sized from `len({clip(other, 25)})`, but "
                      f"steps once per batch of `{clip(iterated, 25)}`",
                      help=f"`{step.receiver}.step()` runs once per batch of `{iterated}`, but "
                           f"`len({other})` counts something else (a dataset's items, another "
                           f"loader's batches), so the schedule ends early or never reaches its "
                           f"end; size it from `len({iterated})` (times the epochs)")
    return None


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
        binds = [r for r in model.rebinds if r.target == name and r.scope is sched.scope and
                 r.order < sched.order and not r.unpacked]
        bound = assigned_value(model, binds[0]) if depth < 3 and len(binds) == 1 else None
        if bound is not None:
            inner = _len_targets(model, sched, bound, depth + 1)
            if inner is None:
                return None
            found += inner
    return found


def _sized_per_process(model, sched):
    """A schedule sized from ``len(loader)`` after ``accelerator.prepare`` sharded the loader
    (a per-process count), and then prepared itself: a prepared scheduler advances
    ``num_processes`` steps per call, so it ends after 1/num_processes of the run."""
    if sched.target is None or sched.cls not in _PER_ITERATION and \
            sched.origin != "transformers" and sched.cls not in _LENGTH_ARGS:
        return None
    if len(model.accelerators) != 1 or model.accelerators[0].split_batches is not False:
        return None  # the Accelerator is built elsewhere, or may split batches
    prepared_after = [r for r in _prepare_rebinds(model, sched.scope, sched.target)
                      if r.order > sched.order]
    if not prepared_after:
        return None
    for value in _length_values(sched):
        targets = _len_targets(model, sched, value)
        if not targets:
            continue
        for t in targets:
            sharded = [r for r in _prepare_rebinds(model, sched.scope, t) if r.order < sched.order]
            if sharded:
                return Report(sched.node,
                              f"`{clip(sched.cls, 40)}` is sized from `len({clip(t, 25)})` after "
                              f"`accelerator.prepare` sharded it",
                              help=f"`{t}` was prepared on line {model.line(sharded[0].node)}, "
                                   f"so its length is per process, but a prepared scheduler "
                                   f"steps once per process on every call: the schedule runs "
                                   f"num_processes times too fast; size it from the length "
                                   f"before `prepare` (times `num_processes`)")
    return None
