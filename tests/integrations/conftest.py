import gc
import os
import warnings

import pytest

torch = pytest.importorskip(
    "torch", reason="the guard integrations need torch (pip install 'schedlint[guard]')"
)

# No test here may reach the network (Hugging Face hub, telemetry).
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("WANDB_DISABLED", "true")

torch.set_num_threads(1)

from schedlint.guard import hooks, registry  # noqa: E402


def _close_leftovers():
    import schedlint.guard as guard_pkg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        guard_pkg.uninstall()
        for g in [g for g in registry.live_guards() if not g.closed]:
            g.close(_can_raise=False)
    gc.collect()
    hooks.settle()


@pytest.fixture(autouse=True)
def no_guard_outlives_its_test():
    """Every test ends with no guard and no hook installed, whatever the framework left behind.

    Only hooks this test installed are its business: state left by an earlier test module of
    the same process (tests/guard) must not fail every integration test after it.
    """
    _close_leftovers()  # guards or an auto-session an earlier test module left behind
    hooks_before = hooks.installed()
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in [g for g in registry.live_guards() if not g.closed]:
            g.close(_can_raise=False)
    if hooks.installed():
        gc.collect()
        hooks.settle()
    if not hooks_before:
        assert not hooks.installed(), "a guard was left open by the integration"
