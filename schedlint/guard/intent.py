"""Checks of what the LRs *mean*, beyond "does the LR equal the schedule": group ratios, LRs that
vanish, schedules stepped through a fraction of their length, step arguments torch deprecated.
Pure functions over floats and scheduler attributes; the Guard decides when to call them."""

from __future__ import annotations

import inspect
import math

# The static checker's catalogue of torch's schedulers: plain data, no libcst.
from schedlint.model.catalogue import CLOSED_FORM

RATIO_RTOL = 0.01  # relative change of a group-to-group LR ratio that counts as a change
VANISH = 1e-6  # an LR below this fraction of its baseline has vanished
SMALL_FRACTION = 0.1  # a schedule stepped through less than this fraction of its length...
COVERED = 0.5  # ...while the optimizer stepped at least this fraction of it: sized per batch, stepped per epoch
# Less than half counts when the optimizer stepped through the length twice and the length is a
# whole number of the (steady) optimizer steps between two scheduler steps, as T_max=len(loader)
# stepped per epoch: a length sized in epochs has no reason to be a multiple of the batches per
# epoch, and a short run of it has not taken twice its length in optimizer steps.
HALF = 0.5
TWICE = 2

# How far past its end a schedule may be stepped: PAST, not at all; ZERO_END, its lr is 0 from
# its end on, so a run that spends half its steps or more past the end trained at lr 0 for half
# of it; False, any.
PAST = True
ZERO_END = "zero"
LONG_PAST = 2.0  # ZERO_END: stepped at least this many times its length
# PAST: the loop's last sched.step() may take a cosine one step past T_max: that lr never trains.
PAST_SLACK = 1
# Schedulers whose length is a constructor argument: (attribute, how far past the end).
LENGTHS = {
    "OneCycleLR": ("total_steps", False),  # torch raises past the end itself
    "CosineAnnealingLR": ("T_max", PAST),  # climbs back to the base LR (not a restart schedule)
    # 0 from total_iters on, yet a short decay held at 0 is a documented use of it: any length
    "PolynomialLR": ("total_iters", False),
    "LinearLR": ("total_iters", False),  # constant at end_factor afterwards: a normal warm-up
}
# transformers' keywords of a floor above 0 (the lr stays there past the end), and lr_end of the
# polynomial decay relative to its lr_init; below this fraction the floor counts as 0.
TRANSFORMERS_FLOORS = ("min_lr_rate", "min_lr_ratio")
ZERO_FLOOR = 0.01
# Schedulers whose step sets the lr from their own bases, whatever another scheduler did to it
# since: the closed-form ones, and SWALR, which anneals to and then holds swa_lr.
OVERWRITING = CLOSED_FORM | {"SWALR"}
# transformers' schedules are a LambdaLR whose lambda is a functools.partial of a module-level
# function of transformers.optimization, with the length as the keyword ``num_training_steps``.
# Past the end they stay at their floor (0, lr_end) or, for a cosine, rise again; only the
# fraction is judged, as for the torch schedules whose end is harmless.
TRANSFORMERS_LENGTH = "num_training_steps"
# get_wsd_schedule (warmup-stable-decay) keeps no num_training_steps: its lambda has the three
# phases, whose sum is the length (num_training_steps given to it is split into them).
TRANSFORMERS_PHASES = ("num_warmup_steps", "num_stable_steps", "num_decay_steps")
# Lambda names that are not their factory's name with "_lr_lambda" added.
TRANSFORMERS_FACTORIES = {
    "get_wsd_scheduler": "get_wsd_schedule",
}


def factors(cur: list, base: list) -> list:
    """Each group's LR as a multiple of its baseline; None where that says nothing (a zero or
    non-finite value)."""
    out = []
    for c, b in zip(cur, base):
        if b and c and math.isfinite(c) and math.isfinite(b) and c > 0 and b > 0:
            out.append(c / b)
        else:
            out.append(None)
    return out


def ratio_breaks(cur: list, base: list, tol: float = RATIO_RTOL) -> list:
    """``[(i, j), ...]``: group i's LR ratio to group j (the first group with a usable LR) moved
    more than ``tol`` away from the ratio of their baselines, or two groups built with distinct
    LRs now have the same one."""
    f = factors(cur, base)
    ref = next((k for k, x in enumerate(f) if x is not None), None)
    if ref is None:
        return []
    out = []
    for i in range(ref + 1, len(f)):
        if f[i] is None:
            continue
        if abs(f[i] / f[ref] - 1.0) > tol or (cur[i] == cur[ref] and base[i] != base[ref]):
            out.append((i, ref))
    return out


