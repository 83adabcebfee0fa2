from schedlint.model.builder import binding_key
from schedlint.model.facts import Optimizer, Scheduler
from schedlint.model.usage import (
    assigned_value,
    branches_of,
    call_node_of,
    is_epoch_loop,
    is_known,
)
from schedlint.model.uses import HARMLESS_METHODS, exclusive, uses
from schedlint.rules.base import Report, clip, rule


@rule("SL307", "scheduler-bound-to-stale-optimizer", "error")
def scheduler_bound_to_stale_optimizer(model):
    """The optimizer variable a scheduler was built on is rebound to a new optimizer.

    ## What it does
    Flags a new optimizer construction assigned to the variable an existing scheduler was built
    on (directly, or as the result of a function of this module or another that builds a new
    optimizer on every call: `optimizer = make_optimizer(model, args)`), when, later in the
    same function, the new optimizer is stepped and the old scheduler is still stepped (it was
    not rebuilt on the new optimizer).

    Also flags a scheduler built, unconditionally, in the body of an epoch loop and stepped
    in that loop (a scheduler per training stage or fold, or one built under
    `if epoch == unfreeze_at:`, is not flagged), directly or through a factory or trainer
    method called unconditionally in that loop (`optimizer, scheduler = build_optim(...)`).

    ## Why is this bad?
    A scheduler holds a reference to the optimizer *object* it was built with, not to the
    variable. After `optimizer = AdamW(...)` the scheduler keeps writing learning rates into the
    old optimizer, which nobody steps any more; the optimizer that trains keeps its initial lr
    for the rest of training (no warm-up, no decay), and nothing fails.

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    if args.finetune:
        optimizer = torch.optim.SGD(model.head.parameters(), lr=0.01)
    for epoch in range(epochs):
        train(model, optimizer)
        scheduler.step()
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import CosineAnnealingLR

    if args.finetune:
        optimizer = torch.optim.SGD(model.head.parameters(), lr=0.01)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = CosineAnnealingLR(optimizer, T_max=epochs)
    for epoch in range(epochs):
        train(model, optimizer)
        scheduler.step()
    ```
    """
    yield from _rebuilt_every_epoch(model)
    yield from _rebound_through_factory(model)
    for sched in model.schedulers:
        old = sched.optimizer
        if (
            sched.parent is not None
            or sched.target is None
            or not isinstance(old, Optimizer)
            or old.key is None
        ):
            continue
        for new in model.optimizers:
            if (
                new is old
                or new.key != old.key
                or new.order <= sched.order
                or new.scope is not sched.scope
            ):
                continue
            # The scheduler variable pointed elsewhere after the new optimizer was built.
            rebound = [r.order for r in model.rebinds if r.key == sched.key and r.order > new.order]
            steps = [
                c
                for c in model.steps_of(sched)
                if c.order > new.order
                and c.scope is sched.scope
                and all(c.order < o for o in rebound)
            ]
            if not steps:
                continue
            # Stepped here, in a function reading the same (module-level) variable, or handed on.
            used = [c.node for c in model.optimizer_steps(new)] or _passed_on(model, new)
            if not used:
                continue
            if _old_kept_elsewhere(model, old, new):
                continue
            root = sched.scope.node
            if exclusive(root, sched.node, new.node) or exclusive(root, new.node, steps[0].node):
                continue
            yield Report(
                new.node,
                f"`{clip(new.target, 30)}` is rebound to a new {new.cls} here, but "
                f"scheduler `{clip(sched.target, 30)}` still drives the old one",
                help=f"`{sched.target}` ({sched.cls}, {model.where(sched.node)}) is "
                f"bound to the {old.cls} from {model.where(old.node)}: its "
                f"`step()` (line {model.line(steps[0].node)}) schedules an "
                f"optimizer nobody steps, while the new one (used at line "
                f"{model.line(used[0])}) keeps its initial lr; build the scheduler "
                f"after the final optimizer, or rebuild it here",
            )
            break


def _passed_on(model, new):
    """Calls after ``new`` is built that receive it (``train(model, optimizer)``), except
    scheduler constructors."""
    return _handed_on(model, new.scope.node, new.target, model.line(new.node))


