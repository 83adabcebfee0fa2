"""schedlint: catch misuse of PyTorch learning-rate schedulers and param groups.

The static checker lives in :mod:`schedlint.engine` (CLI: :mod:`schedlint.cli`); the runtime
guard in :mod:`schedlint.guard`. torch is imported only when the guard is used, so
``import schedlint`` stays cheap for the linter and the pre-commit hook.
"""

__version__ = "0.1.0"

__all__ = ["__version__", "guard", "install", "ScheduleViolation", "ScheduleWarning"]


def __getattr__(name):
    # Lazy: the guard needs torch, the checker must not.
    if name in ("guard", "install", "ScheduleViolation", "ScheduleWarning", "Guard"):
        from schedlint import guard as _guard_pkg

        return getattr(_guard_pkg, "api_" + name if name == "guard" else name)
    raise AttributeError(f"module 'schedlint' has no attribute {name!r}")
