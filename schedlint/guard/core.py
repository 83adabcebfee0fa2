"""The Guard: what it remembers about one optimizer, and the checks it runs at each hook.

Entry points, called from :mod:`schedlint.guard.hooks`:

* :meth:`Guard.before_optimizer_step` (step pre-hook): SLG104 group changes, SLG105 bad values,
  SLG102 writes since the last scheduler step, SLG101 declared schedule, SLG106 ranks.
* :meth:`Guard.after_optimizer_step` (post-hook): counts the step; notices LRs rewritten inside
  ``optimizer.step()`` (then LR values cannot be checked: "not checked", once).
* :meth:`Guard.scheduler_step` (around the real ``scheduler.step()``): SLG103 order, SLG102
  writes between ``optimizer.step()`` and ``scheduler.step()``, then the shadow replay (SLG101)
  and SLG102 for a second, undeclared scheduler.
* :meth:`Guard.scheduler_constructed` / :meth:`Guard.scheduler_loaded`: the schedulers changed
  under the guard; the reference LRs and the shadow are rebuilt at the next check.

The guard never writes to the optimizer, its groups or a scheduler, and holds them only through
weak references. A failure inside the guard degrades to a one-time :class:`NotCheckedWarning`.
"""

from __future__ import annotations

import math
import sys
import warnings
import weakref
from collections import Counter

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from schedlint.guard import (
    attribution,
    causes,
    epochs,
    foreign,
    hooks,
    intent,
    lifecycle,
    registry,
)
from schedlint.guard import lrs as L
from schedlint.guard import watch as W
from schedlint.guard.expect import DeclaredSchedule
from schedlint.guard.report import GuardReport, History
from schedlint.guard.shadow import Shadow, predict_step
from schedlint.guard.violations import (
    Dispatcher,
    NotCheckedWarning,
    ScheduleViolation,
    Violation,
    check_handler,
    user_stacklevel,
)

MAX_KEPT = 200  # violations kept in full per guard; later ones are only counted
_DYNAMO = "torch._dynamo"  # loaded by torch.compile; `import torch` alone does not load it
_STEP_WRAPPER_CODE = Optimizer.profile_hook_step(lambda self: None).__code__
ANCHOR = registry.ANCHOR
# Codes about an lr someone wrote into a group: watch mode can name the line of that write.
WRITE_CODES = frozenset({"SLG101", "SLG102", "SLG108"})


class _Anchor:
    """Stored in the optimizer's ``__dict__``: the optimizer owns its guard.

    So ``schedlint.guard(opt, sched)`` works without keeping the result, and the guard (with its
    shadow) can never outlive the optimizer, even when a scheduler lambda closes over the
    optimizer (that makes a cycle, which gc collects; a registry holding guards strongly would
    leak it). ``Optimizer.__getstate__`` and ``state_dict()`` never include ``__dict__``; should a
    subclass pickle or copy it anyway, the anchor travels as an empty one.
    """

    __slots__ = ("guard",)

    def __init__(self, guard=None):
        self.guard = guard

    def __reduce__(self):
        return (_Anchor, ())

    def __copy__(self):
        return _Anchor()

    def __deepcopy__(self, memo):
        return _Anchor()

    def __repr__(self) -> str:
        return "<schedlint guard anchor>"


def _optimizer_collected(guard_ref, optimizer_id: int) -> None:
    # weakref.finalize callback: runs inside garbage collection. If the guard died in the same
    # cycle as its optimizer there is nothing left to report; the hooks are released later.
    guard = guard_ref()
    if guard is not None:
        guard._optimizer_collected()
    else:
        registry.remove(None, optimizer_id)
        hooks.release_later()


class _Sched:
    """What the guard knows about one scheduler (never stored on the scheduler itself)."""

    __slots__ = (
        "ref",
        "name",
        "known",
        "top",
        "steps",
        "mark",
        "fresh",
        "start",
        "parent",
        "budget",
        "line",
        "span",
        "args_key",
        "plan",
    )

    def __init__(self, sched, known: bool, mark, fresh: bool, start: int):
        self.ref = weakref.ref(sched)
        self.name = type(sched).__name__
        self.known = known  # watched (declared or discovered); False: a second, undeclared one
        self.top = True  # False for the children of SequentialLR/ChainedScheduler
        self.steps = 0  # top-level steps seen by the guard
        self.mark = mark  # optimizer step attempts at its last step; None: unknown history
        self.fresh = fresh  # had not been stepped when the guard first saw it (for SLG107)
        self.start = start  # optimizer steps when the guard first saw it
        self.parent = None
        # Lengths and step counts (intent.budget_parts) as of its last step, for SLG112 after it
        # was collected; None for a scheduler without a length.
        self.budget = [] if intent.has_budget(sched) else None
        self.line = None  # "file:line" of its construction, when the guard saw it being built
        self.span = None  # optimizer steps at its first and its last top-level step
        self.args_key = None  # its constructor's arguments, optimizer left out (SLG117)
        self.plan = None  # a MultiStepLR's milestones and gamma as built (SLG112 at the end)


def _cadence(rec) -> int:
    """Optimizer steps between two steps of the scheduler, when every interval from its first to
    its last step was the same length; 0 when not known or not steady."""
    if rec.span is None or rec.steps < 2:
        return 0
    first, last = rec.span
    between, rest = divmod(last - first, rec.steps - 1)
    return between if not rest else 0


def _is_fresh(sched) -> bool:
    """Not stepped since construction (SequentialLR counts its own steps; ChainedScheduler has no
    counter, its first child's tells)."""
    last_epoch = getattr(sched, "last_epoch", None)
    if last_epoch is None:
        inner = _children(sched)
        return bool(inner) and _is_fresh(inner[0])
    return last_epoch == 0


def _children(sched) -> list:
    """The schedulers ``sched`` steps itself: a SequentialLR's or ChainedScheduler's list, or,
    for a scheduler class of the user's, the schedulers it holds (``self.after_scheduler`` of a
    warm-up that hands every later step over to it)."""
    inner = getattr(sched, "_schedulers", None)
    if inner:
        return list(inner)
    if type(sched).__module__.startswith("torch.") or not hasattr(sched, "__dict__"):
        return []
    out = []
    for value in vars(sched).values():
        for v in value if isinstance(value, (list, tuple)) else (value,):
            if (
                isinstance(v, LRScheduler)
                and v is not sched
                and not any(x is sched for x in getattr(v, "__dict__", {}).values())
            ):
                out.append(v)
    return out


