"""SLG112 for schedules sized in epochs but stepped per batch, replayed faithfully (every lr
"matches the schedule"): a cosine run past T_max is reported at the step that settles it, and a
StepLR/MultiStepLR/CosineAnnealingWarmRestarts that goes through its epoch-sized horizon within
its first epoch (a full pass of a DataLoader) is reported when the second epoch starts. Correct
runs stay silent: per-epoch schedules (also short debug runs), a cosine that ends at T_max (the
loop's last step one past it), compositions, warm-up + cosine, restarts once per epoch by design,
ReduceLROnPlateau, and per-batch milestones in a one-epoch run."""

import io
import re
import textwrap

import pytest

torch = pytest.importorskip("torch")

import schedlint  # noqa: E402
from schedlint.guard.runner import run_script  # noqa: E402

HEAD = """
import torch
from torch.optim import lr_scheduler as S
from torch.utils.data import DataLoader, TensorDataset


def make_loader(batches, batch_size=2):
    g = torch.Generator().manual_seed(0)
    n = batches * batch_size
    data = TensorDataset(torch.randn(n, 3, generator=g), torch.randn(n, 1, generator=g))
    return DataLoader(data, batch_size=batch_size, shuffle=True, generator=g)


class Trainer:
    def __init__(self, model, optimizer, scheduler, per_batch, accumulate=1, val_loader=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.per_batch, self.accumulate, self.val_loader = per_batch, accumulate, val_loader

    def train_step(self, i, x, y):
        loss = torch.nn.functional.mse_loss(self.model(x), y) / self.accumulate
        loss.backward()
        if (i + 1) % self.accumulate == 0:
            self.optimizer.step()
            self.optimizer.zero_grad()
            return True
        return False

    def validate(self):
        with torch.no_grad():
            return sum(float(torch.nn.functional.mse_loss(self.model(x), y)) for x, y in self.val_loader)

    def fit(self, loader, epochs):
        for epoch in range(epochs):
            for i, (x, y) in enumerate(loader):
                stepped = self.train_step(i, x, y)
                if self.per_batch == "micro" or (self.per_batch is True and stepped):
                    self.scheduler.step()
            if self.val_loader is not None:
                loss = self.validate()
            if self.per_batch == "plateau":
                self.scheduler.step(loss)
            elif not self.per_batch:
                self.scheduler.step()


def main():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
"""


def _run(tmp_path, body: str) -> str:
    script = tmp_path / "train.py"
    script.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "    ") + "\n\nmain()\n")
    out = io.StringIO()
    status = run_script(str(script), [], on_violation="warn", out=out)
    assert status == 0, out.getvalue()
    return out.getvalue()


def _first(out: str) -> str:
    (line,) = [ln for ln in out.splitlines() if ln.startswith("    SLG112")]
    return line


