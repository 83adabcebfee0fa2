from schedlint.model.scheduler_classes import restores_bases, single_entry, uniform_lr
from schedlint.model.sizes import counted_list
from schedlint.rules.base import Report, clip, rule


@rule("SL104", "custom-scheduler-ignores-groups", "error")
def custom_scheduler_ignores_groups(model):
    """A custom LRScheduler's `get_lr` returns the same value for every param group.

    ## What it does
    Flags `get_lr` of a subclass of `LRScheduler` (or `_LRScheduler`, or a torch scheduler)
    that returns one value repeated for every group: a comprehension over
    `self.optimizer.param_groups` or `self.base_lrs` whose element uses neither the group,
    the loop variable nor `self.base_lrs` (one entry by index, `self.base_lrs[0]`, is one
    group's value for all), or `[lr] * len(self.optimizer.param_groups)` (or a group count
    `__init__` stored); and one that returns a one-entry list (`[self.final_lr * factor]`),
    which torch gives to the first group only. A shared value
    returned only at the initial step (`if self.last_epoch == 0:`) or only once the counter
    is past the schedule's end (`if self.last_epoch > self.max_steps:`, a floor like torch's
    `eta_min`, which SL103 reports where the groups differ) is left alone when the other
    returns scale each group's `self.base_lrs`, directly or through a helper method.

    Also flags a `get_lr` that returns one value per something else than a group (a
    comprehension over `range(self.warmup_epochs)`, a list appended to in such a loop, or
    either returned by a helper method of the scheduler).

    ## Why is this bad?
    torch writes `get_lr()[i]` into group `i` on every `step()`. A list that repeats one value
    gives every group the same LR, so an optimizer built with per-group LRs (a backbone at
    1e-5, a head at 1e-3) silently loses them at the first step, and `base_lrs` is never used.

    ## Example
    ```python
    import torch


    class Warmup(torch.optim.lr_scheduler.LRScheduler):
        def get_lr(self):
            lr = self.peak * min(1.0, (self.last_epoch + 1) / self.warmup)
            return [lr for _ in self.optimizer.param_groups]
    ```

    ## Use instead
    ```python
    import torch


    class Warmup(torch.optim.lr_scheduler.LRScheduler):
        def get_lr(self):
            factor = min(1.0, (self.last_epoch + 1) / self.warmup)
            return [base_lr * factor for base_lr in self.base_lrs]
    ```
    """
    for cls in model.classes:
        if not cls.is_scheduler_subclass:
            continue
        method = cls.methods.get("get_lr")
        if method is None:
            continue
        for ret in method.returns:
            count = counted_list(model.flow, method, ret.node)
            if count is not None:
                yield Report(
                    ret.node,
                    f"`{clip(cls.name, 30)}.get_lr` returns one lr per "
                    f"`{clip(count, 30)}`, not one per param group",
                    help="torch pairs the values with the param groups by position: "
                    "return one lr per group, e.g. `[base_lr * factor for "
                    "base_lr in self.base_lrs]`",
                )
                continue
            init = cls.methods.get("__init__")
            element = uniform_lr(ret.node, method.node, init=init.node if init else None)
            if element is None:
                first = single_entry(ret.node, method.node)
                if first is not None:
                    yield Report(
                        ret.node,
                        f"`{clip(cls.name, 30)}.get_lr` returns one lr "
                        f"(`{clip(model.code(first), 30)}`), for the first param group only",
                        help="torch pairs the values with the param groups by position: every "
                        "other group keeps its lr, unscheduled; return one lr per group, e.g. "
                        "`[base_lr * factor for base_lr in self.base_lrs]`",
                    )
                continue
            if ret in method.first_step_returns and restores_bases(method, ret, cls.methods):
                continue  # a shared starting lr; later steps lead each group to its own base
            if ret in method.past_end_returns and restores_bases(method, ret, cls.methods):
                # a floor held once the schedule has ended, the run's own lrs scaled from
                # each group's base until then: torch's scalar eta_min, which SL103
                # reports where the optimizer's groups differ
                continue
            elem_src = model.code(element)
            yield Report(
                ret.node,
                f"`{clip(cls.name, 30)}.get_lr` returns the same value "
                f"`{clip(elem_src, 30)}` for every param group",
                help="It reads no group's own base or lr (at most one group's, by "
                "index): on each step() every group of the optimizer gets that one lr, "
                "erasing per-group "
                "lrs; scale each group's base instead, e.g. "
                "`[base_lr * factor for base_lr in self.base_lrs]`",
            )
