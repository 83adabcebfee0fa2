from schedlint.model.builder import binding_key
from schedlint.model.facts import Optimizer
from schedlint.model.usage import (
    Branches,
    branches_of,
    call_node_of,
    closed_form,
    enclosing_class,
    is_known,
    names_of,
    rebound_value,
)
from schedlint.model.uses import (
    HARMLESS_METHODS,
    binding_root,
    kept_by_class,
    state_loaded_before,
    uses,
)
from schedlint.rules.base import Report, clip, rule

# Classes that never read `initial_lr` when built with a `last_epoch` (they do not run
# LRScheduler.__init__ themselves, or take no last_epoch).
_NO_INITIAL_LR = frozenset({"SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"})


@rule("SL301", "missing-initial-lr", "error")
def missing_initial_lr(model):
    """A scheduler built with `last_epoch` on an optimizer whose groups have no `initial_lr`.

    ## What it does
    Flags a torch scheduler (or a transformers schedule) constructed with a `last_epoch` other
    than -1 on an optimizer built in the same file when nothing before the construction can have
    put `initial_lr` into its param groups: no `optimizer.load_state_dict(...)`, no earlier
    scheduler on that optimizer, no `initial_lr` key in the group dicts or set in a loop, and
    the optimizer was not handed to a helper that might load it. A literal `last_epoch` is
    always checked; an expression (`last_epoch=start_epoch - 1`) is flagged only when the file
    never loads that optimizer's state before the construction, or when it is a name bound
    to a number (`restore_step = 0`, or `self.start_epoch = 0` in a trainer) that only a
    resume branch changes, next to the only optimizer load (made there, or by a checkpoint
    helper the optimizer is handed to). A `last_epoch` parameter of a schedule helper that
    every call handing it the optimizer leaves at -1 (`def get_schedule(optimizer, ...,
    last_epoch=-1)`, called without it) is -1. Custom `LRScheduler` subclasses built with `last_epoch=` are checked
    too, also one imported from a module of the tree. A scheduler a factory of another module
    builds with the `last_epoch` a call here hands it (`build_scheduler(optimizer_d, ...,
    last_epoch=last_it)`) is checked at that call, on the optimizer that call hands it
    (built by an in-tree factory, even when one of its branches returns a wrapper the model
    cannot read, OpenPCDet's `OptimWrapper.create(...)` next to `optim.Adam(...)`).
    Also flags `scheduler.last_epoch = N` written by hand on a chainable scheduler
    (StepLR, MultiStepLR, ...) whose optimizer state is never loaded (here, or by a script
    calling the class right after its `resume()`): the counter moves, but
    the lr stays at its initial value, so every decay before the resumed epoch is lost;
    `scheduler.last_epoch = start_epoch - 1` written by hand right after building a
    closed-form scheduler (LambdaLR, OneCycleLR, a transformers schedule) when neither a
    restore of the optimizer state after the construction, nor a `step()` or an lr write
    before the first training step, replaces the lr the constructor wrote (the first resumed
    epoch restarts the schedule), also in a method of a trainer whose `__init__` built the
    scheduler (`self.scheduler.last_epoch = ckpt["epoch"]` in `resume`) when nothing in
    the class restores the optimizer state or hands the optimizer on, and the method
    neither steps the scheduler nor writes the lr; and,
    for the same reason, a chainable scheduler built with `last_epoch` on an optimizer
    whose `initial_lr` is set by hand (the usual way to silence the `KeyError`) in a
    function that restores other state (`model.load_state_dict(ckpt["model"])`, there or
    in a helper it calls) when nothing can restore that optimizer's state (a fresh
    optimizer of a model-only checkpoint, kept in its function, its lr never written).

    ## Why is this bad?
    With `last_epoch != -1` the scheduler assumes it is resuming and reads `initial_lr` from
    every group, which only a previous scheduler or a loaded optimizer state puts there. Torch
    raises `KeyError: "param 'initial_lr' is not specified in param_groups[0] when resuming
    scheduler with last_epoch >= 0"`, on the resume path that is rarely tested. Even when it
    works, resuming through `last_epoch` replays the transition of the resumed epoch on the
    loaded lr (an extra decay step).

    ## Example
    ```python
    import torch
    from torch.optim.lr_scheduler import StepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, last_epoch=start_epoch - 1)
    ```

    ## Use instead
    ```python
    import torch
    from torch.optim.lr_scheduler import StepLR

    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30)
    if resume:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
    ```
    """
    initial_lr_in_file = None
    yield from _counter_written(model)
    yield from _factory_resumed(model)
    yield from _position_written(model)
    if model.names_key("initial_lr"):
        yield from _fresh_chainable_resumed(model)
    branches = branches_of(model)
    for sched in model.schedulers:
        if sched.cls in _NO_INITIAL_LR or sched.origin not in ("torch", "transformers", "custom"):
            continue
        last_epoch = sched.args.get("last_epoch")
        opt = sched.optimizer
        if last_epoch is None or not isinstance(opt, Optimizer):
            continue
        literal = last_epoch.number is not None
        if literal and last_epoch.number == -1:
            continue
        if last_epoch.kind in ("none", "str", "bool", "list", "tuple", "dict", "lambda"):
            continue
        if _left_at_default(model, sched, opt, last_epoch):
            continue
        if initial_lr_in_file is None:
            # `initial_lr` written or read in code: someone in this file knows about the key
            initial_lr_in_file = model.names_key("initial_lr")
        if initial_lr_in_file:
            continue
        if opt.groups and any("initial_lr" in g.keys for g in opt.groups):
            continue
        if _initial_lr_may_exist(model, sched, opt):
            fresh = _fresh_run_value(model, sched, opt, last_epoch, branches)
            if fresh is not None:
                number, node = fresh
                yield Report(
                    last_epoch.node,
                    f"`last_epoch={clip(last_epoch.src, 30)}` is {number:g} on a fresh "
                    f"run, where nothing loads `initial_lr`",
                    help=f"It is {number:g} when nothing is resumed (line "
                    f"{model.line(node)}), and only -1 means a fresh start: torch "
                    f"raises `KeyError: param 'initial_lr' is not specified`; pass "
                    f"-1 on a fresh run, or build the scheduler with the default "
                    f"`last_epoch` and resume it with `load_state_dict(...)`",
                )
            continue
        opt_line = model.line(opt.node)
        when = (
            "torch raises" if literal else "whenever that is not -1 (a resumed run), torch raises"
        )
        yield Report(
            last_epoch.node,
            f"{sched.cls} is built with `last_epoch={clip(last_epoch.src, 20)}` on "
            f"`{clip(sched.optimizer_src, 30)}`, whose param groups have no `initial_lr`",
            help=f"Nothing loads the state of `{sched.optimizer_src}` (line {opt_line}) "
            f"or builds a scheduler on it before this line, so {when} `KeyError: "
            f"param 'initial_lr' is not specified`; build the scheduler with the "
            f"default `last_epoch` and resume it with "
            f"`optimizer.load_state_dict(...)` then `scheduler.load_state_dict(...)`",
        )


