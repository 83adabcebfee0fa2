"""A read-only libcst traversal that does not rebuild the tree.

``node.visit(visitor)`` in libcst always goes through ``_visit_and_replace_children``, which
constructs (and validates) a new copy of every node it passes, and ``node.children`` does the
same to collect a node's children. For a visitor that only reads, that is most of the cost:
a no-op visit costs about as much as the parse itself. :func:`walk` calls the same
``visit_<Node>``/``leave_<Node>`` methods in the same order (children in the order libcst
visits them; ``visit_*`` returning ``False`` skips the children; ``leave_*`` is always
called) without building anything; :func:`children` is a drop-in for ``node.children``.

:func:`parse` is ``libcst.parse_module`` without the per-node validation: the native parser
builds the nodes, and each one's constructor re-checks what the grammar already guaranteed
(parentheses balanced, the whitespace a keyword needs), a quarter of the parse's time.

libcst visits a node's fields in source order. That is the order the node class declares
its dataclass fields in, except for the classes listed in :data:`_VISIT_ORDER`; a class whose
fields no longer match its entry (another libcst) falls back to libcst's ``children``.
Visitors with attribute hooks (``visit_<Node>_<field>``) or their own ``on_visit``/``on_leave``
are handed to libcst. ``tests/test_cstwalk.py`` checks the order against libcst on real code.
"""

from __future__ import annotations

import dataclasses
import re
import typing

import libcst as cst

_NODE = cst.CSTNode
_VALIDATE = _NODE.__post_init__  # runs each node's _validate() as its constructor ends
# Token and whitespace nodes hold nothing but whitespace, comments and newlines: a visitor
# with no method for any of them never needs to enter them.
_TOKEN_BASES = tuple(
    getattr(cst, n)
    for n in (
        "BaseParenthesizableWhitespace",
        "TrailingWhitespace",
        "EmptyLine",
        "Comment",
        "Newline",
        "LeftParen",
        "RightParen",
        "LeftSquareBracket",
        "RightSquareBracket",
        "LeftCurlyBrace",
        "RightCurlyBrace",
        "Comma",
        "Dot",
        "Colon",
        "Semicolon",
        "AssignEqual",
        "Asynchronous",
        "ImportStar",
        "BaseBinaryOp",
        "BaseBooleanOp",
        "BaseCompOp",
        "BaseUnaryOp",
        "BaseAugOp",
    )
    if hasattr(cst, n)
)

