"""The architecture contracts (docs/architecture.md, "Contracts") hold, and each check catches a
copy of the package that breaks it.

The import contracts live in pyproject.toml (`[tool.importlinter]`) and are checked by
import-linter; which names are private is checked here over the syntax trees, since
import-linter sees modules, not names.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

needs_import_linter = pytest.mark.skipif(
    not LINT_IMPORTS.exists(),
    reason=f"import-linter is not installed next to {sys.executable} (pip install -e '.[dev]')",
)


def _lint_imports(root: Path) -> subprocess.CompletedProcess:
    """Runs import-linter over the `schedlint` package found under ``root`` with the contracts
    of ``root``/pyproject.toml."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_package(tmp_path: Path) -> Path:
    shutil.copytree(
        ROOT / "schedlint", tmp_path / "schedlint", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _add_line(root: Path, relpath: str, line: str) -> None:
    path = root / relpath
    text = path.read_text(encoding="utf-8")
    # After `from __future__`, the module docstring and the existing imports would also do; the
    # end of the module is always a legal place for an import.
    path.write_text(text + "\n" + line + "\n", encoding="utf-8")


@needs_import_linter
def test_import_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " BROKEN" not in result.stdout


BROKEN_COPIES = [
    # (file of the copy, the line added to it, the contract it breaks)
    ("schedlint/check/gate.py", "import torch", "The checker never imports torch"),
    # Indirectly: the report would pull in the guard, which imports torch.
    (
        "schedlint/report/console.py",
        "from schedlint.guard import lrs",
        "The checker never imports torch",
    ),
    ("schedlint/config.py", "import transformers", "The checker never imports torch"),
    ("schedlint/guard/intent.py", "import libcst", "The guard never imports libcst"),
    (
        "schedlint/guard/registry.py",
        "from schedlint.model import numbers",
        "The guard never imports libcst",
    ),
    (
        "schedlint/rules/base.py",
        "from schedlint.report import findings",
        "Rules never import the CLI, the reports or the check pipeline",
    ),
    (
        "schedlint/rules/group_key_unused.py",
        "from schedlint import cli",
        "Rules never import the CLI, the reports or the check pipeline",
    ),
    (
        "schedlint/model/lines.py",
        "from schedlint.rules import base",
        "The model never imports rules",
    ),
    # A cycle between two modules: documents already imports edits.
    (
        "schedlint/check/edits.py",
        "from schedlint.check import documents",
        "No import cycles, between modules or between packages",
    ),
    # A cycle between two packages: check already imports the model.
    (
        "schedlint/model/lines.py",
        "from schedlint.check import edits",
        "No import cycles, between modules or between packages",
    ),
]


@needs_import_linter
@pytest.mark.parametrize(
    "relpath, line, contract", BROKEN_COPIES, ids=[f"{p}:{line}" for p, line, _c in BROKEN_COPIES]
)
def test_import_contracts_catch_a_broken_copy(tmp_path, relpath, line, contract):
    root = _copy_package(tmp_path)
    _add_line(root, relpath, line)
    result = _lint_imports(root)
    assert result.returncode != 0, result.stdout
    assert f"{contract} BROKEN" in result.stdout, result.stdout


# What running each half imports, package __init__ modules included (which import-linter does not
# count as imports of the modules under them).
_CHECKER_RUN = """
import sys
import schedlint.cli, schedlint.config
import schedlint.check.engine, schedlint.check.fixes, schedlint.check.cache
import schedlint.check.pool, schedlint.check.notebook
import schedlint.report.formats, schedlint.report.ruledocs
from schedlint.rules import all_rules
all_rules()
print(sorted(m for m in ("torch", "lightning", "transformers") if m in sys.modules))
"""
_GUARD_RUN = """
import sys
import schedlint.guard, schedlint.guard.runner, schedlint.guard.codes, schedlint.auto
print(sorted(m for m in ("libcst",) if m in sys.modules))
"""


def _imported(code: str, root: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_running_the_checker_loads_no_torch_and_the_guard_no_libcst():
    assert _imported(_CHECKER_RUN, ROOT) == "[]"
    assert _imported(_GUARD_RUN, ROOT) == "[]"


def test_running_the_checker_catches_a_package_init_that_loads_torch(tmp_path):
    root = _copy_package(tmp_path)
    _add_line(root, "schedlint/__init__.py", "import schedlint.guard.lrs")
    assert _imported(_CHECKER_RUN, root) == "['torch']"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _modules(package_dir: Path) -> dict:
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def private_name_uses(package_dir: Path, exempt=frozenset()) -> list:
    """``file:line: what`` for each use of another module's private name under
    ``package_dir``: ``from m import _x``, ``import p._m`` / ``from p._m import x`` (a private
    module is private to itself, not to its package), and ``m._x`` where ``m`` names a module of
    the package. Imports of a module in ``exempt`` are not reported."""
    package = package_dir.name
    modules = _modules(package_dir)
    found = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        where = f"{path.relative_to(package_dir.parent)}"
        module_names = {}  # local name -> the package's module it is bound to
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join(parts + ([node.module] if node.module else []))
                if base.split(".")[0] != package:
                    continue
                if base not in exempt and any(_is_private(p) for p in base.split(".")):
                    found.append(f"{where}:{node.lineno}: from {base} import")
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    if _is_private(alias.name) and full not in exempt:
                        found.append(f"{where}:{node.lineno}: from {base} import {alias.name}")
                    if full in modules:
                        module_names[alias.asname or alias.name] = full
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] != package:
                        continue
                    if alias.name not in exempt and any(
                        _is_private(p) for p in alias.name.split(".")
                    ):
                        found.append(f"{where}:{node.lineno}: import {alias.name}")
                    if alias.asname:
                        module_names[alias.asname] = alias.name
                    else:
                        module_names[package] = package
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Attribute) and _is_private(node.attr)):
                continue
            chain, value = [], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            if isinstance(value, ast.Name) and value.id in module_names:
                owner = ".".join([module_names[value.id], *reversed(chain)])
                if owner != name and owner in modules:
                    found.append(f"{where}:{node.lineno}: {owner}.{node.attr}")
    return sorted(found, key=lambda f: (f.split(":")[0], int(f.split(":")[1])))


