"""Reading, labelling and comparing param-group learning rates.

LRs are read as Python floats whenever that costs no host-device synchronisation (floats, and
tensors on the CPU: ``.item()`` of a CPU tensor is an exact copy of its value, so comparing the
floats is comparing the tensors bit for bit). LRs held in accelerator tensors never come back to
the host per step; :class:`DeviceLRChecks` compares them on the device and reads a small
summary back every ``check_every`` steps.
"""

from __future__ import annotations

import math
from operator import itemgetter

import torch

_Tensor = torch.Tensor


def group_label(group: dict, index: int) -> str:
    name = group.get("name")
    if name is not None:
        return str(name)
    names = group.get("param_names")
    if names:
        return str(names[0])
    return str(index)


def on_device(groups) -> bool:
    """True when some group's LR lives in a tensor off the CPU (reading it would sync)."""
    return any(isinstance(g["lr"], _Tensor) and g["lr"].device.type != "cpu" for g in groups)


_lr = raw = itemgetter("lr")


def read(groups) -> list:
    """Every group's LR as a float. Only for host-resident LRs (see :func:`on_device`): float()
    of a one-element CPU tensor is its exact value, of a float the float itself."""
    return list(map(float, map(_lr, groups)))


def same(a: list, b: list) -> bool:
    """Bitwise equality of two LR lists, NaN equal to NaN (a NaN LR is SLG105, not a 'write')."""
    if a == b:
        return True
    if len(a) != len(b):
        return False
    return all(x == y or (x != x and y != y) for x, y in zip(a, b))


def changed(a: list, b: list) -> list:
    """Indices where the LR lists differ (NaN equal to NaN)."""
    return [i for i, (x, y) in enumerate(zip(a, b)) if not (x == y or (x != x and y != y))]


def bad_values(lrs: list) -> list:
    """Indices of NaN, infinite or negative LRs."""
    # Fast path: a finite non-negative sum with a non-negative minimum rules everything out.
    s = sum(lrs)
    if s == s and s != math.inf and (not lrs or min(lrs) >= 0.0):
        return []
    return [i for i, x in enumerate(lrs) if not math.isfinite(x) or x < 0.0]


def close(actual: float, expected: float, rtol: float, atol: float) -> bool:
    if actual == expected:
        return True
    if not (math.isfinite(actual) and math.isfinite(expected)):
        return False
    return abs(actual - expected) <= atol + rtol * abs(expected)


class DeviceLRChecks:
    """Per-step LR checks that stay on the accelerator.

    Each check ORs its per-group failures into a boolean tensor and keeps the LR seen the first
    time each group failed, all with in-place device ops: no ``.item()``, ``bool()`` or copy to
    the host until :meth:`collect`, which the guard calls every ``check_every`` steps.
    """

    CODES = ("SLG101", "SLG102", "SLG105")

    def __init__(self, groups):
        devices = [g["lr"].device for g in groups if isinstance(g["lr"], _Tensor)]
        self.device = next((d for d in devices if d.type != "cpu"), devices[0])
        self.n = len(groups)
        n = self.n
        self.step = torch.zeros((), dtype=torch.int64, device=self.device)
        self.failed = {c: torch.zeros(n, dtype=torch.bool, device=self.device) for c in self.CODES}
        self.first_step = {
            c: torch.full((n,), -1, dtype=torch.int64, device=self.device) for c in self.CODES
        }
        self.first_actual = {
            c: torch.zeros(n, dtype=torch.float64, device=self.device) for c in self.CODES
        }
        self.first_expected = {
            c: torch.zeros(n, dtype=torch.float64, device=self.device) for c in self.CODES
        }

    def stack(self, groups) -> _Tensor:
        # A float LR next to device LRs costs a small host-to-device copy; all-device groups
        # (the normal case) cost one stack kernel.
        return torch.stack(
            [
                (g["lr"] if isinstance(g["lr"], _Tensor) else torch.tensor(float(g["lr"])))
                .reshape(())
                .to(self.device, torch.float64, non_blocking=True)
                for g in groups
            ]
        )

    def note(self, code: str, bad: _Tensor, actual: _Tensor, expected: _Tensor) -> None:
        new = bad & ~self.failed[code]
        self.first_step[code] = torch.where(new, self.step, self.first_step[code])
        self.first_actual[code] = torch.where(new, actual, self.first_actual[code])
        self.first_expected[code] = torch.where(new, expected, self.first_expected[code])
        self.failed[code] |= bad

    def check_step(self, current: _Tensor, baseline, shadow) -> None:
        """The checks of one optimizer step, queued on the device."""
        self.note("SLG105", ~torch.isfinite(current) | (current < 0), current, current)
        if baseline is not None:
            self.note("SLG102", current != baseline, current, baseline)
        if shadow is not None:
            self.note("SLG101", current != shadow, current, shadow)
        self.step += 1

    def collect(self, current=None):
        """Read the summary back, with the ``current`` LR vector if given, in ONE transfer, and
        reset it. Returns ``([(code, group, first_step, actual, expected), ...], current_list)``."""
        codes = self.CODES
        parts = [
            torch.stack(
                [
                    self.failed[c].double(),
                    self.first_step[c].double(),
                    self.first_actual[c],
                    self.first_expected[c],
                ]
            ).reshape(-1)
            for c in codes
        ]
        if current is not None:
            parts.append(current.reshape(-1))
        flat = torch.cat(parts).tolist()
        out = []
        n = self.n
        width = 4 * n
        for k, code in enumerate(codes):
            block = flat[k * width : (k + 1) * width]
            failed, steps, actual, expected = (block[j * n : (j + 1) * n] for j in range(4))
            for i in range(n):
                if failed[i]:
                    out.append((code, i, int(steps[i]), actual[i], expected[i]))
            self.failed[code].zero_()
            self.first_step[code].fill_(-1)
        return out, (flat[len(codes) * width :] if current is not None else None)
