from schedlint.model import catalogue
from schedlint.model.facts import Optimizer
from schedlint.model.frameworks import (
    backbone_finetunings,
    configured_for_hook,
    fitted_configured_schedulers,
)
from schedlint.model.uses import exclusive
from schedlint.rules.base import Report, clip, placed, rule

# What the new group suffers, by class (semantics §1.3, measured on torch 2.13).
_OUTCOME = {
    "StepLR": "it happens to decay with the others today (StepLR reads the groups directly), "
    "but `step(epoch)`, a SequentialLR hand-off or a resume through `last_epoch` "
    "raises on it",
    "ConstantLR": "it never gets the start factor but does get the undo at `total_iters`, so "
    "it silently ends at lr/factor",
    "CosineAnnealingLR": "the restart branch (epoch T_max+1) zips with `base_lrs` and raises "
    "`ValueError: zip() argument 2 is longer than argument 1`",
    "LambdaLR": "the next `step()` raises `ValueError: zip() argument 2 is shorter than "
    "argument 1`",
    "MultiplicativeLR": "the next `step()` raises `ValueError: zip() argument 2 is longer than "
    "argument 1`",
    "OneCycleLR": "the next `step()` raises `KeyError: 'initial_lr'`",
    "SWALR": "the next `step()` raises `KeyError: 'swa_lr'`",
    "ReduceLROnPlateau": "its per-group `min_lr` list no longer matches: the first reduction "
    "raises `RuntimeError: The number of param groups in the `optimizer` "
    "... differs`",
    "SequentialLR": "the active child mis-schedules or rejects it, and the next milestone "
    "raises `ValueError` (zip with `base_lrs`)",
    "ChainedScheduler": "each child mis-schedules or rejects it",
}
for _cls in ("MultiStepLR", "ExponentialLR", "PolynomialLR"):
    _OUTCOME[_cls] = _OUTCOME["StepLR"].replace("StepLR", _cls)
_OUTCOME["LinearLR"] = _OUTCOME["ConstantLR"]
for _cls in ("CosineAnnealingWarmRestarts", "CyclicLR"):
    _OUTCOME[_cls] = _OUTCOME["LambdaLR"]
_DEFAULT_OUTCOME = "it is mis-scheduled or makes the next `step()` raise"


