"""Documentation generated from the rule metadata (the one source of truth).

``python -m schedlint.report.ruledocs`` rewrites the rule table in README.md between the
``<!-- rules:start -->`` and ``<!-- rules:end -->`` markers, and writes one page per rule,
``docs/rules/<CODE>.md`` (what SARIF's ``helpUri`` links to); ``tests/test_docs.py`` fails when
either is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from schedlint.rules import all_rules

START, END = "<!-- rules:start -->", "<!-- rules:end -->"
_FAMILIES = {
    "SL0": "Input the checker could not read",
    "SL1": "Group LR integrity",
    "SL2": "Scheduler and optimizer interaction",
    "SL3": "Construction and resume",
    "SLG": "Runtime guard (`schedlint.guard`)",
}
_FIX = {"none": "", "safe": "safe", "unsafe": "unsafe", "sometimes": "sometimes"}


def rule_table() -> str:
    lines = []
    family = None
    for r in all_rules():
        fam = "SLG" if r.code.startswith("SLG") else r.code[:3]
        if fam != family:
            family = fam
            lines += [
                "",
                f"**{_FAMILIES.get(fam, fam)}**",
                "",
                "| code | name | severity | fix | what it catches |",
                "|---|---|---|---|---|",
            ]
        summary = r.summary.replace("|", "\\|")
        lines.append(f"| {r.code} | {r.name} | {r.severity} | {_FIX[r.fixable]} | {summary} |")
    return "\n".join(lines).strip() + "\n"


def render_readme(text: str) -> str:
    head, sep, rest = text.partition(START)
    if not sep:
        raise ValueError(f"README has no {START} marker")
    _, sep2, tail = rest.partition(END)
    if not sep2:
        raise ValueError(f"README has no {END} marker")
    return f"{head}{START}\n{rule_table()}{END}{tail}"


RULE_PAGES = Path("docs") / "rules"


def rule_pages() -> dict:
    """``{"SL101.md": text}``: each rule's documentation, as `schedlint rule CODE` prints it."""
    return {f"{r.code}.md": r.markdown() for r in all_rules()}


def main(argv=None) -> int:
    path = Path(argv[0] if argv else "README.md")
    path.write_text(render_readme(path.read_text(encoding="utf-8")), encoding="utf-8")
    pages = path.parent / RULE_PAGES
    pages.mkdir(parents=True, exist_ok=True)
    for stale in set(p.name for p in pages.glob("*.md")) - set(rule_pages()):
        (pages / stale).unlink()
    for name, text in rule_pages().items():
        (pages / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
