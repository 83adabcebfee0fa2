"""The shadow replay: how the guard knows each group's expected LR without touching training.

The real schedulers are deep-copied with a memo that maps the real optimizer to a
parameter-free :class:`ShadowOptimizer`, so every reference to the optimizer inside the copies
(including the children of SequentialLR/ChainedScheduler) lands on the shadow. Stepping the
copies with the same arguments as the real ones reproduces the real LRs bit for bit for all 16
torch schedulers, float and tensor LRs (reference §6.1, method A); the shadow holds no
parameters and no optimizer state.
"""

from __future__ import annotations

import copy
import warnings
from collections import OrderedDict, defaultdict

import torch
from torch.optim import Optimizer

from schedlint.guard import hooks
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

    def __init__(self, real: Optimizer):  # noqa: D107 - see class docstring
        self.defaults = {k: _copy_value(v) for k, v in real.defaults.items()}
        self.state = defaultdict(dict)
        self.param_groups = [
            {**{k: _copy_value(v) for k, v in g.items() if k != "params"}, "params": []}
            for g in real.param_groups
        ]
        self._opt_called = True
        self.step = _no_step
        for name in ("_optimizer_step_pre_hooks", "_optimizer_step_post_hooks",
                     "_optimizer_state_dict_pre_hooks", "_optimizer_state_dict_post_hooks",
                     "_optimizer_load_state_dict_pre_hooks", "_optimizer_load_state_dict_post_hooks"):
            setattr(self, name, OrderedDict())


def copy_schedulers(real_opt: Optimizer, schedulers: list):
    """Deep copies of ``schedulers`` bound to a new shadow of ``real_opt``.

    Parameters are mapped to themselves so a scheduler that happens to reference the model does
    not drag a copy of every weight into the shadow.
    """
    shadow_opt = ShadowOptimizer(real_opt)
    memo = {id(real_opt): shadow_opt}
    for group in real_opt.param_groups:
        for p in group["params"]:
            memo[id(p)] = p
    return shadow_opt, copy.deepcopy(list(schedulers), memo)


def step_quietly(step, sched, args, kwargs) -> None:
    """``step(sched, *args, **kwargs)`` with the guard's wrappers turned into pass-throughs (the
    children of a container step through them) and no second copy of torch's warnings."""
    state = hooks.tls
    state.depth += 1
    try:
        if args or kwargs:
            # The real step already emitted torch's deprecation warning for step(epoch).
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                step(sched, *args, **kwargs)
        else:
            step(sched)
    finally:
        state.depth -= 1


class Shadow:
    """Copies of an optimizer's top-level schedulers, stepped in lockstep with the real ones."""

    def __init__(self, real_opt: Optimizer, top_level: list):
        self.opt, self.scheds = copy_schedulers(real_opt, top_level)

    def step(self, index: int, step, args, kwargs) -> None:
        """Replay one step with ``step``: the real scheduler's own (unwrapped) step function."""
        step_quietly(step, self.scheds[index], args, kwargs)

    def lrs(self) -> list:
        return lrs_mod.read(self.opt.param_groups)

    def set_lrs(self, real_groups) -> None:
        """Adopt the real LRs after an accepted write (a declared foreign writer, a reported
        violation) so the replay goes on from what training actually uses."""
        for mine, real in zip(self.opt.param_groups, real_groups):
            value = real["lr"]
            if isinstance(mine["lr"], torch.Tensor) and isinstance(value, torch.Tensor):
                mine["lr"].copy_(value)
            else:
                mine["lr"] = _copy_value(value)


def predict_step(real_opt: Optimizer, sched, args, kwargs):
    """The LRs ``sched.step(*args, **kwargs)`` would produce now, computed on a throwaway copy.

    Used to report what an extra (double) scheduler step would do before it is allowed to run.
    """
    shadow_opt, (copy_,) = copy_schedulers(real_opt, [sched])
    step_quietly(type(copy_).step, copy_, args, kwargs)
    return lrs_mod.read(shadow_opt.param_groups)
