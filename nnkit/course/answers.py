"""Numeric answers (e.g. gradients computed by hand) read from notebooks without running them.

A student's answer is the last top-level assignment ``name = <expression>`` in a code cell,
where the expression is plain arithmetic on numbers (and on answers assigned before). The
expected values are read the same way from the instructor's source notebook, so they have
one source: the solution cell.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Iterable
from pathlib import Path

from nnkit.loader import read_bytes
from nnkit.notebooks import code_cells, read_notebook, strip_magics

_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}


class NotArithmetic(ValueError):
    """The expression is not plain arithmetic."""


def evaluate(node: ast.AST, env: dict[str, float]) -> float:
    """Value of an arithmetic expression tree (numbers, + - * / // % **, known names)."""
    if (
        isinstance(node, ast.Constant)
        and isinstance(node.value, int | float)
        and not isinstance(node.value, bool)
    ):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in env:
        return env[node.id]
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](evaluate(node.operand, env))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = evaluate(node.left, env), evaluate(node.right, env)
        if isinstance(node.op, ast.Pow) and (abs(right) > 64 or abs(left) > 1e6):
            raise NotArithmetic("exponent too large")
        try:
            value = _BINOPS[type(node.op)](left, right)
        except (ZeroDivisionError, OverflowError) as e:
            raise NotArithmetic(str(e)) from e
        if not isinstance(value, int | float) or not math.isfinite(value):
            raise NotArithmetic("not a finite real number")
        return float(value)
    raise NotArithmetic(ast.dump(node)[:60])


def _cells(path: Path) -> Iterable[str]:
    """Code cells of a notebook (no link followed; a broken notebook has no answers)."""
    try:
        nb, _ = read_notebook(path.name, read_bytes(path))
    except OSError:
        return []
    return [] if nb is None else [c.source for c in code_cells(nb)]


def read_answers(paths: Iterable[Path], names: Iterable[str]) -> dict[str, float | None]:
    """name -> the value a notebook assigns to it last (None if absent or not arithmetic)."""
    wanted = set(names)
    values: dict[str, float | None] = dict.fromkeys(wanted)
    env: dict[str, float] = {}
    for path in paths:
        for src in _cells(Path(path)):
            try:
                tree = ast.parse(strip_magics(src))
            except SyntaxError:
                continue
            for node in tree.body:
                if not (
                    isinstance(node, ast.Assign)
                    and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                ):
                    continue
                name = node.targets[0].id
                if name not in wanted:
                    continue
                try:
                    env[name] = evaluate(node.value, env)
                    values[name] = env[name]
                except NotArithmetic:
                    env.pop(name, None)
                    values[name] = None
    return values


def matches(value: float | None, expected: float | None, rel: float = 1e-6) -> bool:
    """Whether an answer equals the expected value (relative tolerance, 1e-9 absolute)."""
    if value is None or expected is None:
        return False
    return math.isclose(value, expected, rel_tol=rel, abs_tol=1e-9)
