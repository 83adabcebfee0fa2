"""The command line, in-process through click's runner (issue 2, "Command line").

Every test runs in its own temporary project (an empty ``[tool.schedlint]`` table stops the
upward config search there, and the result cache lands there too). Inputs are small files
written here, so the expectations below do not move when other rules are added: where exact
findings matter the run selects SL0 (the built-in codes) and SL101.
"""

import dataclasses
import os
import re
import sys
from pathlib import Path

import pytest

from schedlint import __version__

# SL101: one scalar lr written to every group of an optimizer whose groups differ.
OPTIMIZER = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
"""
WRITE = 'for g in optimizer.param_groups:\n    g["lr"] = 0.5\n'
BAD = OPTIMIZER + WRITE  # SL101 at 10:5
BAD_TWICE = OPTIMIZER + WRITE + "x = 1\n" + WRITE  # SL101 at 10:5 and 13:5
GOOD = OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = g["lr"] * 0.5\n'
# A syntax error in a file that mentions an optimizer: CPython reports line 2, column 22.
BROKEN = "import torch\nopt = torch.optim.SGD(\n"
STABLE = ("--select", "SL0,SL101")
TEXT_LINE = re.compile(
    r"^(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>[A-Z]+\d+) (?P<msg>.+)$"
)
HELP_LINE = re.compile(r"^  help: \S.*$")


@pytest.fixture(autouse=True)
def project(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.schedlint]\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def parse_text(stdout):
    rows = []
    for line in stdout.splitlines():
        if rows and HELP_LINE.match(line):
            continue  # the help of the finding on the line above
        m = TEXT_LINE.match(line)
        assert m, f"not a `path:line:col: CODE message` line: {line!r}"
        rows.append((m["path"], int(m["line"]), int(m["col"]), m["code"]))
    return rows


def no_traceback(result):
    assert "Traceback" not in result.stdout + result.stderr


def test_bare_paths_are_the_check_subcommand(run_cli, project):
    write(project / "bad.py", BAD)
    bare = run_cli(*STABLE, "bad.py")
    sub = run_cli("check", *STABLE, "bad.py")
    assert bare.exit_code == sub.exit_code == 1
    assert bare.stdout == sub.stdout
    assert parse_text(bare.stdout) == [("bad.py", 10, 5, "SL101")]


def test_no_path_checks_the_current_directory(run_cli, project):
    write(project / "bad.py", BAD)
    write(project / "pkg" / "deep.py", BAD)
    result = run_cli()
    assert result.exit_code == 1
    got = {(p, c) for p, _, _, c in parse_text(result.stdout)}
    assert {("bad.py", "SL101"), ("pkg/deep.py", "SL101")} <= got
    assert run_cli(".").stdout == result.stdout


def test_exit_status_clean_findings_and_usage(run_cli, project):
    write(project / "good.py", GOOD)
    write(project / "bad.py", BAD)
    clean = run_cli(*STABLE, "good.py")
    assert (clean.exit_code, clean.stdout) == (0, "")
    assert clean.stderr.splitlines()[0] == "All checks passed!"
    assert run_cli(*STABLE, "bad.py").exit_code == 1
    for args in (
        ["--no-such-option", "bad.py"],
        ["--output-format", "xml", "bad.py"],
        ["--jobs", "-1", "bad.py"],
        ["--select", "XX9", "bad.py"],
    ):
        usage = run_cli(*args)
        assert usage.exit_code == 2, args
        assert usage.stdout == ""
        no_traceback(usage)
    assert "XX9" in run_cli("--select", "XX9", "bad.py").stderr


def test_exit_zero_still_prints_findings(run_cli, project):
    write(project / "bad.py", BAD)
    result = run_cli(*STABLE, "--exit-zero", "bad.py")
    assert result.exit_code == 0
    assert parse_text(result.stdout) == [("bad.py", 10, 5, "SL101")]


def test_text_lines_then_summary_on_stderr(run_cli, project):
    write(project / "a.py", BAD_TWICE)
    write(project / "b.py", BAD)
    result = run_cli(*STABLE, "a.py", "b.py")
    assert result.exit_code == 1
    assert parse_text(result.stdout) == [
        ("a.py", 10, 5, "SL101"),
        ("a.py", 13, 5, "SL101"),
        ("b.py", 10, 5, "SL101"),
    ]
    assert "one scalar lr `0.5`" in result.stdout
    assert result.stderr.splitlines()[0] == "Found 3 problems in 2 files."
    single = run_cli(*STABLE, "b.py")
    assert single.stderr.splitlines()[0] == "Found 1 problem in 1 file."
    quiet = run_cli(*STABLE, "--quiet", "a.py", "b.py")
    assert quiet.stdout == result.stdout
    assert quiet.stderr == ""


def test_machine_formats_print_no_summary(run_cli, project):
    write(project / "bad.py", BAD)
    for fmt in ("json", "sarif", "github"):
        result = run_cli(*STABLE, "--output-format", fmt, "bad.py")
        assert result.exit_code == 1
        assert result.stderr == "", fmt
        assert "SL101" in result.stdout


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--select", "SL101"], {"SL101"}),
        (["--select", "SL0"], {"SL001"}),
        (["--select", "SL00"], {"SL001"}),
        (["--select", "SL001,SL101"], {"SL001", "SL101"}),
        (["--select", "SL001", "--select", "SL101"], {"SL001", "SL101"}),
        (["--select", "SL0", "--extend-select", "SL10"], {"SL001", "SL101"}),
        (["--select", "SL0,SL101", "--ignore", "SL00"], {"SL101"}),
        (["--select", "SL0,SL101", "--ignore", "SL1"], {"SL001"}),
        (["--select", "ALL", "--ignore", "SL1,SL2,SL3"], {"SL001"}),
        (["--select", "SL0,SL101", "--ignore", "SL001,SL101"], set()),
    ],
)
def test_select_ignore_extend_select_with_prefixes(run_cli, project, args, expected):
    write(project / "bad.py", BAD)
    write(project / "broken.py", BROKEN)
    result = run_cli(*args, "bad.py", "broken.py")
    assert {code for *_, code in parse_text(result.stdout)} == expected
    assert result.exit_code == (1 if expected else 0)


def test_default_selection_runs_every_rule_including_builtins(run_cli, project):
    write(project / "bad.py", BAD)
    write(project / "broken.py", BROKEN)
    rows = parse_text(run_cli("bad.py", "broken.py").stdout)
    assert ("bad.py", 10, 5, "SL101") in rows
    assert ("broken.py", 2, 22, "SL001") in rows


def test_statistics_counts_per_rule(run_cli, project):
    write(project / "a.py", BAD_TWICE)
    write(project / "b.py", BAD)
    write(project / "broken.py", BROKEN)
    result = run_cli(*STABLE, "--statistics", "a.py", "b.py", "broken.py")
    assert result.exit_code == 1
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(r[0].strip(), r[1]) for r in rows] == [("1", "SL001"), ("3", "SL101")]
    assert rows[0][2].endswith("syntax-error") and rows[1][2].endswith("scalar-lr-overwrite")
    assert result.stderr.splitlines()[0] == "Found 4 problems in 3 files."


def test_syntax_error_file_next_to_a_good_one(run_cli, project):
    write(project / "broken.py", BROKEN)
    write(project / "bad.py", BAD)
    write(project / "good.py", GOOD)
    result = run_cli(*STABLE, ".")
    no_traceback(result)
    assert result.exit_code == 1
    assert parse_text(result.stdout) == [("bad.py", 10, 5, "SL101"), ("broken.py", 2, 22, "SL001")]
    assert "syntax error" in result.stdout


def test_check_syntax_reports_files_without_optimizer_code(run_cli, project):
    write(project / "plain.py", "x = (\n")
    assert run_cli("plain.py").exit_code == 0  # skipped unparsed by the byte-level prefilter
    result = run_cli("--check-syntax", "plain.py")
    assert parse_text(result.stdout) == [("plain.py", 1, 5, "SL001")]


NEWER_GRAMMAR = """\
import torch


