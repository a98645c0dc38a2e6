"""Numeric answers (e.g. gradients computed by hand) read from notebooks without running them.

A student's answer is the last top-level assignment ``name = <expression>`` in a code cell.
The expression may be a number or a calculation: arithmetic (``+ - * / // % **``), the
constants and elementary functions of ``math`` and ``numpy`` (``1/3``, ``np.log(10)``,
``math.sqrt(2) / 2``, ``np.exp(-1) * 0.5``, ``max(0, 0.4)``), and names assigned before at top
level in the same way (``x1 = 0.3 * 1.0 + 0.1`` then ``dz_dw1 = x1``). Nothing is executed:
the expression's syntax tree is checked against a whitelist and evaluated here on floats, so
an expression that calls anything else (``__import__('os')``), reads attributes other than
the listed ones, or produces something too large (``10**10**10``) is simply not an answer.
The expected values are read the same way from the instructor's source notebook, so they
have one source: the solution cell.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Iterable
from pathlib import Path

from nnkit.loader import read_bytes
from nnkit.notebooks import code_cells, read_notebook, strip_magics

_BINOPS: dict[type, Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_UNARY: dict[type, Callable[[float], float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}

#: Largest number of syntax-tree nodes an answer may have (a hand calculation, not a program).
MAX_NODES = 500
#: Largest magnitude of an integer literal or intermediate value accepted.
MAX_MAGNITUDE = 1e300


def _factorial(x: float) -> float:
    if x != int(x) or not 0 <= x <= 170:
        raise NotArithmetic("factorial needs an integer from 0 to 170")
    return float(math.factorial(int(x)))


def _log(x: float, base: float | None = None) -> float:
    return math.log(x) if base is None else math.log(x, base)


#: Elementary functions by the name they have in math / numpy (or as a builtin), with the
#: numbers of arguments they take.
_FUNCTIONS: dict[str, tuple[Callable[..., float], tuple[int, ...]]] = {
    "sqrt": (math.sqrt, (1,)),
    "cbrt": (lambda x: math.copysign(abs(x) ** (1 / 3), x), (1,)),
    "exp": (math.exp, (1,)),
    "exp2": (lambda x: 2.0**x, (1,)),
    "expm1": (math.expm1, (1,)),
    "log": (_log, (1, 2)),
    "log2": (math.log2, (1,)),
    "log10": (math.log10, (1,)),
    "log1p": (math.log1p, (1,)),
    "sin": (math.sin, (1,)),
    "cos": (math.cos, (1,)),
    "tan": (math.tan, (1,)),
    "asin": (math.asin, (1,)),
    "acos": (math.acos, (1,)),
    "atan": (math.atan, (1,)),
    "arcsin": (math.asin, (1,)),
    "arccos": (math.acos, (1,)),
    "arctan": (math.atan, (1,)),
    "atan2": (math.atan2, (2,)),
    "arctan2": (math.atan2, (2,)),
    "sinh": (math.sinh, (1,)),
    "cosh": (math.cosh, (1,)),
    "tanh": (math.tanh, (1,)),
    "hypot": (math.hypot, (2,)),
    "degrees": (math.degrees, (1,)),
    "radians": (math.radians, (1,)),
    "abs": (abs, (1,)),
    "fabs": (abs, (1,)),
    "absolute": (abs, (1,)),
    "floor": (lambda x: float(math.floor(x)), (1,)),
    "ceil": (lambda x: float(math.ceil(x)), (1,)),
    "trunc": (lambda x: float(math.trunc(x)), (1,)),
    "round": (lambda x, n=0: float(round(x, int(n))), (1, 2)),
    "square": (lambda x: x * x, (1,)),
    "pow": (lambda x, y: x**y, (2,)),
    "power": (lambda x, y: x**y, (2,)),
    "max": (max, (2, 3, 4, 5, 6, 7, 8)),
    "min": (min, (2, 3, 4, 5, 6, 7, 8)),
    "maximum": (max, (2,)),
    "minimum": (min, (2,)),
    "factorial": (_factorial, (1,)),
    "float": (float, (1,)),
    "int": (lambda x: float(int(x)), (1,)),
    "float64": (float, (1,)),
    "float32": (float, (1,)),
}
#: Which functions each namespace offers (builtins are called without a prefix).
_BUILTINS = {"abs", "round", "pow", "max", "min", "float", "int"}
_MATH = {
    "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "tanh", "hypot", "degrees",
    "radians", "fabs", "floor", "ceil", "trunc", "pow", "factorial",
}  # fmt: skip
_NUMPY = {
    "sqrt", "cbrt", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "hypot",
    "degrees", "radians", "abs", "absolute", "fabs", "floor", "ceil", "trunc", "round",
    "square", "power", "maximum", "minimum", "float64", "float32",
}  # fmt: skip
_CONSTANTS = {"pi": math.pi, "e": math.e, "tau": math.tau}
#: Module -> (functions, constants) that may be used through it.
_MODULES = {"math": (_MATH, _CONSTANTS), "numpy": (_NUMPY, {"pi": math.pi, "e": math.e})}


class NotArithmetic(ValueError):
    """The expression is not an allowed calculation."""


class Scope:
    """What names mean while a notebook is read: numbers assigned before, and the aliases
    under which ``math`` and ``numpy`` (or single functions and constants) were imported."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.modules: dict[str, str] = {"np": "numpy", "numpy": "numpy", "math": "math"}
        self.functions: dict[str, str] = {name: name for name in _BUILTINS}

    def bind(self, name: str, value: float | None) -> None:
        """`name = value` (None: something that is not an allowed number)."""
        self.modules.pop(name, None)
        self.functions.pop(name, None)
        if value is None:
            self.values.pop(name, None)
        else:
            self.values[name] = value

    def imports(self, node: ast.Import | ast.ImportFrom) -> None:
        """Record `import numpy as np`, `import math`, `from math import sqrt, pi`."""
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in _MODULES:
                    self.modules[alias.asname or alias.name] = alias.name
            return
        if node.module not in _MODULES or node.level:
            return
        functions, constants = _MODULES[node.module]
        if any(alias.name == "*" for alias in node.names):
            self.functions.update({name: name for name in functions})
            self.values.update(constants)
            return
        for alias in node.names:
            local = alias.asname or alias.name
            if alias.name in functions:
                self.functions[local] = alias.name
                self.values.pop(local, None)
            elif alias.name in constants:
                self.values[local] = constants[alias.name]


