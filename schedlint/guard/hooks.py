"""Where the guard hooks into torch. Everything the guard attaches to torch is made here.

* ``optimizer.step()``: one global step *pre*-hook and one global step *post*-hook
  (``torch.optim.optimizer.register_optimizer_step_pre_hook`` / ``..._post_hook``). The pre-hook
  runs the value checks, so ``on_violation="raise"`` stops a bad update before it is applied.
  Global hooks run before any hook registered on the optimizer instance, which lets the guard see
  the LR a user's own step hook is about to change (reported as "not checked", never as a
  violation), and they leave the optimizer instance untouched.
* Scheduler classes: ``step``, ``load_state_dict`` and ``__init__`` are wrapped on the CLASS that
  defines them (LRScheduler and the torch classes that override them; a user subclass with its
  own ``step`` when it is first seen), and torch's ``get_lr`` (SLG116: read outside ``step()``;
  inside it the wrapper only tests torch's ``_get_lr_called_within_step`` flag). Never on
  instances: ``scheduler.state_dict()`` dumps the instance ``__dict__``, so anything set there
  would end up in checkpoints.
* ``GradScaler._maybe_opt_step``: an optimizer step that AMP skips on inf/NaN gradients still
  counts as a step for the step-order check (SLG103), or every skipped step would be reported.
* Foreign writers, declared (``foreign_writers=[obj]``) or found (a timm scheduler holding
  the optimizer, schedlint.guard.foreign): their ``step`` and ``step_update`` methods, on
  their class, so writes made inside them are accepted.
* ``Optimizer.__init__``, ``add_param_group`` and ``load_state_dict`` (on the base class): the
  baseline of a group when it is built or added, and a resume (the loaded state, for SLG114).
* ``torch.save`` (the ``torch`` and ``torch.serialization`` names): what a checkpoint holds is
  looked at before it is written, for SLG114; the object and the call are passed on untouched.
* ``DataLoader.__iter__`` and the ``__next__`` of torch's DataLoader iterator class (which only
  looks at the ``StopIteration`` that ends a pass): epochs (schedlint.guard.epochs), for SLG112 on
  schedules sized in epochs but stepped per batch.

A thread-local depth counter makes every wrapper a pass-through while the guard itself is
running a scheduler (children of SequentialLR/ChainedScheduler, ``super().step()`` chains,
constructors' initial steps, the shadow replay). Everything is removed when the last guard
closes.
"""

from __future__ import annotations

import functools
import sys
import threading

from schedlint.guard import attribution, lifecycle, registry

WRITER_METHODS = ("step", "step_update")
MARK = "__schedlint_wrapper__"


class _State(threading.local):
    depth = 0  # > 0 while a scheduler call is already being handled on this thread
    in_optimizer_hook = 0  # > 0 while torch iterates its optimizer hook dicts
    # (scheduler, args, kwargs, caller, own args) built inside the outermost constructor
    constructing = None
    shadowing = 0  # > 0 while the guard builds or steps its own twins (never reported)


tls = _State()


_users = 0
_deferred = 0  # releases that happened where removing hooks was unsafe
_handles: list = []
_wrapped: dict = {}  # (owner class, method name) -> original attribute
_shielded = False  # the optimizer hooks are registered through torch._dynamo.disable


def acquire() -> None:
    """One more guard (or auto session) needs the hooks."""
    global _users
    if not tls.in_optimizer_hook:
        _settle()
    _users += 1
    if _users == 1:
        _install()


def release() -> None:
    global _users
    if tls.in_optimizer_hook:
        release_later()
        return
    _settle()
    _users -= 1
    if _users == 0:
        _uninstall()


def release_later() -> None:
    """Release from a place where torch may be iterating its hook dicts (garbage collection,
    a user callback inside a step hook); done at the next safe call."""
    global _deferred
    _deferred += 1


