"""Replay an unchanged run: the console script's fast path for "nothing changed since".

A warm ``schedlint`` run answers every file from ``.schedlint_cache/``, but still pays for the
interpreter, click, the configuration and a walk of the tree: on a small project that is most
of the cold run. This module goes one step further, for the exact repeat of a ``check`` run
(same arguments, working directory, ``SCHEDLINT_*`` environment and schedlint code): it
re-prints the recorded output and exit status after checking, with ``stat`` only, that
nothing the run depended on has changed:

- every checked file (size and modification time, what the per-file cache trusts too);
- every directory the walk entered (its modification time changes when an entry is added,
  removed or renamed, so a new ``*.py`` file, folder or ``.gitignore`` is noticed);
- every ``.gitignore`` and configuration file that was or could have been read (including
  their absence), and every path named on the command line;
- schedlint itself (its version and every file of the static checker).

Anything else (a different argument, a changed file, an unreadable record) runs the real
check, which records again. Only runs that read and write the cache are recorded (not
``--no-cache``), never ``--fix``/``--diff``, stdin, ``--timings`` or a run with an internal
error. Records live in ``.schedlint_cache/<version>/runs/`` under the cache root, found from
the working directory upwards. This module imports only the standard library: a replay
starts no click, no rule and no parser.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys

from schedlint.jsonfile import write_atomically

FORMAT = 1
CACHE_DIR_NAME = ".schedlint_cache"

_pending = None  # what cli.check noted for the current run (see note())
_active = False  # set by entry(): only the console script records runs


def _version() -> str:
    from schedlint import __version__

    return __version__


# Parts of the package a static check never runs: the runtime guard (except the rule
# documentation in guard/codes.py) and the framework integrations.
_NOT_STATIC = ("guard", "integrations")


def _code_stamp() -> str:
    """Size and mtime of every file of the static checker (a changed rule changes runs)."""
    package = os.path.dirname(os.path.abspath(__file__))
    parts = [_stat_text(os.path.join(package, "guard", "codes.py"))]
    for dirpath, dirnames, filenames in os.walk(package):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and
                             not (dirpath == package and d in _NOT_STATIC))
        for name in sorted(filenames):
            if name.endswith(".py"):
                parts.append(_stat_text(os.path.join(dirpath, name)))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _stat_text(path: str) -> str:
    st = _stat(path)
    return f"{path}:{st}"


def _stat(path: str):
    """[size, mtime_ns] of ``path`` (following links), or None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def _key(argv) -> str:
    env = sorted((k, v) for k, v in os.environ.items() if k.startswith("SCHEDLINT_"))
    ttys = [getattr(s, "isatty", lambda: False)() for s in (sys.stdout, sys.stderr)]
    enc = [getattr(s, "encoding", None) for s in (sys.stdout, sys.stderr)]
    blob = json.dumps([FORMAT, _version(), list(argv), os.getcwd(), env, sys.executable, ttys,
                       enc])
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _record_path(root: str, key: str) -> str:
    return os.path.join(root, CACHE_DIR_NAME, _version(), "runs", f"{key}.json")


def _find_record(key: str):
    folder = os.getcwd()
    while True:
        path = _record_path(folder, key)
        if os.path.isfile(path):
            return path
        parent = os.path.dirname(folder)
        if parent == folder:
            return None
        folder = parent