class Trainer[M: torch.nn.Module]:
    def __init__(self, model: M):
        self.optimizer = torch.optim.SGD(
            [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}]
        )

    def warmup(self, lr: float) -> None:
        print(f"warm-up to {f"{lr:.3g}"}")
        for group in self.optimizer.param_groups:
            group["lr"] = lr


type Batch = tuple[torch.Tensor, torch.Tensor]
"""


def test_code_for_a_newer_python_is_checked_not_a_syntax_error(run_cli, project):
    """Python 3.12's type parameters, ``type`` aliases and nested f-string quotes are syntax
    errors to a 3.11 compiler but valid code (lerobot): libcst's parse, the newest grammar,
    decides, and the file's rules run. A real syntax error next to them is still SL001."""
    write(project / "trainer.py", NEWER_GRAMMAR)
    write(
        project / "broken.py", "x = (1 2)\n\n\ndef first[T](xs: list[T]) -> T:\n    return xs[0]\n"
    )
    write(project / "plain.py", "def first[T](xs: list[T]) -> T:\n    return xs[0]\n")
    result = run_cli("--check-syntax", *STABLE, ".")
    no_traceback(result)
    assert parse_text(result.stdout) == [
        ("broken.py", 1, 6, "SL001"),
        ("trainer.py", 13, 13, "SL101"),
    ]


