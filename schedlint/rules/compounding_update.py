from schedlint.model.compounding import compounding, compounding_return, rebased, written_group
from schedlint.rules.base import Report, clip, rule


def _reset_first(model, write) -> bool:
    """An earlier plain write in the same loop body sets the group's lr from scratch."""
    return any(
        w is not write
        and w.loop is write.loop
        and w.order < write.order
        and w.op in ("=", "update")
        and not w.reads_current_lr
        and w.optimizer_src == write.optimizer_src
        and w.scope is write.scope
        for w in model.lr_writes
    )


@rule("SL105", "compounding-lr-update", "error")
def compounding_lr_update(model):
    """The current LR is multiplied, every epoch, by a factor that itself depends on the epoch.

    ## What it does
    Flags updates of a param group's `lr` that scale the *current* LR by a factor computed
    from the epoch/step counter, in code that runs every epoch or step:
    `g["lr"] *= 0.9 ** epoch`, `g["lr"] /= (epoch + 1)`, `g["lr"] = g["lr"] * f(epoch)`, and
    the same through a local helper or lambda that receives the current LR and the epoch, and
    a custom `LRScheduler` whose `get_lr` returns each group's current lr times a factor of
    `self.last_epoch` (`[g["lr"] * (1 - self.last_epoch / self.max_iters) ** 0.9 for g in
    self.optimizer.param_groups]`), or that scales what its parent's `get_lr` returns when
    the parent is a torch scheduler whose `get_lr` hands back the groups' current lrs
    (`[lr * warmup for lr in super().get_lr()]` in a subclass of `MultiStepLR`).
    A constant factor (`g["lr"] *= 0.99`), a factor chosen by a condition
    (`*= gamma if epoch in milestones else 1`) and an incremental ratio
    (`*= f(epoch) / f(epoch - 1)`) are correct and not flagged.

    ## Why is this bad?
    `0.9 ** epoch` is the factor relative to the *initial* LR. Applied to the current LR each
    epoch, the factors multiply: after epoch n the LR is `lr0 * 0.9 ** (0 + 1 + ... + n)`
    instead of `lr0 * 0.9 ** n`, so the LR collapses to nearly zero within a few dozen epochs
    and training stalls without any error.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for g in optimizer.param_groups:
            g["lr"] *= 0.9 ** epoch
        train_one_epoch(model, optimizer)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(epochs):
        for g in optimizer.param_groups:
            g["lr"] = g.setdefault("initial_lr", g["lr"]) * 0.9 ** epoch
        train_one_epoch(model, optimizer)
    ```
    (or a constant factor, `g["lr"] *= 0.9`, or `torch.optim.lr_scheduler.ExponentialLR`.)
    """
    for write in model.lr_writes:
        if write.via is not None:
            continue  # checked where it is written, in the imported module
        if write.scope.kind != "function" and not any(
            loop.groups_of is None for loop in write.loops
        ):
            continue  # module level, outside any loop: runs once
        how = compounding(model, write)
        if how is None or _reset_first(model, write):
            continue
        group = written_group(write)
        opt = f" of `{write.optimizer_src}`" if write.optimizer_src else ""
        factor = write.value.src
        stmt = model.code(write.node)
        base = f'{group}.setdefault("initial_lr", {group}["lr"])'
        if write.op in ("*=", "/="):
            fix = f'{group}["lr"] = {base} {write.op[0]} ({factor})'
        else:
            fix = rebased(model, write, group, base) or f'{group}["lr"] = {base} * factor'
        yield Report(
            write.node,
            f"`{clip(stmt, 40)}` compounds: it scales the current lr by a factor "
            f"that depends on the counter",
            help=f"It scales the current lr{opt} by a factor of the epoch/step "
            f"counter{how}, every epoch/step: after epoch n the lr is lr0 * f(0) "
            f"* f(1) * ... * f(n), not lr0 * f(n), and collapses toward 0; "
            f"compute it from the base lr instead, e.g. `{fix}`, or multiply by a "
            f"constant factor each epoch",
        )
    yield from _compounding_get_lr(model)


def _compounding_get_lr(model):
    """A custom LRScheduler whose ``get_lr`` scales the groups' current lrs by a closed-form
    factor of ``self.last_epoch``."""
    for cls in model.classes:
        method = cls.methods.get("get_lr") if cls.is_scheduler_subclass else None
        if method is None:
            continue
        for ret in method.returns:
            element = compounding_return(model, method, ret.node, cls)
            if element is None:
                continue
            yield Report(
                ret.node,
                f"`{clip(cls.name, 30)}.get_lr` compounds: it scales each group's current "
                f"lr by a factor of the step counter",
                help=f"torch stores what get_lr returns as the group's lr, so "
                f"`{clip(model.code(element), 50)}` multiplies the factor of every "
                f"step onto the last: the lr is lr0 * f(1) * ... * f(n), not lr0 * f(n), "
                f"and collapses toward 0; scale `self.base_lrs` instead, e.g. "
                f"`[base_lr * factor for base_lr in self.base_lrs]`",
            )
