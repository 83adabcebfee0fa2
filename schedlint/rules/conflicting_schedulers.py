from schedlint.model.usage import (
    branches_of,
    closed_form,
    is_known,
    is_known_class,
    kind_words,
    name_of,
    names_of,
    seen_from,
)
from schedlint.rules.base import Report, clip, rule


def _units(model, names):
    """{optimizer key: [(scheduler, step calls, chain)]} for every stepped scheduler.

    A ChainedScheduler's children are stepped by its ``step()``; a SequentialLR is one unit
    (its children take turns: a hand-off, not a conflict).
    """
    units = {}
    for sched in model.schedulers + model.schedulers_reached():
        if sched.parent is not None or not is_known(sched):
            continue
        steps = model.steps_of(sched)
        if not all(names.scheduler(s) is sched for s in steps):
            continue
        steps += [c for c in model.steps_reaching(sched) if _walked(model, names, c)]
        if not steps:
            continue
        if sched.cls == "ChainedScheduler":
            for child in sched.children:
                key = names.optimizer_key(child)
                if key is not None and is_known(child):
                    units.setdefault(key, []).append((child, steps, sched))
        else:
            key = names.optimizer_key(sched)
            if key is not None:
                units.setdefault(key, []).append((sched, steps, None))
    return units


def _walked(model, names, call) -> bool:
    """``call`` steps every scheduler of a container it walks (``for s in schedulers:
    s.step()``, the list a factory returns), all of them known, once per pass of a loop
    around that walk (here, or around a call of its function)."""
    loop = call.loop
    if (
        call.target is not None
        or call.args
        or call.kwargs
        or loop is None
        or call.receiver not in loop.targets
        or not names.schedulers(call)
    ):
        return False
    return loop.parent is not None or any(
        site is not None for _, _, site in model.call_sites(call.scope)
    )


def _optimizer_text(key) -> str:
    """The optimizer of a unit key as a message names it: this file's variable, when the
    key is one (an object built in another module has none here)."""
    name = key[-1] if key and key[0] != "object" else None
    return f"`{clip(name, 30)}`" if isinstance(name, str) else "one optimizer"


def _prefix(short, long) -> bool:
    return len(short) <= len(long) and all(
        id(n) == id(m) and x == y for (n, x), (m, y) in zip(short, long)
    )


def _swa(a, b) -> bool:
    """SWALR anneals from whatever lr the group holds: any other scheduler stepped with it
    moves its starting point every step, chainable or not."""
    return is_known_class(a, "SWALR") or is_known_class(b, "SWALR")


def _together(model, branches, a_steps, b_steps, a, b, nested=False):
    """A pair of step calls, one of each, in the same function under the same conditions
    (presence tests like ``if scheduler is not None`` aside), or None. A step made
    unconditionally in a function that the other step's function calls (``warmup.step()`` in
    ``train_one_epoch``, called in the epoch loop next to ``cosine.step()``) counts as made
    at that call.

    ``nested``: also when one call's conditions extend the other's, so that every step of
    the more guarded one also steps the other (``if epoch >= swa_start: swa.step()`` next
    to an unconditional ``cosine.step()``)."""
    ignore = {x.target for x in (a, b) if x.target}
    for sa in a_steps:
        for sb in b_steps:
            for (loop_a, pa), (loop_b, pb) in _placed(model, branches, sa, sb, ignore):
                if loop_a is None or loop_b is None:
                    continue
                if not any(ancestor.contains(loop_b) for ancestor in loop_a.ancestors()):
                    continue  # no loop runs both: one phase after the other
                if [id(n) for n, _ in pa] == [id(n) for n, _ in pb] and [b for _, b in pa] == [
                    b for _, b in pb
                ]:
                    return sa, sb
                if nested and (_prefix(pa, pb) or _prefix(pb, pa)):
                    return sa, sb
    return None


