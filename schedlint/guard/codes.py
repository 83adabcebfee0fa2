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
    `schedlint.guard(..., expect=...)` (within `rtol`/`atol`). Also reports a LambdaLR or
    MultiplicativeLR whose lambda returns an LR instead of a factor, so the groups train at about
    LR x LR: the first factor it applied is the group's own LR (or, for one lambda shared by
    several groups, one group's LR), and it then decays from it without rising (reported at that
    step) or stays at it for the whole run (reported at the end: until then it could be a constant
    warm-up factor equal to the LR). Groups built at `lr=1` (Noam schedules) are never reported.

    ## Why is this bad?
    The model trains with an LR nobody intended: a scheduler whose state or group keys
    (`initial_lr`, `max_lr`, ...) were changed behind its back, or a configuration that does not
    produce the schedule you meant (wrong `T_max`, milestones, warm-up length, per-group bases,
    `LambdaLR(opt, lambda e: args.lr * 0.95 ** e)` on an optimizer built at `args.lr`).

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
    scheduler such as DeepSpeed's, or a second torch scheduler that was not given to the
    guard. A timm scheduler holding the optimizer is found on its first write and accepted as
    if declared (nobody can declare it under `schedlint run`). Declare other legitimate
    writers with `foreign_writers=[obj]`, or turn the check off with
    `allow_external_writes=True`.

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
    the end of `schedlint run`, the end of a test under `--schedlint-guard`). A scheduler
    that another one steps is judged with it: a child of SequentialLR/ChainedScheduler, or
    one a scheduler class of your own holds (a warm-up keeping `self.after_scheduler` and
    stepping it once the warm-up is over). Also a timm scheduler driven only through the
    method that does nothing for it: `step(epoch)` on one built with `t_in_epochs=False`
    (only `step_update(num_updates)` moves it), or `step_update` on one counting epochs.

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


@rule("SLG108", "group-ratio-changed", "error", scope="runtime", kind="guard")
def group_ratio_changed():
    """Groups built with distinct LRs ended up equal, or the schedule changed their ratio.

    ## What it does
    Compares each group's LR, as a multiple of its baseline (the LR it was built with), across
    groups. Reports groups that now share one LR although they were built apart, and ratios that
    the schedule as built changes without a per-group value asking for it (a scalar `max_lr`,
    `eta_min`, `min_lr` or `swa_lr`), with or without a scheduler.

    ## Why is this bad?
    Per-group LRs (a small LR for a pretrained backbone, a large one for a new head) are the
    point of param groups; once they collapse the backbone trains at the head's LR.

    ## Example
    ```python
    opt = SGD([{"params": backbone, "lr": 1e-4}, {"params": head, "lr": 1e-2}])
    sched = OneCycleLR(opt, max_lr=1e-2, total_steps=1000)
    ```

    ## Use instead
    ```python
    sched = OneCycleLR(opt, max_lr=[1e-4, 1e-2], total_steps=1000)
    ```
    """


@rule("SLG109", "lr-vanished", "error", scope="runtime", kind="guard")
def lr_vanished():
    """An LR fell below 1e-6 x its baseline, or was exactly 0 for the whole run.

    ## What it does
    Reports an LR below a millionth of the group's baseline when the schedule as built does not
    go there, and (at the end of the run) a group whose LR was 0 at every optimizer step although
    it was built with a positive LR.

    ## Why is this bad?
    Training silently stops: a closed-form decay applied to the current LR every epoch compounds
    to 1e-30, and a warm-up that starts at 0 and is never stepped keeps the LR at 0.

    ## Example
    ```python
    for g in opt.param_groups:
        g["lr"] = g["lr"] * 0.9 ** epoch
    ```

    ## Use instead
    ```python
    sched = LambdaLR(opt, lambda epoch: 0.9 ** epoch)
    ```
    """


