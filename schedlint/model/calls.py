"""Arguments of constructor and method calls, and the source edits that remove them (SL208's
removed ``verbose`` argument and ``print_lr()`` calls). Edits are (line, column, end line, end
column, replacement), 1-based, end exclusive, as rules' fixes carry them."""

from __future__ import annotations

import libcst as cst

from schedlint.model.builder import dotted_name
from schedlint.model.cstwalk import children


def drop_arg_edit(model, call: cst.Call, arg: cst.Arg):
    """The edit deleting ``arg`` and the comma that joins it to its neighbour, nothing else
    (comments and layout around it stay)."""
    args = list(call.args)
    i = next(k for k, a in enumerate(args) if a is arg)
    line, col, end_line, end_col = model.position(arg)
    if i > 0:  # from the end of the previous argument: ", verbose=True"
        _, _, line, col = model.position(args[i - 1])
    elif len(args) > 1:  # the first one: "verbose=True, "
        end_line, end_col, _, _ = model.position(args[1])
    return (line, col, end_line, end_col, "")


def super_init_calls(fn_node):
    """``super().__init__(...)`` / ``super(C, self).__init__(...)`` calls in a method body,
    with the number of leading positional arguments that are not the signature's (``self``
    for ``Base.__init__(self, ...)``)."""
    stack = [fn_node.body]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        if (
            isinstance(n, cst.Call)
            and isinstance(n.func, cst.Attribute)
            and n.func.attr.value == "__init__"
        ):
            owner = n.func.value
            if isinstance(owner, cst.Call) and dotted_name(owner.func) == "super":
                yield n, 0
            elif (
                dotted_name(owner) is not None and n.args and dotted_name(n.args[0].value) == "self"
            ):
                yield n, 1
        stack.extend(children(n))


def verbose_in(call: cst.Call, signature, skip: int, had_verbose: bool):
    """(arg, description, fixable) for a removed ``verbose`` argument of ``call``."""
    if any(a.star for a in call.args):
        return None
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == "verbose":
            return arg, "`verbose=` argument", True
    positional = [a for a in call.args if a.keyword is None][skip:]
    if len(positional) > len(signature):
        extra = positional[len(signature)]
        if had_verbose and len(positional) == len(signature) + 1:
            return extra, "positional `verbose` argument", True
        return extra, f"{len(positional) - len(signature)} extra positional argument(s)", False
    return None


def statement_edit(model, call):
    """(edit, alone) deleting the statement that is just the method call ``call``; ``alone``
    when it is the only statement of its block (the edit then writes ``pass``). None when the
    call is part of a larger statement."""
    root = call.scope.node
    stack = [root]
    while stack:
        n = stack.pop()
        body = getattr(n, "body", None)
        if isinstance(n, (cst.IndentedBlock, cst.Module)) and isinstance(body, (list, tuple)):
            for stmt in body:
                if (
                    isinstance(stmt, cst.SimpleStatementLine)
                    and len(stmt.body) == 1
                    and isinstance(stmt.body[0], cst.Expr)
                    and stmt.body[0].value is call.node
                ):
                    line, col, end_line, end_col = model.position(stmt.body[0])
                    if len(body) == 1:
                        return (line, col, end_line, end_col, "pass"), True
                    lines = model.source_lines()
                    if end_line < len(lines):
                        edit = (line, 1, end_line + 1, 1, "")
                    else:
                        edit = (line, 1, end_line, len(lines[end_line - 1]) + 1, "")
                    return edit, False
        if isinstance(n, cst.CSTNode):
            stack.extend(children(n))
    return None


def _statement_lines(root):
    """id(call) -> (block, SimpleStatementLine) for calls that are a statement of their own."""
    out = {}
    stack = [root.body if isinstance(root, (cst.FunctionDef, cst.ClassDef)) else root]
    while stack:
        n = stack.pop()
        if isinstance(n, (cst.FunctionDef, cst.ClassDef, cst.Lambda)):
            continue
        body = getattr(n, "body", None)
        if isinstance(n, (cst.IndentedBlock, cst.Module)) and isinstance(body, (list, tuple)):
            for stmt in body:
                if (
                    isinstance(stmt, cst.SimpleStatementLine)
                    and len(stmt.body) == 1
                    and isinstance(stmt.body[0], cst.Expr)
                    and isinstance(stmt.body[0].value, cst.Call)
                ):
                    out[id(stmt.body[0].value)] = (n, stmt)
        stack.extend(children(n))
    return out


def move_after_edits(model, first_call, second_call):
    """The edits that move the line of the statement ``first_call`` (a method call of its own)
    to just after the line of ``second_call`` in the same block, else None (another block,
    more than one line, or a line without its newline)."""
    lines = _statement_lines(first_call.scope.node)
    a, b = lines.get(id(first_call.node)), lines.get(id(second_call.node))
    if a is None or b is None or a[0] is not b[0]:
        return None
    s_line, _, s_end, _ = model.position(a[1].body[0])
    o_line, _, o_end, _ = model.position(b[1].body[0])
    text = model.source_lines(keepends=True)
    if s_line != s_end or o_line != o_end or o_end > len(text) or s_line >= o_line:
        return None
    if not text[o_end - 1].endswith(("\n", "\r")):
        return None  # the second statement ends the file without a newline
    moved = text[s_line - 1]
    if not moved.endswith(("\n", "\r")):
        return None
    return (s_line, 1, s_line + 1, 1, ""), (o_end + 1, 1, o_end + 1, 1, moved)