def _placed(model, branches, sa, sb, ignore):
    """((loop, conditions) of ``sa``, (loop, conditions) of ``sb``) seen from one function:
    both where they are, or one at each call in the other's function that runs it."""
    if sa.scope is sb.scope:
        yield (
            seen_from(model, branches, sa, sa.scope, ignore)[0],
            seen_from(model, branches, sb, sb.scope, ignore)[0],
        )
        return
    here = seen_from(model, branches, sa, sa.scope, ignore)[0]
    for there in seen_from(model, branches, sb, sa.scope, ignore):
        yield here, there
    here = seen_from(model, branches, sb, sb.scope, ignore)[0]
    for there in seen_from(model, branches, sa, sb.scope, ignore):
        yield there, here


# The argument that scales the lr a LinearLR/ConstantLR constructor writes (default 1/3).
_START_FACTOR = {"LinearLR": "start_factor", "ConstantLR": "factor"}


def _scales_at_start(model, sched) -> bool:
    """A LinearLR/ConstantLR whose constructor multiplies the lr by a factor that is not
    certainly 1 (a warm-up's start)."""
    arg = _START_FACTOR.get(sched.cls)
    if arg is None or sched.origin != "torch":
        return False
    value = sched.args.get(arg)
    return value is None or model.number(value.node, sched.scope) != 1


def _constructor_rewrites(model, first, later) -> str | None:
    """How ``later``'s constructor moves the lr that ``first`` (built just before it on the
    same optimizer) set up, or None when it leaves it."""
    if later.origin == "torch" and later.cls == "OneCycleLR":
        return "its constructor sets every group's lr (and `initial_lr`) to `max_lr / div_factor`"
    if later.origin == "torch" and later.cls == "CyclicLR":
        return "its constructor sets every group's lr to `base_lr`"
    if _scales_at_start(model, later):
        return f"its constructor multiplies the lr again by its `{_START_FACTOR[later.cls]}`"
    if _scales_at_start(model, first) and closed_form(later):
        return (
            f"its constructor rewrites the lr from `initial_lr`, undoing the "
            f"`{_START_FACTOR[first.cls]}` of {name_of(first)}"
        )
    return None


def _phases(model, branches, a_steps, b_steps, a, b) -> bool:
    """``a`` is stepped in a phase of its own before ``b`` takes over: in one loop under other
    conditions than ``b`` (``if epoch < warmup_epochs:`` / ``else:``), or in a loop that ends
    before the loops stepping ``b`` begin."""
    ignore = {x.target for x in (a, b) if x.target}
    for sa in a_steps:
        for sb in b_steps:
            for (loop_a, pa), (loop_b, pb) in _placed(model, branches, sa, sb, ignore):
                apart = [id(n) for n, _ in pa] != [id(n) for n, _ in pb] or [x for _, x in pa] != [
                    x for _, x in pb
                ]
                if loop_a is None and loop_b is None:
                    # a per-batch method (``train_step``) choosing one of them at each call
                    if apart and sa.scope is sb.scope and model.loops_around_calls(sa):
                        return True
                    continue
                if loop_a is None or loop_b is None:
                    continue
                if any(ancestor.contains(loop_b) for ancestor in loop_a.ancestors()):
                    if apart:
                        return True
                elif sa.scope is sb.scope and all(
                    x.order < y.order for x in a_steps for y in b_steps
                ):
                    return True
    return False


