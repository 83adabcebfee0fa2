"""What the guard reports, and how a report reaches the user (raise, warn, log or a callable).

Torch-free on purpose: ``schedlint.ScheduleViolation`` can be caught (and this module imported)
without loading torch.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

log = logging.getLogger("schedlint.guard")

NAMES = {
    "SLG101": "lr-differs-from-schedule",
    "SLG102": "lr-written-outside-scheduler",
    "SLG103": "scheduler-step-out-of-order",
    "SLG104": "param-groups-changed",
    "SLG105": "non-finite-or-negative-lr",
    "SLG106": "lr-differs-across-ranks",
    "SLG107": "scheduler-never-stepped",
    "SLG108": "group-ratio-changed",
    "SLG109": "lr-vanished",
    "SLG110": "resumed-without-initial-lr",
    "SLG111": "scheduler-step-epoch-argument",
    "SLG112": "schedule-length-mismatch",
    "SLG113": "closed-form-schedulers-fight",
    "SLG114": "checkpoint-without-scheduler-state",
    "SLG115": "scheduler-steps-replaced-optimizer",
    "SLG116": "get-lr-outside-step",
    "SLG117": "scheduler-on-wrong-optimizer",
}


class ScheduleWarning(UserWarning):
    """Category of the warnings the guard emits for violations with ``on_violation="warn"``."""


class NotCheckedWarning(UserWarning):
    """The guard could not check something (an uncopyable scheduler, LRs rewritten inside
    ``optimizer.step()``, a failed collective...). Emitted once per cause; training goes on."""


@dataclass(frozen=True)
class Violation:
    """One broken expectation about one param group (or one scheduler, for SLG103/SLG107).

    ``expected``/``actual`` are None where the code is not about a value (a scheduler never
    stepped); ``group_index``/``group_name`` are None where it is not about one group.
    """

    code: str
    optimizer_step: int
    scheduler_step: int | None
    group_index: int | None
    group_name: str | None
    expected: float | None
    actual: float | None
    cause: str
    optimizer: str = ""
    scheduler: str | None = None
    rank: int | None = None
    written_at: str | None = None  # watch mode: "file:line" of the write that set this lr
    # A write to group['lr'] whose line is unknown because watch mode was off: the help says how
    # to get it (the warning itself can only point at the optimizer.step() that found it).
    suggest_watch: bool = False

    @property
    def name(self) -> str:
        return NAMES[self.code]

    @property
    def message(self) -> str:
        """The short one-sentence statement, then the explanation on a ``help:`` line."""
        return f"{self.summary}\n  help: {self.help}"

    @property
    def help(self) -> str:
        """Why this is wrong and what to do (the cause), and how to find the write's line."""
        if self.suggest_watch:
            return f"{self.cause} {WATCH_HINT}"
        return self.cause

    @property
    def summary(self) -> str:
        """What broke, where, and the values: one sentence."""
        where = []
        if self.group_index is not None:
            label = (
                f" '{self.group_name}'"
                if self.group_name not in (None, str(self.group_index))
                else ""
            )
            where.append(f"group {self.group_index}{label}")
        if self.rank is not None:
            where.append(f"rank {self.rank}")
        where.append(f"optimizer step {self.optimizer_step}")
        if self.scheduler_step is not None:
            sched = self.scheduler or "scheduler"
            where.append(f"{sched} step {self.scheduler_step}")
        text = f"{self.code} {self.name}: {', '.join(where)}"
        if self.code == "SLG103" and self.expected is not None:
            # Nothing is wrong with the LR yet: the extra step is what would change it.
            if self.actual is None or self.actual == self.expected:
                text += f": lr {format_lr(self.expected)}, unchanged by the extra step (its step count still advances)"
            else:
                exp, act, rel = format_pair(self.expected, self.actual)
                text += (
                    f": expected lr {exp} (unchanged until the next optimizer step), "
                    f"actual {act} after the extra step{rel}"
                )
        elif self.code == "SLG108" and self.expected is not None and self.expected == self.actual:
            # the schedule as built gives this lr: "expected x, actual x" would read as no fault
            text += f": lr {format_lr(self.actual)} as scheduled, but the groups' ratio changed"
        elif self.expected is not None:
            exp, act, rel = format_pair(self.expected, self.actual)
            text += f": expected lr {exp}, actual {act}{rel}"
        elif self.actual is not None:
            text += f": lr {format_lr(self.actual)}"
        if self.written_at:
            text += f", written at {self.written_at}"
        return f"{text}."

    def to_dict(self) -> dict:
        d = asdict(self)
        d["name"] = self.name
        d["message"] = self.message
        d["summary"] = self.summary
        d["help"] = self.help
        return d

    def __str__(self) -> str:
        return self.message


WATCH_HINT = (
    "To name the line that wrote it, rerun with `schedlint run --watch` "
    "(or schedlint.guard(..., watch=True))."
)


def format_lr(x, digits: int = 6) -> str:
    if x is None:
        return "unknown"
    if isinstance(x, float) and (math.isnan(x) or math.isinf(x)):
        return str(x)
    return f"{x:.{digits}g}"


