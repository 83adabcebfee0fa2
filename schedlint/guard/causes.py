"""The "most likely cause, in plain words" attached to every violation."""

from __future__ import annotations

# Closed-form schedulers' step() recomputes the LR from stored bases (reference §2.2): an
# outside edit is overwritten at their next step. The others multiply the current LR, so an
# edit compounds.
from schedlint.guard.intent import CLOSED_FORM


def names(schedulers) -> str:
    return ", ".join(type(s).__name__ for s in schedulers) or "no scheduler"


def outside_write(schedulers, where: str, base_source=None) -> str:
    kinds = {type(s).__name__ for s in schedulers}
    what = names(schedulers) if schedulers else "a scheduler"
    text = (
        f"group['lr'] was changed {where} by something other than {what} "
        "(a manual edit, a helper such as adjust_learning_rate, a foreign scheduler such as "
        "timm's, or a hook); the expected lr follows the group's baseline "
        f"({_sources(base_source)}) through the schedule as built"
    )
    # A deliberate write (yolov5's per-iteration warm-up toward the lr the scheduler set) cannot
    # be told from a stray one: say how to declare it.
    declare = (
        " If the write is deliberate (a per-iteration warm-up), declare it: "
        "schedlint.guard(optimizer, allow_external_writes=True) or expect=..."
    )
    if kinds and kinds <= CLOSED_FORM:
        return (
            text
            + "; the scheduler is closed form, so the edit is lost at its next step()."
            + declare
        )
    if kinds & CLOSED_FORM:
        return (
            text
            + "; it mixes closed-form and chainable schedulers, so the edit is partly lost, partly compounded."
            + declare
        )
    if kinds:
        return text + (
            "; the scheduler is chainable, so the edit persists and compounds with the "
            "schedule for the rest of training. Let the scheduler own the LR, or declare "
            "the writer with foreign_writers=[...]."
        )
    return text + (
        ". Use a scheduler (LambdaLR with one factor per group) instead of writing "
        "group['lr'], or declare the schedule with expect=... or allow_external_writes=True."
    )


def written_before_built(name: str, base: float, initial: float, where: str) -> str:
    return (
        f"group['lr'] was changed from {base:.6g} to {initial:.6g} before {name} was built at "
        f"{where}, and {name} took {initial:.6g} as its initial_lr: the whole schedule runs from "
        f"the written lr (x{initial / base:.4g} of the lr the group was built with), not only the "
        "first steps. If the schedule should start there, give the group that lr when building the "
        "optimizer; if it was meant as a warm-up, write it after the scheduler is built."
    )


def _sources(base_source) -> str:
    if not base_source:
        return "its lr when guarded"
    kinds = sorted(set(base_source))
    return "baseline: " + ", ".join(kinds)


def ratio_changed(
    i: int, j: int, labels, base, cur, schedulers, by_schedule: bool, late=None
) -> str:
    a, b = labels[i] if i < len(labels) else str(i), labels[j] if j < len(labels) else str(j)
    before = base[i] / base[j] if base[j] else float("nan")
    now = cur[i] / cur[j] if cur[j] else float("nan")
    text = (
        f"groups {b!r} and {a!r} were built with lrs {base[j]:.6g} and {base[i]:.6g} (ratio "
        f"{before:.4g}); now they have {cur[j]:.6g} and {cur[i]:.6g} (ratio {now:.4g})"
    )
    if late is not None:
        group, at, name, stepped = late
        added = labels[group] if group < len(labels) else str(group)
        return text + (
            f": group {added!r} was added at optimizer step {at}, after {name} had stepped "
            f"{stepped} times (SLG104), so it entered the schedule at its full lr while the "
            "others had already decayed, and the scheduler's per-group state (base_lrs, "
            "initial_lr) does not cover it. Build the scheduler after every add_param_group(), "
            "or rebuild it from the current step when a group is added."
        )
    if by_schedule:
        kinds = {type(s).__name__ for s in schedulers}
        scalar = [
            k
            for k in (
                "OneCycleLR",
                "CyclicLR",
                "CosineAnnealingLR",
                "CosineAnnealingWarmRestarts",
                "ReduceLROnPlateau",
                "SWALR",
            )
            if k in kinds
        ]
        if scalar:
            return text + (
                f": {scalar[0]} was given one scalar (max_lr/base_lr, eta_min, min_lr or "
                "swa_lr) for every group, which replaces or squeezes their distinct lrs. "
                "Pass one value per group (a list), scaled like the groups' lrs."
            )
        return (
            text
            + ": the schedule as built changes their ratio although no per-group value asks for it."
        )
    if cur[i] == cur[j]:
        return text + (
            ": the same value was written into every group (a helper that sets one lr "
            "for all groups). Scale each group from its own lr, or use a scheduler."
        )
    return (
        text + ": something wrote lrs that break the groups' ratio. Let the scheduler own the lrs."
    )