def test_no_private_name_is_used_across_modules():
    assert private_name_uses(ROOT / "schedlint") == []


def test_private_name_check_catches_each_kind_of_use(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "_hidden.py").write_text("VALUE = 1\n")
    (pkg / "sub" / "helpers.py").write_text(
        "def _inner():\n    pass\n\ndef _self():\n    _self()\n"
    )
    (pkg / "user.py").write_text(
        "from pkg.sub.helpers import _inner\n"
        "from pkg.sub._hidden import VALUE\n"
        "import pkg.sub._hidden\n"
        "from pkg.sub import helpers\n"
        "from .sub import helpers as h\n"
        "import pkg.sub.helpers as hh\n"
        "import pkg\n"
        "helpers._inner()\n"
        "h._inner()\n"
        "hh._inner()\n"
        "pkg.sub.helpers._inner()\n"
        "helpers.public()._private\n"  # an object's attribute, not the module's name
        "from os import _exit\n"  # another project's privacy is not this test's business
    )
    found = private_name_uses(pkg)
    assert found == [
        "pkg/user.py:1: from pkg.sub.helpers import _inner",
        "pkg/user.py:2: from pkg.sub._hidden import",
        "pkg/user.py:3: import pkg.sub._hidden",
        "pkg/user.py:8: pkg.sub.helpers._inner",
        "pkg/user.py:9: pkg.sub.helpers._inner",
        "pkg/user.py:10: pkg.sub.helpers._inner",
        "pkg/user.py:11: pkg.sub.helpers._inner",
    ], found
    assert private_name_uses(pkg, exempt={"pkg.sub._hidden"}) == found[:1] + found[3:]


def layout_modules(markdown: str) -> set:
    """The module paths (``schedlint/check/cache.py``) that the tree picture under
    "## Package layout" names; ``<rule>.py`` stands for every rule module."""
    section = markdown.split("## Package layout", 1)[1]
    picture = section.split("```", 2)[1]
    paths, stack = set(), []
    for line in picture.splitlines():
        name_at = len(re.match(r"[│├└─\s]*", line).group())
        name = line[name_at:].split(" ", 1)[0]
        if not name:
            continue
        depth = name_at // 4
        del stack[depth:]
        if name.endswith("/"):
            stack.append(name.rstrip("/"))
        else:
            paths.add("/".join(stack + [name]))
    return paths


def test_package_layout_picture_names_every_module():
    pictured = layout_modules((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    real = {p.relative_to(ROOT).as_posix() for p in (ROOT / "schedlint").rglob("*.py")}
    rule_modules = {
        p
        for p in real - pictured
        if p.startswith("schedlint/rules/")
        and p.count("/") == 2
        and not p.rpartition("/")[2].startswith("_")
    }
    assert "schedlint/rules/<rule>.py" in pictured and rule_modules
    assert sorted(real - rule_modules - pictured) == [], "modules missing from the picture"
    assert sorted(pictured - real - {"schedlint/rules/<rule>.py"}) == [], (
        "the picture names modules that do not exist"
    )


def test_layout_picture_parser_reads_nesting():
    markdown = (
        "## Package layout\n\n```\npkg/\n├── a.py      text\n├── sub/\n"
        "│   ├── b.py  text\n│   └── deeper/\n│       └── c.py\n└── d.py\n```\n"
    )
    assert layout_modules(markdown) == {
        "pkg/a.py",
        "pkg/sub/b.py",
        "pkg/sub/deeper/c.py",
        "pkg/d.py",
    }
