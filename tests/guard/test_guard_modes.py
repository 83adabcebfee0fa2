"""The three modes of use without code change: `schedlint run`, SCHEDLINT_GUARD=1 with
`import schedlint.auto` / `schedlint.install()`, and `pytest --schedlint-guard`."""

import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from guard_helpers import run_python  # noqa: E402

import schedlint  # noqa: E402
from schedlint.guard.runner import run_script  # noqa: E402

TRAIN = textwrap.dedent("""
    import sys
    import torch
    from torch.optim.lr_scheduler import StepLR

    def main(epochs, bug):
        model = torch.nn.Linear(4, 2)
        opt = torch.optim.SGD([{"params": [model.weight], "name": "weight"},
                               {"params": [model.bias], "lr": 0.01, "name": "bias"}], lr=0.1)
        sched = StepLR(opt, step_size=2, gamma=0.5)
        for epoch in range(epochs):
            for batch in range(3):
                opt.zero_grad()
                model(torch.ones(2, 4)).sum().backward()
                opt.step()
            if bug == "manual" and epoch == 1:
                opt.param_groups[1]["lr"] = 0.5
            if bug != "never":
                sched.step()
        print("trained", epochs, "epochs")

    if __name__ == "__main__":
        main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "none")
""")


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "train.py"
    path.write_text(TRAIN)
    return path


def test_run_a_correct_script(script, capsys):
    assert run_script(str(script), ["3"]) == 0
    out, err = capsys.readouterr()
    assert "trained 3 epochs" in out
    assert "schedlint guard: 1 optimizer guarded, no violations" in err
    assert "SGD: 2 param groups ('weight', 'bias'), 9 optimizer steps" in err
    assert "StepLR (3 steps)" in err


def test_run_stops_a_buggy_script_at_the_violation_and_exits_1(script, capsys):
    assert run_script(str(script), ["3", "manual"]) == 1
    out, err = capsys.readouterr()
    assert "trained" not in out  # raise mode: the run stopped at the bad update
    assert "ScheduleViolation: SLG102 lr-written-outside-scheduler: group 1 'bias'" in err
    assert "1 violation (SLG102 x1)" in err


def test_run_reports_a_scheduler_that_was_never_stepped(script, capsys):
    assert run_script(str(script), ["2", "never"]) == 1
    _, err = capsys.readouterr()
    assert "SLG107 scheduler-never-stepped" in err and "stepped 6 times" in err


def test_run_in_warn_mode_finishes_and_keeps_the_scripts_status(script, capsys):
    with pytest.warns(schedlint.ScheduleWarning):
        assert run_script(str(script), ["3", "manual"], on_violation="warn") == 0
    out, err = capsys.readouterr()
    assert "trained 3 epochs" in out and "SLG102 x1" in err


def test_run_passes_the_scripts_own_exit_status_and_restores_argv(tmp_path, capsys):
    path = tmp_path / "exits.py"
    path.write_text("import sys\nprint(sys.argv)\nsys.exit(3)\n")
    argv = list(sys.argv)
    assert run_script(str(path), ["a", "--b"]) == 3
    assert sys.argv == argv
    assert f"['{path}', 'a', '--b']" in capsys.readouterr().out
    assert run_script(str(tmp_path / "missing.py"), []) == 2


def test_the_cli_runs_scripts(script):
    # The full path a user takes: console entry, click, runner, a fresh process.
    proc = run_python(
        "import sys; from schedlint.cli import main; main()", "run", str(script), "3", "manual"
    )
    assert proc.returncode == 1, proc.stderr
    assert (
        "SLG102" in proc.stderr
        and "schedlint guard: 1 optimizer guarded, 1 violation" in proc.stderr
    )


def test_schedlint_guard_env_with_import_schedlint_auto(script, tmp_path):
    program = tmp_path / "prog.py"
    program.write_text("import schedlint.auto\n" + TRAIN)
    code = f"import runpy, sys; sys.argv = ['prog', '3', 'manual']; runpy.run_path({str(program)!r}, run_name='__main__')"
    # Without the variable nothing happens (and torch is not even imported: test_guard_api).
    on = run_python(code, env={"SCHEDLINT_GUARD": "1"})
    assert on.returncode == 1 and "ScheduleViolation: SLG102" in on.stderr
    warn = run_python(code, env={"SCHEDLINT_GUARD": "1", "SCHEDLINT_ON_VIOLATION": "warn"})
    assert warn.returncode == 0 and "ScheduleWarning: SLG102" in warn.stderr
    # The report printed at exit.
    assert "schedlint guard: 1 optimizer guarded, 1 violation (SLG102 x1)" in warn.stderr


def test_install_follows_the_environment(monkeypatch):
    monkeypatch.delenv("SCHEDLINT_GUARD", raising=False)
    assert schedlint.install() is None
    monkeypatch.setenv("SCHEDLINT_GUARD", "1")
    session = schedlint.install(report_at_exit=False)
    try:
        assert session is not None and schedlint.install() is session
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.StepLR(opt, 2)
        sched.step()  # adopted at construction: stepping first is caught
    except schedlint.ScheduleViolation as exc:
        assert exc.violation.code == "SLG103"
    else:
        pytest.fail("no violation")
    finally:
        report = schedlint.guard.uninstall()
    assert report.total == 1