def per_group_values(sched, groups) -> list:
    """What distinguishes the groups in ``sched``'s schedule (one entry per group): a list of
    lambdas, per-group bounds (CyclicLR, OneCycleLR, ReduceLROnPlateau's min_lr, SWALR's swa_lr).
    Groups with the same entry are scheduled alike up to their base LR."""
    n = len(groups)
    rows = [[] for _ in range(n)]
    for s in [sched] + _all_children(sched):
        lambdas = getattr(s, "lr_lambdas", None)
        if isinstance(lambdas, list) and len(lambdas) == n:
            for i, fn in enumerate(lambdas):
                rows[i].append(id(fn))
        for attr in ("min_lrs", "max_lrs"):
            values = getattr(s, attr, None)
            if isinstance(values, list) and len(values) == n:
                for i, v in enumerate(values):
                    rows[i].append(float(v))
        if type(s).__name__ == "CyclicLR":
            for i, v in enumerate(getattr(s, "base_lrs", [])[:n]):
                rows[i].append(float(v))
        for key in ("max_lr", "swa_lr"):
            if all(key in g for g in groups):
                for i, g in enumerate(groups):
                    rows[i].append(float(g[key]))
    return rows


def explains_ratio(scheds: list, groups, i: int, j: int) -> bool:
    """True when one of ``scheds`` was given different per-group values for groups i and j, so a
    change of their LR ratio is part of the schedule as the user wrote it (or ReduceLROnPlateau
    stopped reducing one group because the change fell below its ``eps``)."""
    for s in scheds:
        if type(s).__name__ == "ReduceLROnPlateau":
            smaller = min(float(groups[i]["lr"]), float(groups[j]["lr"]))
            if smaller * (1.0 - float(s.factor)) <= float(s.eps) * 2:
                return True
        rows = per_group_values(s, groups)
        if i < len(rows) and j < len(rows) and rows[i] != rows[j]:
            return True
    return False


def _all_children(sched) -> list:
    out = []
    for c in getattr(sched, "_schedulers", None) or ():
        out.append(c)
        out += _all_children(c)
    return out


def budget_parts(sched, inside: str = "") -> list:
    """``[(name, length, steps, inside, past_harmful, warmup)]`` for ``sched`` and every scheduler
    it contains whose length is a constructor argument, or a transformers schedule's
    ``num_training_steps`` (``inside``: the container's name, "" at the top; ``warmup``: a
    transformers schedule's ``num_warmup_steps``, else 0). Read at each step, so the end of the
    run still knows them after the schedulers were collected."""
    out = []
    name = type(sched).__name__
    spec = LENGTHS.get(name)
    length, past, warmup = None, False, 0
    if spec is not None:
        length, past = getattr(sched, spec[0], None), spec[1]
    elif name == "LambdaLR":
        factory, length = transformers_length(sched)
        if factory is not None:
            name = f"LambdaLR from transformers' {factory}"
            past = ZERO_END if _transformers_zero_end(sched) else False
            warmup = _transformers_warmup(sched)
    steps = getattr(sched, "last_epoch", None)
    if isinstance(length, int) and isinstance(steps, int) and length > 0:
        out.append((name, length, steps, inside, past, warmup))
    for child in getattr(sched, "_schedulers", None) or ():
        out += budget_parts(child, inside or name)
    return out


def has_budget(sched) -> bool:
    name = type(sched).__name__
    return (
        name in LENGTHS
        or (name == "LambdaLR" and transformers_length(sched)[0] is not None)
        or any(has_budget(c) for c in getattr(sched, "_schedulers", None) or ())
    )


def transformers_length(sched) -> tuple:
    """``(factory, num_training_steps)`` for a LambdaLR built by one of transformers' schedule
    factories (``get_linear_schedule_with_warmup``...), read from the keywords of the
    ``functools.partial`` it uses as its lambda (never by calling it); ``(None, None)`` otherwise,
    and when the groups' lambdas disagree on the length."""
    lambdas = getattr(sched, "lr_lambdas", None)
    if not isinstance(lambdas, list) or not lambdas:
        return None, None
    found = set()
    for fn in lambdas:
        func = getattr(fn, "func", None)
        keywords = getattr(fn, "keywords", None)
        if not isinstance(keywords, dict) or not callable(func):
            return None, None
        module = getattr(func, "__module__", None) or ""
        length = keywords.get(TRANSFORMERS_LENGTH)
        if length is None and all(type(keywords.get(k)) is int for k in TRANSFORMERS_PHASES):
            length = sum(keywords[k] for k in TRANSFORMERS_PHASES)
        if not module.startswith("transformers.") or type(length) is not int:
            return None, None
        name = _transformers_factory(getattr(func, "__name__", "") or "", keywords)
        found.add((name, length))
    if len(found) != 1:
        return None, None
    ((factory, length),) = found
    return factory or "schedule", length


