import gc
import warnings

import pytest

torch = pytest.importorskip("torch")

import schedlint  # noqa: E402
from schedlint.guard import hooks, registry  # noqa: E402

# The guard tests drive tiny tensors, where intra-op threads only add contention (on a busy
# 2-core runner they made single steps 5-10x slower). Results do not depend on it.
torch.set_num_threads(1)


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
    if hooks.installed():  # a guard whose optimizer died releases the hooks lazily
        gc.collect()
        hooks.settle()
    assert not hooks.installed(), "a guard hook outlived the test"
    assert not leftovers, f"test left guards open: {leftovers}"


@pytest.fixture
def auto():
    """Auto-guarding in log mode, as `schedlint run` does: every optimizer built is adopted and
    its violations collected in ``session.seen`` (a module may override it, e.g. to raise)."""
    session = schedlint.install(enable=True, report_at_exit=False, on_violation="log")
    seen = []
    session.listeners.append(seen.extend)
    session.seen = seen
    yield session
    session.finish(end_checks=False)
