"""What a rule is: its metadata, its documentation and its check, in one place.

A rule module defines one function decorated with :func:`rule`. The decorator reads the
function's docstring, which must have ruff's sections (``## What it does``, ``## Why is this
bad?``, ``## Example``, ``## Use instead``, optionally ``## Fix``), so ``schedlint rule CODE``,
the SARIF rule descriptors and the README table all come from that one text.

A per-file check receives a :class:`schedlint.model.facts.FileModel` and yields :class:`Report`
objects; a project check (``scope="project"``) receives a
:class:`schedlint.model.summaries.ProjectFacts` and yields :class:`ProjectReport` objects. Rules never
know their own code when reporting, so a report can never carry the wrong one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Fix")
_REQUIRED = SECTIONS[:4]
_SECTION_RE = re.compile(r"^## (.+?)\s*$", re.M)


@dataclass(frozen=True)
class Fix:
    """An edit that replaces [start, end) (1-based line/column) with ``content``."""

    applicability: str  # "safe" | "unsafe"
    message: str
    edits: tuple  # of (line, column, end_line, end_column, content)


@dataclass
class Report:
    """A finding as a rule sees it: where (a libcst node) and what to say.

    ``message`` says what is wrong in one short sentence (ruff's convention: at most about
    120 characters, shown on the finding's own line); ``help`` says why it matters and what to
    write instead, shown on a line of its own."""

    node: Any
    message: str
    fix: Fix | None = None
    help: str = ""


@dataclass
class ProjectReport:
    """A finding from a project rule: where (path and position) and what to say."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    help: str = ""


def some(items, most: int = 3) -> str:
    """``a, b and c``, or ``a, b, c and 7 more``: a message names a few items, never all of
    them (an optimizer can have thousands of groups)."""
    items = list(items)
    if len(items) > most:
        return ", ".join(items[:most]) + f" and {len(items) - most} more"
    if len(items) > 1:
        return ", ".join(items[:-1]) + " and " + items[-1]
    return "".join(items)


def clip(src: str, width: int = 40) -> str:
    """Source text for a one-line message: whitespace collapsed, cut at ``width`` characters."""
    text = " ".join(str(src).split())
    return text if len(text) <= width else text[: width - 3].rstrip() + "..."


def placed(model, node) -> tuple:
    """Where ``node`` is, split for a finding: ``(" (line 12)", "")`` when it is in this
    file, ``("", "line 12 of ../train.py")`` when it is in another module, whose path would
    make the message long (the help names it then)."""
    where = model.where(node)
    return (f" ({where})", "") if " of " not in where else ("", where)


def describe_groups(model, optimizer) -> str:
    """``was built with group lrs 0.1 and 0.01 (line 4)``: the optimizer's distinct group lrs,
    for the help line of a rule that found one scalar bound applied to all of them."""
    distinct = optimizer.distinct_lrs() or []
    # Long lrs that share a prefix (`self.args.learning_rate * 0.1`, `self.args.learning_rate`)
    # must stay told apart.
    width = 20 if len({clip(lr, 20) for lr in distinct}) == len(distinct) else 40
    return (
        f"was built with group lrs {some(clip(lr, width) for lr in distinct)} "
        f"({model.where(optimizer.node)})"
    )


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: str  # "error" | "warning"
    kind: str  # "static" | "builtin" | "guard"
    scope: str  # "file" | "project" | "runtime"
    docs: dict = field(repr=False, compare=False)
    check: Callable[..., Iterable[Any]] | None = field(default=None, repr=False, compare=False)
    fixable: str = "none"  # "none" | "safe" | "unsafe" | "sometimes"

    def markdown(self) -> str:
        """The rule's full documentation, as ``schedlint rule CODE`` prints it."""
        lines = [
            f"# {self.name} ({self.code})",
            "",
            self.summary,
            "",
            f"Severity: {self.severity}.  Fix: {_FIX_WORDS[self.fixable]}",
            "",
        ]
        for section in SECTIONS:
            text = self.docs.get(section)
            if text:
                lines += [f"## {section}", text, ""]
        return "\n".join(lines).rstrip() + "\n"


_FIX_WORDS = {
    "none": "none available.",
    "safe": "a safe fix is available (--fix).",
    "unsafe": "an unsafe fix is available (--fix --unsafe-fixes).",
    "sometimes": "a fix is sometimes available.",
}


def parse_docs(doc: str) -> dict:
    """Split a ruff-style docstring into its ``## Section`` bodies."""
    doc = dedent(doc or "").strip("\n")
    # The first line (summary) is indented differently from the rest when written inline.
    first, _, rest = doc.partition("\n")
    doc = first.strip() + "\n" + dedent(rest)
    parts = _SECTION_RE.split(doc)
    sections = {"summary": parts[0].strip()}
    for title, body in zip(parts[1::2], parts[2::2]):
        sections[title.strip()] = body.strip("\n").rstrip()
    return sections


def dedent(text: str) -> str:
    """``textwrap.dedent(text)`` without its regular expressions, which cost most of reading
    the rule catalogue (every run reads it: a warm run's selection is made of its codes)."""
    lines = text.split("\n")
    margin = None
    for i, line in enumerate(lines):
        body = line.lstrip(" \t")
        if not body:
            lines[i] = ""  # a line of whitespace only becomes empty, as textwrap makes it
            continue
        indent = line[: len(line) - len(body)]
        if margin is None:
            margin = indent
        elif not indent.startswith(margin):
            margin = os.path.commonprefix([margin, indent])
    if margin:
        lines = [line[len(margin) :] for line in lines]
    return "\n".join(lines)


def rule(
    code: str,
    name: str,
    severity: str,
    *,
    scope: str = "file",
    kind: str = "static",
    fixable: str = "none",
) -> Callable:
    """Declare a rule. The decorated function's docstring is its documentation."""

    def register(fn: Callable) -> Callable:
        fn.RULE = declare(
            code, name, severity, fn.__doc__, fn, scope=scope, kind=kind, fixable=fixable
        )
        return fn

    return register


def declare(
    code: str,
    name: str,
    severity: str,
    doc: str | None,
    check,
    *,
    scope: str = "file",
    kind: str = "static",
    fixable: str = "none",
) -> Rule:
    """The :class:`Rule` that ``@rule(code, name, severity, ...)`` makes of a function with
    docstring ``doc`` (``check`` is the function, or what loads it)."""
    docs = parse_docs(doc or "")
    missing = [s for s in _REQUIRED if not docs.get(s)]
    if missing:
        raise ValueError(f"rule {code} lacks documentation sections: {', '.join(missing)}")
    summary = docs.pop("summary") or docs["What it does"].split(".")[0] + "."
    return Rule(
        code=code,
        name=name,
        summary=summary,
        severity=severity,
        kind=kind,
        scope=scope,
        docs=docs,
        check=check if kind == "static" else None,
        fixable=fixable,
    )