def settle() -> None:
    """Apply deferred releases now (call from user-level code, never from inside a hook)."""
    if not tls.in_optimizer_hook:
        _settle()


def _settle() -> None:
    global _users, _deferred
    if _deferred:
        _users -= _deferred
        _deferred = 0
        if _users <= 0:
            _users = 0
            _uninstall()


def installed() -> bool:
    return bool(_handles)


# --- optimizer ---------------------------------------------------------------------------


def _optimizer_pre_hook(optimizer, args, kwargs):
    __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
    guard = registry.lookup(optimizer)  # (adopting in auto mode never uninstalls: see acquire)
    if guard is None:
        return
    state = tls
    state.in_optimizer_hook += 1  # a user callback inside may close the guard: defer releases
    try:
        guard.before_optimizer_step(optimizer)
    finally:
        state.in_optimizer_hook -= 1


def _optimizer_post_hook(optimizer, args, kwargs):
    guard = registry.existing(optimizer)
    if guard is None:
        return
    state = tls
    state.in_optimizer_hook += 1
    try:
        guard.after_optimizer_step(optimizer)
    finally:
        state.in_optimizer_hook -= 1


def _register_optimizer_hooks(pre, post) -> None:
    # The attribute chain torch.optim.optimizer.* fails (torch/optim/__init__ deletes the name).
    from torch.optim.optimizer import (
        register_optimizer_step_post_hook,
        register_optimizer_step_pre_hook,
    )

    _handles.insert(0, register_optimizer_step_post_hook(post))
    _handles.insert(0, register_optimizer_step_pre_hook(pre))


def shield_from_dynamo() -> None:
    """Run the optimizer step hooks outside dynamo from now on (watch mode).

    Inside a ``torch.compile``d ``optimizer.step()`` dynamo traces the global step hooks, and any
    read of ``param_groups`` while a group is a dict subclass fails in its optimizer support
    (``UserDefinedDictVariable`` has no ``items``, torch 2.13). Disabled hooks run eagerly at
    every step, compiled or not, so the checks see the real values and the guard can hand the
    compiled step plain dicts (``watch.lend``). Imports ``torch._dynamo`` (seconds), so only
    watch mode asks for it.
    """
    global _shielded
    if _shielded or not _handles:
        return
    import torch._dynamo

    pre, post = _handles[0], _handles[1]
    pre.remove()
    post.remove()
    del _handles[:2]
    _register_optimizer_hooks(
        torch._dynamo.disable(_optimizer_pre_hook), torch._dynamo.disable(_optimizer_post_hook)
    )
    _shielded = True


def _install() -> None:
    _register_optimizer_hooks(_optimizer_pre_hook, _optimizer_post_hook)
    for cls in _torch_scheduler_classes():
        wrap_scheduler_class(cls)
    _wrap_grad_scaler()
    _wrap_optimizer_init()
    _wrap_save()
    _wrap_loader()


def _uninstall() -> None:
    global _shielded
    _shielded = False
    while _handles:
        _handles.pop().remove()
    for (owner, name), original in list(_wrapped.items()):
        if getattr(owner.__dict__.get(name), MARK, False):
            setattr(owner, name, original)
        # else: someone wrapped on top of ours; ours stays as a pass-through (no guards left).
        del _wrapped[(owner, name)]


# --- schedulers --------------------------------------------------------------------------


def _torch_scheduler_classes() -> list:
    from torch.optim import lr_scheduler
    from torch.optim.swa_utils import SWALR

    found = [
        v
        for v in vars(lr_scheduler).values()
        if isinstance(v, type) and issubclass(v, lr_scheduler.LRScheduler)
    ]
    return found + [SWALR]


def _owner(cls, name):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass
    return None


def _wrap(owner, name, make) -> None:
    if owner is None or owner is object or (owner, name) in _wrapped:
        return
    original = owner.__dict__[name]
    if getattr(original, MARK, False):
        return
    wrapper = make(original)
    setattr(wrapper, MARK, True)
    _wrapped[(owner, name)] = original
    setattr(owner, name, wrapper)


