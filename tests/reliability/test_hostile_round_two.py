"""Hostile input, round two (issue 15): symlink loops next to a configuration, FIFOs named on
the command line, odd line breaks, ``# noqa`` in strings, Ctrl-C, file names that are not
UTF-8, and a .gitignore above the walk root.

As in test_hostile_input.py, every run is a real ``schedlint`` process started from a small
fresh interpreter that records its peak RSS, each with its own time bound, next to the known-bad
sample whose findings must come out exactly as when it is checked alone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_hostile_input import (
    BAD_BYTES,
    NEIGHBOR,
    SMALL_RUN_BOUND,
    MiB,
    clean_env,
    neighbor_alone,
    run_bounded,
)

from schedlint.report.formats import FORMATS

assert neighbor_alone  # a fixture: imported so that pytest finds it here too

CONSOLE_SCRIPT = Path(sys.executable).with_name("schedlint")


class Result:
    def __init__(self, code, out: bytes, err: bytes, maxrss: int):
        self.returncode, self.out, self.err, self.maxrss = code, out, err, maxrss
        self.stdout = out.decode("utf-8")  # strict: any output must be valid UTF-8
        self.stderr = err.decode("utf-8", errors="replace")

    @property
    def rows(self):
        return json.loads(self.stdout)

    def of(self, path):
        return [r for r in self.rows if r["path"] == path]


def schedlint(
    cwd: Path, *args, fmt="json", isolated=True, cache=False, console=False, env=None, timeout=120
) -> Result:
    entry = [str(CONSOLE_SCRIPT)] if console else [sys.executable, "-m", "schedlint"]
    opts = (["--isolated"] if isolated else []) + ([] if cache else ["--no-cache"])
    cmd = [*entry, *opts, "--output-format", fmt, *args]
    return Result(*run_bounded(cmd, cwd, env=clean_env(**(env or {})), timeout=timeout))


def assert_sane(run: Result, exit_code=1):
    assert run.returncode == exit_code, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert run.maxrss < SMALL_RUN_BOUND, f"peak RSS {run.maxrss / MiB:.0f} MiB"


def same_findings(rows, neighbor_alone):
    strip = [{k: v for k, v in r.items() if k != "path"} for r in rows]
    return strip == [{k: v for k, v in r.items() if k != "path"} for r in neighbor_alone]


# --- 1. symlink loops next to a configuration -------------------------------------------------

LOOP_CONFIGS = {
    # a pattern with a slash goes through config.path_matches for every walked entry
    "extend-exclude": '[tool.schedlint]\nextend-exclude = ["docs/build", "fixtures"]\n',
    # per-file-ignores match every checked file, and every finding's path
    "per-file-ignores": "[tool.schedlint]\n[tool.schedlint.per-file-ignores]\n"
    '"src/neighbor_*.py" = ["SL2"]\n',
}
LOOP_TARGETS = {
    "walk": ["."],
    "loop named first": ["src/loop1.py", f"src/{NEIGHBOR}", "src/loop2.py"],
    "loop named first, force-exclude": ["--force-exclude", "src/loop1.py", f"src/{NEIGHBOR}"],
}


def _loop_tree(tmp_path: Path, config: str) -> Path:
    d = tmp_path / "proj"
    (d / "src").mkdir(parents=True)
    (d / "pyproject.toml").write_text(config)
    (d / "src" / NEIGHBOR).write_bytes(BAD_BYTES)
    (d / "src" / "loop1.py").symlink_to("loop2.py")
    (d / "src" / "loop2.py").symlink_to("loop1.py")
    return d


@pytest.mark.parametrize("config", sorted(LOOP_CONFIGS))
@pytest.mark.parametrize("target", sorted(LOOP_TARGETS))
def test_symlink_loop_next_to_a_config_is_sl002(tmp_path, neighbor_alone, config, target):
    d = _loop_tree(tmp_path, LOOP_CONFIGS[config])
    args = LOOP_TARGETS[target]
    run = schedlint(d, *args, isolated=False)
    assert_sane(run)
    assert same_findings(run.of(f"src/{NEIGHBOR}"), neighbor_alone)
    for name in ("src/loop1.py", "src/loop2.py"):
        if name not in args and target != "walk":
            continue
        rows = run.of(name)
        assert [r["code"] for r in rows] == ["SL002"], rows
        assert "symbolic links" in rows[0]["message"], rows


@pytest.mark.skipif(not CONSOLE_SCRIPT.exists(), reason="no installed console script")
@pytest.mark.parametrize("target", sorted(LOOP_TARGETS))
def test_symlink_loop_through_the_console_script_with_cache(tmp_path, neighbor_alone, target):
    """The console script with the results cache on, twice: the second run answers the
    neighbour from the cache, and the loop is still SL002 (never cached: SL002 is retried)."""
    d = _loop_tree(tmp_path, LOOP_CONFIGS["extend-exclude"])
    for _ in range(2):
        run = schedlint(d, *LOOP_TARGETS[target], isolated=False, cache=True, console=True)
        assert_sane(run)
        assert same_findings(run.of(f"src/{NEIGHBOR}"), neighbor_alone)
        assert [r["code"] for r in run.of("src/loop1.py")] == ["SL002"]


# --- 2. a FIFO named on the command line ----------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("name", ["pipe.py", "pipe.ipynb"])
@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("cache", [False, True], ids=["no-cache", "cache"])
def test_fifo_named_on_the_command_line_is_sl002(tmp_path, neighbor_alone, name, jobs, cache):
    """With the cache on, the file's bytes are read for their hash before anything else: that
    read must not wait for a writer either (one check, schedlint.check.documents.read_bytes)."""
    d = tmp_path / "fifo"
    d.mkdir()
    (d / NEIGHBOR).write_bytes(BAD_BYTES)
    os.mkfifo(d / name)  # open() for reading blocks until a writer comes: never
    # Enough other files for a pool with --jobs 2.
    others = [f"other_{i}.py" for i in range(30)]
    for other in others:
        (d / other).write_text("x = 1\n")
    run = schedlint(d, name, NEIGHBOR, *others, "--jobs", jobs, cache=cache, timeout=60)
    assert_sane(run)
    assert same_findings(run.of(NEIGHBOR), neighbor_alone)
    rows = run.of(name)
    assert [r["code"] for r in rows] == ["SL002"], rows
    assert "not a regular file" in rows[0]["message"], rows


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_fifo_in_the_full_output_format_is_not_read_again(tmp_path, neighbor_alone):
    """The full format prints each finding's source line, so it reads the files again: the
    FIFO's SL002 must not make that read wait for a writer either."""
    d = tmp_path / "fifo_full"
    d.mkdir()
    (d / NEIGHBOR).write_bytes(BAD_BYTES)
    os.mkfifo(d / "pipe.py")
    run = schedlint(d, "pipe.py", NEIGHBOR, fmt="full", timeout=60)
    assert_sane(run)
    assert "pipe.py:1:1: SL002 cannot read file: not a regular file" in run.stdout, run.stdout
    assert run.stdout.count(" SL101 ") == len(neighbor_alone), run.stdout