def _factory_resumed(model):
    """``build_scheduler(optimizer_d, ..., last_epoch=last_epoch)``: a factory of another
    module builds its scheduler with the ``last_epoch`` this call hands it, on an optimizer of
    this file whose state nothing here loads (a discriminator's, built fresh on every run)."""
    if model.names_key("initial_lr"):
        return
    for caller, call, sched, bound in model.factory_builds():
        if sched.cls in _NO_INITIAL_LR or sched.origin not in ("torch", "transformers", "custom"):
            continue
        param = sched.args.get("last_epoch")
        scope = sched.scope
        if param is None or param.kind != "name" or param.src in scope.assigned:
            continue
        if param.src not in scope.params or param.src not in bound:
            continue
        value = model.value(bound[param.src])
        handed = model.factory_optimizer(caller, sched, bound)
        if handed is None or not _may_resume(model, caller, value):
            continue
        # the optimizer, or each one a factory may return for it (Adam or SGD by config)
        opt_value, opts = handed
        if opts is None:
            opts = _fresh_from_factory(model, caller, opt_value.dotted)
        if not opts or not all(isinstance(o, Optimizer) for o in opts):
            continue
        if any(o.groups and any("initial_lr" in g.keys for g in o.groups) for o in opts):
            continue
        # loaded through this variable (a factory's optimizer object stands for every
        # variable its calls bind, so the object tells nothing), or, for one built here,
        # through any name
        key = binding_key(caller, opt_value.dotted)
        if any(
            c.method == "load_state_dict"
            and (
                binding_key(c.scope, c.receiver) == key
                or not model.is_foreign(opts[0])
                and any(c.target is o for o in opts)
            )
            for c in model.calls
        ):
            continue
        if any(s.optimizer in opts for s in model.schedulers):
            continue
        opt = opts[0]
        if _handed_elsewhere(model, key, opt_value.dotted, call):
            continue
        when = "torch raises" if value.number is not None else "on a resumed run torch raises"
        yield Report(
            value.node,
            f"`last_epoch={clip(value.src, 20)}` resumes a {sched.cls} on "
            f"`{clip(opt_value.src, 20)}`, whose groups have no `initial_lr`",
            help=f"`{clip(model.code(call).partition('(')[0], 30)}()` builds the {sched.cls} "
            f"with this `last_epoch` ({model.where(sched.node)}), "
            f"and nothing loads the state of `{opt_value.src}` ({model.where(opt.node)}), so "
            f"{when} `KeyError: param 'initial_lr' is not specified`; pass -1 for an "
            f"optimizer that starts fresh, or restore it with `load_state_dict(...)` first",
        )


