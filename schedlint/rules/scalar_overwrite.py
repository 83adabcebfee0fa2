from schedlint.model.lr_expressions import computed_from, group_written, is_atom
from schedlint.rules.base import Fix, Report, clip, rule, some


@rule("SL101", "scalar-lr-overwrite", "error", fixable="unsafe")
def scalar_lr_overwrite(model):
    """One scalar `lr` is written to every param group of an optimizer whose groups differ.

    ## What it does
    Flags a loop over `optimizer.param_groups` (a for-loop, a comprehension, `map`, or
    `optimizer.param_groups[i]` over every index) that assigns `g["lr"]` a value that does not
    depend on the group, when the optimizer's groups were built with different learning rates.
    A value picked per group by a test of the index or the group (`if i < len(groups) - 1:
    ... else: ... * 10`) depends on the group.
    Also flags such a loop nested in a loop over several optimizers built with different
    learning rates (`for opt in (opt_g, opt_d):`, a GAN's two time-scale update rule), when
    the value is the same for all of them. The loop may be in a method of an optimizer
    subclass (`for g in self.param_groups:` in the `step()` of `class AdamW(torch.optim.Adam)`)
    when the file builds that optimizer with different learning rates; a file building,
    with different learning rates, such an optimizer of another module of the package is
    flagged at the construction.

    ## Why is this bad?
    Per-group learning rates (a backbone at 1e-5, a head at 1e-3) exist so the groups train at
    different speeds. Writing one number into every group erases that ratio for the rest of
    training; nothing fails, the model just trains worse.

    ## Example
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], momentum=0.9)
    for g in optimizer.param_groups:
        g["lr"] = warmup_lr
    ```

    ## Use instead
    ```python
    import torch

    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], momentum=0.9)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    for g, base_lr in zip(optimizer.param_groups, base_lrs):
        g["lr"] = base_lr * warmup_factor
    ```
    (`initial_lr` is set by any torch scheduler; otherwise keep the base LRs in a list and
    write `base_lrs[i] * factor`.)

    ## Fix
    Unsafe (`--fix --unsafe-fixes`), and only when the scalar was computed from the
    optimizer's own `lr=` default (`lr=base_lr` and `g["lr"] = base_lr * step / warmup`):
    that default is then the LR the scalar was meant for, and every group gets the scalar
    scaled by its own ratio to it. The value's own text is kept; it is wrapped, so
    `g["lr"] = base_lr * step / warmup` becomes
    ```python
    g["lr"] = g.setdefault("initial_lr", g["lr"]) * ((base_lr * step / warmup) / base_lr)
    ```
    (also inside `g.update(lr=...)` and `opt.param_groups[i]["lr"] = ...`). `setdefault` is
    what torch's schedulers do themselves: when a scheduler was built, `initial_lr` already
    holds each group's base LR; when none was, the first execution records the group's LR as
    built, and a scheduler built later keeps it. So the rewrite is correct with or without a
    scheduler, unlike a bare `g["initial_lr"]`, which raises `KeyError` without one.

    It is unsafe because it changes behaviour: every group whose LR is not the default now
    trains at a different LR (which is the point), and if something else wrote `g["lr"]`
    before the first execution without a scheduler, that value becomes the base. No fix is
    offered when the optimizer has no `lr=` default or the scalar is not computed from it
    (`g["lr"] = 1e-3` on groups built with 1e-5 and 1e-3): the LR the scalar was meant for
    is then a guess, and a wrong guess trains every other group at the wrong scale.
    """
    for write in model.lr_writes:
        if not write.all_groups or write.depends_on_group or not write.optimizers:
            continue
        if write.op not in ("=", "update"):
            continue  # *= keeps the ratio between groups
        if write.type_dispatched and not _handed_a_number(model, write):
            continue  # ``set_lr(opt, lrs)`` writing per group when handed a list
        # a helper may be called with several optimizers: any with distinct groups is hurt
        opt = next((o for o in write.optimizers if o.distinct_lrs() is not None), None)
        if opt is None:
            yield from _across_optimizers(model, write)
            continue
        distinct = opt.distinct_lrs()
        head = (
            f"one scalar lr `{clip(write.value.src, 26)}` overwrites all groups of "
            f"`{clip(write.optimizer_src, 20)}`"
        )
        message = f"{head} (built with lr {some(clip(lr, 16) for lr in distinct)})"
        if len(message) > 120:
            message = f"{head} (built with {len(distinct)} distinct lrs)"
        cls = write.via.in_class if write.via is not None else None
        where = (
            f"distinct lrs, and `{clip(cls.name, 30)}` writes one lr into them at "
            f"{model.where(write.via.node)}"
            if cls is not None
            else f"distinct lrs ({model.where(opt.node)}) and now all train at one"
        )
        yield Report(
            write.node,
            message,
            fix=_scaled_fix(model, write, opt) if write.via is None else None,
            help=f"The groups were built with {where}; scale each "
            f'group instead, e.g. `g["lr"] = g["initial_lr"] * factor`',
        )


