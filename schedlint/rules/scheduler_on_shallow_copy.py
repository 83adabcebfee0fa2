from schedlint.model.usage import rebound_value
from schedlint.rules.base import Report, clip, rule

_SHALLOW = frozenset({"copy.copy"})
# These rewrite the group lrs in their constructor already (semantics §1.2).
_WRITES_AT_CONSTRUCTION = frozenset(
    {
        "LambdaLR",
        "ConstantLR",
        "LinearLR",
        "CyclicLR",
        "OneCycleLR",
        "CosineAnnealingWarmRestarts",
        "SequentialLR",
    }
)


def _shallow_copy_of(model, sched):
    """The ``copy.copy(x)`` Value the scheduler's optimizer is: directly, through a name bound
    once, before it, in the same scope, or through the parameter of a factory every call of
    which passes such a copy; else None."""
    arg = sched.args.get("optimizer")
    if arg is None:
        return None
    if arg.kind == "call":
        return arg if arg.call in _SHALLOW else None
    if arg.kind != "name":
        return None
    if arg.src in sched.scope.params:
        return _passed_copy(model, sched.scope, arg.src)
    binds = [r for r in model.rebinds if r.target == arg.src and r.scope is sched.scope]
    if len(binds) != 1 or binds[0].order > sched.order or binds[0].unpacked:
        return None
    value = rebound_value(model, binds[0])
    if value is None:
        return None
    return value if value.kind == "call" and value.call in _SHALLOW else None


def _passed_copy(model, scope, param):
    """``copy.copy(x)`` when every call of the function ``scope`` passes one as ``param``
    (inline, or a name bound to it once in the calling scope)."""
    passed = model.arguments(scope, param)
    if not passed:
        return None
    found = None
    for caller, node in passed:
        value = model.value(node)
        if value.kind == "name":
            bound = model.assignments(caller, value.src)
            value = model.value(bound[0]) if len(bound) == 1 else value
        if value.kind != "call" or value.call not in _SHALLOW:
            return None
        found = found or value
    return found


@rule("SL308", "scheduler-on-shallow-copy", "error")
def scheduler_on_shallow_copy(model):
    """A scheduler built on `copy.copy(optimizer)`: it drives the real optimizer's groups.

    ## What it does
    Flags a torch scheduler whose optimizer is a shallow copy (`copy.copy(optimizer)`),
    directly, through a name, or through a factory's parameter that every caller fills with
    such a copy, when the scheduler is stepped or rewrites the lrs in its
    constructor (LambdaLR, LinearLR, ConstantLR, OneCycleLR, CyclicLR, ...). The class may
    be a parameter or an attribute (`self.scheduler_cls = OneCycleLR`); a helper of another
    module of the package that builds the class it is handed on such a copy
    (`preview_schedule(optimizer, OneCycleLR, ...)`) is reported at the call handing it.

    ## Why is this bad?
    A shallow copy of an optimizer shares its `param_groups` list and the group dicts. A
    scheduler built on the copy, to plot or preview the schedule, writes every lr it computes
    into the real optimizer's groups: after "plotting" 100 steps of a StepLR, training starts
    at the end of the schedule. Nothing fails. `copy.deepcopy` (or a throwaway optimizer over
    a dummy parameter) gives the scheduler groups of its own.

    ## Example
    ```python
    import copy

    import torch

    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    preview = torch.optim.lr_scheduler.StepLR(copy.copy(optimizer), step_size=10)
    lrs = []
    for _ in range(100):
        preview.step()
        lrs.append(preview.get_last_lr()[0])
    ```

    ## Use instead
    ```python
    import copy

    import torch

    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    preview = torch.optim.lr_scheduler.StepLR(copy.deepcopy(optimizer), step_size=10)
    lrs = []
    for _ in range(100):
        preview.step()
        lrs.append(preview.get_last_lr()[0])
    ```
    """
    for sched in model.schedulers:
        if sched.origin not in ("torch", "transformers"):
            continue
        copied = _shallow_copy_of(model, sched)
        if copied is None or not _writes(sched, model.steps_of(sched)):
            continue
        yield Report(
            sched.node,
            f"`{clip(sched.cls, 40)}` is built on `{clip(copied.src, 30)}`, which "
            f"shares the optimizer's param groups",
            help=_HELP,
        )
    for _scope, call, sched, home in model.handed_constructions:
        # ``preview_schedule(optimizer, OneCycleLR, ...)`` of another module builds the class
        # it is handed on a shallow copy there: reported at this call, which picks the class
        copied = _shallow_copy_of(home, sched)
        steps = [
            c
            for c in home.calls
            if c.method == "step" and c.scope is sched.scope and c.receiver == sched.target
        ]
        if copied is None or not _writes(sched, steps):
            continue
        yield Report(
            call,
            f"`{clip(sched.cls, 24)}` handed to `{clip(sched.scope.name, 24)}()` is built on "
            f"`{clip(copied.src, 24)}`: it shares the optimizer's groups",
            help=f"`{clip(sched.scope.name, 24)}()` builds it at {model.where(sched.node)}, on a "
            "copy whose `param_groups` are the real optimizer's dicts: every lr it writes changes "
            "the optimizer that trains; copy with `copy.deepcopy` there",
        )


_HELP = (
    "The copy's `param_groups` are the real optimizer's dicts, so every lr "
    "this scheduler writes changes the optimizer that trains; build it on "
    "`copy.deepcopy(optimizer)` (or a fresh optimizer) instead"
)


def _writes(sched, steps) -> bool:
    """The scheduler writes the group lrs: stepped, or in its constructor already."""
    return bool(steps) or sched.cls in _WRITES_AT_CONSTRUCTION or sched.origin == "transformers"
