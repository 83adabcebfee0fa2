"""The installed console script ``schedlint`` (and ``python -m schedlint``), run for real as
subprocesses: exit codes, every output format (json and SARIF validated), config and noqa,
stdin mode, a syntax error next to good files, bad config, --version, --statistics,
--exit-zero, selection with prefixes, --isolated, --config FILE, --jobs 1 vs 2.

Every invocation is declared in ``RUNS`` and they all run once per session, concurrently (each
start-up costs about a second); the tests then judge one run each.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from test_output_formats import assert_valid_json_findings, assert_valid_sarif

from schedlint import __version__
from schedlint.rules import by_code

OPTIMIZER = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
"""
WRITE = 'for g in optimizer.param_groups:\n    g["lr"] = 0.5\n'
BAD = OPTIMIZER + WRITE  # SL101 at 10:5
# SL101 at 10:5 and 13:5; the third write (line 16) carries a noqa.
BAD_NOQA = (
    OPTIMIZER
    + WRITE
    + "x = 1\n"
    + WRITE
    + "y = 2\n"
    + WRITE.replace("= 0.5\n", "= 0.5  # noqa: SL101\n")
)
GOOD = OPTIMIZER + 'for g in optimizer.param_groups:\n    g["lr"] = g["lr"] * 0.5\n'
BROKEN = "import torch\nopt = torch.optim.SGD(\n"  # SL001 at 2:22

TREE = {
    "pyproject.toml": "[tool.schedlint]\nselect = ['SL0', 'SL101']\n"
    "per-file-ignores = { 'legacy/*' = ['SL101'] }\n",
    "alt.toml": "select = ['SL001']\n",
    "a_broken.py": BROKEN,
    "b_bad.py": BAD_NOQA,
    "c_good.py": GOOD,
    "legacy/old.py": BAD,
    "sub/d_bad.py": BAD,
    "notes.txt": WRITE,
}
EXPECTED = [
    ("a_broken.py", 2, 22, "SL001"),
    ("b_bad.py", 10, 5, "SL101"),
    ("b_bad.py", 13, 5, "SL101"),
    ("sub/d_bad.py", 10, 5, "SL101"),
]
BAD_CONFIG = {"pyproject.toml": "[tool.schedlint]\nselectt = ['SL101']\n", "bad.py": BAD}
MANY = {
    "pyproject.toml": "[tool.schedlint]\nselect = ['SL0', 'SL101']\n",
    **{
        f"pkg{i % 3}/m{i:02d}.py": (BAD if i % 3 == 0 else BROKEN if i % 7 == 0 else GOOD)
        for i in range(40)
    },
}

S = object()  # stands for the console script in RUNS (filled in by the fixture)
RUNS = {
    # name: (tree, argv, stdin)
    "text": ("tree", [S, "."], None),
    "bare_vs_check": ("tree", [S, "check", "."], None),
    "json": ("tree", [S, "--output-format", "json", "."], None),
    "sarif": ("tree", [S, "--output-format", "sarif", "."], None),
    "github": ("tree", [S, "--output-format", "github", "."], None),
    "statistics": ("tree", [S, "--statistics", "."], None),
    "exit_zero": ("tree", [S, "--exit-zero", "."], None),
    "quiet": ("tree", [S, "--quiet", "."], None),
    "module": ("tree", [sys.executable, "-m", "schedlint", "--output-format", "json", "."], None),
    "clean": ("tree", [S, "c_good.py"], None),
    "select_prefix": ("tree", [S, "--select", "SL00", "."], None),
    "ignore_extend": (
        "tree",
        [S, "--select", "SL0", "--ignore", "SL001", "--extend-select", "SL10", "."],
        None,
    ),
    "isolated": ("tree", [S, "--isolated", "--select", "SL0,SL101", "."], None),
    "config_file": ("tree", [S, "--config", "alt.toml", "."], None),
    "stdin": ("tree", [S, "-", "--stdin-filename", "sub/from_editor.py"], BAD_NOQA),
    "usage": ("tree", [S, "--output-format", "xml", "."], None),
    "unknown_code": ("tree", [S, "--select", "SL9Z", "."], None),
    "version": ("tree", [S, "--version"], None),
    "rule": ("tree", [S, "rule", "SL101"], None),
    "bad_config": ("bad_config", [S, "."], None),
    "jobs1": ("many", [S, "--no-cache", "--jobs", "1", "--output-format", "json", "."], None),
    "jobs2": ("many", [S, "--no-cache", "--jobs", "2", "--output-format", "json", "."], None),
}
TEXT_LINE = re.compile(r"^(.+?):(\d+):(\d+): ([A-Z]+\d+) (.+)$")


