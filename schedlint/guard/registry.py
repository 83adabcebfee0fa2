"""Which guard watches which optimizer, and which foreign writers were declared to which guard.

Everything here is keyed by ``id()`` and validated against a weak reference, so the lookups on
the hot path (every optimizer and scheduler step of every optimizer in the process) cost one
dict probe, and nothing here keeps an optimizer, a scheduler or a writer alive.
"""

from __future__ import annotations

import weakref

# id(optimizer) -> Guard. A guard removes itself when its optimizer dies or it is closed.
_by_optimizer: dict = {}
# id(writer) -> (weakref(writer), [weakref(Guard), ...]) for declared foreign writers.
_writers: dict = {}
# The auto-guarding session of install() / schedlint run / the pytest plugin, if any.
auto_session = None


def lookup(optimizer):
    """The guard watching ``optimizer``; in auto mode, a new one for an unwatched optimizer."""
    guard = _by_optimizer.get(id(optimizer))
    if guard is not None and guard._opt_ref() is optimizer:
        return guard
    if auto_session is not None and optimizer is not None:
        return auto_session.adopt(optimizer)
    return None


def existing(optimizer):
    guard = _by_optimizer.get(id(optimizer))
    if guard is not None and guard._opt_ref() is optimizer:
        return guard
    return None


def add(guard, optimizer) -> None:
    _by_optimizer[id(optimizer)] = guard


def remove(guard, optimizer_id: int) -> None:
    if _by_optimizer.get(optimizer_id) is guard:
        del _by_optimizer[optimizer_id]


def live_guards() -> list:
    return list(_by_optimizer.values())


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
    for key, (ref, guards) in list(_writers.items()):
        guards[:] = [g for g in guards if g() is not None and g() is not guard]
        if not guards:
            _writers.pop(key, None)
