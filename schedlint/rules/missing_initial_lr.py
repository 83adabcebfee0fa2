import re

from schedlint.model.facts import Optimizer
from schedlint.rules._variable_uses import HARMLESS_METHODS, binding_root, uses
from schedlint.rules.base import Report, rule

# Classes that never read `initial_lr` when built with a `last_epoch` (they do not run
# LRScheduler.__init__ themselves, or take no last_epoch).
_NO_INITIAL_LR = frozenset({"SequentialLR", "ChainedScheduler", "ReduceLROnPlateau"})
# `initial_lr` written or read anywhere: someone in this file knows about the key.
_INITIAL_LR = re.compile(r"""['"]initial_lr['"]|\binitial_lr\s*=""")


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
    never loads that optimizer's state before the construction.

    ## Why is this bad?
    With `last_epoch != -1` the scheduler assumes it is resuming and reads `initial_lr` from
    every group, which only a previous scheduler or a loaded optimizer state puts there. Torch
    raises `KeyError: "param 'initial_lr' is not specified in param_groups[0] when resuming
    scheduler with last_epoch >= 0"`, on the resume path that is rarely tested. Even when it
    works, resuming through `last_epoch` replays the transition of the resumed epoch on the
    loaded lr (an extra decay step).

    ## Example
    ```python
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30, last_epoch=start_epoch - 1)
    ```

    ## Use instead
    ```python
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = StepLR(optimizer, step_size=30)
    if resume:
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
    ```
    """
    initial_lr_in_file = None
    for sched in model.schedulers:
        if sched.cls in _NO_INITIAL_LR or sched.origin == "custom":
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
        if initial_lr_in_file is None:
            initial_lr_in_file = bool(_INITIAL_LR.search(model.source))
        if initial_lr_in_file:
            continue
        if opt.groups and any("initial_lr" in g.keys for g in opt.groups):
            continue
        if _initial_lr_may_exist(model, sched, opt):
            continue
        opt_line = model.line(opt.node)
        when = "torch raises" if literal else \
            "whenever that is not -1 (a resumed run), torch raises"
        yield Report(last_epoch.node,
                     f"{sched.cls} is built with `last_epoch={last_epoch.src}` on "
                     f"`{sched.optimizer_src}` (built at "
                     f"line {opt_line}), whose param groups have no `initial_lr`: nothing "
                     f"loads its state or builds a scheduler on it before this line, so "
                     f"{when} `KeyError: param 'initial_lr' is not specified`; build the "
                     f"scheduler with the default `last_epoch` and resume it with "
                     f"`optimizer.load_state_dict(...)` then `scheduler.load_state_dict(...)`")


def _initial_lr_may_exist(model, sched, opt) -> bool:
    """Whether anything could have put `initial_lr` into `opt`'s groups before `sched`."""
    for other in model.schedulers:
        if other is sched or other.optimizer is not opt:
            continue
        # An earlier scheduler sets it (setdefault); one in another scope may run first.
        if other.order < sched.order or other.scope is not sched.scope:
            return True
    for call in model.calls:
        if call.method != "load_state_dict" or call.target is not opt:
            continue
        if call.order < sched.order or call.scope is not sched.scope or \
                sched.loop is not None and call.loop is not None and \
                any(call_loop is sched.loop for call_loop in call.loops):
            return True
    # The optimizer handed to a helper before the construction (load_checkpoint(opt), ...).
    sched_line = model.line(sched.node)
    if opt.target is None:
        return False  # built inline, right here: nothing can have loaded it
    for use in uses(binding_root(model, opt.key), opt.target):
        if use.kind == "method" and use.method in HARMLESS_METHODS | {"add_param_group",
                                                                      "state_dict"}:
            continue
        if use.kind in ("target", "test", "declaration", "attribute"):
            continue
        if use.kind == "argument" and any(_constructs(s, use.call) for s in model.schedulers):
            continue  # passed to a scheduler constructor
        if model.line(use.node) <= sched_line:
            return True
    return False


def _constructs(sched, call) -> bool:
    """Whether ``call`` is the constructor call of scheduler fact ``sched``."""
    node = sched.node
    if node is call:
        return True
    value = getattr(node, "value", None)  # an Assign statement: its value is the call
    return value is call
