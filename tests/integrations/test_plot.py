"""plot_lrs: each group's actual LR against its expected schedule, violations marked."""

import struct
import subprocess
import sys

import pytest
import torch

import schedlint
from schedlint.integrations.plot import histories_of, plot_lrs


def guarded_run(history=200, steps=40):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(
        [
            {"params": [model.weight], "name": "head"},
            {"params": [model.bias], "lr": 0.01, "name": "backbone"},
        ],
        lr=0.1,
    )
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    seen = []
    guard = schedlint.guard(opt, sched, history=history, on_violation=seen.append)
    x, y = torch.randn(8, 4), torch.randn(8, 1)
    for step in range(steps):
        if step == 25:
            opt.param_groups[0]["lr"] = 0.08  # noqa: SL201 - the misuse the plot must mark
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        sched.step()
    guard.close()
    return guard, seen


def png_size(path):
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return len(data), width, height


def test_plot_renders_actual_expected_and_violations(tmp_path):
    pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed (pip install 'schedlint[plot]')"
    )
    guard, seen = guarded_run()
    assert [v.code for v in seen] == ["SLG102"]
    ((title, labels, hist),) = histories_of(guard)
    assert labels == ["head", "backbone"] and len(hist.steps) == 40
    assert hist.marks == [(25, 0, "SLG102")]
    out = plot_lrs(guard, str(tmp_path / "lr.png"))
    size, width, height = png_size(out)
    assert size > 10_000 and width >= 400 and height >= 200


def test_plot_without_history_says_how_to_get_one(tmp_path):
    pytest.importorskip(
        "matplotlib", reason="matplotlib is not installed (pip install 'schedlint[plot]')"
    )
    guard, _ = guarded_run(history=0, steps=3)
    with pytest.raises(ValueError, match="history="):
        plot_lrs([guard], str(tmp_path / "lr.png"))


def test_import_schedlint_imports_no_framework():
    code = (
        "import sys, schedlint, schedlint.integrations; "
        "bad = [m for m in ('lightning', 'pytorch_lightning', 'transformers', 'matplotlib', 'torch') "
        "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_violation_is_marked_at_the_wrong_lr_it_names():
    # A write a closed-form scheduler overwrites before any optimizer step uses it: no sample of
    # the history holds 0.05, the mark must (it sat on the correct line before).
    from schedlint.guard.report import mark_point

    model = torch.nn.Linear(4, 2)
    opt = torch.optim.SGD(
        [{"params": [model.weight], "lr": 0.1}, {"params": [model.bias], "lr": 0.01}]
    )
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[0.1, 0.01], total_steps=60)
    with schedlint.guard(opt, sched, history=100, on_violation=lambda v: None) as guard:
        for i in range(60):
            model(torch.ones(3, 4)).sum().backward()
            opt.step()
            opt.zero_grad()
            if i == 30:
                opt.param_groups[1]["lr"] = 0.05  # noqa: SL201 - the misuse the plot must mark
            sched.step()
    hist = guard.history
    (k,) = [k for k, m in enumerate(hist.marks) if m[2] == "SLG102"]
    assert mark_point(hist, k) == (31, 0.05)