# Every field of each node class whose declared order is not libcst's visiting order, in the
# visiting order. Fields that hold strings or flags are listed too (at the end), so that a
# libcst which adds or renames a field is noticed.
_VISIT_ORDER = {
    "AnnAssign": "target annotation equal value semicolon",
    "Annotation": "whitespace_before_indicator whitespace_after_indicator annotation",
    "Arg": "whitespace_after_star keyword equal value comma whitespace_after_arg star",
    "AsName": "whitespace_before_as name whitespace_after_as",
    "Assert": "whitespace_after_assert test comma msg semicolon",
    "Attribute": "lpar value dot attr rpar",
    "Await": "lpar whitespace_after_await expression rpar",
    "BinaryOperation": "lpar left operator right rpar",
    "BooleanOperation": "lpar left operator right rpar",
    "Call": "lpar func whitespace_after_func whitespace_before_args args rpar",
    "ClassDef": (
        "leading_lines decorators lines_after_decorators whitespace_after_class name "
        "whitespace_after_name type_parameters whitespace_after_type_parameters lpar "
        "bases keywords rpar whitespace_before_colon body"
    ),
    "CompFor": (
        "whitespace_before asynchronous whitespace_after_for target whitespace_before_in "
        "whitespace_after_in iter ifs inner_for_in"
    ),
    "CompIf": "whitespace_before whitespace_before_test test",
    "Comparison": "lpar left comparisons rpar",
    "ConcatenatedString": "lpar left whitespace_between right rpar",
    "Decorator": "leading_lines whitespace_after_at decorator trailing_whitespace",
    "Dict": "lpar lbrace elements rbrace rpar",
    "DictComp": (
        "lpar lbrace key whitespace_before_colon whitespace_after_colon value for_in rbrace rpar"
    ),
    "DictElement": "key whitespace_before_colon whitespace_after_colon value comma",
    "Else": "leading_lines whitespace_before_colon body",
    "ExceptHandler": "leading_lines whitespace_after_except type name whitespace_before_colon body",
    "ExceptStarHandler": (
        "leading_lines whitespace_after_except whitespace_after_star type name "
        "whitespace_before_colon body"
    ),
    "Finally": "leading_lines whitespace_before_colon body",
    "For": (
        "leading_lines asynchronous whitespace_after_for target whitespace_before_in "
        "whitespace_after_in iter whitespace_before_colon body orelse"
    ),
    "FormattedString": "lpar parts rpar start end",
    "FormattedStringExpression": (
        "whitespace_before_expression expression equal "
        "whitespace_after_expression format_spec conversion"
    ),
    "From": "whitespace_before_from whitespace_after_from item",
    "FunctionDef": (
        "leading_lines decorators lines_after_decorators asynchronous "
        "whitespace_after_def name whitespace_after_name type_parameters "
        "whitespace_after_type_parameters whitespace_before_params params returns "
        "whitespace_before_colon body"
    ),
    "GeneratorExp": "lpar elt for_in rpar",
    "Global": "whitespace_after_global names semicolon",
    "If": "leading_lines whitespace_before_test test whitespace_after_test body orelse",
    "IfExp": (
        "lpar body whitespace_before_if whitespace_after_if test whitespace_before_else "
        "whitespace_after_else orelse rpar"
    ),
    "Import": "whitespace_after_import names semicolon",
    "ImportFrom": (
        "whitespace_after_from relative module whitespace_before_import "
        "whitespace_after_import lpar names rpar semicolon"
    ),
    "IndentedBlock": "header body footer indent",
    "Index": "whitespace_after_star value star",
    "Lambda": "lpar whitespace_after_lambda params colon body rpar",
    "LazyImport": "whitespace_after_lazy whitespace_after_import names semicolon",
    "LazyImportFrom": (
        "whitespace_after_lazy whitespace_after_from relative module "
        "whitespace_before_import whitespace_after_import lpar names rpar "
        "semicolon"
    ),
    "List": "lpar lbracket elements rbracket rpar",
    "ListComp": "lpar lbracket elt for_in rbracket rpar",
    "Match": (
        "leading_lines whitespace_after_match subject whitespace_before_colon "
        "whitespace_after_colon cases footer indent"
    ),
    "MatchAs": "lpar pattern whitespace_before_as whitespace_after_as name rpar",
    "MatchCase": (
        "leading_lines whitespace_after_case pattern whitespace_before_if "
        "whitespace_after_if guard whitespace_before_colon body"
    ),
    "MatchClass": (
        "lpar cls whitespace_after_cls whitespace_before_patterns patterns kwds "
        "whitespace_after_kwds rpar"
    ),
    "MatchKeywordElement": "key whitespace_before_equal whitespace_after_equal pattern comma",
    "MatchList": "lpar lbracket patterns rbracket rpar",
    "MatchMapping": "lpar lbrace elements whitespace_before_rest rest trailing_comma rbrace rpar",
    "MatchMappingElement": "key whitespace_before_colon whitespace_after_colon pattern comma",
    "MatchOr": "lpar patterns rpar",
    "MatchStar": "whitespace_before_name name comma",
    "MatchTuple": "lpar patterns rpar",
    "Module": "header body footer encoding default_indent default_newline has_trailing_newline",
    "NamedExpr": "lpar target whitespace_before_walrus whitespace_after_walrus value rpar",
    "Nonlocal": "whitespace_after_nonlocal names semicolon",
    "Param": (
        "whitespace_after_star name annotation equal default comma whitespace_after_param star"
    ),
    "Parameters": "posonly_params posonly_ind params star_arg kwonly_params star_kwarg",
    "Raise": "whitespace_after_raise exc cause semicolon",
    "Return": "whitespace_after_return value semicolon",
    "Set": "lpar lbrace elements rbrace rpar",
    "SetComp": "lpar lbrace elt for_in rbrace rpar",
    "SimpleStatementLine": "leading_lines body trailing_whitespace",
    "SimpleStatementSuite": "leading_whitespace body trailing_whitespace",
    "Slice": "lower first_colon upper second_colon step",
    "StarredDictComp": "lpar lbrace whitespace_before_value value for_in rbrace rpar",
    "StarredDictElement": "whitespace_before_value value comma",
    "StarredElement": "lpar whitespace_before_value value rpar comma",
    "Subscript": "lpar value whitespace_after_value lbracket slice rbracket rpar",
    "TemplatedString": "lpar parts rpar start end",
    "TemplatedStringExpression": (
        "whitespace_before_expression expression equal "
        "whitespace_after_expression format_spec conversion"
    ),
    "Try": "leading_lines whitespace_before_colon body handlers orelse finalbody",
    "TryStar": "leading_lines whitespace_before_colon body handlers orelse finalbody",
    "Tuple": "lpar elements rpar",
    "TypeAlias": (
        "whitespace_after_type name whitespace_after_name type_parameters "
        "whitespace_after_type_parameters whitespace_after_equals value semicolon"
    ),
    "TypeParam": "param equal whitespace_after_star default comma star",
    "TypeParameters": "lbracket params rbracket",
    "TypeVar": "name colon bound",
    "UnaryOperation": "lpar operator expression rpar",
    "While": "leading_lines whitespace_after_while test whitespace_before_colon body orelse",
    "With": (
        "leading_lines asynchronous whitespace_after_with lpar items rpar "
        "whitespace_before_colon body"
    ),
    "Yield": "lpar whitespace_after_yield value rpar",
}
_ORDER = {
    getattr(cst, name): tuple(order.split())
    for name, order in _VISIT_ORDER.items()
    if isinstance(getattr(cst, name, None), type)
}
_fields: dict = {}


