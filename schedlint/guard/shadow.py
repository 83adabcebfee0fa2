"""The shadow: the LR every group *should* have, derived from its baseline and the schedules as built.

A parameter-free :class:`ShadowOptimizer` starts from each group's baseline LR (the LR it was
built with, or its ``initial_lr``). Every scheduler built on the real optimizer gets a *twin* on
the shadow, made by running the same constructor with the same arguments (the real optimizer and
real child schedulers mapped to their shadow counterparts), so the twin starts from the baseline
and not from whatever the real groups hold at that moment. The guard then steps each twin with
the arguments of every real step. Where a constructor cannot be replayed, the scheduler is
deep-copied onto the shadow instead (reference §6.1, method A), which reproduces torch's LRs bit
for bit for all 16 schedulers.

Nothing here writes to the real optimizer or a real scheduler. torch's warnings raised while a
twin steps are dropped without touching the ``warnings`` filters (that would reset Python's
once-per-location registry for the user's own warnings): the twin steps run with the scheduler
modules' ``warnings`` name pointing at a silent stand-in.
"""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict, defaultdict

import torch
from torch.optim import Optimizer

from schedlint.guard import hooks, registry
from schedlint.guard import lrs as lrs_mod


def _no_step(*args, **kwargs):
    return None


# torch's step-order check looks for this marker on optimizer.step; the shadow never steps.
_no_step._wrapped_by_lr_sched = True


def _copy_value(value):
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    return copy.deepcopy(value)


class ShadowOptimizer(Optimizer):
    """An Optimizer with the real one's groups (minus ``params``) and nothing else.

    ``Optimizer.__init__`` is skipped on purpose: it would need parameters and would patch the
    class's step. ``isinstance(shadow, Optimizer)`` holds, which scheduler code checks.
    """

    def __init__(self, real: Optimizer, lrs=None):  # noqa: D107 - see class docstring
        self.defaults = {k: _copy_value(v) for k, v in real.defaults.items()}
        self.state = defaultdict(dict)
        self.param_groups = [_shadow_group(g) for g in real.param_groups]
        if lrs is not None:
            for group, value in zip(self.param_groups, lrs):
                _set_lr(group, value)
        self._opt_called = True
        self.step = _no_step
        for name in (
            "_optimizer_step_pre_hooks",
            "_optimizer_step_post_hooks",
            "_optimizer_state_dict_pre_hooks",
            "_optimizer_state_dict_post_hooks",
            "_optimizer_load_state_dict_pre_hooks",
            "_optimizer_load_state_dict_post_hooks",
        ):
            setattr(self, name, OrderedDict())


def _shadow_group(group: dict) -> dict:
    return {**{k: _copy_value(v) for k, v in group.items() if k != "params"}, "params": []}


def _set_lr(group: dict, value) -> None:
    mine = group["lr"]
    if isinstance(mine, torch.Tensor):
        mine.fill_(float(value) if not isinstance(value, torch.Tensor) else value)
    else:
        group["lr"] = float(value) if isinstance(value, torch.Tensor) else value


class _SilentWarnings:
    """Stands in for the ``warnings`` module inside torch's scheduler modules while a twin steps."""

    def __getattr__(self, name):
        return getattr(warnings, name)

    @staticmethod
    def warn(*args, **kwargs):
        return None


_SILENT = _SilentWarnings()


def _scheduler_modules() -> list:
    from torch.optim import lr_scheduler, swa_utils

    return [lr_scheduler, swa_utils]


class _Quiet:
    """Shadow work: the guard's wrappers are pass-throughs and torch's warnings are dropped."""

    def __enter__(self):
        state = hooks.tls
        state.depth += 1
        state.shadowing += 1
        self.modules = _scheduler_modules()
        self.saved = [m.__dict__.get("warnings") for m in self.modules]
        for m in self.modules:
            m.warnings = _SILENT
        return self

    def __exit__(self, *exc):
        for m, saved in zip(self.modules, self.saved):
            m.warnings = saved
        state = hooks.tls
        state.depth -= 1
        state.shadowing -= 1
        return False


def _memo_for(real_opt: Optimizer, shadow_opt, twins: dict, scheds=()) -> dict:
    # Parameters map to themselves so a scheduler that happens to reference the model does not
    # drag a copy of every weight into the shadow; real schedulers map to their twins.
    memo = {id(real_opt): shadow_opt}
    # A scheduler built on a wrapper of the optimizer (accelerate's AcceleratedOptimizer) is bound
    # to the shadow too, instead of to a copy of the wrapper and everything it holds.
    for sched in scheds:
        for s in [sched, *children(sched)]:
            bound = getattr(s, "optimizer", None)
            if bound is not None and bound is not real_opt and registry.unwrap(bound) is real_opt:
                memo[id(bound)] = shadow_opt
    for group in real_opt.param_groups:
        for p in group["params"]:
            memo[id(p)] = p
    for key, (real_ref, twin) in twins.items():
        if real_ref() is not None:
            memo[key] = twin
    return memo


def children(sched) -> list:
    return list(getattr(sched, "_schedulers", None) or ())


