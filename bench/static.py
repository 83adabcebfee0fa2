#!/usr/bin/env python3
"""Benchmark the static checker against ruff and TorchFix, side by side, in one run.

    python bench/static.py --corpus PATH [--corpus PATH ...] --vs ruff --vs torchfix [--runs N]

For every corpus (a directory of Python files) it measures, on this machine, in the same run:

- ``schedlint`` cold: ``schedlint --isolated --no-cache -q --exit-zero CORPUS``;
- ``schedlint`` warm: the same without ``--no-cache``, cache primed by one earlier run and
  nothing changed since (the cache lives in a temporary working directory);
- ``ruff check --select ALL --no-cache --isolated --exit-zero -q CORPUS`` (``--vs ruff``);
- ``torchfix CORPUS`` (``--vs torchfix``): very slow, so it runs once, killed after
  ``--torchfix-timeout`` seconds and then reported as "> T s" (the ratio as a lower bound);
  ``--torchfix-sample N`` runs it on N files of the corpus instead (and says so);
- the time split of a cold run (``schedlint --timings``: read, prefilter, parse, model,
  rules, gc: seconds summed over the worker processes; then output), and the share of files
  the gate lets through to libcst;
- peak memory: ``max RSS`` is the largest single process of the command's tree (what
  ``wait4``/``getrusage(RUSAGE_CHILDREN)`` report: the process and the children it reaped);
  ``tree RSS`` and ``tree PSS`` are the peak of the *sum* over every live process of the tree,
  sampled every 20 ms from /proc in one extra, untimed run (RSS counts pages shared between
  a pool's processes once per process, so it over-states; PSS splits shared pages fairly);
- single-file latency: ``schedlint --isolated --no-cache FILE`` for one training script
  against ``python -c "import libcst"`` (interpreter start-up plus the libcst import) and
  ``python -c pass``.

Timed runs of the tools are interleaved (run 1 of every tool, then run 2, ...) and the table
shows medians. Wall times depend on the machine's load: the load average is printed with the
results. Tools that cannot be found are reported as missing. Nothing is written outside a
temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


# -- running one command ----------------------------------------------------------------------
class Run:
    def __init__(self, wall, cpu, maxrss_mb, code, timed_out=False, stderr=""):
        self.wall, self.cpu, self.maxrss_mb = wall, cpu, maxrss_mb
        self.code, self.timed_out, self.stderr = code, timed_out, stderr


def _descendants(pid: int) -> list:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as fh:
                    stack += [int(c) for c in fh.read().split()]
        except OSError:
            pass
    return out


def _mem_kb(pid: int, field: str) -> int:
    try:
        if field == "Rss":
            with open(f"/proc/{pid}/statm") as fh:
                return int(fh.read().split()[1]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class _TreeSampler(threading.Thread):
    """Peak of the summed RSS and PSS of a process tree, sampled every ``interval`` s."""

    def __init__(self, pid, interval=0.02):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.rss_kb = self.pss_kb = 0
        self.procs = 1
        self.done = threading.Event()

    def run(self):
        while not self.done.is_set():
            pids = _descendants(self.pid)
            self.procs = max(self.procs, len(pids))
            self.rss_kb = max(self.rss_kb, sum(_mem_kb(p, "Rss") for p in pids))
            self.pss_kb = max(self.pss_kb, sum(_mem_kb(p, "Pss") for p in pids))
            self.done.wait(self.interval)


def run(cmd, *, cwd=None, timeout=None, sample=False, env=None):
    """Run ``cmd`` (stdout discarded): wall, CPU of the tree, max RSS; optionally sampled."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    sampler = None
    if sample:
        sampler = _TreeSampler(proc.pid)
        sampler.start()
    err_chunks = []
    reader = threading.Thread(target=lambda: err_chunks.append(proc.stderr.read()), daemon=True)
    reader.start()
    timed_out = False
    killer = None
    if timeout:

        def kill():
            nonlocal timed_out
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass

        killer = threading.Timer(timeout, kill)
        killer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if killer is not None:
        killer.cancel()
    if timed_out:  # reap whatever the killed group left
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5)
    if sampler is not None:
        sampler.done.set()
        sampler.join()
    r = Run(
        wall,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss / 1024,
        proc.returncode,
        timed_out,
        (err_chunks[0] if err_chunks else b"").decode("utf-8", "replace"),
    )
    if sampler is not None:
        r.tree_rss_mb, r.tree_pss_mb = sampler.rss_kb / 1024, sampler.pss_kb / 1024
        r.procs = sampler.procs
    return r


