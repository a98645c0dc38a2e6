"""Small real submissions for the batch tests, made from the reference's own source.

Modules hold a few layer functions only, so that the real engine grades each in about a second.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import nbformat

import reference.layers

LAYERS = Path(reference.layers.__file__)
HEADER = "from typing import Any\n\nimport numpy as np\n\nCache = Any\n"
NAMES = ("relu_forward", "relu_backward", "affine_forward", "affine_backward")
#: Engine options for the tests (a short per-call limit keeps hostile submissions cheap).
GRADE_KWARGS = {"timeout": 2.0}


def function_sources(names: tuple[str, ...] = NAMES) -> dict[str, str]:
    """Source of each named function of reference/layers.py."""
    text = LAYERS.read_text()
    tree = ast.parse(text)
    return {
        n.name: ast.get_source_segment(text, n)
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name in names
    }


def module_source(kind: str = "correct", names: tuple[str, ...] = NAMES) -> str:
    """A ``layers.py`` submission: correct, buggy (ReLU gradient at 0) or hostile (hangs in
    relu_backward)."""
    funcs = function_sources(names)
    if kind == "buggy":
        funcs["relu_backward"] = funcs["relu_backward"].replace("(x > 0)", "(x >= 0)")
    elif kind == "hostile":
        funcs["relu_backward"] = (
            "def relu_backward(dout, cache):\n    while True:\n        pass\n    return dout"
        )
    elif kind != "correct":
        raise ValueError(kind)
    return HEADER + "\n\n" + "\n\n\n".join(funcs[n] for n in names if n in funcs) + "\n"


def write_class(root: Path, kinds: dict[str, str], assignment: str = "layers_hw") -> Path:
    """``root/submitted/<student>/<assignment>/layers.py`` for each student -> kind."""
    sub = root / "submitted"
    for student, kind in kinds.items():
        d = sub / student / assignment
        d.mkdir(parents=True)
        (d / "layers.py").write_text(module_source(kind))
    return sub


def notebook(cells: list[tuple[str, str, str | None]]) -> dict:
    """An nbgrader-style notebook from (cell_type, source, grade_id) triples, as a dict."""
    nb = nbformat.v4.new_notebook()
    for i, (kind, src, gid) in enumerate(cells):
        cell = (
            nbformat.v4.new_code_cell(src) if kind == "code" else nbformat.v4.new_markdown_cell(src)
        )
        cell.id = f"cell-{i}"
        if gid:
            cell.metadata["nbgrader"] = {
                "grade": False,
                "grade_id": gid,
                "locked": False,
                "schema_version": 3,
                "solution": kind == "code",
                "task": False,
            }
        nb.cells.append(cell)
    data = json.loads(nbformat.writes(nb))
    for c in data["cells"]:
        c["source"] = "".join(c["source"])
    return data


def lost_apis(record: dict) -> set[str]:
    """API names of :data:`NAMES` on which a result record lost points."""
    return {
        api
        for t in record["tests"]
        if (api := t["name"].split(":", 1)[0]) in NAMES and t["score"] < t["max_score"]
    }


def result_files(out: Path) -> list[Path]:
    """Result records (not timings, not temporaries) under a batch output folder."""
    return sorted(p for p in (out / "results").rglob("*.json") if not p.name.endswith(".time.json"))


def grade_or_die(paths: list, student_id: str, **kwargs: object) -> object:
    """The real engine, except that grading student ``crash`` kills the grading process."""
    import os

    from nnkit.grade import grade

    if student_id == "crash":
        os._exit(7)
    return grade(paths, student_id, **kwargs)
