"""Rules read facts through the model's query API; they never walk syntax themselves.

Issue 12 ("rules become queries"): a rule that imports libcst or the model's tree walker, or
walks a tree, grows its own private reading of the code that the model (and its value flow,
caches and in-tree imports) never sees. Checked on the rule modules' own syntax, with ``ast``.
"""

import ast
from pathlib import Path

import pytest

import schedlint.rules

RULES_DIR = Path(schedlint.rules.__file__).parent
RULE_MODULES = sorted(p.name for p in RULES_DIR.glob("*.py"))
FORBIDDEN_IMPORTS = ("libcst", "schedlint.model.cstwalk")
WALK_CALLS = ("visit", "walk")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def _violations(path: Path) -> list:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names
                      if _forbidden(a.name)]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden(node.module):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module == "schedlint.model" and \
                    any(a.name == "cstwalk" for a in node.names):
                found.append(f"line {node.lineno}: from schedlint.model import cstwalk")
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else \
                func.id if isinstance(func, ast.Name) else None
            if name in WALK_CALLS:
                found.append(f"line {node.lineno}: calls {name}()")
    return found


def test_every_rule_module_is_checked():
    assert "base.py" in RULE_MODULES and len(RULE_MODULES) > 20


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rule_module_reads_the_model_only(module):
    assert _violations(RULES_DIR / module) == []


def test_the_check_sees_a_walking_rule(tmp_path):
    rule = tmp_path / "walker.py"
    rule.write_text("import libcst as cst\nfrom schedlint.model import cstwalk\n"
                    "from schedlint.model.cstwalk import children\n"
                    "def check(model):\n    model.module.visit(None)\n"
                    "    for n in cstwalk.walk(model.module):\n        pass\n")
    assert len(_violations(rule)) == 5
