#!/usr/bin/env python3
"""How close a warm run can get to nothing: the least a sound results cache must do, timed
beside schedlint's warm and cold runs on the same tree.

    python bench/warm_floor.py --corpus PATH [--runs N]

The floor is a process that starts the interpreter, imports click (the command line needs
it), walks the tree, reads and hashes every ``.py`` file (the cache keys results on the
bytes, never on size or mtime) and loads one JSON file: no configuration, no rule
selection, no output. If the floor alone is close to 10% of the cold run, the issue's
"warm <= 10% of cold" cannot be met by a cache that reads every file. Medians of ``--runs``
wall times, the commands interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLOOR = """
import hashlib, json, os, sys
import click
for d, dirs, names in os.walk(sys.argv[1]):
    dirs.sort()
    for n in sorted(names):
        if n.endswith(".py"):
            with open(os.path.join(d, n), "rb") as fh:
                hashlib.sha256(fh.read()).hexdigest()
json.loads(json.dumps({"entries": {}}))
"""


def timed(cmd, cwd) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    corpus = str(Path(args.corpus).resolve())
    sched = [sys.executable, "-m", "schedlint", "--isolated", "-q", "--exit-zero"]
    with tempfile.TemporaryDirectory() as work:
        cmds = {
            "floor": [sys.executable, "-c", FLOOR, corpus],
            "schedlint warm": sched + [corpus],
            "schedlint cold": sched + ["--no-cache", corpus],
        }
        subprocess.run(sched + [corpus], cwd=work, capture_output=True)  # fills the cache
        times = {name: [] for name in cmds}
        for _ in range(args.runs):
            for name, cmd in cmds.items():
                times[name].append(timed(cmd, work))
    med = {name: statistics.median(t) for name, t in times.items()}
    cold = med["schedlint cold"]
    for name, m in med.items():
        print(f"{name:15} {m:.3f} s  ({m / cold:.1%} of cold)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
