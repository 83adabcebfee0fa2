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

from functools import cache

from schedlint import __version__
from schedlint.check import gate as prefilter


@cache
def _options():
    from schedlint.check.options import Options
    from schedlint.rules import all_rules

    return Options(
        codes=frozenset(
            r.code
            for r in all_rules()
            if r.kind != "guard" and r.scope == "file" and r.code != "SL001"
        )
    )


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
        text = "".join(self.lines)
        # The gate reads ASCII words, which every source encoding spells the same.
        if not prefilter.admits(text.encode("utf-8", "surrogateescape")):
            return
        from schedlint.check.pipeline import check_text

        path = self.filename if self.filename not in ("-", "stdin") else "stdin.py"
        result = check_text(path, text, _options())
        for f in result.findings:
            yield f.line, f.column - 1, f"{f.code} {f.message}", type(self)


__all__ = ["Checker"]
