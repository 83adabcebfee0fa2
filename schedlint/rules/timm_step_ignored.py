from schedlint.model import catalogue
from schedlint.model.facts import Scheduler
from schedlint.model.uses import HARMLESS_METHODS, escapes, escapes_only_by_return, held_escapes
from schedlint.rules.base import Report, clip, rule

# What a variable holding the scheduler may do without carrying it out of sight.
_SEEN = HARMLESS_METHODS | {"state_dict", "load_state_dict"}


@rule("SL216", "timm-step-method-ignored", "error")
def timm_step_method_ignored(model):
    """A timm scheduler is only ever advanced by the one of its two step methods it ignores.

    ## What it does
    Flags the calls that advance a timm scheduler (`timm.scheduler.CosineLRScheduler` and
    its siblings, `create_scheduler_v2`) when the code only ever calls `step(epoch)` on one
    built to count updates (`t_in_epochs=False`, `step_on_epochs=False`), or only
    `step_update(num_updates)` on one that counts epochs (the default; a
    `PlateauLRScheduler` always does). The scheduler may be built by a factory, held by a
    trainer class and stepped in a helper of another module. Nothing is flagged when the
    other method is called anywhere, when how it counts is not a literal, or when the
    scheduler is handed on to code that is not read (a factory of the file that returns it
    is followed to the callers that step it).

    ## Why is this bad?
    timm schedulers have two step methods and each one acts only in its own mode: `step`
    returns without touching the optimizer when `t_in_epochs` is False, and `step_update`
    when it is True. A per-update schedule (Swin's and DeiT's recipes) stepped from an
    epoch loop with `step(epoch)` never moves: the lr stays at `warmup_lr_init` (or at the
    optimizer's lr without a warm-up) for the whole run, with no error or warning.

    ## Example
    ```python
    from timm.scheduler import CosineLRScheduler

    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=epochs * len(loader),
        warmup_t=500,
        warmup_lr_init=1e-6,
        t_in_epochs=False,
    )
    for epoch in range(epochs):
        train_one_epoch(model, loader, optimizer)
        scheduler.step(epoch + 1)
    ```

    ## Use instead
    ```python
    from timm.scheduler import CosineLRScheduler

    scheduler = CosineLRScheduler(
        optimizer,
        t_initial=epochs * len(loader),
        warmup_t=500,
        warmup_lr_init=1e-6,
        t_in_epochs=False,
    )
    updates = 0
    for epoch in range(epochs):
        for images, labels in loader:
            train_step(model, images, labels, optimizer)
            updates += 1
            scheduler.step_update(updates)
    ```
    """
    for ignored, used in (("step", "step_update"), ("step_update", "step")):
        for call in model.calls_of(ignored):
            scheds = [t for t in call.targets if isinstance(t, Scheduler)]
            if not scheds or len(scheds) < len(call.targets):
                continue
            per_update = {_counts_updates(s) for s in scheds}
            if per_update != {ignored == "step"}:
                continue  # it acts on one of them, or how one counts is not known
            if any(_advanced_by(model, s, used) or _out_of_sight(model, s) for s in scheds):
                continue
            yield _report(model, call, scheds[0], ignored)


def _report(model, call, sched, ignored) -> Report:
    given = "..." if call.args or call.kwargs else ""
    shown = f"`{clip(call.receiver, 30)}.{ignored}({given})`"
    built = f"{sched.cls} ({model.where(sched.node)})"
    flag = catalogue.TIMM_COUNTS_EPOCHS_ARG.get(sched.cls, "t_in_epochs")
    if ignored == "step":
        return Report(
            call.node,
            f"{shown} does nothing: this timm scheduler counts updates",
            help=f"{built} is given {flag}=False, so only `step_update(num_updates)` moves "
            f"its lr, which stays where it starts (warmup_lr_init when it warms up); call "
            f"`{call.receiver}.step_update(updates)` after each optimizer step",
        )
    how = "a plateau schedule" if sched.cls in catalogue.TIMM_EPOCHS_ONLY else f"{flag}=True"
    return Report(
        call.node,
        f"{shown} does nothing: this timm scheduler counts epochs",
        help=f"{built} counts epochs ({how}, the default), so only `step(epoch)` moves its "
        f"lr, which stays where it starts; build it with {flag}=False (its lengths then "
        f"count updates), or call `{call.receiver}.step(epoch + 1)` after each epoch",
    )


def _counts_updates(sched) -> bool | None:
    """True when the timm scheduler ``sched`` advances with ``step_update``, False when with
    ``step``, None when that is not known (or it is no timm scheduler)."""
    if sched.origin != "timm":
        return None
    if sched.cls in catalogue.TIMM_EPOCHS_ONLY:
        return False
    flag = catalogue.TIMM_COUNTS_EPOCHS_ARG.get(sched.cls)
    if flag is None:
        return None
    value = sched.args.get(flag)
    if value is None:
        return False
    return value.src == "False" if value.kind == "bool" else None


def _advanced_by(model, sched, method) -> bool:
    """Some code this file sees calls ``method`` on ``sched``: here, in a helper it calls,
    in another module acting on it, or in a subclass elsewhere."""
    if any(any(t is sched for t in c.targets) for c in model.calls_of(method)):
        return True
    if any(c.method == method and any(t is sched for t in ts) for c, ts in model.lent_calls()):
        return True
    return any(
        c.method == method and any(t is sched for t in c.targets)
        for other in model.other_models()
        for c in other.calls
    )


def _out_of_sight(model, sched) -> bool:
    """Code that is not read may call the other method: the scheduler is handed on, stored
    or returned beyond what the model follows."""
    if sched.target is None:
        return held_escapes(model, sched, _SEEN)
    if escapes_only_by_return(model, sched, _SEEN):
        # a factory here returns it: the callers' variables are where it is stepped
        return held_escapes(model, sched, _SEEN)
    return escapes(model, sched, _SEEN)