@rule("SL302", "param-group-added-after-scheduler", "error")
def param_group_added_after_scheduler(model):
    """`optimizer.add_param_group(...)` after a scheduler was bound to that optimizer.

    ## What it does
    Flags `opt.add_param_group(...)` that runs after a scheduler was built on `opt` in the
    same function (or in `__init__` of the class whose method adds the group, or handed with
    `opt` to the function that adds it: `distiller.train(optimizer, scheduler)`, also across
    modules, or that function called from where the scheduler exists:
    `unfreeze(self.optimizer, ...)` in a trainer's `fit`), when that scheduler is not
    rebuilt afterwards. A method that `__init__` calls before it builds the scheduler
    (`self.add_backbone_group(lr)`) adds its group in time and is not flagged. A helper of
    another module that adds the group (`utils.unfreeze_backbone(model, optimizer)`, a
    callback's `on_epoch_start(epoch, model, optimizer)`) is reported at the call that runs
    it, also when the callback's class is known only to the module that builds its objects
    and hands them to the trainer (`Trainer(..., callbacks=[GradualUnfreeze(...)])` in
    `train.py`). A method of an object the file is only handed
    (`self.detector.release_backbone(self.optimizer)` in an engine given its detector by a
    script the tree need not hold) is read from the one class next to the file that defines
    a method of that name, and reported at that call; with several such classes nothing is
    reported. Lightning's `BaseFinetuning.unfreeze_and_add_param_group(modules, optimizer)`
    in a callback's `finetune_function` adds a group to an optimizer whose schedulers
    `configure_optimizers` built before training started (the LightningModule may live in
    a third module, imported by the script that fits it with the callback); Lightning's own
    `BackboneFinetuning(...)`, built next to the LightningModule whose
    `configure_optimizers` builds the scheduler, adds the backbone's group the same way and
    is reported where it is built.

    ## Why is this bad?
    A scheduler captures the groups when it is built: it writes `initial_lr` into each and keeps
    one `base_lrs` entry (and one lambda, one `min_lr`, ...) per group. A group added later has
    no `initial_lr` and no entry, so depending on the class it is silently mis-scheduled
    (ConstantLR/LinearLR end at lr/factor), or the next `step()` raises (`ValueError` from a
    length-checked `zip` for LambdaLR, CyclicLR, CosineAnnealingWarmRestarts,
    MultiplicativeLR; `KeyError` for OneCycleLR and SWALR). This is the classic "unfreeze the
    backbone in epoch 5" bug.

    ## Example
    ```python
    import torch
    from transformers import get_linear_schedule_with_warmup

    optimizer = torch.optim.AdamW(model.head.parameters(), lr=1e-3)
    scheduler = get_linear_schedule_with_warmup(optimizer, 100, 10_000)
    ...
    optimizer.add_param_group({"params": model.backbone.parameters(), "lr": 1e-5})
    ```

    ## Use instead
    ```python
    import torch
    from transformers import get_linear_schedule_with_warmup

    # Give the optimizer every group up front (frozen parameters get no gradient) ...
    optimizer = torch.optim.AdamW([
        {"params": model.head.parameters(), "lr": 1e-3},
        {"params": model.backbone.parameters(), "lr": 1e-5},
    ])
    scheduler = get_linear_schedule_with_warmup(optimizer, 100, 10_000)
    # ... or rebuild the scheduler right after add_param_group.
    ```
    """
    for call in model.calls_of("add_param_group"):
        opt = call.target
        if not isinstance(opt, Optimizer):
            continue
        if call.via is not None and any(
            getattr(s, "optimizer", None) is opt for s in model.received(call.via.scope)
        ):
            continue  # handed the scheduler too (`trainer.fit(optimizer, scheduler)`): its
            # module reports the call itself
        handed = [s for s in model.received(call.scope) if getattr(s, "optimizer", None) is opt]
        # built by Lightning's ``configure_optimizers`` before a finetuning callback runs
        handed += [s for s in configured_for_hook(model, opt, call) if s not in handed]
        bound = [
            s
            for s in model.schedulers_of(opt)
            + [h for h in handed if all(h is not s for s in model.schedulers)]
            if s.parent is None
            and _matters(s)
            # built earlier here, or handed to the function that adds the group
            and (any(h is s for h in handed) or _runs_before(model, s, call))
        ]
        if not bound:
            continue
        if _rebuilt_after(model, opt, call, bound):
            continue
        bound = (
            [s for s in bound if not exclusive(call.scope.node, s.node, call.node)]
            if all(s.scope is call.scope for s in bound)
            else bound
        )
        if not bound:
            continue
        sched = bound[-1]
        name = f" `{clip(sched.target, 20)}`" if sched.target else ""
        outcome = _OUTCOME.get(sched.cls, _DEFAULT_OUTCOME)
        if catalogue.is_transformers_factory(sched.cls):
            outcome = _OUTCOME["LambdaLR"]
        # a helper's ``add_param_group`` is reported at the call here that runs it
        inside = f" in `{clip(call.via.scope.name, 25)}`" if call.via is not None else ""
        added = (
            f"`{clip(call.via.scope.name, 25)}` adds the group on {model.where(call.via.node)}. "
            if call.via is not None
            else ""
        )
        site = _caller_after(model, sched, call) if call.via is None else None
        if site is not None:
            inside = f" in `{clip(call.scope.name, 25)}`"
            added = (
                f"`{clip(site.scope.name, 25)}` runs `{clip(call.scope.name, 25)}` on "
                f"{model.where(site.node)}, after the scheduler is built. "
            )
        callee = f"{clip(call.receiver, 25)}.add_param_group"
        if call.via is None and not model.code(call.node.func).endswith(".add_param_group"):
            # Lightning's ``self.unfreeze_and_add_param_group(modules, optimizer)``
            callee = clip(model.code(call.node.func), 40)
        here, there = placed(model, sched.node)
        built = f"The {sched.cls} is built on {there}. " if there else ""
        yield Report(
            call.node,
            f"`{callee}(...)`{inside} runs after scheduler{name}{here} was built on it",
            help=f"{added}{built}The new group has no `initial_lr` and no `base_lrs` entry in "
            f"the {sched.cls}, and "
            f"{outcome}; pass every group to the optimizer before building the "
            f"scheduler, or rebuild the scheduler after adding the group",
        )
    yield from _backbone_finetuning(model)