@rule("SLG110", "resumed-without-initial-lr", "error", scope="runtime", kind="guard")
def resumed_without_initial_lr():
    """A scheduler was built with `last_epoch != -1` on groups that have no `initial_lr`.

    ## What it does
    Reported when the constructor fails with torch's KeyError, naming the scheduler and the line;
    torch's error then propagates unchanged.

    ## Why is this bad?
    `last_epoch` is not a way to resume: the optimizer state that holds `initial_lr` was not
    loaded, or a fresh run passes `last_epoch`.

    ## Example
    ```python
    sched = StepLR(opt, step_size=30, last_epoch=start_epoch)
    ```

    ## Use instead
    ```python
    sched = StepLR(opt, step_size=30)
    opt.load_state_dict(ckpt["optimizer"])
    sched.load_state_dict(ckpt["scheduler"])
    ```
    """


@rule("SLG111", "scheduler-step-epoch-argument", "error", scope="runtime", kind="guard")
def scheduler_step_epoch_argument():
    """`scheduler.step(epoch)` (deprecated), or a loss passed to a scheduler that is not ReduceLROnPlateau.

    ## What it does
    Reports the first `step()` call of each scheduler that passes an epoch, with the line.
    CosineAnnealingWarmRestarts, which takes a fractional epoch by design, is exempt. A
    scheduler class of your own with its own `step()` is judged by that method's signature:
    only an argument it takes as `epoch` (and hands on to torch) is one; `step(self,
    metrics=None)` of a warm-up that passes the metric to a ReduceLROnPlateau is not.

    ## Why is this bad?
    torch sets `last_epoch` to the argument and switches to the closed form: the schedule jumps;
    a loss passed by mistake becomes a fractional epoch.

    ## Example
    ```python
    sched.step(val_loss)
    ```

    ## Use instead
    ```python
    sched.step()
    ```
    """


@rule("SLG112", "schedule-length-mismatch", "error", scope="runtime", kind="guard")
def schedule_length_mismatch():
    """A schedule was stepped through a small part of its length, past it, or through it within one epoch.

    ## What it does
    For OneCycleLR, CosineAnnealingLR, PolynomialLR, LinearLR and transformers' schedules
    (`get_linear_schedule_with_warmup` and every factory with a `num_training_steps`), at the end
    of the run: fewer than 10% of the schedule's steps although the optimizer stepped at least
    half its length (sized per batch, stepped per epoch), or under half of them although the
    optimizer stepped twice its length and the length is a whole number of the optimizer steps
    between two scheduler steps (`T_max=len(loader)` stepped per epoch), or at most half of them
    at a steady cadence although the length is exactly the optimizer steps the run took (sized
    per optimizer step, stepped per epoch: Lightning's default interval) or the batches one
    DataLoader drew since the schedule was built, a whole number of them per optimizer step
    (sized in micro-batches, stepped per optimizer step under gradient accumulation); a
    transformers schedule without a floor above 0 stepped at least twice its length (half the
    run or more at LR 0: sized in epochs and stepped per batch, or sized before the loader was
    rebuilt smaller), or one whose warm-up is not shorter than its length stepped past that
    length (the warm-up and the length swapped: the LR rose all run and never decayed); a
    MultiStepLR stepped after every optimizer step whose milestones all passed within the first
    tenth of its steps, cutting the LR at least a hundredfold (sized in epochs, stepped per batch
    over batches that are not a DataLoader). A run cut short (`max_steps`, fewer epochs) takes
    fewer steps than the length and is silent. As soon as it shows: CosineAnnealingLR stepped
    two steps past `T_max` (not a restart schedule: the LR climbs back up; one step past is
    reported at the end only if an optimizer step used it, so a loop whose last `sched.step()`
    goes one past is silent). And when a
    second epoch starts (a DataLoader iterated again after a pass that ran to its end): a StepLR
    or MultiStepLR that cut the LR at least a hundredfold by two or more decays, or a
    CosineAnnealingWarmRestarts that restarted three or more times, within its first epoch (sized
    in epochs, stepped per batch). Also inside SequentialLR and ChainedScheduler.

    ## Why is this bad?
    The run never leaves warm-up, re-warms at its end, trains at LR 0, restarts every few batches,
    or takes every decay in its first epoch and trains at a vanishing LR after it.

    ## Example
    ```python
    sched = MultiStepLR(opt, milestones=[30, 60, 90], gamma=0.1)  # epochs
    for epoch in range(100):
        for batch in loader:
            train_step(model, opt, batch)
            sched.step()
    ```

    ## Use instead
    ```python
    for epoch in range(100):
        for batch in loader:
            train_step(model, opt, batch)
        sched.step()
    ```
    """


