"""Declared schedules: ``schedlint.guard(..., expect=...)``.

Either a mapping from a group (its index, or its label: the ``name`` key, else
``param_names[0]``) to a callable ``step -> lr``, or one callable
``(step, group_index, base_lr) -> lr`` for every group. ``step`` is the index of the optimizer
step about to run, counted from 0 when the guard was attached; ``base_lr`` is the group's
``initial_lr`` (else its ``lr``) at that moment.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping


class DeclaredSchedule:
    def __init__(self, expect, groups: list, labels: list):
        self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
        if isinstance(expect, Mapping):
            self.per_group = [(self._resolve(key, labels), fn) for key, fn in expect.items()]
            for key, fn in expect.items():
                if not callable(fn):
                    raise TypeError(
                        f"expect[{key!r}] must be a callable step -> lr, got {type(fn).__name__}"
                    )
            self.shared = None
        elif callable(expect):
            self.per_group = None
            self.shared: Callable = expect
        else:
            raise TypeError(
                "expect must be a mapping {group: step -> lr} or a callable "
                f"(step, group_index, base_lr) -> lr, got {type(expect).__name__}"
            )

    @staticmethod
    def _resolve(key, labels: list) -> int:
        if isinstance(key, bool):
            raise TypeError("expect keys are group indices or names, not booleans")
        if isinstance(key, int):
            if not -len(labels) <= key < len(labels):
                raise ValueError(
                    f"expect names group {key}, but the optimizer has {len(labels)} groups"
                )
            return key % len(labels)
        matches = [i for i, label in enumerate(labels) if label == str(key)]
        if len(matches) != 1:
            known = ", ".join(repr(x) for x in labels)
            problem = "no group" if not matches else "several groups"
            raise ValueError(
                f"expect names group {key!r}, but {problem} has that name (groups: {known})"
            )
        return matches[0]

    def covered(self, n_groups: int) -> set:
        """The group indices the declaration covers (the guard does not report their writes)."""
        if self.per_group is not None:
            return {i for i, _fn in self.per_group if i < n_groups}
        return set(range(min(n_groups, len(self.base_lrs))))

    def values(self, step: int, n_groups: int) -> list:
        """``[(group_index, expected_lr), ...]`` for the groups the declaration covers."""
        if self.per_group is not None:
            return [(i, float(fn(step))) for i, fn in self.per_group if i < n_groups]
        n = min(n_groups, len(self.base_lrs))
        return [(i, float(self.shared(step, i, self.base_lrs[i]))) for i in range(n)]
