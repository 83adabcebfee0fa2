import re

from schedlint.model.catalogue import GROUP_BOUNDS
from schedlint.model.lr_expressions import certainly_scalar, computed_from, is_atom, lr_names_of
from schedlint.rules.base import Fix, Report, clip, describe_groups, rule


@rule("SL102", "scalar-bound-overwrites-groups", "error", fixable="unsafe")
def scalar_bound_overwrites_groups(model):
    """A scalar `max_lr`/`base_lr` of OneCycleLR or CyclicLR on an optimizer whose groups differ.

    ## What it does
    Flags `OneCycleLR(optimizer, max_lr=<one number>)` and
    `CyclicLR(optimizer, base_lr=<one number>, max_lr=<one number>)` when the optimizer's
    param groups were built with different learning rates. A scheduler built by a factory
    of another module on the optimizer a call hands it (`scheduler =
    create_scheduler(optimizer, cfg, len(loader))`, the optimizer built here or by another
    factory, `create_optimizer(model, cfg)`) is reported at that call.

    ## Why is this bad?
    These two schedulers do not scale the groups' own LRs: they compute every group's LR from
    their bound arguments alone. With a scalar, OneCycleLR *assigns* every group
    `initial_lr = max_lr / div_factor` and CyclicLR sets every group's LR to `base_lr` at
    construction, so from step 0 all groups share one LR and the per-group ratio (a backbone
    at 1e-5, a head at 1e-3) is gone for the whole run. Nothing warns.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2, total_steps=1000)
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], momentum=0.9)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[10 * g["lr"] for g in optimizer.param_groups], total_steps=1000)
    ```
    (one value per group, in group order; `CyclicLR` takes lists for `base_lr` and `max_lr`
    the same way.)

    ## Fix
    Unsafe (`--fix --unsafe-fixes`), and only when each scalar bound is the optimizer's own
    `lr=` default or computed from it (`lr=base_lr` and `max_lr=10 * base_lr`): that default
    is then the LR the bound was meant for, and each flagged scalar argument becomes one
    value per group, scaled by that group's own base LR:
    ```python
    OneCycleLR(optimizer, max_lr=[g.get("initial_lr", g["lr"]) * ((10 * base_lr) / base_lr)
                                  for g in optimizer.param_groups], total_steps=1000)
    ```
    (on one line; `[g.get("initial_lr", g["lr"]) for g in ...]` when the scalar is the
    reference LR itself, e.g. `max_lr=args.lr` with `lr=args.lr`). The list is computed when
    the scheduler is built, from `initial_lr` (each group's base LR, once any scheduler was
    built on the optimizer: a warm-up scheduler built first has already scaled `g["lr"]`)
    or else the group's LR as built. It is unsafe because it changes the schedule of every
    group whose LR is not the default (the point), and because it reads the groups' LRs at
    that moment: anything that changed them earlier is baked in. No fix is offered when the
    optimizer has no `lr=` default or a bound is not computed from it (`max_lr=1e-2` on
    groups built with 1e-4 and 1e-3): the LR the bound was meant for is then a guess, and a
    wrong guess gives every other group a wrong peak.
    """
    for sched in model.schedulers:
        yield from _scalar_bounds(model, sched, sched.optimizer, None)
    # built by a factory of another module on the optimizer a call here hands it (itself
    # built here or by a factory): reported at that call, where the two meet
    for _, _, call, sched, opt in model.schedulers_from_factories():
        yield from _scalar_bounds(model, sched, opt, call)


