"""SLG112 judged from counts, not from a percentage bar: a schedule whose length is the run's
optimizer steps (or the batches drawn from its DataLoader) but which was stepped a whole factor
fewer times (per epoch, or per optimizer step under gradient accumulation), and a schedule whose
lr is 0 past its end that spent half the run there. Short debug runs and correct runs stay
silent."""

import io
import textwrap

import pytest

torch = pytest.importorskip("torch")

from schedlint.guard.runner import run_script  # noqa: E402

HEAD = """
import torch
from torch.optim import lr_scheduler as S
from torch.utils.data import DataLoader, TensorDataset


def make_dataset(rows):
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(rows, 3, generator=g), torch.randn(rows, 1, generator=g))


def make_batches(n):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


class Trainer:
    \"\"\"interval: "step" steps the scheduler after every optimizer step, "epoch" at the end of
    each epoch (Lightning's default for a scheduler returned without an interval).\"\"\"

    def __init__(self, model, optimizer, scheduler, epochs, interval="step", accumulate=1,
                 max_steps=None):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.epochs, self.interval, self.accumulate = epochs, interval, accumulate
        self.max_steps = max_steps
        self.global_step = 0

    def training_step(self, batch):
        x, y = batch
        return torch.nn.functional.mse_loss(self.model(x), y) / self.accumulate

    def fit(self, train_loader, val_loader=None):
        for epoch in range(self.epochs):
            self.model.train()
            for i, batch in enumerate(train_loader):
                self.training_step(batch).backward()
                if (i + 1) % self.accumulate:
                    continue
                self.optimizer.step()
                self.optimizer.zero_grad()
                self.global_step += 1
                if self.interval == "step":
                    self.scheduler.step()
                if self.max_steps is not None and self.global_step >= self.max_steps:
                    return
            if val_loader is not None:
                self.model.eval()
                with torch.no_grad():
                    for batch in val_loader:
                        self.training_step(batch)
            if self.interval == "epoch":
                self.scheduler.step()


def main():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
"""


def _run(tmp_path, body: str) -> str:
    script = tmp_path / "train.py"
    script.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "    ") + "\n\nmain()\n")
    out = io.StringIO()
    status = run_script(str(script), [], on_violation="warn", out=out)
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_onecycle_sized_for_every_optimizer_step_but_stepped_per_epoch_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        epochs, loader = 3, make_batches(8)
        sched = S.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * len(loader))
        Trainer(model, opt, sched, epochs, interval="epoch").fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "OneCycleLR was stepped 3 times, 12.5% of its length 24" in out, out
    assert "the 24 optimizer steps the run took" in out, out


