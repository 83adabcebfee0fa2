"""A finding as the outside world sees it: a code at a position in a file."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int  # 1-based
    column: int  # 1-based
    code: str
    message: str
    end_line: int
    end_column: int  # 1-based, exclusive (SARIF's convention)
    severity: str = "error"
    name: str = ""
    fix: dict | None = None  # {"applicability", "message", "edits": [...]}
    # Notebooks only: the 1-based index of the cell in the notebook's ``cells`` array; line,
    # column and the fix's edits are then relative to that cell's source.
    cell: int | None = None
    # Why it matters and what to write instead (the message only says what is wrong).
    help: str = ""

    def sort_key(self):
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_dict(self) -> dict:
        return asdict(self)