def _fresh_from_factory(model, scope, text):
    """The optimizers the name ``text`` may hold when its one binding in ``scope`` is a call
    of an in-tree factory whose other branches return what the model cannot read
    (``OptimWrapper.create(...)`` for one config, ``optim.Adam(...)`` for another, in
    OpenPCDet's ``build_optimizer``): each comes fresh from that call. None otherwise."""
    binds = [r for r in model.rebinds if r.scope is scope and r.target == text]
    if len(binds) != 1 or binds[0].unpacked:
        return None
    call = call_node_of(binds[0])
    if call is None or not model.callees(call.func, scope):
        return None
    held = model.holds(scope, text)
    return held if held and all(isinstance(o, Optimizer) for o in held) else None


def _may_resume(model, scope, value) -> bool:
    """The ``last_epoch`` a call hands a factory may be other than -1: a number other than
    -1, or a local name some binding sets to something else."""
    if value.number is not None:
        return value.number != -1
    if value.kind != "name" or value.src in scope.params:
        return False
    found = [r for r in model.rebinds if r.target == value.src and r.scope is scope]
    if not found:
        return False
    for r in found:
        bound = rebound_value(model, r)
        if bound is None or bound.number != -1:
            return True
    return False


def _handed_elsewhere(model, key, text, call) -> bool:
    """The optimizer variable ``text`` (binding ``key``) is handed to a call other than
    ``call`` (and a scheduler's construction) on or before its line: that helper may load
    its state."""
    line = model.line(call)
    for use in uses(binding_root(model, key), text):
        if use.kind != "argument" or use.call is call or model.line(use.node) > line:
            continue
        if any(_constructs(s, use.call) for s in model.schedulers):
            continue
        return True
    return False


def _left_at_default(model, sched, opt, last_epoch) -> bool:
    """``last_epoch`` is a parameter of the helper building ``sched`` (``def
    get_schedule(optimizer, ..., last_epoch=-1)``), ``opt`` is handed in by its callers, and
    every call of the helper leaves it at -1: the scheduler built on ``opt`` starts fresh.
    An optimizer the helper builds itself may come with callers this file does not see."""
    scope = sched.scope
    name = last_epoch.dotted
    if (
        last_epoch.kind != "name"
        or name not in scope.params
        or opt.scope is scope
        or not model.bindings(scope)
    ):
        return False
    return model.parameter_number(scope, name) == -1


