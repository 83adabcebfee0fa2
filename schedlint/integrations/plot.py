"""``plot_lrs``: each param group's actual LR against its expected schedule, violations marked.

.. code-block:: python

    guard = schedlint.guard(optimizer, scheduler, history=2000, on_violation="warn")
    ...  # train
    from schedlint.integrations.plot import plot_lrs
    plot_lrs(guard, "lr.png")

The samples come from the guard's bounded history (``history=N``: at most N points per guard,
evenly thinned over a run of any length). Drawing is the guard's own (``Guard.plot``); this
function accepts what the integrations hold: a guard, a list of guards, a framework callback
(``ScheduleGuard``/``ScheduleGuardCallback``), or ``[(title, labels, History)]`` triples.
Requires matplotlib: ``pip install 'schedlint[plot]'``.
"""

from __future__ import annotations

__all__ = ["plot_lrs", "histories_of"]


def histories_of(source) -> list:
    """``[(title, group labels, History)]`` for ``source`` (see :func:`plot_lrs`)."""
    if hasattr(source, "guards") and not isinstance(source, (list, tuple)):
        source = source.guards
    if not isinstance(source, (list, tuple)):
        source = [source]
    out = []
    names: dict = {}
    for item in source:
        if isinstance(item, tuple) and len(item) == 3:
            out.append(item)
            continue
        history = item.history
        labels = list(item.labels)
        name = getattr(item, "name", type(item).__name__)
        names[name] = names.get(name, 0) + 1
        title = name if names[name] == 1 else f"{name} #{names[name]}"
        out.append((title, labels, history))
    return out


def plot_lrs(history, path: str) -> str:
    """Draw every group's actual LR (solid) and expected LR (dashed) per optimizer step, with
    violations as red crosses labelled by code, one panel per optimizer; returns ``path``.

    ``history``: a :class:`~schedlint.guard.Guard` created with ``history=N``, a list of them, an
    integration callback, or ``[(title, labels, History)]``. Raises ValueError when nothing was
    recorded (the guard was created without ``history=``).
    """
    from schedlint.guard.report import plot

    items = histories_of(history)
    if not any(h is not None and h.steps for _t, _l, h in items):
        raise ValueError(
            "no LR history recorded: create the guard (or callback) with history=N, "
            "e.g. schedlint.guard(opt, sched, history=2000)"
        )
    return plot(items, path)