def console_script() -> str:
    here = Path(sys.executable).parent / "schedlint"
    found = str(here) if here.exists() else shutil.which("schedlint")
    if not found:
        pytest.fail("the `schedlint` console script is not installed: pip install -e '.[dev]'")
    return found


def build(root: Path, files: dict) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    script = console_script()
    trees = {
        "tree": build(tmp_path_factory.mktemp("tree"), TREE),
        "bad_config": build(tmp_path_factory.mktemp("badcfg"), BAD_CONFIG),
        "many": build(tmp_path_factory.mktemp("many"), MANY),
    }
    env = {k: v for k, v in os.environ.items() if k != "SCHEDLINT_DEBUG"}

    def one(spec):
        tree, argv, stdin = spec
        argv = [script if a is S else a for a in argv]
        return subprocess.run(
            argv, cwd=trees[tree], input=stdin, capture_output=True, text=True, env=env, timeout=300
        )

    with ThreadPoolExecutor(max_workers=max(2, min(6, os.cpu_count() or 2))) as pool:
        done = dict(zip(RUNS, pool.map(one, RUNS.values())))
    for name, proc in done.items():
        assert "Traceback" not in proc.stdout + proc.stderr, (name, proc.stderr)
    return done


def text_rows(stdout):
    rows = []
    for line in stdout.splitlines():
        if rows and re.match(r"^  help: \S", line):
            continue  # the help of the finding on the line above
        m = TEXT_LINE.match(line)
        assert m, f"not a `path:line:col: CODE message` line: {line!r}"
        rows.append((m[1], int(m[2]), int(m[3]), m[4]))
    return rows


def json_rows(stdout):
    rows = json.loads(stdout)
    assert_valid_json_findings(rows)
    return [(r["path"], r["line"], r["column"], r["code"]) for r in rows]


def test_text_output_exit_1_and_summary(runs):
    proc = runs["text"]
    assert proc.returncode == 1
    assert text_rows(proc.stdout) == EXPECTED  # noqa'd line 16 and legacy/ (per-file) absent
    assert proc.stderr.splitlines()[0] == "Found 4 problems in 3 files."
    assert "syntax error" in proc.stdout and "one scalar lr `0.5`" in proc.stdout


def test_check_subcommand_is_the_same(runs):
    assert (runs["bare_vs_check"].returncode, runs["bare_vs_check"].stdout) == (
        runs["text"].returncode,
        runs["text"].stdout,
    )


def test_json_output(runs):
    proc = runs["json"]
    assert proc.returncode == 1 and proc.stderr == ""
    assert json_rows(proc.stdout) == EXPECTED
    row = json.loads(proc.stdout)[1]
    assert row["name"] == "scalar-lr-overwrite" and row["severity"] == "error"
    assert (row["end_line"], row["end_column"]) == (10, 18)


def test_python_dash_m_is_the_same_program(runs):
    assert runs["module"].args[:3] == [sys.executable, "-m", "schedlint"]
    assert (runs["module"].returncode, runs["module"].stderr) == (1, "")
    assert runs["module"].stdout == runs["json"].stdout


def test_sarif_output(runs):
    proc = runs["sarif"]
    assert proc.returncode == 1 and proc.stderr == ""
    run = assert_valid_sarif(json.loads(proc.stdout), findings_count=len(EXPECTED))
    got = [
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
            r["locations"][0]["physicalLocation"]["region"]["startColumn"],
            r["ruleId"],
        )
        for r in run["results"]
    ]
    assert got == EXPECTED
    ids = {d["id"] for d in run["tool"]["driver"]["rules"]}
    assert {"SL001", "SL002", "SL003", "SL101"} <= ids


