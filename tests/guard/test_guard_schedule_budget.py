"""SLG112 beyond "a tenth of the length": a schedule whose lr is 0 past its end stepped far past
it (a transformers schedule sized in epochs but stepped per batch), and a schedule sized as one
epoch of batches but stepped per epoch. Correctly sized runs and short runs stay silent."""

import io
import textwrap

import pytest

torch = pytest.importorskip("torch")

from schedlint.guard.runner import run_script  # noqa: E402

HEAD = """
import torch
from torch.optim import lr_scheduler as S


def make_loader(n):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


class Trainer:
    def __init__(self, model, optimizer, scheduler, epochs, per_batch, warmup_epochs=0):
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler
        self.epochs, self.per_batch, self.warmup_epochs = epochs, per_batch, warmup_epochs

    def fit(self, loader):
        for epoch in range(self.epochs):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(self.model(x), y)
                self.optimizer.zero_grad()
                loss.backward()
                self.optimizer.step()
                if self.per_batch:
                    self.scheduler.step()
            if not self.per_batch and epoch >= self.warmup_epochs:
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


def test_transformers_schedule_sized_in_epochs_stepped_per_batch_is_reported(tmp_path):
    pytest.importorskip("transformers")
    out = _run(
        tmp_path,
        """
        from transformers import get_linear_schedule_with_warmup
        epochs, loader = 4, make_loader(8)
        sched = get_linear_schedule_with_warmup(opt, num_warmup_steps=1, num_training_steps=epochs)
        Trainer(model, opt, sched, epochs, per_batch=True).fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert (
        "get_linear_schedule_with_warmup was stepped 32 times, more than twice its length 4" in out
    )


def test_cosine_sized_as_one_epoch_of_batches_stepped_per_epoch_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        epochs, loader = 4, make_loader(12)
        sched = S.CosineAnnealingLR(opt, T_max=len(loader))
        Trainer(model, opt, sched, epochs, per_batch=False, warmup_epochs=1).fit(loader)
        """,
    )
    assert "SLG112 x1" in out, out
    assert "CosineAnnealingLR was stepped 3 times, 25.0% of its length 12" in out, out


@pytest.mark.parametrize(
    "body",
    [
        # sized in optimizer steps for the whole run, stepped per batch, a few steps past the end
        """
        from transformers import get_linear_schedule_with_warmup
        epochs, loader = 4, make_loader(8)
        sched = get_linear_schedule_with_warmup(opt, 2, num_training_steps=len(loader) * epochs - 3)
        Trainer(model, opt, sched, epochs, per_batch=True).fit(loader)
        """,
        # past the end at a floor above 0: the decay ended early but the lr is not 0
        """
        from transformers import get_cosine_with_min_lr_schedule_with_warmup
        epochs, loader = 4, make_loader(8)
        sched = get_cosine_with_min_lr_schedule_with_warmup(opt, 1, epochs, min_lr_rate=0.1)
        Trainer(model, opt, sched, epochs, per_batch=True).fit(loader)
        """,
        # a short run of a schedule sized in epochs, stepped per epoch
        """
        epochs, loader = 40, make_loader(9)
        sched = S.CosineAnnealingLR(opt, T_max=epochs)
        Trainer(model, opt, sched, 12, per_batch=False).fit(loader)
        """,
        # PolynomialLR decays to 0 in a few steps and stays there, by choice
        """
        epochs, loader = 3, make_loader(6)
        sched = S.PolynomialLR(opt, total_iters=5, power=2.0)
        Trainer(model, opt, sched, epochs, per_batch=True).fit(loader)
        """,
        # a cosine over the epochs after a warm-up epoch
        """
        epochs, loader = 5, make_loader(12)
        sched = S.CosineAnnealingLR(opt, T_max=epochs - 1)
        Trainer(model, opt, sched, epochs, per_batch=False, warmup_epochs=1).fit(loader)
        """,
    ],
    ids=["near-end", "min-lr-floor", "short-run", "polynomial-short-decay", "cosine-after-warmup"],
)
def test_sized_schedules_and_short_runs_are_silent(tmp_path, body):
    if "transformers" in body:
        pytest.importorskip("transformers")
    out = _run(tmp_path, body)
    assert "no violations" in out, out