def test_undecodable_files_are_sl002_missing_ones_a_usage_error_others_still_checked(
    run_cli, project
):
    # Builds an optimizer, so the gate lets it through to decoding (a file it skips is
    # never decoded; see docs/performance.md).
    (project / "latin.py").write_bytes(
        b"import torch.optim\nname = '\xff\xfe'\nopt = torch.optim.SGD(p, lr=0.1)\n"
    )
    write(project / "bad.py", BAD)
    result = run_cli(*STABLE, "latin.py", "missing.py", "bad.py")
    no_traceback(result)
    # A named path that does not exist is a usage error; the others are still checked.
    assert result.exit_code == 2
    assert parse_text(result.stdout) == [
        ("bad.py", 10, 5, "SL101"),
        ("latin.py", 2, 1, "SL002"),
    ]
    assert "missing.py: No such file or directory" in result.stderr
    os.symlink("gone.py", project / "dangling.py")  # named, but unreadable: still SL002
    result = run_cli(*STABLE, "dangling.py")
    assert result.exit_code == 1
    assert parse_text(result.stdout) == [("dangling.py", 1, 1, "SL002")]


def test_unreadable_files_are_sl002(run_cli, project):
    import os

    write(project / "bad.py", BAD)
    os.symlink(project / "gone.py", project / "dangling.py")  # named, but cannot be opened
    locked = write(project / "locked.py", BAD)
    locked.chmod(0)
    try:
        result = run_cli(*STABLE, "--no-cache", "dangling.py", "locked.py", "bad.py")
        readable = os.access(locked, os.R_OK)  # root reads it anyway
    finally:
        locked.chmod(0o644)
    no_traceback(result)
    rows = parse_text(result.stdout)
    assert ("dangling.py", 1, 1, "SL002") in rows and ("bad.py", 10, 5, "SL101") in rows
    if not readable:
        assert ("locked.py", 1, 1, "SL002") in rows and "Permission denied" in result.stdout


def test_checked_code_is_never_imported_or_executed(run_cli, project):
    marker = project / "executed"
    payload = f"open({str(marker)!r}, 'w').close()\n"
    write(project / "evil.py", payload + BAD)
    write(project / "conftest.py", payload + "import torch.optim\n")
    write(project / "__init__.py", payload)
    result = run_cli(*STABLE, "--no-cache", "--jobs", "1", ".")
    assert result.exit_code == 1 and "evil.py:11:5: SL101" in result.stdout
    assert not marker.exists()


def test_stdin_mode_reports_the_stdin_filename(run_cli, project):
    result = run_cli(*STABLE, "-", "--stdin-filename", "pkg/train.py", input=BAD)
    assert result.exit_code == 1
    assert parse_text(result.stdout) == [("pkg/train.py", 10, 5, "SL101")]
    anonymous = run_cli(*STABLE, "-", input=BAD)
    assert parse_text(anonymous.stdout) == [("-", 10, 5, "SL101")]
    clean = run_cli(*STABLE, "-", "--stdin-filename", "t.py", input=GOOD)
    assert (clean.exit_code, clean.stdout) == (0, "")
    suppressed = run_cli(
        *STABLE,
        "-",
        "--stdin-filename",
        "t.py",
        input=BAD.replace("= 0.5\n", "= 0.5  # noqa: SL101\n"),
    )
    assert (suppressed.exit_code, suppressed.stdout) == (0, "")


