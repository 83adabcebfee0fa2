"""Epoch boundaries as the guard sees them: a DataLoader pass that ran to its end.

While a guard is installed, ``DataLoader.__iter__`` is wrapped on the class (hooks.py), and so is
the ``__next__`` of torch's iterator class, which only looks at the ``StopIteration`` that ends a
pass. Nothing here holds a loader or an iterator alive, or changes either: a pass is an epoch
when its iterator raised ``StopIteration``, and it is judged when the same loader is iterated
again (the run goes on into another epoch). The batches a pass drew are read from the iterator's
own count (``_num_yielded``) when the pass ends, when the loader is iterated again, or at the end
of the run: nothing is counted per batch.
"""

from __future__ import annotations

import weakref

MAX_LOADERS = 32  # loaders remembered per guard before the collected ones are dropped


class Passes:
    """One guard's view of the DataLoaders being iterated: id(loader) -> [weakref to it, weakref
    to its last iterator, optimizer steps when that pass began, whether the pass ran to its end,
    optimizer steps when its first pass began, batches drawn by its earlier passes]."""

    def __init__(self):
        self._by_loader: dict = {}

    def started(self, loader, iterator, step: int) -> None:
        if len(self._by_loader) > MAX_LOADERS:
            self._by_loader = {k: e for k, e in self._by_loader.items() if e[0]() is not None}
        try:
            it = weakref.ref(iterator)
        except TypeError:
            it = None
        old = self._by_loader.get(id(loader))
        first, drawn = step, 0
        if old is not None and old[0]() is loader:
            first, drawn = old[4], old[5] + _yielded(old[1])
        self._by_loader[id(loader)] = [weakref.ref(loader), it, step, False, first, drawn]

    def finished(self, iterator) -> None:
        """``iterator`` raised StopIteration: its pass ran to the end."""
        for entry in self._by_loader.values():
            if entry[1] is not None and entry[1]() is iterator:
                entry[3] = True
                entry[5] += _yielded(entry[1])
                entry[1] = None  # counted: the iterator is usually dropped with the loop

    def ended(self, loader):
        """The optimizer step at which the last pass of ``loader`` began, when that pass ran to its
        end; else None."""
        entry = self._by_loader.get(id(loader))
        if entry is None or entry[0]() is not loader or not entry[3]:
            return None
        return entry[2]

    def settle(self, loader) -> None:
        """``loader`` is iterated again: count its last pass now, before a persistent-workers
        loader resets that iterator and reuses it."""
        entry = self._by_loader.get(id(loader))
        if entry is not None and entry[0]() is loader:
            entry[5] += _yielded(entry[1])
            entry[1] = None

    def drawn(self, since: int) -> set:
        """The batches each DataLoader drew in all its passes, for the loaders whose first pass
        began at optimizer step ``since`` or later (a count that does not start with the schedule
        says nothing about its unit); a pass whose iterator is gone before its end is not
        counted."""
        return {e[5] + _yielded(e[1]) for e in self._by_loader.values() if e[4] >= since}


def _yielded(ref) -> int:
    iterator = ref() if ref is not None else None
    count = getattr(iterator, "_num_yielded", 0)
    return count if type(count) is int else 0