def wrap_scheduler_class(cls) -> None:
    """Wrap ``step``/``load_state_dict`` where ``cls`` gets them from, and ``__init__`` of every
    scheduler class up its MRO (the outermost constructor to finish is the one that registers)."""
    if not installed():
        return
    _wrap(_owner(cls, "step"), "step", _make_step)
    _wrap(_owner(cls, "load_state_dict"), "load_state_dict", _make_load_state_dict)
    owner = _owner(cls, "get_lr")
    # Only torch's own get_lr: the condition reported is the one torch warns on.
    if owner is not None and owner.__module__.startswith("torch."):
        _wrap(owner, "get_lr", _make_get_lr)
    for klass in cls.__mro__:
        if "__init__" in klass.__dict__ and hasattr(klass, "step") and klass is not object:
            _wrap(klass, "__init__", _make_init)


def _make_step(original):
    @functools.wraps(original)
    def step(self, *args, **kwargs):
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        if tls.shadowing:
            return original(self, *args, **kwargs)
        if tls.depth:
            # A child of SequentialLR/ChainedScheduler (or a super().step() chain): called from
            # the caller's line, so torch's warnings name the parent's line as they do unguarded.
            return attribution.call_at(sys._getframe(1), original, self, args, kwargs)
        guard = registry.for_scheduler(getattr(self, "optimizer", None))
        if guard is None:
            return attribution.call_at(sys._getframe(1), original, self, args, kwargs)
        # The caller: torch's warnings from the real step are attributed to it (attribution.py).
        return guard.scheduler_step(self, original, args, kwargs, sys._getframe(1))

    return step


def _make_get_lr(original):
    @functools.wraps(original)
    def get_lr(self, *args, **kwargs):
        # Called directly, not through attribution.call_at: torch's warning here names the line
        # inside its own get_lr (stacklevel=2 from its helper), which a plain wrapper leaves as is.
        out = original(self, *args, **kwargs)
        # Inside step() (SequentialLR/ChainedScheduler children too): torch's own call. The
        # class attribute defaults to False, so this plain read is the whole per-step cost.
        if self._get_lr_called_within_step or tls.shadowing:
            return out
        guard = registry.for_scheduler(getattr(self, "optimizer", None), adopt=False)
        if guard is not None:
            guard.get_lr_outside_step(self, out, sys._getframe(1))
        return out

    return get_lr


def _make_load_state_dict(original):
    @functools.wraps(original)
    def load_state_dict(self, *args, **kwargs):
        if tls.depth:
            return original(self, *args, **kwargs)
        tls.depth += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            tls.depth -= 1
            guard = registry.for_scheduler(getattr(self, "optimizer", None), adopt=False)
            if guard is not None:
                state = args[0] if args else kwargs.get("state_dict")
                guard.scheduler_loaded(self, state, sys._getframe(1))

    return load_state_dict


def _make_init(original):
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        if tls.shadowing:
            return original(self, *args, **kwargs)
        outermost = tls.constructing is None
        if outermost:
            tls.constructing = []
        # The most derived constructor runs first: its arguments are the ones the user passed.
        # Its twin is replayed from them after it ran, so tensors are kept as they were passed:
        # a constructor may fill_() one of them (OneCycleLR(opt, max_lr=lr) with the group's own
        # tensor lr sets that lr to max_lr / div_factor).
        recorded = _as_passed(args, kwargs) if outermost else (args, kwargs)
        # A user subclass is wrapped only once its first instance is seen: for that instance the
        # outermost wrapped constructor is a base class's, called with what the subclass passed
        # to super().__init__ (optimizer, last_epoch), not the user's arguments.
        own = type(self).__init__ is __init__
        tls.constructing.append((self, *recorded, sys._getframe(1) if outermost else None, own))
        tls.depth += 1
        error = None
        try:
            original(self, *args, **kwargs)
        except BaseException as exc:
            error = exc
            raise
        finally:
            tls.depth -= 1
            if outermost:
                built, tls.constructing = tls.constructing, None
                _constructed(built, error)

    return __init__