def _initial_lr_may_exist(model, sched, opt) -> bool:
    """Whether anything could have put `initial_lr` into `opt`'s groups before `sched`."""
    branches = branches_of(model)
    for other in model.schedulers:
        if other is sched or other.optimizer is not opt:
            continue
        if other.scope is sched.scope and Branches.exclusive(
            branches.path(other), branches.path(sched)
        ):
            continue  # ``if cos: CosineAnnealingLR(...) elif step: StepLR(..., last_epoch)``
        # An earlier scheduler sets it (setdefault); one in another scope may run first.
        if other.order < sched.order or other.scope is not sched.scope:
            return True
    for call in model.calls:
        if call.method != "load_state_dict" or call.target is not opt:
            continue
        if (
            call.order < sched.order
            or call.scope is not sched.scope
            or sched.loop is not None
            and call.loop is not None
            and any(enclosing is sched.loop for enclosing in call.loops)
        ):
            return True
    # The optimizer handed to a helper before the construction (load_checkpoint(opt), ...),
    # under the name it was built as or the one the scheduler is built on (a factory's
    # optimizer: `optimizer = make_optimizer(model)`).
    sched_line = model.line(sched.node)
    names = [(opt.key, opt.target)] if opt.target is not None else []
    src = sched.optimizer_src
    if src and src != opt.target:
        names.append((binding_key(sched.scope, src), src))
    # none: built inline, right here; nothing can have loaded it
    return any(_handed_on(model, key, text, sched_line) for key, text in names)


def _handed_on(model, key, text, before_line) -> bool:
    """The variable ``text`` (binding ``key``) is handed to a helper, or used in a way that
    may load its state, on or before ``before_line``."""
    for use in uses(binding_root(model, key), text):
        if use.kind == "method" and use.method in HARMLESS_METHODS | {
            "add_param_group",
            "state_dict",
        }:
            continue
        if use.kind in ("target", "unpacked", "test", "declaration", "attribute"):
            continue
        if use.kind == "argument" and any(_constructs(s, use.call) for s in model.schedulers):
            continue  # passed to a scheduler constructor
        if model.line(use.node) <= before_line:
            return True
    return False


def _constructs(sched, call) -> bool:
    """Whether ``call`` is the constructor call of scheduler fact ``sched``."""
    return call_node_of(sched) is call


def _literal_bindings(model, sched, name):
    """Rebinds of ``name`` in ``sched``'s scope, before it, to a number other than -1."""
    for r in model.rebinds:
        if r.target != name or r.scope is not sched.scope or r.order > sched.order or r.unpacked:
            continue
        value = rebound_value(model, r)
        number = value.number if value is not None else None
        if number is not None and number != -1:
            yield r, number


def _fresh_run_value(model, sched, opt, last_epoch, branches):
    """``restore_step = 0`` (or ``self.start_epoch = 0``) then, only when resuming, the
    optimizer's state loaded (``optimizer.load_state_dict(...)``, or the optimizer handed to
    ``load_checkpoint(path, model, optimizer)``) and the name rebound from the checkpoint; the
    scheduler gets ``last_epoch=restore_step``: on a fresh run it is built with 0. Returns
    (the fresh-run value, its assignment), else None."""
    name = last_epoch.dotted
    if (
        last_epoch.kind not in ("name", "attr")
        or name is None
        or any(
            s is not sched and s.optimizer is opt and s.order < sched.order
            for s in model.schedulers
        )
    ):
        return None
    root = sched.scope.node
    # where the groups may get `initial_lr`: a load (here, or in a helper called from here
    # before the scheduler), or a helper the optimizer is handed to
    sources = []
    for load in (c for c in model.calls if c.method == "load_state_dict" and c.target is opt):
        sites = [chain[-1] for chain in model.call_chains(load) if chain[-1].scope is sched.scope]
        if not sites:
            return None  # loaded elsewhere: the fresh path is not visible here
        sources += [branches.path_in(site.node, root) for site in sites if site.order < sched.order]
    sched_line = model.line(sched.node)
    if opt.target is not None:
        for use in uses(binding_root(model, opt.key), opt.target):
            if (
                use.kind == "argument"
                and model.line(use.node) <= sched_line
                and not any(_constructs(s, use.call) for s in model.schedulers)
            ):
                sources.append(branches.path_in(use.node, root))
    rebound = [
        branches.path(r)
        for r in model.rebinds
        if r.target == name and r.scope is sched.scope and r.order < sched.order
    ]
    if not sources:
        return None
    for r, number in _literal_bindings(model, sched, name):
        # a path leaves ``r``'s at an arm ``r`` does not run in (the same `if`, its other arm)
        mine = {(id(n), arm) for n, arm in branches.path(r)}
        others = [p for p in rebound if p != branches.path(r)]
        if all(any((id(n), arm) not in mine for n, arm in path) for path in sources + others):
            return number, r.node
    return None


