"""A read-only libcst traversal that does not rebuild the tree, on libcst's public API only.

``node.visit(visitor)`` in libcst always constructs (and validates) a new copy of every node it
passes, and ``node.children`` does the same to collect a node's children. For a visitor that
only reads, that is most of the cost: a no-op visit costs about as much as the parse itself.
:func:`walk` calls the same ``visit_<Node>``/``leave_<Node>`` methods in the same order as
libcst (``visit_*`` returning ``False`` skips the children; ``leave_*`` is always called)
without building anything, by reading each node's public dataclass fields.

The walk skips token and whitespace nodes (commas, parentheses, comments, operators...), which
never contain code. A visitor with a method for one of those classes, with attribute hooks
(``visit_<Node>_<field>``) or with its own ``on_visit``/``on_leave`` is handed to libcst's own
``visit``. ``tests/test_cstwalk.py`` compares the walk with libcst's on real code and on every
construct listed in :data:`_SOURCE_ORDER`.
"""

from __future__ import annotations

import dataclasses
import re

import libcst as cst
from libcst.metadata import PositionProvider

_NODE = cst.CSTNode
# Token and whitespace nodes hold nothing but whitespace, comments and newlines.
TOKEN_CLASSES = tuple(getattr(cst, n) for n in (
    "BaseParenthesizableWhitespace", "TrailingWhitespace", "EmptyLine", "Comment", "Newline",
    "LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket", "LeftCurlyBrace",
    "RightCurlyBrace", "Comma", "Dot", "Colon", "Semicolon", "AssignEqual", "Asynchronous",
    "ImportStar", "BaseBinaryOp", "BaseBooleanOp", "BaseCompOp", "BaseUnaryOp", "BaseAugOp",
) if hasattr(cst, n))

# Fields that hold only token and whitespace nodes (or strings), by name: the walk need not
# even read them. Together with fields named "*whitespace*".
_TOKEN_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "comma",
    "semicolon", "dot", "colon", "equal", "lbracket", "rbracket", "lbrace", "rbrace",
    "asynchronous", "newline", "trailing_whitespace", "operator", "first_colon",
    "second_colon", "relative", "empty_lines", "first_line", "last_line", "separator",
})

# libcst declares these classes' fields in another order than the source text has them; its
# own traversal follows the source, and facts are recorded in traversal order, so the walk
# follows it too. Fields missing here (a newer libcst) come after these, in declared order.
_SOURCE_ORDER = {
    "Arg": ("keyword", "value"),
    "ClassDef": ("decorators", "name", "type_parameters", "bases", "keywords", "body"),
    "ExceptHandler": ("type", "name", "body"),
    "ExceptStarHandler": ("type", "name", "body"),
    "FunctionDef": ("decorators", "name", "type_parameters", "params", "returns", "body"),
    "IfExp": ("body", "test", "orelse"),
    "MatchCase": ("pattern", "guard", "body"),
    "Parameters": ("posonly_params", "posonly_ind", "params", "star_arg", "kwonly_params",
                   "star_kwarg"),
    "TypeAlias": ("name", "type_parameters", "value"),
}

_code_fields: dict = {}  # node class -> names of its fields that may hold code, in source order
_is_node: dict = {}  # class -> is it a CSTNode (isinstance on the ABC is slow)


def code_fields(cls) -> tuple:
    """Names of the fields of node class ``cls`` that may hold code, in source order."""
    try:
        return _code_fields[cls]
    except KeyError:
        pass
    declared = [f.name for f in dataclasses.fields(cls)
                if f.name not in _TOKEN_FIELDS and "whitespace" not in f.name]
    first = [name for name in _SOURCE_ORDER.get(cls.__name__, ()) if name in declared]
    names = _code_fields[cls] = tuple(first + [name for name in declared if name not in first])
    return names


def _node_class(cls) -> bool:
    flag = _is_node[cls] = isinstance(cls, type) and issubclass(cls, _NODE)
    return flag


