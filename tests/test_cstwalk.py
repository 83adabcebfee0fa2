"""schedlint.model.cstwalk visits exactly what libcst's own traversal visits, in the same order.

The model builder relies on it (facts are ordered by visiting order), so the check runs a
visitor that records every visit and leave, once through ``node.visit`` (libcst) and once
through :func:`schedlint.model.cstwalk.walk`, over every fixture and a slice of the standard
library, and compares the logs. Two visitors: one with methods for every node class (token
and whitespace nodes included: the walk hands it to libcst's own visit), one without the token
classes (the walk then skips token subtrees and token fields, which must not hide any other
node).
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import libcst as cst
import pytest

from schedlint.model.cstwalk import TOKEN_CLASSES, code_children, positions, walk

ROOT = Path(__file__).resolve().parent.parent


def _node_classes():
    out, stack = set(), [cst.CSTNode]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if getattr(cst, sub.__name__, None) is sub:
                out.add(sub)
    return sorted(out, key=lambda c: c.__name__)


def _recorder(with_tokens: bool):
    def make(kind):
        return lambda self, node: self.log.append((kind, type(node).__name__, id(node)))

    ns = {"__init__": lambda self: (cst.CSTVisitor.__init__(self), setattr(self, "log", []))
          and None}
    for cls in _node_classes():
        if not with_tokens and issubclass(cls, TOKEN_CLASSES):
            continue
        ns[f"visit_{cls.__name__}"] = make("visit")
        ns[f"leave_{cls.__name__}"] = make("leave")
    return type("Recorder", (cst.CSTVisitor,), ns)


RECORDERS = [_recorder(True), _recorder(False)]


def _sources():
    files = sorted((ROOT / "fixtures").rglob("*.py"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files += sorted(stdlib.glob("*.py"))[::8]  # ~25 modules of every style
    return files


@pytest.mark.parametrize("path", _sources(), ids=lambda p: p.name)
def test_walk_matches_libcst(path):
    try:
        module = cst.parse_module(path.read_bytes())
    except Exception:
        pytest.skip("libcst cannot parse it")
    for recorder in RECORDERS:
        expected, got = recorder(), recorder()
        module.visit(expected)
        walk(module, got)
        assert got.log == expected.log


# Every construct whose fields libcst declares in another order than the source
# (cstwalk._SOURCE_ORDER), each with all its optional parts present.
ORDER_SNIPPETS = {
    "Arg": "f(a, key=value, *rest, **more)\n",
    "ClassDef": "@deco\nclass C[T](Base, metaclass=M):\n    x = 1\n",
    "ExceptHandler": "try:\n    pass\nexcept ValueError as err:\n    handle(err)\n",
    "ExceptStarHandler": "try:\n    pass\nexcept* ValueError as err:\n    handle(err)\n",
    "FunctionDef": "@deco(1)\nasync def f[T](a: T, /, b=2, *c, d, **e) -> T:\n    return a\n",
    "IfExp": "x = yes if cond else no\n",
    "MatchCase": "match p:\n    case [a, b] if a > b:\n        pass\n",
    "Parameters": "g = lambda a, /, b, *c, d=1, **e: a\n",
    "TypeAlias": "type Pair[T] = tuple[T, T]\n",
}


@pytest.mark.parametrize("name", sorted(ORDER_SNIPPETS))
def test_walk_follows_the_source_where_libcst_declares_fields_in_another_order(name):
    module = cst.parse_module(ORDER_SNIPPETS[name])
    expected, got = RECORDERS[1](), RECORDERS[1]()
    module.visit(expected)
    walk(module, got)
    assert any(entry[1] == name for entry in expected.log)
    assert got.log == expected.log


def test_code_children_match_libcst():
    module = cst.parse_module((ROOT / "schedlint" / "model" / "builder.py").read_bytes())
    stack = [module]
    while stack:
        node = stack.pop()
        expected = [c for c in node.children if not isinstance(c, TOKEN_CLASSES)]
        assert [id(c) for c in code_children(node)] == [id(c) for c in expected]
        stack.extend(node.children)


def test_visit_false_skips_children_and_leave_still_runs():
    class V(cst.CSTVisitor):
        def __init__(self):
            super().__init__()
            self.log = []

        def visit_FunctionDef(self, node):
            self.log.append("def")
            return False

        def leave_FunctionDef(self, node):
            self.log.append("leave def")

        def visit_Call(self, node):
            self.log.append("call")

    module = cst.parse_module("def f():\n    g()\nh()\n")
    a, b = V(), V()
    module.visit(a)
    walk(module, b)
    assert a.log == b.log == ["def", "leave def", "call"]


def test_attribute_hooks_fall_back_to_libcst():
    class V(cst.CSTVisitor):
        def __init__(self):
            super().__init__()
            self.seen = []

        def visit_Call_func(self, node):
            self.seen.append("func")

    v = V()
    walk(cst.parse_module("f(x)\n"), v)
    assert v.seen == ["func"]


def test_positions_are_one_based_lines_and_zero_based_columns():
    module = cst.parse_module("x = 1\nif x:\n    opt.step()\n")
    call = module.body[1].body.body[0].body[0].value
    assert positions(module)[call] == (3, 4, 3, 14)
