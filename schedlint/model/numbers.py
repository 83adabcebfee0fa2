"""Literal arithmetic folded to numbers: what the builder, the value flow and the rules share
(the flow imports it here, not from the builder, which builds on the flow)."""

from __future__ import annotations

import libcst as cst


def fold_number(node, leaf=None) -> float | None:
    """Fold literal arithmetic (``1e-3``, ``-0.1``, ``0.1 * 2``) to a number. ``leaf``, when
    given, is asked for the number any other operand stands for (None: unknown)."""
    if isinstance(node, cst.Integer):
        return float(node.evaluated_value)
    if isinstance(node, cst.Float):
        return float(node.evaluated_value)
    if isinstance(node, cst.UnaryOperation):
        inner = fold_number(node.expression, leaf)
        if inner is None:
            return None
        if isinstance(node.operator, cst.Minus):
            return -inner
        if isinstance(node.operator, cst.Plus):
            return inner
        return None
    if isinstance(node, cst.BinaryOperation):
        left, right = fold_number(node.left, leaf), fold_number(node.right, leaf)
        if left is None or right is None:
            return None
        return fold_binary(node.operator, left, right)
    return leaf(node) if leaf is not None else None


def fold_binary(operator, left: float, right: float) -> float | None:
    """``left <operator> right`` for + - * / and small powers, else None."""
    try:
        if isinstance(operator, cst.Add):
            return left + right
        if isinstance(operator, cst.Subtract):
            return left - right
        if isinstance(operator, cst.Multiply):
            return left * right
        if isinstance(operator, cst.Divide):
            return left / right
        if isinstance(operator, cst.Power) and abs(right) < 64:
            return left**right
    except (ArithmeticError, ValueError):
        return None
    return None