def vanished(value: float, base: float) -> str:
    return (
        f"the lr fell to {value:.3g}, below 1e-6 x its baseline {base:.6g}, and the schedule as "
        "built does not go there: a decay compounding on the current lr (a closed-form formula "
        "applied to group['lr'] every epoch). Compute the lr from the initial lr, or use LambdaLR."
    )


def zero_whole_run(steps: int, base: float, schedulers) -> str:
    what = names(schedulers)
    return (
        f"the lr was exactly 0 at every one of the {steps} optimizer steps although the group was "
        f"built with {base:.6g}: nothing was trained ({what}; e.g. a warm-up lambda that starts at "
        "0 and is never stepped). Step the scheduler, or start the warm-up above 0."
    )


def resumed_without_initial_lr(name: str, last_epoch, where: str, missing) -> str:
    groups = ", ".join(str(i) for i in missing) or "?"
    return (
        f"{name}(..., last_epoch={last_epoch}) at {where} resumes a schedule, but param group(s) "
        f"{groups} have no 'initial_lr' (the optimizer's state was not loaded, or last_epoch is "
        "used for a fresh run); torch raises KeyError. Build the scheduler with last_epoch=-1 "
        "and restore it with scheduler.load_state_dict() after optimizer.load_state_dict()."
    )


def epoch_argument(name: str, epoch, where: str) -> str:
    kind = type(epoch).__name__
    hint = (
        (
            " A float or tensor there is usually a loss passed to a scheduler that is not "
            "ReduceLROnPlateau: it is taken as the epoch."
        )
        if kind not in ("int",)
        else ""
    )
    return (
        f"{name}.step({epoch!r}) at {where} passes the deprecated epoch argument: torch sets "
        "last_epoch to it and switches to the closed form where one exists, so the schedule "
        f"jumps instead of advancing one step.{hint} Call {name}.step() without arguments."
    )


def get_lr_outside_step(name: str, where: str, got, now, chainable: bool) -> str:
    def fmt(values):
        return ", ".join(f"{x:.6g}" for x in values)

    head = f"{name}.get_lr() at {where} was called outside step()"
    if got is not None and now is not None and got != now:
        verdict = (
            f": it returned {fmt(got)} while the lr is {fmt(now)} (get_last_lr()), a wrong value: "
            "outside step() it applies the schedule's next change to the current lr again "
            "(torch only warns)"
        )
    elif chainable:
        verdict = (
            ": it returned the current lr this time, but outside step() it applies the "
            "schedule's next change to the current lr, so at the steps where the lr changes it "
            "returns a wrong value"
        )
    else:
        verdict = (
            ": it returned the current lr, so the value is right, but reading the lr through "
            "get_lr() is deprecated (torch warns)"
        )
    return f"{head}{verdict}. Read the lr with {name}.get_last_lr()."


def two_closed_form(first: str, second: str, where: str) -> str:
    return (
        f"{first} and {second} both step this optimizer between the same optimizer steps "
        f"({second}.step() at {where}); both are closed form, so each one overwrites the other's "
        "lr: only the last one stepped counts. Combine them with SequentialLR, or keep one."
    )


def overwrites_other(name: str, others: list, where: str) -> str:
    return (
        f"{name}.step() at {where} sets the lr from its own schedule after {', '.join(others)} "
        f"stepped this optimizer since {name}'s previous step, so each discards the other's "
        "change: the two schedules fight over one lr. Combine them with SequentialLR, or stop "
        "stepping one when the other takes over."
    )


def checkpoint_without_scheduler(optimizer: str, schedulers: list, where: str) -> str:
    # SequentialLR's constructor resets the groups to initial_lr and restarts its first
    # child whatever last_epoch it is given: only its state dict resumes it
    unless = (
        ", and a SequentialLR's last_epoch does not resume it"
        if "SequentialLR" in schedulers
        else ", unless the resume code rebuilds the scheduler with last_epoch"
    )
    return (
        f"torch.save at {where} wrote the state of {optimizer} but not the state of "
        f"{', '.join(schedulers) or 'its scheduler'}, which drives it: a run resumed from this checkpoint restarts the "
        f"schedule from its first step (warm-up again, a decayed lr back at its peak){unless}. "
        "Save scheduler.state_dict() with the "
        "optimizer's (same object, or the same directory in the same step) and load it with "
        "scheduler.load_state_dict()."
    )