def _transformers_warmup(sched) -> int:
    """The ``num_warmup_steps`` every lambda of a transformers schedule was given, else 0."""
    found = {fn.keywords.get("num_warmup_steps") for fn in sched.lr_lambdas}
    if len(found) != 1:
        return 0
    (warmup,) = found
    return warmup if type(warmup) is int and warmup > 0 else 0


def _transformers_zero_end(sched) -> bool:
    """Whether a transformers schedule's lr is 0 (or rises again, for a cosine) past its end: no
    floor keyword above 0, and a polynomial decay's lr_end a negligible part of its lr_init."""
    for fn in sched.lr_lambdas:
        keywords = fn.keywords
        if any(_positive(keywords.get(k)) for k in TRANSFORMERS_FLOORS):
            return False
        lr_end, lr_init = keywords.get("lr_end"), keywords.get("lr_init")
        if _positive(lr_end) and _positive(lr_init) and lr_end >= ZERO_FLOOR * lr_init:
            return False
    return True


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def _transformers_factory(func_name: str, keywords: dict) -> str:
    """The public factory behind one of transformers' schedule lambdas:
    _get_linear_schedule_with_warmup_lr_lambda -> get_linear_schedule_with_warmup."""
    factory = func_name.strip("_")
    for suffix in ("_lr_lambda", "_lambda"):
        if factory.endswith(suffix):
            factory = factory[: -len(suffix)]
            break
    if factory == "get_cosine_schedule_with_warmup" and "min_lr_rate" in keywords:
        # get_cosine_with_min_lr_schedule_with_warmup reuses the cosine lambda with a floor.
        return "get_cosine_with_min_lr_schedule_with_warmup"
    return TRANSFORMERS_FACTORIES.get(factory, factory)


def past_end(part: tuple) -> bool:
    """Whether a part from :func:`budget_parts` is already known to be stepped wrongly past its
    end, whatever happens next (reported as it steps): a CosineAnnealingLR two steps past
    ``T_max`` (one step past is the loop's last ``sched.step()``, left unused). A schedule whose lr
    is 0 past its end is judged at the end: "half the run at lr 0" needs the whole run."""
    length, steps, past_harmful = part[1], part[2], part[4]
    return past_harmful is PAST and steps > length + PAST_SLACK


def budget(
    part: tuple,
    optimizer_steps: int,
    cadence: int = 0,
    used_last: bool = True,
    drawn: frozenset = frozenset(),
):
    """``(problem, length, steps)`` when a scheduler (a part from :func:`budget_parts`) was stepped
    through a small fraction of its length although the optimizer stepped through most of it,
    through at most half of it although its length is the count of optimizer steps the run took
    or of batches one DataLoader drew (``drawn``) since it was built, past the end of a schedule
    that does not restart, at least twice its length when its lr is 0 past the end, or past the
    end of a warm-up not shorter than the schedule; else None. ``cadence``: the optimizer steps
    between two of its steps, 0 when not steady; ``used_last``: an optimizer step ran at the lr of
    its last step (without one, a cosine's last step one past ``T_max`` never trained). Inside
    SequentialLR or ChainedScheduler only "past the end" is judged: a child starts at its
    milestone."""
    _name, length, steps, inside, past_harmful, warmup = part
    if past_harmful is PAST and steps > length + (0 if used_last else PAST_SLACK):
        return ("past", length, steps)
    if warmup >= length and steps > length:
        return ("warmup", length, steps)
    if past_harmful == ZERO_END and steps >= LONG_PAST * length:
        return ("zero", length, steps)
    if inside:
        return None
    # Counts, not a bar: a length that is exactly the optimizer steps the run took, or the batches
    # the training loader drew, names the unit it was sized in; a scheduler stepped steadily at
    # most half as often was stepped in another unit (per epoch, or per optimizer step under
    # gradient accumulation). A run cut short (max_steps, fewer epochs) took fewer steps than the
    # length. The loader that drew the length trained: a whole number (2 or more) of its batches
    # per optimizer step (the accumulation), which a validation loader's count is not.
    if cadence and steps * 2 <= length:
        if optimizer_steps == length and cadence > 1:
            return ("steps", length, steps)
        accumulated = optimizer_steps and not length % optimizer_steps
        if length in drawn and accumulated and length // optimizer_steps >= 2:
            return ("batches", length, steps)
    if steps < SMALL_FRACTION * length and optimizer_steps >= COVERED * length:
        return ("fraction", length, steps)
    if steps < HALF * length and optimizer_steps >= TWICE * length and cadence > 1:
        if length % cadence == 0:
            return ("fraction", length, steps)
    return None