def _as_passed(args: tuple, kwargs: dict) -> tuple:
    """``(args, kwargs)`` with every tensor (also inside a list or tuple) cloned; the same objects
    when there is none, which is the common case."""
    from torch import Tensor

    def has_tensor(v):
        return isinstance(v, Tensor) or (
            isinstance(v, (list, tuple)) and any(isinstance(x, Tensor) for x in v)
        )

    if not any(map(has_tensor, args)) and not any(map(has_tensor, kwargs.values())):
        return args, kwargs

    def snap(v):
        if isinstance(v, Tensor):
            return v.detach().clone()
        if isinstance(v, (list, tuple)) and any(isinstance(x, Tensor) for x in v):
            out = [snap(x) for x in v]
            return out if isinstance(v, list) else tuple(out)
        return v

    return tuple(map(snap, args)), {k: snap(v) for k, v in kwargs.items()}


def _constructed(built: list, error) -> None:
    seen = set()
    caller = built[0][3] if built else None
    for k, (sched, args, kwargs, _frame, own) in enumerate(built):
        if id(sched) in seen:
            continue
        seen.add(id(sched))
        optimizer = getattr(sched, "optimizer", None)
        if optimizer is None and error is not None:
            optimizer = args[0] if args else kwargs.get("optimizer")
        guard = registry.for_scheduler(optimizer) if optimizer is not None else None
        if guard is None:
            continue
        if error is None:
            wrap_scheduler_class(type(sched))
            # Schedulers built inside another constructor are its internals: only the
            # outermost one is replayed on the shadow (it rebuilds them there).
            guard.scheduler_constructed(
                sched, args, kwargs, caller, outermost=k == 0, replayable=own
            )
        else:
            guard.scheduler_failed(sched, args, kwargs, caller, error)
            return


def _wrap_optimizer_init() -> None:
    """Auto-guarding sessions adopt an optimizer when it is built, so its baseline (the LR each
    group was built with) is known before anything can write to it."""
    from torch.optim import Optimizer

    _wrap(Optimizer, "__init__", _make_optimizer_init)
    _wrap(Optimizer, "add_param_group", _make_add_param_group)
    _wrap(Optimizer, "load_state_dict", _make_optimizer_load_state_dict)


def _make_optimizer_init(original):
    @functools.wraps(original)
    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if registry.auto_session is not None and not tls.shadowing:
            guard = registry.lookup(self)
            if guard is not None:
                if guard.watch:
                    guard.watch_groups(self, args[0] if args else kwargs.get("params"))
                guard.optimizer_seen_built(sys._getframe(1))
                _optimizer_built(guard, self, sys._getframe(1))

    return __init__


def _optimizer_built(guard, optimizer, frame) -> None:
    """Tell the guards of the older optimizers that a new one exists (SLG115: if it trains their
    parameters, their schedulers may keep stepping the old one)."""
    for old in registry.live_guards():
        if old is not guard and not old.closed:
            old.optimizer_built(guard, optimizer, frame)


