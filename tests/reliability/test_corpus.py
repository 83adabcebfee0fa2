"""Corpus run: every ``.py`` file of the installed standard library (its ``test/`` folder and
its deliberately broken files included) and of the installed torch package, in ONE
``schedlint`` process.

Assertions: the process exits normally (0 or 1, no traceback, nothing on stderr but the file
listing and timings); every file appears in the listing of checked files (``--list-files``);
no SL003; every file that ``compile()`` rejects gets an SL001 at the line the compiler reports
(SL002 when the rejection is that the file cannot be decoded, which is what SL002 means), unless
it is valid code for a newer Python, which is checked like any other file; and no
file that compiles is called broken, except for an SL001 that says plainly that only libcst,
not Python, fails on it.

The standard library's own ``site-packages`` (third-party code) is not part of it. torch may be
absent in a checker-only install: the torch half is then skipped with that reason. The file
count and wall time are printed (``pytest -s``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import re
import subprocess
import sys
import sysconfig
import time
import tokenize
import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NOT_STDLIB = ("site-packages", "dist-packages")


def _stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"]).resolve()


def _torch_root():
    spec = importlib.util.find_spec("torch")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).resolve()


def _py_files(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in NOT_STDLIB and d != "__pycache__"]
        out += [os.path.join(dirpath, f) for f in filenames if f.endswith(".py")]
    return out


def _undecodable(data: bytes) -> bool:
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        data.decode(encoding)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        return True
    return False


def _newer_python(data: bytes) -> bool:
    """Valid code for a newer Python than this one: libcst (the newest grammar) parses it and
    its tree needs that grammar (torch's ``py312_intrinsics.py`` read on 3.11)."""
    import libcst as cst

    from schedlint.model.cstwalk import grammar_version

    try:
        return grammar_version(cst.parse_module(data)) > sys.version_info[:2]
    except Exception:
        return False


def _compile_oracle(paths) -> dict:
    """{path: (line, undecodable, newer)} for every file Python's compiler rejects; newer:
    the file is valid code for a newer Python (then checked, not an SL001)."""
    rejected = {}
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                compile(data, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            # No line (NUL bytes): any line will do; line 0 (encoding): the first line.
            line = None if exc.lineno is None else max(exc.lineno, 1)
            rejected[path] = (line, _undecodable(data), _newer_python(data))
        except (ValueError, RecursionError, MemoryError, OverflowError):
            rejected[path] = (None, _undecodable(data), False)
    return rejected


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    stdlib, torch_root = _stdlib_root(), _torch_root()
    roots = [stdlib] + ([torch_root] if torch_root else [])
    files = {str(r): sorted(_py_files(r)) for r in roots}
    assert len(files[str(stdlib)]) > 500, "the standard library looks incomplete"
    work = tmp_path_factory.mktemp("corpus")
    config = work / "corpus.toml"
    # Check everything: the default excludes (`venv`, `build`, ...) would drop real stdlib
    # packages (`venv/`); only the stdlib's third-party site-packages stays out.
    config.write_text(f"exclude = {json.dumps(list(NOT_STDLIB))}\n")
    cmd = [
        sys.executable,
        "-m",
        "schedlint",
        "--config",
        str(config),
        "--check-syntax",
        "--output-format",
        "json",
        "--no-cache",
        "--no-respect-gitignore",
        "--list-files",
        "--timings",
        *map(str, roots),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        # The reference runs while schedlint does (two processes, two cores).
        rejected = _compile_oracle(p for group in files.values() for p in group)
        stdout, stderr = proc.communicate(timeout=60 * 30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    wall = time.perf_counter() - start
    timing = next((line for line in stderr.splitlines() if line.startswith("timings: disc")), "")
    print(
        f"\ncorpus run: {sum(map(len, files.values()))} files "
        f"({len(files[str(stdlib)])} stdlib at {stdlib}"
        + (
            f", {len(files[str(torch_root)])} torch at {torch_root}"
            if torch_root
            else ", torch not installed"
        )
        + f") in one schedlint process: {wall:.1f} s wall; exit {proc.returncode}; "
        f"{len(rejected)} files rejected by compile(); {timing}"
    )
    return {
        "stdlib": stdlib,
        "torch": torch_root,
        "files": files,
        "rejected": rejected,
        "returncode": proc.returncode,
        "stdout": stdout,
        "stderr": stderr,
    }


def test_the_run_exits_normally(corpus):
    assert corpus["returncode"] in (0, 1), (corpus["returncode"], corpus["stderr"][-3000:])
    unexpected = [
        line
        for line in corpus["stderr"].splitlines()
        if not line.startswith(("checked: ", "timings: ", "schedlint: warning: "))
    ]
    # No traceback, no internal error, no leaked compiler warning.
    assert not unexpected, "\n".join(unexpected[:30])
    rows = json.loads(corpus["stdout"])
    assert isinstance(rows, list)


def _check_half(corpus, root):
    files = corpus["files"][str(root)]
    file_set = set(files)
    rows = json.loads(corpus["stdout"])
    checked = {
        line[len("checked: ") :]
        for line in corpus["stderr"].splitlines()
        if line.startswith("checked: ")
    }
    by_path = {}
    for row in rows:
        by_path.setdefault(row["path"], []).append(row)
    # Every file was checked (or, for the same purpose, carries an SL001/SL002).
    missing = [
        p
        for p in files
        if p not in checked and not any(r["code"] in ("SL001", "SL002") for r in by_path.get(p, []))
    ]
    assert not missing, f"{len(missing)} files never checked, e.g. {missing[:10]}"
    # Nothing outside the corpus was checked under this root (no walk escaped it).
    extra = sorted(
        p
        for p in checked
        if p.startswith(str(root) + os.sep) and p.endswith(".py") and p not in file_set
    )
    assert not extra, extra[:10]
    internal = [r for p in files for r in by_path.get(p, []) if r["code"] == "SL003"]
    assert not internal, internal[:5]
    rejected = {p: v for p, v in corpus["rejected"].items() if p in file_set}
    wrong = []
    for path, (line, undecodable, newer) in sorted(rejected.items()):
        codes = {"SL001", "SL002"} if undecodable else {"SL001"}
        hits = [r for r in by_path.get(path, []) if r["code"] in codes]
        if newer:
            if hits or path not in checked:  # code for a newer Python: checked, not broken
                wrong.append((path, "newer Python", [(r["code"], r["line"]) for r in hits]))
        elif not any(line is None or r["line"] == line for r in hits):
            wrong.append((path, line, [(r["code"], r["line"], r["message"]) for r in hits]))
    assert not wrong, (
        "compile() rejects these files but schedlint's finding is missing or "
        "on another line:\n" + "\n".join(map(str, wrong))
    )
    # The converse: a file the compiler accepts is not reported as broken, except when the
    # finding says that only schedlint's parser (libcst) fails on it.
    false = [
        (p, r["code"], r["line"], r["message"])
        for p in files
        if p not in rejected
        for r in by_path.get(p, [])
        if r["code"] in ("SL001", "SL002")
        and not (r["code"] == "SL001" and re.search(r"\blibcst\b", r["message"]))
    ]
    assert not false, false[:10]
    return len(files), len(rejected)


def test_standard_library(corpus):
    n, rejected = _check_half(corpus, corpus["stdlib"])
    # The stdlib's test folder holds deliberately broken files; a corpus without any would
    # not exercise the SL001/SL002 paths (e.g. a stripped install without `test/`).
    if not rejected:
        pytest.skip(
            f"{n} stdlib files checked, but this install has no file compile() "
            f"rejects (no test/ folder?), so the SL001 half was not exercised"
        )


def test_torch_package(corpus):
    if corpus["torch"] is None:
        pytest.skip(
            "torch is not installed (a checker-only install): the torch half of the "
            "corpus run was not checked"
        )
    n, _ = _check_half(corpus, corpus["torch"])
    assert n > 500
