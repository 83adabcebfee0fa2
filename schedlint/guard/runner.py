"""``schedlint run [--plot PATH] SCRIPT [ARGS]...``: run a training script with every optimizer and
scheduler it creates guarded, then print the guard report."""

from __future__ import annotations

import os
import runpy
import sys
import traceback

from schedlint.guard.violations import ScheduleViolation


def run_script(
    script: str,
    argv: list,
    *,
    plot: str | None = None,
    on_violation: str | None = None,
    ignore=(),
    out=None,
    watch: bool = False,
) -> int:
    """Run ``script`` as ``__main__`` with ``argv`` under auto-guarding.

    ``on_violation`` None follows ``SCHEDLINT_ON_VIOLATION`` (default raise). Returns the exit
    status: the script's own, or 1 when it raised, or 1 when there were violations in raise mode
    (including schedulers never stepped, found at the end).
    """
    out = out or sys.stderr
    from schedlint.guard.violations import MODES

    if on_violation is None:
        on_violation = os.environ.get("SCHEDLINT_ON_VIOLATION", "").strip().lower() or "raise"
    if on_violation not in MODES:
        print(
            f"schedlint run: SCHEDLINT_ON_VIOLATION must be one of {', '.join(MODES)}, got {on_violation!r}",
            file=out,
        )
        return 2
    path = os.path.abspath(script)
    if not os.path.isfile(path):
        print(f"schedlint run: no such script: {script}", file=out)
        return 2
    try:
        import torch  # noqa: F401
    except ImportError:
        print(
            "schedlint run: the runtime guard needs torch: pip install torch, "
            "or '.[guard]' from a clone of schedlint",
            file=out,
        )
        return 2
    from schedlint.guard import session as auto

    if auto.registry.auto_session is not None:
        auto.uninstall()
    session = auto.install(
        enable=True,
        report_at_exit=False,
        on_violation=on_violation,
        history=2000 if plot else 0,
        ignore=tuple(ignore),
        watch=watch,
    )
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script, *argv]
    sys.path.insert(0, os.path.dirname(path))
    status = 0
    aborted = False
    try:
        runpy.run_path(path, run_name="__main__")
    except SystemExit as exc:
        status = _exit_status(exc.code)
    except ScheduleViolation as exc:
        _print_user_traceback(exc, out)
        status = 1
        aborted = True  # the guard stopped the run: no end-of-run findings (it did not end)
    except KeyboardInterrupt:
        traceback.print_exc()
        status = 130
    except BaseException:  # noqa: BLE001 - the script's own failure, reported like python does
        traceback.print_exc()
        status = 1
    finally:
        sys.argv = saved_argv
        sys.path[:] = saved_path
        result = session.finish(end_checks=not aborted)
    print(result, file=out)
    if plot:
        from schedlint.guard.report import plot as draw

        try:
            draw(session.histories(), plot)
            print(f"schedlint guard: LR plot written to {plot}", file=out)
        except RuntimeError as exc:
            print(f"schedlint run: {exc}", file=out)
            status = status or 2
    if on_violation == "raise" and result.total and status == 0:
        status = 1
    return status


def _print_user_traceback(exc: BaseException, out) -> None:
    """The violation with the script's own frames only: where in the training loop it happened,
    not the guard's and torch's plumbing underneath."""
    import torch

    hidden = (
        os.path.dirname(os.path.abspath(__file__)),
        os.path.dirname(os.path.abspath(torch.__file__)),
        os.path.dirname(os.path.abspath(runpy.__file__)),
    )
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not f.filename.startswith(hidden) and not f.filename.startswith("<frozen")
    ]
    print("Traceback (most recent call last):", file=out)
    print("".join(traceback.format_list(frames)), end="", file=out)
    print(f"{type(exc).__module__.split('.')[0]}.{type(exc).__name__}: {exc}", file=out)


def _exit_status(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1
