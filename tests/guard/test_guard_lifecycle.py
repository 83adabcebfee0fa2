"""Lifecycle checks of guard v2 (issue 14, item 5) that span more than one object: a checkpoint
that keeps the optimizer's state but drops its scheduler's (SLG114), and a scheduler that keeps
stepping an optimizer that was replaced (SLG115). Each has runs that must be caught, with the
object and the line, and the real-world variants that must stay silent."""

import io

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import line_of  # noqa: E402
from guard_schedulers import linear_two_groups, ones_step  # noqa: E402
from torch.optim import lr_scheduler as S  # noqa: E402

_model_opt = linear_two_groups
_step = ones_step


def _codes(session, code):
    return [v for v in session.seen if v.code == code]


# --- SLG114: a checkpoint without the scheduler's state ---------------------------------------


def test_checkpoint_with_optimizer_but_without_scheduler_state_is_reported(auto, tmp_path):
    model, opt = _model_opt()
    sched = S.StepLR(opt, step_size=2)
    for epoch in range(3):
        _step(model, opt)
        sched.step()
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch}
        torch.save(state, tmp_path / f"ckpt{epoch}.pt")  # the save line
    save_line = line_of(__file__, "# the save line")
    auto.close_guards()
    found = _codes(auto, "SLG114")
    assert len(found) == 1, found  # once per optimizer, not per checkpoint
    (v,) = found
    assert v.optimizer == "SGD" and v.scheduler == "StepLR"
    assert f"test_guard_lifecycle.py:{save_line}" in v.cause
    assert "StepLR" in v.cause and "state_dict" in v.cause


def test_sequential_checkpoint_without_its_state_does_not_suggest_last_epoch(auto, tmp_path):
    # pytorch#162591: SequentialLR(..., last_epoch=N) resets the groups to initial_lr and
    # restarts its first child, so the advice must not offer last_epoch as a way to resume
    model, opt = _model_opt()
    sched = S.SequentialLR(
        opt,
        [S.LinearLR(opt, 0.1, total_iters=2), S.CosineAnnealingLR(opt, T_max=4)],
        milestones=[2],
    )
    for epoch in range(3):
        _step(model, opt)
        sched.step()
        torch.save({"optimizer": opt.state_dict(), "epoch": epoch}, tmp_path / "last.pt")
    auto.close_guards()
    (v,) = _codes(auto, "SLG114")
    assert "SequentialLR" in v.cause
    assert "unless the resume code rebuilds the scheduler with last_epoch" not in v.cause
    assert "last_epoch does not resume it" in v.cause


def test_the_usual_checkpoint_with_the_scheduler_state_is_silent(auto, tmp_path):
    model, opt = _model_opt()
    sched = S.CosineAnnealingLR(opt, T_max=3)
    for epoch in range(3):
        _step(model, opt)
        sched.step()
        torch.save(
            {
                "model": model.state_dict(),
                "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(),
                "epoch": epoch,
            },
            tmp_path / "last.pt",
        )
    auto.close_guards()
    assert _codes(auto, "SLG114") == []


def test_lightning_style_lists_of_states_are_silent(auto):
    model, opt = _model_opt()
    sched = S.SequentialLR(
        opt, [S.LinearLR(opt, 0.1, total_iters=2), S.ExponentialLR(opt, 0.9)], milestones=[2]
    )
    _step(model, opt)
    sched.step()
    buf = io.BytesIO()
    torch.save(
        {
            "state_dict": model.state_dict(),
            "optimizer_states": [opt.state_dict()],
            "lr_schedulers": [sched.state_dict()],
        },
        buf,
    )
    auto.close_guards()
    assert _codes(auto, "SLG114") == []


@pytest.mark.parametrize("scheduler_first", [False, True])
def test_separate_files_in_the_same_directory_and_step_are_silent(auto, tmp_path, scheduler_first):
    """Hugging Face's Trainer: optimizer.pt and scheduler.pt, two torch.save calls."""
    model, opt = _model_opt()
    sched = S.LambdaLR(opt, lambda s: 0.5**s)
    for step in range(4):
        _step(model, opt)
        sched.step()
        if step % 2:
            out = tmp_path / f"checkpoint-{step}"
            out.mkdir()
            saves = [
                (opt.state_dict(), out / "optimizer.pt"),
                (sched.state_dict(), out / "scheduler.pt"),
            ]
            for obj, path in saves[::-1] if scheduler_first else saves:
                torch.save(obj, str(path))
    auto.close_guards()
    assert _codes(auto, "SLG114") == []


