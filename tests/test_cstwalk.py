"""schedlint.model.cstwalk visits exactly what libcst's own traversal visits, in the same order.

The model builder relies on it (facts are ordered by visiting order), so the check runs a
visitor that records every visit and leave, once through ``node.visit`` (libcst) and once
through :func:`schedlint.model.cstwalk.walk`, over every fixture and a slice of the standard
library, and compares the logs. Two visitors: one with methods for every node class (token
and whitespace nodes included: nothing may be skipped), one without the token classes (the
walker then skips token subtrees and token fields, which must not hide any other node).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sysconfig
from pathlib import Path

import libcst as cst
import pytest

from schedlint.model.cstwalk import (
    _TOKEN_BASES,
    child_fields,
    children,
    code_children,
    parse,
    positions,
    walk,
)

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

    ns = {
        "__init__": lambda self: (cst.CSTVisitor.__init__(self), setattr(self, "log", [])) and None
    }
    for cls in _node_classes():
        if not with_tokens and issubclass(cls, _TOKEN_BASES):
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


# Each field libcst's `_visit_and_replace_children` visits, named as a string literal in its
# source (`visit_required(self, "body", self.body, visitor)`), in visiting order. Read here only,
# as the reference for node classes that the sources above never produce.
_VISITED_FIELD = re.compile(
    r"visit_(?:required|optional|sequence|sentinel|body_sequence|"
    r'iterable|body_iterable)\(\s*self,\s*"(\w+)"'
)


def _fields_from_source(cls):
    method = next(
        k.__dict__["_visit_and_replace_children"]
        for k in cls.__mro__
        if "_visit_and_replace_children" in k.__dict__
    )
    return tuple(dict.fromkeys(_VISITED_FIELD.findall(inspect.getsource(method))))


def test_field_order_matches_libcsts_source():
    for cls in _node_classes():
        if inspect.isabstract(cls):  # abstract bases never occur in a tree
            continue
        assert child_fields(cls) == _fields_from_source(cls), cls.__name__


def test_a_class_whose_fields_changed_falls_back_to_libcst():
    @dataclasses.dataclass(frozen=True)
    class WithExtra(cst.Attribute):  # Attribute is listed in the table; this has a field more
        extra: cst.BaseExpression = cst.Name("x")

    node = WithExtra(value=cst.Name("a"), attr=cst.Name("b"))
    assert child_fields(WithExtra) is None
    assert [id(c) for c in children(node)] == [id(c) for c in node.children]


@pytest.mark.parametrize(
    "path", [ROOT / "schedlint" / "model" / "builder.py", *_sources()[::4]], ids=lambda p: p.name
)
def test_children_matches_libcst(path):
    try:
        module = cst.parse_module(path.read_bytes())
    except Exception:
        pytest.skip("libcst cannot parse it")
    stack = [module]
    while stack:
        node = stack.pop()
        assert [id(c) for c in children(node)] == [id(c) for c in node.children]
        assert all(not isinstance(c, _TOKEN_BASES) for c in code_children(node))
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


@pytest.mark.parametrize("path", _sources()[::3], ids=lambda p: p.name)
def test_positions_match_libcsts_position_provider(path):
    from libcst.metadata import PositionProvider

    try:
        module = cst.parse_module(path.read_bytes())
    except Exception:
        pytest.skip("libcst cannot parse it")
    expected = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    assert positions(module) == {
        n: (r.start.line, r.start.column, r.end.line, r.end.column) for n, r in expected.items()
    }


def test_token_classes_are_exactly_the_token_bases_subclasses():
    # code_children tests a child's class against a set computed once, instead of
    # isinstance on libcst's ABCs: the two must agree for every node class libcst defines.
    import importlib
    import pkgutil

    import libcst as cst

    from schedlint.model import cstwalk

    classes = set()
    for info in pkgutil.walk_packages(cst.__path__, "libcst."):
        if any(part in info.name for part in ("tests", "codemod", "tool", "_parser")):
            continue
        try:
            module = importlib.import_module(info.name)
        except Exception:  # optional dependencies of tooling modules
            continue
        classes |= {
            c for c in vars(module).values() if isinstance(c, type) and issubclass(c, cst.CSTNode)
        }
    assert len(classes) > 150
    wrong = [
        c for c in classes if issubclass(c, cstwalk._TOKEN_BASES) != (c in cstwalk._TOKEN_CLASSES)
    ]
    assert wrong == []


@pytest.mark.parametrize("path", _sources()[::4], ids=lambda p: p.name)
def test_parse_without_validation_builds_the_same_tree(path):
    source = path.read_text(encoding="utf-8")
    try:
        expected = cst.parse_module(source)
    except Exception:
        pytest.skip("libcst cannot parse it")
    got = parse(source)
    assert got.deep_equals(expected)
    assert got.code == source


def test_nodes_built_after_a_parse_are_validated_again():
    parse("x = (1)\n")
    with pytest.raises(cst.CSTValidationError):  # an unbalanced parenthesis
        cst.Name("x", lpar=[cst.LeftParen()])
    with pytest.raises(cst.ParserSyntaxError):
        parse("x = = 1\n")
    with pytest.raises(cst.CSTValidationError):  # also after a parse that failed
        cst.Name("x", lpar=[cst.LeftParen()])


def test_a_ctrl_c_while_computing_positions_stays_a_keyboardinterrupt(monkeypatch):
    """^C lands wherever the interpreter is; in the middle of the positions pass it must reach
    the command line as a KeyboardInterrupt (exit 130). It used to land inside an indented
    block, whose position record then looked up its unfinished first child: the interrupt
    became a KeyError, the rule's SL003, and the run went on (CI, the Ctrl-C test)."""
    module = parse((ROOT / "fixtures" / "SL101" / "bad_warmup_loop.py").read_text())
    names = [0, 0]  # Names written so far, and the one to interrupt at
    write = cst.Name._codegen_impl

    def interrupted(self, state, *args, **kwargs):
        names[0] += 1
        if names[0] == names[1]:
            raise KeyboardInterrupt
        write(self, state, *args, **kwargs)

    monkeypatch.setattr(cst.Name, "_codegen_impl", interrupted)
    positions(module)
    total = names[0]
    assert total > 20
    for names[1] in range(1, total + 1):
        names[0] = 0
        with pytest.raises(KeyboardInterrupt):
            positions(module)