@rule("SLG113", "closed-form-schedulers-fight", "error", scope="runtime", kind="guard")
def closed_form_schedulers_fight():
    """Two schedulers of one optimizer overwrite each other's lr.

    ## What it does
    Reports the first time two of LambdaLR, CyclicLR, OneCycleLR or
    CosineAnnealingWarmRestarts on one optimizer are both stepped after one optimizer step, or
    one of them (or SWALR, which holds swa_lr) steps again after another scheduler of the same
    optimizer stepped since its previous step: a warm-up LambdaLR stepped every batch next to a
    cosine stepped every epoch, SWALR and the base schedule both stepped after `swa_start`.
    A hand-over (the warm-up stops stepping, SWALR in the `else` of the base schedule) and two
    chainable schedulers stepped together are silent.

    ## Why is this bad?
    Each recomputes the LR from its own bases and overwrites the other's: only the last one
    stepped counts.

    ## Example
    ```python
    warmup = LambdaLR(opt, lambda s: min(1.0, s / 500))
    cosine = CosineAnnealingWarmRestarts(opt, T_0=1000)
    warmup.step(); cosine.step()
    ```

    ## Use instead
    ```python
    sched = SequentialLR(opt, [LinearLR(opt, 0.01, total_iters=500), CosineAnnealingLR(opt, T_max=9500)], milestones=[500])
    ```
    """


@rule("SLG114", "checkpoint-without-scheduler-state", "error", scope="runtime", kind="guard")
def checkpoint_without_scheduler_state():
    """A checkpoint holds an optimizer's state but not the state of the scheduler driving it.

    ## What it does
    While the guard is installed, looks at what each `torch.save` call holds (never changing it):
    an optimizer's `state_dict()` (alone, in a dict, or in a list such as Lightning's
    `optimizer_states`) with no scheduler state in the same object, and none saved to the same
    directory before the next optimizer step (Hugging Face's `optimizer.pt` + `scheduler.pt`), is
    reported once per optimizer, with the line of the `torch.save` call. On the resume side: after
    `optimizer.load_state_dict()` restores groups that carry `initial_lr` (the run that saved them
    had a scheduler) and that had stepped, a scheduler still at step 0 at the next optimizer step,
    when no scheduler's `load_state_dict()` was called since, is reported with the line that
    built it (not ReduceLROnPlateau or SWALR). And after a scheduler's `load_state_dict()`, an
    optimizer step that runs a group at another lr than the loaded schedule's (its `_last_lr`)
    is reported once, naming the group, both lrs and the lines of the construction and the load:
    torch restores a scheduler's position but not the groups, so a LambdaLR, SequentialLR or
    ConstantLR built after `optimizer.load_state_dict()` trains the first resumed epoch at the
    lr its constructor wrote. When the loaded scheduler steps first, its step is compared with
    the same step taken from the loaded lrs (on a copy): LambdaLR's closed form mends the groups
    and is silent, a phase that multiplies the lr it finds is reported. Not ReduceLROnPlateau
    (its lr is the optimizer's), not a state without `_last_lr`, nor when another scheduler, a
    declared writer, `allow_external_writes` or `expect=` sets the lr in between.

    ## Why is this bad?
    A run resumed from the checkpoint rebuilds the scheduler from its first step: the warm-up
    runs again and a decayed LR jumps back to its peak, with the optimizer's moments from late
    in training. A schedule whose position was restored while the groups were not trains its
    first resumed epoch at the top of the schedule.

    ## Example
    ```python
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    ```

    ## Use instead
    ```python
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict()}, path)
    ```
    """