def child_fields(cls):
    """Names of ``cls``'s child fields in libcst's visiting order; None if unknown."""
    try:
        return _fields[cls]
    except KeyError:
        pass
    names = None
    if isinstance(cls, type) and issubclass(cls, _NODE) and dataclasses.is_dataclass(cls):
        declared = {f.name: f.type for f in dataclasses.fields(cls)}
        listed = next((_ORDER[k] for k in cls.__mro__ if k in _ORDER), None)
        if listed is None:
            listed = tuple(declared)
        if sorted(listed) == sorted(declared):
            names = tuple(n for n in listed if _may_hold_node(declared[n]))
    _fields[cls] = names
    return names


def _may_hold_node(annotation) -> bool:
    """Whether a field annotated so can hold a node (``str``, ``bool``, ``Literal[...]`` and
    ``MaybeSentinel`` cannot; a string annotation is not resolved and counts as yes)."""
    if isinstance(annotation, type):
        return issubclass(annotation, _NODE) or annotation in (list, tuple)
    if isinstance(annotation, (str, typing.ForwardRef)):
        return True
    if typing.get_origin(annotation) is typing.Literal:
        return False
    args = typing.get_args(annotation)
    if not args:
        return True  # unknown to this check: keep it
    return any(_may_hold_node(a) for a in args)


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


def _subclasses(bases) -> frozenset:
    out, todo = set(), list(bases)
    while todo:
        cls = todo.pop()
        if cls not in out:
            out.add(cls)
            todo += cls.__subclasses__()
    return frozenset(out)


# The classes isinstance(c, _TOKEN_BASES) accepts (libcst registers no virtual subclasses):
# a set lookup on the class, since isinstance on libcst's ABCs goes through
# ABCMeta.__instancecheck__, once per base, for every child of every node a query walks.
_TOKEN_CLASSES = _subclasses(_TOKEN_BASES)


def code_children(node) -> list:
    """:func:`children` less token and whitespace nodes (which never contain code)."""
    tokens = _TOKEN_CLASSES
    return [c for c in children(node) if c.__class__ not in tokens]


_HOOK = re.compile(r"^(?:visit|leave)_([A-Z]\w*?)_([a-z_]\w*)$")
_simple: dict = {}  # visitor class -> (walkable with walk(), needs token nodes)
_BASE = cst.CSTVisitor


def _own(vcls, name):
    """The visitor's own method ``name``, or None where only libcst's no-op stub exists."""
    fn = getattr(vcls, name, None)
    return None if fn is None or fn is getattr(_BASE, name, None) else fn


def _inspect_visitor(vcls):
    if (
        not issubclass(vcls, _BASE)
        or vcls.on_visit is not _BASE.on_visit
        or vcls.on_leave is not _BASE.on_leave
        or vcls.on_visit_attribute is not _BASE.on_visit_attribute
        or vcls.on_leave_attribute is not _BASE.on_leave_attribute
    ):
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


def _skip_validation(self) -> None:
    pass


