"""Where findings are printed: text, json, sarif (GitHub code scanning) and github annotations.

Every formatter takes the sorted findings and returns the full text to write to stdout.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path

from schedlint import __version__
from schedlint.rules import all_rules

FORMATS = ("concise", "full", "text", "json", "sarif", "github")  # text: concise's old name
JSON_KEYS = ("code", "name", "message", "help", "path", "line", "column", "end_line",
             "end_column", "severity", "fix")
INFORMATION_URI = "https://pypi.org/project/schedlint/"


def fixable(f, unsafe_fixes: bool = False) -> bool:
    """Whether ``--fix`` would apply the finding's fix (``--unsafe-fixes`` adds unsafe ones)."""
    kind = f.fix.get("applicability") if f.fix else None
    return kind == "safe" or unsafe_fixes and kind == "unsafe"


def location(f) -> str:
    """``path:line:col``, or ``nb.ipynb:cell 3:line:col`` for a notebook finding (as ruff)."""
    cell = getattr(f, "cell", None)
    where = f"{f.path}:cell {cell}" if cell is not None else f.path
    return f"{where}:{f.line}:{f.column}"


def format_text(findings, unsafe_fixes: bool = False, *, show_fixes: bool = False) -> str:
    """``concise``: one ``path:line:col: CODE message`` line per finding; its help, when it has
    one, on an indented ``help:`` line right under it (parsers of the flake8 format skip such
    lines); with ``show_fixes``, the fix on a ``fix:`` line too."""
    out = []
    for f in findings:
        mark = "[*] " if fixable(f, unsafe_fixes) else ""
        out.append(f"{location(f)}: {f.code} {mark}{f.message}")
        if f.help:
            out.append(f"  help: {f.help}")
        if show_fixes and f.fix:
            out.append(f"  fix: {_fix_line(f)}")
    return "".join(line + "\n" for line in out)


def _fix_line(f) -> str:
    return f"{f.fix['message']} ({f.fix['applicability']})"


# ANSI styles for ``full`` on a terminal (the caller decides: tty, NO_COLOR, --no-color).
_STYLES = {"bold": "1", "code": "1;31", "caret": "31", "help": "36", "fix": "32", "gutter": "34"}


def format_full(findings, unsafe_fixes: bool = False, *, show_fixes: bool = False,
                color: bool = False, source_of=None) -> str:
    """``full``: each finding's line, then the source line with a caret under the span, the
    help and (with ``show_fixes``) the fix, as ruff's full format. ``source_of(path)`` gives
    a file's text (None when it cannot be read: the source lines are left out)."""
    def paint(style, text):
        return f"\x1b[{_STYLES[style]}m{text}\x1b[0m" if color else text

    out = []
    for f in findings:
        mark = "[*] " if fixable(f, unsafe_fixes) else ""
        out.append(f"{paint('bold', location(f))}: {paint('code', f.code)} {mark}{f.message}")
        line = _source_line(source_of, f)
        if line is not None:
            width = len(str(f.line))
            end = f.end_column if f.end_line == f.line else len(line) + 1
            start = min(max(f.column, 1), len(line) + 1)
            carets = "^" * max(1, min(end, len(line) + 1) - start)
            gutter = paint("gutter", " " * width + " |")
            out += [gutter, f"{paint('gutter', f'{f.line} |')} {line}",
                    f"{gutter} {' ' * (start - 1)}{paint('caret', carets)}"]
        if f.help:
            out.append(f"  {paint('help', 'help:')} {f.help}")
        if show_fixes and f.fix:
            out.append(f"  {paint('fix', 'fix:')} {_fix_line(f)}")
        out.append("")
    return "".join(line + "\n" for line in out)


def _source_line(source_of, f):
    if source_of is None or getattr(f, "cell", None) is not None:
        return None  # a notebook's lines are the cell's: not the file's text
    text = source_of(f.path)
    lines = text.splitlines() if text is not None else []
    return lines[f.line - 1].expandtabs(1) if 0 < f.line <= len(lines) else None


def format_json(findings) -> str:
    # "cell" (1-based index into the notebook's cells) only on findings in notebooks.
    rows = [{**{k: getattr(f, k) for k in JSON_KEYS},
             **({"cell": f.cell} if getattr(f, "cell", None) is not None else {})}
            for f in findings]
    return json.dumps(rows, indent=2) + "\n"


def _escape_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(s: str) -> str:
    return _escape_data(s).replace(":", "%3A").replace(",", "%2C")


def format_github(findings) -> str:
    out = []
    for f in findings:
        level = "error" if f.severity == "error" else "warning"
        props = (f"file={_escape_property(f.path)},line={f.line},col={f.column},"
                 f"endLine={f.end_line},endColumn={f.end_column},"
                 f"title={_escape_property(f.code)}")
        # The annotation's title is the code; its body, the message and then the help.
        msg = f"{f.code} {_cell_prefix(f)}{f.message}" + (f"\nhelp: {f.help}" if f.help else "")
        out.append(f"::{level} {props}::{_escape_data(msg)}")
    return "".join(line + "\n" for line in out)


