"""The architecture holds: the contracts of ``[tool.importlinter]`` in pyproject.toml (the
checker never imports torch, the guard never imports libcst, rules never import the CLI, the
reports or the engine, the model never imports the rules), no import cycle inside schedlint, and
no private name imported from another schedlint module.

Cycles and private names are read here from the AST of every module of ``schedlint/``, imports
inside functions included: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "schedlint"


def _modules() -> dict:
    """{dotted module name: path} for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path):
    """(imported module, imported name or None, line) for every import in the module."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            for alias in node.names:
                yield target, alias.name, node.lineno


def _graph() -> dict:
    """{module: {schedlint module it imports}}; ``from pkg import mod`` is an edge to pkg.mod."""
    graph = {}
    for name, path in MODULES.items():
        edges = graph.setdefault(name, set())
        for target, imported, _ in _imports(name, path):
            full = f"{target}.{imported}" if imported else None
            if full in MODULES:
                edges.add(full)
            elif target in MODULES:
                edges.add(target)
            elif target and target.startswith("schedlint."):
                # `import schedlint.a.b`: the deepest module of the chain that exists
                parts = target.split(".")
                while parts and ".".join(parts) not in MODULES:
                    parts.pop()
                if parts:
                    edges.add(".".join(parts))
        edges.discard(name)
    return graph


def _cycles(graph: dict) -> list:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out = {}, {}, set(), [], []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_import_linter_contracts_hold():
    pytest.importorskip("importlinter", reason="import-linter is in the dev extra")
    # --no-cache: nothing written into the checkout.
    script = ("import sys; from importlinter.cli import lint_imports_command; "
              "sys.exit(lint_imports_command())")
    proc = subprocess.run([sys.executable, "-c", script, "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "0 broken" in proc.stdout


def test_the_cycle_finder_finds_cycles():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


# Fails until the engine split lands (issue 11): engine <-> notebook <-> fixes, and
# cli <-> replay <-> cache, are being removed by that rewrite; this test stays strict meanwhile.
def test_no_import_cycles():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles inside schedlint:\n" + "\n".join(
        " <-> ".join(c) for c in cycles)


# Fails until the engine split lands (issue 11): notebook uses engine._builtin/_selected and
# fixes._diff_lines, cache uses replay._code_stamp; the documents/cache rewrite removes them.
def test_no_private_name_is_imported_from_another_module():
    found = []
    for name, path in MODULES.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target, imported, line in _imports(name, path):
            if not imported or not target or not target.startswith("schedlint") or \
                    target == name or not imported.startswith("_") or imported.startswith("__"):
                continue
            # A package's private helper module, used inside that package, is its own business.
            if f"{target}.{imported}" in MODULES and target == package:
                continue
            found.append(f"{path.relative_to(ROOT)}:{line}: from {target} import {imported}")
    assert not found, "private names imported across modules:\n" + "\n".join(found)
