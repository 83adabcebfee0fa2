"""pytest plugin: ``pytest --schedlint-guard`` guards every optimizer the tests create and fails
the test that produced a violation.

Loaded in every pytest run of everyone who installs schedlint (entry point ``pytest11``), so it
imports nothing but pytest unless the option is given; torch comes in with the option only.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    group = parser.getgroup("schedlint", "schedlint runtime LR-schedule guard")
    group.addoption(
        "--schedlint-guard",
        action="store_const",
        const="default",
        default=None,
        help="guard every optimizer/scheduler created by the tests (--schedlint-guard=MODE: "
        "raise, a test that misuses one fails; warn or log, tests pass and every "
        "violation is listed at the end). Without MODE: $SCHEDLINT_ON_VIOLATION, else raise",
    )
    # `--schedlint-guard=warn` etc. are option names of their own: an optional value on the bare
    # option would swallow the test path that follows it (argparse matches the whole string first).
    for mode in ("raise", "warn", "log"):
        group.addoption(
            f"--schedlint-guard={mode}",
            dest="schedlint_guard_mode",
            action="store_const",
            const=mode,
            default=None,
            help=f"guard in {mode} mode",
        )
    group.addoption(
        "--schedlint-guard-watch",
        action="store_true",
        default=False,
        help="name the source line of every LR write made outside a scheduler (slower LR writes)",
    )
    group.addoption(
        "--schedlint-guard-ignore",
        default="",
        metavar="CODES",
        help="comma-separated SLG codes that do not fail tests (e.g. SLG107)",
    )


def pytest_configure(config):
    mode = config.getoption("schedlint_guard_mode", default=None) or config.getoption(
        "schedlint_guard", default=None
    )
    if not mode:
        return
    if mode == "default":
        import os

        mode = os.environ.get("SCHEDLINT_ON_VIOLATION", "").strip().lower() or "raise"
        if mode not in ("raise", "warn", "log"):
            raise pytest.UsageError(
                f"SCHEDLINT_ON_VIOLATION must be raise, warn or log, got {mode!r}"
            )
    ignore = {
        c.strip().upper()
        for c in config.getoption("schedlint_guard_ignore").split(",")
        if c.strip()
    }
    watch = bool(config.getoption("schedlint_guard_watch", default=False))
    config.pluginmanager.register(_GuardPlugin(ignore, mode, watch), "schedlint-guard")


class _GuardPlugin:
    def __init__(self, ignore: set, mode: str = "raise", watch: bool = False):
        from schedlint.guard import session as auto

        self.ignore = ignore
        self.mode = mode
        self.all_seen = []  # warn/log mode: every violation, listed at the end
        self.current = None  # violations recorded while the current test runs
        self.raised = set()  # events (code, optimizer, step) that reached the test as an exception
        self.closing = False
        self.nodeid = None
        self.failed_tests = []
        self.session = auto.install(
            enable=True, report_at_exit=False, on_violation=self._on_violation, watch=watch
        )
        self.session.listeners.append(self._saw)

    def _on_violation(self, violation):
        __tracebackhide__ = True  # pytest: show the user's frame, not the guard's
        from schedlint.guard.violations import ScheduleViolation

        if violation.code in self.ignore or self.closing:
            return  # at close the listener records it; raising there would abort the close
        if self.mode != "raise":
            return  # recorded by the listener, listed at the end of the session
        self.raised.add(_event(violation))
        raise ScheduleViolation([violation])

    def _saw(self, violations):
        if self.mode != "raise":
            self.all_seen += [(self.nodeid, v) for v in violations if v.code not in self.ignore]
            return
        if self.current is not None:
            self.current += [v for v in violations if v.code not in self.ignore]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item):
        self.nodeid = item.nodeid
        self.current = []
        before = {id(g) for g in self.session.live()}
        try:
            result = yield
        finally:
            # Guards of optimizers this test created and still holds (fixtures aside) are
            # closed here, so a scheduler it never stepped (SLG107) is charged to this test.
            new = [g for g in self.session.live() if id(g) not in before]
            self.closing = True
            try:
                self.session.close_guards(new)
            finally:
                self.closing = False
            found, self.current = self.current, None
        unraised = [v for v in found if _event(v) not in self.raised]
        self.raised.clear()
        if unraised:
            self.failed_tests.append(item.nodeid)
            lines = "\n".join(
                f"  {v.summary}{_times(n)}\n    help: {v.help}"
                for _node, v, n in _grouped([(None, v) for v in unraised])
            )
            pytest.fail(
                f"schedlint guard: {len(unraised)} violation(s) during this test:\n{lines}",
                pytrace=False,
            )
        return result

    def pytest_terminal_summary(self, terminalreporter):
        report = self.session.report()
        terminalreporter.write_sep("-", "schedlint guard")
        terminalreporter.write_line(str(report).splitlines()[0])
        for nodeid in self.failed_tests:
            terminalreporter.write_line(f"  failed by the guard: {nodeid}")
        for nodeid, v, n in _grouped(self.all_seen):
            terminalreporter.write_line(
                f"  {nodeid or '(outside a test)'}: {v.summary}" + _times(n)
            )

    def pytest_unconfigure(self, config):
        self.closing = True
        self.session.finish()


def _grouped(seen):
    """``[(nodeid, first violation, occurrences)]``: a violation repeated by one test (a scheduler
    stepped hundreds of times without training, a write at every step) is listed once with its
    count, as ``GuardReport`` lists it; the session header still counts every occurrence."""
    first: dict = {}
    counts: dict = {}
    for nodeid, v in seen:
        key = (nodeid, v.code, v.optimizer, v.scheduler, v.group_index)
        first.setdefault(key, (nodeid, v))
        counts[key] = counts.get(key, 0) + 1
    return [(nodeid, v, counts[key]) for key, (nodeid, v) in first.items()]


def _times(n: int) -> str:
    return f" [{n} times]" if n > 1 else ""


def _event(violation):
    return (violation.code, violation.optimizer, violation.optimizer_step)