def _clobbered_handoffs(model, branches, units):
    """A chainable scheduler built, and stepped first, in a hand-off to a scheduler built
    right after it on the same optimizer whose constructor moves the lr: the first one's
    steps multiply the lr that constructor left, not the one it started from."""
    for entries in units.values():
        for a, a_steps, a_chain in entries:
            if (
                a_chain is not None
                or model.is_foreign(a)  # both constructors are another module's code
                or a.origin != "torch"
                or not a.chainable
                or a.cls == "ReduceLROnPlateau"
                or "last_epoch" in a.args
            ):
                continue
            for b, b_steps, b_chain in entries:
                if (
                    b is a
                    or b_chain is not None
                    or b.scope is not a.scope
                    or b.order <= a.order
                    or "last_epoch" in b.args
                    or any(s.order < b.order and s.scope is a.scope for s in a_steps + b_steps)
                ):
                    continue
                if any(
                    w.scope is a.scope
                    and a.order < w.order < b.order
                    and any(o in a.optimizers for o in w.optimizers)
                    for w in model.lr_writes
                ):
                    continue  # the lr is set again between the two constructors
                effect = _constructor_rewrites(model, a, b)
                if effect is None:
                    continue
                if _together(model, branches, a_steps, b_steps, a, b) is not None:
                    continue  # stepped together: composing, or the conflict reported above
                if not _phases(model, branches, a_steps, b_steps, a, b):
                    continue
                yield Report(
                    b.node,
                    f"{clip(name_of(b), 30)}'s constructor moves the lr that "
                    f"{clip(name_of(a), 30)} (line {model.line(a.node)}) starts from",
                    help=f"{name_of(b)} is a `{b.cls}` built after {name_of(a)} on "
                    f"`{b.optimizer_src}`: {effect}; {name_of(a)} "
                    f"(`{a.cls}`, chainable) is stepped first and multiplies the lr it finds, "
                    f"so its whole phase runs from that lr instead of its own start; build "
                    f"{name_of(b)} when {name_of(a)} is done, or hand over with `SequentialLR`",
                )
                break


