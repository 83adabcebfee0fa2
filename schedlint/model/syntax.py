"""Small queries over libcst expressions, shared by the model builder and the rules.

They read one expression and nothing around it: which dotted name it spells, which string key a
subscript uses, which number a literal folds to.
"""

from __future__ import annotations

from typing import Optional

import libcst as cst


def dotted_name(node) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def string_value(node) -> Optional[str]:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # malformed escapes: not a key we could match anyway
            return None
        return value if isinstance(value, str) else None
    return None


def subscript_key(node: cst.Subscript) -> Optional[str]:
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        return string_value(node.slice[0].slice.value)
    return None


def fold_number(node) -> Optional[float]:
    """Fold literal arithmetic (``1e-3``, ``-0.1``, ``0.1 * 2``) to a number."""
    if isinstance(node, cst.Integer):
        return float(node.evaluated_value)
    if isinstance(node, cst.Float):
        return float(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation):
        inner = fold_number(node.expression)
        if inner is None:
            return None
        if isinstance(node.operator, cst.Minus):
            return -inner
        if isinstance(node.operator, cst.Plus):
            return inner
        return None
    if isinstance(node, cst.BinaryOperation):
        left, right = fold_number(node.left), fold_number(node.right)
        if left is None or right is None:
            return None
        try:
            if isinstance(node.operator, cst.Add):
                return left + right
            if isinstance(node.operator, cst.Subtract):
                return left - right
            if isinstance(node.operator, cst.Multiply):
                return left * right
            if isinstance(node.operator, cst.Divide):
                return left / right
            if isinstance(node.operator, cst.Power) and abs(right) < 64:
                return left ** right
        except (ArithmeticError, ValueError):
            return None
    return None


def expr_text(node) -> str:
    dotted = dotted_name(node)
    if dotted is not None:
        return dotted
    if isinstance(node, cst.Subscript):
        key = subscript_key(node)
        base = expr_text(node.value)
        if key is not None:
            return f"{base}[{key!r}]"
        if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
            return f"{base}[{expr_text(node.slice[0].slice.value)}]"
    if isinstance(node, cst.Integer):
        return node.value
    return "<expr>"