# -- replay -----------------------------------------------------------------------------------
def try_replay(argv):
    """Print the recorded output of this exact, unchanged run and return its exit status;
    None when there is no valid record (the caller then runs the real check)."""
    if os.environ.get("SCHEDLINT_NO_REPLAY"):
        return None
    try:
        key = _key(argv)
        path = _find_record(key)
        if path is None:
            return None
        with open(path, encoding="utf-8") as fh:
            rec = json.load(fh)
        if rec.get("format") != FORMAT or rec.get("code") not in (0, 1):
            return None
        if rec["stamp"] != _code_stamp():
            return None
        for p, size, mtime in rec["files"]:
            if _stat(p) != [size, mtime]:
                return None
        for p, mtime in rec["dirs"]:
            try:
                if os.stat(p).st_mtime_ns != mtime:
                    return None
            except OSError:
                return None
        for p, st in rec["paths"]:
            if _stat(p) != st:
                return None
        out, err, code = rec["stdout"], rec["stderr"], rec["code"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if out:
        sys.stdout.write(out)
        sys.stdout.flush()
    if err:
        sys.stderr.write(err)
        sys.stderr.flush()
    return code


# -- recording --------------------------------------------------------------------------------
class _Tee:
    """A text stream that writes through and keeps a copy of what was written."""

    def __init__(self, stream):
        self._stream = stream
        self.copy = []

    def write(self, text):
        if isinstance(text, str):
            self.copy.append(text)
        return self._stream.write(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def note(root, files, dirs, paths) -> None:
    """Called by ``schedlint check``, right after discovery, for a run that may be replayed:
    the cache root, the files to check, the walked directories and every other path whose
    state matters. Their state is taken now; the run is recorded only if it is unchanged
    when the run ends (a file edited meanwhile may have been checked in either version)."""
    global _pending
    snap = _snapshot(files, dirs, paths)
    _pending = (str(root), snap) if snap is not None else None


def note_check(cfg, paths, found, *, isolated, config_file, respect_gitignore) -> None:
    """:func:`note` for ``schedlint check``: what its discovery and configuration read."""
    if not _active:
        return
    from pathlib import Path

    root = cfg.root if cfg.path else Path.cwd()
    watch = [os.path.abspath(p) for p in paths]  # named paths: present, absent, replaced
    if config_file:
        watch.append(os.path.abspath(config_file))
    elif not isolated:  # every pyproject.toml find_pyproject looks at, up to the one used
        start = Path(paths[0] if paths else ".").resolve()
        if start.is_file() or not start.exists():
            start = start.parent
        for folder in (start, *start.parents):
            watch.append(str(folder / "pyproject.toml"))
            if cfg.path is not None and folder / "pyproject.toml" == Path(cfg.path).resolve():
                break
    if respect_gitignore:  # the .gitignore of every walked folder and of their parents
        for p in paths:
            if os.path.isdir(p):
                watch += [str(parent / ".gitignore") for parent in Path(p).resolve().parents]
        watch += [os.path.join(d, ".gitignore") for d in found.dirs]
    note(root, found.files, found.dirs, watch)


def _snapshot(files, dirs, paths):
    """The state of everything a run depends on, or None if a file or folder is missing."""
    snap = {"files": [], "dirs": [], "paths": [[p, _stat(p)] for p in paths]}
    for p in files:
        st = _stat(p)
        if st is None:
            return None
        snap["files"].append([p, *st])
    for d in dirs:
        st = _safe_stat(d)
        if st is None:
            return None
        snap["dirs"].append([d, st.st_mtime_ns])
    return snap


def _save(argv, code, out_tee, err_tee) -> None:
    root, before = _pending
    after = _snapshot([f[0] for f in before["files"]], [d[0] for d in before["dirs"]],
                      [p for p, _ in before["paths"]])
    if after != before:
        return  # something changed during the run: do not record
    rec = {"format": FORMAT, "stamp": _code_stamp(), **before,
           "stdout": "".join(out_tee.copy), "stderr": "".join(err_tee.copy), "code": code}
    write_atomically(_record_path(root, _key(argv)), rec)


def _safe_stat(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def entry():
    """The ``schedlint`` console script: replay an unchanged run, else run the CLI (which
    records the run for next time)."""
    global _pending, _active
    argv = sys.argv[1:]
    if argv and argv[0] in ("run", "rule", "-h", "--help", "--version"):
        from schedlint.cli import entry as cli_entry  # not a check: nothing to replay

        return cli_entry()
    code = try_replay(argv)
    if code is not None:
        _exit(code)
    out, err = _Tee(sys.stdout), _Tee(sys.stderr)
    sys.stdout, sys.stderr = out, err
    _active = True
    code = None  # stays None when anything but SystemExit ends the run: nothing is recorded
    try:
        from schedlint.cli import entry as cli_entry

        cli_entry()
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.stdout, sys.stderr = out._stream, err._stream
        if _pending is not None and code in (0, 1):
            _save(argv, code, out, err)
        _pending, _active = None, False
    _exit(code)


def _exit(code) -> None:
    """End a check run now: flush the output and skip the interpreter's teardown (freeing
    every object of libcst and of the run costs 50-100 ms; a check leaves no thread, child
    process or open file behind: the pool and the caches are closed by then)."""
    if not isinstance(code, int):
        sys.exit(code)  # a message (or None): let SystemExit print and map it
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: exit status 120, as Python's own exit
        os._exit(120)
    os._exit(code)
