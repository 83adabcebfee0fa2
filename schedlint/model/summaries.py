"""What a checked file hands the project rules: small, picklable records.

Apart from :mod:`schedlint.model.facts` (whose thirty-odd dataclasses cost about 8 ms to
create) so that a warm run, which rebuilds these from the results cache and parses nothing,
never imports the per-file model.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FileFacts:
    """What a file contributes to project rules; picklable, so it crosses process pools."""

    path: str
    group_keys: list = field(default_factory=list)  # (key, line, column, end_line, end_column)
    read_keys: set = field(default_factory=set)


@dataclass
class ProjectFacts:
    files: list = field(default_factory=list)  # [FileFacts]


__all__ = ["FileFacts", "ProjectFacts"]
