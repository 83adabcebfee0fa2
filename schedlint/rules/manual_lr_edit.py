from dataclasses import replace

from schedlint.model import catalogue
from schedlint.model.builder import binding_key
from schedlint.model.frameworks import lightning_stepping
from schedlint.model.lr_expressions import zipped_sources
from schedlint.model.usage import (
    Branches,
    branches_of,
    closed_form,
    complementary,
    conditions,
    enclosing_class,
    floor_clamp,
    in_leading_phase,
    in_scheduler_class,
    is_known,
    leading_phase,
    name_of,
    names_of,
    ramp_reaches,
    stepped_units,
)
from schedlint.rules.base import Report, clip, placed, rule


def _in_effect(model, sched, write) -> bool:
    """The scheduler exists where the write runs: built earlier in the same function, or held
    by the class/module the write's code belongs to."""
    if sched.scope is write.scope:
        return sched.order < write.order
    if (sched.key is None or model.is_foreign(sched)) and _stepped_by_class(model, sched, write):
        return True
    if model.runs_from(write.scope, sched.scope, before=write.order):
        return True  # built by a call (a wrapper's constructor, a factory) made before it
    if sched.key is not None and sched.key[0] == "class":
        cls = enclosing_class(model, write.scope)
        owner = enclosing_class(model, sched.scope)
        return cls is not None and owner is not None and model.same_hierarchy(cls, owner)
    if sched.scope.kind == "module":
        return write.scope.kind == "function"
    # a helper (or a method) the scheduler's function calls after building it
    return model.runs_from(sched.scope, write.scope, after=sched.order)


def _built_after_it_runs(model, sched, write) -> bool:
    """Every way the write runs passes through a function that builds the scheduler later
    (itself or through a call), outside any loop around that construction: a warm-up
    phase `fit()` runs before it builds its schedule, which then starts from the warmed-up
    lr."""
    built = {}  # id(scope) -> the sites in it the construction runs from
    for chain in model.call_chains(sched):
        for site in chain:
            built.setdefault(id(site.scope), []).append(site)
    chains = model.call_chains(write)
    ends = [c for c in chains if not any(len(o) > len(c) and o[: len(c)] == c for o in chains)]

    def before(site):
        return all(
            site.order < b.order and not {id(x) for x in site.loops} & {id(x) for x in b.loops}
            for b in built[id(site.scope)]
        )

    return bool(ends) and all(
        any(id(site.scope) in built and before(site) for site in chain) for chain in ends
    )


def _in_scheduler(model, write) -> bool:
    """The write is code of a scheduler class, here or in the imported module whose write a
    local call stands for (`scheduler.step()` of a warm-up class of `warmup.py`)."""
    while write is not None:
        if (
            write.in_class is not None
            and write.in_class.looks_like_scheduler
            or in_scheduler_class(model, write.scope)
        ):
            return True
        write = write.via
    return False


def _stepped_by_class(model, sched, write) -> bool:
    """An entry of `self.schedulers` (filled here, or by a subclass in a caller module) that
    a method of the write's class hierarchy steps: in effect wherever that class runs."""
    cls = enclosing_class(model, write.scope)
    return cls is not None and any(
        owner is not None and model.same_hierarchy(cls, owner)
        for owner in (enclosing_class(model, s.scope) for s in model.steps_reaching(sched))
    )


def _reads_initial_lr(model, write) -> bool:
    # ``for g, lr in zip(opt.param_groups, warmup_lrs)``: what ``warmup_lrs`` is built from
    values = zipped_sources(model, write) or [write.value]
    return all(any(key == "initial_lr" for _, key in v.subscripts) for v in values)


def _conditional_in_helper(model, write) -> bool:
    """The write an imported helper makes (this fact is anchored at the local call) runs
    under a test there (``if num_iter < num_warmup:``, YOLOP's ``train()``)."""
    if write.via is None:
        return False
    other = model.flow.model_of(write.via.scope)
    return bool(conditions(branches_of(other).path(write.via)))


