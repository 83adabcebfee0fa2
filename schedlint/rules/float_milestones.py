from schedlint.rules.base import Report, clip, rule


@rule("SL309", "multistep-float-milestone", "error")
def multistep_float_milestone(model):
    """A `MultiStepLR` milestone is a float, which the integer epoch counter may never equal.

    ## What it does
    Flags a torch `MultiStepLR` milestone that is certainly a float: a float literal, a
    true division (`epochs / 2`), arithmetic with a float (`0.75 * epochs`), or a
    comprehension over float fractions (`[f * total for f in (0.3, 0.6)]`), also through a
    name bound to one. Milestones that may be ints or are unknown (`int(0.75 * epochs)`,
    `epochs // 2`, `cfg.milestones`) are never flagged, nor a float the model knows to be
    whole (`0.5 * 100`), nor a scheduler stepped with an epoch argument (that path bisects).

    ## Why is this bad?
    `MultiStepLR.step()` decays only when `last_epoch`, an int, is a key of its milestones
    `Counter`. `67.5` (`0.75 * 90`) or `22.5` (`0.75 * 30`) is never equal to an int, so
    that decay silently never happens and the run keeps its higher lr to the end.
    A float milestone works only when it happens to be whole, so changing the epoch count
    can break it.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import MultiStepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = MultiStepLR(optimizer, milestones=[0.5 * epochs, 0.75 * epochs], gamma=0.1)
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import MultiStepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    scheduler = MultiStepLR(optimizer, milestones=[int(0.5 * epochs), int(0.75 * epochs)])
    ```
    """
    for sched in model.schedulers:
        if sched.cls != "MultiStepLR" or sched.origin != "torch":
            continue
        milestones = sched.args.get("milestones")
        if milestones is None:
            continue
        if any(c.args or c.kwargs for c in model.steps_of(sched)):
            continue  # step(epoch) takes the closed form, which bisects: floats work there
        entries = sched.lists.get("milestones")
        if entries is not None:
            entries = [(node, scope) for node, scope, _ in entries]
        else:
            entries = model.entries(milestones.node, sched.scope) or ()
        for node, scope in entries:
            if not model.is_float(node, scope):
                continue
            number = model.number(node, scope)
            if number is not None and number == int(number):
                continue
            text = model.code(node) if not model.is_foreign(scope) else None
            at = node if text is not None else milestones.node
            shown = clip(text or milestones.src, 30)
            value = f" ({number!r})" if number is not None else ""
            yield Report(
                at,
                f"MultiStepLR milestone `{shown}`{value} is a float, which the integer "
                f"epoch counter may never equal",
                help="MultiStepLR decays only when `last_epoch` (an int) is one of its "
                "milestones, so a fractional milestone is skipped and that decay never "
                f"happens; round it, e.g. `int({clip(text or 'milestone', 40)})`",
            )
            break
