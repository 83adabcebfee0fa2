"""A read-only libcst traversal that does not rebuild the tree.

``node.visit(visitor)`` in libcst always goes through ``_visit_and_replace_children``, which
constructs (and validates) a new copy of every node it passes, and ``node.children`` does the
same to collect a node's children. For a visitor that only reads, that is most of the cost:
a no-op visit costs about as much as the parse itself. :func:`walk` calls the same
``visit_<Node>``/``leave_<Node>`` methods in the same order (children in the order libcst
visits them; ``visit_*`` returning ``False`` skips the children; ``leave_*`` is always
called) without building anything; :func:`children` is a drop-in for ``node.children``.

The order of each class's child fields is read once from libcst's own
``_visit_and_replace_children`` (so it follows the installed libcst); a class whose order
cannot be read falls back to libcst's ``children``. Visitors with attribute hooks
(``visit_<Node>_<field>``) or their own ``on_visit``/``on_leave`` are handed to libcst.
``tests/test_cstwalk.py`` checks the order against libcst on real code.
"""

from __future__ import annotations

import dataclasses
import inspect
import re

import libcst as cst

_FIELD = re.compile(r'visit_(?:required|optional|sequence|sentinel|body_sequence|iterable|'
                    r'body_iterable)\(\s*self,\s*"(\w+)"')
_NODE = cst.CSTNode
# Token and whitespace nodes hold nothing but whitespace, comments and newlines: a visitor
# with no method for any of them never needs to enter them.
_TOKEN_BASES = tuple(getattr(cst, n) for n in (
    "BaseParenthesizableWhitespace", "TrailingWhitespace", "EmptyLine", "Comment", "Newline",
    "LeftParen", "RightParen", "LeftSquareBracket", "RightSquareBracket", "LeftCurlyBrace",
    "RightCurlyBrace", "Comma", "Dot", "Colon", "Semicolon", "AssignEqual", "Asynchronous",
    "ImportStar", "BaseBinaryOp", "BaseBooleanOp", "BaseCompOp", "BaseUnaryOp", "BaseAugOp",
) if hasattr(cst, n))

_fields: dict = {}


def child_fields(cls):
    """Names of ``cls``'s child fields in libcst's visiting order; None if unknown.

    libcst's ``_visit_and_replace_children`` names each field it visits as a string literal
    (``visit_required(self, "body", self.body, visitor)``), in visiting order, and the
    compiler keeps string constants in order of first use: the field names among
    ``co_consts`` are the order, read without the source. :func:`_fields_from_source` (the
    same from the source text) is the reference ``tests/test_cstwalk.py`` compares it with.
    """
    try:
        return _fields[cls]
    except KeyError:
        pass
    names = None
    fn = _visitor_method(cls)
    if fn is not None and dataclasses.is_dataclass(cls):
        known = {f.name for f in dataclasses.fields(cls)}
        consts = getattr(getattr(fn, "__code__", None), "co_consts", None)
        if consts is not None:
            names = tuple(dict.fromkeys(c for c in consts if c.__class__ is str and c in known))
    _fields[cls] = names
    return names


def _visitor_method(cls):
    for klass in cls.__mro__:
        fn = klass.__dict__.get("_visit_and_replace_children")
        if fn is not None:
            return fn
    return None


def _fields_from_source(cls):
    """:func:`child_fields` read from the source text instead (slow: for the tests)."""
    fn = _visitor_method(cls)
    if fn is None:
        return None
    try:
        names = tuple(dict.fromkeys(_FIELD.findall(inspect.getsource(fn))))
    except (OSError, TypeError):
        return None
    if not dataclasses.is_dataclass(cls) or \
            not set(names) <= {f.name for f in dataclasses.fields(cls)}:
        return None
    return names


def children(node) -> list:
    """``node.children`` (the same nodes, in the same order) without rebuilding ``node``."""
    names = _fields.get(node.__class__) or child_fields(node.__class__)
    if names is None:
        return list(node.children)
    out = []
    is_node = _is_node
    for name in names:
        value = getattr(node, name)
        cls = value.__class__
        if cls is tuple or cls is list:
            out.extend(value)  # sequences of child fields hold nodes only
        else:
            try:
                flag = is_node[cls]
            except KeyError:
                flag = _node_class(cls)
            if flag:
                out.append(value)
    return out


def code_children(node) -> list:
    """:func:`children` less token and whitespace nodes (which never contain code)."""
    return [c for c in children(node) if not isinstance(c, _TOKEN_BASES)]


_HOOK = re.compile(r"^(?:visit|leave)_([A-Z]\w*?)_([a-z_]\w*)$")
_simple: dict = {}  # visitor class -> (walkable with walk(), needs token nodes)
_BASE = cst.CSTVisitor


def _own(vcls, name):
    """The visitor's own method ``name``, or None where only libcst's no-op stub exists."""
    fn = getattr(vcls, name, None)
    return None if fn is None or fn is getattr(_BASE, name, None) else fn


