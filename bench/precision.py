#!/usr/bin/env python3
"""Re-run the precision corpus of docs/precision.md and compare with its triage.

    python bench/precision.py --corpus /work/corpus [--list bench/corpus.txt] [--whole]

The repositories of ``bench/corpus.txt`` (OWNER/NAME COMMIT [SUBDIR]) must already be
unpacked, each at its commit, as ``CORPUS/NAME`` (only SUBDIR of it where one is given), for
example with ``git clone`` and ``git archive COMMIT [SUBDIR] | tar -x -C CORPUS/NAME``. This
script never downloads anything.

For each repository it runs ``schedlint check --no-cache --output-format json --exit-zero
--list-files CORPUS/NAME`` (the default rule set; cold, no cache) and prints one markdown row:
files checked, findings, wall seconds. Then it lists every finding as ``NAME/path:line CODE``
and marks the ones the triage table of docs/precision.md does not hold (``NEW``), the wrong
findings it lists as fixed (``FIXED``: expected to be gone) and other triaged findings that
are gone (``GONE``). ``--whole`` also runs the whole corpus once under
``/usr/bin/time -v`` (user CPU, wall, max RSS). Exit status 1 when a finding is not triaged
or a finding triaged as fixed is back.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEDLINT = [sys.executable, "-m", "schedlint"]
# | repo | file:line | code | verdict | reason | in docs/precision.md
TRIAGED = re.compile(r"^\|\s*([\w.-]+)\s*\|\s*`?([^|`]+?):(\d+)`?\s*\|\s*(SL\d+)\s*\|([^|]*)\|")


def read_list(path: Path):
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            repo, commit, *rest = line.split()
            yield repo, commit, rest[0] if rest else None


def check(tree: Path):
    start = time.perf_counter()
    done = subprocess.run(
        SCHEDLINT
        + [
            "check",
            "--no-cache",
            "--output-format",
            "json",
            "--exit-zero",
            "--list-files",
            str(tree),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"schedlint failed on {tree}: {done.stderr[-2000:]}")
    files = sum(1 for line in done.stderr.splitlines() if line.startswith("checked: "))
    return json.loads(done.stdout or "[]"), files, wall


def triaged(doc: Path):
    """(triaged findings, those of them triaged as wrong and fixed: expected to be gone)."""
    out, fixed = set(), set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        m = TRIAGED.match(line)
        if m:
            item = (m.group(1), m.group(2).strip(), int(m.group(3)), m.group(4))
            out.add(item)
            if "fixed" in m.group(5):
                fixed.add(item)
    return out, fixed


def whole(corpus: Path):
    done = subprocess.run(
        ["/usr/bin/time", "-v"]
        + SCHEDLINT
        + ["check", "--no-cache", "-q", "--exit-zero", "--list-files", str(corpus)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    err = done.stderr
    files = sum(1 for line in err.splitlines() if line.startswith("checked: "))
    user, wall, rss = (
        re.search(rf"{key}.*?: (.+)", err).group(1)
        for key in ("User time", r"Elapsed \(wall clock\) time", "Maximum resident set size")
    )
    print(f"whole corpus: {files} files; user CPU {user} s; wall {wall}; max RSS {rss} kB")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, required=True)
    ap.add_argument("--list", type=Path, default=ROOT / "bench" / "corpus.txt")
    ap.add_argument("--doc", type=Path, default=ROOT / "docs" / "precision.md")
    ap.add_argument("--whole", action="store_true")
    args = ap.parse_args()
    names = [repo.split("/")[1] for repo, _, _ in read_list(args.list)]
    if (args.corpus / "vision-detection").is_dir():
        names.append("vision-detection")
    missing = [n for n in names if not (args.corpus / n).is_dir()]
    if missing:
        print(f"not unpacked under {args.corpus}: {', '.join(missing)}", file=sys.stderr)
    found = set()
    print("| repository | files checked | findings | wall s |\n|---|---|---|---|")
    for name in names:
        if name in missing:
            continue
        findings, files, wall = check(args.corpus / name)
        print(f"| {name} | {files} | {len(findings)} | {wall:.2f} |")
        for f in findings:
            rel = Path(f["path"]).resolve().relative_to((args.corpus / name).resolve())
            found.add((name, rel.as_posix(), f["line"], f["code"]))
    known, fixed = triaged(args.doc)
    for item in sorted(found | known):
        mark = (
            ""
            if item in found and item in known
            else "NEW "
            if item in found
            else "FIXED "
            if item in fixed
            else "GONE "
        )
        print(f"{mark}{item[0]}/{item[1]}:{item[2]} {item[3]}")
    if args.whole:
        whole(args.corpus)
    return 1 if found - known or found & fixed else 0


if __name__ == "__main__":
    sys.exit(main())
