"""The checker never imports or executes the code it reads.

Every file in the tree below would create a marker file if it were imported or executed (at its
top level, in a decorator, a default argument, a class body, a metaclass, an ``__init__.py``, a
``conftest.py``, a ``setup.py``, a ``sitecustomize.py``, a ``__main__.py``). Each also mentions an
optimizer so the prefilter admits it and it is parsed and modelled, not skipped. A control test
executes the same payload with Python to prove the marker mechanism works, so the "never
appears" assertions can fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from schedlint.check.engine import check_paths, check_source
from schedlint.check.options import Options
from schedlint.rules import all_rules

ROOT = Path(__file__).resolve().parents[2]
KNOWN_BAD = ROOT / "fixtures" / "SL101" / "bad_warmup_loop.py"
ALL_CODES = frozenset(r.code for r in all_rules() if r.kind != "guard")
MODULE = "schedlint_never_imported_pkg"


def _payload(marker: Path, tag: str) -> str:
    # Writes "<tag>" to the marker file (append, so several executions all show).
    return f"open({str(marker)!r}, 'a').write({tag!r} + '\\n')"


def _tree(root: Path, marker: Path) -> list[Path]:
    """A package whose every file would leave a trace in ``marker`` when run."""
    pkg = root / MODULE
    pkg.mkdir(parents=True)
    opt = (
        "import torch\n"
        "model = torch.nn.Linear(2, 2)\n"
        "optimizer = torch.optim.SGD([{'params': model.weight, 'lr': 0.1},\n"
        "                             {'params': model.bias, 'lr': 0.01}])\n"
        "scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=3)\n"
    )
    files = {
        pkg / "__init__.py": f"{_payload(marker, 'init')}\n{opt}",
        pkg / "__main__.py": f"{_payload(marker, 'main')}\n{opt}",
        pkg / "train.py": (
            f"import os\n{_payload(marker, 'toplevel')}\n{opt}"
            "def deco(f):\n"
            f"    {_payload(marker, 'decorator')}\n"
            "    return f\n"
            "@deco\n"
            f"def step(x=({_payload(marker, 'default')})):\n"
            "    optimizer.step(); scheduler.step()\n"
            "class Meta(type):\n"
            "    def __new__(mcls, *a):\n"
            f"        {_payload(marker, 'metaclass')}\n"
            "        return super().__new__(mcls, *a)\n"
            "class Body(metaclass=Meta):\n"
            f"    {_payload(marker, 'classbody')}\n"
            "if __name__ == '__main__':\n"
            f"    {_payload(marker, 'dunder-main')}\n"
            "for g in optimizer.param_groups:\n"
            "    g['lr'] = 1e-3\n"
        ),
        pkg / "conftest.py": f"{_payload(marker, 'conftest')}\n{opt}",
        pkg / "sitecustomize.py": f"{_payload(marker, 'sitecustomize')}\n{opt}",
        pkg / "broken.py": (
            f"{_payload(marker, 'broken')}\n{opt}def oops(:\n    pass\n"
        ),  # compile() must not be followed by exec
        root / "setup.py": f"{_payload(marker, 'setup')}\n{opt}",
        root / "bad.py": KNOWN_BAD.read_text(),
    }
    for path, text in files.items():
        path.write_text(text)
    (root / "pyproject.toml").write_text("[tool.schedlint]\nselect = ['ALL']\n")
    return sorted(files)


def test_control_the_payload_does_create_the_marker(tmp_path):
    marker = tmp_path / "marker.txt"
    files = _tree(tmp_path / "tree", marker)
    train = next(p for p in files if p.name == "train.py")
    # Without torch the payload still runs before `import torch` fails; run it standalone.
    script = tmp_path / "payload_only.py"
    script.write_text(train.read_text().split("import torch")[0])
    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    assert marker.read_text() == "toplevel\n"


def _assert_no_marker(marker: Path):
    assert not marker.exists(), f"input code was executed: {marker.read_text()!r}"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_run_never_executes_input(tmp_path, jobs):
    marker = tmp_path / "marker.txt"
    root = tmp_path / "tree"
    _tree(root, marker)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDLINT_")}
    # cwd is the tree itself, so a naive `import` of a checked module would find it.
    env["PYTHONPATH"] = str(root)
    for args in (
        ["--check-syntax"],
        ["--select", "ALL", "--output-format", "json"],
        ["--fix", "--unsafe-fixes", "--diff"],
    ):
        result = subprocess.run(
            [sys.executable, "-m", "schedlint", "--no-cache", "--jobs", jobs, *args, "."],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode in (0, 1), result.stderr
        assert "Traceback" not in result.stderr
        _assert_no_marker(marker)
    # The run really looked at the files: the known-bad sample and the broken file are reported.
    result = subprocess.run(
        [sys.executable, "-m", "schedlint", "--no-cache", "--jobs", jobs, "."],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "bad.py:16:9: SL101" in result.stdout
    assert "broken.py:" in result.stdout and "SL001" in result.stdout
    assert "train.py:" in result.stdout  # its param-group write under a scheduler is flagged
    _assert_no_marker(marker)


def test_stdin_mode_never_executes_input(tmp_path):
    marker = tmp_path / "marker.txt"
    files = _tree(tmp_path / "tree", marker)
    source = next(p for p in files if p.name == "train.py").read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "schedlint", "--no-cache", "-", "--stdin-filename", "train.py"],
        input=source,
        cwd=tmp_path / "tree",
        capture_output=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    assert b"train.py:" in result.stdout
    _assert_no_marker(marker)


def test_engine_api_never_imports_input(tmp_path, monkeypatch):
    marker = tmp_path / "marker.txt"
    root = tmp_path / "tree"
    files = _tree(root, marker)
    monkeypatch.syspath_prepend(str(root))
    before = set(sys.modules)
    results = check_paths(
        [str(p) for p in files], Options(codes=ALL_CODES, jobs=1, check_syntax=True)
    )
    for path in files:
        check_source(str(path), None, ALL_CODES)
    _assert_no_marker(marker)
    assert not {
        m
        for m in set(sys.modules) - before
        if m.startswith(MODULE) or m in ("setup", "conftest", "sitecustomize", "train", "bad")
    }
    assert sum(r.parsed for r in results) >= len(files) - 1  # all but the broken one parsed