# --- 4. odd line breaks: line numbers as Python's tokenizer counts them -----------------------

# str.splitlines() breaks lines at all of these; Python's tokenizer (and libcst) only at
# \r\n, \r and \n.
ODD_BREAKS = ["\f", "\v", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
ODD_PREFIX = (
    "# odd characters, in comments: " + " ".join(ODD_BREAKS) + "\n"
    "NOTE = '" + "|".join(ODD_BREAKS) + "'  # and in a string\n"
    "\f\n"  # a form feed alone on a line, as in GNU-style sources
    "\fimport math  # after a form feed at the start of a line\n"
)


def _tokenizer_lines(text: str) -> list:
    """The text of each line as Python's tokenizer numbers them."""
    return re.split(r"\r\n|\r|\n", text)


def test_odd_line_breaks_keep_findings_on_tokenizer_lines(tmp_path, neighbor_alone):
    data = (ODD_PREFIX + BAD_BYTES.decode()).encode()
    shift = ODD_PREFIX.count("\n")
    d = tmp_path / "odd"
    d.mkdir()
    (d / "odd.py").write_bytes(data)
    run = schedlint(d, "odd.py")
    assert_sane(run)
    rows = run.of("odd.py")
    assert [(r["line"] - shift, r["code"]) for r in rows] == [
        (r["line"], r["code"]) for r in neighbor_alone
    ]
    lines = _tokenizer_lines(data.decode())
    original = BAD_BYTES.decode().splitlines()
    for got, want in zip(rows, neighbor_alone):
        assert lines[got["line"] - 1] == original[want["line"] - 1]


def test_odd_line_breaks_keep_the_full_formats_source_lines(tmp_path, neighbor_alone):
    """The full format prints the source line of each finding: the line the finding is on."""
    data = (ODD_PREFIX + BAD_BYTES.decode()).encode()
    d = tmp_path / "odd_full"
    d.mkdir()
    (d / "odd.py").write_bytes(data)
    run = schedlint(d, "odd.py", fmt="full")
    assert_sane(run)
    lines = _tokenizer_lines(data.decode())
    shown = re.findall(r"^(\d+) \| (.*)$", run.stdout, re.M)
    assert len(shown) == len(neighbor_alone), run.stdout
    for number, text in shown:
        assert text == lines[int(number) - 1].expandtabs(1), (number, text)


def _noqa_case(comment_char: str) -> str:
    return (
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "optimizer = torch.optim.SGD([{'params': model.weight, 'lr': 0.1},\n"
        "                             {'params': model.bias, 'lr': 0.01}])\n"
        f"# a comment with an odd line break{comment_char}inside it\n"
        "for g in optimizer.param_groups:\n"
        "    g['lr'] = 0.5  # noqa: SL101\n"
        "for g in optimizer.param_groups:\n"
        "    g['lr'] = 0.25\n"
    )


def _sl101_lines(tmp_path, src: str) -> list:
    d = tmp_path / "noqa"
    d.mkdir()
    (d / "t.py").write_text(src, encoding="utf-8", newline="")
    run = schedlint(d, "t.py", "--select", "SL101")
    assert_sane(run)
    assert {r["code"] for r in run.rows} <= {"SL101"}, run.rows
    return [r["line"] for r in run.rows]


@pytest.mark.parametrize("char", ODD_BREAKS, ids=[f"U+{ord(c):04X}" for c in ODD_BREAKS])
def test_odd_line_breaks_do_not_shift_noqa(tmp_path, char):
    # line 7 is suppressed by its own comment; line 9 has none
    assert _sl101_lines(tmp_path, _noqa_case(char)) == [9]


FIX_PREFIX = "# section break\f(a form feed) and a line separator\u2028here\n"


def test_odd_line_breaks_do_not_shift_fixes(tmp_path):
    """SL203's fix moves the scheduler step below the optimizer step; SL208's deletes a
    `print_lr()` statement on the file's last line. Both address lines by number."""
    sl203 = (
        FIX_PREFIX + "import torch\n\n\n"
        "def train(model, loader):\n"
        "    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, 10)\n"
        "    for x, y in loader:\n"
        "        loss = model(x).sum()\n"
        "        scheduler.step()\n"
        "        loss.backward()\n"
        "        optimizer.step()\n"
    )
    want_203 = sl203.replace(
        "        scheduler.step()\n        loss.backward()\n        optimizer.step()\n",
        "        loss.backward()\n        optimizer.step()\n        scheduler.step()\n",
    )
    sl208 = (
        FIX_PREFIX + "from torch.optim.lr_scheduler import StepLR\n\n\n"
        "class Warm(StepLR):\n"
        "    def step(self, epoch=None):\n"
        "        super().step(epoch)\n"
        "        self.print_lr(True, 0, self.get_last_lr()[0], epoch)"
    )  # no newline
    want_208 = sl208[: sl208.index("        self.print_lr")].rstrip("\n")
    d = tmp_path / "fix"
    d.mkdir()
    (d / "sl203.py").write_text(sl203, encoding="utf-8", newline="")
    (d / "sl208.py").write_text(sl208, encoding="utf-8", newline="")
    run = schedlint(d, "--fix", "--unsafe-fixes", "--select", "SL203,SL208", "sl203.py", "sl208.py")
    assert run.returncode == 0, (run.returncode, run.stdout, run.stderr)
    assert (d / "sl203.py").read_bytes().decode() == want_203
    got_208 = (d / "sl208.py").read_bytes().decode()
    assert got_208.rstrip("\n") == want_208, got_208


# --- 5. `# noqa` counts only in comments ------------------------------------------------------

STRING_NOQA = [
    "    g['lr'] = 0.5; note = '# noqa'\n",
    "    g['lr'] = 0.5; note = \"# noqa: SL101\"\n",
    "    g['lr'] = 0.5; note = f'{g} # noqa'\n",
    "    g['lr'] = 0.5; note = '''# noqa'''\n",
]


@pytest.mark.parametrize("line", STRING_NOQA)
def test_noqa_inside_a_string_does_not_suppress(tmp_path, line):
    src = _noqa_case(" ").replace("    g['lr'] = 0.25\n", line)
    assert _sl101_lines(tmp_path, src) == [9]


def test_noqa_in_a_string_on_the_first_line_of_a_statement(tmp_path):
    """A `# noqa` comment on a statement's first line covers the whole statement; the same
    text in a string there does not."""
    src = _noqa_case(" ").replace(
        "for g in optimizer.param_groups:\n    g['lr'] = 0.25\n",
        "updates = ['# noqa', [\n    g.update(lr=0.5)\n    for g in optimizer.param_groups\n]]\n",
    )
    assert _sl101_lines(tmp_path, src) == [9]


# --- 7. Ctrl-C ---------------------------------------------------------------------------------


def _group_members(pgid: int) -> list:
    """Live (not zombie) processes of process group ``pgid``, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        state, pgrp = fields[0], int(fields[2])
        if pgrp == pgid and state != "Z":
            out.append(int(entry))
    return out


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc to find the workers")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_exits_130_with_one_line(tmp_path, jobs):
    """^C in a terminal sends SIGINT to the whole foreground process group: the main process
    and its pool workers. The run must end with status 130 (not 1, "findings") and one line,
    and leave no worker behind."""
    d = tmp_path / "many"
    d.mkdir()
    for i in range(1500):  # far more than a run gets through before it is interrupted
        (d / f"m{i:04d}.py").write_bytes(BAD_BYTES)
    cmd = [sys.executable, "-m", "schedlint", "--isolated", "--no-cache", "--jobs", jobs, "."]
    # A terminal starts the run with SIGINT at its default; a test run started in the
    # background of a non-interactive shell (as CI may be) inherits SIGINT ignored.
    proc = subprocess.Popen(
        cmd,
        cwd=d,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 120
        # Interrupt it in the middle of checking: with a pool once the workers exist, without
        # one once it has run long enough to be past start-up and discovery.
        while time.monotonic() < deadline and proc.poll() is None:
            if jobs == "2" and len(_group_members(proc.pid)) >= 3:
                break
            if jobs == "1" and _cpu_seconds(proc.pid) >= 1.5:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 130, (proc.returncode, err.decode(errors="replace")[-2000:])
    assert err.decode() == "schedlint: interrupted\n"
    assert out == b""
    # Workers may take a moment to be reaped by the kernel; none may live on.
    deadline = time.monotonic() + 30
    while _group_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _group_members(proc.pid) == []


# --- 8. file names that are not UTF-8 ----------------------------------------------------------

BAD_NAME = os.fsdecode(b"bad_\xff.py")  # 'bad_\udcff.py': surrogate-escaped by the OS layer
SHOWN = "bad_\\xff.py"  # how a report names it: the byte, backslash-escaped


def _non_utf8_tree(tmp_path) -> Path:
    d = tmp_path / "names"
    d.mkdir()
    try:
        (d / BAD_NAME).write_bytes(BAD_BYTES)
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    (d / "名前.py").write_bytes(BAD_BYTES)
    return d


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_utf8_file_name_in_every_output_format(tmp_path, fmt):
    d = _non_utf8_tree(tmp_path)
    run = schedlint(d, ".", fmt=fmt)  # Result decodes stdout as strict UTF-8
    assert_sane(run)
    assert "\udcff" not in run.stdout and "\\udcff" not in run.stdout
    if fmt in ("json", "sarif"):
        doc = json.loads(run.stdout)
        for s in _strings(doc):
            s.encode("utf-8")  # no lone surrogate anywhere
    if fmt == "json":
        assert {r["path"] for r in doc} == {SHOWN, "名前.py"}
    elif fmt == "sarif":
        uris = {
            loc["physicalLocation"]["artifactLocation"]["uri"]
            for r in doc["runs"][0]["results"]
            for loc in r["locations"]
        }
        assert uris == {"bad_%FF.py", "%E5%90%8D%E5%89%8D.py"}  # RFC 3986: bytes, escaped
    elif fmt == "text":
        assert f"{SHOWN}:16:9: SL101" in run.stdout and "名前.py:16:9: SL101" in run.stdout
    elif fmt == "github":
        assert f"file={SHOWN},line=16" in run.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_non_utf8_file_name_under_a_latin1_stdout(tmp_path, fmt):
    """A latin-1 terminal can show neither the byte nor 名前: both are escaped, never fatal."""
    d = _non_utf8_tree(tmp_path)
    run = schedlint(d, ".", "--list-files", fmt=fmt, env={"PYTHONIOENCODING": "latin-1"})
    assert_sane(run)
    text = run.out.decode("latin-1")
    if fmt == "text":
        assert f"{SHOWN}:16:9: SL101" in text
        assert "\\u540d\\u524d.py:16:9: SL101" in text
    assert f"checked: {SHOWN}" in run.err.decode("latin-1")


# --- 9. a .gitignore above the walk root -------------------------------------------------------


def _gitignore_tree(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "pkg" / "generated").mkdir(parents=True)
    (root / "pkg" / "sub").mkdir()
    (root / ".gitignore").write_text("*_ignored.py\n/pkg/generated/\npkg/sub/local.py\n")
    for rel in (
        "pkg/kept.py",
        "pkg/x_ignored.py",
        "pkg/generated/gen.py",
        "pkg/sub/local.py",
        "pkg/sub/kept2.py",
    ):
        (root / rel).write_bytes(BAD_BYTES)
    return root


def _checked(run: Result, base: Path, cwd: Path) -> set:
    out = set()
    for line in run.stderr.splitlines():
        if line.startswith("checked: "):
            p = Path(line[len("checked: ") :])
            out.add(os.path.relpath(os.path.normpath(cwd / p), base))
    return out


def test_parent_gitignore_applies_to_relative_and_absolute_roots(tmp_path):
    root = _gitignore_tree(tmp_path)
    pkg = root / "pkg"
    want = {"kept.py", os.path.join("sub", "kept2.py")}
    for cwd, target in (
        (root, "pkg"),
        (root, str(pkg)),
        (pkg, "."),
        (pkg / "sub", ".."),
        (root, "./pkg/../pkg"),
    ):
        run = schedlint(cwd, target, "--list-files", fmt="text", isolated=True)
        assert_sane(run)
        assert _checked(run, pkg, cwd) == want, (cwd, target, run.stderr)


def test_cr_only_file_locates_nul_and_undecodable_bytes_on_tokenizer_lines(tmp_path):
    """Lines end at \\r too: a NUL (SL001) and a byte that is not UTF-8 (SL002) in a file with
    classic-Mac line endings are reported on their own line, not on line 1."""
    lines = BAD_BYTES.split(b"\n")
    nul = b"\r".join(lines[:3] + [lines[3].replace(b"model =", b"model\x00 =", 1)] + lines[4:])
    bad = b"\r".join(lines[:6] + [b"# caf\xe9 \xff\xfe"] + lines[6:])
    d = tmp_path / "cr"
    d.mkdir()
    (d / "nul.py").write_bytes(nul)
    (d / "bad.py").write_bytes(bad)
    run = schedlint(d, "nul.py", "bad.py")
    assert_sane(run)
    assert [(r["code"], r["line"], r["column"]) for r in run.of("nul.py")] == [("SL001", 4, 6)], (
        run.rows
    )
    assert [(r["code"], r["line"]) for r in run.of("bad.py")] == [("SL002", 7)], run.rows
