"""The pre-commit hook: the manifest passes pre-commit's own validation, and the hook really runs
through ``pre-commit try-repo`` on a throwaway git repository (issue 2, "Tests and fixtures").

try-repo installs the hook into its own virtualenv from a git repository. It would take this
repository's committed HEAD plus tracked modifications, but not untracked files, so the test
commits a snapshot of the working tree (pyproject.toml, README.md, .pre-commit-hooks.yaml and
the schedlint package) into a temporary repository and points try-repo at that.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / ".pre-commit-hooks.yaml"

BAD = """import torch
from torch import optim

model = torch.nn.Linear(2, 2)
optimizer = optim.SGD(
    [{"params": model.weight, "lr": 0.1}, {"params": model.bias, "lr": 0.01}],
    momentum=0.9,
)
for g in optimizer.param_groups:
    g["lr"] = 0.5
"""  # SL101 at 10:5


def _hook():
    clientlib = pytest.importorskip(
        "pre_commit.clientlib", reason="pre-commit is not installed (pip install -e '.[dev]')"
    )
    hooks = clientlib.load_manifest(str(MANIFEST))
    assert [h["id"] for h in hooks] == ["schedlint"]
    return hooks[0]


def test_manifest_passes_pre_commits_validation():
    hook = _hook()
    assert hook["language"] == "python"
    assert "python" in hook["types_or"]
    assert hook["require_serial"] is True
    assert hook["pass_filenames"] is True
    command = hook["entry"].split() + list(hook["args"])
    assert command[0] == "schedlint"
    assert "--force-exclude" in command


def test_manifest_passes_validate_manifest_command():
    _hook()
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hook_never_pulls_torch():
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert not [d for d in deps if d.lower().startswith("torch")]
    assert not _hook()["additional_dependencies"]


def _git(cwd, *args):
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def _snapshot(dest: Path):
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "schedlint",
        dest / "schedlint",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", "snapshot")


def _try_repo(hook_repo, target, home):
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env.pop("VIRTUAL_ENV", None)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pre_commit",
            "try-repo",
            str(hook_repo),
            "schedlint",
            "--all-files",
            "--color",
            "never",
        ],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return proc, proc.stdout + proc.stderr


# What pip prints when the package index cannot be reached (no network, no mirror).
NO_INDEX = (
    "Could not find a version that satisfies",
    "No matching distribution found",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "NewConnectionError",
    "ProxyError",
    "SSLError",
    "ConnectTimeoutError",
    "Read timed out",
)


def _skip_if_not_installed(proc, output):
    # Only an index that cannot be reached is a reason to skip. A hook environment that fails
    # to build for any other reason (a broken pyproject.toml, a missing package) is a failure,
    # and once the hook ran, everything it did is asserted.
    if "- hook id: schedlint" in output or "schedlint....." in output:
        return
    cause = next(
        (line.strip() for line in output.splitlines() if any(sign in line for sign in NO_INDEX)),
        None,
    )
    if cause is not None:
        pytest.skip(f"pre-commit could not install the hook's environment: {cause}")
    pytest.fail(f"pre-commit try-repo did not run the hook (exit {proc.returncode}):\n{output}")


def test_hook_runs_for_real_through_try_repo(tmp_path):
    _hook()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    hook_repo = tmp_path / "hook-repo"
    _snapshot(hook_repo)
    target = tmp_path / "target"
    target.mkdir()
    (target / "pyproject.toml").write_text(
        "[tool.schedlint]\nselect = ['SL0', 'SL101']\nextend-exclude = ['vendored']\n"
    )
    (target / "train.py").write_text(BAD)
    (target / "vendored").mkdir()
    (target / "vendored" / "third_party.py").write_text(BAD)  # excluded: --force-exclude
    (target / "clean.py").write_text("x = 1\n")
    (target / "notes.txt").write_text("lr = 0.5 not python\n")
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    home = tmp_path / "pre-commit-home"

    proc, output = _try_repo(hook_repo, target, home)
    _skip_if_not_installed(proc, output)
    assert proc.returncode == 1, output
    assert "Failed" in output and "- exit code: 1" in output
    assert "train.py:10:5: SL101 " in output
    report = output.split("- hook id: schedlint", 1)[1]
    assert "vendored" not in report and "notes.txt" not in report
    assert "Found 1 problem in 1 file." in report
    assert "Traceback" not in output


def _readme_local_config() -> str:
    """The first yaml block of the README's pre-commit section (the `repo: local` one)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### pre-commit", 1)[1]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_readme_snippet_works_as_written(tmp_path):
    """The README's snippet, copied verbatim, runs the installed schedlint (issue 16: the old
    snippet named `rev: v0.1.0`, a tag that does not exist)."""
    _hook()
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    exe = Path(sys.executable).with_name("schedlint")
    if not exe.exists():
        pytest.skip("the schedlint console script is not installed next to this python")
    config = _readme_local_config()
    assert "repo: local" in config and "rev:" not in config
    target = tmp_path / "target"
    target.mkdir()
    (target / ".pre-commit-config.yaml").write_text(config)
    (target / "train.py").write_text(BAD)
    (target / "clean.py").write_text("x = 1\n")
    _git(target, "init", "-q")
    _git(target, "add", "-A")
    env = {
        **os.environ,
        "PRE_COMMIT_HOME": str(tmp_path / "home"),
        "PRE_COMMIT_COLOR": "never",
        "PATH": f"{exe.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files", "--color", "never"],
        cwd=target,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "train.py:10:5: SL101 " in output and "Found 1 problem in 1 file." in output
    assert "Traceback" not in output
