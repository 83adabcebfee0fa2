from schedlint.model.usage import (
    branches_of,
    conditions,
    has_star_args,
    name_of,
    names_of,
    runs_for_builder,
)
from schedlint.rules.base import Report, clip, rule


@rule("SL205", "plateau-step-without-metric", "error")
def plateau_step_without_metric(model):
    """`ReduceLROnPlateau.step()` called without the metric it reduces on.

    ## What it does
    Flags `scheduler.step()` with no `metrics` argument when `scheduler` is a
    `ReduceLROnPlateau`: built in the file, by a factory it calls, or by the script that
    hands it to a trainer class (`self.lr_scheduler.step()` in `trainer.py`). When it may
    also be another scheduler (a factory that picks one by name), the call is flagged only
    when nothing tells the two apart around it (no `if` on the policy or `isinstance`, and
    no `step(metric)` on it elsewhere in the function). A base wrapper's `step()` is not
    flagged for a plateau that a subclass builds (`super().__init__(ReduceLROnPlateau(...))`)
    when that subclass, or a class between it and the base, overrides the method without
    calling the base's: its own `step(metric)` runs instead.

    ## Why is this bad?
    `ReduceLROnPlateau.step(metrics)` requires the monitored value: without it the call raises
    `TypeError: ReduceLROnPlateau.step() missing 1 required positional argument: 'metrics'`,
    usually at the end of the first epoch, after that epoch's compute is spent.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min")
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        scheduler.step()
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min")
    for epoch in range(epochs):
        train_one_epoch(model, optimizer)
        val_loss = evaluate(model)
        scheduler.step(val_loss)
    ```
    """
    names = names_of(model)
    branches = branches_of(model)
    for call in model.calls:
        if call.method != "step" or call.args or "metrics" in call.kwargs:
            continue
        if has_star_args(call):
            continue
        scheds = names.schedulers(call)
        if scheds is None:
            continue
        # a plateau a subclass builds, whose own override of this method steps it
        plateaus = [
            s for s in scheds if s.cls == "ReduceLROnPlateau" and runs_for_builder(model, call, s)
        ]
        if not plateaus:
            continue
        if len(plateaus) < len(scheds):
            report = _may_be_plateau(model, call, plateaus, branches)
            if report is not None:
                yield report
            continue
        sched = scheds[-1]
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.step()` without the metric raises TypeError "
            f"on a ReduceLROnPlateau",
            help=f"{name_of(sched)} ({model.where(sched.node)}) needs the "
            f"monitored value (missing 'metrics'); pass it, e.g. "
            f"`{call.receiver}.step(val_loss)`",
        )


def _may_be_plateau(model, call, plateaus, branches):
    """The report for ``step()`` on something that is a ReduceLROnPlateau only for some
    settings (``get_scheduler(optimizer, opt)`` picking one by ``opt.lr_policy``), unless
    the code tells them apart: the call sits under a test other than the receiver's
    presence (``if opt.lr_policy == "plateau": ... else: s.step()``, ``isinstance``), or
    the same function steps it with an argument somewhere."""
    if conditions(branches.path(call), ignore=(call.receiver,)):
        return None
    if any(
        c.method == "step" and c.scope is call.scope and c.receiver == call.receiver and c.args
        for c in model.calls
    ):
        return None
    plateau = plateaus[0]
    factory = plateau.scope.name if plateau.scope.kind == "function" else None
    own = {id(s) for s in call.scope.function_chain()}
    shown = f"`{clip(call.receiver, 30)}.step()`"
    if factory is not None and id(plateau.scope) not in own:
        message = (
            f"{shown} without the metric raises TypeError when `{factory}` returns its "
            f"ReduceLROnPlateau"
        )
        origin = f"`{factory}` can return ReduceLROnPlateau ({model.where(plateau.node)})"
    else:
        message = f"{shown} without the metric raises TypeError when it is the ReduceLROnPlateau"
        origin = f"{name_of(plateau)} may be a ReduceLROnPlateau ({model.where(plateau.node)})"
    return Report(
        call.node,
        message,
        help=f"{origin}, whose step() needs the monitored value; step that one with it, "
        f"e.g. `if isinstance({call.receiver}, ReduceLROnPlateau): "
        f"{call.receiver}.step(val_loss)`",
    )
