"""schedlint as a flake8 plugin: ``flake8 --select SL`` runs every per-file schedlint rule.

Registered under the ``flake8.extension`` entry point with the code prefix ``SL``. flake8 owns
selection (``--select`` / ``--extend-select`` / ``--ignore``), ``# noqa``, configuration and
the reporters; the plugin reports every finding of every per-file static rule and lets flake8
filter. Not run under flake8: the project rules (flake8 checks one file at a time) and SL001
(flake8 reports syntax errors itself as E999 and never calls a tree plugin on such a file).
``[tool.schedlint]`` is not read: under flake8, flake8's configuration decides.

Positions are schedlint's own: flake8 adds 1 to the 0-based column a tree plugin yields, so the
plugin yields ``column - 1`` and ``flake8`` prints exactly the line and column that
``schedlint`` prints. flake8 runs every installed plugin on every file, so the plugin first
applies schedlint's byte-level prefilter and returns before parsing anything on files without
optimizer or scheduler code.
"""

from __future__ import annotations

import io
import tokenize
from functools import cache

from schedlint import __version__
from schedlint.check import gate as prefilter


@cache
def _codes() -> frozenset:
    from schedlint.rules import all_rules

    return frozenset(r.code for r in all_rules()
                     if r.kind != "guard" and r.scope == "file" and r.code != "SL001")


def _encode(lines) -> bytes:
    """The file's bytes as flake8 read them (it hands over decoded lines)."""
    text = "".join(lines)
    head = "".join(lines[:2]).encode("utf-8", "surrogateescape")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(head).readline)
    except (SyntaxError, LookupError):
        encoding = "utf-8"
    try:
        return text.encode(encoding if encoding != "utf-8-sig" else "utf-8")
    except (UnicodeEncodeError, LookupError):
        return text.encode("utf-8", "surrogateescape")


class Checker:
    """The flake8 tree plugin. flake8 passes the arguments by name."""

    name = "schedlint"
    version = __version__

    def __init__(self, tree, filename: str = "stdin", lines=None):
        # ``tree`` (flake8's ast) is unused: schedlint parses with libcst once, itself. Asking
        # for it is what makes flake8 treat this as a tree plugin.
        self.filename = filename
        self.lines = lines or []

    def run(self):
        data = _encode(self.lines)
        if not prefilter.admits(data):
            return
        from schedlint.check.engine import check_source

        path = self.filename if self.filename not in ("-", "stdin") else "stdin.py"
        result = check_source(path, data, _codes(), python_only=True)
        for f in result.findings:
            yield f.line, f.column - 1, f"{f.code} {f.message}", type(self)


__all__ = ["Checker"]