def _handed_on(model, root, target, line):
    """Calls under ``root`` after ``line`` that receive the variable ``target``, except
    scheduler constructors."""
    ctors = {id(call_node_of(s)) for s in model.schedulers}
    return [
        u.call
        for u in uses(root, target)
        if u.kind == "argument" and id(u.call) not in ctors and model.line(u.node) > line
    ]


def _rebound_through_factory(model):
    """The optimizer variable a scheduler was built on rebound to the result of a function
    that constructs an optimizer on every call (``optimizer = make_optimizer(model, args)``
    on an unfreeze epoch), the old scheduler stepped after it and the new optimizer used."""
    for sched in model.schedulers:
        if sched.parent is not None or sched.target is None or not is_known(sched):
            continue
        key = binding_key(sched.scope, sched.optimizer_src)
        if key is None or sched.optimizer_src in ("self", "cls"):
            continue
        for r in model.rebinds:
            if r.key != key or r.unpacked or r.order <= sched.order and r.scope is sched.scope:
                continue
            if r.scope is not sched.scope and not (
                key[0] == "class" and sched.scope.name == "__init__"
            ):
                continue  # a method building the first optimizer may run after this one
            value = assigned_value(model, r)
            if value is None or value.kind != "call":
                continue
            new = _constructed_by(model, r, value)
            if new is None:
                continue
            # the scheduler rebuilt, or pointed at the new optimizer, ends the old schedule
            later = [
                o.order
                for o in model.rebinds
                if o.order > r.order
                and (o.key == sched.key or o.target == f"{sched.target}.optimizer")
            ]
            end = min(later, default=None)
            steps = [
                c for c in model.steps_of(sched) if c.via is None and _runs_after(model, r, c, end)
            ]
            if not steps:
                continue
            root = r.scope.node
            if (steps[0].scope is r.scope and exclusive(root, r.node, steps[0].node)) or (
                r.scope is sched.scope and exclusive(root, sched.node, r.node)
            ):
                continue
            first = model.line(sched.node) if r.scope is sched.scope else 0
            if _kept_between(model, root, r.target, first, model.line(r.node)):
                continue  # the first optimizer may still be stepped through another name
            used = [
                c.node
                for c in model.optimizer_steps(new)
                if c.via is None
                and (c.scope is not r.scope or c.receiver == r.target)
                and _runs_after(model, r, c, None)
            ] or _handed_on(model, root, r.target, model.line(r.node))
            if not used:
                continue
            yield Report(
                r.node,
                f"`{clip(r.target, 30)}` is rebound to a new {new.cls} by "
                f"`{clip(model.code(value.node.func), 24)}(...)`, but "
                f"`{clip(sched.target, 24)}` still drives the old one",
                help=f"`{model.code(value.node.func)}` builds a new optimizer on every call "
                f"({model.where(new.node)}), and `{sched.target}` ({sched.cls}, line "
                f"{model.line(sched.node)}) stays bound to the first: its `step()` (line "
                f"{model.line(steps[0].node)}) schedules an optimizer nobody steps, while "
                f"the new one (used at line {model.line(used[0])}) keeps its initial lr; "
                f"rebuild the scheduler here too",
            )
            break


def _runs_after(model, rebind, call, end) -> bool:
    """``call`` runs after ``rebind`` (and before the order ``end``): later in the same
    function, or in a function called there (``train(model, optimizer, scheduler)``)."""
    if call.scope is rebind.scope:
        return call.order > rebind.order and (end is None or call.order < end)
    return model.runs_from(rebind.scope, call.scope, after=rebind.order, before=end)


def _constructed_by(model, rebind, value):
    """The Optimizer a call constructs afresh each time it runs (built in the body of the
    function the call runs, and held by the rebound variable), else None."""
    held = [o for o in model.holds(rebind.scope, rebind.target) if isinstance(o, Optimizer)]
    return next(
        (
            o
            for o in held
            if o.scope.kind == "function"
            and any(call is value.node for _, call, _ in model.call_sites(o.scope))
        ),
        None,
    )