def format_pair(expected, actual) -> tuple:
    """``(expected, actual, note)`` as text: with as many significant digits as it takes to tell
    them apart (6 at least, 17 at most), and, where they differ by less than 0.1%, the relative
    difference, which a reader cannot see in two long numbers."""
    if expected is None or actual is None or expected == actual:
        return format_lr(expected), format_lr(actual), ""
    digits = 6
    while digits < 17 and format_lr(expected, digits) == format_lr(actual, digits):
        digits += 1
    note = ""
    if (
        isinstance(expected, (int, float))
        and isinstance(actual, (int, float))
        and expected
        and math.isfinite(expected)
        and math.isfinite(actual)
    ):
        rel = abs(actual - expected) / abs(expected)
        if rel < 1e-3:
            note = f" (relative difference {rel:.2g})"
    return format_lr(expected, digits), format_lr(actual, digits), note


_GUARD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Training loops of libraries that call ``opt.step()``/``sched.step()`` for the user
# (Lightning's ``lr_scheduler_step``, accelerate's wrappers) and schedlint's own runner: a
# line of theirs is not one the user can change, so the warning points past them.
_LOOP_PACKAGES = frozenset(
    {
        "lightning",
        "pytorch_lightning",
        "lightning_fabric",
        "accelerate",
        "transformers",
        "schedlint",
    }
)


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning point at the user's line (the ``opt.step()`` or
    ``sched.step()`` call), past the guard's and torch's own frames, and past a training
    library's loop that made the call (``trainer.fit(...)`` then, or the user's override of
    a hook); when nothing but such frames is left, at the first frame past the guard and
    torch."""
    skip = [_GUARD_DIR]
    torch = sys.modules.get("torch")
    if torch is not None and getattr(torch, "__file__", None):
        skip.append(os.path.dirname(os.path.abspath(torch.__file__)) + os.sep)
    skip = tuple(skip)
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(skip):
        frame, level = frame.f_back, level + 1
    past, past_level = frame, level
    while past is not None and (
        past.f_globals.get("__name__", "").partition(".")[0] in _LOOP_PACKAGES
        or past.f_code.co_filename.startswith(skip)
    ):
        past, past_level = past.f_back, past_level + 1
    return level if past is None else past_level


class ScheduleViolation(RuntimeError):
    """Raised (``on_violation="raise"``) before the optimizer applies an update with a wrong LR.

    ``violation`` is the first finding of the event; ``violations`` all of them (one per group
    when a write touched several groups).
    """

    def __init__(self, violations: Sequence[Violation]):
        self.violations = list(violations)
        self.violation = self.violations[0]
        super().__init__(_event_text(self.violations))

    def __reduce__(self):  # pickles (multiprocessing, torch.multiprocessing) with its violations
        return (type(self), (self.violations,))


def _event_text(violations: Sequence[Violation]) -> str:
    first = violations[0].summary
    if len(violations) == 1:
        return violations[0].message
    head = violations[0]
    others = []
    for v in violations[1:]:
        same_code = v.code == head.code
        if v.group_index is None:
            others.append(v.code)
        else:
            others.append(
                f"group {v.group_index}" if same_code else f"{v.code} on group {v.group_index}"
            )
    also = f" (also {', '.join(dict.fromkeys(others))})"
    return f"{first.removesuffix('.')}{also}.\n  help: {head.help}"


Handler = str | Callable[[Violation], object]
MODES = ("raise", "warn", "log")


# Users meet these as schedlint.ScheduleViolation etc. (tracebacks, warning filters such as
# -W error::schedlint.ScheduleWarning); both names resolve, also for pickling.
for _cls in (ScheduleViolation, ScheduleWarning):
    _cls.__module__ = "schedlint"


def check_handler(on_violation: Handler) -> Handler:
    if callable(on_violation) or on_violation in MODES:
        return on_violation
    raise ValueError(
        f"on_violation must be one of {', '.join(MODES)} or a callable, got {on_violation!r}"
    )


@dataclass
class Dispatcher:
    """Sends violation events to the user's choice of channel.

    warn/log report the first occurrence of each (code, group) and count the rest, so a write
    repeated every step does not flood the log; report() has the counts. raise and callables see
    every event: they are the user's own control flow.
    """

    handler: Handler
    seen: set = field(default_factory=set)

    def __call__(self, violations: Sequence[Violation], *, can_raise: bool = True) -> None:
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        handler = self.handler
        if callable(handler):
            for v in violations:
                handler(v)
            return
        if handler == "raise":
            if can_raise:
                raise ScheduleViolation(violations)
            handler = "warn"  # e.g. at garbage collection, where raising would be lost
        fresh = [v for v in violations if (v.code, v.group_index) not in self.seen]
        if not fresh:
            return
        self.seen.update((v.code, v.group_index) for v in fresh)
        text = _event_text(fresh)
        if handler == "warn":
            warnings.warn(text, ScheduleWarning, stacklevel=user_stacklevel())
        else:
            log.warning(text)