def test_stdin_filename_without_a_dash_reads_stdin(run_cli, project):
    # Editors pass only --stdin-filename (as to ruff); the whole cwd must not be checked.
    write(project / "elsewhere.py", BAD)
    result = run_cli(*STABLE, "--stdin-filename", "pkg/train.py", input=BAD)
    assert result.exit_code == 1
    assert parse_text(result.stdout) == [("pkg/train.py", 10, 5, "SL101")]
    clean = run_cli(*STABLE, "--stdin-filename", "t.py", input=GOOD)
    assert clean.exit_code == 0 and clean.stdout == ""


def test_stdin_syntax_error_is_always_reported(run_cli, project):
    result = run_cli("-", "--stdin-filename", "x.py", input="def f(:\n    pass\n")
    assert result.exit_code == 1
    assert [(p, line, c) for p, line, _, c in parse_text(result.stdout)] == [("x.py", 1, "SL001")]


def test_stdin_together_with_files(run_cli, project):
    write(project / "bad.py", BAD)
    result = run_cli(*STABLE, "bad.py", "-", "--stdin-filename", "a_stdin.py", input=BAD)
    assert parse_text(result.stdout) == [("a_stdin.py", 10, 5, "SL101"), ("bad.py", 10, 5, "SL101")]


def test_stdin_filename_finds_config_and_per_file_ignores(run_cli, project):
    write(
        project / "pkg" / "pyproject.toml",
        '[tool.schedlint]\nper-file-ignores = { "legacy_*.py" = ["SL101"] }\n',
    )
    ignored = run_cli("-", "--stdin-filename", "pkg/legacy_train.py", input=BAD)
    assert (ignored.exit_code, ignored.stdout) == (0, "")
    kept = run_cli(*STABLE, "-", "--stdin-filename", "pkg/train.py", input=BAD)
    assert parse_text(kept.stdout) == [("pkg/train.py", 10, 5, "SL101")]


def test_version(run_cli):
    result = run_cli("--version")
    assert result.exit_code == 0
    assert __version__ in result.stdout and "schedlint" in result.stdout


def test_help_lists_every_documented_option(run_cli):
    result = run_cli("check", "--help")
    assert result.exit_code == 0
    for option in (
        "--select",
        "--ignore",
        "--extend-select",
        "--output-format",
        "--statistics",
        "--exit-zero",
        "--config",
        "--isolated",
        "--jobs",
        "--quiet",
        "--stdin-filename",
        "--force-exclude",
        "--no-cache",
    ):
        assert option in result.stdout, option
    top = run_cli("--help")
    assert top.exit_code == 0 and "rule" in top.stdout and "check" in top.stdout


def test_rule_explains_from_metadata(run_cli):
    from schedlint.rules import by_code

    rule = by_code()["SL101"]
    result = run_cli("rule", "SL101")
    assert result.exit_code == 0
    assert result.stdout == rule.markdown()
    for section in ("What it does", "Why is this bad?", "Example", "Use instead"):
        assert f"## {section}" in result.stdout
        assert rule.docs[section] in result.stdout
    assert "Severity: error." in result.stdout and "Fix: " in result.stdout  # is there a fix
    assert run_cli("rule", "sl101").stdout == result.stdout


def test_rule_errors_are_usage_errors(run_cli):
    unknown = run_cli("rule", "SL999")
    assert unknown.exit_code == 2 and "SL999" in unknown.stderr
    missing = run_cli("rule")
    assert missing.exit_code == 2 and "--all" in missing.stderr
    no_traceback(unknown)


