from schedlint.model.usage import (
    branches_of,
    closed_form,
    in_scheduler_class,
    method_edit,
    name_of,
    names_of,
    newer_torch_arm,
)
from schedlint.rules.base import Fix, Report, clip, rule

# get_lr() of these raises NotImplementedError (semantics §4.2).
_RAISES = frozenset({"ReduceLROnPlateau", "ChainedScheduler", "SequentialLR"})


@rule("SL206", "get-lr-outside-scheduler", "warning", fixable="safe")
def get_lr_outside_scheduler(model):
    """`scheduler.get_lr()` called from outside a scheduler: it returns the wrong value.

    ## What it does
    Flags `.get_lr()` on a torch (or transformers) scheduler constructed in the file, when the
    call is not inside a scheduler class (where `get_lr` is the method being implemented), nor
    after the function set that scheduler's `last_epoch` by hand (a resume that recomputes
    the lr of the restored step, which `get_last_lr()` does not know yet), nor in the arm of
    a torch-version test (or `hasattr(s, "get_last_lr")`) that only a torch older than 1.4
    runs, the other arm reading `get_last_lr()`. The scheduler may be built by a method
    handed its class, also through a name bound to it (EDSR's optimizer factory:
    `scheduler_class = lrs.MultiStepLR`, then `optimizer._register_scheduler(scheduler_class,
    **kwargs)`, whose body builds `scheduler_class(self, **kwargs)`).

    ## Why is this bad?
    `get_lr()` is the scheduler's internal "compute the next value" hook, not a getter. Called
    from outside `step()` it emits a UserWarning and, for chainable schedulers, returns the *next*
    learning rate computed from the current one (StepLR returned 0.025 while the lr was 0.05),
    so logs and checkpoints record a value that was never used. Closed-form schedulers
    (`LambdaLR`, the transformers schedules, `OneCycleLR`, `CyclicLR`) return the value in use
    but warn on every call, flooding the logs. `ReduceLROnPlateau`, `ChainedScheduler` and
    `SequentialLR` raise `NotImplementedError` instead.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
        print("lr", scheduler.get_lr()[0])
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
        print("lr", scheduler.get_last_lr()[0])
    ```

    ## Fix
    Safe: `get_lr()` is renamed to `get_last_lr()`, which returns the learning rates the
    scheduler last wrote (one per group), exactly what the caller meant to read.
    """
    names = names_of(model)
    branches = branches_of(model)
    for call in model.calls:
        if call.method != "get_lr" or call.args or call.kwargs:
            continue
        if _old_torch_fallback(model, branches, call):
            continue
        scheds = names.schedulers(call)
        if scheds is None or in_scheduler_class(model, call.scope):
            continue
        if _counter_moved_before(model, call):
            continue  # recomputes the lr of a counter restored by hand
        sched = scheds[-1]
        if all(s.cls in _RAISES for s in scheds):
            what = "raises NotImplementedError"
            why = f"`{sched.cls}.get_lr()` only works inside `step()`"
        elif all(closed_form(s) for s in scheds):
            # LambdaLR and the transformers schedules recompute the value in use from the
            # step counter: right value, but a UserWarning on every call.
            what = "warns on every call"
            why = (
                "outside `step()` it warns each time (the closed-form value it returns is "
                "the one in use)"
            )
        else:
            what = "returns the next lr, not the one in use"
            why = (
                "outside `step()` it warns and returns the *next* learning rate computed from "
                "the current one"
            )
        fix = Fix("safe", "Use `get_last_lr()`", (method_edit(model, call, ".get_last_lr"),))
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.get_lr()` outside the scheduler {what}",
            fix=fix,
            help=f"{name_of(sched)} is a `{sched.cls}` ({model.where(sched.node)}): "
            f"{why}; read `{call.receiver}.get_last_lr()` instead",
        )


def _old_torch_fallback(model, branches, call) -> bool:
    """``get_lr()`` in the arm of a torch-version test that only an old torch runs (one
    without ``get_last_lr``, where ``get_lr()`` was the getter), the other arm reading
    ``get_last_lr()`` of the same scheduler."""
    for node, arm in branches.path(call):
        newer = newer_torch_arm(model, node)
        if newer is None or arm == newer:
            continue
        if any(
            c.method == "get_last_lr"
            and c.receiver == call.receiver
            and c.scope is call.scope
            and (node, newer) in branches.path(c)
            for c in model.calls
        ):
            return True
    return False


def _counter_moved_before(model, call) -> bool:
    """``sched.last_epoch = step`` earlier in the function of ``sched.get_lr()``: a hand-made
    resume that asks for the lr of the new counter, which ``get_last_lr()`` (the lr of the
    old one) cannot give."""
    counter = f"{call.receiver}.last_epoch"
    return any(
        r.target == counter and r.scope is call.scope and r.order < call.order
        for r in model.rebinds
    )
