from schedlint.model import catalogue
from schedlint.model.frameworks import (
    LR_SCHEDULER_STEP_HOOK,
    deepspeed_handoff,
    derives_from_lightning,
    lightning_stepping,
)
from schedlint.model.usage import (
    branches_of,
    built_per_entry,
    conditions,
    is_known,
    names_of,
)
from schedlint.rules.base import Report, clip, rule


@rule("SL212", "scheduler-stepped-twice", "error")
def scheduler_stepped_twice(model):
    """One scheduler is stepped twice in every iteration of the same loop.

    ## What it does
    Flags a scheduler whose `step()` runs twice, unconditionally, in each iteration of one
    loop: two calls in the loop body, or a call in the body and one at the top level of a
    function the loop calls (`self.train_epoch()` and `self.validate()` in `fit`'s epoch
    loop, each ending with `self.scheduler.step()`), also through a helper imported from
    another module of the tree (`engine.train_one_epoch(...)`). It stays silent when either
    step runs under a condition, when the step takes an argument (`step(metric)`,
    `step(epoch)`), and when the optimizer itself steps more than once per iteration there
    (a schedule may then be meant per optimizer step), and for schedulers built one per
    entry of a container (`self.schedulers["gen"]` and `["disc"]` are two schedulers).
    Also flags a step, by the module's own code, of a scheduler a LightningModule returns
    from `configure_optimizers` under automatic optimization (Lightning steps it at its
    interval already), unless the module overrides `lr_scheduler_step`. Likewise flags an
    unconditional step, in a loop or a function, of a scheduler handed to
    `deepspeed.initialize(..., lr_scheduler=scheduler)` (directly, or through a wrapper of
    another module that forwards it): the DeepSpeed engine steps it in every
    `engine.step()` that updates.

    ## Why is this bad?
    Schedulers count `step()` calls. Stepped twice per epoch, a `StepLR(step_size=30)`
    decays every 15 epochs, a cosine reaches its minimum half-way through training and then
    rises again, and a warm-up is over twice as fast. Nothing fails: the schedule just runs
    at double speed. The second call usually hides in a helper (an evaluation function that
    "also" steps the scheduler, or a `train_one_epoch` that steps it while the main loop
    does too).

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)


    def evaluate(model, loader):
        accuracy = sum(compute_accuracy(model, x, y) for x, y in loader)
        scheduler.step()
        return accuracy


    for epoch in range(epochs):
        for x, y in train_loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
        evaluate(model, val_loader)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)


    def evaluate(model, loader):
        return sum(compute_accuracy(model, x, y) for x, y in loader)


    for epoch in range(epochs):
        for x, y in train_loader:
            loss_fn(model(x), y).backward()
            optimizer.step()
            optimizer.zero_grad()
        scheduler.step()
        evaluate(model, val_loader)
    ```
    """
    yield from _stepped_by_lightning_too(model)
    yield from _stepped_by_deepspeed_too(model)
    names, branches = names_of(model), branches_of(model)
    for sched in model.schedulers + model.schedulers_reached():
        if (
            not is_known(sched)
            or sched.parent is not None
            or sched.cls in catalogue.STEP_TAKES_ARGUMENT
            # one fact for a scheduler per entry: `scheds["gen"]` and `scheds["disc"]` differ
            or built_per_entry(sched)
        ):
            continue
        steps = [
            s
            for s in model.steps_of(sched)
            if not s.args
            and not s.kwargs
            and (names.scheduler(s) is sched or s.via is not None and s.target is sched)
        ]
        per_loop = _once_per_iteration(model, branches, steps, sched.target)
        if not per_loop:
            continue
        optimizer_per_loop = _once_per_iteration(
            model, branches, model.optimizer_steps(sched.optimizer), None
        )
        for loop_id, found in per_loop.items():
            if len(found) < 2 or len(optimizer_per_loop.get(loop_id, ())) > 1:
                continue
            (first, first_step), (second, second_step) = sorted(
                found, key=lambda f: model.line(f[0])
            )[:2]
            what = (
                f"`{clip(second_step.receiver, 30)}.step()` runs"
                if second is second_step.node
                else f"`{clip(second_step.scope.name, 30)}()` steps "
                f"`{clip(second_step.receiver, 30)}`"
            )
            yield Report(
                second,
                f"{what} a second time in each iteration of this loop",
                help=f"It already steps at {_where(model, first, first_step)}, so the "
                f"{sched.cls} schedule ({model.where(sched.node)}) advances twice per "
                f"iteration; keep the one call its schedule is sized for",
            )
            break  # one finding per scheduler


