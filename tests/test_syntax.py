"""Which Python's grammar a libcst tree needs (schedlint.model.cstwalk.grammar_version), and
which compiler errors are worth asking (schedlint.check.syntax.newer_grammar_at).

A file the running compiler rejects is checked when its tree needs a newer grammar (valid code
for a newer Python), and is an SL001 otherwise, so both directions matter: each construct a
newer grammar added is recognised, and its older look-alike is not."""

from __future__ import annotations

import libcst as cst
import pytest

from schedlint.check.syntax import check, newer_grammar_at
from schedlint.model.cstwalk import grammar_version

CASES = [
    ("def first[T](xs: list[T]) -> T:\n    return xs[0]\n", (3, 12)),
    ("class Box[T]:\n    pass\n", (3, 12)),
    ("type Pair = tuple[int, int]\n", (3, 12)),
    ('name = f"{cfg["optim"]}"\n', (3, 12)),  # the f-string's own quote inside
    ("name = f'{\"\\n\".join(keys)}'\n", (3, 12)),  # a backslash in a replacement field
    ("name = f'{(x  # the lr\n)}'\n", (3, 12)),  # a comment, and a line break
    ("msg = t'{lr}'\n", (3, 14)),
    ("try:\n    pass\nexcept ValueError, KeyError:\n    pass\n", (3, 14)),
    # what older grammars already had
    ("def first(xs):\n    return xs[0]\n", (3, 0)),
    ("name = f\"{cfg['optim']}\"\n", (3, 0)),
    ('name = f"""{cfg["optim"]}"""\n', (3, 0)),  # a triple quote ends it, one does not
    ('name = f"""{cfg["optim"]!r:>{width}}\n"""\n', (3, 0)),
    ("try:\n    pass\nexcept (ValueError, KeyError):\n    pass\n", (3, 0)),
    ("type = 3\nprint(type)\n", (3, 0)),
]


@pytest.mark.parametrize(("source", "version"), CASES)
def test_grammar_version(source, version):
    assert grammar_version(cst.parse_module(source)) == version


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def first[T](xs: list[T]) -> T:\n    return xs[0]\n", True),
        ("x = 1\ntype Pair = tuple[int, int]\n", True),
        ('name = f"{cfg["optim"]}"\n', True),
        ("try:\n    pass\nexcept ValueError, KeyError:\n    pass\n", True),
        ("x = " + "(" * 300 + "1" + ")" * 300 + "\n", False),  # too deeply nested
        ("scheduler = StepLR(optimizer, step_size=30\n", False),
        ("print 'epoch'\n", False),
    ],
)
def test_only_an_error_on_a_newer_construct_goes_to_libcst(source, expected):
    problem = check("case.py", source)
    assert problem is not None
    assert newer_grammar_at(source, problem) is expected
