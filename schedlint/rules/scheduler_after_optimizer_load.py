from schedlint.model.facts import Optimizer
from schedlint.model.usage import names_of, rebound_value
from schedlint.model.uses import exclusive, state_loaded_before
from schedlint.rules.base import Report, clip, rule

# Built after the optimizer state is loaded, these rewrite the loaded lr in their constructor
# and load_state_dict does not undo it (semantics §5.4, resume order C, all 16 classes).
_DIVERGES = {
    "ConstantLR": "its constructor multiplies the loaded lr by `factor` again and "
    "`load_state_dict` does not undo it, so the lr stays off by that factor for "
    "the rest of training",
    "LinearLR": "its constructor multiplies the loaded lr by `start_factor` again and "
    "`load_state_dict` does not undo it, so the lr stays off by that factor for "
    "the rest of training",
    "SequentialLR": "its constructor resets every group to `initial_lr` and reruns the first "
    "child's initial step on it, and `load_state_dict` does not undo it, so "
    "the lr diverges for the rest of training",
}
_ONE_STEP = (
    "its constructor rewrites every group's lr with the step-0 value (the start of "
    "the schedule) and `load_state_dict` does not rewrite it, so the first resumed "
    "optimizer step uses that wrong lr"
)


def _effect(sched):
    if sched.cls in _DIVERGES:
        return _DIVERGES[sched.cls]
    if sched.cls == "ChainedScheduler":
        for child in sched.children:
            effect = _effect(child)
            if effect is not None:
                return f"its child {child.cls}: " + effect.replace(
                    "its constructor", "whose constructor", 1
                )
        return None
    if (
        sched.origin in ("torch", "transformers")
        and sched.closed_form
        and sched.cls not in ("get_scheduler", "get_constant_schedule")
    ):
        return _ONE_STEP
    return None


def _after_load(model, loads, sched, opt, site):
    """(optimizer load, resume, how, site) around ``site`` (where the scheduler is built, or the
    factory call that builds it) in the same scope: the optimizer state loaded before it, the
    scheduler resumed after it (its state loaded, or its `last_epoch` written), and not the
    optimizer's state loaded again; else None."""
    opt_load = _loaded_before(model, opt, site) if site.here else None
    if opt_load is None:
        return None
    if any(
        c.target is opt
        and (
            c.order > site.order
            and (c.scope is site.scope or site.scope is sched.scope)
            or c.scope is not site.scope
            and model.runs_from(site.scope, c.scope, after=site.order)
        )
        for c in loads
    ):
        return None  # the optimizer state is loaded (again) after the construction: exact
    root = site.scope.node
    if exclusive(root, opt_load[0], site.node):
        return None
    sched_load = next(
        (
            c
            for c in loads
            if c.order > site.order
            and c.scope is site.scope
            and (c.target is sched or _resumes(model, c.receiver, c.order, sched, site))
        ),
        None,
    )
    if sched_load is not None:
        if exclusive(root, site.node, sched_load.node):
            return None
        return opt_load, sched_load.node, "`load_state_dict`", site
    write = _counter_written(model, sched, opt, site)
    if write is None:
        return None
    return opt_load, write.node, f"`{clip(write.target, 30)} = ...`", site


def _resumes(model, receiver, order, sched, site) -> bool:
    """Does ``receiver`` (read at ``order``, after ``site``, in its scope) hold ``sched``,
    though its last binding may be another construction: one built in another branch of an
    if/elif/else (``if linear: s = A(...) else: s = B(...)``, then ``s.load_state_dict(...)``)?"""
    held = names_of(model).holds(site.scope, receiver) or ()
    if sched not in held:
        return False
    root = site.scope.node
    return not any(
        other is not sched
        and other.scope is site.scope
        and site.order < other.order < order
        and not exclusive(root, site.node, other.node)
        for other in held
    )


def _loaded_before(model, opt, site):
    """(node, text) of what loads ``opt``'s state in ``site``'s scope before ``site``: the
    ``load_state_dict`` call itself, or the call of a helper that makes it; else None."""
    found = state_loaded_before(model, opt, site.scope, site.order)
    if found is None:
        return None
    node, load = found
    if load.node is node:
        return node, f"`{clip(load.receiver, 30)}.load_state_dict(...)`"
    return node, f"`{clip(model.code(node.func), 24)}(...)` loads the optimizer state"


def _counter_written(model, sched, opt, site):
    """``scheduler.last_epoch = start_epoch - 1`` after ``site``, in its scope, that moves the
    counter without rewriting the lr; None when the counter is reset (-1) or a
    ``scheduler.step()`` recomputes a closed-form lr before the optimizer next steps."""
    for r in model.rebinds:
        receiver, _, attr = r.target.rpartition(".")
        if (
            attr != "last_epoch"
            or not receiver
            or r.scope is not site.scope
            or r.order < site.order
            or not _resumes(model, receiver, r.order, sched, site)
            or exclusive(site.scope.node, site.node, r.node)
        ):
            continue
        value = rebound_value(model, r)
        if value is None or value.number == -1:
            continue
        if _effect(sched) is _ONE_STEP and _replayed(model, sched, opt, r):
            continue
        return r
    return None


