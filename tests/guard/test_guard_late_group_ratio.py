"""SLG108 after a group added mid-schedule (SLG104): the ratio moved because the new group joined
the schedule late at its own lr, not because of a scalar eta_min; the message says so."""

import io

import pytest

torch = pytest.importorskip("torch")

from schedlint.guard.runner import run_script  # noqa: E402

UNFREEZE = """\
import torch
from torch.optim import lr_scheduler as S


def batches(n):
    g = torch.Generator().manual_seed(0)
    return [(torch.randn(8, 6, generator=g), torch.randn(8, 2, generator=g)) for _ in range(n)]


def fine_tune(epochs=10, unfreeze_at=3):
    backbone, head = torch.nn.Linear(6, 4), torch.nn.Linear(4, 2)
    backbone.requires_grad_(False)
    opt = torch.optim.SGD(head.parameters(), lr=0.1, momentum=0.9)
    sched = S.CosineAnnealingLR(opt, T_max=epochs * 4, eta_min=1e-4)
    loader = batches(4)
    for epoch in range(epochs):
        if epoch == unfreeze_at:  # unfreeze the backbone at a tenth of the head's lr
            backbone.requires_grad_(True)
            opt.add_param_group({"params": backbone.parameters(), "lr": 0.01})
        for x, y in loader:
            loss = torch.nn.functional.mse_loss(head(backbone(x)), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


fine_tune()
"""


def test_ratio_change_of_a_group_added_mid_schedule_names_the_late_group(tmp_path):
    script = tmp_path / "fine_tune.py"
    script.write_text(UNFREEZE)
    out = io.StringIO()
    assert run_script(str(script), [], on_violation="warn", out=out) == 0
    text = out.getvalue()
    assert "SLG104 x1, SLG108 x1" in text, text
    ratio = next(line for line in text.splitlines() if "ratio 0.1274" in line)
    assert "group '1' was added at optimizer step 12" in ratio, ratio
    assert "CosineAnnealingLR had stepped 12 times" in ratio, ratio
    assert "eta_min" not in ratio, ratio
