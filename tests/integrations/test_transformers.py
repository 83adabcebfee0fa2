"""ScheduleGuardCallback against the real Hugging Face Trainer (tiny model, CPU, no network)."""

import pytest

pytest.importorskip(
    "transformers", reason="transformers is not installed (pip install 'schedlint[transformers]')"
)
pytest.importorskip(
    "accelerate",
    reason="accelerate (needed by transformers.Trainer) is not installed "
    "(pip install 'schedlint[transformers]')",
)

import torch  # noqa: E402
from transformers import Trainer, TrainerCallback, TrainingArguments  # noqa: E402

import schedlint  # noqa: E402
from schedlint.integrations.transformers import ScheduleGuardCallback  # noqa: E402


class TinyRegressor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Linear(4, 1)

    def forward(self, x, labels=None):
        out = self.net(x)
        loss = None if labels is None else torch.nn.functional.mse_loss(out.squeeze(-1), labels)
        return {"loss": loss, "logits": out}


def dataset(n=32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=g)
    y = torch.randn(n, generator=g)
    return [{"x": x[i], "labels": y[i]} for i in range(n)]


def train(tmp_path, guard, callbacks=(), **args):
    kw = dict(
        output_dir=str(tmp_path),
        max_steps=6,
        per_device_train_batch_size=4,
        learning_rate=0.1,
        lr_scheduler_type="linear",
        warmup_steps=2,
        report_to="none",
        save_strategy="no",
        logging_strategy="no",
        eval_strategy="no",
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        seed=0,
    )
    kw.update(args)
    trainer = Trainer(
        model=TinyRegressor(),
        args=TrainingArguments(**kw),
        train_dataset=dataset(),
        callbacks=[guard, *callbacks],
    )
    trainer.train()
    return trainer


def only_report(guard):
    reports = guard.report()
    assert len(reports) == 1
    return reports[0]


@pytest.mark.parametrize(
    "schedule,accumulate", [("linear", 1), ("cosine", 2), ("constant_with_warmup", 1)]
)
def test_trainer_schedules_are_not_reported(tmp_path, schedule, accumulate):
    guard = ScheduleGuardCallback()
    trainer = train(
        tmp_path, guard, lr_scheduler_type=schedule, gradient_accumulation_steps=accumulate
    )
    report = only_report(guard)
    assert report.ok, str(report)
    assert report.optimizer_steps == trainer.state.global_step == 6
    ((name, steps, role),) = report.schedulers
    assert (name, steps, role) == ("LambdaLR", 6, "watched")
    assert report.groups == ["0", "1"]  # the Trainer's decay / no-decay groups
    # The Trainer's scheduler is bound to accelerate's wrapper, which is what the guard watches.
    assert report.optimizer in ("AdamW", "AcceleratedOptimizer")
    assert all(g.closed for g in guard.guards)


class WritesLR(TrainerCallback):
    """Misuse: sets the LR by hand in the middle of training."""

    def on_step_end(self, args, state, control, optimizer=None, **kwargs):
        if state.global_step == 3:
            for g in optimizer.param_groups:
                g["lr"] = 0.5


def test_manual_lr_write_raises_before_the_update(tmp_path):
    guard = ScheduleGuardCallback()
    with pytest.raises(schedlint.ScheduleViolation) as info:
        train(tmp_path, guard, callbacks=[WritesLR()])
    v = info.value.violation
    assert (v.code, v.optimizer_step, v.actual) == ("SLG102", 3, 0.5)
    # the Trainer has no exception event: closing is the caller's job after train() raised
    reports = guard.close()
    assert reports[0].by_code() == {"SLG102": 2}  # both param groups were overwritten
    assert all(g.closed for g in guard.guards)


def test_callable_mode_records_and_training_finishes(tmp_path):
    seen = []
    guard = ScheduleGuardCallback(on_violation=seen.append, history=50)
    trainer = train(tmp_path, guard, callbacks=[WritesLR()])
    assert trainer.state.global_step == 6
    assert [(v.code, v.group_index, v.optimizer_step) for v in seen] == [
        ("SLG102", 0, 3),
        ("SLG102", 1, 3),
    ]
    assert only_report(guard).by_code() == {"SLG102": 2}
    pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed (pip install 'schedlint[plot]')"
    )
    out = guard.plot(str(tmp_path / "lr.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


class StepsSchedulerToo(TrainerCallback):
    """Misuse: a callback that also steps the Trainer's scheduler (double stepping)."""

    def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
        if state.global_step == 2:
            lr_scheduler.step()


def test_extra_scheduler_step_is_double_stepping(tmp_path):
    guard = ScheduleGuardCallback()
    with pytest.raises(schedlint.ScheduleViolation) as info:
        train(tmp_path, guard, callbacks=[StepsSchedulerToo()])
    assert info.value.violation.code == "SLG103"
    guard.close()


def test_declared_schedule(tmp_path):
    # linear warmup over 2 steps to 0.1, then linear decay to 0 at step 6
    def expect(step, group, base_lr):
        return base_lr * (step / 2 if step < 2 else (6 - step) / 4)

    guard = ScheduleGuardCallback(expect=expect)
    train(tmp_path, guard)
    assert only_report(guard).ok

    wrong = ScheduleGuardCallback(expect=lambda step, group, base_lr: base_lr)
    with pytest.raises(schedlint.ScheduleViolation) as info:
        train(tmp_path, wrong)
    assert info.value.violation.code == "SLG101" and info.value.violation.optimizer_step == 0
    wrong.close()
