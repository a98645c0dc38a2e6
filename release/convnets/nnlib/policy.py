"""Static policy checks of a submission's code (``ast`` only, nothing is executed).

ONE table (:data:`POLICY`) configures them per exercise (API name); the ``"*"`` entry applies
to every exercise. A violation inside an exercise costs the points its rule gives (``None``:
every point that exercise earned) and appears as a result named ``"<api_name>: policy"``
whose output starts with ``"policy: "``. Calls are followed transitively through the
submission's own helper functions (a naive conv calling a helper that calls
``conv_forward_fast`` is caught), and module-level aliases (``f = conv_forward_fast``) too.

Standard library only, and only a relative import of its sibling ``loader``: a copy ships with
the student library (``nnlib/policy.py``), so that the students' self-check runs these very
rules and this table (:func:`penalties`, which turns violations into result entries, runs
on the grading side only).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .loader import Source, Submission

if TYPE_CHECKING:
    from .results import TestResult

#: modules a submission may not import (a prefix match: "scipy.signal" covers its members)
FORBIDDEN_MODULES: tuple[str, ...] = (
    "torch",
    "tensorflow",
    "jax",
    "keras",
    "scipy.signal",
    "scipy.ndimage",
    "reference",
    "grading_tests",
    "nnkit",
)

#: the provided fast layers and their im2col helpers (nnlib.fast_layers and cs231n names)
FAST_LAYERS: tuple[str, ...] = (
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
    "conv_forward_im2col",
    "conv_backward_im2col",
    "conv_forward_strides",
    "conv_backward_strides",
    "max_pool_forward_reshape",
    "max_pool_backward_reshape",
    "max_pool_forward_im2col",
    "max_pool_backward_im2col",
    "im2col_indices",
    "col2im_indices",
    "get_im2col_indices",
    "im2col",
    "col2im",
    "im2col_cython",
    "col2im_cython",
    "col2im_6d_cython",
)


@dataclass(frozen=True)
class Rule:
    """What one exercise may not do, and what a violation costs."""

    forbid_imports: tuple[str, ...] = ()
    forbid_names: tuple[str, ...] = ()  # functions it may not call or reference
    no_loops: bool = False  # no for/while/comprehensions (vectorising exercises)
    points: float | None = None  # penalty; None = every point the exercise earned


_NAIVE = Rule(forbid_names=FAST_LAYERS)

#: The one policy table: API name -> rule ("*": every exercise).
POLICY: dict[str, Rule] = {
    "*": Rule(forbid_imports=FORBIDDEN_MODULES),
    "conv_forward_naive": _NAIVE,
    "conv_backward_naive": _NAIVE,
    "max_pool_forward_naive": _NAIVE,
    "max_pool_backward_naive": _NAIVE,
}


@dataclass(frozen=True)
class Violation:
    """One broken rule."""

    api_name: str  # the exercise it is charged to ("" when no exercise uses it)
    message: str
    origin: str = ""


@dataclass
class _Def:
    node: ast.AST
    origin: str
    lineno_offset: int
    refs: set[str] = field(default_factory=set)


def _parse(src: Source) -> ast.Module | None:
    try:
        tree = ast.parse(src.code)
    except SyntaxError:
        return None
    ast.increment_lineno(tree, src.lineno - 1)
    return tree


def _referenced(node: ast.AST) -> set[str]:
    out: set[str] = set()
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
    return out


def _imports(node: ast.AST, siblings: set[str]) -> list[tuple[str, str, int]]:
    """(full module name, bound name, line) of the non-sibling imports under ``node``."""
    out = []
    for n in ast.walk(node):
        if isinstance(n, ast.Import):
            for a in n.names:
                if a.name in siblings or a.name.split(".")[0] in siblings:
                    continue
                out.append((a.name, a.asname or a.name.split(".")[0], n.lineno))
        elif isinstance(n, ast.ImportFrom):
            if n.level > 0:
                continue  # relative: a sibling submission module
            mod = n.module or ""
            if mod in siblings:
                continue
            for a in n.names:
                out.append(
                    (f"{mod}.{a.name}" if a.name != "*" else mod, a.asname or a.name, n.lineno)
                )
    return out


def _forbidden(module: str, banned: Iterable[str]) -> str | None:
    for b in banned:
        if module == b or module.startswith(b + "."):
            return b
    return None


def _loops(node: ast.AST) -> list[tuple[str, int]]:
    kinds = (
        ast.For,
        ast.AsyncFor,
        ast.While,
        ast.ListComp,
        ast.SetComp,
        ast.DictComp,
        ast.GeneratorExp,
    )
    return [
        (type(n).__name__, getattr(n, "lineno", 0)) for n in ast.walk(node) if isinstance(n, kinds)
    ]


def check(
    submission: Submission,
    api_names: Iterable[str],
    table: dict[str, Rule] | None = None,
    no_loops: Iterable[str] = (),
) -> list[Violation]:
    """Every violation of ``table`` (default :data:`POLICY`) in ``submission``.

    ``api_names``: the exercises graded; ``no_loops``: exercises an instructor marks as
    vectorising (adds ``no_loops`` to their rule).
    """
    table = POLICY if table is None else table
    apis = set(api_names)
    loop_free = set(no_loops)
    siblings = set(submission.aliases) | {"submission"}
    defs: dict[str, _Def] = {}
    aliases: dict[str, set[str]] = {}
    module_imports: list[tuple[str, str, int, str]] = []
    for src in submission.sources:
        tree = _parse(src)
        if tree is None:
            continue
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                defs[node.name] = _Def(node, src.origin, 0, _referenced(node))
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                value = node.value
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and value is not None:
                        aliases[t.id] = _referenced(value)
            elif isinstance(node, ast.Import | ast.ImportFrom | ast.Try):
                for mod, bound, line in _imports(node, siblings):
                    module_imports.append((mod, bound, line, src.origin))

    def reach(name: str) -> tuple[set[str], list[_Def]]:
        """Names referenced by ``name`` and the submission defs reached from it."""
        seen: set[str] = set()
        names: set[str] = set()
        reached: list[_Def] = []
        stack = [name]
        while stack:
            cur = stack.pop()
            if cur in seen:
                continue
            seen.add(cur)
            if cur in defs:
                reached.append(defs[cur])
                refs = defs[cur].refs
            elif cur in aliases:
                refs = aliases[cur]
            else:
                continue
            names |= refs
            stack.extend(refs - seen)
        return names, reached

    out: list[Violation] = []
    charged_imports: set[int] = set()
    for api in sorted(apis):
        if api not in defs:
            continue
        rule_all = table.get("*", Rule())
        rule = table.get(api, Rule())
        names, reached = reach(api)
        banned_mods = rule_all.forbid_imports + rule.forbid_imports
        # module-level forbidden imports used by this exercise
        for i, (mod, bound, line, origin) in enumerate(module_imports):
            hit = _forbidden(mod, banned_mods)
            if hit and bound in names:
                charged_imports.add(i)
                out.append(
                    Violation(
                        api,
                        f"uses forbidden module {mod} (imported at {origin}, line {line})",
                        origin,
                    )
                )
        for d in reached:
            for mod, _bound, line in _imports(d.node, siblings):
                if _forbidden(mod, banned_mods):
                    out.append(
                        Violation(
                            api,
                            f"imports forbidden module {mod} ({d.origin}, line {line})",
                            d.origin,
                        )
                    )
        banned_names = set(rule_all.forbid_names + rule.forbid_names)
        for bad in sorted((names & banned_names) - set(defs)):
            out.append(Violation(api, f"calls the provided {bad}, not allowed in {api}"))
        if rule.no_loops or rule_all.no_loops or api in loop_free:
            for d in reached:
                for kind, line in _loops(d.node):
                    out.append(
                        Violation(
                            api,
                            f"Python loop ({kind}) at {d.origin}, line "
                            f"{line}: {api} must be vectorised",
                            d.origin,
                        )
                    )
    banned_all = table.get("*", Rule()).forbid_imports
    for i, (mod, _bound, line, origin) in enumerate(module_imports):
        if i not in charged_imports and _forbidden(mod, banned_all):
            out.append(
                Violation("", f"imports forbidden module {mod} ({origin}, line {line})", origin)
            )
    return out


def penalties(
    violations: list[Violation],
    results: list[TestResult],
    table: dict[str, Rule] | None = None,
) -> list[TestResult]:
    """Result entries for ``violations``: ``"<api>: policy"``, score = minus the cost.

    The cost is the rule's points (``None``: everything the exercise earned), never more
    than the exercise earned, so a total never goes below what the other exercises earned.
    """
    from .results import TestResult  # the grading side's result model (not shipped)

    table = POLICY if table is None else table
    earned: dict[str, float] = {}
    for t in results:
        earned[t.api_name] = earned.get(t.api_name, 0.0) + t.score
    grouped: dict[str, list[str]] = {}
    for v in violations:
        grouped.setdefault(v.api_name, []).append(v.message)
    out = []
    for api, msgs in grouped.items():
        msgs = list(dict.fromkeys(msgs))
        if not api:
            out.append(TestResult("submission: policy", 0.0, 0.0, "policy: " + "; ".join(msgs)))
            continue
        rule = table.get(api) or table.get("*") or Rule()
        got = max(0.0, earned.get(api, 0.0))
        cost = got if rule.points is None else min(float(rule.points), got)
        out.append(TestResult(f"{api}: policy", -cost, 0.0, "policy: " + "; ".join(msgs)))
    return out
