from schedlint.model.usage import has_star_args, name_of, names_of
from schedlint.rules.base import Report, clip, rule


@rule("SL205", "plateau-step-without-metric", "error")
def plateau_step_without_metric(model):
    """`ReduceLROnPlateau.step()` called without the metric it reduces on.

    ## What it does
    Flags `scheduler.step()` with no `metrics` argument when `scheduler` is a
    `ReduceLROnPlateau` constructed in the file.

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
    for call in model.calls:
        if call.method != "step" or call.args or "metrics" in call.kwargs:
            continue
        if has_star_args(call):
            continue
        scheds = names.schedulers(call)
        if scheds is None or not all(s.cls == "ReduceLROnPlateau" for s in scheds):
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
