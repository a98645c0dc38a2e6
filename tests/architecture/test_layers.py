"""Imports only go down: commands -> flows -> pipeline -> parts -> sandbox (no circle).

Every import counts, function-level ones included; a module may import its own layer or a
lower one. A new module must be placed in :data:`LAYERS`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parents[2]
#: top to bottom; a name ending in "." is a package prefix
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    (
        "commands",
        (
            "nnkit.cli",
            "nnkit.__main__",
            "nnkit.demo",
            "nnkit.doctor",
            "nnkit.batch.cli",
            "nnkit.batch.__main__",
            "nnkit.grade_cli",
            "nnkit.gradescope",
        ),
    ),
    (
        "flows",
        (
            "nnkit.course.autograde",
            "nnkit.course.release",
            "nnkit.batch.runner",
            "nnkit.batch.dask_runner",
            "nnkit.course.manifest",
            "nnkit.lms",
            "nnkit.similarity",
        ),
    ),
    (
        "outputs",
        (
            "nnkit.batch.outputs",
            "nnkit.batch.report",
            "nnkit.batch.gradebook",
            "nnkit.batch.store",
        ),
    ),
    ("pipeline", ("nnkit.batch.task", "nnkit.execution")),
    (
        "engine",
        ("nnkit.grade", "nnkit.pytest_plugin", "nnkit.course.scoring", "nnkit.course.publish"),
    ),
    (
        "parts",
        (
            "nnkit.batch.",
            "nnkit.course.",
            "nnkit.policy",
            "nnkit.intake",
            "nnkit.late",
            "nnkit.results",
            "nnkit.heldout",
            "nnkit.staging",
            "nnkit.errors",
            "nnkit.make_bundled_data",
            "nnkit",
        ),
    ),
    ("sandbox", ("nnkit.sandbox.", "nnkit.loader", "nnkit.notebooks")),
]


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None  # (specificity, layer)
    for i, (_, names) in enumerate(LAYERS):
        for n in names:
            hit = module.startswith(n) or module == n[:-1] if n.endswith(".") else module == n
            if hit and (best is None or len(n) > best[0]):
                best = (len(n), i)
    return None if best is None else best[1]


def _modules() -> dict[str, Path]:
    out = {}
    for p in (ROOT / "nnkit").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _imports(name: str, path: Path) -> set[str]:
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in found if m == "nnkit" or m.startswith("nnkit.")}


def test_every_module_has_a_layer() -> None:
    assert [m for m in _modules() if _layer(m) is None] == []


def test_imports_only_go_down() -> None:
    mods = _modules()
    bad = []
    for name, path in sorted(mods.items()):
        mine = _layer(name)
        for imp in sorted(_imports(name, path)):
            if imp not in mods:
                continue  # a name imported from a module, counted through the module
            theirs = _layer(imp)
            if theirs is not None and mine is not None and theirs < mine:
                bad.append(f"{name} ({LAYERS[mine][0]}) imports {imp} ({LAYERS[theirs][0]})")
    assert bad == []
