"""Where findings are printed: text, json, sarif (GitHub code scanning) and github annotations.

Every formatter takes the sorted findings and returns the full text to write to stdout.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from schedlint import __version__
from schedlint.rules import all_rules

FORMATS = ("text", "json", "sarif", "github")
JSON_KEYS = ("code", "name", "message", "path", "line", "column", "end_line", "end_column",
             "severity", "fix")
INFORMATION_URI = "https://pypi.org/project/schedlint/"


def printable(text: str) -> str:
    """``text`` with every lone surrogate written as a backslash escape.

    A file name that is not UTF-8 (``bad_\\xff.py``) reaches Python as a string with a lone
    surrogate for each undecodable byte (PEP 383); no encoding can write one, and JSON holding
    one is not valid Unicode. The byte is shown as ``\\xff``, any other surrogate as ``\\udXXX``.
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff" else
                   f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c for c in text)


def _printable_finding(f):
    path, message = printable(f.path), printable(f.message)
    if path is f.path and message is f.message:
        return f
    return dataclasses.replace(f, path=path, message=message)


def fixable(f, unsafe_fixes: bool = False) -> bool:
    """Whether ``--fix`` would apply the finding's fix (``--unsafe-fixes`` adds unsafe ones)."""
    kind = f.fix.get("applicability") if f.fix else None
    return kind == "safe" or unsafe_fixes and kind == "unsafe"


def location(f) -> str:
    """``path:line:col``, or ``nb.ipynb:cell 3:line:col`` for a notebook finding (as ruff)."""
    cell = getattr(f, "cell", None)
    where = f"{f.path}:cell {cell}" if cell is not None else f.path
    return f"{where}:{f.line}:{f.column}"


def format_text(findings, unsafe_fixes: bool = False) -> str:
    out = []
    for f in findings:
        mark = "[*] " if fixable(f, unsafe_fixes) else ""
        out.append(f"{location(f)}: {f.code} {mark}{f.message}")
    return "".join(line + "\n" for line in out)


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
        msg = f"{f.code} {_cell_prefix(f)}{f.message}"
        out.append(f"::{level} {props}::{_escape_data(msg)}")
    return "".join(line + "\n" for line in out)


def _uri(path: str) -> str:
    """A URI reference (RFC 3986): the bytes of the file name, percent-encoded where needed,
    so a name that is not UTF-8 (or has a space) still names its file."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return quote(os.fsencode(p.as_posix()), safe="/")


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
        fingerprint = hashlib.sha256(printable(f"{f.path}:{f.code}:{f.message}")
                                     .encode()).hexdigest()[:32]
        results.append({
            "ruleId": f.code,
            "ruleIndex": index[f.code],
            "level": "error" if f.severity == "error" else "warning",
            "message": {"text": _cell_prefix(f) + printable(f.message)},
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


def format_sarif(findings) -> str:
    return json.dumps(sarif_document(findings), indent=2) + "\n"


def _cell_prefix(f) -> str:
    # SARIF and GitHub annotations have no notion of a cell: the lines are the cell's, say so.
    cell = getattr(f, "cell", None)
    return f"(cell {cell}) " if cell is not None else ""


def format_findings(findings, fmt: str, unsafe_fixes: bool = False) -> str:
    if fmt == "sarif":  # names each file by URI, from the bytes of its name
        return format_sarif(findings)
    findings = [_printable_finding(f) for f in findings]
    if fmt == "text":
        return format_text(findings, unsafe_fixes)
    return {"text": format_text, "json": format_json, "sarif": format_sarif,
            "github": format_github}[fmt](findings)


def statistics(findings) -> str:
    counts = Counter(f.code for f in findings)
    names = {r.code: r.name for r in all_rules()}
    fixable = {f.code for f in findings if f.fix}
    width = max((len(str(n)) for n in counts.values()), default=1)
    return "".join(f"{n:>{width}}\t{code}\t{'[*]' if code in fixable else '[ ]'} "
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