def _make_add_param_group(original):
    @functools.wraps(original)
    def add_param_group(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        guard = registry.existing(self)
        if guard is not None:
            guard.group_added(self)
        return out

    return add_param_group


def _make_optimizer_load_state_dict(original):
    @functools.wraps(original)
    def load_state_dict(self, *args, **kwargs):
        guard = None if tls.shadowing else registry.existing(self)
        before = None if guard is None else lifecycle.unstepped_lrs(self)
        out = original(self, *args, **kwargs)
        if guard is not None:
            guard.optimizer_loaded(self, sys._getframe(1), before)
        return out

    return load_state_dict


# --- checkpoints ---------------------------------------------------------------------------


def _wrap_save() -> None:
    import torch
    import torch.serialization

    # `torch.save` is the same function under two names; user code calls either.
    _wrap(torch.serialization, "save", _make_save)
    _wrap(torch, "save", _make_save)


def _make_save(original):
    @functools.wraps(original)
    def save(obj, f, *args, **kwargs):
        if not tls.depth and not tls.shadowing:
            _saving(obj, f, sys._getframe(1))
        return original(obj, f, *args, **kwargs)

    return save


def _saving(obj, f, caller) -> None:
    guards = [g for g in registry.live_guards() if not g.closed]
    if not guards:
        return
    from schedlint.guard import lifecycle

    try:
        states, with_scheduler = lifecycle.saved_contents(obj)
        key = lifecycle.checkpoint_key(f) if states or with_scheduler else None
    except Exception:  # never let a look at a checkpoint break the checkpoint
        return
    if not states and not with_scheduler:
        return
    for guard in guards:
        guard.checkpoint_saved(states, with_scheduler, key, caller)


# --- epochs --------------------------------------------------------------------------------


def _wrap_loader() -> None:
    from torch.utils.data import DataLoader

    _wrap(DataLoader, "__iter__", _make_loader_iter)


def _make_loader_iter(original):
    @functools.wraps(original)
    def __iter__(self):
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        if tls.depth or tls.shadowing:
            return original(self)
        guards = [g for g in registry.live_guards() if not g.closed]
        # Before the call: with persistent workers the loader resets and returns its iterator.
        for guard in guards:
            guard.loader_pass_ends(self)
        iterator = original(self)
        if guards:
            owner = _owner(type(iterator), "__next__")
            if owner is not None and owner.__module__.startswith("torch."):
                _wrap(owner, "__next__", _make_loader_next)
            for guard in guards:
                guard.loader_pass_starts(self, iterator)
        return iterator

    return __iter__


def _make_loader_next(original):
    @functools.wraps(original)
    def __next__(self):
        try:
            return original(self)
        except StopIteration:
            for guard in registry.live_guards():
                guard.loader_pass_finished(self)
            raise

    return __next__


# --- AMP -----------------------------------------------------------------------------------


def _wrap_grad_scaler() -> None:
    try:
        from torch.amp.grad_scaler import GradScaler
    except ImportError:  # pragma: no cover - very old torch
        return
    if "_maybe_opt_step" in GradScaler.__dict__:
        _wrap(GradScaler, "_maybe_opt_step", _make_scaler_step)


def _make_scaler_step(original):
    @functools.wraps(original)
    def _maybe_opt_step(self, optimizer, *args, **kwargs):
        guard = registry.existing(optimizer)
        if guard is None:
            return original(self, optimizer, *args, **kwargs)
        before = guard.optimizer_steps
        out = original(self, optimizer, *args, **kwargs)
        if guard.optimizer_steps == before:
            guard.note_skipped_step()
        return out

    return _maybe_opt_step


# --- declared foreign writers ----------------------------------------------------------------


def wrap_writer_class(cls) -> list:
    """Wrap the LR-writing methods of a foreign scheduler class. Returns the names wrapped."""
    names = []
    for name in WRITER_METHODS:
        owner = _owner(cls, name)
        if owner is not None and owner is not object:
            _wrap(owner, name, _make_writer_method)
            names.append(name)
    return names


def _make_writer_method(original):
    @functools.wraps(original)
    def method(self, *args, **kwargs):
        if tls.depth:
            return original(self, *args, **kwargs)
        guards = registry.writer_guards(self)
        if not guards:
            return original(self, *args, **kwargs)
        for guard in guards:
            guard.before_foreign_write(self)
        tls.depth += 1
        try:
            return original(self, *args, **kwargs)
        finally:
            tls.depth -= 1
            for guard in guards:
                guard.after_foreign_write(self, original.__name__)

    return method