def _stepped_by_lightning_too(model):
    """A scheduler a LightningModule returns from ``configure_optimizers`` under automatic
    optimization, which Lightning steps at its interval, and that the module's own code
    steps as well (``self.scheduler.step(val_loss)`` in ``validation_epoch_end``)."""
    for sched in model.schedulers:
        if not is_known(sched) or sched.parent is not None:
            continue
        for step in model.steps_of(sched):
            if step.via is not None:
                continue
            hooks = lightning_stepping(model, sched, step.scope)
            methods = [s for s in step.scope.function_chain() if s.cls is not None]
            classes = [h.cls for h in hooks] + [m.cls for m in methods]
            if not hooks or not derives_from_lightning(model, hooks[0].cls):
                continue  # a plain trainer whose method is named like Lightning's hook
            if any(LR_SCHEDULER_STEP_HOOK in c.methods for c in classes):
                continue  # Lightning calls the module's own ``lr_scheduler_step`` instead
            entry = next(e for e in hooks[0].schedulers if e.scheduler is sched)
            unit = entry.interval.string if entry.interval is not None else "epoch"
            yield Report(
                step.node,
                f"`{clip(step.receiver, 30)}.step()` steps a scheduler Lightning already steps",
                help=f"`{clip(sched.target or sched.cls, 30)}` ({sched.cls}) is returned from "
                f"`configure_optimizers` (line {model.line(hooks[0].node)}), so Lightning "
                f"steps it once per {unit or 'interval'}; this call advances it a second time. "
                "Drop it, or set `self.automatic_optimization = False` and step it by hand",
            )
            break  # one finding per scheduler


def _stepped_by_deepspeed_too(model):
    """A scheduler handed to ``deepspeed.initialize`` as ``lr_scheduler``, which the engine
    steps after every update, that the code also steps itself, unconditionally."""
    branches = branches_of(model)
    for sched in model.schedulers + model.schedulers_reached():
        if (
            not is_known(sched)
            or sched.parent is not None
            or sched.cls in catalogue.STEP_TAKES_ARGUMENT
            or not model.deepspeed_inits
            and not any(m.deepspeed_inits for m in model.other_models())
        ):
            continue
        handed = deepspeed_handoff(model, sched)
        if handed is None:
            continue
        for step in model.steps_of(sched):
            if (
                step.via is not None
                or conditions(branches.path(step), {step.receiver} - {None})
                or step.loop is None
                and step.scope.kind != "function"
            ):
                continue
            yield Report(
                step.node,
                f"`{clip(step.receiver, 30)}.step()` steps a scheduler DeepSpeed already steps",
                help=f"`{clip(sched.target or sched.cls, 30)}` ({sched.cls}, "
                f"{model.where(sched.node)}) is handed to DeepSpeed as `lr_scheduler` "
                f"({model.where(handed[1])}), and `engine.step()` steps it after every "
                "optimizer update; this call advances it a second time. Drop it, or pass "
                "`lr_scheduler=None` and step it yourself",
            )
            break  # one finding per scheduler


def _where(model, at, step) -> str:
    if at is step.node:
        return f"line {model.line(at)}"
    return f"line {model.line(at)} (in `{clip(step.scope.name, 30)}()`, {model.where(step.node)})"


def _once_per_iteration(model, branches, steps, target) -> dict:
    """id(Loop) -> [(node in that loop's body, step)] for each step that runs exactly once,
    unconditionally, per iteration of the loop: in its body, or at the top level of a
    function called from its body (one level; an imported helper's step is anchored at the
    local call)."""
    ignore = {target} if target else set()
    out = {}

    def plain(fact):
        return not conditions(branches.path(fact), ignore | {fact.receiver} - {None})

    for step in steps:
        own = step.via or step
        if own is not step:  # an imported helper's step, anchored at the local call
            if own.loop is None and plain(own) and step.loop is not None and plain(step):
                out.setdefault(id(step.loop), []).append((step.node, own))
            continue
        if not plain(step):
            continue
        if step.loop is not None:
            out.setdefault(id(step.loop), []).append((step.node, step))
            continue
        if step.scope.kind != "function":
            continue
        head = (step.receiver or "").partition(".")[0]
        if (
            head not in ("self", "cls")
            and head in step.scope.params
            and model.arguments(step.scope, head) is None
        ):
            continue  # some calls leave the stepped parameter at its default
        for caller, call, loop in model.call_sites(step.scope):
            if loop is not None and not conditions(branches.path_in(call, caller.node), ignore):
                out.setdefault(id(loop), []).append((call, step))
    return out