def _check(value: float) -> float:
    if isinstance(value, complex) or not math.isfinite(value) or abs(value) > MAX_MAGNITUDE:
        raise NotArithmetic("not a finite real number")
    return float(value)


def _call(fn: Callable[..., float], arities: tuple[int, ...], args: list[float]) -> float:
    if len(args) not in arities:
        raise NotArithmetic("wrong number of arguments")
    try:
        return _check(fn(*args))
    except (ArithmeticError, ValueError, TypeError) as e:
        raise NotArithmetic(str(e)) from e


def _function(node: ast.expr, scope: Scope) -> str:
    """The whitelisted function a call's target names, or NotArithmetic."""
    if isinstance(node, ast.Name) and node.id in scope.functions:
        return scope.functions[node.id]
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in scope.modules
        and node.attr in _MODULES[scope.modules[node.value.id]][0]
    ):
        return node.attr
    raise NotArithmetic("only elementary math / numpy functions may be called")


def _eval(node: ast.AST, scope: Scope) -> float:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            raise NotArithmetic("not a number")
        if isinstance(node.value, int) and abs(node.value) > MAX_MAGNITUDE:
            raise NotArithmetic("number too large")
        return _check(float(node.value))
    if isinstance(node, ast.Name):
        if node.id in scope.values:
            return scope.values[node.id]
        raise NotArithmetic(f"unknown name {node.id!r}")
    if isinstance(node, ast.Attribute):
        if isinstance(node.value, ast.Name) and node.value.id in scope.modules:
            constants = _MODULES[scope.modules[node.value.id]][1]
            if node.attr in constants:
                return constants[node.attr]
        raise NotArithmetic("only math / numpy constants may be read")
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _check(_UNARY[type(node.op)](_eval(node.operand, scope)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        left, right = _eval(node.left, scope), _eval(node.right, scope)
        try:  # both are floats: no operation can take long (huge powers overflow at once)
            return _check(_BINOPS[type(node.op)](left, right))
        except (ArithmeticError, ValueError) as e:
            raise NotArithmetic(str(e)) from e
    if isinstance(node, ast.Call):
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise NotArithmetic("only positional arguments")
        name = _function(node.func, scope)
        fn, arities = _FUNCTIONS[name]
        return _call(fn, arities, [_eval(a, scope) for a in node.args])
    raise NotArithmetic(f"not allowed: {type(node).__name__}")


def evaluate(node: ast.AST, env: dict[str, float] | Scope | None = None) -> float:
    """Value of an allowed expression tree (see the module docstring); NotArithmetic else.

    env: numbers assigned before (a dict), or a whole Scope (imports included).
    """
    scope = env if isinstance(env, Scope) else Scope()
    if isinstance(env, dict):
        scope.values.update(env)
    if sum(1 for _ in ast.walk(node)) > MAX_NODES:
        raise NotArithmetic("expression too long")
    try:
        return _eval(node, scope)
    except RecursionError as e:
        raise NotArithmetic("expression nested too deeply") from e


def evaluate_text(text: str, env: dict[str, float] | Scope | None = None) -> float:
    """evaluate() of an expression given as text."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise NotArithmetic("not an expression") from e
    return evaluate(tree.body, env)


def _cells(path: Path) -> Iterable[str]:
    """Code cells of a notebook (no link followed; a broken notebook has no answers)."""
    try:
        nb, _ = read_notebook(path.name, read_bytes(path))
    except OSError:
        return []
    return [] if nb is None else [c.source for c in code_cells(nb)]


def _targets(node: ast.stmt) -> list[tuple[str, ast.expr]]:
    """(name, expression) pairs a top-level statement assigns: `a = ...`, `a = b = ...`,
    `a, b = x, y`, `a: float = ...`, `a += ...` (as `a = a + ...`)."""
    if isinstance(node, ast.Assign):
        pairs: list[tuple[str, ast.expr]] = []
        for target in node.targets:
            if isinstance(target, ast.Name):
                pairs.append((target.id, node.value))
            elif (
                isinstance(target, ast.Tuple | ast.List)
                and isinstance(node.value, ast.Tuple | ast.List)
                and len(target.elts) == len(node.value.elts)
            ):
                pairs += [
                    (t.id, v)
                    for t, v in zip(target.elts, node.value.elts, strict=True)
                    if isinstance(t, ast.Name)
                ]
        return pairs
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value:
        return [(node.target.id, node.value)]
    if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
        name = node.target.id
        return [(name, ast.BinOp(ast.Name(name, ast.Load()), node.op, node.value))]
    return []


def read_answers(paths: Iterable[Path], names: Iterable[str]) -> dict[str, float | None]:
    """name -> the value a notebook assigns to it last (None if absent or not allowed)."""
    wanted = set(names)
    values: dict[str, float | None] = dict.fromkeys(wanted)
    scope = Scope()
    for path in paths:
        for src in _cells(Path(path)):
            try:
                tree = ast.parse(strip_magics(src))
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                continue
            for node in tree.body:
                if isinstance(node, ast.Import | ast.ImportFrom):
                    scope.imports(node)
                    continue
                pairs = _targets(node)
                # Evaluate every right-hand side before binding (a, b = b, a).
                results = []
                for name, expr in pairs:
                    try:
                        results.append((name, evaluate(expr, scope)))
                    except NotArithmetic:
                        results.append((name, None))
                for name, value in results:
                    scope.bind(name, value)
                    if name in wanted:
                        values[name] = value
    return values


def matches(value: float | None, expected: float | None, rel: float = 1e-6) -> bool:
    """Whether an answer equals the expected value (relative tolerance, 1e-9 absolute)."""
    if value is None or expected is None:
        return False
    return math.isclose(value, expected, rel_tol=rel, abs_tol=1e-9)
