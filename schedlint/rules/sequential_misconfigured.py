from schedlint.model.facts import Optimizer
from schedlint.rules.base import Report, clip, rule


@rule("SL305", "sequential-misconfigured", "error")
def sequential_misconfigured(model):
    """`SequentialLR`/`ChainedScheduler` built with arguments torch rejects or misreads.

    ## What it does
    Flags `SequentialLR` whose `milestones` list does not have exactly one entry fewer than its
    `schedulers` list, or whose milestones are not strictly increasing; and `SequentialLR` or
    `ChainedScheduler` containing a `ReduceLROnPlateau`, or children bound to different
    optimizers (or to another optimizer than the one passed to the composite).

    ## Why is this bad?
    Torch raises `ValueError` at construction for a wrong milestone count, a
    `ReduceLROnPlateau` child (its `step()` needs the metric) and children on different
    optimizers. Unsorted or repeated milestones are accepted silently but `bisect` then picks
    the wrong child: a scheduler is skipped or the hand-off happens at the wrong epoch.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = CosineAnnealingLR(optimizer, T_max=95)
    scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5, 100])
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, SequentialLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    warmup = LinearLR(optimizer, start_factor=0.1, total_iters=5)
    decay = CosineAnnealingLR(optimizer, T_max=95)
    scheduler = SequentialLR(optimizer, [warmup, decay], milestones=[5])
    ```
    """
    for sched in model.schedulers:
        if sched.cls not in ("SequentialLR", "ChainedScheduler") or sched.origin != "torch":
            continue
        # the list written inline, or bound to a name, grown, or returned by a helper
        count = len(sched.members) if sched.members is not None else None
        if sched.cls == "SequentialLR":
            milestones = sched.args.get("milestones")
            switches = len(sched.lists["milestones"]) if "milestones" in sched.lists else None
            if count is not None and switches is not None and switches != count - 1:
                yield Report(
                    milestones.node,
                    f"SequentialLR has {count} schedulers but "
                    f"{switches} milestone"
                    f"{'s' if switches != 1 else ''} (it needs "
                    f"{count - 1})",
                    help="It needs exactly one milestone per hand-off, and torch raises "
                    "`ValueError: Sequential Schedulers expects number of "
                    "schedulers provided to be one more than the number of "
                    "milestone points`; give one epoch per switch between "
                    "consecutive schedulers",
                )
            elif (
                milestones is not None
                and milestones.length
                and all(item.number is not None for item in milestones.items)
            ):
                numbers = [item.number for item in milestones.items]
                bad = next(
                    (i for i in range(1, len(numbers)) if numbers[i] <= numbers[i - 1]), None
                )
                if bad is not None:
                    yield Report(
                        milestones.node,
                        f"SequentialLR milestones `{clip(milestones.src, 30)}` are not "
                        f"strictly increasing ({clip(milestones.items[bad].src, 15)} "
                        f"after {clip(milestones.items[bad - 1].src, 15)})",
                        help="Torch accepts them but `bisect` then skips a scheduler or "
                        "switches at the wrong epoch; list the switch epochs in "
                        "increasing order",
                    )
        for index, child in enumerate(sched.children):
            if child.cls == "ReduceLROnPlateau":
                yield Report(
                    _where(sched, child),
                    f"{sched.cls} contains ReduceLROnPlateau `{clip(_name(child), 30)}` "
                    f"({model.where(child.node)}), which it cannot step",
                    help=f"At index {index}: its `step()` needs the metric, which "
                    f"{sched.cls} never passes, so torch raises ValueError "
                    f'("{sched.cls} does not support ReduceLROnPlateau '
                    f'scheduler"); step the plateau scheduler on its own with '
                    f"`plateau.step(val_loss)`",
                )
        yield from _different_optimizers(model, sched)


def _different_optimizers(model, sched):
    own_src = sched.args.get("optimizer")
    own = sched.optimizer if own_src is not None else None
    reference = own
    for child in sched.children:
        opt = child.optimizer
        if not isinstance(opt, Optimizer):
            continue
        if reference is None:
            reference = opt
            continue
        if opt is not reference:
            ref_src = own_src.src if own is not None else sched.children[0].optimizer_src
            yield Report(
                _where(sched, child),
                f"{sched.cls} child `{clip(_name(child), 25)}` is bound to "
                f"`{clip(child.optimizer_src, 25)}`, not to `{clip(ref_src, 25)}`",
                help=f"`{_name(child)}` ({child.cls}, {model.where(child.node)}) "
                f"is bound to `{child.optimizer_src}` ({model.where(opt.node)}),"
                f" but the {sched.cls} drives `{ref_src}` (line "
                f"{model.line(reference.node)}): torch raises `ValueError: "
                f"{sched.cls} expects all schedulers to belong to the same "
                f"optimizer`; build every child on the same optimizer",
            )
            return


def _name(child):
    return child.target or child.cls + "(...)"


def _where(sched, child):
    """The child's entry in the composite's list when it is written there, else the list."""
    children = sched.args.get("schedulers")
    if children is not None:
        for item in children.items:
            if item.node is child.node or item.dotted is not None and item.dotted == child.target:
                return item.node
        return children.node
    return sched.node
