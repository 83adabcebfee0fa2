"""Epoch boundaries as the guard sees them: a DataLoader pass that ran to its end.

While a guard is installed, ``DataLoader.__iter__`` is wrapped on the class (hooks.py), and so is
the ``__next__`` of torch's iterator class, which only looks at the ``StopIteration`` that ends a
pass. Nothing here holds a loader or an iterator alive, or changes either: a pass is an epoch
when its iterator raised ``StopIteration``, and it is judged when the same loader is iterated
again (the run goes on into another epoch).
"""

from __future__ import annotations

import weakref

MAX_LOADERS = 32  # loaders remembered per guard before the collected ones are dropped


class Passes:
    """One guard's view of the DataLoaders being iterated: id(loader) -> [weakref to it, weakref
    to its last iterator, optimizer steps when that pass began, whether the pass ran to its end]."""

    def __init__(self):
        self._by_loader: dict = {}

    def started(self, loader, iterator, step: int) -> None:
        if len(self._by_loader) > MAX_LOADERS:
            self._by_loader = {k: e for k, e in self._by_loader.items() if e[0]() is not None}
        try:
            it = weakref.ref(iterator)
        except TypeError:
            it = None
        self._by_loader[id(loader)] = [weakref.ref(loader), it, step, False]

    def finished(self, iterator) -> None:
        """``iterator`` raised StopIteration: its pass ran to the end."""
        for entry in self._by_loader.values():
            if entry[1] is not None and entry[1]() is iterator:
                entry[3] = True

    def ended(self, loader):
        """The optimizer step at which the last pass of ``loader`` began, when that pass ran to its
        end; else None."""
        entry = self._by_loader.get(id(loader))
        if entry is None or entry[0]() is not loader or not entry[3]:
            return None
        return entry[2]