def _effect(sched) -> str:
    # ``sched_d`` (`StepLR`), or the class alone where the scheduler has no name
    who = f"`{sched.target}` (`{sched.cls}`)" if sched.target else f"`{sched.cls}`"
    if closed_form(sched):
        return (
            f"{who} is closed form: it recomputes every group's lr from its base values, "
            f"so this edit is overwritten at the next `step()`"
        )
    if sched.cls == "ReduceLROnPlateau":
        return (
            f"{who} cuts whatever lr it finds when the metric stalls, so its cuts and "
            f"this edit undo each other"
        )
    if sched.chainable:
        return (
            f"{who} is chainable: it multiplies the current lr, so this edit persists and "
            f"compounds with the schedule"
        )
    return f"{who} also writes these lrs at every `step()`"


def _before_plateau(model, branches, write, steps) -> bool:
    """The write is a warm-up that runs before ReduceLROnPlateau steps, seen from a function
    that runs both (directly, or through helpers and trainer methods): in a loop that ends
    before every step, or under a condition of its own while every step is under a condition
    of its own (``if epoch < warmup: ...`` then ``if epoch >= warmup: plateau.step(loss)``).
    The plateau multiplies whatever lr it finds, so a ramp done before it is kept."""
    if not steps:
        return False
    mine = model.call_chains(write)
    return all(
        any(
            _runs_before(branches, w, s)
            for w in mine
            for s in model.call_chains(step)
            if w[-1].scope is s[-1].scope
        )
        for step in steps
    )


def _runs_before(branches, write_chain, step_chain) -> bool:
    here, there = write_chain[-1], step_chain[-1]
    outer = [loop for loop in here.loops if loop.scope is here.scope]
    if (
        outer
        and (there.loop is None or not outer[-1].contains(there.loop))
        and outer[-1].end_order < there.order
    ):
        return True
    mine = {id(n) for site in write_chain for n, _ in branches.path_in(site.node, site.scope.node)}
    theirs = {id(n) for site in step_chain for n, _ in branches.path_in(site.node, site.scope.node)}
    return bool(mine - theirs) and bool(theirs - mine)


def _reset_by_epoch_step(model, names, branches, sched, write, key, steps) -> bool:
    """A later ``sched.step(epoch)`` of the same function, which runs whenever the write does
    and before any optimizer step, recomputes the lrs in closed form from ``base_lrs``: the
    written value never reaches an optimizer step (a resume that re-syncs the schedule)."""
    # a closed-form class without ``_get_closed_form_lr`` (OneCycleLR) recomputes in its
    # ``get_lr()`` all the same
    if sched.cls not in catalogue.EPOCH_CLOSED_FORM and not closed_form(sched):
        return False
    stepping = [c for opt in write.optimizers for c in model.optimizer_steps(opt)]
    if key is not None:
        stepping += names.optimizer_steps(key, None, through_helpers=True)
    path = branches.path(write)
    for step in steps:
        if step.scope is not write.scope or step.order < write.order:
            continue
        if step.target is not sched and all(t is not sched for t in step.targets):
            continue
        epoch = step.args[0] if step.args else step.kwargs.get("epoch")
        if epoch is None or epoch.kind == "none":
            continue
        step_path = branches.path(step)
        if path[: len(step_path)] != step_path:
            continue  # the step may be skipped where the write runs
        # a loop around the write but not the step runs the write again after its last pass
        start = min(
            [write.order]
            + [loop.order for loop in write.loops if all(loop is not m for m in step.loops)]
        )
        if not any(
            start < c.order < step.order
            if c.scope is write.scope
            else model.runs_from(write.scope, c.scope, after=start, before=step.order)
            for c in stepping
        ):
            return True
    return False