def _replayed(model, sched, opt, write) -> bool:
    """A step of ``sched`` after ``write``, outside any loop, before anything steps ``opt``:
    the closed form rewrites every group's lr for the written counter."""
    for step in model.steps_of(sched):
        if step.scope is not write.scope or step.loop is not None or step.order < write.order:
            continue
        here = any(
            c.scope is write.scope and write.order < c.order < step.order
            for c in model.optimizer_steps(opt)
        )
        elsewhere = any(
            c.scope is not write.scope
            and model.runs_from(write.scope, c.scope, after=write.order, before=step.order)
            for c in model.optimizer_steps(opt)
        )
        if not here and not elsewhere:
            return True
    return False


@rule("SL306", "scheduler-built-after-optimizer-load", "warning")
def scheduler_built_after_optimizer_load(model):
    """A scheduler built after `optimizer.load_state_dict(...)` and then resumed from a state.

    ## What it does
    Flags the construction of a scheduler on an optimizer whose state was loaded earlier in the
    same function (by `optimizer.load_state_dict(...)` there or by a helper called there,
    `load_checkpoint(path, model, optimizer)`), the scheduler built there directly or through
    a factory called there (`build_scheduler(optimizer, cfg)`, also one of another module of
    the tree, or a method of the model a helper is handed, `model.configure_scheduler(cfg)`
    after `model.optimizer.load_state_dict(...)` in `restore_run(model, path, cfg)`, whose
    callers in other modules build that model), when that scheduler is then
    given `scheduler.load_state_dict(...)` or fast-forwarded by writing its counter
    (`scheduler.last_epoch = start_epoch - 1`, unless a `scheduler.step()` before the next
    optimizer step recomputes a closed-form lr). Only the
    classes whose constructor rewrites the loaded lr are flagged: ConstantLR, LinearLR and
    SequentialLR (and a ChainedScheduler containing one), and the closed-form ones (LambdaLR and
    the transformers schedules, CyclicLR, OneCycleLR, CosineAnnealingWarmRestarts).

    ## Why is this bad?
    A scheduler's constructor runs an initial step that writes every group's lr. Built after the
    optimizer state was loaded, it applies that step to the *loaded* lr, and
    neither `scheduler.load_state_dict` nor writing `last_epoch` rewrites the lr. ConstantLR,
    LinearLR and SequentialLR then diverge for the rest of training; the closed-form classes use
    the step-0 lr (e.g. the start of a warm-up) for the first resumed step.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import LinearLR

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ckpt = torch.load(path)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler = LinearLR(optimizer, start_factor=0.1, total_iters=1000)
    scheduler.load_state_dict(ckpt["scheduler"])
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import LinearLR

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    ckpt = torch.load(path)
    scheduler = LinearLR(optimizer, start_factor=0.1, total_iters=1000)
    optimizer.load_state_dict(ckpt["optimizer"])
    scheduler.load_state_dict(ckpt["scheduler"])
    ```
    """
    loads = [c for c in model.calls if c.method == "load_state_dict"]
    for sched in model.schedulers + model.schedulers_reached():
        opt = sched.optimizer
        if opt is None and sched.optimizer_src and model.is_foreign(sched):
            # built by a factory of another module on the optimizer this file hands it
            held = [
                o for o in model.holds(sched.scope, sched.optimizer_src) if isinstance(o, Optimizer)
            ]
            opt = held[0] if len(held) == 1 else None
        if sched.parent is not None or not isinstance(opt, Optimizer):
            continue
        last_epoch = sched.args.get("last_epoch")
        if last_epoch is not None and last_epoch.number != -1:
            continue
        effect = _effect(sched)
        if effect is None:
            continue
        # the construction, or the call of the factory that builds it, in the loading scope
        found = next(
            (
                f
                for f in (
                    _after_load(model, loads, sched, opt, chain[-1])
                    for chain in model.call_chains(sched)
                )
                if f
            ),
            None,
        )
        if found is None:
            continue
        opt_load, resume, how, site = found
        name = f"`{sched.target}`" if sched.target else ""
        what = f"{sched.cls} {clip(name, 30)}".rstrip() + " is built"
        if site.node is not sched.node:  # built by a factory called here
            called = model.value(site.node).call or "?"
            if model.is_foreign(sched):  # as written here, not the helper's qualified name
                called = model.code(getattr(site.node, "func", site.node))
            what = f"`{clip(called, 30)}(...)` builds {sched.cls}"
        yield Report(
            site.node,
            f"{what} after {opt_load[1]} (line {model.line(opt_load[0])})",
            help=f"It is then resumed with {how} (line {model.line(resume)}), but "
            f"{effect.replace('`load_state_dict`', how)}; build the scheduler "
            f"first, then load the optimizer state, then resume the scheduler",
        )
