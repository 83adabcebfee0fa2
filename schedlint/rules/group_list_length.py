from schedlint.model.facts import Optimizer
from schedlint.model.uses import group_list_private
from schedlint.rules.base import Report, clip, rule

# Arguments that take one value per param group, by class, and the error torch raises.
_PER_GROUP = {
    "LambdaLR": ("lr_lambda",),
    "MultiplicativeLR": ("lr_lambda",),
    "CyclicLR": ("base_lr", "max_lr", "base_momentum", "max_momentum"),
    "OneCycleLR": ("max_lr", "base_momentum", "max_momentum"),
    "ReduceLROnPlateau": ("min_lr",),
    "SWALR": ("swa_lr",),
}
_MOMENTUM = ("base_momentum", "max_momentum")


def _error(cls, arg, got, groups):
    if arg == "lr_lambda":
        return f"ValueError: Expected {groups} lr_lambdas, but got {got}"
    if cls == "ReduceLROnPlateau":
        return f"ValueError: expected {groups} min_lrs, got {got}"
    return (
        f"ValueError: {arg} must have the same length as optimizer.param_groups. "
        f"{arg} has {got} values, param_groups has {groups}."
    )


@rule("SL303", "per-group-list-length-mismatch", "error")
def per_group_list_length_mismatch(model):
    """A per-group list argument whose length differs from the number of param groups.

    ## What it does
    Flags a list or tuple literal given to a per-group scheduler argument (`lr_lambda` of
    LambdaLR/MultiplicativeLR, `base_lr`/`max_lr`/momenta of CyclicLR and OneCycleLR, `min_lr` of
    ReduceLROnPlateau, `swa_lr` of SWALR) when its length differs from the number of param
    groups of the optimizer, and both are known from the source.

    ## Why is this bad?
    These arguments are matched to the groups one to one. Torch checks the length and raises
    `ValueError` at construction (`Expected 2 lr_lambdas, but got 3`, `max_lr must have the same
    length as optimizer.param_groups`): usually a group was added to or removed from the
    optimizer and the scheduler's list was not updated.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import OneCycleLR

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ])
    scheduler = OneCycleLR(optimizer, max_lr=[1e-3, 1e-2, 1e-2], total_steps=1000)
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import OneCycleLR

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ])
    scheduler = OneCycleLR(optimizer, max_lr=[1e-3, 1e-2], total_steps=1000)
    ```
    """
    for sched in model.schedulers:
        args = _PER_GROUP.get(sched.cls)
        opt = sched.optimizer
        if args is None or sched.origin != "torch" or not isinstance(opt, Optimizer):
            continue
        groups = _group_count(model, opt, sched)
        if groups is None:
            continue
        cycle = sched.args.get("cycle_momentum")
        for arg in args:
            value = sched.args.get(arg)
            # written inline, or a name bound to a list (``lr_lambda=warmups``)
            length = len(sched.lists[arg]) if arg in sched.lists else None
            if value is None or length is None or length == groups:
                continue
            if arg in _MOMENTUM and cycle is not None and cycle.src != "True":
                continue  # momenta are only read with cycle_momentum=True (the default)
            yield Report(
                value.node,
                f"`{arg}` of {sched.cls} has {length} "
                f"value{'s' if length != 1 else ''} but "
                f"`{clip(sched.optimizer_src, 30)}` has {groups} param group"
                f"{'s' if groups != 1 else ''}",
                help=f"Torch raises `{_error(sched.cls, arg, length, groups)}` "
                f"(the optimizer is built on {model.where(opt.node)}); give "
                f"exactly one value per group, in the groups' order",
            )


def _group_count(model, opt, sched):
    """The number of groups ``opt`` has when ``sched`` is built, if certainly known."""
    if not opt.groups:
        return None
    for call in model.calls:
        if (
            call.target is opt
            and call.method == "add_param_group"
            and (call.order < sched.order or call.scope is not sched.scope)
        ):
            return None
    if not group_list_private(model, opt):
        return None
    return len(opt.groups)
