"""SL107 judges a key against the whole project, whatever part of it a run names.

A run over named files (pre-commit's staged files, --stdin-filename, an editor) or a subfolder
reads the rest of the project (the pyproject.toml / .git root) for readers of a key, without
reporting on those files, so it reports on the named files what a whole-tree run reports.
"""

import json
import textwrap

import pytest

VIT = '''\
"""Fine-tuning groups: layer-wise decay for the blocks, a slower lr for the patch embedding."""
import torch


def param_groups(model, base_lr, decay=0.75):
    depth = len(model.blocks)
    groups = [{"params": model.patch_embed.parameters(), "lr_mult": 0.1}]
    for i, block in enumerate(model.blocks):
        groups.append({"params": block.parameters(), "lr_scale": decay ** (depth - i)})
    return torch.optim.AdamW(groups, lr=base_lr)
'''

LR_SCHED = '''\
import math


def adjust_learning_rate(optimizer, epoch, args):
    """Half-cycle cosine after warmup, scaled per group by its layer decay."""
    if epoch < args.warmup_epochs:
        lr = args.lr * epoch / args.warmup_epochs
    else:
        lr = args.min_lr + (args.lr - args.min_lr) * 0.5 * (
            1.0 + math.cos(math.pi * (epoch - args.warmup_epochs) / (args.epochs - args.warmup_epochs))
        )
    for param_group in optimizer.param_groups:
        param_group["lr"] = lr * param_group.get("lr_scale", 1.0)
    return lr
'''


@pytest.fixture
def mae(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "mae"\n')
    for rel, text in {"models/vit.py": VIT, "util/lr_sched.py": LR_SCHED}.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(textwrap.dedent(text))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _sl107(result):
    return sorted(
        (f["path"], f["line"], f["message"].split("`")[1])
        for f in json.loads(result.stdout)
        if f["code"] == "SL107"
    )


EXPECTED = [("models/vit.py", 7, "lr_mult")]  # lr_scale is read in util/lr_sched.py


@pytest.mark.parametrize(
    "args",
    [
        (".",),  # the whole tree: the reference
        ("models/",),  # a subfolder: lr_scale looked unread (the false positive)
        ("models/vit.py",),  # named files (pre-commit): SL107 never ran
        ("models/vit.py", "util/lr_sched.py"),
    ],
)
def test_named_parts_of_a_project_report_what_the_whole_tree_does(mae, run_cli, args):
    result = run_cli("--no-cache", "--output-format", "json", "--select", "SL107", *args)
    assert _sl107(result) == EXPECTED


def test_stdin_filename_reads_the_rest_of_its_project(mae, run_cli):
    result = run_cli(
        "--no-cache",
        "--output-format",
        "json",
        "--select",
        "SL107",
        "--stdin-filename",
        "models/vit.py",
        input=VIT,
    )
    assert _sl107(result) == EXPECTED


def test_files_of_the_rest_of_the_project_are_not_reported(mae, run_cli):
    (mae / "util" / "old_groups.py").write_text(
        'import torch\nopt = torch.optim.SGD([{"params": p, "lr_ratio": 2.0}], lr=0.1)\n'
    )
    result = run_cli("--no-cache", "--output-format", "json", "--select", "SL107", "models/")
    assert _sl107(result) == EXPECTED
    whole = run_cli("--no-cache", "--output-format", "json", "--select", "SL107", ".")
    assert _sl107(whole) == EXPECTED + [("util/old_groups.py", 2, "lr_ratio")]


def test_a_timm_scheduler_elsewhere_in_the_project_applies_lr_scale(mae, run_cli):
    (mae / "util" / "lr_sched.py").write_text("import timm\n")  # an import alone applies nothing
    args = ("--no-cache", "--output-format", "json", "--select", "SL107", "models/vit.py")
    both = [("models/vit.py", 7, "lr_mult"), ("models/vit.py", 9, "lr_scale")]
    assert _sl107(run_cli(*args)) == both
    (mae / "engine.py").write_text(
        "from timm.scheduler import CosineLRScheduler\n\n\n"
        "def build(opt, epochs):\n    return CosineLRScheduler(opt, t_initial=epochs)\n"
    )
    assert _sl107(run_cli(*args)) == EXPECTED
    assert _sl107(run_cli(*args[:-1], ".")) == EXPECTED