@rule("SLG115", "scheduler-steps-replaced-optimizer", "error", scope="runtime", kind="guard")
def scheduler_steps_replaced_optimizer():
    """A scheduler keeps stepping an optimizer that a new one on the same parameters replaced.

    ## What it does
    When a new optimizer is built on parameters that a guarded optimizer with a scheduler
    already trains, and the new one steps while the scheduler keeps stepping the old one (which
    no longer steps), reports it once per scheduler, with the line that built the new optimizer.
    Needs the auto-guarding entry points (`schedlint run`, the pytest plugin, `install()`),
    which see every optimizer being built.

    ## Why is this bad?
    The schedule moves the LR of an optimizer that no longer trains; the new optimizer keeps
    its initial LR for the rest of the run.

    ## Example
    ```python
    sched = StepLR(opt, step_size=10)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # "reset the optimizer"
    for batch in loader:
        train_step(model, opt, batch)
        sched.step()
    ```

    ## Use instead
    ```python
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = StepLR(opt, step_size=10)
    ```
    """


@rule("SLG116", "get-lr-outside-step", "warning", scope="runtime", kind="guard")
def get_lr_outside_step():
    """`scheduler.get_lr()` was read outside `step()`, to log or print the LR.

    ## What it does
    Reports the first `get_lr()` call of each scheduler made by user code outside `step()` (the
    condition on which torch warns), with the line, what it returned and what `get_last_lr()`
    said at that moment; and once more at the first call whose value differs from
    `get_last_lr()`. Calls made by torch inside `step()`, by SequentialLR and ChainedScheduler,
    and `get_last_lr()` are never reported. Never raised: the value is only read.

    ## Why is this bad?
    `get_lr()` computes the next value inside `step()`. Outside it, a chainable scheduler
    (StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, ...) applies its next change to the
    current LR again: at a StepLR decay boundary it returns LR x gamma, so the logged LR is gamma
    times too small. For LambdaLR and transformers' schedules it returns the current value but
    is deprecated. torch only warns, from its own file.

    ## Example
    ```python
    sched.step()
    logger.log("lr", sched.get_lr()[0])
    ```

    ## Use instead
    ```python
    sched.step()
    logger.log("lr", sched.get_last_lr()[0])
    ```
    """


@rule("SLG117", "scheduler-on-wrong-optimizer", "error", scope="runtime", kind="guard")
def scheduler_on_wrong_optimizer():
    """Two identical schedulers drive one optimizer while another optimizer has none.

    ## What it does
    At the end of the run, reports an optimizer stepped by two or more schedulers of one class
    built with the same arguments (plain values equal, the same function), when another guarded
    optimizer stepped exactly as many times has no scheduler at all. Names both optimizers (the
    lines that built them, under the auto-guarding entry points) and the schedulers' lines.
    Different schedulers chained on one optimizer, or one class with other arguments, are
    torch's way to combine schedules and are never reported.

    ## Why is this bad?
    The copy-pasted line of a two-optimizer loop (a GAN's generator and discriminator, an actor
    and a critic): `sched_D = StepLR(opt_G, ...)`. One optimizer's LR decays twice as fast and
    the other's never decays.

    ## Example
    ```python
    sched_G = StepLR(opt_G, step_size=30, gamma=0.1)
    sched_D = StepLR(opt_G, step_size=30, gamma=0.1)
    ```

    ## Use instead
    ```python
    sched_G = StepLR(opt_G, step_size=30, gamma=0.1)
    sched_D = StepLR(opt_D, step_size=30, gamma=0.1)
    ```
    """
