"""What checking one file gives (:class:`FileResult`), apart from how it was computed.

The results cache stores and answers these, and a warm run, answered from the cache alone,
imports this module and not the pipeline (:mod:`schedlint.check.pipeline`: the gate, the
parser, the model), which is most of a warm run's start-up otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from schedlint.report.findings import Finding
from schedlint.rules import by_code

if TYPE_CHECKING:
    from schedlint.model.summaries import FileFacts

# Where a run's time goes (``schedlint --timings``): CPU seconds summed over files and workers.
PHASES = ("read", "prefilter", "parse", "model", "rules", "gc")


@dataclass
class FileResult:
    path: str
    findings: list = field(default_factory=list)
    facts: FileFacts | None = None
    parsed: bool = False
    crashed: bool = False  # the worker checking it died (exit status 2)
    sha: str | None = None  # hash of the bytes that were checked, for the cache
    size: int = 0  # bytes read
    timings: dict | None = None  # phase -> seconds, when timing is on (PHASES)
    # (path, content hash) of the in-tree modules the result depends on: those the model
    # read for their summaries, and those the gate asked about; the results cache keys the
    # result on them (a changed helper re-checks the files that call it)
    deps: list = field(default_factory=list)


def builtin_finding(code, path, message, line=1, column=1, end_line=None, end_column=None):
    """A finding of one of the checker's own codes (SL001-SL003)."""
    rule = by_code()[code]
    return Finding(
        path=path,
        line=line,
        column=column,
        code=code,
        message=message,
        end_line=end_line or line,
        end_column=end_column or column + 1,
        severity=rule.severity,
        name=rule.name,
    )


__all__ = ["PHASES", "FileResult", "builtin_finding"]