def _one_off_drop_on_resume(model, sched, write) -> bool:
    """``g["lr"] = g["lr"] * 0.1`` once, after the same function loaded the optimizer's or
    the scheduler's state (DETR's ``--drop_lr_now``): a chainable schedule goes on from the
    scaled lr, which is what a deliberate drop on resume asks for."""
    if closed_form(sched) or not sched.chainable or len(write.loops) > 1:
        return False
    scaled = (
        write.op in ("*=", "/=") or write.reads_current_lr and write.value.operators <= {"*", "/"}
    )
    if not scaled or write.value.names - {write.group_var}:
        return False
    return any(
        c.method == "load_state_dict"
        and c.scope is write.scope
        and c.order < write.order
        and (c.target is sched or c.target in write.optimizers)
        for c in model.calls
    )


def _built_only_otherwise(model, branches, sched, write) -> bool:
    """The scheduler is built under a test (``if opt.cosine:``) whose negation every way the
    write runs passes through in that same function (``if not opt.cosine:``, the ``else``
    of another ``if opt.cosine:``): a flag picks the schedule or the hand-written decay,
    never both."""
    built = branches.path(sched)
    if not built:
        return False
    chains = model.call_chains(write)
    ends = [c for c in chains if not any(len(o) > len(c) and o[: len(c)] == c for o in chains)]
    return bool(ends) and all(
        any(
            site.scope is sched.scope
            and (
                Branches.exclusive(path := branches.path_in(site.node, site.scope.node), built)
                or complementary(model, path, built)
            )
            for site in chain
        )
        for chain in ends
    )


def _warmup_then_decay(model, branches, sched, write, steps, local) -> bool:
    """A ramp over the first passes of the loop that steps a scheduler whose step only
    multiplies the lr by a factor of its counter (StepLR, ExponentialLR, ...): each pass's
    write replaces what the last step made of the previous one, and once the ramp ends the
    decay goes on from the lr it reached. That is a warm-up, then the schedule, the run
    ``SequentialLR`` would give, when the ramp's last pass writes the lr the optimizer was
    built with (one stopping short, ``base_lr * epoch / warmup`` under ``epoch < warmup``,
    leaves the whole decay that much lower). The write is computed from the loop's counter,
    not from the current lr, and only the loop it runs in steps the scheduler, once a pass,
    outside the ramp's test."""
    if sched.cls not in catalogue.DECAY_BY_FACTOR or write.op != "=" or write.reads_current_lr:
        return False
    if not local or len(local) != len(steps):
        return False
    outer = next((loop for loop in write.loops if loop.groups_of is None), None)
    if outer is None or not outer.targets & write.value.names:
        return False
    phase = leading_phase(model, branches.path(write), outer.targets)
    opt = sched.optimizer or write.optimizer
    built = opt.group_lrs() if opt is not None else None
    if phase is None or not built or not all(ramp_reaches(write.value, phase, v) for v in built):
        return False
    return all(
        s.loop is outer
        and not s.args
        and not s.kwargs
        and not in_leading_phase(model, branches.path(s), outer.targets)
        for s in local
    )


def _excused(model, names, branches, sched, write, key, steps) -> bool:
    """The write is none of ``sched``'s business, or harmless beside it (its steps
    ``steps``), as far as its class and where each runs tell."""
    local = [s for s in steps if s.scope is write.scope]
    path = branches.path(write)
    if local and all(Branches.exclusive(path, branches.path(s)) for s in local):
        return True
    if (
        local
        and closed_form(sched)
        and all(complementary(model, path, branches.path(s)) for s in local)
    ):
        return True  # warm-up iterations, then schedule iterations: each owns its lr
    if not closed_form(sched) and floor_clamp(model, branches, write):
        return True  # a floor: the chainable scheduler decays from it, never past it
    if sched.cls == "ReduceLROnPlateau" and _before_plateau(model, branches, write, steps):
        return True  # a warm-up done before the plateau steps: it reads the current lr
    if _reads_initial_lr(model, write) and (
        not local
        or _conditional_in_helper(model, write)
        or any(len(conditions(path)) > len(conditions(branches.path(s))) for s in local)
    ):
        return True  # a warm-up phase computed from the scheduler's own base lrs
    if _reset_by_epoch_step(model, names, branches, sched, write, key, steps):
        return True
    if _one_off_drop_on_resume(model, sched, write):
        return True
    # a ramp over the first passes, then the decay goes on from it
    return _warmup_then_decay(model, branches, sched, write, steps, local)