def _counter_written(model):
    """``scheduler.last_epoch = start_epoch`` on a chainable scheduler whose optimizer state is
    never loaded: the counter moves, the lr does not (decays before the resumed epoch lost)."""
    names = names_of(model)
    for r in model.rebinds:
        receiver, _, attr = r.target.rpartition(".")
        if attr != "last_epoch" or not receiver:
            continue
        scheds = names.holds(r.scope, receiver)
        if not scheds or len(scheds) != 1 or not is_known(scheds[0]):
            continue
        sched = scheds[0]
        if not sched.chainable or sched.cls == "ReduceLROnPlateau" or sched.order > r.order:
            continue
        opt = sched.optimizer
        if not isinstance(opt, Optimizer) or any(
            c.method == "load_state_dict"
            and (c.target is opt or c.scope is r.scope and c.receiver == sched.optimizer_src)
            for c in model.calls
        ):
            continue
        if opt.target is not None and any(
            use.kind == "argument"
            for use in uses(binding_root(model, opt.key), opt.target)
            if not any(_constructs(s, use.call) for s in model.schedulers)
        ):
            continue  # handed to a helper that may load its state
        if any(opt in targets for _, targets in model.callers_calls("load_state_dict")):
            continue  # the script calling the class restores it (after ``trainer.resume()``)
        yield Report(
            r.node,
            f"`{clip(r.target, 30)} = ...` moves the scheduler's counter, not the lr",
            help=f"`{sched.cls}` is chainable (each step scales the current lr), so the "
            f"decays before the resumed epoch are lost; restore the optimizer and "
            f"the scheduler with `load_state_dict(...)` instead",
        )


def _position_written(model):
    """``scheduler.last_epoch = start_epoch - 1`` right after building a closed-form scheduler
    on an optimizer whose state is not restored afterwards: the constructor already wrote
    ``initial_lr * f(0)`` into the groups, and nothing rewrites them before the next optimizer
    step, so the resumed run restarts from the top of the schedule. Restoring the optimizer
    after the construction (the restored groups carry the lr the saved run reached), a
    ``step()`` or an lr write before the training steps, or ``last_epoch=`` in the constructor
    keeps the lr in line with the position."""
    names = names_of(model)
    branches = branches_of(model)
    for r in model.rebinds:
        receiver, _, attr = r.target.rpartition(".")
        if attr != "last_epoch" or not receiver or r.unpacked:
            continue
        scheds = names.holds(r.scope, receiver)
        if not scheds or len(scheds) != 1 or not is_known(scheds[0]):
            continue
        sched = scheds[0]
        opt = sched.optimizer
        if (
            not closed_form(sched)
            or sched.chainable
            or "last_epoch" in sched.args
            or not isinstance(opt, Optimizer)
            or model.is_foreign(opt)
        ):
            continue
        here = sched.scope is r.scope and sched.order < r.order
        if not here and not _built_by_init(model, sched, r.scope):
            continue
        value = rebound_value(model, r)
        number = value.number if value is not None else None
        if number in (0, -1):
            continue  # where the constructor left it, or a schedule restarted on purpose
        if state_loaded_before(model, opt, sched.scope, sched.order):
            continue  # SL306: the scheduler is built after the optimizer state is loaded
        if not here:
            if _moved_in_method(model, sched, opt, r):
                yield Report(
                    r.node,
                    f"`{clip(r.target, 30)} = ...` moves the {sched.cls}'s position, not the "
                    f"lr it already wrote",
                    help=f"Building the scheduler ({model.where(sched.node)}) wrote the "
                    f"lr of its first position into the groups of a fresh optimizer, and "
                    f"nothing here restores the optimizer state or steps the scheduler "
                    f"before training: the first resumed epoch trains at the start of the "
                    f"schedule. Restore the optimizer and the scheduler with "
                    f"`load_state_dict(...)` instead",
                )
            continue
        first = [c for c in model.optimizer_steps(opt) if c.scope is r.scope]
        if not first or any(c.order < r.order for c in first):
            continue
        step = min(first, key=lambda c: c.order)
        if _restored_after(model, sched, opt, step) or _rewritten_before(
            model, sched, opt, r, step, branches
        ):
            continue
        yield Report(
            r.node,
            f"`{clip(r.target, 30)} = ...` moves the {sched.cls}'s position, not the lr it "
            f"already wrote",
            help=f"Building the scheduler ({model.where(sched.node)}) wrote the lr of "
            f"its first position into the groups, and they keep it until the next "
            f"`step()`: the first resumed epoch trains at the start of the schedule. "
            f"Pass `last_epoch=` to the constructor instead (the restored groups carry "
            f"`initial_lr`), or restore the optimizer state after building the scheduler",
        )