def _inspect_visitor(vcls):
    if not issubclass(vcls, _BASE) or vcls.on_visit is not _BASE.on_visit or \
            vcls.on_leave is not _BASE.on_leave or \
            vcls.on_visit_attribute is not _BASE.on_visit_attribute or \
            vcls.on_leave_attribute is not _BASE.on_leave_attribute:
        return False, True
    tokens = False
    for name in dir(vcls):
        if not name.startswith(("visit_", "leave_")) or _own(vcls, name) is None:
            continue
        if _HOOK.match(name) and not isinstance(getattr(cst, name[6:], None), type):
            return False, True  # an attribute hook (visit_Call_func): only libcst calls those
        node_cls = getattr(cst, name[6:], None)
        if isinstance(node_cls, type) and issubclass(node_cls, _TOKEN_BASES):
            tokens = True
    return True, tokens


_tables: dict = {}  # visitor class -> {node class: (visit, leave, fields, skip)}


def walk(node, visitor) -> None:
    """Traverse ``node`` with a read-only ``visitor``, as ``node.visit(visitor)`` would."""
    vcls = visitor.__class__
    try:
        ok, tokens = _simple[vcls]
    except KeyError:
        ok, tokens = _simple[vcls] = _inspect_visitor(vcls)
    if not ok:
        node.visit(visitor)
        return
    # Plain functions, not bound methods, and no closure over the visitor: the traversal
    # leaves no reference cycle behind, so the tree is freed as soon as the caller drops it.
    table = _tables.setdefault(vcls, {})
    _walk(node, visitor, vcls, table, tokens)


# Fields that hold only token and whitespace nodes (or strings): a visitor that skips tokens
# need not even read them. tests/test_cstwalk.py checks the walk against libcst's own.
_TOKEN_FIELDS = frozenset({
    "lpar", "rpar", "leading_lines", "lines_after_decorators", "header", "footer", "comma",
    "semicolon", "dot", "colon", "equal", "lbracket", "rbracket", "lbrace", "rbrace",
    "asynchronous", "newline", "trailing_whitespace", "operator", "first_colon",
    "second_colon", "relative", "empty_lines", "first_line", "last_line", "separator",
})
_is_node: dict = {}  # class -> is it a CSTNode (isinstance on the ABC is slow)


def _node_class(cls) -> bool:
    flag = _is_node[cls] = isinstance(cls, type) and issubclass(cls, _NODE)
    return flag


def _entry(vcls, cls, table, tokens):
    name = cls.__name__
    fields = child_fields(cls)
    if fields is not None and not tokens:
        fields = tuple(f for f in fields if f not in _TOKEN_FIELDS and "whitespace" not in f)
    e = table[cls] = (_own(vcls, "visit_" + name), _own(vcls, "leave_" + name),
                      fields, not tokens and issubclass(cls, _TOKEN_BASES))
    return e


def _walk(node, visitor, vcls, table, tokens):
    try:
        visit, leave, fields, skip = table[node.__class__]
    except KeyError:
        visit, leave, fields, skip = _entry(vcls, node.__class__, table, tokens)
    if skip:
        return
    if visit is None or visit(visitor, node) is not False:
        if fields is None:
            for child in node.children:
                _walk(child, visitor, vcls, table, tokens)
        else:
            is_node = _is_node
            for name in fields:
                value = getattr(node, name)
                cls = value.__class__
                if cls is tuple or cls is list:
                    for child in value:
                        _walk(child, visitor, vcls, table, tokens)
                else:
                    try:
                        flag = is_node[cls]
                    except KeyError:
                        flag = _node_class(cls)
                    if flag:
                        _walk(value, visitor, vcls, table, tokens)
    if leave is not None:
        leave(visitor, node)


# -- positions ----------------------------------------------------------------------------------
def positions(module) -> dict:
    """``{node: (line, column, end_line, end_column)}`` for every node of ``module``, exactly
    as libcst's PositionProvider computes them (1-based lines, 0-based columns, syntactic
    ranges), in one codegen pass at about half its cost: no regex per token, no
    CodePosition/CodeRange objects. ``tests/test_cstwalk.py`` compares the two."""
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    state = _position_state_class(PositionProvidingCodegenState)(
        default_indent=module.default_indent, default_newline=module.default_newline,
        provider=_Computed())
    module._codegen(state)
    return state.provider._computed


class _Computed:
    __slots__ = ("_computed",)

    def __init__(self):
        self._computed = {}


class _Syntactic:
    """``record_syntactic_position`` as a plain context manager (libcst's is a generator)."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(self, state, node, start_node, end_node):
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self):
        self.start = (self.state.line, self.state.column)

    def __exit__(self, *exc):
        state = self.state
        computed = state.provider._computed
        start = computed[self.start_node][:2] if self.start_node is not None else self.start
        end = computed[self.end_node][2:] if self.end_node is not None else (state.line,
                                                                             state.column)
        computed[self.node] = start + end
        return False


_state_class: list = []


def _position_state_class(base):
    if _state_class:
        return _state_class[0]

    class _State(base):
        def _update_position(self, value):
            if "\n" not in value and "\r" not in value:
                self.column += len(value)
                return
            segments = _NEWLINE.split(value)
            self.line += len(segments) - 1
            self.column = len(segments[-1])

        def before_codegen(self, node):
            self._stack.append((self.line, self.column))

        def after_codegen(self, node):
            start = self._stack.pop()
            computed = self.provider._computed
            if node not in computed:
                computed[node] = start + (self.line, self.column)

        def record_syntactic_position(self, node, *, start_node=None, end_node=None):
            return _Syntactic(self, node, start_node, end_node)

    _state_class.append(_State)
    return _State


_NEWLINE = re.compile(r"\r\n?|\n")