def _uri(path: str) -> str:
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return p.as_posix()


def sarif_document(findings) -> dict:
    rules = [r for r in all_rules() if r.kind != "guard"]
    index = {r.code: i for i, r in enumerate(rules)}
    descriptors = []
    for r in rules:
        descriptors.append({
            "id": r.code,
            "name": r.name,
            "shortDescription": {"text": r.summary[:1024]},
            "fullDescription": {"text": r.docs["What it does"][:1024]},
            "help": {"text": r.docs["Why is this bad?"][:1024], "markdown": r.markdown()},
            "helpUri": f"{INFORMATION_URI}#{r.code.lower()}",
            "defaultConfiguration": {"level": "error" if r.severity == "error" else "warning"},
            "properties": {"tags": ["pytorch", "lr-scheduler"], "precision": "high",
                           "problem.severity": r.severity},
        })
    results = []
    for f in findings:
        fingerprint = hashlib.sha256(f"{f.path}:{f.code}:{f.message}".encode()).hexdigest()[:32]
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": "error" if f.severity == "error" else "warning",
            "message": _sarif_message(f),
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": _uri(f.path)},
                "region": {"startLine": f.line, "startColumn": f.column,
                           "endLine": f.end_line, "endColumn": f.end_column}}}],
            "partialFingerprints": {"primaryLocationLineHash": f"{fingerprint}:1"},
        })
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "schedlint", "version": __version__,
                                "semanticVersion": __version__,
                                "informationUri": INFORMATION_URI, "rules": descriptors}},
            "results": results,
        }],
    }


def _sarif_message(f) -> dict:
    text = _cell_prefix(f) + f.message
    if not f.help:
        return {"text": text}
    # Viewers that show only ``text`` keep the one-line message; markdown adds the help.
    return {"text": text, "markdown": f"{text}\n\n**help:** {f.help}"}


def format_sarif(findings) -> str:
    return json.dumps(sarif_document(findings), indent=2) + "\n"


def _cell_prefix(f) -> str:
    # SARIF and GitHub annotations have no notion of a cell: the lines are the cell's, say so.
    cell = getattr(f, "cell", None)
    return f"(cell {cell}) " if cell is not None else ""


def format_findings(findings, fmt: str, unsafe_fixes: bool = False, *, show_fixes=False,
                    color=False, source_of=None) -> str:
    if fmt in ("text", "concise"):
        return format_text(findings, unsafe_fixes, show_fixes=show_fixes)
    if fmt == "full":
        return format_full(findings, unsafe_fixes, show_fixes=show_fixes, color=color,
                           source_of=source_of)
    return {"text": format_text, "json": format_json, "sarif": format_sarif,
            "github": format_github}[fmt](findings)


def statistics(findings, unsafe_fixes: bool = False) -> str:
    """A count per rule; ``[*]`` marks a rule with findings that ``--fix`` would fix under the
    same options, so it agrees with the summary (an unsafe fix counts only with
    ``--unsafe-fixes``)."""
    counts = Counter(f.code for f in findings)
    names = {r.code: r.name for r in all_rules()}
    fixes = {f.code for f in findings if fixable(f, unsafe_fixes)}
    width = max((len(str(n)) for n in counts.values()), default=1)
    return "".join(f"{n:>{width}}\t{code}\t{'[*]' if code in fixes else '[ ]'} "
                   f"{names.get(code, '')}\n" for code, n in sorted(counts.items()))


def summary(findings, *, fixed=None, unsafe_fixes: bool = False) -> str:
    """The stderr summary. ``fixed`` (with ``--fix``): how many problems were fixed; then the
    line reads as ruff's, ``Found 3 problems (2 fixed, 1 remaining).``. A second line says how
    many remaining problems ``--fix`` would fix, and how many more ``--unsafe-fixes`` would."""
    if fixed:
        total = len(findings) + fixed
        head = (f"Found {total} problem{'s' if total != 1 else ''} "
                f"({fixed} fixed, {len(findings)} remaining).")
    elif not findings:
        return "All checks passed!"
    else:
        files = len({f.path for f in findings})
        problems = "problem" if len(findings) == 1 else "problems"
        head = f"Found {len(findings)} {problems} in {files} file{'s' if files != 1 else ''}."
    n = sum(fixable(f, unsafe_fixes) for f in findings)
    hidden = 0 if unsafe_fixes else sum(fixable(f, True) and not fixable(f) for f in findings)
    hint = (f" ({hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with the "
            f"`--unsafe-fixes` option)" if hidden else "")
    if n:
        return f"{head}\n[*] {n} fixable with the `--fix` option{hint}."
    if hidden:
        return f"{head}\nNo fixes available{hint}."
    return head