# -- finding the tools ------------------------------------------------------------------------
def find_tool(name, explicit=None):
    if explicit:
        return [explicit] if shutil.which(explicit) or os.path.exists(explicit) else None
    for d in (os.path.dirname(sys.executable), os.path.dirname(os.path.realpath(sys.executable))):
        cand = os.path.join(d, name)
        if os.access(cand, os.X_OK):
            return [cand]
    found = shutil.which(name)
    return [found] if found else None


def tool_version(cmd):
    try:
        out = subprocess.run(cmd + ["--version"], capture_output=True, text=True, timeout=60)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "?"


# -- helpers ----------------------------------------------------------------------------------
def py_files(top: Path) -> list:
    return sorted(str(p) for p in Path(top).rglob("*.py") if p.is_file())


def count_lines(files) -> int:
    n = 0
    for f in files:
        try:
            with open(f, "rb") as fh:
                n += fh.read().count(b"\n")
        except OSError:
            pass
    return n


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_s(x):
    if x != x:  # nan
        return "-"
    return f"{x:.3f}" if x < 10 else f"{x:.1f}"


def parse_split(stderr: str) -> dict:
    """The numbers of ``schedlint --timings``' two lines."""
    out = {}
    m = re.search(
        r"timings: discover ([\d.]+)s, check ([\d.]+)s \((\d+) files, (\d+) parsed\), "
        r"report ([\d.]+)s, total ([\d.]+)s",
        stderr,
    )
    if m:
        out.update(
            discover=float(m[1]),
            check=float(m[2]),
            files=int(m[3]),
            parsed=int(m[4]),
            report=float(m[5]),
            total=float(m[6]),
        )
    m = re.search(
        r"timings: split \(CPU s, summed over (\d+) workers?\): (.*?); cache "
        r"([\d.]+), project rules ([\d.]+), output ([\d.]+)",
        stderr,
    )
    if m:
        out["workers"] = int(m[1])
        for part in m[2].split(", "):
            name, _, value = part.rpartition(" ")
            out[name] = float(value)
        out["cache"] = float(m[3])
        out["project rules"], out["output"] = float(m[4]), float(m[5])
    return out


def pick_single_file(corpora) -> str:
    """A typical training script: examples' imagenet/main.py if there, else the largest file
    of the first corpus that builds an optimizer."""
    for c in corpora:
        cand = Path(c) / "imagenet" / "main.py"
        if cand.is_file():
            return str(cand)
    best = None
    for f in py_files(corpora[0]):
        try:
            data = Path(f).read_bytes()
        except OSError:
            continue
        if b"optim." in data and (best is None or len(data) > best[0]):
            best = (len(data), f)
    return best[1] if best else py_files(corpora[0])[0]