def test_internal_error_in_a_rule_is_sl003_and_exit_2(run_cli, project, monkeypatch):
    import schedlint.check.pipeline as pipeline
    from schedlint.rules import by_code, checkable_rules

    def explode(model):
        raise ZeroDivisionError("boom")
        yield  # pragma: no cover

    # A rule that raises, under a selected code, ahead of the real rules.
    broken = dataclasses.replace(
        by_code()["SL002"], name="exploding-rule", check=explode, kind="static", scope="file"
    )
    monkeypatch.setattr(pipeline, "checkable_rules", lambda: (broken, *checkable_rules()))
    write(project / "bad.py", BAD)
    write(project / "good.py", GOOD)
    result = run_cli(*STABLE, "--no-cache", "bad.py", "good.py")
    no_traceback(result)
    assert result.exit_code == 2
    rows = parse_text(result.stdout)
    assert ("bad.py", 10, 5, "SL101") in rows  # the other rules' findings are kept
    sl003 = [line for line in result.stdout.splitlines() if " SL003 " in line]
    assert len(sl003) == 2  # one per checked file, each names the rule and the exception
    assert all(
        "SL002" in line and "exploding-rule" in line and "ZeroDivisionError" in line
        for line in sl003
    )
    # --ignore SL003 hides the report (and then nothing says internal error: exit 1).
    hidden = run_cli(
        "--select", "SL0,SL101", "--ignore", "SL003", "--no-cache", "bad.py", "good.py"
    )
    assert " SL003 " not in hidden.stdout


def test_console_entry_never_shows_a_traceback(project, monkeypatch, capsys):
    import schedlint.report.formats as output
    from schedlint.cli import main

    write(project / "bad.py", BAD)

    def broken(*args, **kwargs):
        raise RuntimeError("formatter bug")

    monkeypatch.setattr(output, "format_findings", broken)
    monkeypatch.setattr(sys, "argv", ["schedlint", "--no-cache", "bad.py"])
    monkeypatch.delenv("SCHEDLINT_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: formatter bug" in err
    assert "Traceback" not in err


# -- full / concise, colour, --show-fixes (issue 16) ------------------------------------------
def test_full_format_through_the_cli(run_cli, project):
    write(project / "bad.py", BAD)
    result = run_cli(*STABLE, "--output-format", "full", "bad.py")
    lines = result.stdout.splitlines()
    assert result.exit_code == 1 and "\x1b[" not in result.stdout  # not a terminal: no colour
    assert lines[0].startswith("bad.py:10:5: SL101 ")
    assert lines[1:4] == ["   |", '10 |     g["lr"] = 0.5', "   |     ^^^^^^^^^^^^^"]
    assert lines[4].startswith("  help: ")


def test_show_fixes_with_fix_lists_what_was_fixed(run_cli, project):
    write(
        project / "t.py",
        OPTIMIZER + "s = torch.optim.lr_scheduler.StepLR(optimizer, 2)\nprint(s.get_lr())\n",
    )
    result = run_cli("--fix", "--show-fixes", "--select", "SL206", "t.py")
    assert result.exit_code == 0, result.output
    assert "Fixed 1 problem:\n- t.py:\n    1 x SL206 (get-lr-outside-scheduler)\n" in result.stderr


def _on_a_terminal(project, *args, env=None):
    """Run the console script with stdout on a pseudo-terminal; returns what it printed."""
    pty = pytest.importorskip("pty")
    import subprocess

    exe = Path(sys.executable).with_name("schedlint")
    if not exe.exists():
        pytest.skip("the schedlint console script is not installed next to this python")
    leader, follower = pty.openpty()
    full_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    proc = subprocess.run(
        [str(exe), *args],
        cwd=project,
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**full_env, **(env or {})},
        timeout=120,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    return proc.returncode, b"".join(chunks).decode()


def test_a_terminal_gets_full_in_colour_unless_no_color(project):
    write(project / "bad.py", BAD)
    rc, out = _on_a_terminal(project, *STABLE, "--no-cache", "bad.py")
    assert rc == 1 and "\x1b[1;31mSL101\x1b[0m" in out and "^^^^" in out
    for args, env in ((("--no-color",), None), ((), {"NO_COLOR": "1"})):
        rc, out = _on_a_terminal(project, *STABLE, "--no-cache", *args, "bad.py", env=env)
        assert rc == 1 and "\x1b[" not in out and "^^^^" in out
