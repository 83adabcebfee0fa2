"""Documentation of the runtime guard's codes (SLG1xx), listed by ``schedlint rule --all``.

Imported by the static rule registry, so it must never import torch. The checks themselves live
in :mod:`schedlint.guard.core`; the code names in :mod:`schedlint.guard.violations`.
"""

from schedlint.rules.base import rule


@rule("SLG101", "lr-differs-from-schedule", "error", scope="runtime", kind="guard")
def lr_differs_from_schedule():
    """A group's LR differs from the replayed scheduler or from the declared `expect` schedule.

    ## What it does
    At every optimizer step the guard compares each group's LR with the value its schedulers
    produce when replayed on a parameter-free shadow copy, and with the schedule declared through
    `schedlint.guard(..., expect=...)` (within `rtol`/`atol`).

    ## Why is this bad?
    The model trains with an LR nobody intended: a scheduler whose state or group keys
    (`initial_lr`, `max_lr`, ...) were changed behind its back, or a configuration that does not
    produce the schedule you meant (wrong `T_max`, milestones, warm-up length, per-group bases).

    ## Example
    ```python
    guard = schedlint.guard(opt, sched, expect={"head": lambda step: 1e-3 * 0.5 ** (step // 10)})
    sched = StepLR(opt, step_size=100, gamma=0.5)  # decays 10x later than declared
    ```

    ## Use instead
    ```python
    sched = StepLR(opt, step_size=10, gamma=0.5)
    ```
    """


@rule("SLG102", "lr-written-outside-scheduler", "error", scope="runtime", kind="guard")
def lr_written_outside_scheduler():
    """An LR was written between two scheduler steps by something other than the scheduler.

    ## What it does
    Remembers every group's LR after each scheduler step and reports a change made by anything
    else before the next optimizer or scheduler step: a manual `g["lr"] = ...`, a foreign
    scheduler such as timm's or DeepSpeed's, or a second torch scheduler that was not given to
    the guard. Declare legitimate writers with `foreign_writers=[obj]`, or turn the check off
    with `allow_external_writes=True`.

    ## Why is this bad?
    A closed-form scheduler (LambdaLR, every transformers schedule, CyclicLR, OneCycleLR,
    CosineAnnealingWarmRestarts) overwrites the edit at its next step, so it is silently lost;
    a chainable one (StepLR, ExponentialLR, CosineAnnealingLR, ...) multiplies it into every
    later value, so it compounds for the rest of training.

    ## Example
    ```python
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        for g in opt.param_groups:
            g["lr"] = 1e-4  # fights the scheduler
        sched.step()
    ```

    ## Use instead
    ```python
    sched = SequentialLR(opt, [warmup, main], milestones=[5])  # let schedulers own the LR
    ```
    """


@rule("SLG103", "scheduler-step-out-of-order", "error", scope="runtime", kind="guard")
def scheduler_step_out_of_order():
    """`scheduler.step()` ran before any `optimizer.step()`, or twice without one in between.

    ## What it does
    Counts optimizer steps (a step that `GradScaler` skipped on inf/NaN gradients counts) between
    consecutive steps of each scheduler, for the whole run, not only the first step as torch does.
    In raise mode it raises before the extra scheduler step changes the LR.

    ## Why is this bad?
    Stepping first skips the schedule's first value; stepping twice (per batch and per epoch,
    by hand and by a framework, once per process) runs the schedule at a multiple of its
    intended speed, so warm-up ends early and decays come too soon.

    ## Example
    ```python
    for batch in loader:
        sched.step()
        loss(model(batch)).backward()
        opt.step()
    ```

    ## Use instead
    ```python
    for batch in loader:
        loss(model(batch)).backward()
        opt.step()
        sched.step()
    ```
    """


@rule("SLG104", "param-groups-changed", "error", scope="runtime", kind="guard")
def param_groups_changed():
    """A param group was added, removed or replaced after the scheduler was built.

    ## What it does
    Watches the number and identity of the optimizer's param groups and the per-group state of
    its schedulers (`base_lrs`, `lr_lambdas`, `min_lrs`, ...). Reports `add_param_group()` after a
    scheduler exists, groups removed, and scheduler state loaded from a checkpoint with a
    different number of groups.

    ## Why is this bad?
    A new group has no `initial_lr` and is missing from `base_lrs`: depending on the scheduler it
    is silently scheduled, silently mis-scheduled (ConstantLR/LinearLR undo a factor never
    applied) or crashes at the next step with a `zip()` length error.

    ## Example
    ```python
    sched = LambdaLR(opt, warmup)
    opt.add_param_group({"params": head.parameters(), "lr": 1e-3})
    ```

    ## Use instead
    ```python
    opt = AdamW([{"params": body.parameters()}, {"params": head.parameters(), "lr": 1e-3}])
    sched = LambdaLR(opt, warmup)  # build the scheduler once every group exists
    ```
    """


@rule("SLG105", "non-finite-or-negative-lr", "error", scope="runtime", kind="guard")
def non_finite_or_negative_lr():
    """An LR that is NaN, infinite or negative is about to be used by `optimizer.step()`.

    ## What it does
    Checks every group's LR in an optimizer step pre-hook, before the update is applied.

    ## Why is this bad?
    A negative LR makes the optimizer climb the loss; NaN or inf destroys the weights in one step.
    The classic source is OneCycleLR stepped past `total_steps` (its last value extrapolates:
    negative with `anneal_strategy="linear"`), or a lambda dividing by zero.

    ## Example
    ```python
    sched = OneCycleLR(opt, max_lr=0.1, total_steps=len(loader), anneal_strategy="linear")
    for epoch in range(2):  # total_steps covers one epoch only
        for batch in loader:
            ...
    ```

    ## Use instead
    ```python
    sched = OneCycleLR(opt, max_lr=0.1, epochs=2, steps_per_epoch=len(loader))
    ```
    """


@rule("SLG106", "lr-differs-across-ranks", "error", scope="runtime", kind="guard")
def lr_differs_across_ranks():
    """Group LRs differ between the ranks of a `torch.distributed` process group.

    ## What it does
    Every `check_every` optimizer steps, gathers every rank's group LRs with one small
    collective (with a timeout) and reports groups whose LR is not the same everywhere.

    ## Why is this bad?
    Data-parallel replicas then apply different updates to what should be identical weights;
    DDP keeps gradients in sync but not LRs, so the models drift apart without any error.

    ## Example
    ```python
    if rank == 0:
        sched.step()  # only one rank advances the schedule
    ```

    ## Use instead
    ```python
    sched.step()  # every rank steps its own scheduler identically
    ```
    """


@rule("SLG107", "scheduler-never-stepped", "error", scope="runtime", kind="guard")
def scheduler_never_stepped():
    """A scheduler was never stepped although its optimizer stepped.

    ## What it does
    Reported by `guard.report()` and when the guard closes (context-manager exit, `close()`,
    the end of `schedlint run`, the end of a test under `--schedlint-guard`).

    ## Why is this bad?
    The whole run trains at the scheduler's initial LR: warm-up never ends, decay never happens.
    Usually `sched.step()` was forgotten, or it sits in a branch that never runs.

    ## Example
    ```python
    sched = CosineAnnealingLR(opt, T_max=epochs)
    for epoch in range(epochs):
        train_one_epoch(model, opt)
    ```

    ## Use instead
    ```python
    for epoch in range(epochs):
        train_one_epoch(model, opt)
        sched.step()
    ```
    """
