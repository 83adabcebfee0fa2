"""Which guard watches which optimizer, and which foreign writers were declared to which guard.

Everything here is keyed by ``id()`` and validated against a weak reference, so the lookups on
the hot path (every optimizer and scheduler step of every optimizer in the process) cost one
dict probe, and nothing here keeps an optimizer, a scheduler or a writer alive.
"""

from __future__ import annotations

import weakref

# The optimizer owns its guard through this key of its __dict__ (see core._Anchor): the lookup on
# every optimizer and scheduler step is one dict probe.
ANCHOR = "_schedlint_guard"
# id(optimizer) -> weakref(Guard), to enumerate live guards; never used on the hot path.
_by_optimizer: dict = {}
# id(writer) -> (weakref(writer), [weakref(Guard), ...]) for declared foreign writers.
_writers: dict = {}
# The auto-guarding session of install() / schedlint run / the pytest plugin, if any.
auto_session = None


def existing(optimizer):
    """The guard watching ``optimizer``, or None."""
    anchor = getattr(optimizer, "__dict__", _EMPTY).get(ANCHOR)
    if anchor is None:
        return None
    guard = anchor.guard
    return guard if guard is not None and not guard.closed else None


_EMPTY: dict = {}


def lookup(optimizer):
    """The guard watching ``optimizer``; in auto mode, a new one for an unwatched optimizer."""
    guard = existing(optimizer)
    if guard is None and auto_session is not None and optimizer is not None:
        return auto_session.adopt(optimizer)
    return guard


def unwrap(optimizer):
    """The optimizer a wrapper stands for: accelerate's AcceleratedOptimizer, Lightning's
    LightningOptimizer and the DeepSpeed and Hugging Face wrappers keep the real optimizer in
    ``.optimizer``, share its ``param_groups`` list and forward ``step()`` to it, so the optimizer
    steps (and torch's step hooks) happen on the inner one. Anything else is returned as is."""
    for _ in range(8):  # wrappers of wrappers (DeepSpeed inside accelerate), never a cycle
        try:
            inner = getattr(optimizer, "optimizer", None)
            if (
                inner is None
                or inner is optimizer
                or inner.param_groups is not optimizer.param_groups
            ):
                return optimizer
        except Exception:  # a wrapper's property that fails: not one we can see through
            return optimizer
        optimizer = inner
    return optimizer


def for_scheduler(optimizer, *, adopt: bool = True):
    """The guard of the optimizer a scheduler was built on (its ``.optimizer``): the wrapper's own
    guard when it has one (an explicit ``guard(wrapper)``), else the guard of the optimizer behind
    it; in auto mode (``adopt``), a new one for an unwatched optimizer."""
    guard = existing(optimizer)
    if guard is not None or optimizer is None:
        return guard
    inner = unwrap(optimizer)
    if inner is not optimizer:
        guard = existing(inner)
    if guard is None and adopt and auto_session is not None:
        return auto_session.adopt(inner)
    return guard


def add(guard, optimizer) -> None:
    _by_optimizer[id(optimizer)] = weakref.ref(guard)


def remove(guard, optimizer_id: int) -> None:
    ref = _by_optimizer.get(optimizer_id)
    if ref is not None and ref() in (guard, None):
        del _by_optimizer[optimizer_id]


def live_guards() -> list:
    return [g for g in (r() for r in list(_by_optimizer.values())) if g is not None]


def add_writer(writer, guard) -> None:
    key = id(writer)
    entry = _writers.get(key)
    if entry is None or entry[0]() is not writer:
        entry = (weakref.ref(writer, lambda _r, key=key: _writers.pop(key, None)), [])
        _writers[key] = entry
    entry[1].append(weakref.ref(guard))


def writer_guards(writer) -> list:
    entry = _writers.get(id(writer))
    if entry is None or entry[0]() is not writer:
        return []
    return [g for g in (r() for r in entry[1]) if g is not None and not g.closed]


def drop_writer_guard(guard) -> None:
    for key, (_ref, guards) in list(_writers.items()):
        guards[:] = [g for g in guards if g() is not None and g() is not guard]
        if not guards:
            _writers.pop(key, None)