def _built_by_init(model, sched, scope) -> bool:
    """``sched`` is held by ``self`` and built by ``__init__`` (or a method it calls) of a
    class whose other method ``scope`` is: every call of ``scope`` comes after it."""
    cls = enclosing_class(model, scope)
    owner = enclosing_class(model, sched.scope)
    if (
        cls is None
        or owner is None
        or sched.key is None
        or sched.key[0] != "class"
        or not model.same_hierarchy(cls, owner)
        or sched.scope is scope
    ):
        return False
    init = owner.methods.get("__init__")
    return init is not None and (
        sched.scope is init.scope or model.runs_from(init.scope, sched.scope)
    )


def _moved_in_method(model, sched, opt, rebind) -> bool:
    """``self.scheduler.last_epoch = ckpt["epoch"]`` in a method of the trainer (``resume``)
    whose ``__init__`` built the closed-form scheduler: the lr the constructor wrote stays
    in the groups until the scheduler's next step unless the optimizer's state is restored
    (anywhere: the restored groups carry the lr the saved run reached), the scheduler is
    stepped or an lr written in that method or code it calls, or the optimizer is handed
    on. The optimizer must be stepped elsewhere, by the trainer, none of it before the
    write in that method."""
    scope = rebind.scope
    steps = model.optimizer_steps(opt)
    if not steps or any(c.scope is scope for c in steps):
        return False
    if any(c.method == "load_state_dict" and opt in c.targets for c in model.calls):
        return False
    if any(any(t is opt for t in ts) for _, ts in model.lent_calls("load_state_dict")):
        return False
    if not kept_by_class(model, opt):
        return False
    for c in model.steps_of(sched):
        if (
            c.scope is scope
            and c.order > rebind.order
            or model.runs_from(scope, c.scope, after=rebind.order)
        ):
            return False
    for write in model.lr_writes:
        if opt not in write.optimizers and write.optimizer is not opt:
            continue
        if write.scope is scope or model.runs_from(scope, write.scope):
            return False
    return True


def _restored_after(model, sched, opt, step) -> bool:
    """``opt``'s state may be loaded between the construction of ``sched`` and ``step`` (the
    first optimizer step): ``optimizer.load_state_dict(...)``, or the optimizer handed to a
    helper (``smart_resume(ckpt, optimizer)``)."""
    root = sched.scope.node
    for c in model.calls:
        if c.method == "load_state_dict" and c.target is opt and c.scope is sched.scope:
            if c.order > sched.order and not model.starts_before(step.node, c.node, root):
                return True
    src = sched.optimizer_src
    if src:
        for use in uses(binding_root(model, binding_key(sched.scope, src)), src):
            if use.kind != "argument" or any(_constructs(s, use.call) for s in model.schedulers):
                continue
            if model.starts_before(sched.node, use.node, root) and not model.starts_before(
                step.node, use.node, root
            ):
                return True
    return False