def test_github_annotations(runs):
    proc = runs["github"]
    assert proc.returncode == 1 and proc.stderr == ""
    pattern = re.compile(
        r"^::(error|warning) file=([^,]+),line=(\d+),col=(\d+),"
        r"endLine=\d+,endColumn=\d+,title=([A-Z]+\d+)::(.+)$"
    )
    got = []
    for line in proc.stdout.splitlines():
        m = pattern.match(line)
        assert m, line
        assert m[6].startswith(m[5] + " ")
        got.append((m[2], int(m[3]), int(m[4]), m[5]))
    assert got == EXPECTED


def test_statistics(runs):
    proc = runs["statistics"]
    assert proc.returncode == 1
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [(r[0].strip(), r[1]) for r in rows] == [("1", "SL001"), ("3", "SL101")]
    assert proc.stderr.splitlines()[0] == "Found 4 problems in 3 files."


def test_exit_zero_and_quiet(runs):
    assert runs["exit_zero"].returncode == 0
    assert runs["exit_zero"].stdout == runs["text"].stdout
    assert runs["quiet"].returncode == 1
    assert runs["quiet"].stdout == runs["text"].stdout and runs["quiet"].stderr == ""


def test_clean_file_exit_0(runs):
    proc = runs["clean"]
    assert (proc.returncode, proc.stdout) == (0, "")
    assert proc.stderr.strip() == "All checks passed!"


def test_selection_with_prefixes(runs):
    assert runs["select_prefix"].returncode == 1
    assert text_rows(runs["select_prefix"].stdout) == EXPECTED[:1]
    assert runs["ignore_extend"].returncode == 1
    assert text_rows(runs["ignore_extend"].stdout) == EXPECTED[1:]


def test_isolated_ignores_the_config(runs):
    rows = text_rows(runs["isolated"].stdout)
    assert ("legacy/old.py", 10, 5, "SL101") in rows  # per-file-ignores no longer apply
    assert sorted(set(rows) - {("legacy/old.py", 10, 5, "SL101")}) == EXPECTED
    assert runs["isolated"].returncode == 1


def test_config_file_option(runs):
    proc = runs["config_file"]
    assert proc.returncode == 1
    assert text_rows(proc.stdout) == EXPECTED[:1]


def test_stdin_mode(runs):
    proc = runs["stdin"]
    assert proc.returncode == 1
    assert text_rows(proc.stdout) == [
        ("sub/from_editor.py", 10, 5, "SL101"),
        ("sub/from_editor.py", 13, 5, "SL101"),
    ]


def test_usage_errors_exit_2(runs):
    for name, word in (("usage", "xml"), ("unknown_code", "SL9Z")):
        proc = runs[name]
        assert proc.returncode == 2, name
        assert proc.stdout == "" and word in proc.stderr


def test_bad_config_exit_2_names_the_key(runs):
    proc = runs["bad_config"]
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "'selectt'" in proc.stderr and "pyproject.toml" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_version(runs):
    proc = runs["version"]
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"schedlint, version {__version__}"


def test_rule_command(runs):
    assert runs["rule"].returncode == 0
    assert runs["rule"].stdout == by_code()["SL101"].markdown()


def test_jobs_1_and_2_give_identical_output(runs):
    one, two = runs["jobs1"], runs["jobs2"]
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    rows = json_rows(one.stdout)
    expected_bad = sorted(f"pkg{i % 3}/m{i:02d}.py" for i in range(40) if i % 3 == 0)
    assert sorted(p for p, _, _, c in rows if c == "SL101") == expected_bad
    expected_broken = sorted(f"pkg{i % 3}/m{i:02d}.py" for i in range(40) if i % 3 and i % 7 == 0)
    assert sorted(p for p, _, _, c in rows if c == "SL001") == expected_broken


def test_checking_never_imports_torch(tmp_path):
    """The checker (and so the pre-commit hook) must work where torch is not installed."""
    build(tmp_path, {"pyproject.toml": "[tool.schedlint]\n", "train.py": BAD})
    probe = (
        "import sys\n"
        "from schedlint.cli import main\n"
        "for argv in (['--no-cache', '--output-format', 'sarif', 'train.py'],\n"
        "             ['rule', '--all'], ['rule', 'SL101']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TORCH', 'torch' in sys.modules, file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.stderr.strip().splitlines()[-1] == "TORCH False", proc.stderr
    assert '"ruleId": "SL101"' in proc.stdout
