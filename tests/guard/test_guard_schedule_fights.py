"""Two schedulers on one optimizer where one recomputes the lr from its own bases after the other
changed it (SLG113): a warm-up LambdaLR stepped every batch next to a cosine stepped every epoch,
or SWALR and the base cosine both stepped once SWA starts. Hand-overs and chains stay silent."""

import io
import textwrap

import pytest

torch = pytest.importorskip("torch")

from schedlint.guard.runner import run_script  # noqa: E402

HEAD = """
import torch
from torch.optim import lr_scheduler as S
from torch.optim.swa_utils import SWALR


def batches(n=6):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(4, 3, generator=g), torch.randn(4, 1, generator=g)) for _ in range(n)]


def train_one_epoch(model, opt, loader, per_batch=None):
    for x, y in loader:
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if per_batch is not None:
            per_batch.step()


def main(epochs=5):
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    loader = batches()
"""


def _run(tmp_path, body: str) -> str:
    script = tmp_path / "train.py"
    script.write_text(HEAD + textwrap.indent(textwrap.dedent(body), "    ") + "\n\nmain()\n")
    out = io.StringIO()
    status = run_script(str(script), [], on_violation="warn", out=out)
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_warmup_lambda_per_batch_next_to_cosine_per_epoch_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        cosine = S.CosineAnnealingLR(opt, T_max=epochs)
        warmup = S.LambdaLR(opt, lambda it: min(1.0, (it + 1) / 10))
        for epoch in range(epochs):
            train_one_epoch(model, opt, loader, per_batch=warmup)
            cosine.step()
        """,
    )
    assert "SLG113 x1" in out, out
    assert "LambdaLR.step()" in out and "after CosineAnnealingLR stepped" in out, out


def test_swalr_and_cosine_both_stepped_after_swa_start_is_reported(tmp_path):
    out = _run(
        tmp_path,
        """
        cosine = S.CosineAnnealingLR(opt, T_max=epochs)
        swa = SWALR(opt, swa_lr=0.02, anneal_epochs=1)
        for epoch in range(epochs):
            train_one_epoch(model, opt, loader)
            if epoch >= 2:
                swa.step()
            cosine.step()
        """,
    )
    assert "SLG113 x1" in out, out
    assert "SWALR.step()" in out and "after CosineAnnealingLR stepped" in out, out


@pytest.mark.parametrize(
    "body",
    [
        # torch's SWA recipe: the base schedule until swa_start, SWALR from then on.
        """
        cosine = S.CosineAnnealingLR(opt, T_max=epochs)
        swa = SWALR(opt, swa_lr=0.02, anneal_epochs=1)
        for epoch in range(epochs):
            train_one_epoch(model, opt, loader)
            if epoch >= 2:
                swa.step()
            else:
                cosine.step()
        """,
        # torchvision detection: a warm-up LambdaLR for the first epoch only, then MultiStepLR.
        """
        main_sched = S.MultiStepLR(opt, milestones=[3], gamma=0.1)
        for epoch in range(epochs):
            warmup = S.LambdaLR(opt, lambda it: min(1.0, (it + 1) / 5)) if epoch == 0 else None
            train_one_epoch(model, opt, loader, per_batch=warmup)
            main_sched.step()
        """,
        # a warm-up that stops stepping when it is done, the cosine stepped from the start.
        """
        warmup = S.LambdaLR(opt, lambda it: min(1.0, (it + 1) / 4))
        cosine = S.CosineAnnealingLR(opt, T_max=epochs)
        step = 0
        for epoch in range(epochs):
            for x, y in loader:
                loss = torch.nn.functional.mse_loss(model(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
                step += 1
                if step < 4:
                    warmup.step()
            cosine.step()
        """,
        # two chainable schedulers stepped together compose (ChainedScheduler by hand).
        """
        decay = S.ExponentialLR(opt, gamma=0.98)
        drops = S.StepLR(opt, step_size=2, gamma=0.5)
        for epoch in range(epochs):
            train_one_epoch(model, opt, loader, per_batch=decay)
            drops.step()
        """,
    ],
    ids=["swa-else-branch", "first-epoch-warmup", "warmup-stops", "two-chainable"],
)
def test_handovers_and_chains_are_silent(tmp_path, body):
    out = _run(tmp_path, body)
    assert "no violations" in out, out
