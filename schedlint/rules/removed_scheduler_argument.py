from schedlint.model import catalogue
from schedlint.model.calls import drop_arg_edit, statement_edit, super_init_calls, verbose_in
from schedlint.model.usage import call_node_of, names_of
from schedlint.rules.base import Fix, Report, clip, rule

# Classes whose old signature ended in ``verbose`` (torch < 2.7): an extra positional argument
# after the current signature is that removed ``verbose``. SWALR and ChainedScheduler never had
# one (an extra positional argument there is a plain TypeError).
_HAD_VERBOSE = catalogue.TORCH_SCHEDULERS - {"SWALR", "ChainedScheduler"}
_BASE_SIGNATURE = ("optimizer", "last_epoch")  # LRScheduler.__init__ / _LRScheduler.__init__


def _drop_arg_fix(model, call, arg, what: str):
    return Fix("safe", f"Remove {what}", (drop_arg_edit(model, call, arg),))


def _torch_base(cls_info):
    """The torch signature of the single torch scheduler base of a class, else None."""
    if len(cls_info.bases) != 1:
        return None
    base = cls_info.bases[0]
    if base in catalogue.SCHEDULER_BASES:
        return _BASE_SIGNATURE
    short = catalogue.scheduler_class(base)
    if short in catalogue.TORCH_SCHEDULERS:
        return catalogue.SCHEDULER_SIGNATURES[short]
    return None


@rule("SL208", "removed-scheduler-argument", "error", fixable="safe")
def removed_scheduler_argument(model):
    """`verbose=` passed to a torch scheduler, or `print_lr()` called: both are gone.

    ## What it does
    Flags `verbose=` (by keyword, or as the extra trailing positional argument old code passed)
    in the construction of a torch scheduler, in `super().__init__(...)` of a torch scheduler
    subclass, and calls of `print_lr()` on a torch scheduler.

    ## Why is this bad?
    The `verbose` parameter and `print_lr()` were deprecated and then removed from
    `torch.optim.lr_scheduler`. On current torch the construction raises
    `TypeError: StepLR.__init__() got an unexpected keyword argument 'verbose'` and `print_lr()`
    raises `AttributeError`: the training script dies before (or right after) its first epoch.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30, verbose=True)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=30)
    # log it yourself where you need it:
    print(f"lr {scheduler.get_last_lr()}")
    ```

    ## Fix
    Safe: the `verbose` argument is removed (it only printed), and a `print_lr(...)` statement is
    deleted (replaced by `pass` when it is the only statement of its block).
    """
    names = names_of(model)
    for sched in model.schedulers:
        if sched.origin != "torch":
            continue
        call = call_node_of(sched)
        if call is None:
            continue
        signature = catalogue.signature_of(sched.cls)
        found = verbose_in(call, signature, 0, sched.cls in _HAD_VERBOSE)
        if found is None:
            continue
        arg, what, fixable = found
        yield Report(
            arg,
            f"{what} to `{sched.cls}` raises TypeError: torch schedulers no longer take `verbose`",
            fix=_drop_arg_fix(model, call, arg, "the `verbose` argument") if fixable else None,
            help=f"Drop it and log `{sched.target or 'scheduler'}.get_last_lr()` where needed",
        )
    for cls_info in model.classes:
        signature = _torch_base(cls_info)
        init = cls_info.methods.get("__init__")
        if signature is None or init is None:
            continue
        for call, skip in super_init_calls(init.node):
            found = verbose_in(call, signature, skip, True)
            if found is None:
                continue
            arg, what, fixable = found
            yield Report(
                arg,
                f"{what} to `{clip(cls_info.bases[0].rpartition('.')[2], 30)}"
                f".__init__` raises TypeError: it no longer takes `verbose`",
                fix=_drop_arg_fix(model, call, arg, "the `verbose` argument") if fixable else None,
                help=f"The torch scheduler base of `{cls_info.name}` no longer takes "
                f"`verbose`, so constructing `{cls_info.name}` raises TypeError; "
                f"drop it",
            )
    for call in model.calls:
        if call.method != "print_lr":
            continue
        scheds = names.schedulers(call)
        if scheds is not None:
            owner = f"a `{scheds[-1].cls}`"
        else:
            cls_info = _self_call_in_torch_subclass(model, call)
            if cls_info is None:
                continue
            owner = f"a `{cls_info.name}` (a torch scheduler subclass)"
        yield Report(
            call.node,
            f"`{clip(call.receiver, 30)}.print_lr()` raises AttributeError: "
            f"it was removed from torch schedulers",
            fix=_delete_statement_fix(model, call),
            help=f"`{call.receiver}` is {owner}; log `get_last_lr()` yourself",
        )


def _self_call_in_torch_subclass(model, call):
    if call.receiver != "self":
        return None
    for s in call.scope.function_chain():
        if s.cls is not None:
            cls_info = s.cls
            if _torch_base(cls_info) is not None and "print_lr" not in cls_info.methods:
                return cls_info
            return None
    return None


def _delete_statement_fix(model, call):
    """Delete the statement ``print_lr(...)`` when it is a statement of its own."""
    found = statement_edit(model, call)
    if found is None:
        return None
    edit, alone = found
    return Fix(
        "safe",
        "Replace `print_lr()` with `pass`" if alone else "Remove the `print_lr()` call",
        (edit,),
    )
