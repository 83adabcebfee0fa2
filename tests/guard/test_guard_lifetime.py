"""close() and the context manager remove every hook; the guard never keeps an optimizer or a
scheduler alive."""

import gc
import weakref

import pytest

torch = pytest.importorskip("torch")

from guard_schedulers import grad_step, make_optimizer  # noqa: E402
from torch.amp.grad_scaler import GradScaler  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402
from torch.optim.optimizer import _global_optimizer_post_hooks, _global_optimizer_pre_hooks  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard import hooks, session  # noqa: E402
from schedlint.guard.core import ANCHOR  # noqa: E402


class OwnStep(S.LRScheduler):
    """A user scheduler overriding step(): the guard wraps its class when it first sees it."""

    def get_lr(self):
        return [g["lr"] for g in self.optimizer.param_groups]

    def step(self, epoch=None):
        super().step(epoch)


def _torch_state():
    classes = hooks._torch_scheduler_classes() + [OwnStep, GradScaler]
    methods = {
        (c, n): c.__dict__.get(n)
        for c in classes
        for n in ("step", "load_state_dict", "__init__", "_maybe_opt_step")
    }
    return dict(_global_optimizer_pre_hooks), dict(_global_optimizer_post_hooks), methods


def test_close_removes_every_hook_and_wrapper():
    before = _torch_state()
    model, opt = make_optimizer()
    sched = OwnStep(opt)
    g = schedlint.guard(opt, sched)
    grad_step(model, opt, 0)
    sched.step()
    during = _torch_state()
    assert during[0] != before[0] and during[1] != before[1]
    assert during[2][(OwnStep, "step")] is not before[2][(OwnStep, "step")]
    assert during[2][(S.LRScheduler, "step")] is not before[2][(S.LRScheduler, "step")]
    g.close()
    after = _torch_state()
    assert after[0] == before[0] and after[1] == before[1]
    assert all(after[2][k] is before[2][k] for k in before[2])
    assert ANCHOR not in vars(opt)


def test_the_context_manager_removes_every_hook_even_when_the_body_raises():
    before = _torch_state()
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 2)
    with (
        pytest.raises(RuntimeError, match="training crashed"),
        pytest.warns(schedlint.ScheduleWarning, match="SLG107"),
    ):  # not raised over the crash
        with schedlint.guard(opt, sched):
            grad_step(model, opt, 0)
            raise RuntimeError("training crashed")
    after = _torch_state()
    assert after[:2] == before[:2] and all(after[2][k] is before[2][k] for k in before[2])


def test_an_unreferenced_guard_keeps_working_for_as_long_as_its_optimizer_lives():
    model, opt = make_optimizer()
    sched = S.StepLR(opt, 100)
    schedlint.guard(opt, sched)  # result dropped on purpose
    gc.collect()
    grad_step(model, opt, 0)
    sched.step()
    opt.param_groups[0]["lr"] = 5.0
    with pytest.raises(schedlint.ScheduleViolation):
        grad_step(model, opt, 1)
    vars(opt)[ANCHOR].guard.close()


def test_optimizer_and_scheduler_die_by_reference_counting_alone():
    # No cycle is created by the guard: with the collector off, dropping the last references
    # frees the optimizer and scheduler at once, even though the guard object is still held.
    model, opt = make_optimizer()
    sched = S.LambdaLR(opt, lambda e: 0.9**e)
    g = schedlint.guard(opt, sched)
    for i in range(3):
        grad_step(model, opt, i)
        sched.step()
    refs = [weakref.ref(opt), weakref.ref(sched)]
    gc.disable()
    try:
        del opt, sched, model
        assert [r() for r in refs] == [None, None]
    finally:
        gc.enable()
    assert g.closed and g.report().optimizer_steps == 3
    hooks.settle()
    assert not hooks.installed()


def _lambda_closing_over(opt):
    # Built here, not in the test: a lambda in the test would share the test's `opt` cell, and
    # `del opt` would empty it, so the lambda would no longer hold the optimizer.
    return lambda e: 1.0 if opt.param_groups else 0.0


def test_a_lambda_closing_over_the_optimizer_does_not_leak_it():
    model, opt = make_optimizer()
    sched = S.LambdaLR(opt, _lambda_closing_over(opt))
    schedlint.guard(opt, sched)
    for i in range(3):
        grad_step(model, opt, i)
        sched.step()
    refs = [weakref.ref(opt), weakref.ref(sched)]
    del opt, sched, model
    gc.collect()
    assert [r() for r in refs] == [None, None]


def test_auto_guarded_optimizers_are_collected():
    auto = session.install(enable=True, report_at_exit=False)
    refs = []
    for k in range(5):
        model, opt = make_optimizer()
        sched = S.StepLR(opt, 2)
        grad_step(model, opt, k)
        sched.step()
        refs.append(weakref.ref(opt))
    del model, opt, sched
    gc.collect()
    assert all(r() is None for r in refs)
    report = auto.finish()
    assert len(report.reports) == 5 and report.ok


def test_a_guard_collected_in_one_gc_cycle_with_its_optimizer_still_reports():
    # Lightning keeps the optimizer in reference cycles, so gc collects it together with the
    # guard it owns: the finalizer found the guard's weakref already cleared, and the run's
    # end-of-run findings (a OneCycleLR stepped per epoch: SLG112) were lost.
    auto = session.install(enable=True, report_at_exit=False, on_violation="log")
    model, opt = make_optimizer()
    sched = S.OneCycleLR(opt, max_lr=[10 * g["lr"] for g in opt.param_groups], total_steps=30)
    holder = type("Module", (), {})()
    holder.optimizer, opt.module = opt, holder  # the cycle a LightningModule makes
    for i in range(30):
        grad_step(model, opt, i)
        if i % 10 == 9:
            sched.step()
    ref = weakref.ref(opt)
    del model, opt, sched, holder
    gc.collect()
    assert ref() is None
    report = auto.finish()
    assert len(report.reports) == 1
    assert [v.code for v in report.reports[0].violations] == ["SLG112"]