class Shadow:
    """The intended state of one optimizer's groups, and a twin of each of its schedulers."""

    def __init__(self, real_opt: Optimizer, lrs: list):
        self.opt = ShadowOptimizer(real_opt, lrs)
        self._twins: dict = {}  # id(real scheduler) -> (weakref(real), twin)

    def twin(self, sched):
        entry = self._twins.get(id(sched))
        return entry[1] if entry is not None and entry[0]() is sched else None

    def _pair(self, real, twin) -> None:
        import weakref

        self._twins[id(real)] = (weakref.ref(real), twin)
        for r, t in zip(children(real), children(twin)):
            self._pair(r, t)

    def construct(self, real_opt: Optimizer, sched, args: tuple, kwargs: dict) -> None:
        """Build ``sched``'s twin by running its constructor again on the shadow, from the
        shadow's (intended) LRs; ``args``/``kwargs`` are the real call's, without ``self``."""
        memo = _memo_for(real_opt, self.opt, self._twins, [sched])
        cargs, ckwargs = copy.deepcopy((args, kwargs), memo)
        cls = type(sched)
        twin = cls.__new__(cls)
        with _Quiet():
            cls.__init__(twin, *cargs, **ckwargs)
        if getattr(twin, "optimizer", None) is not self.opt:
            raise TypeError(f"the replayed {cls.__name__} is not bound to the shadow optimizer")
        self._pair(sched, twin)

    def copy_in(self, real_opt: Optimizer, scheds: list, rerun_construction: bool) -> None:
        """Deep copies of ``scheds`` (built before the guard saw them) bound to the shadow. With
        ``rerun_construction``, the effect of their constructors is replayed on the shadow's LRs
        (schedulers not stepped yet: the LR they should have set is derived from the baseline)."""
        memo = _memo_for(real_opt, self.opt, self._twins, scheds)
        copies = copy.deepcopy(list(scheds), memo)
        for real, twin in zip(scheds, copies):
            self._pair(real, twin)
        if rerun_construction:
            real = lrs_mod.read(real_opt.param_groups)
            with _Quiet():
                for twin in copies:
                    _rerun_construction(twin, self.opt, real)

    def add_groups(self, real_groups) -> None:
        self.opt.param_groups.extend(_shadow_group(g) for g in real_groups)

    def step(self, sched, step, args, kwargs) -> None:
        """Step ``sched``'s twin with ``step`` (the real scheduler's own unwrapped step function)."""
        twin = self.twin(sched)
        if twin is None:
            raise LookupError(f"{type(sched).__name__} has no twin")
        with _Quiet():
            step(twin, *args, **kwargs)

    def lrs(self) -> list:
        return lrs_mod.read(self.opt.param_groups)

    def set_lrs(self, real_groups) -> None:
        """Adopt the real LRs after an accepted write (a declared foreign writer,
        ``allow_external_writes``) so the schedule goes on from what training actually uses."""
        for mine, real in zip(self.opt.param_groups, real_groups):
            value = real["lr"]
            if isinstance(mine["lr"], torch.Tensor) and isinstance(value, torch.Tensor):
                mine["lr"].copy_(value)
            else:
                mine["lr"] = _copy_value(value)


# Schedulers whose initial step sets the lr from base_lrs, not from the lr it finds (so the order
# in which they and chainable ones were built decides the lr).
_FROM_BASE = ("LambdaLR", "OneCycleLR", "CosineAnnealingWarmRestarts")


def _rerun_construction(sched, shadow_opt, real=None) -> None:
    """Apply to the shadow's LRs what ``sched``'s constructor did to the real ones (it has not been
    stepped since): the initial step, from ``initial_lr``. ``real``: the real groups' LRs now."""
    from torch.optim import lr_scheduler as S

    if isinstance(sched, S.ReduceLROnPlateau):
        return
    if isinstance(sched, S.ChainedScheduler):
        # The children were built before the container, in an order it does not keep: the list
        # order first; where that does not give the real LRs and a child sets the lr from its
        # base_lrs (LambdaLR(lambda e: 0.5 * ...) built before a ConstantLR that halves it), the
        # order that built such children first.
        kids = children(sched)
        before = lrs_mod.read(shadow_opt.param_groups)
        for child in kids:
            _rerun_construction(child, shadow_opt)
        first = sorted(kids, key=lambda c: type(c).__name__ not in _FROM_BASE)
        if (
            real is None
            or first == kids
            or lrs_mod.same(lrs_mod.read(shadow_opt.param_groups), real)
        ):
            return
        after = lrs_mod.read(shadow_opt.param_groups)
        for group, saved in zip(shadow_opt.param_groups, before):
            _set_lr(group, saved)
        for child in first:
            _rerun_construction(child, shadow_opt)
        if not lrs_mod.same(lrs_mod.read(shadow_opt.param_groups), real):
            for group, saved in zip(shadow_opt.param_groups, after):
                _set_lr(group, saved)
        return
    if isinstance(sched, S.SequentialLR):
        for group in shadow_opt.param_groups:
            _set_lr(group, group["initial_lr"])
        import bisect

        first = sched._schedulers[bisect.bisect_right(sched._milestones, 0)]
        first.last_epoch = -1
        first._initial_step()
        return
    if getattr(sched, "last_epoch", None) != 0 or not hasattr(sched, "_initial_step"):
        return
    if isinstance(sched, S.CyclicLR):
        # Its constructor's initial step runs before base_lrs are replaced (reference §1.2).
        return
    sched.last_epoch = -1
    sched._initial_step()


def predict_step(real_opt: Optimizer, sched, args, kwargs, lrs=None):
    """The LRs ``sched.step(*args, **kwargs)`` would produce now, computed on a throwaway copy;
    from the groups' LRs, or from ``lrs`` when given.

    Used to report what an extra (double) scheduler step would do before it is allowed to run,
    and what the first step after a scheduler's load would give from the loaded LRs.
    """
    shadow_opt = ShadowOptimizer(real_opt, lrs)
    memo = _memo_for(real_opt, shadow_opt, {}, [sched])
    copy_ = copy.deepcopy(sched, memo)
    with _Quiet():
        type(copy_).step(copy_, *args, **kwargs)
    return lrs_mod.read(shadow_opt.param_groups)