# -- the benchmark ------------------------------------------------------------------------------
def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--corpus", action="append", required=True, help="directory (repeatable)")
    ap.add_argument("--vs", action="append", default=[], choices=["ruff", "torchfix"])
    ap.add_argument("--runs", type=int, default=5, help="timed runs per tool (median shown)")
    ap.add_argument(
        "--schedlint",
        help="schedlint command (default: next to this python, else `python -m schedlint`)",
    )
    ap.add_argument("--ruff", help="ruff executable")
    ap.add_argument("--torchfix", help="torchfix executable")
    ap.add_argument(
        "--torchfix-timeout",
        default="auto",
        help="kill TorchFix after this many seconds and report '> T s'; 'auto' "
        "(default): 55x the corpus' schedlint cold median (at least 60 s), "
        "so that a killed run still shows a ratio above 50x",
    )
    ap.add_argument(
        "--torchfix-sample",
        type=int,
        default=0,
        help="run TorchFix on this many files of each corpus (every k-th file)",
    )
    ap.add_argument(
        "--single-file",
        help="file for the single-file latency (default: a training script from the corpora)",
    )
    ap.add_argument("--no-memory", action="store_true", help="skip the sampled memory runs")
    ap.add_argument("--json", help="also write the raw numbers here")
    args = ap.parse_args(argv)

    corpora = [str(Path(c).resolve()) for c in args.corpus]
    for c in corpora:
        if not Path(c).is_dir():
            ap.error(f"{c}: not a directory")
    sched = (
        args.schedlint.split()
        if args.schedlint
        else (find_tool("schedlint") or [sys.executable, "-m", "schedlint"])
    )
    tools = {"schedlint": sched}
    missing = []
    for name in args.vs:
        cmd = find_tool(name, getattr(args, name))
        if cmd is None:
            missing.append(name)
        else:
            tools[name] = cmd

    env_info = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.python_implementation()} {platform.python_version()}",
        "load_before": os.getloadavg(),
        "versions": {name: tool_version(cmd) for name, cmd in tools.items()},
        "command": " ".join(
            [os.path.relpath(sys.argv[0]) if sys.argv else "bench/static.py"]
            + (argv if argv is not None else sys.argv[1:])
        ),
    }
    try:
        from importlib.metadata import version

        import libcst  # noqa: F401  (the version the checker parses with)

        env_info["versions"]["libcst"] = version("libcst")
    except Exception:  # pragma: no cover - informational only
        pass

    work = Path(tempfile.mkdtemp(prefix="schedlint-bench-"))
    results = {"env": env_info, "missing": missing, "corpora": {}}
    try:
        for corpus in corpora:
            results["corpora"][corpus] = bench_corpus(corpus, tools, args, work)
        results["single_file"] = bench_single(
            args.single_file or pick_single_file(corpora), sched, args.runs
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    env_info["load_after"] = os.getloadavg()
    print(render(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


def bench_corpus(corpus, tools, args, work):
    files = py_files(corpus)
    info = {"files": len(files), "lines": count_lines(files), "runs": {}}
    sched = tools["schedlint"]
    cold = sched + ["--isolated", "--no-cache", "-q", "--exit-zero", corpus]
    warm_dir = work / ("warm-" + Path(corpus).name)
    warm_dir.mkdir()
    warm = sched + ["--isolated", "-q", "--exit-zero", corpus]
    cmds = {"schedlint cold": (cold, None), "schedlint warm": (warm, str(warm_dir))}
    if "ruff" in tools:
        cmds["ruff ALL"] = (
            tools["ruff"]
            + ["check", "--select", "ALL", "--no-cache", "--isolated", "--exit-zero", "-q", corpus],
            None,
        )
    print(f"# {corpus}: {info['files']} files, {info['lines']} lines", file=sys.stderr)
    primed = run(warm, cwd=str(warm_dir))  # fills the cache
    if primed.code != 0:
        print(f"schedlint failed ({primed.code}):\n{primed.stderr}", file=sys.stderr)
    timed = {name: [] for name in cmds}
    for i in range(args.runs):
        for name, (cmd, cwd) in cmds.items():
            r = run(cmd, cwd=cwd)
            timed[name].append(r)
            print(f"  run {i + 1} {name}: {r.wall:.3f}s", file=sys.stderr)
    for name, rs in timed.items():
        info["runs"][name] = {
            "wall": [r.wall for r in rs],
            "cpu": [r.cpu for r in rs],
            "maxrss_mb": max(r.maxrss_mb for r in rs),
            "codes": sorted({r.code for r in rs}),
        }
    if not args.no_memory:
        for name, (cmd, cwd) in cmds.items():
            r = run(cmd, cwd=cwd, sample=True)
            info["runs"][name].update(
                tree_rss_mb=r.tree_rss_mb, tree_pss_mb=r.tree_pss_mb, procs=r.procs
            )
    split = run(sched + ["--isolated", "--no-cache", "-q", "--exit-zero", "--timings", corpus])
    info["split"] = parse_split(split.stderr)
    info["split"]["wall"] = split.wall
    if "torchfix" in tools:
        info["torchfix"] = bench_torchfix(
            tools["torchfix"],
            corpus,
            files,
            args,
            work,
            med(info["runs"]["schedlint cold"]["wall"]),
        )
    return info


def bench_torchfix(cmd, corpus, files, args, work, cold):
    timeout = (
        max(60.0, 55 * cold) if args.torchfix_timeout == "auto" else float(args.torchfix_timeout)
    )
    target, note = [corpus], "whole corpus"
    if args.torchfix_sample and args.torchfix_sample < len(files):
        step = len(files) / args.torchfix_sample
        target = [files[int(i * step)] for i in range(args.torchfix_sample)]
        note = f"sample of {len(target)} of {len(files)} files (every {step:.1f}th)"
    print(f"  torchfix ({note}, timeout {timeout:.0f}s) ...", file=sys.stderr)
    r = run(cmd + target, timeout=timeout, sample=not args.no_memory)
    return {
        "wall": r.wall,
        "cpu": r.cpu,
        "timed_out": r.timed_out,
        "note": note,
        "timeout": timeout,
        "maxrss_mb": r.maxrss_mb,
        "tree_rss_mb": getattr(r, "tree_rss_mb", None),
        "files": len(target) if target != [corpus] else len(files),
    }


def bench_single(path, sched, runs):
    py = sys.executable
    cmds = {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import libcst'": [py, "-c", "import libcst"],
        "schedlint FILE": sched + ["--isolated", "--no-cache", "-q", "--exit-zero", path],
    }
    times = {name: [] for name in cmds}
    for _ in range(max(runs, 5)):
        for name, cmd in cmds.items():
            times[name].append(run(cmd).wall)
    return {
        "file": path,
        "lines": count_lines([path]),
        "wall": {name: med(ts) for name, ts in times.items()},
        "all": times,
    }


# -- the report -------------------------------------------------------------------------------
def render(res) -> str:
    env = res["env"]
    out = [
        f"schedlint static benchmark, {env['date']}, {env['machine']}",
        "load average before/after: "
        + " / ".join(
            ", ".join(f"{x:.2f}" for x in env.get(k, ())) for k in ("load_before", "load_after")
        ),
        "versions: " + ", ".join(f"{k} {v}" for k, v in env["versions"].items()),
        f"command: {env['command']}",
        "",
    ]
    if res["missing"]:
        out.append("missing (not found, not run): " + ", ".join(res["missing"]))
        out.append("")
    out.append(
        "| corpus | files | lines | tool | wall s (median) | min-max | CPU s | max RSS MB"
        " | tree RSS / PSS MB | vs schedlint cold |"
    )
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    verdicts = []
    for corpus, info in res["corpora"].items():
        name = Path(corpus).name
        cold = med(info["runs"]["schedlint cold"]["wall"])
        for tool, r in info["runs"].items():
            w = med(r["wall"])
            ratio = "1" if tool == "schedlint cold" else f"{w / cold:.2f}x"
            tree = f"{r['tree_rss_mb']:.0f} / {r['tree_pss_mb']:.0f}" if "tree_rss_mb" in r else "-"
            out.append(
                f"| {name} | {info['files']} | {info['lines']} | {tool} | {fmt_s(w)} | "
                f"{fmt_s(min(r['wall']))}-{fmt_s(max(r['wall']))} | "
                f"{fmt_s(med(r['cpu']))} | {r['maxrss_mb']:.0f} | {tree} | {ratio} |"
            )
        tf = info.get("torchfix")
        if tf:
            wall = f"> {tf['timeout']:.0f}" if tf["timed_out"] else fmt_s(tf["wall"])
            ratio = (
                f">= {tf['timeout'] / cold:.0f}x"
                if tf["timed_out"]
                else f"{tf['wall'] / cold:.1f}x"
            )
            if tf["files"] != info["files"]:
                ratio += f" (on {tf['files']} files)"
            tree = f"{tf['tree_rss_mb']:.0f}" if tf.get("tree_rss_mb") else "-"
            cpu = "-" if tf["timed_out"] else fmt_s(tf["cpu"])  # a killed tree is not reaped
            out.append(
                f"| {name} | {tf['files']} | | torchfix ({tf['note']}) | {wall} | | "
                f"{cpu} | {tf['maxrss_mb']:.0f} | {tree} | {ratio} |"
            )
        # targets
        runs = info["runs"]
        if "ruff ALL" in runs:
            rr = cold / med(runs["ruff ALL"]["wall"])
            verdicts.append((f"{name}: cold / ruff ALL = {rr:.2f} (<= 0.5)", rr <= 0.5))
        if tf:
            if tf["files"] == info["files"]:
                speed = (tf["timeout"] if tf["timed_out"] else tf["wall"]) / cold
                verdicts.append(
                    (
                        f"{name}: torchfix / cold {'>= ' if tf['timed_out'] else ''}"
                        f"{speed:.0f}x (>= 50x)",
                        speed >= 50,
                    )
                )
        warm = med(runs["schedlint warm"]["wall"]) / cold
        verdicts.append((f"{name}: warm / cold = {warm:.1%} (<= 10%)", warm <= 0.10))
        mem = runs["schedlint cold"]
        if "tree_rss_mb" in mem:
            verdicts.append(
                (
                    f"{name}: cold peak memory of the whole process tree: RSS sum "
                    f"{mem['tree_rss_mb']:.0f} MB, PSS sum {mem['tree_pss_mb']:.0f} MB, "
                    f"largest process {mem['maxrss_mb']:.0f} MB (torch: <= 300 MB)",
                    mem["tree_rss_mb"] <= 300 or "torch" not in name,
                )
            )
    out.append("")
    out.append(
        "Time split of one cold run (`schedlint --timings`: CPU s summed over the "
        "worker processes; the rest is wall s of the main process):"
    )
    for corpus, info in res["corpora"].items():
        s = info.get("split", {})
        if not s:
            continue
        parts = ", ".join(
            f"{k} {s[k]:.2f}"
            for k in ("read", "prefilter", "parse", "model", "rules", "gc")
            if k in s
        )
        start = s["wall"] - s.get("total", 0)
        out.append(
            f"- {Path(corpus).name}: {s.get('files', '?')} files, {s.get('parsed', '?')}"
            f" parsed with libcst; CPU: {parts}; wall: start-up and imports "
            f"{start:.2f}, discovery and configuration {s.get('discover', 0):.2f}, "
            f"checking {s.get('check', 0):.2f} ({s.get('workers', 1)} workers), project "
            f"rules {s.get('project rules', 0):.3f}, output {s.get('output', 0):.3f}; "
            f"total {s['wall']:.2f} s"
        )
    sf = res.get("single_file")
    if sf:
        w = sf["wall"]
        base = w["python -c 'import libcst'"]
        ratio = w["schedlint FILE"] / base
        out.append("")
        out.append(
            f"Single-file latency ({sf['file']}, {sf['lines']} lines; median wall): "
            f"`schedlint FILE` {w['schedlint FILE']:.3f} s; python start-up "
            f"{w['python -c pass']:.3f} s; start-up + `import libcst` {base:.3f} s; "
            f"ratio {ratio:.2f} (<= 2.0)"
        )
        verdicts.append(
            (f"single file: {ratio:.2f}x start-up + import libcst (<= 2x)", ratio <= 2.0)
        )
    out.append("")
    out.append("Targets:")
    out += [f"- [{'x' if ok else ' '}] {text}" for text, ok in verdicts]
    return "\n".join(out)


if __name__ == "__main__":
    sys.exit(main())