class Guard:
    """Watches one optimizer and the schedulers driving it. See :func:`schedlint.guard.api_guard`."""

    def __init__(
        self,
        optimizer,
        schedulers=None,
        *,
        expect=None,
        on_violation="raise",
        rtol: float = 1e-6,
        atol: float = 1e-12,
        check_every: int = 100,
        replay: bool = True,
        foreign_writers=(),
        allow_external_writes: bool = False,
        history: int = 0,
        dist_timeout: float = 60.0,
        ignore=(),
        watch: bool = False,
        _session=None,
    ):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(
                f"schedlint.guard needs a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        if check_every < 1:
            raise ValueError("check_every must be >= 1")
        self._dispatch = Dispatcher(check_handler(on_violation))
        self.rtol, self.atol, self.check_every = float(rtol), float(atol), int(check_every)
        self.replay = bool(replay)
        self.allow_external_writes = bool(allow_external_writes)
        self.dist_timeout = float(dist_timeout)
        self.ignore = frozenset(str(c).upper() for c in ignore)
        self._session = _session
        self.name = type(optimizer).__name__
        self.built_at = None  # "file:line" of the optimizer's constructor, when it was seen
        self.closed = False
        self.aborted = False  # a violation was raised into the training code
        self.optimizer_steps = 0
        self._attempts = 0  # optimizer steps plus steps GradScaler skipped
        self._in_step = 0
        self._off = False  # an internal error: the guard only passes calls through
        self._lr_values = True  # False once LRs are rewritten inside optimizer.step()
        self._rebuild = False  # the shadow must be rebuilt from the current state (a load)
        self._n = -1
        self._g0 = None
        self._labels: list = []
        self._base: list = []  # each group's baseline LR
        # A group added later starts at its own lr while the others may be mid-schedule: its
        # ratio to them is measured from then (each group's baseline over this factor, the
        # others' progress through the schedule when it was added).
        self._ratio_scale: list = []
        self._base_source: list = []  # where each baseline came from
        self._ref = None  # without a shadow: the LRs accepted last
        self._pre = None
        self._pre_raw = None
        self._shadow = None
        self._dev = None
        self._dev_baseline = None
        self._diverged: dict = {}  # group -> actual/expected when reported off its schedule
        self._accepted_any = False  # a declared writer or allowed write moved the reference
        self._ratio_reported: set = set()
        # SLG104: group -> (optimizer steps, scheduler name, its steps) when it was added after a
        # scheduler had started; a later SLG108 of that group is its consequence.
        self._late_groups: dict = {}
        self._vanish_reported: set = set()
        self._ever_nonzero: list = []
        self._records: dict = {}
        self._order: list = []
        self._top: list = []
        self._shape_reported: set = set()
        self._not_checked: dict = {}
        self._unwatched: list = []
        self._kept: list = []
        self._counts: Counter = Counter()
        self._last_actual = None
        self._last_expected = None
        self._ranks = True  # SLG106 checks until a collective fails
        self._writers = []
        self._library_bases = ()  # foreign.imported_bases() when last searched
        self._writer_calls = {}  # id(foreign writer) -> the names of its methods that ran
        self._writer_needs = {}  # id(timm scheduler) -> (its class name, the method moving it)
        self._history = History(int(history)) if history else None
        self._final = None
        self._stepped_since: dict = {}  # closed-form schedulers stepped since the last optimizer step
        # record -> (sequence number, name) of each top-level scheduler's last step, to tell when
        # an overwriting scheduler discards another one's steps (SLG113); keyed by the record so
        # that a collected scheduler's id, reused, is not taken for it
        self._last_steps: dict = {}
        self._lifecycle_reported: set = set()
        # SLG112 as it shows: (record, part index) of the lengths reported while stepping, left out
        # at the end of the run; the records whose first epoch was judged (epoch_overrun).
        self._budget_reported: set = set()
        self._epoch_judged: set = set()
        # DataLoader passes that ran to their end: epochs (SLG112 for epoch-sized schedules).
        self._passes = epochs.Passes()
        self._unsaved: list = []  # SLG114: (checkpoint key, optimizer step, caller line) to settle
        self._scheduler_saved: dict = {}  # checkpoint key -> optimizer step of its scheduler state
        self._replacement = None  # SLG115: (weakref(newer Guard), its line, our steps then)
        self._replay_restarted: set = set()  # schedulers whose twin was rebuilt after a failed step
        # group -> (scheduler, baseline, initial_lr, line): lr written before that scheduler was built
        self._prebuilt: dict = {}
        # id(LambdaLR/MultiplicativeLR) -> [record, line, seen, pending]: whether its lambda
        # returns LRs instead of factors (seen: LambdaLR's (group, limits, each) at construction,
        # MultiplicativeLR's LRs before its first step). Dropped once judged; a LambdaLR whose
        # factor stays at the LR keeps its violation pending to the end of the run.
        self._lambda_checks: dict = {}
        # SLG114 on resume: optimizer state loaded from a run that had a scheduler (its groups
        # carry initial_lr), judged at the next optimizer step: {"line", "steps", "loaded"}.
        self._resumed = None
        # SLG114 on resume: a scheduler state just loaded, whose lrs (its _last_lr) the groups
        # should hold at the next optimizer step: (scheduler record or name, lrs, load line).
        self._loaded_lrs = None
        self.watch = bool(watch)
        self._watch_retry = self.watch  # try watching the groups again at the next optimizer step
        self._lent = None  # watched groups swapped for plain copies during an optimizer step

        declared = None
        if schedulers is not None:
            if isinstance(schedulers, (list, tuple)):
                declared = list(schedulers)
            else:
                declared = [schedulers]
            for s in declared:
                bound = getattr(s, "optimizer", None)
                if not isinstance(s, LRScheduler) or (
                    bound is not optimizer and registry.unwrap(bound) is not optimizer
                ):
                    what = type(s).__name__
                    raise ValueError(
                        f"schedlint.guard: {what} is not a torch scheduler bound to this optimizer"
                    )
        self._declared = None if declared is None else weakref.WeakSet(_closure(declared))

        groups = optimizer.param_groups
        self._labels = [L.group_label(g, i) for i, g in enumerate(groups)]
        self._expect = None if expect is None else DeclaredSchedule(expect, groups, self._labels)

        previous = registry.existing(optimizer)
        if previous is not None:
            if previous._session is None or _session is not None:
                raise ValueError(f"this {self.name} is already guarded; close() that guard first")
            # An explicit guard takes over from the auto-installed one; keep what it saw.
            previous._final = previous._snapshot([])
            previous._detach()
            previous._session.finished(previous)
        self._opt_ref = weakref.ref(optimizer)
        self._opt_id = id(optimizer)
        hooks.acquire()
        if self.watch and _session is None:
            # (An auto session shields when installed: it may adopt inside torch's hook loop.)
            hooks.shield_from_dynamo()
        registry.add(self, optimizer)
        optimizer.__dict__[ANCHOR] = _Anchor(self)
        self._finalizer = weakref.finalize(
            optimizer, _optimizer_collected, weakref.ref(self), id(optimizer)
        )
        self._finalizer.atexit = False  # at exit the session reports live guards itself
        for s in declared or ():
            self._register(s, known=True, mark=self._initial_mark(optimizer, s), fresh=_is_fresh(s))
        if declared is None and _session is None:
            self._discover_existing(optimizer)
        for writer in foreign_writers:
            if isinstance(writer, LRScheduler):
                self._register(writer, known=True, mark=None, fresh=False)
                continue
            if not hooks.wrap_writer_class(type(writer)):
                raise TypeError(
                    f"foreign writer {type(writer).__name__} has none of the methods "
                    f"{', '.join(hooks.WRITER_METHODS)}"
                )
            self._add_writer(writer)
        self._start(optimizer, groups)
        for rec in list(self._order):  # declared or discovered, not stepped yet
            s = rec.ref()
            if s is not None and rec.known and rec.top and rec.fresh:
                self._note_lambda(rec, s, None)
                for child in _children(s):  # a lambda inside SequentialLR/ChainedScheduler
                    child_rec = self._records.get(id(child))
                    if child_rec is not None and child_rec.ref() is child:
                        self._note_lambda(child_rec, child, None)
        if self.watch:
            self.watch_groups(optimizer)

    # --- watch mode ----------------------------------------------------------------------

    def watch_groups(self, opt, passed=None) -> None:
        """Replace the groups nothing else holds by watched ones (schedlint.guard.watch). Called
        when the guard starts, from the constructor hook (``passed``: the constructor's list),
        and at the first optimizer step after groups were added, loaded or a scheduler built."""
        groups = opt.param_groups
        # The guard's own reference to the first group (structure-change detection) is not one
        # that breaks by the swap: drop it for the count, take the new object afterwards.
        old = self._g0
        was_first = old is not None and bool(groups) and groups[0] is old
        self._g0 = None
        if was_first:
            old = None
        try:
            left = W.watch(groups, passed)
        finally:
            # Still the first group: follow it to its watched object. Otherwise a load is pending
            # and the structure check must still see it.
            self._g0 = groups[0] if was_first else old
        self._unwatched = left

    def _retry_watch(self, opt) -> None:
        self._watch_retry = False
        self.watch_groups(opt)
        if self._unwatched:
            names = ", ".join(str(i) for i in self._unwatched)
            self._not_checked["watch"] = (
                f"{self.name}: watch mode left group(s) {names} as plain dicts: they are referenced "
                "outside the optimizer (e.g. g = opt.param_groups[0] kept, or the group dict passed "
                "to the constructor kept), so writes to them are not traced to a line"
            )
        else:
            self._not_checked.pop("watch", None)

    def _written_at(self, groups, i: int, cur) -> str | None:
        if not self.watch or i >= len(groups) or i >= len(cur):
            return None
        return W.last_write(groups[i], cur[i])

    # --- the baseline --------------------------------------------------------------------

    def _start(self, opt, groups) -> None:
        """Take each group's baseline and build the shadow of what its LRs should be.

        The baseline is ``initial_lr`` where a scheduler (or a loaded state) put one, else the
        current LR. Schedulers not stepped yet have their construction replayed from it;
        schedulers already stepped before the guard leave only the current LRs to go on from.
        """
        at_construction = (
            self._session is not None
            and not self._live_known()
            and not any("initial_lr" in g for g in groups)
        )
        self._base, self._base_source, self._ratio_scale = [], [], []
        for g in groups:
            self._add_baseline(g, "lr at construction" if at_construction else None)
        self._n = len(groups)
        self._g0 = groups[0] if groups else None
        self._ever_nonzero = [False] * self._n
        self._dev = L.DeviceLRChecks(groups) if L.on_device(groups) else None
        top = [r for r in self._order if r.known and r.top and r.ref() is not None]
        fresh = all(r.fresh for r in top)
        if self._dev is not None or (top and not fresh):
            self._base_source = [
                "lr when guarded (schedulers already stepped)" if top else s
                for s in self._base_source
            ]
            self._rebuild_from_current(opt, groups)
            return
        self._ref = list(self._base)
        if self.replay:
            try:
                shadow = Shadow(opt, self._base)
                if top:
                    shadow.copy_in(opt, [r.ref() for r in top], rerun_construction=True)
                self._shadow = shadow
            except Exception as exc:
                self._replay_failed(
                    f"{', '.join(r.name for r in top)} cannot be copied for replay "
                    f"({type(exc).__name__}: {exc})"
                )
                self._rebuild_from_current(opt, groups)
        self._index_top()

    def _add_baseline(self, group: dict, source, groups=None) -> None:
        """``groups``: the optimizer's groups when ``group`` was added to them after the others."""
        self._ratio_scale.append(self._scale_now(groups) if groups is not None else 1.0)
        if "initial_lr" in group and source is None:
            self._base.append(float(group["initial_lr"]))
            self._base_source.append("initial_lr")
        else:
            self._base.append(float(group["lr"]) if not L.on_device([group]) else math.nan)
            self._base_source.append(source or "lr when guarded")

    def _rebuild_from_current(self, opt, groups) -> None:
        """The current state becomes the reference: after a load (a resume), for accelerator LRs,
        or when the history of the schedulers is unknown."""
        self._rebuild = False
        self._diverged = {}
        self._shadow = None
        self._index_top()
        if self._dev is not None:
            self._dev_baseline = self._dev.stack(groups)
            self._ref = None
        else:
            self._ref = L.read(groups)
        top = [r.ref() for r in self._top]
        if not self.replay or "replay" in self._not_checked:
            return
        try:
            shadow = Shadow(opt, None)
            if top:
                shadow.copy_in(opt, top, rerun_construction=False)
            self._shadow = shadow
        except Exception as exc:
            self._replay_failed(
                f"{', '.join(type(s).__name__ for s in top)} cannot be copied for "
                f"replay ({type(exc).__name__}: {exc})"
            )

    def _index_top(self) -> None:
        self._prune()
        self._top = [r for r in self._order if r.ref() is not None and r.known and r.top]

    def _expected(self):
        """What every group's LR should be now (host LRs)."""
        if self._shadow is not None:
            return self._shadow.lrs()
        return self._ref

    # --- public API --------------------------------------------------------------------

    @property
    def optimizer(self):
        return self._opt_ref()

    @property
    def violations(self) -> list:
        return list(self._kept)

    @property
    def labels(self) -> list:
        """Each group's label: its ``name`` key, else ``param_names[0]``, else its index."""
        return list(self._labels)

    @property
    def baseline(self) -> list:
        """``[(label, baseline lr, where it came from), ...]``: what the expected LRs derive from."""
        return list(zip(self._labels, self._base, self._base_source))

    @property
    def history(self):
        """The bounded LR history (``history=N``), or None: ``.steps``, ``.actual``,
        ``.expected``, ``.marks``."""
        return self._history

    def optimizer_step(self, optimizer=None, *, done: bool = False) -> None:
        """Run the checks of an optimizer step by hand, for wrappers whose ``step()`` fires no torch
        hooks (accelerate's AcceleratedOptimizer): call it before the update, and with
        ``done=True`` after it. Raises :class:`ScheduleViolation` in raise mode."""
        __tracebackhide__ = True
        opt = optimizer if optimizer is not None else self._opt_ref()
        if opt is None or self.closed:
            return
        if done:
            self.after_optimizer_step(opt)
        else:
            self.before_optimizer_step(opt)

    def report(self) -> GuardReport:
        """Steps seen, violations per code and group, last expected/actual LRs. Never raises
        a violation; end-of-run findings (SLG107, SLG109, SLG112) appear under ``pending`` until
        the guard closes."""
        if self._final is not None:
            return self._final
        if self._dev is not None and not self._off:
            self._safely(
                "device readback", lambda: self._emit(self._device_readback(), can_raise=False)
            )
        self._safely("report", self._refresh_last)
        return self._snapshot(self._end_of_run())

    def _refresh_last(self) -> None:
        """Now, on both sides: the real LRs and what they should be."""
        opt = self._opt_ref()
        if opt is not None and self._dev is None and len(opt.param_groups) == self._n:
            self._last_actual = L.read(opt.param_groups)
            expected = self._expected()
            if expected is not None and self._expect is None:
                self._last_expected = list(expected)

    def close(self, *, _can_raise: bool = True, _end_checks: bool = True) -> GuardReport:
        """Remove every hook this guard needs; report end-of-run findings through ``on_violation``
        (none after a violation aborted the run: the run did not end, it was stopped)."""
        if self.closed:
            return self._final
        pending = []
        try:
            if not self._off:
                self._safely("report", self._refresh_last)
            if not self._off and self._opt_ref() is not None:
                if self._dev is not None:
                    pending += self._safe_list("device readback", self._device_readback)
                if _end_checks and not self.aborted:
                    pending += self._end_of_run()
        finally:
            pending = [v for v in pending if v.code not in self.ignore]
            self._record(pending)
            self._final = self._snapshot([])
            self._detach()
        if pending:
            self._dispatch(pending, can_raise=_can_raise)
        return self._final

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(_can_raise=exc_type is None)
        return False

    def plot(self, path: str) -> str:
        from schedlint.guard.report import plot

        return plot([(self.name, self._labels, self._history)], path)

    def __del__(self):
        # Collected in one gc cycle with its optimizer (Lightning holds both in reference
        # cycles): the optimizer's finalizer then found this guard's weakref already cleared.
        # While ``__del__`` runs, the objects of the cycle are still intact (PEP 442), so the
        # end-of-run checks are made here instead of being lost.
        try:
            if not self.closed:
                # the finalizer has released this guard's share of the hooks already
                self._optimizer_collected(hooks_released=True)
        except Exception:  # interpreter shutdown, or a guard whose __init__ failed
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"{self.optimizer_steps} steps"
        return f"<schedlint Guard {self.name} {state}, {sum(self._counts.values())} violations>"

    # --- hooks: optimizer ------------------------------------------------------------------

    def before_optimizer_step(self, opt) -> None:
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        if self._lent is not None and not self._in_step:
            self._take_back(opt)  # left from a step that raised
        self._before_optimizer_step(opt)
        if self.watch and self._in_step == 1 and _DYNAMO in sys.modules:
            # The step may be compiled; dynamo traces plain-dict groups only (schedlint.guard.watch).
            self._lent = W.lend(opt.param_groups)

    def _take_back(self, opt) -> None:
        lent, self._lent = self._lent, None
        W.take_back(opt.param_groups, lent)

    def _before_optimizer_step(self, opt) -> None:
        __tracebackhide__ = True
        if self._in_step:
            if self._outer_step_running(opt):
                self._in_step += 1  # super().step() of a subclass: hooks fire again
                return
            self._in_step = 0  # left over from a step that raised
        self._in_step = 1
        if self._off:
            return
        try:
            if self._watch_retry:
                self._retry_watch(opt)
            found = self._before_update(opt)
            if self._resumed is not None:
                found += self._restarted_schedules()
            if self._loaded_lrs is not None:
                found += self._resumed_off_schedule(opt)
            if self._watch_retry:  # groups loaded or added, seen by this step's checks
                self._retry_watch(opt)
            if self._unsaved:
                found += self._unsaved_checkpoints(settled_before=self.optimizer_steps + 1)
        except Exception as exc:
            self._internal_error("optimizer step pre-hook", exc)
            return
        if found:
            try:
                self._emit(found)
            except BaseException:
                self._in_step = 0  # the step is aborted: no post-hook will run
                raise

    def after_optimizer_step(self, opt) -> None:
        if self._lent is not None and self._in_step <= 1:
            self._take_back(opt)
        if self._in_step > 1:
            self._in_step -= 1
            return
        if not self._in_step:
            return
        self._in_step = 0
        self.optimizer_steps += 1
        self._attempts += 1
        self._stepped_since = {}
        if self._off or not self._lr_values or self._dev is not None:
            return
        groups = opt.param_groups
        if len(groups) != self._n or self._pre_raw is None:
            return
        # The raw values: equal floats, or the same tensor objects (schedulers fill_ tensors in
        # place, so an in-place rewrite of a tensor LR inside step() is not seen here).
        raw = list(map(L.raw, groups))
        if raw != self._pre_raw:
            cur = L.read(groups)
            if L.same(cur, self._pre):
                return
            i = L.changed(cur, self._pre)[0]
            self._lr_values = False
            self._note_not_checked(
                "in-step",
                f"{self.name}: the LR of group {i} changed inside optimizer.step() "
                f"({self._pre[i]:.6g} -> {cur[i]:.6g}), by a step hook or the optimizer itself; the LR "
                "an update used cannot be known, so LR values of this optimizer are not checked from now on",
            )

    def note_skipped_step(self) -> None:
        """GradScaler skipped an optimizer step (inf/NaN gradients): still a step for SLG103."""
        self._attempts += 1

    def _outer_step_running(self, opt) -> bool:
        # The pre-hook runs under torch's wrapper of the inner step, reached through a varying
        # number of frames (this guard's own, dynamo's disable wrapper in watch mode); a second
        # wrapper for the same optimizer further out means super().step() nesting.
        frame = sys._getframe(1)
        wrappers = 0
        while frame is not None:
            if frame.f_code is _STEP_WRAPPER_CODE and frame.f_locals.get("self") is opt:
                wrappers += 1
                if wrappers == 2:
                    return True
            frame = frame.f_back
        return False

    def _structure_changed(self, groups) -> bool:
        return (
            self._rebuild or len(groups) != self._n or (bool(groups) and groups[0] is not self._g0)
        )

    def _before_update(self, opt) -> list:
        groups = opt.param_groups
        found = []
        if self._structure_changed(groups):
            found += self._resync(opt, groups)
        step = self.optimizer_steps
        if self._dev is not None:
            return found + self._device_before_update(groups, step)
        raw = list(map(L.raw, groups))
        cur = list(map(float, raw))
        expected = self._expected()
        if self._lr_values:
            for i in L.bad_values(cur):
                found.append(
                    self._violation(
                        "SLG105", i, None, cur[i], causes.bad_value(cur[i], self._live_top())
                    )
                )
            skip = {v.group_index for v in found}
            if (
                expected is not None
                and not L.same(cur, expected)
                and self._found_library_writers(opt)
            ):
                # a timm scheduler wrote them (its constructor, or a step before it was found)
                self._accept_current(opt)
                expected = self._expected()
            if expected is not None:
                found += self._compare(
                    groups, cur, expected, "SLG102", f"before optimizer step {step}", skip=skip
                )
                expected = self._expected()
            found += self._intent_checks(groups, cur, expected)
            if self._expect is not None:
                found += self._check_expect(step, cur)
            if self._ranks and step % self.check_every == 0:
                found += self._check_ranks(cur)
            for i, x in enumerate(cur):
                if x != 0.0 and i < len(self._ever_nonzero):
                    self._ever_nonzero[i] = True
        self._pre = cur
        self._pre_raw = raw
        self._last_actual = cur
        if self._expect is None and expected is not None:
            self._last_expected = list(expected)
        if self._history is not None:
            self._history.add(step, cur, self._last_expected)
        return found

    # --- comparing with the intended LRs ---------------------------------------------------

    def _declared_groups(self) -> set:
        return set() if self._expect is None else self._expect.covered(self._n)

    def _accepted_write(self, cur: list, expected: list, warmup_ok: bool) -> str:
        """``"adopt"`` for writes the user declared (``allow_external_writes``) and a warm-up
        before a ReduceLROnPlateau (which reads the current lr); ``"pass"`` for a warm-up written by
        hand before any other attached scheduler stepped: one common factor in (0, 1] of every
        group's intended LR (torchvision's and mmdet's ``initial_lr * factor``), so the groups
        keep their ratios; ``""`` for a write to report."""
        if self.allow_external_writes:
            return "adopt"
        top = self._top
        if not (warmup_ok and top and all(r.steps == 0 for r in top)):
            return ""
        plateau = any(r.name == "ReduceLROnPlateau" for r in top)
        # ReduceLROnPlateau reads the current lr, so its warm-up is measured from the baseline.
        f = intent.factors(cur, self._base if plateau else expected)
        usable = [x for x in f if x is not None]
        if (
            len(usable) == len(f)
            and usable
            and all(abs(x / usable[0] - 1.0) <= 1e-9 for x in usable)
            and 0.0 < usable[0] <= 1.0 + 1e-12
        ):
            return "adopt" if plateau else "pass"
        return ""

    def _compare(
        self,
        groups,
        cur,
        expected,
        code,
        where,
        skip=(),
        sched_rec=None,
        cause=None,
        acceptable: bool = True,
        warmup_ok: bool = True,
    ) -> list:
        """Report groups newly off their intended LR; remember which are off (reported once)."""
        if L.same(cur, expected):
            self._diverged = {}
            return []
        changed = [
            i
            for i in L.changed(cur, expected)
            if not L.close(cur[i], expected[i], self.rtol, self.atol)
        ]
        declared = self._declared_groups()
        off = [i for i in changed if i not in declared]
        if not off:
            self._diverged = {}
            return []
        offsets = {i: _offset(cur[i], expected[i]) for i in off}
        early = {i for i in off if self._written_before_built(i, offsets[i])}
        # A "warm-up" written before the scheduler was built is no warm-up: the scheduler took it
        # as its initial_lr, so it scales the whole schedule.
        accepted = (
            self._accepted_write(cur, expected, warmup_ok) if acceptable and not early else ""
        )
        if accepted:
            # A warm-up is not the reference of a closed-form or chainable scheduler: the first
            # recomputes its lr at its next step, the second would compound a warm-up still in
            # the groups when it steps, which is reported then.
            if accepted == "adopt":
                self._adopt(groups, cur)
            return []
        # A group already reported stays reported while its lr keeps the same offset from the
        # schedule (a chainable scheduler carries a write forward); a new offset is a new write.
        before = self._diverged
        new = [
            i
            for i in off
            if i not in skip and not (i in before and L.close(offsets[i], before[i], 1e-9, 0.0))
        ]
        self._diverged = offsets
        if not new:
            return []
        if cause is None:
            cause = causes.outside_write(self._live_top(), where, self._base_source)
        return [
            self._violation(
                "SLG102",
                i,
                expected[i],
                cur[i],
                causes.written_before_built(*self._prebuilt[i]),
                sched=sched_rec,
                written_at=self._written_at(groups, i, cur),
            )
            if i in early
            else self._violation(
                code,
                i,
                expected[i],
                cur[i],
                cause,
                sched=sched_rec,
                written_at=self._written_at(groups, i, cur),
            )
            for i in new
        ]

    def _written_before_built(self, i: int, offset: float) -> bool:
        """Group ``i`` is off its schedule by exactly the factor of a write made before a scheduler
        was built (which took the written lr as its initial_lr)."""
        pre = self._prebuilt.get(i)
        return pre is not None and pre[1] != 0 and L.close(offset, pre[2] / pre[1], 1e-6, 0.0)

    def _note_prebuilt(self, opt, name: str, caller) -> None:
        """After a scheduler was built: groups whose ``initial_lr`` (what the scheduler starts
        from) is not their baseline were written between the optimizer and the scheduler."""
        for i, g in enumerate(opt.param_groups):
            if (
                i in self._prebuilt
                or i >= len(self._base)
                or "initial_lr" not in g
                or L.on_device([g])
            ):
                continue
            initial, base = float(g["initial_lr"]), self._base[i]
            if math.isfinite(base) and not L.close(initial, base, self.rtol, self.atol):
                self._prebuilt[i] = (name, base, initial, _where(caller))

    def _note_lambda(self, rec, sched, caller) -> None:
        """A LambdaLR or MultiplicativeLR just built: remember what its first step must show to
        tell a lambda that returns LRs (``lambda e: args.lr * 0.95 ** e``) from one that returns
        factors. Nothing is called: the factors are read back from the LRs torch computed."""
        opt = self._opt_ref()
        if rec.name not in intent.LAMBDA_SCHEDULERS or opt is None or self._dev is not None:
            return
        if not self._lr_values or len(getattr(sched, "lr_lambdas", ())) != len(opt.param_groups):
            return
        # [record, line, what the first step is judged against, violation pending to the end,
        #  last_epoch when last looked at: a child of SequentialLR or ChainedScheduler is judged
        #  from its own last lrs whenever its parent stepped it]
        entry = [rec, None if caller is None else _where(caller), None, None, sched.last_epoch]
        if rec.name == "LambdaLR":
            bases = [float(b) for b in sched.base_lrs]
            factors = intent.factors([float(x) for x in sched.get_last_lr()], bases)
            entry[2] = intent.returned_lr(
                bases, factors, _shared(sched.lr_lambdas), _default_lr(opt)
            )
            if entry[2] is None:
                return
        self._lambda_checks[id(sched)] = entry

    def _before_nested_lambdas(self) -> None:
        """Before a top-level scheduler step: the lrs a nested MultiplicativeLR will multiply (exact
        in SequentialLR, whose one active child writes the groups; in ChainedScheduler, where the
        children before it write them too, a factor of theirs in this step hides its own)."""
        opt = self._opt_ref()
        if opt is None or self._dev is not None:
            return
        for entry in self._lambda_checks.values():
            if entry[0].name == "MultiplicativeLR" and not entry[0].top:
                entry[2] = L.read(opt.param_groups)

    def _nested_lambda_verdicts(self) -> list:
        """After a top-level scheduler step: the noted LambdaLR/MultiplicativeLR children of
        SequentialLR/ChainedScheduler that it stepped, judged as top-level ones are, from the lrs
        the child itself produced (``get_last_lr()``: the other children also write the groups)."""
        found = []
        for entry in list(self._lambda_checks.values()):
            rec = entry[0]
            sched = rec.ref()
            if rec.top or sched is None:
                continue
            epoch, now = entry[4], sched.last_epoch
            if now == epoch:
                continue
            entry[4] = now
            # SequentialLR undoes its children's initial steps (last_epoch -1) and starts a phase
            # with step(0): the lambda's first value again, nothing new to judge.
            if now <= 0 or now != epoch + 1:
                continue
            found += self._lambda_verdict(rec, sched, [float(x) for x in sched.get_last_lr()])
        return found

    def _lambda_verdict(self, rec, sched, own=None) -> list:
        """After a step of a LambdaLR/MultiplicativeLR noted by :meth:`_note_lambda` (the first
        one, and the next ones while a LambdaLR's factor stays at the LR): SLG101 when its lambda
        returned the groups' LRs as factors (the groups train at LR x LR). ``own``: the lrs a
        nested child produced (a top-level one is judged from the groups)."""
        entry = self._lambda_checks.pop(id(sched), None)
        opt = self._opt_ref()
        if entry is None or entry[0] is not rec or opt is None or self._dev is not None:
            return []
        groups = opt.param_groups
        if (not rec.top and own is None) or not self._lr_values:
            return []
        if len(groups) != len(sched.base_lrs):
            return []
        line, seen = entry[1], entry[2]
        cur = L.read(groups) if own is None else own
        bases = [float(b) for b in sched.base_lrs]
        if rec.name == "LambdaLR":
            group, limits, each = seen
            factors = intent.factors(cur, bases)
            if not intent.stayed_under(factors, limits):
                return []  # a warm-up whose first factor happened to equal the LR: it rises
            found = self._lambda_violation(
                rec, line, group, factors[group], limits[group], cur, each
            )
            if intent.dropped(factors, limits):
                return [found]
            # Constant so far: a constant lambda that returns the LR, or a constant warm-up factor
            # that equals it (lr=0.1 warmed up at a factor of 0.1). Judged when it moves (up:
            # a warm-up; down: an LR decaying from the LR), else at the end of the run.
            entry[3] = found
            self._lambda_checks[id(sched)] = entry
            return []
        found = (
            intent.returned_lr(
                bases, intent.factors(cur, seen), _shared(sched.lr_lambdas), _default_lr(opt)
            )
            if seen is not None
            else None
        )
        if found is None:
            return []
        group, each = found[0], found[2]
        return [self._lambda_violation(rec, line, group, None, found[1][group], cur, each)]

    def _lambda_violation(self, rec, line, group, returned, first, cur, each) -> Violation:
        """``returned``: what the lambda returns now (the LR it meant; None for MultiplicativeLR,
        whose LR compounds); ``first``: what it returned first, the group's LR."""
        return self._violation(
            "SLG101",
            group,
            returned,
            cur[group],
            causes.lambda_returns_lr(
                rec.name, line, group, first, cur[group], each if len(cur) > 1 else "own"
            ),
            sched=rec,
        )

    def _lambda_pending(self) -> list:
        """End of the run: LambdaLRs whose lambda returned each group's LR and never moved from it."""
        return [e[3] for e in self._lambda_checks.values() if e[3] is not None]

    def _adopt(self, groups, cur) -> None:
        self._accepted_any = True
        self._ref = list(cur)
        self._diverged = {}
        if self._shadow is not None:
            self._shadow.set_lrs(groups)

    def _intent_checks(self, groups, cur, expected) -> list:
        """SLG108 (group ratios) and SLG109 (vanishing LRs) at an optimizer step."""
        found = []
        declared = self._declared_groups()
        base = self._base
        if len(base) != len(cur):
            return found
        ratio_base = [b / k for b, k in zip(base, self._ratio_scale)]
        for i, j in intent.ratio_breaks(cur, ratio_base):
            if i in self._ratio_reported or i in declared or j in declared:
                continue
            scheduled = expected is not None and not intent.ratio_breaks(
                [expected[j], expected[i]], [ratio_base[j], ratio_base[i]]
            )
            if scheduled and cur[i] != cur[j]:
                continue  # a write that keeps the groups apart: SLG102 says it
            if expected is not None and not scheduled:
                # The schedule as built changes the ratio: fine when it was given per-group values,
                # or when writes the user allowed (a declared foreign scheduler) moved it.
                if self._accepted_any or intent.explains_ratio(
                    self._live_top(), self._shadow_groups(groups), i, j
                ):
                    continue
            self._ratio_reported.add(i)
            found.append(
                self._violation(
                    "SLG108",
                    i,
                    None if expected is None else expected[i],
                    cur[i],
                    causes.ratio_changed(
                        i,
                        j,
                        self._labels,
                        base,
                        cur,
                        self._live_top(),
                        not scheduled,
                        late=self._late_group(i, j),
                    ),
                    written_at=self._written_at(groups, i, cur),
                )
            )
        for i, (c, b) in enumerate(zip(cur, base)):
            if (
                i in self._vanish_reported
                or i in declared
                or not (b > 0)
                or not math.isfinite(c)
                or c < 0
            ):
                continue
            if c < intent.VANISH * b and c != 0.0:
                if (
                    expected is not None
                    and i < len(expected)
                    and expected[i] < intent.VANISH * b
                    and not self._accepted_any
                ):
                    continue  # the schedule itself goes there (not a write the user allowed)
                self._vanish_reported.add(i)
                found.append(
                    self._violation(
                        "SLG109",
                        i,
                        None if expected is None else expected[i],
                        c,
                        causes.vanished(c, b),
                    )
                )
        return found

    def _late_group(self, i: int, j: int):
        """``(group, optimizer steps, scheduler, its steps)`` for whichever of groups i and j was
        added after a scheduler had started (SLG104), else None."""
        for k in (i, j):
            if k in self._late_groups:
                return (k,) + self._late_groups[k]
        return None

    def _shadow_groups(self, groups):
        return self._shadow.opt.param_groups if self._shadow is not None else groups

    # --- hooks: schedulers ---------------------------------------------------------------

    def scheduler_step(self, sched, original, args, kwargs, caller=None):
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        rec = None
        # The groups now get this step's lrs: the step itself is judged against the loaded ones.
        loaded, self._loaded_lrs = self._loaded_lrs, None
        if not self._off:
            found = None
            try:
                rec = self._records.get(id(sched))
                if rec is None or rec.ref() is not sched:
                    rec = self._discover(sched)
                found = self._before_scheduler_step(rec, sched, args, kwargs, caller)
                if self._lambda_checks and rec.top:
                    self._before_nested_lambdas()
                if loaded is not None:
                    loaded = self._predict_from_loaded(loaded, sched, args, kwargs)
            except Exception as exc:
                self._internal_error("scheduler step", exc)
                rec = None
            if found:
                self._emit(found)
        state = hooks.tls
        state.depth += 1
        try:
            out = attribution.call_at(caller, original, sched, args, kwargs)
        except BaseException:
            self._rebuild = True
            raise
        finally:
            state.depth -= 1
        if rec is not None and not self._off:
            found = None
            try:
                found = self._after_scheduler_step(rec, sched, original, args, kwargs)
                if rec.budget and rec.top:
                    found = (found or []) + self._past_end_now(rec)
                if self._lambda_checks and id(sched) in self._lambda_checks:
                    found = (found or []) + self._lambda_verdict(rec, sched)
                if self._lambda_checks and rec.top:
                    found = (found or []) + self._nested_lambda_verdicts()
                if loaded is not None:
                    found = (found or []) + self._stepped_off_schedule(loaded)
            except Exception as exc:
                self._internal_error("scheduler step", exc)
            if found:
                self._emit(found)
        return out

    def scheduler_constructed(
        self, sched, args=(), kwargs=None, caller=None, outermost=True, replayable=True
    ) -> None:
        """``replayable``: ``args``/``kwargs`` are those of ``type(sched)``'s own constructor, so
        running it again on the shadow rebuilds the scheduler; else its twin is a copy."""
        known = self._declared is None or sched in self._declared
        rec = self._register(sched, known=known, mark=self._attempts, fresh=True)
        self._loaded_lrs = None  # its constructor set the groups after the load
        if caller is not None and outermost:
            rec.line = _where(caller)
        if outermost:
            self._safely("scheduler constructor", self._note_arguments, rec, sched, args, kwargs)
        self._watch_retry = self.watch
        if self._off:
            return
        try:
            self._new_scheduler(rec, sched, args, kwargs or {}, caller, outermost, replayable)
        except Exception as exc:
            self._internal_error("scheduler constructor", exc)

    def _note_arguments(self, rec, sched, args, kwargs) -> None:
        rec.args_key = lifecycle.constructor_key(type(sched).__name__, args, kwargs or {})
        rec.plan = intent.milestone_plan(sched)

    def _new_scheduler(self, rec, sched, args, kwargs, caller, outermost, replayable) -> None:
        opt = self._opt_ref()
        found = []
        if opt is not None and self._structure_changed(opt.param_groups):
            # Groups added before this scheduler was built are in its base_lrs: only the
            # schedulers built earlier miss them (yolov5 adds its groups, then builds LambdaLR).
            found += self._resync(opt, opt.param_groups, built_now=sched)
        self._index_top()
        if opt is not None and rec.known and outermost and self._lr_values and self._dev is None:
            self._note_prebuilt(opt, rec.name, caller)
            self._note_lambda(rec, sched, caller)
        if (
            self._shadow is not None
            and rec.known
            and outermost
            and self._shadow.twin(sched) is None
        ):
            try:
                if not replayable:
                    raise TypeError("the constructor's own arguments were not seen")
                self._shadow.construct(opt, sched, args, kwargs)
            except Exception:
                try:
                    self._shadow.copy_in(opt, [sched], rerun_construction=True)
                except Exception as exc:
                    self._replay_failed(
                        f"{rec.name} cannot be replayed ({type(exc).__name__}: {exc})"
                    )
        if found:
            self._emit(found, can_raise=False)

    def scheduler_failed(self, sched, args, kwargs, caller, error) -> None:
        """A scheduler constructor raised. For torch's KeyError about ``initial_lr`` (resuming with
        ``last_epoch`` on groups that never had a scheduler), report SLG110 now; torch's error
        then propagates unchanged."""
        opt = self._opt_ref()
        self._rebuild = True
        if (
            opt is None
            or self._off
            or not isinstance(error, KeyError)
            or "initial_lr" not in str(error)
        ):
            return
        last_epoch = kwargs.get("last_epoch", "?")
        missing = [i for i, g in enumerate(opt.param_groups) if "initial_lr" not in g]
        v = self._violation(
            "SLG110",
            missing[0] if missing else None,
            None,
            None,
            causes.resumed_without_initial_lr(
                type(sched).__name__, last_epoch, _where(caller), missing
            ),
        )
        self._emit([v], can_raise=False)

    def get_lr_outside_step(self, sched, returned, caller) -> None:
        """User code read ``sched.get_lr()`` outside ``step()`` (SLG116, never raised: the value
        is only read). Reported at the first call, and once more at the first call whose value
        differs from ``get_last_lr()`` (a chainable scheduler recomputes its recursive step)."""
        from dataclasses import replace  # here: keeps this check self-contained

        if self._off or self.closed:
            return
        try:
            wrong_key, any_key = ("SLG116", id(sched), "wrong"), ("SLG116", id(sched))
            seen = any_key in self._lifecycle_reported
            name = type(sched).__name__
            chainable = name not in intent.CLOSED_FORM
            if wrong_key in self._lifecycle_reported or (seen and not chainable):
                return
            try:
                got = [float(x) for x in returned]
                now = [float(x) for x in sched.get_last_lr()]
            except Exception:  # no _last_lr yet, or a value that is not a number
                got = now = None
            differs = [k for k, (a, b) in enumerate(zip(got or (), now or ())) if a != b]
            if seen and not differs:
                return
            self._lifecycle_reported.add(any_key)
            if differs:
                self._lifecycle_reported.add(wrong_key)
            rec = self._records.get(id(sched))
            v = self._violation(
                "SLG116",
                differs[0] if differs else None,
                None,
                None,
                causes.get_lr_outside_step(name, _where(caller), got, now, chainable),
                sched=rec if rec is not None and rec.ref() is sched else None,
            )
            if rec is None or rec.ref() is not sched:
                v = replace(v, scheduler=name, scheduler_step=None)
        except Exception as exc:
            self._internal_error("get_lr check", exc)
            return
        self._emit([v], can_raise=False)

    def _scale_now(self, groups) -> float:
        for k, b in enumerate(self._base):
            lr = groups[k]["lr"] if k < len(groups) and not L.on_device([groups[k]]) else None
            if lr is not None and b > 0 and math.isfinite(b) and float(lr) > 0:
                return float(lr) * self._ratio_scale[k] / b
        return 1.0

    def group_added(self, opt) -> None:
        """``add_param_group()`` on the guarded optimizer: the new group's baseline is its LR now."""
        if self._off or self.closed or self._n < 0:
            return
        groups = opt.param_groups
        while len(self._base) < len(groups):
            self._add_baseline(groups[len(self._base)], "lr when added", groups)
            self._ever_nonzero.append(False)
        self._watch_retry = self.watch

    def scheduler_loaded(self, sched, state=None, frame=None) -> None:
        self._rebuild = True
        if self._resumed is not None:
            self._resumed["loaded"].add(id(sched))
        if self._off or self.closed:
            return
        self._safely("scheduler load", self._note_loaded_lrs, sched, state, frame)

    def _note_loaded_lrs(self, sched, state, frame) -> None:
        """Remember the lrs a loaded scheduler state was at (its ``_last_lr``): torch restores the
        schedule's position but not the groups, so a scheduler built after
        ``optimizer.load_state_dict()`` leaves its constructor's lrs there (torch-points3d#630).
        Judged at the next optimizer step (SLG114). Not ReduceLROnPlateau: its lr lives in the
        optimizer's state, and its ``_last_lr`` only records it."""
        from torch.optim.lr_scheduler import ReduceLROnPlateau

        self._loaded_lrs = None
        if (
            not isinstance(state, dict)
            or "_last_lr" not in state  # an older torch's state: nothing to compare with
            or isinstance(sched, ReduceLROnPlateau)
            or self._dev is not None
        ):
            return
        lrs = [float(x) for x in sched.get_last_lr()]
        rec = self._records.get(id(sched))
        who = rec if rec is not None and rec.ref() is sched else type(sched).__name__
        self._loaded_lrs = (who, lrs, _where(lifecycle.user_frame(frame)))

    def _resumed_off_schedule(self, opt) -> list:
        """SLG114 when the first optimizer step after a scheduler's ``load_state_dict()`` runs
        at other lrs than the loaded schedule's, once per load. The reference was rebuilt from the
        groups as they are, so the steps after this one are judged from what actually ran."""
        loaded, self._loaded_lrs = self._loaded_lrs, None
        return self._off_loaded(opt.param_groups, loaded[1], loaded, None)

    def _off_loaded(self, groups, want: list, loaded, stepped) -> list:
        """SLG114 for the first undeclared group whose lr is not ``want``'s."""
        who, _lrs, line = loaded
        if (
            self.allow_external_writes
            or not self._lr_values
            or self._dev is not None
            or len(groups) != len(want)
        ):
            return []
        cur = L.read(groups)
        declared = self._declared_groups()
        off = [
            i
            for i, (x, y) in enumerate(zip(cur, want))
            if i not in declared and not L.close(x, y, self.rtol, self.atol)
        ]
        if not off:
            return []
        i = off[0]
        rec = who if isinstance(who, _Sched) else None
        name = who.name if rec is not None else who
        built = rec.line if rec is not None else None
        cause = causes.loaded_schedule_not_in_groups(
            name, built, line, self._labels[i], want[i], cur[i], len(off), stepped
        )
        return [self._violation("SLG114", i, want[i], cur[i], cause, sched=rec)]

    def _predict_from_loaded(self, loaded, sched, args, kwargs):
        """Before the first scheduler step after a load, while the groups hold other lrs than the
        loaded ones: what that step gives from the loaded lrs, ``(loaded, lrs)`` to compare after
        it (a closed form such as LambdaLR's gives the same from either, and is silent). None
        when there is nothing to compare; once per load, never on a step the load did not
        precede."""
        opt = self._opt_ref()
        who, lrs, _line = loaded
        if (
            opt is None
            or not isinstance(who, _Sched)
            or who.ref() is not sched
            or self.allow_external_writes
            or not self._lr_values
            or self._dev is not None
            or len(opt.param_groups) != len(lrs)
            or L.same(L.read(opt.param_groups), lrs)
        ):
            return None
        try:
            return loaded, predict_step(opt, sched, args, kwargs, lrs)
        except Exception:  # a scheduler that cannot be copied: nothing to compare with
            return None

    def _stepped_off_schedule(self, pending) -> list:
        loaded, want = pending
        opt = self._opt_ref()
        if opt is None:
            return []
        return self._off_loaded(opt.param_groups, want, loaded, "its next step")

    def optimizer_loaded(self, opt, frame, before=None) -> None:
        """``optimizer.load_state_dict()``: a resume when the loaded groups carry ``initial_lr``
        (a scheduler drove the run that saved them) and the state has stepped (or keeps no step
        count, as SGD). The schedulers are judged at the next optimizer step (SLG114)."""
        if self._off or self.closed:
            return
        self._safely("optimizer load", self._note_resume, opt, frame, before)

    def _note_resume(self, opt, frame, before=None) -> None:
        if before is not None and before == lifecycle.unstepped_lrs(opt):
            # The optimizer loaded back the state it had, with no step in it: accelerate's
            # prepare() does so to move the state to the device, after a scheduler gave the
            # groups initial_lr. Nothing was resumed (a stateless SGD resumed at the very lr
            # it was built with is not told apart, and goes unreported).
            return
        groups = opt.param_groups
        steps = lifecycle.state_steps(opt)
        if groups and all("initial_lr" in g for g in groups) and (steps is None or steps > 0):
            line = _where(lifecycle.user_frame(frame))
            self._resumed = {"line": line, "steps": steps, "loaded": set()}
        else:
            self._resumed = None

    def _restarted_schedules(self) -> list:
        """SLG114 for every scheduler that starts from step 0 on an optimizer resumed from a run
        that had a scheduler, when no scheduler state was loaded before this first optimizer
        step: its schedule restarts from the top (warm-up again, the decay undone)."""
        resumed, self._resumed = self._resumed, None
        if resumed["loaded"]:
            # Scheduler state is being restored: one left at step 0 is a phase that had not
            # started when the checkpoint was taken (SWALR, a second-stage schedule).
            return []
        found = []
        for rec in self._order:
            s = rec.ref()
            if (
                s is None
                or not (rec.known and rec.top)
                or rec.steps
                or rec.name in ("ReduceLROnPlateau", "SWALR")  # from the loaded lr; a late phase
                or id(s) in resumed["loaded"]
                or not _is_fresh(s)
            ):
                continue
            found.append(
                self._violation(
                    "SLG114",
                    None,
                    None,
                    None,
                    causes.schedule_restarted(
                        rec.name, rec.line, resumed["line"], resumed["steps"]
                    ),
                    sched=rec,
                )
            )
        return found

    def invalidate(self) -> None:
        self._rebuild = True

    def _add_writer(self, writer) -> None:
        registry.add_writer(writer, self)
        self._writers.append(weakref.ref(writer))
        needed = foreign.advancing_method(writer)
        if needed is not None:  # kept by id: the end of a run may come after the writer died
            self._writer_needs[id(writer)] = (type(writer).__name__, needed)

    def _found_library_writers(self, opt) -> bool:
        """Declare the library schedulers (timm's) driving ``opt`` as foreign writers, as
        ``foreign_writers=[...]`` would; True when one was found. Searched again only once
        another such library has been imported."""
        bases = foreign.imported_bases()
        if bases == self._library_bases:
            return False
        self._library_bases = bases
        found = False
        for writer in foreign.schedulers_of(opt, bases):
            if all(w() is not writer for w in self._writers) and hooks.wrap_writer_class(
                type(writer)
            ):
                self._add_writer(writer)
                found = True
        return found

    def before_foreign_write(self, writer) -> None:
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        if self._off or self.closed:
            return
        opt = self._opt_ref()
        found = (
            self._safe_list("foreign writer", self._drift_before_writer, opt)
            if opt is not None
            else []
        )
        if found:
            self._emit(found)

    def after_foreign_write(self, writer, method: str = "step") -> None:
        self._writer_calls.setdefault(id(writer), set()).add(method)
        self._loaded_lrs = None  # a declared writer set the groups after the load
        opt = self._opt_ref()
        if opt is None or self._off or self.closed:
            return
        self._safely("foreign writer", self._accept_current, opt)

    def _drift_before_writer(self, opt) -> list:
        groups = opt.param_groups
        found = []
        if self._structure_changed(groups):
            found += self._resync(opt, groups)
        expected = self._expected()
        if self._dev is None and self._lr_values and expected is not None:
            found += self._compare(
                groups, L.read(groups), expected, "SLG102", "before the declared writer ran"
            )
        return found

    def _accept_current(self, opt) -> None:
        groups = opt.param_groups
        if len(groups) != self._n:
            self._rebuild = True
            return
        if self._dev is not None:
            self._dev_baseline = self._dev.stack(groups)
            if self._shadow is not None:
                self._shadow.set_lrs(groups)
        else:
            self._adopt(groups, L.read(groups))

    def _discover(self, sched) -> _Sched:
        # A scheduler built before the guard, first seen stepping: its history is unknown.
        known = self._declared is None or sched in self._declared
        rec = self._register(sched, known=known, mark=None, fresh=False)
        if known:
            self._rebuild = True
        return rec

    def _before_scheduler_step(self, rec: _Sched, sched, args, kwargs, caller) -> list:
        opt = self._opt_ref()
        groups = opt.param_groups
        found = []
        if self._structure_changed(groups):
            found += self._resync(opt, groups)
        if rec.known and not rec.top:
            parent = rec.parent() if rec.parent is not None else None
            if parent is not None:
                found.append(
                    self._violation(
                        "SLG103",
                        None,
                        None,
                        None,
                        causes.child_stepped_directly(sched, parent),
                        sched=rec,
                    )
                )
            return found
        expected = self._expected() if self._dev is None else None
        if self._lr_values and expected is not None:
            where = (
                f"between optimizer.step() and {rec.name}.step()"
                if rec.known
                else f"before {rec.name}.step()"
            )
            # A chainable scheduler multiplies what it finds: a manual warm-up still in the
            # groups when it steps carries into the whole schedule.
            warmup_ok = rec.name in intent.CLOSED_FORM or rec.name == "ReduceLROnPlateau"
            found += self._compare(
                groups, L.read(groups), expected, "SLG102", where, warmup_ok=warmup_ok
            )
        replaced = self._replacement is not None and self._still_replaced()
        if replaced:
            found += self._stepping_replaced(rec, sched)
        elif rec.known and rec.mark is not None and rec.mark == self._attempts:
            found.append(self._order_violation(opt, rec, sched, args, kwargs))
        if rec.known:
            found += self._step_lifecycle(rec, sched, args, kwargs, caller)
            entry = self._lambda_checks.get(id(sched)) if self._lambda_checks else None
            if entry is not None and rec.name == "MultiplicativeLR" and self._dev is None:
                entry[2] = L.read(groups)  # its first factor is read from the LRs it multiplies
        return found

    def _step_lifecycle(self, rec, sched, args, kwargs, caller) -> list:
        """SLG111 (the deprecated epoch argument) and SLG113 (two closed-form schedulers stepping
        one optimizer between the same optimizer steps)."""
        found = []
        if args or kwargs:
            epoch = intent.epoch_argument(sched, args, kwargs)
            key = ("SLG111", id(sched))
            if epoch is not None and key not in self._lifecycle_reported:
                self._lifecycle_reported.add(key)
                found.append(
                    self._violation(
                        "SLG111",
                        None,
                        None,
                        None,
                        causes.epoch_argument(rec.name, epoch, _where(caller)),
                        sched=rec,
                    )
                )
        fight = self._fight(rec, sched, caller)
        if fight is not None:
            found.append(fight)
        return found

    def _fight(self, rec, sched, caller):
        """SLG113, once per guard: ``rec``'s step discards what another scheduler of this optimizer
        did since its previous step, or a second closed-form scheduler steps between the same two
        optimizer steps. Both records are brought up to date whether or not it is reported."""
        overwritten = self._overwritten(rec)
        others = []
        if rec.name in intent.CLOSED_FORM:
            others = [name for key, name in self._stepped_since.items() if key != id(sched)]
            self._stepped_since[id(sched)] = rec.name
        if ("SLG113",) in self._lifecycle_reported or not (overwritten or others):
            return None
        self._lifecycle_reported.add(("SLG113",))
        where = _where(caller)
        cause = (
            causes.overwrites_other(rec.name, overwritten, where)
            if overwritten
            else causes.two_closed_form(others[0], rec.name, where)
        )
        return self._violation("SLG113", None, None, None, cause, sched=rec)

    def _overwritten(self, rec) -> list:
        """The other schedulers of this optimizer stepped since ``rec``'s previous step, when
        ``rec`` recomputes the lr from its own bases (closed form, or SWALR holding swa_lr): its
        step discards what they did. A hand-over (a warm-up that stops stepping, SWALR taking
        over) never steps the overwriting scheduler after the other one."""
        seq = len(self._last_steps) and max(n for n, _name in self._last_steps.values())
        prev = self._last_steps.get(rec)
        self._last_steps[rec] = (seq + 1, rec.name)
        if rec.name not in intent.OVERWRITING or prev is None:
            return []
        return sorted(
            {name for key, (n, name) in self._last_steps.items() if key is not rec and n > prev[0]}
        )

    # --- lifecycle across objects: checkpoints (SLG114), a replaced optimizer (SLG115) -------

    def has_schedulers(self) -> bool:
        return bool(self._live_known())

    def checkpoint_saved(self, states: list, with_scheduler: bool, key, caller) -> None:
        """A ``torch.save`` call: ``states`` are the optimizer states it holds. One that holds this
        optimizer's state but no scheduler state is settled at the next optimizer step (or at
        the end), so a scheduler state saved to the same directory in the same step still counts."""
        opt = self._opt_ref()
        if opt is None or self._off or self.closed:
            return
        self._safely(
            "torch.save hook", self._note_checkpoint, opt, states, with_scheduler, key, caller
        )

    def _note_checkpoint(self, opt, states, with_scheduler, key, caller) -> None:
        step = self.optimizer_steps
        if with_scheduler:
            self._scheduler_saved[key] = step
            self._unsaved = [u for u in self._unsaved if not (u[0] == key and u[1] == step)]
            return
        if ("SLG114",) in self._lifecycle_reported or self._scheduler_saved.get(key) == step:
            return
        if not self.has_schedulers() or not any(lifecycle.holds_state_of(opt, s) for s in states):
            return
        if not any(u[0] == key and u[1] == step for u in self._unsaved):
            self._unsaved.append((key, step, _where(caller)))

    def _unsaved_checkpoints(self, settled_before: int) -> list:
        due = [u for u in self._unsaved if u[1] < settled_before]
        if not due:
            return []
        self._unsaved = [u for u in self._unsaved if u[1] >= settled_before]
        if ("SLG114",) in self._lifecycle_reported:
            return []
        self._lifecycle_reported.add(("SLG114",))
        _key, step, where = due[0]
        names = [r.name for r in self._top if r.known and r.ref() is not None] or [
            r.name for r in self._order if r.ref() is not None
        ]
        return [
            self._violation(
                "SLG114",
                None,
                None,
                None,
                causes.checkpoint_without_scheduler(self.name, names, where),
                step=step,
            )
        ]

    def optimizer_built(self, newer, optimizer, frame) -> None:
        """Another optimizer was just built (``newer`` guards it, ``frame`` called its constructor).
        If it trains parameters of this one while a scheduler drives this one, remember it: that
        scheduler stepping on while only the new optimizer steps is SLG115."""
        mine = self._opt_ref()
        if mine is None or self._off or self.closed or not self.has_schedulers():
            return
        self._safely("optimizer constructor", self._note_replacement, mine, newer, optimizer, frame)

    def _note_replacement(self, mine, newer, optimizer, frame) -> None:
        if lifecycle.shares_parameters(mine, optimizer):
            where = _where(lifecycle.user_frame(frame))
            self._replacement = (weakref.ref(newer), where, self.optimizer_steps)

    def _still_replaced(self) -> bool:
        newer_ref, _where_built, steps_then = self._replacement
        newer = newer_ref()
        if newer is None or self.optimizer_steps > steps_then:
            self._replacement = None  # gone, or this optimizer still trains: not a replacement
            return False
        return newer.optimizer_steps > 0

    def _stepping_replaced(self, rec: _Sched, sched) -> list:
        key = ("SLG115", id(sched))
        if not rec.known or not rec.top or key in self._lifecycle_reported:
            return []
        self._lifecycle_reported.add(key)
        newer = self._replacement[0]()
        return [
            self._violation(
                "SLG115",
                None,
                None,
                None,
                causes.optimizer_replaced(
                    rec.name, self.name, newer.name, self._replacement[1], newer.optimizer_steps
                ),
                sched=rec,
            )
        ]

    def _order_violation(self, opt, rec: _Sched, sched, args, kwargs) -> Violation:
        if rec.steps == 0:
            cause = causes.stepped_before_optimizer(sched)
        else:
            cause = causes.double_step(sched, 1)
        expected = actual = None
        group = 0
        if self._dev is None:
            now = L.read(opt.param_groups)
            try:
                after = predict_step(opt, sched, args, kwargs)
            except Exception:
                after = None
            if after is not None and len(after) == len(now):
                moved = L.changed(after, now)
                group = moved[0] if moved else 0
                actual = after[group]
            expected = now[group] if now else None
        return self._violation(
            "SLG103", group if expected is not None else None, expected, actual, cause, sched=rec
        )

    def _after_scheduler_step(self, rec: _Sched, sched, original, args, kwargs) -> list:
        rec.steps += 1
        rec.mark = self._attempts
        rec.span = (rec.span or (self.optimizer_steps,))[:1] + (self.optimizer_steps,)
        if rec.budget is not None and rec.top:
            rec.budget = intent.budget_parts(sched)
        opt = self._opt_ref()
        groups = opt.param_groups
        if not rec.top or len(groups) != self._n:
            self._rebuild = True  # a child advanced on its own, or groups changed inside step()
            return []
        if self._dev is not None:
            return self._device_after_scheduler_step(rec, groups, original, args, kwargs)
        cur = L.read(groups)
        if not rec.known:
            expected = self._expected()
            if not self._lr_values or expected is None:
                return []
            return self._compare(
                groups,
                cur,
                expected,
                "SLG102",
                f"by {rec.name}",
                sched_rec=rec,
                cause=causes.second_scheduler(sched, self._live_top()),
            )
        shadow = self._shadow
        if shadow is not None and shadow.twin(sched) is not None:
            before = dict(self._diverged)
            try:
                shadow.step(sched, original, args, kwargs)
            except Exception as exc:
                self._ref = cur
                if id(sched) not in self._replay_restarted:
                    # The real step worked where its twin's did not: the real scheduler's state was
                    # edited by hand (torch asks for ReduceLROnPlateau.min_lrs to be extended after
                    # add_param_group, pytorch#104361). Start the twin again from that state, once.
                    self._replay_restarted.add(id(sched))
                    self._rebuild = True
                    return []
                self._replay_failed(f"{rec.name} cannot be replayed: {type(exc).__name__}: {exc}")
                return []
            expected = shadow.lrs()
            if not self._lr_values:
                return []
            # Groups that were in line before this step and are not after it: the scheduler
            # itself produced an LR its twin did not (its state was changed behind its back).
            found = self._compare(
                groups,
                cur,
                expected,
                "SLG101",
                "",
                skip=before,
                sched_rec=rec,
                cause=causes.replay_mismatch(sched),
                acceptable=False,
            )
            for i in set(before) & set(L.changed(cur, expected)):
                self._diverged.setdefault(i, before[i])
            return found
        if shadow is None:
            self._ref = cur  # no replay: what the scheduler wrote is the reference
        return []

    # --- (re)building the reference --------------------------------------------------------

    def _resync(self, opt, groups, built_now=None) -> list:
        """Groups added, removed or replaced (a load), or scheduler state loaded: report SLG104
        where that breaks a scheduler (not ``built_now``, built after the change), and bring the
        shadow up to date."""
        found = []
        old_n = self._n
        n = len(groups)
        live = [s for s in self._live_known() if s is not built_now]
        self._labels = [L.group_label(g, i) for i, g in enumerate(groups)]
        if old_n >= 0 and n != old_n and live:
            # ReduceLROnPlateau supports groups added later (pytorch#104361): it re-expands min_lrs.
            if not all(type(s).__name__ == "ReduceLROnPlateau" for s in live):
                if n > old_n:
                    for i in range(old_n, n):
                        actual = None if L.on_device([groups[i]]) else L.read([groups[i]])[0]
                        stepped = getattr(live[0], "last_epoch", None)
                        if type(stepped) is int and stepped > 0:
                            self._late_groups[i] = (
                                self.optimizer_steps,
                                type(live[0]).__name__,
                                stepped,
                            )
                        found.append(
                            self._violation("SLG104", i, None, actual, causes.group_added(i, live))
                        )
                else:
                    found.append(
                        self._violation(
                            "SLG104", None, None, None, causes.groups_removed(old_n, n, live)
                        )
                    )
                self._shape_reported.update((id(s), "*") for s in live)
        replaced = old_n == n and n > 0 and groups[0] is not self._g0
        self._watch_retry = self.watch
        self._n = n
        self._g0 = groups[0] if groups else None
        while len(self._base) < n:
            self._add_baseline(groups[len(self._base)], "lr when added", groups)
            self._ever_nonzero.append(False)
        del self._base[n:], self._base_source[n:], self._ever_nonzero[n:], self._ratio_scale[n:]
        if not found:
            found += self._check_state_shapes(n)
        if self._rebuild or replaced or n < old_n or self._dev is not None:
            if replaced:
                # Optimizer state was loaded: a resume; its LRs and initial_lr are the new baseline.
                self._base = [
                    float(g.get("initial_lr", g["lr"])) if not L.on_device([g]) else math.nan
                    for g in groups
                ]
                self._base_source = ["loaded state"] * n
                self._ratio_scale = [1.0] * n
            self._rebuild_from_current(opt, groups)
        elif n > old_n:
            if self._shadow is not None:
                self._shadow.add_groups(groups[old_n:])
            if self._ref is not None:
                self._ref = self._ref + L.read(groups[old_n:])
        self._index_top()
        return found

    def _check_state_shapes(self, n: int) -> list:
        found = []
        for rec in self._order:
            s = rec.ref()
            if s is None or not rec.known:
                continue
            for attr in ("base_lrs", "lr_lambdas", "min_lrs", "max_lrs"):
                value = getattr(s, attr, None)
                if attr == "min_lrs" and type(s).__name__ == "ReduceLROnPlateau":
                    continue  # re-expanded from a scalar min_lr when groups are added
                if (
                    isinstance(value, (list, tuple))
                    and len(value) != n
                    and (id(s), attr) not in self._shape_reported
                ):
                    self._shape_reported.add((id(s), attr))
                    found.append(
                        self._violation(
                            "SLG104",
                            None,
                            None,
                            None,
                            causes.state_shape(s, attr, len(value), n),
                            sched=rec,
                        )
                    )
        return found

    def _register(self, sched, *, known: bool, mark, fresh: bool) -> _Sched:
        rec = self._records.get(id(sched))
        if rec is not None and rec.ref() is sched:
            rec.known = rec.known or known
            return rec
        hooks.wrap_scheduler_class(type(sched))  # a user subclass with its own step()
        rec = _Sched(sched, known, mark, fresh, self.optimizer_steps)
        self._records[id(sched)] = rec
        self._order.append(rec)
        for child in _children(sched):
            child_rec = self._register(child, known=known, mark=None, fresh=False)
            child_rec.top = False
            child_rec.parent = weakref.ref(sched)
        return rec

    def _prune(self) -> None:
        alive = [r for r in self._order if r.ref() is not None]
        if len(alive) != len(self._order):
            self._order = alive
            self._records = {id(r.ref()): r for r in alive}

    def _discover_existing(self, optimizer) -> None:
        """Schedulers built on this optimizer before the guard was created."""
        import gc

        for obj in gc.get_referrers(optimizer):
            if isinstance(obj, LRScheduler) and getattr(obj, "optimizer", None) is optimizer:
                self._register(
                    obj, known=True, mark=self._initial_mark(optimizer, obj), fresh=_is_fresh(obj)
                )

    @staticmethod
    def _initial_mark(optimizer, sched):
        # A fresh scheduler on an optimizer that has not stepped since: its first step() must
        # come after an optimizer.step(). torch's own flag tells whether one happened already.
        if _is_fresh(sched) and not getattr(optimizer, "_opt_called", False):
            return 0
        return None

    def _live_known(self) -> list:
        return [s for s in (r.ref() for r in self._order if r.known) if s is not None]

    def _live_top(self) -> list:
        return [s for s in (r.ref() for r in self._top) if s is not None]

    # --- the individual checks ---------------------------------------------------------------

    def _check_expect(self, step: int, cur: list) -> list:
        try:
            values = self._expect.values(step, len(cur))
        except Exception as exc:
            self._expect = None
            self._note_not_checked(
                "expect",
                f"{self.name}: the declared schedule (expect=...) raised "
                f"{type(exc).__name__}: {exc}; it is not checked from now on",
            )
            return []
        shadow = self._expected()
        expected = (
            list(shadow) if shadow is not None and len(shadow) == len(cur) else [None] * len(cur)
        )
        found = []
        for i, value in values:
            expected[i] = value
            if not L.close(cur[i], value, self.rtol, self.atol):
                found.append(
                    self._violation("SLG101", i, value, cur[i], causes.declared_mismatch())
                )
        self._last_expected = expected
        return found

    def _check_ranks(self, cur: list) -> list:
        from schedlint.guard import distributed

        try:
            if distributed.world() is None:
                return []
            per_rank = distributed.gather_lrs(cur, self.dist_timeout)
        except Exception as exc:
            self._ranks = False
            self._note_not_checked(
                "ranks",
                f"{self.name}: the cross-rank LR check failed "
                f"({type(exc).__name__}: {exc}); SLG106 is not checked from now on",
            )
            return []
        return [
            self._violation("SLG106", i, ref, val, causes.ranks_differ(rank), rank=rank)
            for i, rank, ref, val in distributed.diverging(per_rank)
        ]

    def _end_of_run(self) -> list:
        """Findings that only the end of a run shows: SLG107, SLG109 (an LR 0 for the whole run),
        SLG112 (schedule budget), SLG114 (a checkpoint of the last step without scheduler state)."""
        out = self._unstepped() + self._unsaved_checkpoints(settled_before=self.optimizer_steps + 1)
        if self.optimizer_steps and self._lr_values and self._dev is None:
            declared = self._declared_groups()
            for i, seen in enumerate(self._ever_nonzero):
                if (
                    not seen
                    and i < len(self._base)
                    and self._base[i] > 0
                    and i not in declared
                    and i not in self._vanish_reported
                ):
                    out.append(
                        self._violation(
                            "SLG109",
                            i,
                            None,
                            0.0,
                            causes.zero_whole_run(
                                self.optimizer_steps, self._base[i], self._live_top()
                            ),
                        )
                    )
        out += self._idle_writers() + self._budget_findings() + self._early_horizons()
        out += self._lambda_pending() + self._copied_schedulers()
        return [v for v in out if v.code not in self.ignore]

    def _budget_findings(self) -> list:
        """SLG112 for every top-level scheduler seen from its start, and the schedulers inside it
        (a CosineAnnealingLR in a SequentialLR), read live or, once collected, as of its last step."""
        out = []
        for rec in self._order:
            if not (rec.known and rec.top and rec.fresh) or rec.budget is None:
                continue
            s = rec.ref()
            parts = intent.budget_parts(s) if s is not None else rec.budget
            ran = self.optimizer_steps - rec.start
            cadence = _cadence(rec)
            # An optimizer step after its last step trained at the lr that step set.
            used_last = rec.span is not None and rec.span[1] < self.optimizer_steps
            drawn = frozenset(self._passes.drawn(rec.start))
            for i, part in enumerate(parts):
                if (rec, i) in self._budget_reported:
                    continue
                problem = intent.budget(part, ran, cadence, used_last, drawn)
                if problem is not None:
                    out.append(self._budget_violation(rec, part, *problem, ran))
        return out

    # --- one optimizer scheduled twice, another not at all (SLG117) ---------------------------

    def optimizer_seen_built(self, frame) -> None:
        """The auto-guarding hook saw this guard's optimizer being built, called from ``frame``."""
        self._safely("optimizer constructor", self._note_built, frame)

    def _note_built(self, frame) -> None:
        self.built_at = _where(lifecycle.user_frame(frame))

    def describe(self) -> str:
        """The optimizer in words that tell two of one class apart."""
        if self.built_at:
            return f"{self.name} built at {self.built_at}"
        opt = self._opt_ref()
        if opt is None:
            return self.name
        size = sum(p.numel() for g in opt.param_groups for p in g["params"])
        return f"{self.name} over {size} parameter values"

    def _copied_schedulers(self) -> list:
        """SLG117 at the end of the run: schedulers of one class built with the same arguments all
        step this optimizer while another one, stepped as many times, has no scheduler at all
        (``sched_D = StepLR(opt_G, ...)``). Chaining different schedulers, or the same class with
        other arguments, is torch's documented way to combine them and is left alone."""
        alike: dict = {}
        for rec in self._order:
            if rec.known and rec.top and rec.steps and rec.args_key is not None:
                alike.setdefault(rec.args_key, []).append(rec)
        copies = next((recs for recs in alike.values() if len(recs) > 1), None)
        if copies is None or not self.optimizer_steps:
            return []
        other = self._unscheduled_peer()
        if other is None:
            return []
        lines = [rec.line or "?" for rec in copies]
        cause = causes.copied_scheduler(
            copies[0].name, lines, self.describe(), other, self.optimizer_steps
        )
        return [self._violation("SLG117", None, None, None, cause, sched=copies[-1])]

    def _unscheduled_peer(self) -> str | None:
        """Another optimizer, guarded in this process, stepped exactly as many times as this one
        and never given a scheduler: in words, else None."""
        for guard in registry.live_guards():
            if (
                guard is not self
                and not guard.closed
                and guard.optimizer_steps == self.optimizer_steps
                and not guard.has_any_scheduler()
            ):
                return guard.describe()
        if self._session is not None:
            for report in self._session.finished_reports():
                if report.optimizer_steps == self.optimizer_steps and not report.schedulers:
                    where = f" built at {report.built_at}" if report.built_at else ""
                    return report.optimizer + where
        return None

    def has_any_scheduler(self) -> bool:
        """Whether any scheduler, declared or not, was ever seen on this optimizer."""
        return bool(self._order)

    def _past_end_now(self, rec) -> list:
        """SLG112 at the step that settles it: a length in ``rec.budget`` stepped past for good
        (intent.past_end), once per scheduler and part; the end of the run leaves it out."""
        if not (rec.known and rec.fresh):
            return []
        out = []
        for i, part in enumerate(rec.budget):
            if intent.past_end(part) and (rec, i) not in self._budget_reported:
                self._budget_reported.add((rec, i))
                out.append(self._budget_violation(rec, part, *intent.budget(part, 0), 0, lr=True))
        return out

    def _budget_violation(self, rec, part, problem, length, steps, ran, lr=False) -> Violation:
        name = part[0] + (f" in {part[3]}" if part[3] else "")
        cause = causes.budget(name, problem, length, steps, ran, warmup=part[5])
        group, actual = self._first_lr() if lr else (None, None)
        return self._violation("SLG112", group, None, actual, cause, sched=rec)

    def _first_lr(self) -> tuple:
        """``(0, its lr)`` for a finding raised while training, to name where the run is; ``(None,
        None)`` when the lr is not a plain readable value (accelerator-resident, rewritten)."""
        opt = self._opt_ref()
        if opt is None or not opt.param_groups or self._dev is not None or not self._lr_values:
            return None, None
        return 0, L.read(opt.param_groups[:1])[0]

    # --- epochs: full passes of a DataLoader (SLG112 for schedules sized in epochs) ------------

    def loader_pass_ends(self, loader) -> None:
        """``iter(loader)`` is called again: when its previous pass ran to the end and trained, that
        was an epoch, and the schedulers whose first epoch it was are judged."""
        __tracebackhide__ = True
        if self._off or self.closed:
            return
        found = []
        try:
            began = self._passes.ended(loader)
            self._passes.settle(loader)
            if began is not None and self.optimizer_steps > began:
                found = self._first_epochs(began)
        except Exception as exc:
            self._internal_error("DataLoader pass", exc)
            return
        if found:
            self._emit(found)

    def loader_pass_starts(self, loader, iterator) -> None:
        if not (self._off or self.closed):
            self._safely(
                "DataLoader pass", self._passes.started, loader, iterator, self.optimizer_steps
            )

    def loader_pass_finished(self, iterator) -> None:
        if not (self._off or self.closed):
            self._safely("DataLoader pass", self._passes.finished, iterator)

    def _first_epochs(self, began: int) -> list:
        """SLG112 for the schedulers whose whole life so far is the epoch that began at optimizer
        step ``began``: built before it, first stepped in it (each judged on that epoch only)."""
        out = []
        for rec in self._order:
            if not (rec.known and rec.top and rec.fresh) or rec.span is None:
                continue
            if rec in self._epoch_judged or not rec.start <= began <= rec.span[0]:
                continue
            s = rec.ref()
            if s is None:
                continue
            self._epoch_judged.add(rec)
            for name, inside, (problem, sized, count, factor) in intent.epoch_parts(s):
                group, actual = self._first_lr()
                cause = causes.epoch_overrun(
                    name + (f" in {inside}" if inside else ""),
                    problem,
                    sized,
                    count,
                    factor,
                    rec.steps,
                    self.optimizer_steps - began,
                )
                out.append(self._violation("SLG112", group, None, actual, cause, sched=rec))
                self._budget_reported.add((rec, "epoch"))
        return out

    def _early_horizons(self) -> list:
        """SLG112 at the end of the run for a MultiStepLR stepped after every optimizer step that
        spent all its milestones in the first tenth of its steps (intent.early_horizon): sized in
        epochs, stepped per batch, over batches that were not a DataLoader (no epochs seen)."""
        out = []
        for rec in self._order:
            if not (rec.known and rec.top and rec.fresh) or rec.plan is None:
                continue
            if _cadence(rec) != 1 or (rec, "epoch") in self._budget_reported:
                continue
            found = intent.early_horizon(rec.plan, rec.steps)
            if found is not None:
                cause = causes.early_horizon(rec.name, *found, rec.steps)
                out.append(self._violation("SLG112", None, None, None, cause, sched=rec))
        return out

    def _unstepped(self) -> list:
        out = []
        for rec in self._order:
            s = rec.ref()
            if s is None or not rec.known or not rec.top or rec.steps or not rec.fresh:
                continue
            n = self.optimizer_steps - rec.start
            if n >= 1:
                out.append(
                    self._violation(
                        "SLG107", None, None, None, causes.never_stepped(rec.name, n), sched=rec
                    )
                )
        return out

    def _idle_writers(self) -> list:
        """SLG107 for a timm scheduler driven only through the method that does nothing for it:
        ``step(epoch)`` on one built with ``t_in_epochs=False``, or ``step_update(n)`` on one
        counting epochs."""
        out = []
        for key, (name, needed) in self._writer_needs.items():
            called = self._writer_calls.get(key)
            if called and needed not in called and self.optimizer_steps:
                cause = causes.library_schedule_idle(
                    name, needed, sorted(called), self.optimizer_steps
                )
                out.append(self._violation("SLG107", None, None, None, cause))
        return out

    # --- accelerator-resident LRs ------------------------------------------------------------

    def _device_before_update(self, groups, step: int) -> list:
        dev = self._dev
        if self._lr_values:
            cur = dev.stack(groups)
            dev.step.fill_(step)
            dev.check_step(
                cur, self._dev_baseline if not self.allow_external_writes else None, None
            )
            if self._shadow is not None:
                # Whether a write happened is only known at the next readback, so the replay
                # adopts the current values every step (device copies, no sync): a write is then
                # reported once, as SLG102, and not again as a replay mismatch.
                self._shadow.set_lrs(groups)
            self._dev_baseline = cur  # a write is reported once, then becomes the reference
        if step % self.check_every:
            return []
        return self._device_readback(with_current=True)

    def _device_after_scheduler_step(self, rec: _Sched, groups, original, args, kwargs) -> list:
        dev = self._dev
        cur = dev.stack(groups)
        shadow = self._shadow
        if rec.known and shadow is not None and shadow.twin(rec.ref()) is not None:
            try:
                shadow.step(rec.ref(), original, args, kwargs)
                expected = dev.stack(shadow.opt.param_groups)
                dev.note("SLG101", cur != expected, cur, expected)
            except Exception as exc:
                self._replay_failed(f"{rec.name} cannot be replayed: {type(exc).__name__}: {exc}")
        if self._shadow is not None:
            self._shadow.set_lrs(groups)
        self._dev_baseline = cur
        return []

    def _device_readback(self, with_current: bool = False) -> list:
        """The only place device LRs come back to the host: every ``check_every`` steps."""
        dev = self._dev
        opt = self._opt_ref()
        current = dev.stack(opt.param_groups) if opt is not None and with_current else None
        collected, cur = dev.collect(current)
        top = self._live_top()
        found = []
        for code, i, step, actual, expected in collected:
            if code == "SLG101":
                cause = causes.replay_mismatch(top[0]) if top else causes.declared_mismatch()
            elif code == "SLG102":
                cause = causes.outside_write(top, f"before optimizer step {step}")
            else:
                cause = causes.bad_value(actual, top)
            found.append(
                self._violation(
                    code, i, None if code == "SLG105" else expected, actual, cause, step=step
                )
            )
        if cur is not None and self._lr_values:
            self._last_actual = cur
            if self._expect is not None:
                found += self._check_expect(self.optimizer_steps, cur)
            if self._ranks:
                found += self._check_ranks(cur)
            if self._history is not None:
                self._history.add(self.optimizer_steps, cur, self._last_expected)
        return found

    # --- reporting -----------------------------------------------------------------------------

    def _violation(
        self,
        code,
        group,
        expected,
        actual,
        cause,
        *,
        sched: _Sched = None,
        rank=None,
        step=None,
        labels=None,
        written_at=None,
    ) -> Violation:
        primary = sched or (self._top[0] if self._top else None)
        labels = labels or self._labels
        return Violation(
            code=code,
            optimizer_step=self.optimizer_steps if step is None else step,
            scheduler_step=None if primary is None else primary.steps,
            group_index=group,
            group_name=None
            if group is None
            else (labels[group] if group < len(labels) else str(group)),
            expected=expected,
            actual=actual,
            cause=cause,
            optimizer=self.name,
            scheduler=None if primary is None else primary.name,
            rank=rank,
            written_at=written_at,
            suggest_watch=code in WRITE_CODES and written_at is None and not self.watch,
        )

    def _record(self, found: list) -> None:
        for v in found:
            key = (v.code, v.group_index)
            self._counts[key] += 1
            # A violation repeated at every step (SLG103 in a loop of scheduler steps) is counted,
            # but kept in full only while half the room is free: the first occurrence of every
            # other (code, group) still fits, and the report shows each one.
            room = MAX_KEPT if self._counts[key] == 1 else MAX_KEPT // 2
            if len(self._kept) < room:
                self._kept.append(v)
            if self._history is not None:
                self._history.mark(v)
        if found and self._session is not None:
            self._session.saw(found)

    def _emit(self, found: list, can_raise: bool = True) -> None:
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        if self.ignore:
            found = [v for v in found if v.code not in self.ignore]
        if not found:
            return
        self._record(found)
        try:
            self._dispatch(found, can_raise=can_raise)
        except BaseException:
            self.aborted = True
            raise

    def _note_not_checked(self, key: str, reason: str) -> None:
        if key in self._not_checked:
            return
        self._not_checked[key] = reason
        warnings.warn(f"schedlint guard: {reason}", NotCheckedWarning, stacklevel=user_stacklevel())

    def _replay_failed(self, reason: str) -> None:
        self._shadow = None
        self._note_not_checked(
            "replay", reason + "; its LRs are not compared with a replay (the other checks go on)"
        )

    def _internal_error(self, where: str, exc: BaseException) -> None:
        self._off = True
        self._note_not_checked(
            "internal",
            f"{self.name}: internal error in the {where} "
            f"({type(exc).__name__}: {exc}); this optimizer is not checked from now on",
        )

    def _safe_list(self, where: str, fn, *args) -> list:
        try:
            return fn(*args) or []
        except ScheduleViolation:
            raise
        except Exception as exc:
            self._internal_error(where, exc)
            return []

    def _safely(self, where: str, fn, *args) -> None:
        try:
            fn(*args)
        except ScheduleViolation:
            raise
        except Exception as exc:
            self._internal_error(where, exc)

    def _snapshot(self, pending: list) -> GuardReport:
        scheds = []
        for rec in self._order:
            if rec.known and not rec.top:
                continue  # children are stepped by their container; listed through it
            role = "watched" if rec.known else "undeclared"
            scheds.append((rec.name, rec.steps, role))
        return GuardReport(
            optimizer=self.name,
            groups=list(self._labels),
            optimizer_steps=self.optimizer_steps,
            schedulers=scheds,
            violations=list(self._kept),
            counts=dict(self._counts),
            pending=list(pending),
            not_checked=list(self._not_checked.values()),
            last_expected=None if self._last_expected is None else list(self._last_expected),
            last_actual=None if self._last_actual is None else list(self._last_actual),
            baseline=list(zip(self._base, self._base_source)),
            built_at=self.built_at,
        )

    # --- lifetime ------------------------------------------------------------------------------

    def _detach(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._finalizer.detach()
        opt = self._opt_ref()
        if opt is not None and getattr(opt.__dict__.get(ANCHOR), "guard", None) is self:
            del opt.__dict__[ANCHOR]
        if opt is not None and self.watch:
            if self._lent is not None:
                self._take_back(opt)
            self._g0 = None
            W.unwatch(opt.param_groups)
        registry.remove(self, self._opt_id)
        registry.drop_writer_guard(self)
        self._shadow = None
        self._dev = None
        self._dev_baseline = None
        hooks.release()

    def _optimizer_collected(self, *, hooks_released: bool = False) -> None:
        # Runs inside garbage collection: never raise, never touch torch's hook dicts (an
        # optimizer step elsewhere may be iterating them). The hooks are released later.
        if self.closed:
            return
        self.closed = True
        registry.remove(self, self._opt_id)
        pending = [] if self.aborted else self._unstepped_after_death()
        self._record(pending)
        self._final = self._snapshot([])
        self._shadow = None
        self._dev = None
        if not hooks_released:
            hooks.release_later()
        if self._session is not None:
            self._session.finished(self)

    def _unstepped_after_death(self) -> list:
        out = []
        for rec in self._order:
            if (
                rec.known
                and rec.top
                and not rec.steps
                and rec.fresh
                and self.optimizer_steps - rec.start >= 1
            ):
                cause = causes.never_stepped(rec.name, self.optimizer_steps - rec.start)
                out.append(self._violation("SLG107", None, None, None, cause, sched=rec))
        out += self._idle_writers() + self._budget_findings() + self._early_horizons()
        out += self._lambda_pending() + self._copied_schedulers()
        return [v for v in out if v.code not in self.ignore]


def _offset(actual: float, expected: float) -> float:
    return actual / expected if expected else actual


def _where(frame) -> str:
    """``file:line`` of a caller frame, for messages about a construction or a call."""
    if frame is None:
        return "an unknown line"
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _default_lr(opt):
    """The lr the optimizer was given (its ``defaults``), as a float; None when it has none."""
    try:
        return float(opt.defaults["lr"])
    except (KeyError, TypeError, ValueError, RuntimeError):
        return None


def _shared(lambdas) -> bool:
    """One lambda for every group (torch repeats a single ``lr_lambda`` per group)."""
    return bool(lambdas) and all(fn is lambdas[0] for fn in lambdas)


def _closure(schedulers: list) -> list:
    out = []
    for s in schedulers:
        out.append(s)
        out += _closure(_children(s))
    return out
