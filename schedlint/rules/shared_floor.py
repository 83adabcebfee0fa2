from schedlint.model.facts import Optimizer
from schedlint.model.lr_expressions import certainly_nonzero, lr_names_of
from schedlint.model.scheduler_classes import returned_floor, stored_from, written_floor
from schedlint.rules.base import Report, clip, describe_groups, rule

# class -> (argument, whether the class accepts one value per group)
_FLOORS = {
    "CosineAnnealingLR": ("eta_min", False),
    "CosineAnnealingWarmRestarts": ("eta_min", False),
    "ReduceLROnPlateau": ("min_lr", True),
    "SWALR": ("swa_lr", True),
}


@rule("SL103", "shared-floor-collapses-groups", "warning")
def shared_floor_collapses_groups(model):
    """A scalar LR floor or target (`eta_min`, `min_lr`, `swa_lr`) on groups with different LRs.

    ## What it does
    Flags a non-zero scalar `eta_min` (CosineAnnealingLR, CosineAnnealingWarmRestarts),
    `min_lr` (ReduceLROnPlateau) or `swa_lr` (SWALR) when the optimizer's param groups were
    built with different learning rates. A scheduler built by a factory of another module on
    the optimizer a call hands it (`scheduler = build_scheduler(cfg, optimizer)`, with
    `return CosineAnnealingLR(optimizer, T_max=cfg.epochs, eta_min=1e-6)` in `schedules.py`)
    is reported at that call. Also flags a custom scheduler class (an
    `LRScheduler` subclass or a plain class that writes the group lrs, of this file or
    imported from the tree) that anneals every group toward one attribute
    (`self.min_lr + (base_lr - self.min_lr) * cos`), at the non-zero argument that sets it,
    when the call hands it such an optimizer (groups listed with different lrs, or built in
    a loop whose lr varies with it, as in layer-wise lr decay).

    ## Why is this bad?
    The floor is absolute and shared: every group is annealed toward the same value. Early on
    the groups keep their ratio, but late in training it collapses: at `T_max` every group of
    a CosineAnnealingLR sits at `eta_min` (a 10x ratio becomes 1x), ReduceLROnPlateau clamps
    all groups to one `min_lr` once they reach it, and after `anneal_epochs` SWALR holds every
    group at `swa_lr`. The end of training, when the small LRs matter most, runs with the
    per-group design undone.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-3},
        {"params": model.head.parameters(), "lr": 1e-2},
    ], momentum=0.9)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, min_lr=1e-4)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-3},
        {"params": model.head.parameters(), "lr": 1e-2},
    ], momentum=0.9)
    plateau = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, min_lr=[g["lr"] * 0.01 for g in optimizer.param_groups])
    ```
    (`min_lr` and `swa_lr` accept one value per group. The cosine schedulers do not: keep
    `eta_min=0`, or use a `LambdaLR` whose factor has a relative floor, e.g.
    `lambda e: r + (1 - r) * 0.5 * (1 + math.cos(math.pi * e / T_max))`.)
    """
    for sched in model.schedulers:
        yield from _scalar_floor(model, sched, sched.optimizer, None)
    # built by a factory of another module on the optimizer a call here hands it: reported
    # at that call, where the groups and the floor meet
    for _, _, call, sched, opt in model.schedulers_from_factories():
        yield from _scalar_floor(model, sched, opt, call)
    yield from _custom_floors(model)