@rule("SL201", "manual-lr-edit-under-scheduler", "error")
def manual_lr_edit_under_scheduler(model):
    """A manual `param_groups[...]["lr"]` write on an optimizer a scheduler is driving.

    ## What it does
    Flags a write to a param group's `lr` of an optimizer that has a torch (or transformers)
    scheduler attached: constructed earlier in the same function, or held by the same class or
    module (an entry of `self.schedulers` too, filled by a subclass in another module and
    stepped by a method of the base class), and stepped; or returned from a LightningModule's `configure_optimizers` (which
    Lightning steps) while a hook of the module, such as an `optimizer_step` warm-up, writes
    the lr of the optimizer Lightning hands it. Writes inside scheduler classes, writes made before the scheduler
    exists, writes in a branch that excludes every `step()` of the scheduler (a warm-up in the
    `if`, the scheduler in the `else`; for a closed-form scheduler also two `if`s of opposite
    tests, `if it < warmup:` for the warm-up and `if it >= warmup:` for the `step()`),
    writes that run only under the negation of the test the scheduler is built under (`if
    opt.cosine:` builds it, `if not opt.cosine:` decays by hand: a flag picks one), and a
    conditional warm-up computed from the groups'
    `initial_lr` (the scheduler's own base, as YOLO-style trainers do; also a list of such
    lrs zipped with the groups, or the warm-up of a training function of another module)
    are not flagged, nor a warm-up that every path runs before
    the scheduler is built (`fit()` warms up, then builds its schedule). Nor
    is a warm-up that runs before a `ReduceLROnPlateau` starts stepping (the plateau scales
    whatever lr it finds), also when the warm-up or the plateau's `step` sit in helpers or
    trainer methods; the advice there never names `SequentialLR`, which rejects a plateau.
    Nor is a write in a function that then puts back a snapshot it took of the optimizer
    (`saved = copy.deepcopy(opt.state_dict())` ... `opt.load_state_dict(saved)`, an lr range
    test), nor one that a later `scheduler.step(epoch)` of the same function overwrites before
    any optimizer step (a resume that re-syncs a StepLR-like or closed-form schedule, such
    as OneCycleLR: the deprecated epoch argument recomputes every lr in closed form from
    `base_lrs`; SL204 still reports it), nor a one-off drop of the current lr
    (`g["lr"] = g["lr"] * 0.1`, outside any loop) after the same function loaded the
    optimizer's or scheduler's state, under a chainable scheduler: a deliberate cut on
    resume (DETR's `--drop_lr_now`) that the schedule carries on.
    Nor is a warm-up ramp over the first passes of the loop that steps a StepLR,
    MultiStepLR, ExponentialLR or MultiplicativeLR once a pass (`if epoch <= warmup:`
    writing `base_lr * epoch / warmup`) and ends at the lr the optimizer was built with:
    those steps only multiply the lr by a factor, so the decay goes on from the ramp's last
    lr, as `SequentialLR` would run it. A ramp that stops short (`base_lr * epoch / warmup`
    under `if epoch < warmup:`) is reported: its last value sticks for the rest of the run.
    Nor is a floor under a chainable scheduler (`if g["lr"] < floor: g["lr"] = floor`, or
    `g["lr"] = max(g["lr"], floor)`): it decays from the lr in the group, so the floor holds;
    a closed-form scheduler recomputes the lr from its base and undoes it, which is reported.
    A scheduler whose class a registry picks by a key read at run time
    (`SCHEDULERS[cfg.scheduler](optimizer)` over `{"plateau": ReduceLROnPlateau, ...}`) is
    reported only when none of the registry's classes would excuse the write.

    ## Why is this bad?
    Two things now own the learning rate. A closed-form scheduler (LambdaLR and every
    transformers `get_*_schedule*`, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts)
    recomputes the lr from its stored bases, so the edit is silently lost at the next
    `scheduler.step()`. A chainable one (StepLR, ExponentialLR, CosineAnnealingLR, ...)
    multiplies whatever is there, so the edit persists and compounds with the schedule. Either
    way the run does not follow the schedule anyone intended, and `get_last_lr()` reports a
    stale value.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: 0.95 ** e)
    for epoch in range(epochs):
        if epoch < 5:
            for g in optimizer.param_groups:
                g["lr"] = base_lr * (epoch + 1) / 5
        train_one_epoch(model, optimizer)
        scheduler.step()
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import LambdaLR, LinearLR, SequentialLR

    optimizer = torch.optim.SGD(model.parameters(), lr=base_lr)
    warmup = LinearLR(optimizer, start_factor=0.2, total_iters=5)
    decay = LambdaLR(optimizer, lambda e: 0.95 ** e)
    scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
    ```
    (put the whole schedule in the scheduler, or drop the scheduler and own the lr yourself).
    """
    names = names_of(model)
    branches = branches_of(model)
    for write in model.lr_writes:
        if write.optimizer_src is None:
            continue
        key = binding_key(write.scope, write.optimizer_src)
        if key is None and not write.optimizers:
            continue
        if _in_scheduler(model, write):
            continue
        if (
            write.value.number == 0
            and write.loop is not None
            and any(c.loop is write.loop for c in names.optimizer_steps(key, write.scope))
        ):
            continue  # a group frozen again before every optimizer step: the 0 is what it uses
        if model.undone_by_restore(write):
            continue  # an lr range test that puts the optimizer's snapshot back
        found = []
        for sched in model.schedulers + model.schedulers_reached():
            if not is_known(sched):
                continue
            if names.optimizer_key(sched) != key and not (
                sched.optimizer is not None and sched.optimizer in write.optimizers
            ):
                continue
            if _built_only_otherwise(model, branches, sched, write):
                continue
            steps = (
                stepped_units(model, sched)
                # one of a list of schedulers, each stepped in turn by one call here
                or (
                    model.steps_reaching(sched)
                    if sched.key is None or model.is_foreign(sched)
                    else []
                )
                if _in_effect(model, sched, write) and not _built_after_it_runs(model, sched, write)
                else []
            )
            if not steps:
                # Lightning steps what configure_optimizers returns; the module's hooks
                # (optimizer_step's warm-up) run between its steps
                hooks = lightning_stepping(model, sched, write.scope)
                if hooks:
                    found.append((sched, [], hooks[0]))
                continue
            # a class a registry picks at run time: reported only when no class it may be
            # excuses the write
            variants = [replace(sched, cls=c, candidates=()) for c in sched.candidates]
            if any(
                _excused(model, names, branches, v, write, key, steps) for v in variants or [sched]
            ):
                continue
            found.append((sched, steps, None))
        if not found:
            continue
        found.sort(key=lambda f: not closed_form(f[0]))
        sched, steps, hook = found[0]
        if hook is not None:
            stepped = f"Lightning steps it: returned on line {model.line(hook.node)}"
        else:
            step = min(steps, key=lambda s: (s.scope is not write.scope, s.order))
            stepped = f"stepped on line {model.line(step.node)}"
        advice = (
            "ramp the lr only before the plateau starts stepping (SequentialLR and "
            "ChainedScheduler reject ReduceLROnPlateau)"
            if sched.cls == "ReduceLROnPlateau"
            else "put the change in the schedule (e.g. a warm-up through "
            "`SequentialLR`/`LinearLR`) or drop the scheduler"
        )
        here, there = placed(model, sched.node)
        shown = name_of(sched)
        built = f"{shown[:1].upper()}{shown[1:]} is built on {there}. " if there else ""
        yield Report(
            write.node,
            f"manual lr write on `{clip(write.optimizer_src, 30)}` while "
            f"{clip(name_of(sched), 30)}{here} drives it",
            help=f"{built}{_effect(sched)} ({stepped}); {advice}",
        )