def optimizer_replaced(scheduler: str, old: str, new: str, where: str, new_steps: int) -> str:
    return (
        f"{scheduler} still steps the {old} it was built on, but a new {new} built at {where} "
        f"on the same parameters is the one training ({new_steps} step(s) so far): the schedule "
        f"moves an optimizer that no longer trains and the new {new} keeps its lr. Build the "
        "scheduler on the new optimizer (or keep the old optimizer)."
    )


def budget(
    name: str, problem: str, length: int, steps: int, optimizer_steps: int, warmup: int = 0
) -> str:
    share = f"{100.0 * steps / length:.1f}% of its length {length}"
    if problem == "past":
        return (
            f"{name} was stepped {steps} times, past its length {length}: it is not a restart "
            "schedule, so the lr climbs back toward the base lr (a length sized in epochs but "
            "stepped per batch, or counted without gradient accumulation or from another loader). "
            "Size its length for the whole run in the unit it is stepped in, or use "
            "CosineAnnealingWarmRestarts for restarts."
        )
    if problem == "warmup":
        ran = (
            f"the lr rose through all {steps} of its steps and never decayed"
            if steps <= warmup
            else f"the lr rose through its {warmup} warm-up steps and never decayed as scheduled; "
            f"its other {steps - warmup} steps ran past the schedule's end"
        )
        return (
            f"{name} was stepped {steps} times, and its warm-up of {warmup} steps is not shorter "
            f"than its length {length}: {ran}. The warm-up and "
            "the length were probably swapped: pass num_warmup_steps < num_training_steps, with "
            "num_training_steps the run's optimizer steps."
        )
    if problem == "zero":
        times = "twice" if steps == 2 * length else "more than twice"
        at_zero = optimizer_steps - optimizer_steps * length // steps if steps else 0
        trained = (
            f"{at_zero} of the run's {optimizer_steps} optimizer steps trained at lr 0"
            if optimizer_steps
            else "half the run or more trained at lr 0"
        )
        return (
            f"{name} was stepped {steps} times, {times} its length {length}: its lr is 0 past "
            f"the end, so {trained}. Size its length in the unit it is stepped in (per batch: "
            "epochs * len(loader), counted after the loader is built) for the whole run."
        )
    if problem == "steps":
        return (
            f"{name} was stepped {steps} times, {share}, which is the {length} optimizer steps "
            "the run took: the schedule was sized per optimizer step but stepped once every "
            f"{optimizer_steps // steps if steps else length} of them (per epoch, as Lightning's "
            "default interval 'epoch' does), so the run ended early in its schedule. Step it after "
            "every optimizer.step() (interval 'step'), or size it in epochs."
        )
    if problem == "batches":
        return (
            f"{name} was stepped {steps} times, {share}, which is the {length} batches drawn "
            f"from one DataLoader while the optimizer stepped {optimizer_steps} times: the "
            "schedule was sized in batches but stepped per optimizer step (gradient accumulation) "
            "or per epoch, so the run ended early in its schedule. Size it in optimizer steps: "
            "len(loader) // accumulation_steps * epochs."
        )
    return (
        f"{name} was stepped {steps} times, {share}, "
        f"while the optimizer stepped {optimizer_steps} times: the schedule was sized in optimizer "
        "steps but stepped much less often (per epoch instead of per batch), so the run ended "
        "early in its schedule. Step it after every optimizer.step(), or size it in epochs."
    )


def epoch_overrun(
    name: str, problem: str, sized: str, count: int, factor: float, steps: int, batches: int
) -> str:
    """SLG112 at the end of a schedule's first epoch: ``steps`` of its steps in ``batches``
    optimizer steps went through its whole epoch-sized horizon."""
    within = f"within its first epoch ({steps} steps in one pass of the DataLoader, {batches} optimizer steps)"
    if problem == "restarts":
        return (
            f"{name} restarted {count} times {within}: {sized} was sized in epochs but it is "
            "stepped per batch, so the lr jumps back to its peak every few batches. Step it once "
            "per epoch, or size T_0 in batches (T_0 = epochs_per_cycle * len(loader))."
        )
    return (
        f"{name} decayed the lr {count} times {within}, to {factor:.3g} of its start: "
        f"{sized} was sized in epochs but it is stepped per batch, so the rest "
        "of the run trains at a vanishing lr. Step it once per epoch, or size it in batches "
        "(step_size / milestones times len(loader))."
    )


