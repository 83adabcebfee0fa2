"""Schedulers of other libraries that write group lrs themselves, found without being declared.

timm's schedulers are not torch ``LRScheduler``s: their ``step(epoch)`` and
``step_update(num_updates)`` write ``group["lr"]`` directly (and their constructor writes the
warm-up start). Declared with ``foreign_writers=[...]`` the guard accepts those writes, but
under ``schedlint run`` or the pytest plugin nobody can declare them, and a correct timm
training loop stopped at its first step with SLG102. So when a guard first sees its groups'
lrs moved by something it does not know, it looks for such a scheduler holding its optimizer
and declares it itself.

Only libraries already imported are looked at (this module imports none of them), and the
search (two passes of the garbage collector's referrer lookup) runs once per newly imported
library, not at every write.
"""

from __future__ import annotations

import gc
import sys

# (module, class): the base class of a library's schedulers whose instances keep the optimizer
# they drive as ``.optimizer`` and write its groups' lrs in ``step``/``step_update``.
LIBRARY_SCHEDULERS = (("timm.scheduler.scheduler", "Scheduler"),)


def imported_bases() -> tuple:
    """The base classes of :data:`LIBRARY_SCHEDULERS` whose module is imported."""
    found = []
    for module, name in LIBRARY_SCHEDULERS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def schedulers_of(optimizer, bases: tuple) -> list:
    """Instances of ``bases`` whose ``.optimizer`` is ``optimizer``."""
    if not bases:
        return []
    holders = gc.get_referrers(optimizer)  # the schedulers' instance dicts (or slotted objects)
    dicts = [h for h in holders if h.__class__ is dict]
    owners = gc.get_referrers(*dicts) if dicts else []
    return [
        o
        for o in [*holders, *owners]
        if isinstance(o, bases) and getattr(o, "optimizer", None) is optimizer
    ]


def advancing_method(writer) -> str | None:
    """The one method that moves a timm scheduler's lr: ``step_update`` when it counts
    optimizer updates (``t_in_epochs=False``), else ``step``; None for anything else."""
    counts_epochs = getattr(writer, "t_in_epochs", None)
    if counts_epochs is None or not hasattr(writer, "step_update"):
        return None
    return "step" if counts_epochs else "step_update"
