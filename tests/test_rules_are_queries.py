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
# The package's __init__ is the catalogue: it reads the rule modules' own declarations with
# ``ast`` (never the checked code), so it is the one module here that walks a tree.
RULE_MODULES = sorted(p.name for p in RULES_DIR.glob("*.py") if p.name != "__init__.py")
FORBIDDEN_IMPORTS = ("libcst", "schedlint.model.cstwalk", "ast")
WALK_CALLS = ("visit", "walk")
# The checked file's text and syntax root: a rule that reads them searches the source itself
# (comments and strings included) instead of asking the model.
SOURCE_ATTRIBUTES = ("source", "source_lines", "module", "code_for_node")


def _forbidden(name: str) -> bool:
    return any(name == f or name.startswith(f + ".") for f in FORBIDDEN_IMPORTS)


def _violations(path: Path) -> list:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                f"line {node.lineno}: import {a.name}" for a in node.names if _forbidden(a.name)
            ]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if _forbidden(node.module):
                found.append(f"line {node.lineno}: from {node.module} import ...")
            elif node.module == "schedlint.model" and any(a.name == "cstwalk" for a in node.names):
                found.append(f"line {node.lineno}: from schedlint.model import cstwalk")
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else func.id
                if isinstance(func, ast.Name)
                else None
            )
            if name in WALK_CALLS:
                found.append(f"line {node.lineno}: calls {name}()")
        elif isinstance(node, ast.Attribute) and node.attr in SOURCE_ATTRIBUTES:
            found.append(f"line {node.lineno}: reads .{node.attr}")
    return found


def test_every_rule_module_is_checked():
    assert "base.py" in RULE_MODULES and "step_order.py" in RULE_MODULES
    assert len(RULE_MODULES) > 20


@pytest.mark.parametrize("module", RULE_MODULES)
def test_rule_module_reads_the_model_only(module):
    assert _violations(RULES_DIR / module) == []


def test_the_check_sees_a_walking_rule(tmp_path):
    rule = tmp_path / "walker.py"
    rule.write_text(
        "import libcst as cst\nfrom schedlint.model import cstwalk\n"
        "from schedlint.model.cstwalk import children\n"
        "def check(model):\n    model.module.visit(None)\n"
        "    for n in cstwalk.walk(model.root):\n        pass\n"
        "    return 'initial_lr' in model.source\n"
    )
    assert sorted(_violations(rule)) == [
        "line 1: import libcst",
        "line 2: from schedlint.model import cstwalk",
        "line 3: from schedlint.model.cstwalk import ...",
        "line 5: calls visit()",
        "line 5: reads .module",
        "line 6: calls walk()",
        "line 8: reads .source",
    ]
