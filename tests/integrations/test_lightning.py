"""ScheduleGuard against real Lightning training (tiny model, CPU, a few steps)."""

import warnings

import pytest

pytest.importorskip(
    "lightning", reason="Lightning is not installed (pip install 'schedlint[lightning]')"
)

import torch  # noqa: E402
from lightning.pytorch import Callback, LightningModule, Trainer  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import schedlint  # noqa: E402
from schedlint.integrations.lightning import ScheduleGuard  # noqa: E402

BATCHES = 4  # per epoch


def loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4 * BATCHES, 4, generator=g)
    y = torch.randn(4 * BATCHES, 1, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=4)


class Tiny(LightningModule):
    def __init__(self, schedulers=(), extra_step=False):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)
        self.schedulers_spec = schedulers  # [(factory(opt) -> scheduler, interval, frequency)]
        self.extra_step = extra_step

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def on_train_batch_end(self, outputs, batch, batch_idx):
        if self.extra_step and batch_idx == 1:
            sched = self.lr_schedulers()
            (
                sched[0] if isinstance(sched, list) else sched
            ).step()  # misuse: Lightning steps it too

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        if not self.schedulers_spec:
            return opt
        scheds = [
            {"scheduler": make(opt), "interval": interval, "frequency": freq}
            for make, interval, freq in self.schedulers_spec
        ]
        return [opt], scheds


def fit(model, guard, tmp_path, callbacks=(), **kw):
    kw.setdefault("max_epochs", 2)
    trainer = Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=str(tmp_path),
        callbacks=[guard, *callbacks],
        **kw,
    )
    trainer.fit(model, train_dataloaders=loader())
    return trainer


def step_lr(opt):
    return torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)


def only_report(guard):
    reports = guard.report()
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize(
    "interval,freq,accumulate",
    [
        ("step", 1, 1),
        ("step", 2, 1),
        ("step", 2, 2),
        ("epoch", 1, 1),
        ("epoch", 2, 1),
    ],
)
def test_lightning_stepping_is_not_reported(tmp_path, interval, freq, accumulate):
    guard = ScheduleGuard()
    trainer = fit(
        Tiny([(step_lr, interval, freq)]),
        guard,
        tmp_path,
        max_epochs=4,
        accumulate_grad_batches=accumulate,
    )
    report = only_report(guard)
    assert report.ok, str(report)
    assert report.optimizer_steps == trainer.global_step == 4 * BATCHES // accumulate
    ((name, steps, role),) = report.schedulers
    # Lightning counts a "step" frequency in batches within the epoch, at batches that step
    if interval == "step":
        per_epoch = sum(1 for b in range(1, BATCHES + 1) if b % freq == 0 and b % accumulate == 0)
        expected_steps = 4 * per_epoch
    else:
        expected_steps = 4 // freq
    assert (name, steps, role) == ("StepLR", expected_steps, "watched")
    assert all(g.closed for g in guard.guards)


def test_warmup_per_step_and_decay_per_epoch_on_one_optimizer(tmp_path):
    # LinearLR is chainable: it scales the current lr, so the epoch decay survives it.
    warmup = lambda opt: torch.optim.lr_scheduler.LinearLR(opt, 1 / 3, total_iters=2)  # noqa: E731
    decay = lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)  # noqa: E731
    guard = ScheduleGuard()
    fit(Tiny([(warmup, "step", 1), (decay, "epoch", 1)]), guard, tmp_path, max_epochs=3)
    report = only_report(guard)
    assert report.ok, str(report)
    assert [s[:2] for s in report.schedulers] == [("LinearLR", 3 * BATCHES), ("ExponentialLR", 3)]


def test_lambda_warmup_per_step_undoes_the_decay_per_epoch(tmp_path):
    # This test once asserted the run was fine. It is not: LambdaLR sets base_lr * lambda(step)
    # at every batch, so each epoch's ExponentialLR decay is undone at the next batch and the
    # lr never decays (checked with torch alone). SLG113 reports it.
    warmup = lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 3))  # noqa: E731
    decay = lambda opt: torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)  # noqa: E731
    guard = ScheduleGuard()
    with pytest.raises(schedlint.ScheduleViolation) as info:
        fit(Tiny([(warmup, "step", 1), (decay, "epoch", 1)]), guard, tmp_path, max_epochs=3)
    assert info.value.violation.code == "SLG113"


def test_epoch_scheduler_not_due_when_max_steps_stops_mid_epoch(tmp_path):
    guard = ScheduleGuard()
    fit(Tiny([(step_lr, "epoch", 1)]), guard, tmp_path, max_steps=3)
    report = only_report(guard)
    assert report.ok, str(report)
    assert report.optimizer_steps == 3
    assert any("not due yet" in n for n in report.not_checked)