def _handed_a_number(model, write) -> bool:
    """A helper that dispatches on the type of the lr it writes (one value, or one per
    group) still flattens the groups where a call hands it a plain number."""
    origin = write.via or write
    calls = model.arguments(origin.scope, origin.value.src) or ()
    return any(
        model.number(node, scope) is not None or model.is_float(node, scope)
        for scope, node in calls
    )


def _across_optimizers(model, write):
    """The write sits in a loop over several optimizers (``for opt in (opt_g, opt_d):``) and
    its value is the same for all of them, but they were built with different lrs: the
    ratio between the optimizers (TTUR in GANs, a slower teacher) is erased."""
    outer = write.loop.parent if write.loop is not None else None
    head = (write.optimizer_src or "").partition(".")[0]
    if outer is None or head not in outer.targets or len(write.optimizers) < 2:
        return
    if write.value.names & (outer.targets | outer.assigned):
        return  # computed per optimizer
    source = (outer.iter.dotted or "").partition(".")[0] if outer.iter is not None else ""
    if source in write.scope.params and source not in ("self", "cls"):
        calls = model.arguments(write.scope, source)
        if calls is None or len(calls) != 1:
            return  # several calls may each pass one optimizer, with an lr of its own
    bases = {}
    for opt in write.optimizers:
        lrs = opt.group_lrs()
        if not lrs or any(v is None for v in lrs) or len({v.src for v in lrs}) > 1:
            return  # a default or unknown lr somewhere: the ratio is not certain
        bases[opt.target] = lrs[0]
    numbers = {v.number for v in bases.values()}
    scopes = {id(o.scope) for o in write.optimizers}
    if None in numbers and len(scopes) > 1:
        return  # texts compare only within one scope
    if len({v.number if v.number is not None else v.src for v in bases.values()}) < 2:
        return
    built = ", ".join(f"`{clip(t, 16)}` at {clip(v.src, 12)}" for t, v in bases.items())
    yield Report(
        write.node,
        f"one scalar lr `{clip(write.value.src, 26)}` overwrites the groups of every optimizer "
        f"of this loop",
        help=f"They were built with different lrs ({built}) and now all train at one; "
        f'scale each group instead, e.g. `g["lr"] = g["initial_lr"] * factor`',
    )


def _reference_lr(opt, value):
    """The optimizer's ``lr=`` default as source text when the scalar was computed from it
    (the lr the scalar is meant for), else None: no fix."""
    ref = opt.default_lr
    if (
        ref is None
        or "\n" in ref.src
        or "#" in ref.src
        or ref.number == 0
        or not computed_from(value, ref)
    ):
        return None
    return ref.src if is_atom(ref) else f"({ref.src})"


def _scaled_fix(model, write, opt):
    base = _reference_lr(opt, write.value)
    group_src, quote = group_written(model, write)
    if base is None or group_src is None:
        return None
    if "\n" in group_src or "#" in group_src:
        return None
    line, col, end_line, end_col = model.position(write.value.node)
    wrap = not is_atom(write.value)
    q = quote
    prefix = f"{group_src}.setdefault({q}initial_lr{q}, {group_src}[{q}lr{q}]) * ("
    prefix += "(" if wrap else ""
    suffix = (")" if wrap else "") + f" / {base})"
    return Fix(
        "unsafe",
        f"scale each group by its own base lr (reference lr {base})",
        ((line, col, line, col, prefix), (end_line, end_col, end_line, end_col, suffix)),
    )
