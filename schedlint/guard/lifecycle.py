"""Lifecycle facts that span more than one object: what a ``torch.save`` call holds (SLG114),
whether a new optimizer takes over the parameters of a guarded one (SLG115), and which schedulers
were built with the same arguments (SLG117).

Pure queries over the objects they are given: nothing here is kept, and nothing is written to
what is being saved. They run once per ``torch.save`` call or optimizer construction, never per
training step.
"""

from __future__ import annotations

import os
import sys

# A checkpoint is walked through its containers only (dicts, lists, tuples), never into tensors;
# the bound keeps a pathological object (a huge list of ints) from costing more than the save.
MAX_NODES = 10_000
# Keys that, with ``last_epoch``, make a dict a scheduler's state_dict (LRScheduler: base_lrs and
# _last_lr; SequentialLR/ChainedScheduler: _schedulers; ReduceLROnPlateau: best).
SCHEDULER_KEYS = ("base_lrs", "_last_lr", "_schedulers", "best")


def saved_contents(obj) -> tuple:
    """``(optimizer_states, with_scheduler)``: the optimizer state_dicts (or optimizers) inside a
    saved object, and whether it holds any scheduler state (a state_dict or a scheduler)."""
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    states: list = []
    with_scheduler = False
    stack = [obj]
    visited = 0
    while stack and visited < MAX_NODES:
        x = stack.pop()
        visited += 1
        if isinstance(x, dict):
            if _is_optimizer_state(x):
                states.append(x)
            elif "last_epoch" in x and any(k in x for k in SCHEDULER_KEYS):
                with_scheduler = True
            else:
                stack.extend(v for v in x.values() if _container(v))
        elif isinstance(x, (list, tuple)):
            stack.extend(v for v in x if _container(v))
        elif isinstance(x, Optimizer):
            states.append(x)
        elif isinstance(x, (LRScheduler, ReduceLROnPlateau)):
            with_scheduler = True
    return states, with_scheduler


def _container(value) -> bool:
    if isinstance(value, (dict, list, tuple)):
        return True
    from torch.optim import Optimizer
    from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

    return isinstance(value, (Optimizer, LRScheduler, ReduceLROnPlateau))


def _is_optimizer_state(d: dict) -> bool:
    return "state" in d and isinstance(d.get("param_groups"), list)


def holds_state_of(optimizer, state) -> bool:
    """Whether ``state`` (an optimizer state_dict or an optimizer) is ``optimizer``'s: the same
    object, or the same number of groups with the same number of parameters and the same LR."""
    if state is optimizer:
        return True
    if not isinstance(state, dict):
        return False
    saved = state["param_groups"]
    groups = optimizer.param_groups
    if len(saved) != len(groups):
        return False
    for s, g in zip(saved, groups):
        if not isinstance(s, dict) or len(s.get("params", ())) != len(g["params"]):
            return False
        if not _same_value(s.get("lr"), g["lr"]):
            return False
    return True


def _same_value(a, b) -> bool:
    if a is b:
        return True
    import torch

    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        try:
            return float(a) == float(b)
        except (TypeError, ValueError, RuntimeError):
            return False
    return a == b


def state_steps(optimizer):
    """The largest ``step`` in an optimizer's per-parameter state (Adam, AdamW...), or None when
    its state keeps no step count (SGD). Read once per ``load_state_dict``."""
    most = None
    for st in optimizer.state.values():
        step = st.get("step") if isinstance(st, dict) else None
        if step is None:
            continue
        try:
            value = float(step)
        except (TypeError, ValueError, RuntimeError):
            continue
        most = value if most is None else max(most, value)
    return most


def unstepped_lrs(optimizer):
    """Each group's ``(lr, initial_lr)`` while the optimizer keeps no per-parameter state (it
    never stepped, or it is stateless like plain SGD), else None. Read once per
    ``load_state_dict``, to tell a load that changed nothing from a resume."""
    if optimizer.state:
        return None
    try:
        return [
            (float(g["lr"]), None if g.get("initial_lr") is None else float(g["initial_lr"]))
            for g in optimizer.param_groups
        ]
    except (KeyError, TypeError, ValueError, RuntimeError):
        return None


def checkpoint_key(f):
    """The directory a checkpoint goes to (files saved there in one step form one checkpoint);
    None for a buffer with no name."""
    if isinstance(f, (str, os.PathLike)):
        path = os.fspath(f)
    else:
        path = getattr(f, "name", None)
        if not isinstance(path, str):
            return None
    return os.path.dirname(os.path.abspath(path))


def shares_parameters(a, b) -> bool:
    """Whether optimizers ``a`` and ``b`` train at least one common parameter."""
    mine = {id(p) for g in a.param_groups for p in g["params"]}
    return any(id(p) in mine for g in b.param_groups for p in g["params"])


def user_frame(frame):
    """The first frame from ``frame`` outwards that is neither torch's nor schedlint's: the line
    that built an optimizer (its constructor runs through torch's subclasses)."""
    skip = [os.path.dirname(os.path.abspath(__file__)) + os.sep]
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__file__", None):
        skip.append(os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)
    skip = tuple(skip)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    return frame


class _Opaque(Exception):
    """A constructor argument that cannot be compared by value."""


PLAIN = (int, float, str, bool, type(None))
MAX_ITEMS = 64  # a list argument (milestones) longer than this is not compared


def constructor_key(name: str, args: tuple, kwargs: dict):
    """What a scheduler was built with, its optimizer left out, as a hashable value: two
    schedulers with equal keys schedule an optimizer alike. Plain values compare by value, a
    function by identity, a bound method by its function and its object's plain attributes (the
    CycleGAN ``LambdaLR(opt, Decay(...).step)`` helper). None when an argument is anything else
    (a tensor, another object): nothing is claimed about it."""
    from torch.optim import Optimizer

    try:
        rest = tuple(_plain(a) for a in args if not isinstance(a, Optimizer))
        named = tuple(sorted((k, _plain(v)) for k, v in kwargs.items() if k != "optimizer"))
    except _Opaque:
        return None
    return (name, rest, named)


def _plain(value, depth: int = 0):
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, (list, tuple)) and depth < 3 and len(value) <= MAX_ITEMS:
        return tuple(_plain(v, depth + 1) for v in value)
    if type(value).__name__ == "function":
        return ("function", value)
    func, owner = getattr(value, "__func__", None), getattr(value, "__self__", None)
    if func is not None and owner is not None and depth < 3:
        fields = getattr(owner, "__dict__", None)
        if isinstance(fields, dict) and len(fields) <= MAX_ITEMS:
            return (
                "method",
                func,
                tuple(sorted((k, _plain(v, depth + 1)) for k, v in fields.items())),
            )
    raise _Opaque