PLUGIN_TESTS = textwrap.dedent("""
    import sys

    def test_no_torch_needed():
        # The plugin is loaded in every pytest run; without the option it imports nothing heavy.
        if "--schedlint-guard" not in sys.argv:
            assert "torch" not in sys.modules

    def _setup():
        import torch
        model = torch.nn.Linear(2, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        return model, opt, torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)

    def test_good():
        model, opt, sched = _setup()
        for _ in range(3):
            model(__import__("torch").ones(1, 2)).sum().backward()
            opt.step()
            sched.step()

    def test_manual_write():
        model, opt, sched = _setup()
        opt.step()
        sched.step()
        opt.param_groups[0]["lr"] = 1.0
        opt.step()

    def test_forgot_the_scheduler():
        model, opt, sched = _setup()
        for _ in range(2):
            opt.step()
""")


def _plugin_installed() -> bool:
    from importlib.metadata import entry_points

    return any(
        ep.value == "schedlint.integrations.pytest_plugin" for ep in entry_points(group="pytest11")
    )


def test_pytest_plugin(tmp_path):
    (tmp_path / "test_training.py").write_text(PLUGIN_TESTS)
    base = "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    # Installed: exercise the real pytest11 entry point; from a source tree: load it by name.
    load = [] if _plugin_installed() else ["-p", "schedlint.integrations.pytest_plugin"]
    common = [*load, "-q", "-p", "no:cacheprovider", str(tmp_path)]
    off = run_python(base, *common, "-k", "no_torch_needed", cwd=str(tmp_path))
    assert off.returncode == 0, off.stdout + off.stderr
    assert "1 passed" in off.stdout
    on = run_python(base, "--schedlint-guard", *common, cwd=str(tmp_path))
    assert on.returncode == 1, on.stdout + on.stderr
    assert "2 failed, 2 passed" in on.stdout
    assert "FAILED test_training.py::test_manual_write" in on.stdout
    assert "ScheduleViolation: SLG102 lr-written-outside-scheduler: group 0" in on.stdout
    assert (
        "FAILED test_training.py::test_forgot_the_scheduler" in on.stdout and "SLG107" in on.stdout
    )
    assert "schedlint guard" in on.stdout
    ignored = run_python(
        base, "--schedlint-guard", "--schedlint-guard-ignore=SLG107", *common, cwd=str(tmp_path)
    )
    assert "1 failed, 3 passed" in ignored.stdout, ignored.stdout


REPEATING_TESTS = textwrap.dedent("""
    import torch

    def test_scheduler_arithmetic_without_training():
        opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5)
        for _ in range(40):
            sched.step()  # SLG103 at every call: no optimizer.step() at all

    def test_manual_write():
        opt = torch.optim.SGD(torch.nn.Linear(2, 2).parameters(), lr=0.1)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=0.9)
        opt.step()
        sched.step()
        opt.param_groups[0]["lr"] = 1.0
        opt.step()
""")


def test_pytest_plugin_warn_mode_lists_a_repeated_violation_once_with_its_count(tmp_path):
    (tmp_path / "test_schedules.py").write_text(REPEATING_TESTS)
    base = "import sys, pytest; sys.exit(pytest.main(sys.argv[1:]))"
    load = [] if _plugin_installed() else ["-p", "schedlint.integrations.pytest_plugin"]
    proc = run_python(
        base,
        "--schedlint-guard=warn",
        *load,
        "-q",
        "-p",
        "no:cacheprovider",
        "-W",
        "ignore::UserWarning",
        str(tmp_path),
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("schedlint guard")[-1]
    lines = [
        line
        for line in summary.splitlines()
        if "test_scheduler_arithmetic_without_training" in line
    ]
    assert len(lines) == 1, summary  # not 40 lines
    assert "SLG103" in lines[0] and "[40 times]" in lines[0]
    assert (
        sum("test_manual_write" in line and "SLG102" in line for line in summary.splitlines()) == 1
    )
    assert "41 violations (SLG102 x1, SLG103 x40)" in summary  # every occurrence still counted


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)` before:UserWarning")
def test_a_repeated_violation_does_not_crowd_later_ones_out_of_the_report():
    from schedlint.guard.core import MAX_KEPT

    model = torch.nn.Linear(2, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1000)
    with schedlint.guard(opt, sched, on_violation="log") as guard:
        for _ in range(MAX_KEPT + 10):
            sched.step()  # scheduler arithmetic without training: SLG103 every time
        opt.param_groups[0]["lr"] = 1.0
        opt.step()
    text = str(guard.report())
    assert (
        text.count("SLG103 scheduler-step-out-of-order:") == 1
        and f"[{MAX_KEPT + 10} times]" in text
    )
    assert "SLG102 lr-written-outside-scheduler: group 0" in text


def test_run_without_torch_says_how_to_install_it_from_what_exists(tmp_path, monkeypatch):
    """schedlint is not on PyPI: the hint named `pip install 'schedlint[guard]'`, which
    fails or installs someone else's package (a new user's venv without torch)."""
    import io

    script = tmp_path / "train.py"
    script.write_text("print('hi')\n")
    monkeypatch.setitem(sys.modules, "torch", None)
    out = io.StringIO()
    assert run_script(str(script), [], out=out) == 2
    message = out.getvalue()
    assert "pip install torch" in message
    assert "schedlint[" not in message
