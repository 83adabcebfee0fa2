"""Which files a run checks: the walk, default excludes, .gitignore, explicit files,
``--force-exclude`` (issue 2, "Files and configuration")."""

import os
from pathlib import Path

import pytest

from schedlint.check.files import discover
from schedlint.config import DEFAULT_EXCLUDES

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


def touch(root: Path, *names, text=""):
    for name in names:
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def found(paths, root, excludes=DEFAULT_EXCLUDES, **kw):
    """The discovered files, relative to ``root``, in discovery order."""
    result = discover([str(p) for p in paths], list(excludes), root, **kw)
    return [Path(f).resolve().relative_to(root.resolve()).as_posix() for f in result.files]


def test_walk_finds_python_files_recursively_in_a_stable_order(tmp_path):
    touch(
        tmp_path,
        "b.py",
        "a.py",
        "pkg/z.py",
        "pkg/sub/y.py",
        "notes.txt",
        "a.pyc",
        "pkg/data.json",
        "script",
    )
    got = found([tmp_path], tmp_path)
    assert sorted(got) == ["a.py", "b.py", "pkg/sub/y.py", "pkg/z.py"]
    assert got == found([tmp_path], tmp_path)
    assert got.index("a.py") < got.index("b.py")


@pytest.mark.parametrize(
    "folder",
    [
        ".git",
        ".venv",
        "venv",
        "__pycache__",
        "build",
        "dist",
        ".tox",
        "node_modules",
        "site-packages",
        "x.egg-info",
    ],
)
def test_default_excludes(tmp_path, folder):
    touch(tmp_path, f"{folder}/bad.py", f"src/{folder}/deep.py", "src/ok.py")
    assert found([tmp_path], tmp_path) == ["src/ok.py"]


def test_a_tree_under_an_excluded_folder_name_is_still_walked_when_named(tmp_path):
    # e.g. `schedlint .../site-packages/torch`: a folder *above* the named one is not an entry
    # of the walk, so it must not exclude the whole tree.
    touch(tmp_path, "site-packages/pkg/mod.py", "site-packages/pkg/__pycache__/mod.py")
    assert found([tmp_path / "site-packages" / "pkg"], tmp_path) == ["site-packages/pkg/mod.py"]
    elsewhere = tmp_path / "cwd"  # the config root (or cwd) is not above the named tree
    elsewhere.mkdir()
    outside = discover([str(tmp_path / "site-packages" / "pkg")], list(DEFAULT_EXCLUDES), elsewhere)
    assert outside.files == [str(tmp_path / "site-packages" / "pkg" / "mod.py")]


def test_named_tree_under_excluded_folder_through_the_cli(run_cli, tmp_path, monkeypatch):
    touch(tmp_path, "venv/lib/site-packages/pkg/train.py", text=BAD)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = run_cli(
        "--no-cache", "--select", "SL101", str(tmp_path / "venv/lib/site-packages/pkg")
    )
    assert result.exit_code == 1
    assert result.stdout.count(" SL101 ") == 1


def test_custom_excludes_replace_the_defaults(tmp_path):
    touch(tmp_path, "venv/a.py", "gen/b.py", "src/gen_c.py", "src/d.py")
    assert found([tmp_path], tmp_path, excludes=["gen", "gen_*.py"]) == ["src/d.py", "venv/a.py"]
    assert found([tmp_path], tmp_path, excludes=["src/*.py"]) == ["gen/b.py", "venv/a.py"]


def test_explicit_files_are_always_checked(tmp_path):
    touch(tmp_path, "build/gen.py", "ignored.py", "script", ".gitignore")
    (tmp_path / ".gitignore").write_text("ignored.py\n")
    named = [tmp_path / "build" / "gen.py", tmp_path / "ignored.py", tmp_path / "script"]
    assert found(named, tmp_path, excludes=list(DEFAULT_EXCLUDES) + ["script"]) == [
        "build/gen.py",
        "ignored.py",
        "script",
    ]
    assert found([tmp_path], tmp_path) == []  # the same files, walked, are all skipped


def test_force_exclude_applies_excludes_to_explicit_files(tmp_path):
    touch(tmp_path, "build/gen.py", "fixtures/x/bad.py", "src/ok.py", "src/old_y.py")
    excludes = list(DEFAULT_EXCLUDES) + ["fixtures", "src/old_*.py"]
    named = [
        tmp_path / p for p in ("build/gen.py", "fixtures/x/bad.py", "src/ok.py", "src/old_y.py")
    ]
    assert found(named, tmp_path, excludes, force_exclude=True) == ["src/ok.py"]
    assert len(found(named, tmp_path, excludes)) == 4


