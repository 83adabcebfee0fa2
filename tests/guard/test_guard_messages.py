"""How a violation reads: one short sentence with the group, the step and the lrs, then the
explanation on its own ``help:`` line, shown once per code in the end summary. A write whose
line is unknown says how to find it (watch mode)."""

import warnings

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import run_python  # noqa: E402

import schedlint  # noqa: E402

# A new user's script (a trial run): two groups, a cosine schedule, and a warm-up helper that
# writes one lr into every group.
TRAIN_BAD = """\
import torch
from torch import nn

model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1))
optimizer = torch.optim.AdamW(
    [
        {"params": model[0].parameters(), "lr": 1e-4},
        {"params": model[2].parameters(), "lr": 1e-3},
    ]
)
scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=10)


def warmup(optimizer, step, warmup_steps=3, peak=1e-3):
    if step < warmup_steps:
        for group in optimizer.param_groups:
            group["lr"] = peak * (step + 1) / warmup_steps  # WRITE


x, y = torch.randn(16, 4), torch.randn(16, 1)
for step in range(10):
    warmup(optimizer, step)
    loss = nn.functional.mse_loss(model(x), y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    scheduler.step()
"""


def one_lr_for_every_group(opt, sched, steps=6, warmup_steps=3):
    for step in range(steps):
        if step < warmup_steps:
            for group in opt.param_groups:
                group["lr"] = 1e-3 * (step + 1) / warmup_steps
        opt.step()
        sched.step()


def two_groups():
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 1e-4},
            {"params": model[1].parameters(), "lr": 1e-3},
        ]
    )
    return opt, torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)


def test_the_message_is_one_short_sentence_and_the_explanation_a_help_line():
    opt, sched = two_groups()
    with schedlint.guard(opt, sched, on_violation="log") as guard:
        one_lr_for_every_group(opt, sched)
    v = guard.violations[0]
    assert v.code == "SLG102"
    assert v.summary == (
        "SLG102 lr-written-outside-scheduler: group 0, optimizer step 0, "
        "CosineAnnealingLR step 0: expected lr 0.0001, actual 0.000333333."
    )
    assert v.help.startswith(v.cause)
    assert v.message == f"{v.summary}\n  help: {v.help}"
    assert v.to_dict()["summary"] == v.summary and v.to_dict()["help"] == v.help


def test_an_unwatched_write_suggests_watch_mode_and_a_watched_one_names_its_line():
    opt, sched = two_groups()
    with schedlint.guard(opt, sched, on_violation="log") as guard:
        one_lr_for_every_group(opt, sched)
    writes = [v for v in guard.violations if v.code in ("SLG102", "SLG108")]
    assert writes and all("schedlint run --watch" in v.help for v in writes)

    opt, sched = two_groups()
    with schedlint.guard(opt, sched, on_violation="log", watch=True) as guard:
        one_lr_for_every_group(opt, sched)
    first = guard.violations[0]
    assert first.written_at and "--watch" not in first.help
    assert f"written at {first.written_at}." in first.summary


def test_the_warning_is_the_sentence_and_one_help_line():
    opt, sched = two_groups()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with schedlint.guard(opt, sched, on_violation="warn"):
            one_lr_for_every_group(opt, sched)
    (first, *_rest) = [w for w in caught if issubclass(w.category, schedlint.ScheduleWarning)]
    text = str(first.message)
    head, help_line = text.split("\n")
    assert head.endswith("actual 0.000333333 (also group 1, SLG108 on group 1).")
    assert help_line.startswith("  help: group['lr'] was changed before optimizer step 0")


def test_schedlint_run_prints_each_explanation_once_in_the_summary(tmp_path):
    script = tmp_path / "train_bad.py"
    script.write_text(TRAIN_BAD)
    proc = run_python(
        "import sys; from schedlint.cli import main; sys.exit(main())",
        "run",
        "--on-violation",
        "warn",
        str(script),
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stderr
    summary = out.split("schedlint guard:")[1]
    assert "7 violations (SLG102 x6, SLG108 x1)" in summary
    lines = summary.splitlines()
    entries = [line.strip() for line in lines if line.startswith("    SLG")]
    assert entries == [
        "SLG102 lr-written-outside-scheduler: group 0, optimizer step 0, CosineAnnealingLR step 0:"
        " expected lr 0.0001, actual 0.000333333 [3 times]",
        "SLG102 lr-written-outside-scheduler: group 1, optimizer step 0, CosineAnnealingLR step 0:"
        " expected lr 0.001, actual 0.000333333 [3 times]",
        "SLG108 group-ratio-changed: group 1, optimizer step 0, CosineAnnealingLR step 0:"
        " expected lr 0.001, actual 0.000333333.",
    ]
    helps = [line for line in lines if line.startswith("      help: ")]
    assert len(helps) == 2  # once for SLG102, once for SLG108
    # the live warning and the summary: each explanation twice in all, not three times
    assert out.count("was changed before optimizer step 0") == 2
    assert out.count("schedlint run --watch") == 3  # the warning's help and both summary helps


def test_a_warning_raised_under_a_training_librarys_loop_points_at_the_users_call():
    # Lightning steps the scheduler from its own ``lr_scheduler_step``: a warning located
    # there names a line the user cannot change, so it points at the user's call into the loop
    opt, sched = two_groups()
    loop = {"__name__": "lightning.pytorch.loops.fake_fit_loop"}
    exec(
        "def fit(opt, sched, steps):\n"
        "    for step in range(steps):\n"
        "        for g in opt.param_groups:\n"
        "            g['lr'] = 1e-3 * (step + 1) / steps\n"
        "        opt.step()\n"
        "        sched.step()\n",
        loop,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with schedlint.guard(opt, sched, on_violation="warn"):
            loop["fit"](opt, sched, 3)  # the user's call
    ours = [w for w in caught if issubclass(w.category, schedlint.ScheduleWarning)]
    assert ours and all(w.filename == __file__ for w in ours), [w.filename for w in ours]
    assert {w.lineno for w in ours} == {line_of_call()}


def line_of_call():
    with open(__file__) as f:
        return next(i for i, line in enumerate(f, 1) if line.rstrip().endswith("# the user's call"))
