from schedlint.rules.base import Report, rule


@rule("SL101", "scalar-lr-overwrite", "error")
def scalar_lr_overwrite(model):
    """One scalar `lr` is written to every param group of an optimizer whose groups differ.

    ## What it does
    Flags a loop over `optimizer.param_groups` (a for-loop, a comprehension, `map`, or
    `optimizer.param_groups[i]` over every index) that assigns `g["lr"]` a value that does not
    depend on the group, when the optimizer's groups were built with different learning rates.

    ## Why is this bad?
    Per-group learning rates (a backbone at 1e-5, a head at 1e-3) exist so the groups train at
    different speeds. Writing one number into every group erases that ratio for the rest of
    training; nothing fails, the model just trains worse.

    ## Example
    ```python
    optimizer = torch.optim.SGD([
        {"params": model.backbone.parameters(), "lr": 1e-4},
        {"params": model.head.parameters(), "lr": 1e-3},
    ], momentum=0.9)
    for g in optimizer.param_groups:
        g["lr"] = warmup_lr
    ```

    ## Use instead
    ```python
    for g in optimizer.param_groups:
        g["lr"] = g["initial_lr"] * warmup_factor
    ```
    (`initial_lr` is set by any torch scheduler; otherwise keep the base LRs in a list and
    write `base_lrs[i] * factor`.)
    """
    for write in model.lr_writes:
        opt = write.optimizer
        if not write.all_groups or write.depends_on_group or opt is None:
            continue
        if write.op not in ("=", "update"):
            continue  # *= keeps the ratio between groups
        distinct = opt.distinct_lrs()
        if distinct is None:
            continue
        built = " and ".join(distinct)
        yield Report(write.node,
                     f"one scalar lr `{write.value.src}` is written to every group of "
                     f"`{write.optimizer_src}`, whose groups were built with lr {built} "
                     f"(line {model.line(opt.node)}); scale each group instead, e.g. "
                     f"`g[\"lr\"] = g[\"initial_lr\"] * factor`")