def epoch_argument(sched, args: tuple, kwargs: dict):
    """The deprecated epoch argument of ``step()``, or None. CosineAnnealingWarmRestarts takes a
    (fractional) epoch legitimately; ReduceLROnPlateau's first argument is the metric."""
    name = type(sched).__name__
    if name == "CosineAnnealingWarmRestarts":
        return None
    own = _own_step(sched)
    if own is not None:
        # A step() of the user's: its arguments are its own (a metric it hands to a plateau);
        # only one it names `epoch` is the epoch it hands on to torch's step().
        try:
            return own.bind_partial(sched, *args, **kwargs).arguments.get("epoch")
        except TypeError:
            return None
    if name == "ReduceLROnPlateau":
        value = args[1] if len(args) > 1 else kwargs.get("epoch")
    else:
        value = args[0] if args else kwargs.get("epoch")
    return value


def _own_step(sched):
    """The signature of the ``step`` a scheduler class outside torch defines, or None when the
    ``step`` that runs is torch's (or cannot be read)."""
    for klass in type(sched).__mro__:
        fn = vars(klass).get("step")
        if fn is None:
            continue
        if klass.__module__.split(".")[0] == "torch":
            return None
        try:
            return inspect.signature(fn)
        except (TypeError, ValueError):
            return None
    return None


LAMBDA_SCHEDULERS = ("LambdaLR", "MultiplicativeLR")
SAME = 1e-9  # relative tolerance of "the factor is the group's lr": a product and a quotient apart


def returned_lr(bases: list, factors: list, shared: bool, default=None):
    """``(group, limits, whose)`` when the factors a LambdaLR/MultiplicativeLR applied are LRs:
    each group's factor equals its baseline (``whose`` "own": one lambda per group, or equal
    LRs), one lambda shared by every group returned the LR of one of them (``group``, the head's;
    ``whose`` "group"), or it returned ``default``, the LR the optimizer was given, while every
    group was built at a multiple of it (``whose`` "optimizer"). ``limits``: what each factor was;
    a lambda that returns an LR stays at or under it, a warm-up whose first factor happens to equal
    the LR rises above it later. None when not certain: an LR of 1 (a factor-style optimizer, as
    in Noam schedules; with a shared lambda, any group at 1: the groups hold multipliers of the LR
    the lambda returns) or a group without a usable LR."""
    if not bases or len(bases) != len(factors) or any(f is None for f in factors):
        return None

    def lr_like(f, b):
        return b > 0 and b != 1.0 and math.isfinite(b) and abs(f / b - 1.0) <= SAME

    if all(lr_like(f, b) for f, b in zip(factors, bases)):
        return 0, list(factors), "own"
    if not shared or any(b == 1.0 for b in bases):
        return None
    if not all(abs(f / factors[0] - 1.0) <= SAME for f in factors):
        return None
    for j, b in enumerate(bases):
        if lr_like(factors[0], b):
            return j, [b] * len(bases), "group"
    if default is not None and lr_like(factors[0], default):
        return 0, [default] * len(bases), "optimizer"
    return None


def stayed_under(factors: list, limits: list) -> bool:
    return all(f is not None and f <= lim * (1.0 + SAME) for f, lim in zip(factors, limits))


def dropped(factors: list, limits: list) -> bool:
    return all(f is not None and f < lim * (1.0 - SAME) for f, lim in zip(factors, limits))


# Schedules sized in epochs but stepped per batch use their whole horizon within the first epoch
# (an epoch: a full pass of a DataLoader). Judged on the scheduler's first full epoch; a
# deliberate per-batch schedule restarts at most about once an epoch (T_0=len(loader)) and does
# not cut the lr a hundredfold before the second epoch starts.
EPOCH_RESTARTS = 3  # CosineAnnealingWarmRestarts: at least this many restarts within one epoch
EPOCH_CUT = 0.01  # StepLR/MultiStepLR: the lr cut to at most this fraction within one epoch...
EPOCH_DECAYS = 2  # ...by at least this many decays


