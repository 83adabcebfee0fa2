"""Watch mode (``guard(opt, watch=True)``, ``schedlint run --watch``): the source line of every write
to a group's ``"lr"`` that no scheduler step made, so a violation can name it.

A param group is a plain dict that torch and user code index directly; a write to it runs no hook.
Watch mode replaces a group with :class:`WatchedGroup`, a dict subclass that notes the caller of an
``"lr"`` write, under three rules that keep training and every saved form unchanged:

* **Only a group nobody else holds is replaced.** ``g = opt.param_groups[0]`` kept by the user (or
  the ``{"params": ..., "lr": ...}`` dict they passed to the constructor and kept) would go on
  writing to the old dict, which no longer trains: such a group stays a plain dict, and the report
  says it is not watched. The count of references is exact (``sys.getrefcount``); the one container
  allowed besides ``param_groups`` is the list given to the constructor, whose entries are replaced
  too, so ``groups[0] is opt.param_groups[0]`` still holds.
* **It pickles, copies and deep-copies as a plain dict** (``__reduce_ex__``, ``__copy__``,
  ``__deepcopy__``): ``torch.save(opt)``, ``copy.deepcopy(opt)`` and a process that never imports
  schedlint see what they would without the guard. ``state_dict()`` copies group items into new
  dicts anyway, and ``load_state_dict()`` installs plain dicts (the guard watches them again at
  its next check).
* **It holds no guard object**: one slot, the last outside write as ``(value, "file:line")``.

Writes made while a guarded scheduler steps (and the shadow's) are not noted: they are the
schedule. ``torch.compile``'s optimizer support traces ``param_groups`` as plain dicts only (a dict
subclass fails inside dynamo, torch 2.13): once ``torch._dynamo`` is loaded, each optimizer step
runs on plain copies of the watched groups (:func:`lend`), and the watched objects, which user code
may hold, are put back with the step's contents right after it (:func:`take_back`).
A tensor lr changed in place (``g["lr"].fill_(x)``) is no dict write and is not seen.
"""

from __future__ import annotations

import copy
import os
import sys

from schedlint.guard import hooks

_GUARD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _skip_dirs() -> tuple:
    dirs = [_GUARD_DIR]
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__file__", None):
        dirs.append(os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)
    return tuple(dirs)


def _caller() -> str:
    """``file:line`` of the first frame outside the guard and torch (the user's write, or the
    library line that made it)."""
    skip = _skip_dirs()
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame = frame.f_back
    if frame is None:
        return "an unknown line"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _value(v):
    try:
        return float(v) if not hasattr(v, "dim") else None  # a tensor: never read back here
    except (TypeError, ValueError):
        return None


class WatchedGroup(dict):
    """A param group that remembers where its ``"lr"`` was last written from outside a scheduler."""

    __slots__ = ("_schedlint_write",)

    def _note(self, value) -> None:
        state = hooks.tls
        if not (state.depth or state.shadowing):
            self._schedlint_write = (_value(value), _caller())

    def __setitem__(self, key, value):
        if key == "lr":
            self._note(value)
        dict.__setitem__(self, key, value)

    def update(self, *args, **kwargs):
        dict.update(self, *args, **kwargs)
        if "lr" in kwargs or (args and hasattr(args[0], "keys") and "lr" in args[0].keys()):
            self._note(self["lr"])

    def __ior__(self, other):
        self.update(other)
        return self

    # Pickled, copied and deep-copied as the plain dict torch made: nothing of the guard travels.
    def __reduce_ex__(self, protocol):
        return (dict, (dict(self),))

    def __copy__(self):
        return dict(self)

    def __deepcopy__(self, memo):
        out: dict = {}
        memo[id(self)] = out
        for k, v in self.items():
            out[copy.deepcopy(k, memo)] = copy.deepcopy(v, memo)
        return out


def last_write(group, current: float):
    """``"file:line"`` of the outside write that set ``group``'s lr to ``current`` (float lrs), or
    of its last outside write (tensor lrs); None when not watched or nothing matches."""
    note = getattr(group, "_schedlint_write", None) if type(group) is WatchedGroup else None
    if note is None:
        return None
    value, where = note
    if value is not None and value != current:
        return None  # changed again since, by something watch mode does not see
    return where


def watch(groups: list, passed=None) -> list:
    """Replace every plain-dict group of ``groups`` (an optimizer's ``param_groups``) that nothing
    else references by a :class:`WatchedGroup`; ``passed`` is the list given to the optimizer's
    constructor, whose entries are replaced alongside. Returns the indices left unwatched."""
    held = passed if type(passed) is list else None
    left = []
    for i in range(len(groups)):
        g = groups[i]
        if type(g) is WatchedGroup:
            continue
        if type(g) is not dict:
            left.append(i)
            continue
        in_passed = [k for k in range(len(held)) if held[k] is g] if held is not None else []
        # param_groups, the entries of the constructor's list, `g` here, getrefcount's argument.
        if sys.getrefcount(g) != 1 + len(in_passed) + 2:
            left.append(i)
            continue
        w = WatchedGroup(g)
        groups[i] = w
        for k in in_passed:
            held[k] = w
    return left


def lend(groups: list):
    """Put a plain copy in place of every watched group, for the length of one optimizer step.
    Returns what :func:`take_back` needs, or None when no group is watched."""
    lent = None
    for i in range(len(groups)):
        g = groups[i]
        if type(g) is WatchedGroup:
            plain = dict(g)
            groups[i] = plain
            if lent is None:
                lent = []
            lent.append((i, g, plain))
    return lent


def take_back(groups: list, lent) -> None:
    """Put the watched groups back after the step, holding what the step left in the copies
    (nothing is noted as a write: no user code ran in between). A slot that no longer holds the
    copy (groups loaded or rebuilt meanwhile) is left as it is."""
    for i, watched, plain in lent:
        if i < len(groups) and groups[i] is plain:
            dict.clear(watched)
            dict.update(watched, plain)
            groups[i] = watched


def unwatch(groups: list) -> None:
    """Put plain dicts back (when the guard closes), where nothing else holds the watched one."""
    for i in range(len(groups)):
        g = groups[i]
        if type(g) is WatchedGroup and sys.getrefcount(g) == 3:
            groups[i] = dict(g)