def _backbone_finetuning(model):
    """Lightning's own ``BackboneFinetuning(...)`` built in a function that also builds a
    LightningModule (of this file or an imported module) whose ``configure_optimizers``
    builds a scheduler: the callback adds the backbone to that scheduler's optimizer as a
    new group."""
    for value in backbone_finetunings(model):
        scheds = [
            s
            for s in fitted_configured_schedulers(model, value.node)
            if s.parent is None and _matters(s)
        ]
        if not scheds:
            continue
        sched = scheds[0]
        outcome = _OUTCOME.get(sched.cls, _DEFAULT_OUTCOME)
        if catalogue.is_transformers_factory(sched.cls):
            outcome = _OUTCOME["LambdaLR"]
        yield Report(
            value.node,
            f"`BackboneFinetuning` adds a param group after the {clip(sched.cls, 30)} of "
            f"`configure_optimizers` exists",
            help=f"The {sched.cls} is built on {model.where(sched.node)}; at "
            f"`unfreeze_backbone_at_epoch` the callback calls "
            f"`optimizer.add_param_group(...)` on the optimizer the {sched.cls} was built on "
            f"before training started; the new group has no `initial_lr` and no `base_lrs` "
            f"entry, and {outcome}; give the optimizer the backbone's group up front "
            f"(frozen parameters get no gradient) instead of the callback",
        )


def _outermost(chains) -> list:
    """The chains no other chain extends: each runs out to a function nothing here calls."""
    return [c for c in chains if not any(len(d) > len(c) and d[: len(c)] == c for d in chains)]


def _runs_before(model, sched, call) -> bool:
    """The scheduler certainly exists when the group is added: built earlier in the same
    function, by a factory the function called before (``opt, sched = build(model)``), in a
    function that then calls (through a few calls) the one adding the group (a callback's
    ``on_epoch_start(epoch, optimizer)`` in the training loop, ``unfreeze(self.optimizer,
    ...)`` in a trainer's method), or in ``__init__`` of the class whose other method adds the
    group, unless that method runs only from ``__init__`` before the scheduler is built
    (``self.add_backbone_group()`` first)."""
    if sched.scope is call.scope:
        return sched.order < call.order
    if any(
        caller is call.scope and model.starts_before(site, call.node, caller.node)
        for caller, site, _ in model.call_sites(sched.scope)
    ):
        return True
    return _way_in(model, sched, call) is not None


def _way_in(model, sched, call):
    """A chain of calls (``Site``s, from the group's addition out) that runs the addition
    after ``sched`` is built in another function; None when there is none."""
    init_of = sched.scope.cls if sched.scope.name == "__init__" else None
    for chain in _outermost(model.call_chains(call)):
        for site in chain[1:]:
            if site.scope is sched.scope:
                if _built_first(model, sched, site):
                    return chain
                break  # this way in runs before the scheduler is built
        else:
            if init_of is not None and any(site.scope.cls is init_of for site in chain):
                return chain
    return None


def _built_first(model, fact, site) -> bool:
    """``fact`` (a construction or a rebinding) comes before the call ``site`` in the function
    holding both: by the structure of this file, by source order in another module's code."""
    if site.here:
        return model.starts_before(fact.node, site.node, site.scope.node)
    return fact.order < site.order


def _caller_after(model, sched, call):
    """The call that runs the function adding the group, from the code that runs after the
    scheduler is built (``unfreeze(...)`` in ``Trainer.fit``); None when the group is added
    in the function that builds it, or by a method of its class."""
    if sched.scope is call.scope:
        return None
    chain = _way_in(model, sched, call)
    return chain[1] if chain is not None and len(chain) > 1 else None


def _matters(sched) -> bool:
    if sched.cls == "ReduceLROnPlateau":
        # A scalar min_lr is re-expanded to the new group count: nothing breaks.
        min_lr = sched.args.get("min_lr")
        return min_lr is not None and min_lr.is_sequence
    return True


def _rebuilt_after(model, opt, call, bound) -> bool:
    """A scheduler built on ``opt``, or the scheduler variable reassigned, after the call in
    the same function, in another function that may run after it (``self._build_sched()``
    called from the method that adds the group), or by the caller after calling the function
    that adds the group."""
    known = {id(s.scope) for s in bound}
    sites = [site for chain in model.call_chains(call) for site in chain[1:]]

    def maybe_after(fact):
        if fact.scope is call.scope:
            return fact.order > call.order
        # rebuilt by a caller once the function that adds the group has run
        return id(fact.scope) not in known or any(
            site.scope is fact.scope and not _built_first(model, fact, site) for site in sites
        )

    if any(maybe_after(s) for s in model.schedulers_of(opt) if s not in bound):
        return True
    keys = {s.key for s in bound if s.key is not None}
    return any(r.key in keys and maybe_after(r) for r in model.rebinds)