def test_transformers_schedule_sized_in_batches_stepped_per_epoch_is_reported(tmp_path):
    pytest.importorskip("transformers")
    out = _run(
        tmp_path,
        """
        from transformers import get_linear_schedule_with_warmup
        epochs = 2
        loader = DataLoader(make_dataset(40), batch_size=4, shuffle=True)
        sched = get_linear_schedule_with_warmup(opt, 1, num_training_steps=epochs * len(loader))
        Trainer(model, opt, sched, epochs, interval="epoch").fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "was stepped 2 times, 10.0% of its length 20" in out, out


@pytest.mark.parametrize("factory", ["cosine", "transformers"])
def test_schedule_sized_in_micro_batches_under_gradient_accumulation_is_reported(tmp_path, factory):
    if factory == "transformers":
        pytest.importorskip("transformers")
        build = (
            "from transformers import get_cosine_schedule_with_warmup\n"
            "sched = get_cosine_schedule_with_warmup(opt, 2, len(loader) * epochs)\n"
        )
    else:
        build = "sched = S.CosineAnnealingLR(opt, T_max=len(loader) * epochs)\n"
    out = _run(
        tmp_path,
        "epochs = 3\n"
        "loader = DataLoader(make_dataset(64), batch_size=4, shuffle=True)\n"
        "val = DataLoader(make_dataset(12), batch_size=4)\n"
        + build
        + "Trainer(model, opt, sched, epochs, accumulate=4).fit(loader, val)\n",
    )
    assert "SLG112 x1" in out, out
    assert "stepped 12 times, 25.0% of its length 48" in out, out
    assert "the 48 batches drawn from one DataLoader" in out, out


def test_zero_ending_schedule_stepped_exactly_twice_its_length_is_reported(tmp_path):
    pytest.importorskip("transformers")
    out = _run(
        tmp_path,
        """
        from transformers import get_linear_schedule_with_warmup
        epochs = 4
        loader = DataLoader(make_dataset(64), batch_size=8)
        sched = get_linear_schedule_with_warmup(opt, 2, num_training_steps=epochs * len(loader))
        loader = DataLoader(make_dataset(64), batch_size=4)  # smaller batches, set after sizing
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "stepped 64 times, twice its length 32" in out, out
    assert "32 of the run's 64 optimizer steps trained at lr 0" in out, out


@pytest.mark.parametrize(
    "factory,warmup,length,expected",
    [
        (
            "linear",
            "total",
            3,
            "warm-up of 32 steps is not shorter than its length 3: the lr rose "
            "through all 32 of its steps and never decayed",
        ),
        (
            "cosine",
            20,
            10,
            "warm-up of 20 steps is not shorter than its length 10: the lr rose "
            "through its 20 warm-up steps and never decayed as scheduled; its other 12 steps ran "
            "past the schedule's end",
        ),
    ],
    ids=["whole-run", "warmup-then-past-the-end"],
)
def test_swapped_warmup_and_length_says_the_lr_never_decayed(
    tmp_path, factory, warmup, length, expected
):
    pytest.importorskip("transformers")
    out = _run(
        tmp_path,
        f"""
        from transformers import get_{factory}_schedule_with_warmup as make
        epochs, loader = 4, make_batches(8)
        total = epochs * len(loader)
        sched = make(opt, num_warmup_steps={warmup}, num_training_steps={length})
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert expected in out, out
    assert "lr 0" not in out, out


@pytest.mark.parametrize(
    "body",
    [
        # a debug run cut short by max_steps: sized for the whole run, stepped per batch
        """
        epochs, loader = 3, make_batches(8)
        sched = S.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs * len(loader))
        Trainer(model, opt, sched, epochs, max_steps=6).fit(loader)
        """,
        # a debug run of fewer epochs than the schedule was sized for, stepped per epoch
        """
        loader = make_batches(8)
        sched = S.CosineAnnealingLR(opt, T_max=20)
        Trainer(model, opt, sched, 3, interval="epoch").fit(loader)
        """,
        # sized in optimizer steps under accumulation, stepped per optimizer step
        """
        epochs, accumulate = 3, 4
        loader = DataLoader(make_dataset(64), batch_size=4, shuffle=True)
        val = DataLoader(make_dataset(12), batch_size=4)
        sched = S.CosineAnnealingLR(opt, T_max=len(loader) // accumulate * epochs)
        Trainer(model, opt, sched, epochs, accumulate=accumulate).fit(loader, val)
        """,
        # sized in batches, stepped per batch, with a validation loader of as many batches as
        # the schedule has epochs
        """
        epochs = 4
        loader = DataLoader(make_dataset(48), batch_size=4)
        val = DataLoader(make_dataset(4), batch_size=4)
        sched = S.OneCycleLR(opt, max_lr=1e-2, epochs=epochs, steps_per_epoch=len(loader))
        Trainer(model, opt, sched, epochs).fit(loader, val)
        """,
        # sized in epochs, stepped per epoch
        """
        epochs, loader = 4, make_batches(6)
        sched = S.OneCycleLR(opt, max_lr=1e-2, total_steps=epochs)
        Trainer(model, opt, sched, epochs, interval="epoch").fit(loader)
        """,
        # sized in micro-batches, a debug run of half the epochs under accumulation
        """
        loader = DataLoader(make_dataset(64), batch_size=4)
        sched = S.CosineAnnealingLR(opt, T_max=len(loader) * 4)
        Trainer(model, opt, sched, 2, accumulate=4).fit(loader)
        """,
        # a debug run of half the epochs, stepped per epoch, whose validation loader drew as
        # many batches as the schedule is long
        """
        loader = DataLoader(make_dataset(12), batch_size=4)
        val = DataLoader(make_dataset(8), batch_size=4)
        sched = S.CosineAnnealingLR(opt, T_max=20)
        Trainer(model, opt, sched, 10, interval="epoch").fit(loader, val)
        """,
        # a transformers schedule a few steps short of the run, lr 0 for its last steps
        """
        from transformers import get_linear_schedule_with_warmup
        epochs, loader = 4, make_batches(8)
        sched = get_linear_schedule_with_warmup(opt, 2, epochs * len(loader) - 5)
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
    ],
    ids=[
        "max-steps",
        "fewer-epochs",
        "accumulation-sized-in-steps",
        "per-batch-with-val-loader",
        "sized-in-epochs",
        "accumulation-half-run",
        "half-run-val-loader-as-long",
        "transformers-near-end",
    ],
)
def test_correct_and_short_runs_are_silent(tmp_path, body):
    if "transformers" in body:
        pytest.importorskip("transformers")
    out = _run(tmp_path, body)
    assert "no violations" in out, out


# Plain lists of batches show no epoch boundary to the guard; a MultiStepLR sized in epochs but
# stepped per batch is told by its counts at the end: every milestone passed within the first
# tenth of its steps, cutting the lr a hundredfold or more for the other nine tenths.
def test_multistep_sized_in_epochs_stepped_per_batch_over_a_list_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        epochs, loader = 4, make_batches(50)
        sched = S.MultiStepLR(opt, milestones=[5, 10, 15], gamma=0.1)  # epochs of a 20-epoch plan
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "MultiStepLR passed its last milestone (milestones=[5, 10, 15]) at step 15 of" in out
    assert "its 200 steps, cutting the lr to 0.001 of its start" in out, out


@pytest.mark.parametrize(
    "body",
    [
        # milestones in batches near the end of the run (detectron2-style iterations)
        """
        epochs, loader = 4, make_batches(50)
        sched = S.MultiStepLR(opt, milestones=[150, 180], gamma=0.1)
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
        # milestones in epochs, stepped per epoch
        """
        loader = make_batches(5)
        sched = S.MultiStepLR(opt, milestones=[2, 4, 6], gamma=0.1)
        Trainer(model, opt, sched, 70, interval="epoch").fit(loader)
        """,
        # one early decay, a gentle cut
        """
        epochs, loader = 4, make_batches(50)
        sched = S.MultiStepLR(opt, milestones=[5, 10], gamma=0.5)
        Trainer(model, opt, sched, epochs).fit(loader)
        """,
    ],
    ids=["iterations", "per-epoch", "gentle"],
)
def test_multistep_sized_for_its_unit_is_silent(tmp_path, body):
    out = _run(tmp_path, body)
    assert "no violations" in out, out