def test_cosine_sized_in_epochs_stepped_per_batch_is_reported_at_the_step(tmp_path):
    out = _run(
        tmp_path,
        """
        epochs, loader = 4, make_loader(10)
        sched = S.CosineAnnealingLR(opt, T_max=epochs)
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
    )
    assert "SLG112 x1" in out, out
    # At the step two past T_max, in the first epoch, not at the end of the run (step 40).
    assert "group 0, optimizer step 6, CosineAnnealingLR step 6: lr " in _first(out), out
    assert "CosineAnnealingLR was stepped 6 times, past its length 4" in out, out


def test_cosine_sized_without_the_accumulation_steps_is_reported(tmp_path):
    # T_max counts optimizer steps (batches / accumulate) but the scheduler steps every batch.
    out = _run(
        tmp_path,
        """
        epochs, accumulate, loader = 3, 4, make_loader(12)
        sched = S.CosineAnnealingLR(opt, T_max=epochs * len(loader) // accumulate)
        Trainer(model, opt, sched, per_batch="micro", accumulate=accumulate).fit(loader, epochs)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "CosineAnnealingLR was stepped 11 times, past its length 9" in out, out


def test_cosine_in_a_warmup_sequence_stepped_per_batch_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        epochs, loader = 5, make_loader(8)
        warmup = S.LinearLR(opt, start_factor=0.1, total_iters=2)
        cosine = S.CosineAnnealingLR(opt, T_max=epochs - 2)
        sched = S.SequentialLR(opt, [warmup, cosine], milestones=[2])
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "CosineAnnealingLR in SequentialLR was stepped 5 times, past its length 3" in out, out


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "sched = S.StepLR(opt, step_size=3, gamma=0.1)",
            "StepLR decayed the lr 6 times within its first epoch (20 steps in one pass of the "
            "DataLoader, 20 optimizer steps), to 1e-06 of its start: step_size=3 was sized in epochs",
        ),
        (
            "sched = S.MultiStepLR(opt, milestones=[3, 6, 9], gamma=0.1)",
            "MultiStepLR decayed the lr 3 times within its first epoch (20 steps in one pass of the "
            "DataLoader, 20 optimizer steps), to 0.001 of its start: milestones=[3, 6, 9] was sized",
        ),
        (
            "sched = S.CosineAnnealingWarmRestarts(opt, T_0=4)",
            "CosineAnnealingWarmRestarts restarted 5 times within its first epoch (20 steps in one "
            "pass of the DataLoader, 20 optimizer steps): T_0=4 was sized in epochs",
        ),
        (
            "sched = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)",
            "CosineAnnealingWarmRestarts restarted 3 times within its first epoch",
        ),
        (
            "sched = S.SequentialLR(opt, [S.LinearLR(opt, 0.1, total_iters=2), "
            "S.MultiStepLR(opt, milestones=[3, 6, 9], gamma=0.1)], milestones=[2])",
            "MultiStepLR in SequentialLR decayed the lr 3 times within its first epoch",
        ),
    ],
    ids=[
        "steplr",
        "multisteplr",
        "warm-restarts",
        "warm-restarts-t-mult",
        "multistep-after-warmup",
    ],
)
def test_epoch_sized_schedule_stepped_per_batch_is_reported_when_the_second_epoch_starts(
    tmp_path, body, expected
):
    out = _run(
        tmp_path,
        f"""
        epochs, loader = 4, make_loader(20)
        {body}
        Trainer(model, opt, sched, per_batch=True, val_loader=make_loader(3)).fit(loader, epochs)
        """,
    )
    assert "SLG112 x1" in out, out
    assert expected in out, out
    assert re.search(r"group 0, optimizer step 20, \w+ step 20: lr ", _first(out)), out


def test_explicit_guard_raises_when_the_second_epoch_starts():
    from torch.optim import lr_scheduler as S
    from torch.utils.data import DataLoader, TensorDataset

    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = DataLoader(TensorDataset(torch.randn(40, 3), torch.randn(40, 1)), batch_size=4)
    sched = S.StepLR(opt, step_size=2, gamma=0.1)
    seen_epochs = []

    def train_one_epoch():
        for x, y in loader:
            torch.nn.functional.mse_loss(model(x), y).backward()
            opt.step()
            opt.zero_grad()
            sched.step()

    with pytest.raises(schedlint.ScheduleViolation, match="SLG112") as raised:
        with schedlint.guard(opt, sched):
            for epoch in range(5):
                seen_epochs.append(epoch)
                train_one_epoch()
    assert seen_epochs == [0, 1], seen_epochs  # stopped as the second epoch's first batch is drawn
    assert "decayed the lr 5 times within its first epoch" in raised.value.violation.cause