def test_force_exclude_through_the_cli(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path, "pyproject.toml", text="[tool.schedlint]\nextend-exclude = ['vendored']\n")
    touch(tmp_path, "vendored/lib.py", "src/train.py", text=BAD)
    args = ["--no-cache", "--select", "SL101", "vendored/lib.py", "src/train.py"]
    both = run_cli(*args)
    assert {
        line.split(":")[0] for line in both.stdout.splitlines() if not line.startswith("  help: ")
    } == {"vendored/lib.py", "src/train.py"}
    forced = run_cli("--force-exclude", *args)
    assert forced.exit_code == 1
    assert {
        line.split(":")[0] for line in forced.stdout.splitlines() if not line.startswith("  help: ")
    } == {"src/train.py"}
    only_excluded = run_cli("--force-exclude", "--no-cache", "vendored/lib.py")
    assert (only_excluded.exit_code, only_excluded.stdout) == (0, "")


def test_gitignore_is_respected(tmp_path):
    (tmp_path / ".gitignore").write_text(
        "# generated code\ngen_*.py\nout/\n!gen_keep.py\n/top_only.py\ndocs/_build/\n"
    )
    touch(
        tmp_path,
        "gen_a.py",
        "src/gen_b.py",
        "gen_keep.py",
        "out/x.py",
        "src/out/y.py",
        "top_only.py",
        "src/top_only.py",
        "docs/_build/z.py",
        "docs/conf.py",
        "src/ok.py",
    )
    assert sorted(found([tmp_path], tmp_path)) == [
        "docs/conf.py",
        "gen_keep.py",
        "src/ok.py",
        "src/top_only.py",
    ]
    assert len(found([tmp_path], tmp_path, respect_gitignore=False)) == 10


def test_nested_gitignore_applies_below_its_folder_only(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / ".gitignore").write_text("local.py\n")
    touch(tmp_path, "local.py", "pkg/local.py", "pkg/sub/local.py", "pkg/kept.py")
    assert sorted(found([tmp_path], tmp_path)) == ["local.py", "pkg/kept.py"]


def test_gitignore_above_the_walked_folder_applies(tmp_path):
    (tmp_path / ".gitignore").write_text("secret_*.py\n")
    touch(tmp_path, "src/secret_a.py", "src/b.py")
    assert found([tmp_path / "src"], tmp_path) == ["src/b.py"]


def test_gitignore_through_the_cli(run_cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    touch(tmp_path, "pyproject.toml", text="[tool.schedlint]\n")
    (tmp_path / ".gitignore").write_text("scratch/\n")
    touch(tmp_path, "scratch/try.py", text=BAD)
    assert run_cli("--no-cache", ".").exit_code == 0
    result = run_cli("--no-cache", "--no-respect-gitignore", "--select", "SL101", ".")
    assert result.exit_code == 1 and result.stdout.startswith("scratch/try.py:10:5: SL101 ")


def test_each_file_once(tmp_path):
    touch(tmp_path, "a.py", "pkg/b.py")
    got = found(
        [tmp_path / "a.py", tmp_path, tmp_path / "pkg", tmp_path / "pkg" / "b.py"], tmp_path
    )
    assert got == ["a.py", "pkg/b.py"]


def test_symlink_loop_is_a_warning_not_a_hang(tmp_path):
    touch(tmp_path, "pkg/a.py")
    os.symlink(tmp_path / "pkg", tmp_path / "pkg" / "loop")
    result = discover([str(tmp_path)], list(DEFAULT_EXCLUDES), tmp_path)
    assert [Path(f).name for f in result.files] == ["a.py"]
    assert any("symlink" in w for w in result.warnings)


def test_a_missing_path_is_a_usage_error(tmp_path, run_cli, monkeypatch):
    result = discover([str(tmp_path / "nope.py")], list(DEFAULT_EXCLUDES), tmp_path)
    assert result.files == [] and result.missing == [str(tmp_path / "nope.py")]
    monkeypatch.chdir(tmp_path)
    for args in (("nope.py",), ("nope/",), ("--exit-zero", "nope/")):
        cli = run_cli("--no-cache", *args)
        assert cli.exit_code == 2, args
        assert cli.stdout == ""
        assert f"error: {args[-1]}: No such file or directory" in cli.stderr
        assert "All checks passed" not in cli.stderr