def _scalar_floor(model, sched, opt, call):
    """The report for ``sched``'s non-zero scalar floor on ``opt``'s distinct group lrs: at
    the floor, or, for a scheduler a factory of another module builds, at the ``call`` here
    that hands it ``opt``."""
    spec = _FLOORS.get(sched.cls)
    if spec is None or sched.origin != "torch" or opt is None:
        return
    arg, per_group = spec
    value = sched.args.get(arg)
    if value is None or opt.distinct_lrs() is None:
        return
    # the names the caller's lrs are built from are its own: in the factory they may be
    # anything (a parameter holding one lr per group)
    lr_names = lr_names_of(opt) if call is None else frozenset()
    if not certainly_nonzero(value.node, sched.scope, lr_names, arg == "swa_lr"):
        return
    # where the fix goes: the scheduler's construction, in the factory for one built there
    opt_name = sched.optimizer_src
    if sched.cls == "CosineAnnealingLR":
        effect = "at T_max every group reaches the same eta_min"
    elif sched.cls == "CosineAnnealingWarmRestarts":
        effect = "near the end of every cycle all groups approach the same eta_min"
    elif sched.cls == "ReduceLROnPlateau":
        effect = "once the groups are reduced to the floor they all sit at the same min_lr"
    else:
        effect = "after anneal_epochs every group trains at the same swa_lr"
    if per_group:
        advice = (
            f"pass one value per group, e.g. "
            f'`{arg}=[g["lr"] * 0.01 for g in {opt_name}.param_groups]`'
        )
    else:
        advice = (
            f"{sched.cls} takes no per-group {arg}: use eta_min=0, or a LambdaLR "
            f"whose factor has a relative floor "
            f"(`lambda e: r + (1 - r) * 0.5 * (1 + math.cos(math.pi * e / T_max))`)"
        )
    if call is not None:
        yield Report(
            call,
            f"`{clip(model.code(call).partition('(')[0], 20)}()` gives every group one floor: "
            f"scalar {arg}={clip(value.src, 15)} in its {sched.cls}",
            help=f"{sched.cls} is built with {arg}={clip(value.src, 30)} "
            f"({model.where(sched.node)}) on the optimizer handed in, which "
            f"{describe_groups(model, opt)}, but {effect}, so the ratio between the groups "
            f"collapses late in training; {advice}",
        )
        return
    yield Report(
        value.node,
        f"scalar {arg}={clip(value.src, 30)} in {sched.cls} gives every group of "
        f"`{clip(opt_name, 30)}` the same floor",
        help=f"`{opt_name}` {describe_groups(model, opt)}, but {effect}, so the "
        f"ratio between the groups collapses late in training; {advice}",
    )


def _floor_of(model, cls):
    """The attribute a custom scheduler anneals every group toward, from its ``get_lr`` or
    from its lr writes over the groups."""
    get_lr = cls.methods.get("get_lr")
    for ret in get_lr.returns if get_lr is not None else ():
        attr = returned_floor(get_lr, ret)
        if attr is not None:
            return attr
    for write in model.lr_writes:
        own = write.via or write
        if own.in_class is cls and own.depends_on_group:
            attr = written_floor(own)
            if attr is not None:
                return attr
    return None


def _custom_floors(model):
    """A custom scheduler class (of this file or imported) whose ``self.min_lr`` floor is one
    number for every group, built here with a non-zero floor on groups with distinct lrs."""
    for cls in model.scheduler_classes():
        init = cls.methods.get("__init__")
        attr = _floor_of(model, cls)
        param = stored_from(init, attr) if attr is not None else None
        if param is None or len(init.params) < 2:
            continue
        for caller, bound in model.bindings(init.scope):
            floor, given = bound.get(param), bound.get(init.params[1])
            text = model.value(given).dotted if given is not None else None
            if floor is None or text is None:
                continue
            held = [o for o in model.holds(caller, text) if isinstance(o, Optimizer)]
            opt = next((o for o in held if model.varied_group_lrs(o) is not None), None)
            if opt is None or not (
                certainly_nonzero(floor, caller, lr_names_of(opt), False)
                or model.number(floor, caller) not in (None, 0)
                or model.value(floor).kind == "name"
                and model.parameter_number(caller, model.code(floor)) not in (None, 0)
            ):
                continue
            groups = (
                describe_groups(model, opt)
                if opt.distinct_lrs() is not None
                else f"builds its groups with per-group lrs "
                f"`{clip(model.varied_group_lrs(opt)[0], 30)}` ({model.where(opt.node)})"
            )
            yield Report(
                floor,
                f"scalar {param}={clip(model.code(floor), 30)} in {clip(cls.name, 30)} gives "
                f"every group of `{clip(text, 30)}` the same floor",
                help=f"`{text}` {groups}, but `{cls.name}` anneals every group toward the one "
                f"`self.{attr}`, so the ratio between the groups collapses late in training "
                f"(a group below the floor even rises); keep one floor per group, e.g. "
                f"`self.{attr}s = [base_lr * ratio for base_lr in self.base_lrs]`",
            )