@pytest.mark.parametrize(
    "body",
    [
        # per-epoch schedules, each in a short debug run and a full one
        """
        epochs, loader = 90, make_loader(12)
        sched = S.MultiStepLR(opt, milestones=[30, 60, 80], gamma=0.1)
        Trainer(model, opt, sched, per_batch=False, val_loader=make_loader(3)).fit(loader, 2)
        """,
        """
        epochs, loader = 8, make_loader(6)
        sched = S.StepLR(opt, step_size=2, gamma=0.1)
        Trainer(model, opt, sched, per_batch=False).fit(loader, epochs)
        """,
        """
        epochs, loader = 100, make_loader(12)
        sched = S.CosineAnnealingWarmRestarts(opt, T_0=10, T_mult=2)
        Trainer(model, opt, sched, per_batch=False).fit(loader, 3)
        """,
        # a cosine that ends at T_max, and one whose loop's last step goes one past it
        """
        epochs, loader = 6, make_loader(5)
        sched = S.CosineAnnealingLR(opt, T_max=epochs)
        Trainer(model, opt, sched, per_batch=False).fit(loader, epochs)
        """,
        """
        epochs, loader = 6, make_loader(5)
        sched = S.CosineAnnealingLR(opt, T_max=epochs - 1)
        Trainer(model, opt, sched, per_batch=False).fit(loader, epochs)
        """,
        # per batch, sized in batches: a cosine, warm-up + cosine, a chain
        """
        epochs, loader = 3, make_loader(10)
        sched = S.CosineAnnealingLR(opt, T_max=epochs * len(loader))
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        """
        epochs, loader = 3, make_loader(10)
        warmup = S.LinearLR(opt, start_factor=0.01, total_iters=5)
        cosine = S.CosineAnnealingLR(opt, T_max=epochs * len(loader) - 5)
        sched = S.SequentialLR(opt, [warmup, cosine], milestones=[5])
        Trainer(model, opt, sched, per_batch=True, val_loader=make_loader(2)).fit(loader, epochs)
        """,
        """
        epochs, loader = 3, make_loader(10)
        sched = S.ChainedScheduler(
            [S.LinearLR(opt, start_factor=0.1, total_iters=4), S.ExponentialLR(opt, gamma=0.99)]
        )
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        # per batch, deliberately: a restart every epoch, or every half epoch with T_mult=2
        """
        epochs, loader = 4, make_loader(10)
        sched = S.CosineAnnealingWarmRestarts(opt, T_0=len(loader))
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        """
        epochs, loader = 4, make_loader(12)
        sched = S.CosineAnnealingWarmRestarts(opt, T_0=len(loader) // 2, T_mult=2)
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        # per batch, milestones in batches: in a one-epoch run, and one decay early in a long one
        """
        epochs, loader = 1, make_loader(30)
        sched = S.MultiStepLR(opt, milestones=[10, 20], gamma=0.1)
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        """
        epochs, loader = 3, make_loader(10)
        sched = S.MultiStepLR(opt, milestones=[5, 25], gamma=0.1)
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        # a per-batch StepLR that decays gently within an epoch
        """
        epochs, loader = 3, make_loader(10)
        sched = S.StepLR(opt, step_size=2, gamma=0.9)
        Trainer(model, opt, sched, per_batch=True).fit(loader, epochs)
        """,
        # ReduceLROnPlateau on the validation loss
        """
        epochs, loader = 6, make_loader(10)
        sched = S.ReduceLROnPlateau(opt, patience=0, factor=0.1)
        Trainer(model, opt, sched, per_batch="plateau", val_loader=make_loader(3)).fit(loader, epochs)
        """,
    ],
    ids=[
        "multistep-per-epoch-debug-run",
        "steplr-per-epoch",
        "warm-restarts-per-epoch-debug-run",
        "cosine-ends-at-t-max",
        "cosine-last-step-one-past",
        "cosine-per-batch-sized-in-batches",
        "warmup-cosine-per-batch",
        "chained-per-batch",
        "warm-restarts-every-epoch",
        "warm-restarts-half-epoch-t-mult",
        "milestones-in-a-one-epoch-run",
        "one-early-decay",
        "gentle-steplr-per-batch",
        "plateau",
    ],
)
def test_correct_runs_are_silent(tmp_path, body):
    out = _run(tmp_path, body)
    assert "no violations" in out, out
