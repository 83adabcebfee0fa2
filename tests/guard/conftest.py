import gc
import sys
import warnings

import pytest

pytest.importorskip("torch")

from schedlint.guard import hooks, registry  # noqa: E402


@pytest.fixture(autouse=True)
def no_guard_outlives_its_test():
    """Every test starts and ends with no guard, no auto session and no hook installed."""
    yield
    leftovers = [g for g in registry.live_guards() if not g.closed]
    session = registry.auto_session
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for g in leftovers:
            g.close(_can_raise=False)
        if session is not None:
            session.finish()
    gc.collect()
    hooks.settle()
    assert not hooks.installed(), "a guard hook outlived the test"
    assert not leftovers, f"test left guards open: {leftovers}"
