"""Hostile input: odd bytes, odd files and odd trees each get a clear finding or message, the
rest of the run is unaffected, nothing hangs or crashes, and memory stays bounded.

Every case is a directory holding the hostile input next to ``neighbor_bad.py``, a copy of the
known-bad SL101 sample, and is checked by a real ``schedlint`` process. Each test asserts
what the hostile input gets, that the neighbour's findings are exactly those it gets when
checked alone, and (through ``os.wait4``) the run's peak memory.

Inputs that are valid Python are transformed copies of the known-bad sample, so the "clear
finding" they must get is the sample's own SL101 findings at the same places.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from schedlint.check import engine, pipeline
from schedlint.check.options import Options
from schedlint.rules import all_rules

ROOT = Path(__file__).resolve().parents[2]
KNOWN_BAD = ROOT / "fixtures" / "SL101" / "bad_warmup_loop.py"
BAD_BYTES = KNOWN_BAD.read_bytes()
NEIGHBOR = "neighbor_bad.py"
ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
MiB = 1 << 20
# Peak RSS of one whole run (the largest process of its tree). Python + libcst + the rules
# take well under this; the 5 MB file has its own, larger bound (see that test).
SMALL_RUN_BOUND = 400 * MiB


class Run:
    def __init__(self, proc, stdout, stderr, maxrss):
        self.returncode, self.stdout, self.stderr, self.maxrss = proc, stdout, stderr, maxrss

    @property
    def rows(self):
        return json.loads(self.stdout)

    def of(self, path):
        return [r for r in self.rows if r["path"] == path]


_RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "code = subprocess.call(sys.argv[2:])\n"
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(str(peak))\n"
    "sys.exit(code)\n"
)


def run_bounded(cmd, cwd: Path, *, env=None, timeout=300, label=None):
    """Run ``cmd`` in a small fresh interpreter that records its peak RSS (the largest process
    of its tree, through wait4); a run that does not exit within ``timeout`` fails the test.
    Returns ``(returncode, stdout bytes, stderr bytes, peak RSS in bytes)``."""
    label = label or cwd.name
    out, err = cwd.parent / f"{label}.out", cwd.parent / f"{label}.err"
    rss_file = cwd.parent / f"{label}.rss"
    # A child forked straight from this (large, late-in-the-suite) test process would report
    # the parent's RSS.
    cmd = [sys.executable, "-c", _RSS_WRAPPER, str(rss_file), *cmd]
    with open(out, "wb") as o, open(err, "wb") as e:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=o, stderr=e)
        timer = threading.Timer(timeout, lambda: os.kill(proc.pid, signal.SIGKILL))
        timer.start()
        try:
            _, status, _ = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        returncode = os.waitstatus_to_exitcode(status)
    if returncode == -9:
        pytest.fail(f"schedlint hung (no exit in {timeout} s) on {cwd}")
    maxrss = int(rss_file.read_text()) * (1 if sys.platform == "darwin" else 1024)
    return returncode, out.read_bytes(), err.read_bytes(), maxrss


def clean_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    return {**env, **extra}


def _schedlint(cwd: Path, *args, timeout=300) -> Run:
    """Run the CLI (JSON output) under :func:`run_bounded`."""
    cmd = [
        sys.executable,
        "-m",
        "schedlint",
        "--isolated",
        "--no-cache",
        "--output-format",
        "json",
        *args,
    ]
    code, out, err, maxrss = run_bounded(cmd, cwd, env=clean_env(), timeout=timeout)
    return Run(code, out.decode("utf-8"), err.decode("utf-8", errors="replace"), maxrss)


@pytest.fixture(scope="module")
def neighbor_alone(tmp_path_factory):
    d = tmp_path_factory.mktemp("alone")
    (d / NEIGHBOR).write_bytes(BAD_BYTES)
    run = _schedlint(d, ".")
    assert run.returncode == 1, run.stderr
    rows = run.of(NEIGHBOR)
    assert [r["code"] for r in rows] == ["SL101"] * 4, rows
    return rows


def _case(tmp_path: Path, files: dict) -> Path:
    d = tmp_path / "case"
    d.mkdir()
    (d / NEIGHBOR).write_bytes(BAD_BYTES)
    for name, data in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(data)
    return d


def _assert_clean_run(
    run: Run, neighbor_alone, *, exit_code=1, bound=SMALL_RUN_BOUND, neighbor=NEIGHBOR
):
    assert run.returncode == exit_code, (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    assert not any(r["code"] == "SL003" for r in run.rows), run.rows
    got = [{**r, "path": NEIGHBOR} for r in run.of(neighbor)]
    assert got == neighbor_alone, "the known-bad neighbour's findings changed"
    if run.maxrss is not None:
        assert run.maxrss < bound, f"peak RSS {run.maxrss / MiB:.0f} MiB"


def _same_places(hostile_text: str, rows, neighbor_alone, line_shift=0):
    """The hostile copy's findings are the sample's, at the same text."""
    original = BAD_BYTES.decode().splitlines()
    lines = hostile_text.splitlines()  # \n, \r\n and \r alike
    assert [(r["line"] - line_shift, r["code"]) for r in rows] == [
        (r["line"], r["code"]) for r in neighbor_alone
    ]
    for got, want in zip(rows, neighbor_alone):
        g = lines[got["line"] - 1][got["column"] - 1 :].lstrip()
        w = original[want["line"] - 1][want["column"] - 1 :].lstrip()
        assert g == w, (got, want)
        unshifted = re.sub(
            r"\(line (\d+)\)", lambda m: f"(line {int(m.group(1)) - line_shift})", got["message"]
        )
        assert unshifted == want["message"]


# --- encodings and line endings -------------------------------------------------------------

VALID_VARIANTS = {
    "bom.py": (b"\xef\xbb\xbf" + BAD_BYTES, "utf-8-sig", 0),
    "crlf.py": (BAD_BYTES.replace(b"\n", b"\r\n"), "utf-8", 0),
    "cr_only.py": (BAD_BYTES.replace(b"\n", b"\r"), "utf-8", 0),
    "tabs.py": (BAD_BYTES.replace(b"    ", b"\t"), "utf-8", 0),
    "latin1.py": (
        b"# -*- coding: latin-1 -*-\nname = 'caf\xe9'  # \xe9t\xe9, \xa3\xb5\n" + BAD_BYTES,
        "latin-1",
        2,
    ),
}


@pytest.mark.parametrize("name", sorted(VALID_VARIANTS))
def test_valid_variant_is_checked_like_the_original(tmp_path, neighbor_alone, name):
    data, encoding, shift = VALID_VARIANTS[name]
    d = _case(tmp_path, {name: data})
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    _same_places(data.decode(encoding), run.of(name), neighbor_alone, line_shift=shift)


def test_invalid_utf8(tmp_path, neighbor_alone):
    lines = BAD_BYTES.split(b"\n")
    data = b"\n".join(lines[:6] + [b"# caf\xe9 \xff\xfe"] + lines[6:])
    d = _case(tmp_path, {"invalid_utf8.py": data})
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    rows = run.of("invalid_utf8.py")
    assert [(r["code"], r["line"]) for r in rows] == [("SL002", 7)], rows
    assert "decode" in rows[0]["message"] and "utf-8" in rows[0]["message"].lower()


def test_nul_bytes(tmp_path, neighbor_alone):
    d = _case(tmp_path, {"nul.py": BAD_BYTES.replace(b"model =", b"model\x00 =", 1)})
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    rows = run.of("nul.py")
    assert [r["code"] for r in rows] == ["SL001"], rows
    assert "null" in rows[0]["message"]
    assert rows[0]["line"] == 4  # where the NUL is (the compiler does not say)


# --- size and depth ---------------------------------------------------------------------------


def _five_mb_of_code(header: bytes) -> bytes:
    parts, size, i = [header], len(header), 0
    while size < 5 * MiB:
        chunk = (
            f"def helper_{i}(a, b=({i}, 'x{i}')):\n    total = 0\n    for k in range(a):\n"
            f"        total += k * {i} + len(b)\n    return {{'name': 'h{i}'}}\n\n\n"
        ).encode()
        parts.append(chunk)
        size += len(chunk)
        i += 1
    return b"".join(parts)


def test_five_megabyte_files(tmp_path, neighbor_alone):
    """A 5 MB file that mentions optimizers is too big to parse with libcst (about 0.6 GiB per
    MiB): it gets an SL002 saying so, after its syntax was checked; one that does not is
    skipped by the prefilter. Memory stays within what CPython's own compile() of the file
    needs (about 0.65-0.9 GiB here), far from the 4 GiB a full libcst parse took."""
    big = _five_mb_of_code(BAD_BYTES)
    plain = _five_mb_of_code(b"")
    d = _case(tmp_path, {"big_training.py": big, "big_plain.py": plain})
    assert len(big) >= 5 * MiB and len(plain) >= 5 * MiB
    run = _schedlint(d, "--jobs", "1", ".", timeout=600)
    _assert_clean_run(run, neighbor_alone, bound=int(1.5 * 1024 * MiB))
    rows = run.of("big_training.py")
    assert [r["code"] for r in rows] == ["SL002"], rows
    assert "too large" in rows[0]["message"] and "MiB" in rows[0]["message"]
    assert run.of("big_plain.py") == []
    print(f"\n5 MB files: peak RSS {run.maxrss / MiB:.0f} MiB")


def test_five_megabyte_file_with_a_syntax_error_gets_sl001(tmp_path):
    big = _five_mb_of_code(BAD_BYTES) + b"optimizer.step(\n"
    n_lines = big.count(b"\n")
    d = _case(tmp_path, {"big_broken.py": big})
    run = _schedlint(d, "--jobs", "1", "big_broken.py", timeout=600)
    rows = run.of("big_broken.py")
    assert run.returncode == 1, run.stderr
    assert [r["code"] for r in rows] == ["SL001"] and rows[0]["line"] == n_lines, rows
    assert run.maxrss < 1.5 * 1024 * MiB


DEPTH = 10_000


def test_ten_thousand_deep_parentheses(tmp_path, neighbor_alone):
    src = b"import torch\nx = " + b"(" * DEPTH + b"1" + b")" * DEPTH + b"\n"
    d = _case(
        tmp_path,
        {
            "deep_parens.py": src,
            "deep_lists.py": b"optimizer = None\ny = " + b"[" * DEPTH + b"]" * DEPTH + b"\n",
        },
    )
    for jobs in ("1", "2"):
        run = _schedlint(d, "--jobs", jobs, "--check-syntax", ".")
        _assert_clean_run(run, neighbor_alone)
        for name in ("deep_parens.py", "deep_lists.py"):
            rows = run.of(name)
            assert [(r["code"], r["line"]) for r in rows] == [("SL001", 2)], rows


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ten_thousand_deep_boolean_chain_in_training_code(tmp_path, neighbor_alone, jobs):
    """`a or a or ...` 10,000 times compiles (CPython's tree is flat there) but is 10,000
    levels deep in libcst's: it used to crash the process (SIGSEGV) in the parser. The file's
    own SL101 findings must come out as in the original."""
    deep = b"flag = " + b" or ".join([b"a"] * DEPTH) + b"\n"
    data = deep + BAD_BYTES
    d = _case(tmp_path, {"deep_or.py": data})
    run = _schedlint(d, "--jobs", jobs, "deep_or.py", NEIGHBOR)
    _assert_clean_run(run, neighbor_alone)
    _same_places(data.decode(), run.of("deep_or.py"), neighbor_alone, line_shift=1)


def test_long_implicit_string_concatenation(tmp_path, neighbor_alone):
    """Thousands of adjacent string literals (like the stdlib's pydoc_data/topics.py) nest
    deeper than the default recursion limit in libcst's tree."""
    text = (
        b"HELP = (\n"
        + b"".join(b"    'line %d of the help text\\n'\n" % i for i in range(3000))
        + b")\n"
    )
    data = text + BAD_BYTES
    d = _case(tmp_path, {"long_strings.py": data})
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    _same_places(
        data.decode(), run.of("long_strings.py"), neighbor_alone, line_shift=text.count(b"\n")
    )


def test_empty_and_blank_files(tmp_path, neighbor_alone):
    d = _case(
        tmp_path,
        {
            "empty.py": b"",
            "bom_only.py": b"\xef\xbb\xbf",
            "blank.py": b"\n\n  \n\t\n",
            "__init__.py": b"",
        },
    )
    run = _schedlint(d, "--check-syntax", "--list-files", ".")
    _assert_clean_run(run, neighbor_alone)
    for name in ("empty.py", "bom_only.py", "blank.py", "__init__.py"):
        assert run.of(name) == []
        assert f"checked: {name}" in run.stderr.splitlines()


# --- trees ------------------------------------------------------------------------------------


def test_symlink_loops(tmp_path, neighbor_alone):
    d = _case(tmp_path, {"pkg/inner_bad.py": BAD_BYTES})
    (d / "pkg" / "loop").symlink_to(d, target_is_directory=True)  # pkg/loop -> the root
    (d / "self_loop.py").symlink_to(d / "self_loop.py")  # a link to itself
    (d / "dangling.py").symlink_to(d / "does_not_exist.py")
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    # The looped tree is checked once: no file reported twice under another name.
    assert [r["line"] for r in run.of("pkg/inner_bad.py")] == [r["line"] for r in neighbor_alone]
    assert not [r for r in run.rows if "loop/" in r["path"]]
    assert "symlink" in run.stderr
    for name, words in (("self_loop.py", "symbolic links"), ("dangling.py", "No such file")):
        rows = run.of(name)
        assert [r["code"] for r in rows] == ["SL002"], rows
        assert "cannot read" in rows[0]["message"] and words in rows[0]["message"]


def test_directory_named_like_a_python_file(tmp_path, neighbor_alone):
    d = _case(tmp_path, {"x.py/inner_bad.py": BAD_BYTES})
    for target in (".", "x.py"):
        run = _schedlint(d, target, NEIGHBOR)
        _assert_clean_run(run, neighbor_alone)
        assert run.of("x.py") == []  # a folder is walked, not read as a file
        assert [r["line"] for r in run.of("x.py/inner_bad.py")] == [
            r["line"] for r in neighbor_alone
        ]


def test_path_with_spaces_and_non_ascii(tmp_path, neighbor_alone):
    rel = "dir with spaces/ünïcødé 名前/bad file é.py"
    d = _case(tmp_path, {rel: BAD_BYTES})
    run = _schedlint(d, ".")
    _assert_clean_run(run, neighbor_alone)
    assert [(r["line"], r["message"]) for r in run.of(rel)] == [
        (r["line"], r["message"]) for r in neighbor_alone
    ]
    text = subprocess.run(
        [sys.executable, "-m", "schedlint", "--isolated", "--no-cache", "."],
        cwd=d,
        capture_output=True,
        timeout=300,
    )
    assert f"{rel}:16:9: SL101".encode() in text.stdout
    run = _schedlint(d, os.path.join(d, rel), os.path.join(d, NEIGHBOR))
    assert len(run.of(str(d / rel))) == 4 and run.returncode == 1


def test_fifo_named_like_a_python_file_does_not_hang(tmp_path, neighbor_alone):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this platform")
    d = _case(tmp_path, {})
    os.mkfifo(d / "pipe.py")  # opening it for reading would block forever
    run = _schedlint(d, ".", timeout=120)
    _assert_clean_run(run, neighbor_alone)
    assert "pipe.py" in run.stderr and "not a regular file" in run.stderr


# --- permissions ------------------------------------------------------------------------------


def _permissions_block_reads(probe: Path) -> bool:
    probe.write_text("x")
    probe.chmod(0)
    try:
        with open(probe):
            return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o600)


def test_unreadable_file_and_directory(tmp_path, neighbor_alone):
    if not _permissions_block_reads(tmp_path / "probe"):
        pytest.skip(
            f"running as uid {os.geteuid()}: chmod 000 does not block reads here (root "
            "bypasses permissions), so a real unreadable file cannot be made; "
            "test_unreadable_file_simulated covers the read error path"
        )
    d = _case(tmp_path, {"locked.py": BAD_BYTES, "locked_dir/inner.py": BAD_BYTES})
    (d / "locked.py").chmod(0)
    (d / "locked_dir").chmod(0)
    try:
        run = _schedlint(d, ".")
    finally:
        (d / "locked.py").chmod(0o600)
        (d / "locked_dir").chmod(0o700)
    _assert_clean_run(run, neighbor_alone)
    rows = run.of("locked.py")
    assert [r["code"] for r in rows] == ["SL002"] and "Permission denied" in rows[0]["message"]
    assert "locked_dir" in run.stderr and "cannot list directory" in run.stderr


def test_unreadable_file_simulated(tmp_path, monkeypatch, neighbor_alone):
    """The read error path, whatever the user running the tests: the pipeline's read raises
    PermissionError for one file, as it does for a chmod 000 file without root."""
    d = _case(tmp_path, {"locked.py": BAD_BYTES})
    locked = str(d / "locked.py")
    real_read = pipeline.read_bytes

    def fake_read(file):
        if str(file) == locked:
            raise PermissionError(13, "Permission denied", locked)
        return real_read(file)

    monkeypatch.setattr(pipeline, "read_bytes", fake_read)
    results = engine.check_paths([locked, str(d / NEIGHBOR)], Options(codes=ALL_CODES, jobs=1))
    locked_result, neighbor = results
    assert [f.code for f in locked_result.findings] == ["SL002"]
    assert "Permission denied" in locked_result.findings[0].message
    assert [(f.line, f.column, f.code, f.message) for f in neighbor.findings] == [
        (r["line"], r["column"], r["code"], r["message"]) for r in neighbor_alone
    ]
