"""schedlint: catch misuse of PyTorch learning-rate schedulers and param groups.

The static checker lives in :mod:`schedlint.check.engine` (CLI: :mod:`schedlint.cli`); the runtime
guard in :mod:`schedlint.guard`. torch is imported only when the guard is used, so
``import schedlint`` stays cheap for the linter and the pre-commit hook.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "guard", "install", "ScheduleViolation", "ScheduleWarning"]


def __getattr__(name):
    # Lazy: the guard needs torch, the checker must not.
    if name in ("guard", "install", "ScheduleViolation", "ScheduleWarning", "Guard"):
        import importlib

        # importlib, not "from schedlint import guard": that form probes this __getattr__ for
        # "guard" again before importing the submodule, and recurses forever.
        _guard_pkg = importlib.import_module("schedlint.guard")
        # The package itself is callable (schedlint.guard(opt, sched) -> api_guard), and Python
        # binds it to this name as soon as any of its submodules is imported, so hand out the
        # same object in every case.
        return _guard_pkg if name == "guard" else getattr(_guard_pkg, name)
    raise AttributeError(f"module 'schedlint' has no attribute {name!r}")