@rule("SL202", "conflicting-schedulers", "error")
def conflicting_schedulers(model):
    """Two schedulers drive one optimizer, at least one of them closed form or SWALR.

    ## What it does
    Flags two or more schedulers bound to the same optimizer and both stepped, under the same
    conditions (directly, or as children of a stepped `ChainedScheduler`; a step made
    unconditionally in a function called in the other's loop, such as a per-batch warm-up in
    `train_one_epoch` next to a per-epoch `cosine.step()`, counts as made there; so does a
    walk over a container of schedulers, `for s in schedulers: s.step()`; schedulers a factory
    of another module builds, `return [warmup, cosine]` or `return warmup, cosine`, are
    reported at the last of their steps here), when at least one
    of them is closed form (LambdaLR and the transformers `get_*_schedule*` factories, CyclicLR,
    OneCycleLR, CosineAnnealingWarmRestarts). Chainable schedulers compose and are not
    flagged; neither is a `SequentialLR` or an `if`/`else` hand-off from one to the other.
    `SWALR` is flagged next to any other scheduler stepped on the same path, also when only
    one of the two steps is guarded (`if epoch >= swa_start: swa_scheduler.step()` next to an
    unconditional `scheduler.step()`). Also flags a hand-off between two schedulers built
    one right after the other on one optimizer, the first chainable and stepped first (under
    other conditions in the same loop or per-batch method, or in a loop that ends before the
    other's), when the second one's constructor moves the lr the first starts from:
    `OneCycleLR` (sets `max_lr / div_factor`), `CyclicLR` (sets `base_lr`), a `LinearLR`
    or `ConstantLR` with a factor other than 1 (multiplies it again), or, after such a
    warm-up, any closed-form scheduler (rewrites it from `initial_lr`).

    ## Why is this bad?
    A closed-form scheduler recomputes every group's lr from its own bases at each step. Stepped
    after the other scheduler, it erases it completely (a ReduceLROnPlateau's reductions are
    silently lost); stepped before it, the two fight and the lr saw-tooths. PyTorch gives no
    warning, and `ChainedScheduler` does not fix it. `SWALR` anneals from the lr the group
    holds toward `swa_lr`; a cosine stepped on the same epochs keeps multiplying that lr down,
    so the SWA phase never runs at `swa_lr` and ends near zero. Every scheduler's constructor
    writes the lr: a `LinearLR` warm-up built before a `OneCycleLR` ramps, chainable, from
    the `max_lr / div_factor` that constructor left, and ends its warm-up at 100 times
    `max_lr / div_factor` instead of at the optimizer's lr.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import LambdaLR, StepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup = LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / 500))
    decay = StepLR(optimizer, step_size=30, gamma=0.1)
    for epoch in range(epochs):
        for batch in loader:
            train_step(batch)
            optimizer.step()
            warmup.step()
            decay.step()
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import LinearLR, SequentialLR, StepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = SequentialLR(optimizer, [LinearLR(optimizer, 0.002, total_iters=500),
                                         StepLR(optimizer, step_size=30, gamma=0.1)],
                             milestones=[500])
    for epoch in range(epochs):
        for batch in loader:
            train_step(batch)
            optimizer.step()
            scheduler.step()
    ```
    """
    names = names_of(model)
    branches = branches_of(model)
    reported = set()
    for key, units in _units(model, names).items():
        if len(units) < 2:
            continue
        for i, (a, a_steps, a_chain) in enumerate(units):
            for b, b_steps, b_chain in units[i + 1 :]:
                swa = _swa(a, b)
                if a is b or not (closed_form(a) or closed_form(b) or swa):
                    continue
                pair = (
                    (a_steps[0], b_steps[0])
                    if a_chain is not None and a_chain is b_chain
                    else _together(model, branches, a_steps, b_steps, a, b, nested=swa)
                )
                if pair is None:
                    continue
                later = b if b.order > a.order else a
                other = a if later is b else b
                chain = a_chain if a_chain is not None and a_chain is b_chain else None
                node = chain.node if chain is not None else later.node
                foreign = model.is_foreign(chain or later)
                if foreign:
                    # built by a factory of another module: the steps here are the mistake
                    node = max(pair, key=lambda c: model.position(c.node)).node
                if id(node) in reported:
                    continue
                reported.add(id(node))
                how = (
                    f"both stepped by {name_of(chain)} (`ChainedScheduler`)"
                    if chain
                    else f"both stepped by `{pair[0].receiver}.step()` (line "
                    f"{model.line(pair[0].node)}), which walks a container holding both"
                    if pair[0] is pair[1]
                    else f"stepped on lines {model.line(pair[0].node)} and "
                    f"{model.line(pair[1].node)}"
                )
                first_closed = closed_form(a) and closed_form(b)
                swa_one = a if is_known_class(a, "SWALR") else b
                effect = (
                    f"{name_of(swa_one)} anneals toward `swa_lr` from the current lr and the "
                    "other writes the lr on the same steps, undoing it"
                    if swa and not (closed_form(a) or closed_form(b))
                    else "each recomputes the lr from its own bases, so whichever steps last "
                    "erases the other"
                    if first_closed
                    else "the closed-form one recomputes the lr from its bases each step, "
                    "erasing the other's decay (or fighting it, when stepped first)"
                )
                advice = (
                    f"once SWA starts step only {name_of(swa_one)} (`if epoch > swa_start: "
                    "swa_scheduler.step() else: scheduler.step()`)"
                    if swa
                    else "step the plateau only after the other one is done (SequentialLR "
                    "rejects ReduceLROnPlateau)"
                    if "ReduceLROnPlateau" in (a.cls, b.cls)
                    else "combine them with `SequentialLR` (one after the other) or "
                    "fold both into one schedule"
                )
                driven = (
                    _optimizer_text(key)
                    if foreign
                    else f"`{clip(later.optimizer_src or other.optimizer_src, 30)}`"
                )
                yield Report(
                    node,
                    f"{clip(name_of(later), 30)} and {clip(name_of(other), 30)} "
                    f"({model.where(other.node)}) both drive {driven}",
                    help=f"{name_of(later)} is {kind_words(later)} and "
                    f"{name_of(other)} is {kind_words(other)}, {how}: {effect}; "
                    f"{advice}",
                )
    yield from _clobbered_handoffs(model, branches, _units(model, names))