def _scalar_bounds(model, sched, opt, call):
    """The report for ``sched``'s scalar bounds on ``opt``'s distinct group lrs: at the
    bound, or, for a scheduler a factory of another module builds, at the ``call`` here that
    hands it ``opt``."""
    bounds = GROUP_BOUNDS.get(sched.cls)
    if bounds is None or sched.origin != "torch" or opt is None:
        return
    branch = ""
    if opt.distinct_lrs() is None:
        # groups built differently in the arms of an `if`: the arm with distinct lrs
        opt = opt.in_branch()
        if opt is None or opt.distinct_lrs() is None:
            return
        branch = " in one branch of an `if`"
    lr_names = lr_names_of(opt)
    scalars = [
        (name, sched.args[name])
        for name in bounds
        if name in sched.args
        and certainly_scalar(
            sched.args[name].node, sched.scope, lr_names, arguments=model.arguments
        )
    ]
    if not scalars:
        return
    what = " and ".join(f"{n}={_passed(model, sched, v)[0]}" for n, v in scalars)
    # where a bound that is a parameter here comes from: its callers' value
    passed = "".join(
        f"`{v.src}` is the `{text}` passed on {model.where(node)}; "
        for _, v in scalars
        for text, node in [_passed(model, sched, v)]
        if node is not None
    )
    opt_name = sched.optimizer_src
    if sched.cls == "OneCycleLR":
        effect = (
            "OneCycleLR assigns every group initial_lr = max_lr / div_factor, so all "
            "groups share one lr from step 0"
        )
        fix = f'max_lr=[10 * g["lr"] for g in {opt_name}.param_groups]'
    elif any(n == "base_lr" for n, _ in scalars):
        effect = (
            "CyclicLR sets every group's lr to base_lr at construction and cycles "
            "them all identically"
        )
        fix = (
            f'base_lr=[g["lr"] for g in {opt_name}.param_groups], '
            f'max_lr=[10 * g["lr"] for g in {opt_name}.param_groups]'
        )
    else:
        effect = "CyclicLR drives every group to the same peak max_lr on each cycle"
        fix = f'max_lr=[10 * g["lr"] for g in {opt_name}.param_groups]'
    if call is not None:
        yield Report(
            call,
            f"`{clip(model.code(call).partition('(')[0], 30)}()` builds a {sched.cls} "
            f"whose scalar bound erases the distinct lrs of the groups",
            help=f"{sched.cls} is built with {what} ({model.where(sched.node)}) on the "
            f"optimizer handed in, which {describe_groups(model, opt)}{branch}, but "
            f"{effect}; pass one value per group instead, e.g. `{fix}`",
        )
        return
    yield Report(
        scalars[0][1].node,
        f"scalar {clip(what, 40)} in {sched.cls} erases the distinct lrs of the "
        f"groups of `{clip(opt_name, 30)}`",
        # a partial's bound is written where that optimizer is not in scope
        fix=None if sched.partial is not None else _per_group_fix(model, opt, opt_name, scalars),
        help=f"{passed}`{opt_name}` {describe_groups(model, opt)}{branch}, but {effect}; pass "
        f"one value per group instead, e.g. `{fix}`",
    )


def _passed(model, sched, value) -> str:
    """(the source of a bound, None), or, for a parameter of the function building the
    scheduler that every call binds to the same source (``learn.fit_one_cycle(5,
    max_lr=3e-3)``), (that source, the first such argument): the value the reader chose,
    not the parameter's name."""
    if value.kind != "name" or value.src not in sched.scope.params:
        return value.src, None
    bound = model.arguments(sched.scope, value.src) or []
    texts = {model.code(node) for _, node in bound}
    if len(texts) != 1:
        return value.src, None
    return texts.pop(), bound[0][1]


_DOTTED = re.compile(r"^[A-Za-z_][\w.]*$")


def _plain(v) -> bool:
    return v is not None and "\n" not in v.src and "#" not in v.src


def _per_group_fix(model, opt, opt_name, scalars):
    """Each scalar bound -> ``[g.get("initial_lr", g["lr"]) * (v / base) for g in opt...]``."""
    if not opt_name or not _DOTTED.match(opt_name):
        return None
    # The reference is the optimizer's lr= default, and only for a bound computed from it:
    # any other guess (the first group's lr) scales every other group wrongly.
    ref = opt.default_lr
    if not _plain(ref) or ref.number == 0:
        return None
    edits = []
    for _, v in scalars:
        if not _plain(v):
            return None
        var = next(n for n in ("g", "group", "pg", "_g") if n not in v.names | ref.names)
        base = f'{var}.get("initial_lr", {var}["lr"])'
        same = v.src == ref.src or (v.number is not None and v.number == ref.number)
        if same:
            scaled = base
        elif computed_from(v, ref):
            value = v.src if is_atom(v) else f"({v.src})"
            divisor = ref.src if is_atom(ref) else f"({ref.src})"
            scaled = f"{base} * ({value} / {divisor})"
        else:
            return None
        line, col, end_line, end_col = model.position(v.node)
        edits.append(
            (line, col, end_line, end_col, f"[{scaled} for {var} in {opt_name}.param_groups]")
        )
    return Fix(
        "unsafe",
        f"pass one bound per group, scaled by each group's own lr (reference lr {ref.src})",
        tuple(edits),
    )