def epoch_overrun(sched) -> tuple | None:
    """``(problem, sized, count, factor)`` when ``sched``, stepped ``sched.last_epoch`` times in
    its first epoch, went through its whole epoch-sized horizon: CosineAnnealingWarmRestarts
    restarted ``count`` times, StepLR or MultiStepLR decayed ``count`` times to ``factor`` of its
    start (``sized``: the constructor argument that sets the horizon, as ``T_0=10``)."""
    name = type(sched).__name__
    steps = getattr(sched, "last_epoch", None)
    if type(steps) is not int or steps < 2:
        return None
    if name == "CosineAnnealingWarmRestarts":
        t_0, t_mult = getattr(sched, "T_0", None), getattr(sched, "T_mult", None)
        if type(t_0) is not int or type(t_mult) is not int or t_0 < 1 or t_mult < 1:
            return None
        restarts, at, cycle = 0, t_0, t_0
        while at <= steps:
            restarts += 1
            cycle *= t_mult
            at += cycle
        return ("restarts", f"T_0={t_0}", restarts, 1.0) if restarts >= EPOCH_RESTARTS else None
    gamma = getattr(sched, "gamma", None)
    if not isinstance(gamma, (int, float)) or not 0 < gamma < 1:
        return None
    if name == "StepLR":
        size = getattr(sched, "step_size", None)
        if type(size) is not int or size < 1:
            return None
        decays, sized = steps // size, f"step_size={size}"
    elif name == "MultiStepLR":
        milestones = getattr(sched, "milestones", None)
        if not hasattr(milestones, "items"):
            return None
        passed = [(m, n) for m, n in milestones.items() if type(m) is int and m <= steps]
        decays = sum(n for _m, n in passed)
        sized = f"milestones={sorted(m for m in milestones.elements() if type(m) is int)}"
    else:
        return None
    factor = gamma**decays
    if decays >= EPOCH_DECAYS and factor <= EPOCH_CUT:
        return ("decays", sized, decays, factor)
    return None


def epoch_parts(sched) -> list:
    """``[(name, inside, problem)]`` for ``sched`` and every scheduler it contains that
    :func:`epoch_overrun` reports (``inside``: the container's name, "" at the top)."""
    out = []
    found = epoch_overrun(sched)
    if found is not None:
        out.append((type(sched).__name__, "", found))
    for child in _all_children(sched):
        found = epoch_overrun(child)
        if found is not None:
            out.append((type(child).__name__, type(sched).__name__, found))
    return out


# Without epochs to judge by (plain lists of batches), a MultiStepLR sized in epochs but stepped
# per batch shows at the end of the run: every milestone passed within this share of its steps,
# cutting the lr as deep as EPOCH_CUT by EPOCH_DECAYS or more, and the rest of the run trained at
# that cut. Milestones in batches sit late in the run (detectron2: 2/3 and 8/9 of it).
HORIZON_SHARE = 0.1


def milestone_plan(sched):
    """``(milestones, gamma)`` of a MultiStepLR as built: sorted ``(milestone, count)`` pairs and
    its gamma; None for anything else."""
    if type(sched).__name__ != "MultiStepLR":
        return None
    milestones, gamma = getattr(sched, "milestones", None), getattr(sched, "gamma", None)
    if not hasattr(milestones, "items") or not isinstance(gamma, (int, float)):
        return None
    if not 0 < gamma < 1 or not all(type(m) is int and m > 0 for m in milestones):
        return None
    return tuple(sorted(milestones.items())), float(gamma)


def early_horizon(plan, steps: int):
    """``(sized, last, factor)`` when a MultiStepLR (``plan`` from :func:`milestone_plan`) stepped
    ``steps`` times passed every milestone, the last one (``last``) within the first
    HORIZON_SHARE of its steps, and cut the lr to ``factor`` <= EPOCH_CUT by EPOCH_DECAYS or more
    decays; else None."""
    pairs, gamma = plan
    if not pairs or type(steps) is not int:
        return None
    last = pairs[-1][0]
    decays = sum(n for _m, n in pairs)
    factor = gamma**decays
    if last > HORIZON_SHARE * steps or decays < EPOCH_DECAYS or factor > EPOCH_CUT:
        return None
    sized = f"milestones={[m for m, n in pairs for _ in range(n)]}"
    return sized, last, factor