def test_frequency_larger_than_an_epoch_is_reported(tmp_path):
    guard = ScheduleGuard()
    with pytest.raises(schedlint.ScheduleViolation) as info:
        fit(Tiny([(step_lr, "step", BATCHES + 2)]), guard, tmp_path, max_epochs=2)
    v = info.value.violation
    assert v.code == "SLG107"
    assert f"frequency={BATCHES + 2}" in v.cause and f"only {BATCHES} batches" in v.cause


class WritesLR(Callback):
    """Misuse: sets the LR by hand in the middle of training."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 2:
            for g in trainer.optimizers[0].param_groups:
                g["lr"] = 0.5


def test_manual_lr_write_raises(tmp_path):
    guard = ScheduleGuard()
    model = Tiny([(step_lr, "step", 1)])
    with pytest.raises(schedlint.ScheduleViolation) as info:
        fit(model, guard, tmp_path, callbacks=[WritesLR()])
    v = info.value.violation
    assert v.code == "SLG102"
    assert v.optimizer_step == 3 and v.actual == 0.5
    assert all(g.closed for g in guard.guards)
    # the bad update was never applied: the exception came from the step pre-hook
    assert model.trainer.global_step == 3


def test_scheduler_also_stepped_by_hand_is_double_stepping(tmp_path):
    guard = ScheduleGuard(on_violation="warn")
    with pytest.warns(schedlint.ScheduleWarning, match="SLG103"):
        fit(Tiny([(step_lr, "step", 1)], extra_step=True), guard, tmp_path, max_epochs=1)
    report = only_report(guard)
    assert report.by_code() == {"SLG103": 1}


def test_warn_mode_lets_training_finish_and_reports(tmp_path):
    seen = []
    guard = ScheduleGuard(on_violation=seen.append)
    trainer = fit(Tiny([(step_lr, "step", 1)]), guard, tmp_path, callbacks=[WritesLR()])
    assert trainer.global_step == 2 * BATCHES
    assert {v.code for v in seen} == {"SLG102"}
    assert only_report(guard).by_code() == {"SLG102": 2}  # one write per epoch
    assert guard.violations and guard.violations[0].code == "SLG102"


def test_declared_schedule(tmp_path):
    def expect(step, group, base_lr):
        return 0.1 * 0.5 ** (step // 2)

    guard = ScheduleGuard(expect=expect)
    fit(Tiny([(step_lr, "step", 1)]), guard, tmp_path)
    assert only_report(guard).ok

    wrong = ScheduleGuard(expect=lambda step, group, base_lr: 0.1)
    with pytest.raises(schedlint.ScheduleViolation) as info:
        fit(Tiny([(step_lr, "step", 1)]), wrong, tmp_path)
    assert info.value.violation.code == "SLG101" and info.value.violation.optimizer_step == 2


def test_no_scheduler_and_history_plot(tmp_path):
    pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed (pip install 'schedlint[plot]')"
    )
    guard = ScheduleGuard(history=100)
    fit(Tiny([(step_lr, "step", 1)]), guard, tmp_path)
    out = guard.plot(str(tmp_path / "lr.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"

    plain = ScheduleGuard()
    with warnings.catch_warnings():
        warnings.simplefilter("error", schedlint.ScheduleWarning)
        fit(Tiny(), plain, tmp_path)
    assert only_report(plain).ok


def test_bad_mode_fails_at_construction():
    with pytest.raises(ValueError):
        ScheduleGuard(on_violation="explode")


class OneCycleOverTheRun(Tiny):
    """OneCycleLR sized for every optimizer step of the run (Lightning's own count), returned
    with or without an interval: without one, Lightning steps it per epoch."""

    def __init__(self, interval=None):
        super().__init__()
        self.interval = interval

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.1)
        total = self.trainer.estimated_stepping_batches
        sched = {"scheduler": torch.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=total)}
        if self.interval:
            sched["interval"] = self.interval
        return {"optimizer": opt, "lr_scheduler": sched}


def test_onecycle_sized_per_step_under_the_default_epoch_interval_is_reported(tmp_path):
    guard = ScheduleGuard(on_violation="warn")
    with pytest.warns(schedlint.ScheduleWarning):
        fit(OneCycleOverTheRun(), guard, tmp_path, max_epochs=4)
    report = only_report(guard)
    assert report.by_code() == {"SLG112": 1}, str(report)
    assert "stepped 4 times, 25.0% of its length 16, which is the 16 optimizer steps" in str(report)


@pytest.mark.parametrize("accumulate", [1, 2])
def test_onecycle_sized_per_step_and_stepped_per_step_is_silent(tmp_path, accumulate):
    guard = ScheduleGuard()
    fit(
        OneCycleOverTheRun("step"),
        guard,
        tmp_path,
        max_epochs=4,
        accumulate_grad_batches=accumulate,
    )
    report = only_report(guard)
    assert report.ok, str(report)