def copied_scheduler(name: str, lines: list, mine: str, other: str, steps: int) -> str:
    built = " and ".join(lines)
    return (
        f"{len(lines)} {name} with the same arguments (built at {built}) all step {mine}, so its "
        f"lr follows the schedule {len(lines)} times over, while {other}, stepped as often "
        f"({steps} optimizer steps), has no scheduler: one of them was meant for it (a "
        "copy-pasted line, sched_D = StepLR(opt_G, ...)). Build each scheduler on its own "
        "optimizer."
    )


def early_horizon(name: str, sized: str, last: int, factor: float, steps: int) -> str:
    share = 100.0 * (steps - last) / steps
    return (
        f"{name} passed its last milestone ({sized}) at step {last} of its {steps} steps, cutting "
        f"the lr to {factor:.3g} of its start: the milestones look sized in epochs but it is "
        f"stepped after every optimizer step (per batch), so {share:.0f}% of the run trained at "
        "the final lr. Step it once per epoch, or size the milestones in batches (times "
        "len(loader))."
    )


def second_scheduler(sched, declared) -> str:
    return (
        f"a second scheduler, {type(sched).__name__}, that was not given to schedlint.guard "
        f"(which watches {names(declared)}) also writes these LRs; two schedulers on one "
        "optimizer erase or fight each other unless all are chainable. Pass every scheduler "
        "to schedlint.guard (or none, to have them discovered), or combine them with "
        "SequentialLR/ChainedScheduler."
    )


def replay_mismatch(sched) -> str:
    return (
        f"{type(sched).__name__}.step() produced an LR that a replay of the same scheduler "
        "does not: its state (base_lrs, last_epoch, lambdas) or a group key it reads "
        "(initial_lr, max_lr, ...) was changed outside step(), or the LR was written between "
        "optimizer.step() and scheduler.step()."
    )


def declared_mismatch() -> str:
    return (
        "the LR does not follow the schedule declared with expect=...: the scheduler is "
        "configured differently from what you declared (T_max, milestones, warm-up length, "
        "per-group base LRs), or something else changed the LR."
    )


def stepped_before_optimizer(sched) -> str:
    return (
        f"{type(sched).__name__}.step() was called before the first optimizer.step(): the "
        "first value of the schedule is skipped. Call optimizer.step() first."
    )


def double_step(sched, extra: int) -> str:
    return (
        f"{type(sched).__name__}.step() was called {extra + 1} times without an optimizer.step() "
        "in between: the schedule runs faster than training (stepped both per batch and per "
        "epoch, by hand and by a framework, or once per process). Step it exactly once after "
        "each optimizer.step() (or once per epoch)."
    )


def child_stepped_directly(sched, parent) -> str:
    return (
        f"{type(sched).__name__} is stepped by {type(parent).__name__}, and was also stepped "
        "directly: it advances twice per step. Step only the container."
    )


def group_added(index: int, schedulers) -> str:
    return (
        f"param group {index} was added after {names(schedulers)} was built: it has no "
        "initial_lr and is missing from base_lrs, so it is mis-scheduled or crashes the next "
        "scheduler step. Build the scheduler after every add_param_group()."
    )


def groups_removed(before: int, after: int, schedulers) -> str:
    return (
        f"the optimizer went from {before} to {after} param groups after {names(schedulers)} "
        "was built; the scheduler's per-group state no longer lines up with the groups."
    )


def state_shape(sched, attr: str, length: int, groups: int) -> str:
    return (
        f"{type(sched).__name__}.{attr} has {length} entries but the optimizer has {groups} "
        "param groups: scheduler state from a run with a different number of groups was "
        "loaded, or groups changed after the scheduler was built."
    )