def _old_kept_elsewhere(model, old, new) -> bool:
    """The old optimizer was handed on or aliased before the rebind (``Trainer(model, opt)``,
    ``opts.append(opt)``, ``opt_g = opt``): it may still be stepped through that reference."""
    return _kept_between(
        model, new.scope.node, old.target, model.line(old.node), model.line(new.node)
    )


def _kept_between(model, root, target, first, last) -> bool:
    """The variable ``target`` handed on or aliased between two lines (see above)."""
    ctors = {id(call_node_of(s)) for s in model.schedulers}
    for use in uses(root, target):
        if not first < model.line(use.node) < last:
            continue
        if use.kind in ("target", "unpacked", "test", "declaration", "attribute", "attr_write"):
            continue
        if use.kind == "method" and use.method in HARMLESS_METHODS | {
            "add_param_group",
            "state_dict",
            "load_state_dict",
        }:
            continue
        if use.kind == "argument" and id(use.call) in ctors:
            continue
        return True
    return False


def _rebuilt_every_epoch(model):
    """A scheduler constructed, unconditionally, in the body of an epoch loop and stepped in
    that same loop: every epoch starts a new schedule at step 0."""
    branches = branches_of(model)
    for sched in model.schedulers:
        loop = sched.loop
        if (
            loop is None
            or sched.parent is not None
            or sched.target is None
            or not is_known(sched)
            or "last_epoch" in sched.args
            or not is_epoch_loop(loop)
        ):
            continue
        if branches.path(sched) != branches.path_in(loop.node, loop.scope.node):
            continue  # built under a condition (`if epoch == warmup_epochs:`): a hand-off
        steps = [
            c
            for c in model.steps_of(sched)
            if c.loop is not None
            and c.scope is sched.scope
            and loop.contains(c.loop)
            and c.order > sched.order
        ]
        if not steps:
            continue
        what = (
            "the schedule and its optimizer start"
            if isinstance(sched.optimizer, Optimizer) and sched.optimizer.loop is loop
            else "the schedule starts"
        )
        yield Report(
            sched.node,
            f"`{clip(sched.cls, 40)}` is rebuilt in every pass of the epoch loop",
            help=f"Built inside the loop of line {model.line(loop.node)}, {what} over "
            f"at each epoch; build it once, before the loop",
        )
    yield from _rebuilt_through_calls(model, branches)


def _rebuilt_through_calls(model, branches):
    """The same through a call made, unconditionally, in the body of an epoch loop: a factory
    (``optimizer, scheduler = build_optim(model, args)``) or a trainer method
    (``self.configure()``) that builds the scheduler, stepped later in that loop pass."""
    # the schedulers built here, and those an imported factory builds that are stepped here
    scheds = list(model.schedulers)
    scheds += [
        c.target
        for c in model.calls
        if c.method == "step" and isinstance(c.target, Scheduler) and c.target not in scheds
    ]
    for sched in dict.fromkeys(scheds):
        if sched.parent is not None or not is_known(sched) or "last_epoch" in sched.args:
            continue
        steps = model.steps_of(sched)
        if not steps:
            continue
        for chain in model.call_chains(sched):
            site = chain[-1]
            if (
                len(chain) < 2
                or not site.here
                or site.loop is None
                or site.loop.scope is not site.scope
            ):
                continue
            loop = site.loop
            if not is_epoch_loop(loop) or branches.path_in(
                site.node, site.scope.node
            ) != branches.path_in(loop.node, loop.scope.node):
                continue  # built under a condition: a hand-off
            if any(branches.path_in(s.node, s.scope.node) for s in chain[:-1]):
                continue  # `if epoch == 0:` inside the helper: a one-time warm-up
            if not any(
                s[-1].scope is site.scope
                and s[-1].loop is not None
                and loop.contains(s[-1].loop)
                and s[-1].order >= site.order
                for step in steps
                for s in model.call_chains(step)
            ):
                continue
            yield Report(
                site.node,
                f"this call rebuilds `{clip(sched.cls, 40)}` in every pass of the epoch loop",
                help=f"It builds the scheduler of {model.where(sched.node)} inside "
                f"the loop of line {model.line(loop.node)}, so the schedule starts "
                f"over at each epoch; build it once, before the loop",
            )
            break