def parse(source):
    """``libcst.parse_module(source)``, the nodes the parser builds not validated again.

    libcst's own note on ``CSTNode.__post_init__`` (1.9): "It might make more sense to move
    validation work into the visitor, which would allow us to avoid validating the tree
    when parsing a file." Nodes built outside a parse (a fix's edits) are validated as
    always. A parse running on another thread meanwhile at worst validates as usual.
    """
    _NODE.__post_init__ = _skip_validation
    try:
        return cst.parse_module(source)
    finally:
        _NODE.__post_init__ = _VALIDATE


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
_TOKEN_FIELDS = frozenset(
    {
        "lpar",
        "rpar",
        "leading_lines",
        "lines_after_decorators",
        "header",
        "footer",
        "comma",
        "semicolon",
        "dot",
        "colon",
        "equal",
        "lbracket",
        "rbracket",
        "lbrace",
        "rbrace",
        "asynchronous",
        "newline",
        "trailing_whitespace",
        "operator",
        "first_colon",
        "second_colon",
        "relative",
        "empty_lines",
        "first_line",
        "last_line",
        "separator",
    }
)
_is_node: dict = {}  # class -> is it a CSTNode (isinstance on the ABC is slow)


def _node_class(cls) -> bool:
    flag = _is_node[cls] = isinstance(cls, type) and issubclass(cls, _NODE)
    return flag


def _entry(vcls, cls, table, tokens):
    name = cls.__name__
    fields = child_fields(cls)
    if fields is not None and not tokens:
        fields = tuple(f for f in fields if f not in _TOKEN_FIELDS and "whitespace" not in f)
    e = table[cls] = (
        _own(vcls, "visit_" + name),
        _own(vcls, "leave_" + name),
        fields,
        not tokens and issubclass(cls, _TOKEN_BASES),
    )
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
    CodePosition/CodeRange objects. ``tests/test_cstwalk.py`` compares the two.

    It drives libcst's codegen (``Module._codegen`` with a ``PositionProvidingCodegenState``
    subclass), not public API: the public ``MetadataWrapper.resolve(PositionProvider)`` costs
    about 6.6 times as much (60 stdlib modules: 6.2 s against 0.94 s CPU; a fixture run +25%).
    ``FileModel.position`` falls back to the public path when these internals are missing."""
    from libcst.metadata.position_provider import PositionProvidingCodegenState

    state = _position_state_class(PositionProvidingCodegenState)(
        default_indent=module.default_indent,
        default_newline=module.default_newline,
        provider=_Computed(),
    )
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

    def __exit__(self, exc_type, exc, tb):
        if exc_type is not None:
            # An interrupted pass (Ctrl-C): the children may have no record yet, and a lookup
            # would turn the KeyboardInterrupt into a KeyError (libcst's generator stops too).
            return False
        state = self.state
        computed = state.provider._computed
        start = computed[self.start_node][:2] if self.start_node is not None else self.start
        end = (
            computed[self.end_node][2:] if self.end_node is not None else (state.line, state.column)
        )
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


# -- which grammar a tree needs --------------------------------------------------------------
class _Grammar(cst.CSTVisitor):
    """Records the constructs newer grammars added (see :func:`grammar_version`)."""

    def __init__(self, module):
        super().__init__()
        self.module = module
        self.found = [(3, 0)]

    def visit_TypeParameters(self, node) -> None:
        self.found.append((3, 12))

    def visit_TypeAlias(self, node) -> None:
        self.found.append((3, 12))

    def visit_TemplatedString(self, node) -> None:
        self.found.append((3, 14))

    def visit_ExceptHandler(self, node) -> None:
        if isinstance(node.type, cst.Tuple) and not node.type.lpar:
            self.found.append((3, 14))

    def visit_ExceptStarHandler(self, node) -> None:
        self.visit_ExceptHandler(node)

    def visit_FormattedString(self, node) -> None:
        # Before PEP 701 an f-string's replacement fields could not hold its own quote,
        # a backslash, a comment, or (single-quoted) a line break.
        quote = node.start.lstrip("rRfFbBuU")
        banned = (quote, "\\", "#") if len(quote) == 3 else (quote, "\\", "#", "\n", "\r")
        for part in node.parts:
            if isinstance(part, cst.FormattedStringExpression):
                code = self.module.code_for_node(part.expression)
                if any(b in code for b in banned):
                    self.found.append((3, 12))


def grammar_version(module) -> tuple:
    """The oldest Python whose grammar parses ``module`` (a libcst tree), judged by the
    constructs newer grammars added: (3, 12) for type parameters, ``type`` aliases and PEP 701
    f-strings, (3, 14) for template strings and ``except A, B:``; (3, 0) for none of them.

    libcst parses the newest grammar whatever interpreter runs it, while the compiler parses
    its own: a file the compiler rejects is valid code for a newer Python when its tree needs
    one (lerobot's ``def f[T]()`` read by schedlint on 3.11 was an SL001)."""
    grammar = _Grammar(module)
    walk(module, grammar)
    return max(grammar.found)
