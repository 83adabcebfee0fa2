"""The "most likely cause, in plain words" attached to every violation."""

from __future__ import annotations

# Schedulers whose step() recomputes the LR from stored bases (reference §2.2): an outside edit
# is overwritten at their next step. The others multiply the current LR, so an edit compounds.
CLOSED_FORM = {"LambdaLR", "CyclicLR", "OneCycleLR", "CosineAnnealingWarmRestarts"}


def names(schedulers) -> str:
    return ", ".join(type(s).__name__ for s in schedulers) or "no scheduler"


def outside_write(schedulers, where: str) -> str:
    kinds = {type(s).__name__ for s in schedulers}
    text = (f"group['lr'] was changed {where} by something other than {names(schedulers)} "
            "(a manual edit, a foreign scheduler such as timm's, or a hook)")
    if kinds and kinds <= CLOSED_FORM:
        return text + "; the scheduler is closed form, so the edit is lost at its next step()."
    if kinds & CLOSED_FORM:
        return text + ("; it mixes closed-form and chainable schedulers, so the edit is partly "
                       "lost, partly compounded.")
    if kinds:
        return text + ("; the scheduler is chainable, so the edit persists and compounds with "
                       "the schedule for the rest of training. Let the scheduler own the LR, or "
                       "declare the writer with foreign_writers=[...].")
    return text + "."


def second_scheduler(sched, declared) -> str:
    return (f"a second scheduler, {type(sched).__name__}, that was not given to schedlint.guard "
            f"(which watches {names(declared)}) also writes these LRs; two schedulers on one "
            "optimizer erase or fight each other unless all are chainable. Pass every scheduler "
            "to schedlint.guard (or none, to have them discovered), or combine them with "
            "SequentialLR/ChainedScheduler.")


def replay_mismatch(sched) -> str:
    return (f"{type(sched).__name__}.step() produced an LR that a replay of the same scheduler "
            "does not: its state (base_lrs, last_epoch, lambdas) or a group key it reads "
            "(initial_lr, max_lr, ...) was changed outside step(), or the LR was written between "
            "optimizer.step() and scheduler.step().")


def declared_mismatch() -> str:
    return ("the LR does not follow the schedule declared with expect=...: the scheduler is "
            "configured differently from what you declared (T_max, milestones, warm-up length, "
            "per-group base LRs), or something else changed the LR.")


def stepped_before_optimizer(sched) -> str:
    return (f"{type(sched).__name__}.step() was called before the first optimizer.step(): the "
            "first value of the schedule is skipped. Call optimizer.step() first.")


def double_step(sched, extra: int) -> str:
    return (f"{type(sched).__name__}.step() was called {extra + 1} times without an "
            "optimizer.step() in between: the schedule runs faster than training (stepped both "
            "per batch and per epoch, by hand and by a framework, or once per process). Step it "
            "exactly once after each optimizer.step() (or once per epoch).")


def child_stepped_directly(sched, parent) -> str:
    return (f"{type(sched).__name__} is stepped by {type(parent).__name__}, and was also stepped "
            "directly: it advances twice per step. Step only the container.")


def group_added(index: int, schedulers) -> str:
    return (f"param group {index} was added after {names(schedulers)} was built: it has no "
            "initial_lr and is missing from base_lrs, so it is mis-scheduled or crashes the next "
            "scheduler step. Build the scheduler after every add_param_group().")


def groups_removed(before: int, after: int, schedulers) -> str:
    return (f"the optimizer went from {before} to {after} param groups after {names(schedulers)} "
            "was built; the scheduler's per-group state no longer lines up with the groups.")


def state_shape(sched, attr: str, length: int, groups: int) -> str:
    return (f"{type(sched).__name__}.{attr} has {length} entries but the optimizer has {groups} "
            "param groups: scheduler state from a run with a different number of groups was "
            "loaded, or groups changed after the scheduler was built.")


def bad_value(value: float, schedulers) -> str:
    for s in schedulers:
        total = getattr(s, "total_steps", None)
        if type(s).__name__ == "OneCycleLR" and total is not None and s.last_epoch >= total:
            return (f"OneCycleLR was stepped {s.last_epoch} times with total_steps={total}: "
                    "past its end the schedule extrapolates (negative with "
                    "anneal_strategy='linear'). Size total_steps for every optimizer step "
                    "(epochs x steps_per_epoch, accumulation).")
    if value != value:
        return ("the LR is NaN (a lambda dividing by zero, a NaN metric or a NaN written into "
                "the group).")
    if value in (float("inf"), float("-inf")):
        return "the LR is infinite (an overflowing schedule, or a division by a zero period)."
    return ("a negative LR makes the optimizer climb the loss (a schedule extrapolated past its "
            "end).")


def never_stepped(name: str, optimizer_steps: int) -> str:
    times = "once" if optimizer_steps == 1 else f"{optimizer_steps} times"
    return (f"{name} was never stepped although the optimizer stepped {times}: training ran at "
            "its initial LR. Call scheduler.step() after optimizer.step() (or once per epoch).")


def ranks_differ(rank: int) -> str:
    return (f"rank {rank} uses a different LR from rank 0 for this group: a scheduler stepped on "
            "some ranks only, a rank-dependent LR, or a checkpoint loaded on one rank only; the "
            "replicas apply different updates and drift apart.")