def bad_value(value: float, schedulers) -> str:
    for s in schedulers:
        total = getattr(s, "total_steps", None)
        if type(s).__name__ == "OneCycleLR" and total is not None and s.last_epoch >= total:
            return (
                f"OneCycleLR was stepped {s.last_epoch} times with total_steps={total}: past its "
                "end the schedule extrapolates (negative with anneal_strategy='linear'). Size "
                "total_steps for every optimizer step (epochs x steps_per_epoch, accumulation)."
            )
    if value != value:
        return "the LR is NaN (a lambda dividing by zero, a NaN metric or a NaN written into the group)."
    if value in (float("inf"), float("-inf")):
        return "the LR is infinite (an overflowing schedule, or a division by a zero period)."
    return (
        "a negative LR makes the optimizer climb the loss (a schedule extrapolated past its end)."
    )


def never_stepped(name: str, optimizer_steps: int) -> str:
    times = "once" if optimizer_steps == 1 else f"{optimizer_steps} times"
    return (
        f"{name} was never stepped although the optimizer stepped {times}: training ran at "
        "its initial LR. Call scheduler.step() after optimizer.step() (or once per epoch)."
    )


def library_schedule_idle(name: str, needed: str, called: list, optimizer_steps: int) -> str:
    unit = "optimizer updates" if needed == "step_update" else "epochs"
    return (
        f"{name} counts {unit} (t_in_epochs={needed == 'step'}), so only {needed}() moves its "
        f"lr, but only {' and '.join(m + '()' for m in called)} ran: all {optimizer_steps} "
        f"optimizer steps used its first lr (the warm-up start). Call "
        + (
            "step_update(num_updates) after each optimizer step"
            if needed == "step_update"
            else "step(epoch + 1) at the end of each epoch"
        )
        + ", or build it with the other t_in_epochs."
    )


def ranks_differ(rank: int) -> str:
    return (
        f"rank {rank} uses a different LR from rank 0 for this group: a scheduler stepped on "
        "some ranks only, a rank-dependent LR, or a checkpoint loaded on one rank only; the "
        "replicas apply different updates and drift apart."
    )


def lambda_returns_lr(name: str, where, group: int, first: float, lr: float, whose: str) -> str:
    """``first``: what the lambda returned at construction (LambdaLR) or at its first step
    (MultiplicativeLR); ``whose``: "own" (each group's own lr), "group" (a lambda shared by
    several groups returned group ``group``'s lr), "optimizer" (the lr the optimizer was given)."""
    built = f" (built at {where})" if where else ""
    whose = {
        "group": f"group {group}'s lr",
        "optimizer": "the lr the optimizer was given",
    }.get(whose, "the group's own lr")
    when = "when it was built" if name == "LambdaLR" else "at its first step"
    return (
        f"{name}'s lambda{built} returns an lr, not a factor: {when} it returned {first:.6g}, "
        f"{whose}, and {name} multiplies the lr by what it returns, so training runs at "
        f"{lr:.6g}, about the lr squared. Return a factor (lambda e: 0.95 ** e), or build the "
        "optimizer with lr=1.0 if the lambda is meant to return the lr."
    )


def schedule_restarted(name: str, built, loaded: str, steps) -> str:
    at = f" built at {built}" if built else ""
    taken = f" after {steps:.0f} steps" if steps else ""
    return (
        f"{name}{at} starts its schedule from step 0, but the optimizer state loaded at {loaded} "
        f"was saved{taken} by a run that had a scheduler (its groups carry initial_lr), and "
        f"{name}'s state was never loaded: the schedule restarts from the top while training "
        f"resumes (warm-up again, the decay undone). Call {name}.load_state_dict() with the "
        "saved scheduler state after building it, before the first optimizer step."
    )


def loaded_schedule_not_in_groups(
    name: str,
    built,
    loaded: str,
    group: str,
    expected: float,
    actual: float,
    others: int,
    stepped=None,
) -> str:
    at = f" built at {built}" if built else ""
    more = f" (and {others - 1} more group(s))" if others > 1 else ""
    if stepped:
        what = (
            f"which gives lr {expected:.6g} for group {group} at {stepped}, but that step went on "
            f"from the groups' other lrs to {actual:.6g}{more}"
        )
    else:
        what = (
            f"which puts its schedule at lr {expected:.6g} for group {group}, but the next "
            f"optimizer step runs at {actual:.6g}{more}"
        )
    return (
        f"{name}{at} had its state loaded at {loaded}, {what}: "
        "load_state_dict() restores a scheduler's position, not the groups' lrs, and a scheduler "
        "built after optimizer.load_state_dict() writes its initial lrs into them. Build the "
        "scheduler before optimizer.load_state_dict(), or load the optimizer state after it."
    )