def _rewritten_before(model, sched, opt, rebind, step, branches) -> bool:
    """Something writes the lr after the assignment, before the first optimizer step can run
    on the constructor's lr: a ``step()`` of the scheduler outside the training loop, or an
    lr write on every path of the function (not a warm-up for the first iterations only)."""
    for c in model.steps_of(sched):
        if c.scope is rebind.scope and c.order > rebind.order and c.order < step.order:
            if (
                c.loop is None
                or c.loop is not step.loop
                and not any(enclosing is c.loop for enclosing in step.loops)
            ):
                return True
    for write in model.lr_writes:
        if opt not in write.optimizers and write.optimizer is not opt:
            continue
        if write.scope is not rebind.scope:
            # a helper called in between (``warmup(optimizer, ...)``): it may write them all
            if model.runs_from(rebind.scope, write.scope, after=rebind.order, before=step.order):
                return True
            continue
        if write.order > rebind.order and not branches.path(write):
            return True
    return False


def _kept_here(model, opt) -> bool:
    """The variable holding ``opt`` (local to a function) is only stepped, read, saved and
    handed to scheduler constructors: nothing can restore its state or its lr."""
    if opt.target is None or opt.key is None or opt.key[:1] == ("class",):
        return False
    for use in uses(binding_root(model, opt.key), opt.target):
        if use.kind == "method" and use.method in HARMLESS_METHODS | {"state_dict"}:
            continue
        if use.kind in ("target", "unpacked", "test", "declaration", "attribute"):
            continue
        if use.kind == "argument" and any(_constructs(s, use.call) for s in model.schedulers):
            continue
        return False
    return True


def _resumes_other_state(model, sched) -> bool:
    """The function building ``sched`` restores some state (``model.load_state_dict(...)``,
    here or in a helper it calls): a resume path, one that leaves the optimizer fresh."""
    return any(
        c.method == "load_state_dict"
        and (c.scope is sched.scope or model.runs_from(sched.scope, c.scope))
        for c in model.calls
    )


def _fresh_chainable_resumed(model):
    """A chainable scheduler built with ``last_epoch`` on an optimizer whose state nothing
    restores, ``initial_lr`` written by hand so that torch does not raise: its constructor
    replays none of the decays before ``last_epoch``, so a resumed run keeps the initial lr."""
    for sched in model.schedulers:
        last_epoch = sched.args.get("last_epoch")
        opt = sched.optimizer
        if (
            last_epoch is None
            or not is_known(sched)
            or not sched.chainable
            or sched.cls == "ReduceLROnPlateau"
            or not isinstance(opt, Optimizer)
            or model.is_foreign(opt)
            or last_epoch.number == -1
            or last_epoch.kind in ("none", "str", "bool", "list", "tuple", "dict", "lambda")
            or _left_at_default(model, sched, opt, last_epoch)
        ):
            continue
        if any(opt in w.optimizers for w in model.lr_writes):
            continue  # the lr is set by hand (to the resumed value, maybe)
        if not _kept_here(model, opt) or not _resumes_other_state(model, sched):
            continue
        yield Report(
            last_epoch.node,
            f"{sched.cls} resumed with `last_epoch={clip(last_epoch.src, 20)}` on a fresh "
            f"`{clip(sched.optimizer_src, 30)}` keeps the initial lr",
            help=f"`{sched.cls}` is chainable (each step scales the current lr) and its "
            f"constructor does not replay the steps before `last_epoch`; nothing restores the "
            f"state of `{sched.optimizer_src}` ({model.where(opt.node)}), so a resumed "
            f"run trains at the initial lr (setting `initial_lr` only silences the "
            f"`KeyError`); save and load `optimizer.state_dict()` and "
            f"`scheduler.state_dict()` instead",
        )