def code_children(node) -> list:
    """The child nodes of ``node`` that may hold code (``node.children`` less token and
    whitespace nodes), in the order libcst visits them, without rebuilding ``node``."""
    out = []
    is_node = _is_node
    for name in _code_fields.get(node.__class__) or code_fields(node.__class__):
        value = getattr(node, name)
        cls = value.__class__
        if cls is tuple or cls is list:
            out.extend(c for c in value if not isinstance(c, TOKEN_CLASSES))
        else:
            try:
                flag = is_node[cls]
            except KeyError:
                flag = _node_class(cls)
            if flag and not isinstance(value, TOKEN_CLASSES):
                out.append(value)
    return out


_HOOK = re.compile(r"^(?:visit|leave)_([A-Z]\w*?)_([a-z_]\w*)$")
_BASE = cst.CSTVisitor
_walkable: dict = {}  # visitor class -> can walk() run it (else libcst's visit does)
_tables: dict = {}  # visitor class -> {node class: (visit, leave, fields, skip)}


def _own(vcls, name):
    """The visitor's own method ``name``, or None where only libcst's no-op stub exists."""
    fn = getattr(vcls, name, None)
    return None if fn is None or fn is getattr(_BASE, name, None) else fn


def _can_walk(vcls) -> bool:
    if not issubclass(vcls, _BASE) or vcls.on_visit is not _BASE.on_visit or \
            vcls.on_leave is not _BASE.on_leave or \
            vcls.on_visit_attribute is not _BASE.on_visit_attribute or \
            vcls.on_leave_attribute is not _BASE.on_leave_attribute:
        return False
    for name in dir(vcls):
        if not name.startswith(("visit_", "leave_")) or _own(vcls, name) is None:
            continue
        node_cls = getattr(cst, name[6:], None)
        if not isinstance(node_cls, type):
            if _HOOK.match(name):
                return False  # an attribute hook (visit_Call_func): only libcst calls those
        elif issubclass(node_cls, TOKEN_CLASSES):
            return False  # it wants token nodes, which walk() skips
    return True


def walk(node, visitor) -> None:
    """Traverse ``node`` with a read-only ``visitor``, as ``node.visit(visitor)`` would."""
    vcls = visitor.__class__
    try:
        ok = _walkable[vcls]
    except KeyError:
        ok = _walkable[vcls] = _can_walk(vcls)
    if not ok:
        node.visit(visitor)
        return
    # Plain functions, not bound methods, and no closure over the visitor: the traversal
    # leaves no reference cycle behind, so the tree is freed as soon as the caller drops it.
    _walk(node, visitor, vcls, _tables.setdefault(vcls, {}))


def _entry(vcls, cls, table):
    name = cls.__name__
    e = table[cls] = (_own(vcls, "visit_" + name), _own(vcls, "leave_" + name),
                      code_fields(cls), issubclass(cls, TOKEN_CLASSES))
    return e


def _walk(node, visitor, vcls, table):
    try:
        visit, leave, fields, skip = table[node.__class__]
    except KeyError:
        visit, leave, fields, skip = _entry(vcls, node.__class__, table)
    if skip:
        return
    if visit is None or visit(visitor, node) is not False:
        is_node = _is_node
        for name in fields:
            value = getattr(node, name)
            cls = value.__class__
            if cls is tuple or cls is list:
                for child in value:
                    _walk(child, visitor, vcls, table)
            else:
                try:
                    flag = is_node[cls]
                except KeyError:
                    flag = _node_class(cls)
                if flag:
                    _walk(value, visitor, vcls, table)
    if leave is not None:
        leave(visitor, node)


def positions(module) -> dict:
    """``{node: (line, column, end_line, end_column)}`` for every node of ``module``, from
    libcst's PositionProvider: 1-based lines, 0-based columns, syntactic ranges."""
    ranges = cst.MetadataWrapper(module, unsafe_skip_copy=True).resolve(PositionProvider)
    return {node: (r.start.line, r.start.column, r.end.line, r.end.column)
            for node, r in ranges.items()}