def test_scheduler_state_saved_elsewhere_or_at_another_step_does_not_count(auto, tmp_path):
    model, opt = _model_opt()
    sched = S.ExponentialLR(opt, 0.9)
    _step(model, opt)
    sched.step()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    torch.save(opt.state_dict(), tmp_path / "a" / "optimizer.pt")
    torch.save(sched.state_dict(), tmp_path / "b" / "scheduler.pt")
    _step(model, opt)  # the step after the save settles it
    found = _codes(auto, "SLG114")
    assert len(found) == 1, found


def test_optimizer_without_scheduler_and_model_only_saves_are_silent(auto, tmp_path):
    model, opt = _model_opt()
    _step(model, opt)
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, tmp_path / "a.pt")
    model2, opt2 = _model_opt()
    sched2 = S.StepLR(opt2, step_size=2)
    _step(model2, opt2)
    sched2.step()
    torch.save(model2.state_dict(), tmp_path / "weights.pt")
    auto.close_guards()
    assert _codes(auto, "SLG114") == []


def test_save_hook_never_changes_what_is_saved(auto):
    model, opt = _model_opt()
    sched = S.StepLR(opt, step_size=2)
    _step(model, opt)
    sched.step()
    obj = {"optimizer": opt.state_dict(), "extra": [1, 2.5, "x"]}
    guarded = io.BytesIO()
    torch.save(obj, guarded)
    auto.finish(end_checks=False)
    plain = io.BytesIO()
    torch.save(obj, plain)
    assert guarded.getvalue() == plain.getvalue()
    assert torch.save is torch.serialization.save  # the hook is gone with the session


# --- SLG115: an optimizer replaced while a scheduler still steps the old one -------------------


def test_scheduler_still_stepping_a_replaced_optimizer_is_reported(auto):
    model, opt = _model_opt()
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        _step(model, opt)
        sched.step()
    # "reset the optimizer" (a new phase, a bug fix gone wrong): same parameters, new object
    opt = torch.optim.SGD(model.parameters(), lr=0.1)  # the new optimizer's line
    new_line = line_of(__file__, "# the new optimizer's line")
    for _ in range(3):
        _step(model, opt)
        sched.step()
    found = _codes(auto, "SLG115")
    assert len(found) == 1, found
    (v,) = found
    assert v.scheduler == "StepLR" and v.optimizer == "SGD"
    assert f"test_guard_lifecycle.py:{new_line}" in v.cause
    assert opt.param_groups[0]["lr"] == 0.1  # the LR of the optimizer that trains never moved


def test_a_new_optimizer_with_its_own_scheduler_is_silent(auto):
    model, opt = _model_opt()
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(2):
        _step(model, opt)
        sched.step()
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    sched = S.CosineAnnealingLR(opt, T_max=3)
    for _ in range(3):
        _step(model, opt)
        sched.step()
    auto.close_guards()
    assert _codes(auto, "SLG115") == []


def test_two_optimizers_on_disjoint_parameters_are_silent(auto):
    """A GAN: each optimizer has its own scheduler; the discriminator steps more often."""
    gen, opt_g = _model_opt()
    disc, opt_d = _model_opt()
    sched_g = S.ExponentialLR(opt_g, 0.9)
    sched_d = S.ExponentialLR(opt_d, 0.9)
    for _ in range(3):
        for _ in range(2):
            _step(disc, opt_d)
        sched_d.step()
        _step(gen, opt_g)
        sched_g.step()
    auto.close_guards()
    assert _codes(auto, "SLG115") == []


class _Odd(dict):
    """A checkpoint container that fails when walked the way the guard walks it."""

    def values(self):
        raise RuntimeError("no values() here")


def test_a_checkpoint_the_guard_cannot_walk_is_saved_all_the_same(auto):
    model, opt = _model_opt()
    sched = S.StepLR(opt, step_size=2)
    _step(model, opt)
    sched.step()
    buf = io.BytesIO()
    torch.save(_Odd(optimizer=opt.state_dict()), buf)
    buf.seek(0)
    assert set(torch.load(buf, weights_only=False)) == {"optimizer"}
