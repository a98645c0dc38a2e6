"""A solution that follows only the stated rules gets full marks (issue 11).

``tests/submissions/students/rules_only/`` is a natural cs231n-style solution written from the
students' checklist (``release/<a>/CHECKLIST.md``) and ``docs/api.md`` alone, not from
``reference/``: cs231n's own structure (``"seed" in dropout_param``, ``bn_param.get``, staged
batchnorm graph, loops for convolution and pooling, argmax routing in max-pool backward,
``self.bn_params`` for both normalisations), and wherever the checklist says so (float32
kept, arguments not written, config dicts updated in place). If it loses a point, the rule it
broke is missing from the checklist: the fix is a statement in the rule table
(``grading_tests/rules.py``, ``STATED``) or docs/api.md, never a special case in the suites.

Graded through the real flow twice: as modules by every hidden suite (``nnkit.grade``), and
pasted into the committed release notebooks in place of the stubs, as a student hands them in,
graded with the course's grade cells (``nnkit.course.autograde.grade_student``: staging,
sandboxed engine, cell scores).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
import pytest

from nnkit.course import submissions as S
from nnkit.course.autograde import grade_student
from nnkit.course.source_notebooks import ASSIGNMENTS, ROOT, grade_cells
from nnkit.grade import ASSIGNMENT_APIS, STANDALONE_ASSIGNMENTS

pytestmark = pytest.mark.course

SOLUTION = ROOT / "tests" / "submissions" / "students" / "rules_only"
MODULES = ("layers.py", "layer_utils.py", "optim.py", "classifiers.py")
STANDALONE = ("neural_net.py",)


def _failures(result) -> list[str]:
    return [f"{t.name}: {t.output}" for t in result.tests if not t.passed]


@pytest.mark.parametrize("student", ["rules-only-a", "rules-only-b"])
def test_the_modules_get_full_marks_from_every_suite(student: str) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "suites"))
    import _corpus

    res = _corpus.grade_on(SOLUTION, student)
    graded = {t.api_name for t in res.tests}
    every = {api for apis in ASSIGNMENT_APIS.values() for api in apis}
    assert every - graded == {a for a in every if a.startswith("best_model_")}
    assert _failures(res) == []
    assert res.score == res.max_score > 0


def _definitions(files: tuple[str, ...]) -> dict[str, str]:
    """Top-level function and class sources of the solution's files."""
    out: dict[str, str] = {}
    for name in files:
        text = (SOLUTION / name).read_text(encoding="utf-8")
        for node in ast.parse(text).body:
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                out[node.name] = ast.get_source_segment(text, node) or ""
    return out


def _paste(release: S.Notebooks, defs: dict[str, str]) -> tuple[S.Notebooks, set[str]]:
    """The release with every stubbed definition that the solution has replaced by the
    solution's (the rest of each cell kept); returns the notebooks and the names pasted."""
    pasted: set[str] = set()
    out = {}
    for name, nb in release.items():
        nb = nbformat.reads(nbformat.writes(nb), as_version=4)
        for cell in nb.cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if cell.cell_type != "code" or not meta.get("solution"):
                continue
            lines = cell.source.split("\n")
            nodes = [
                n
                for n in ast.parse(cell.source).body
                if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name in defs
            ]
            for node in sorted(nodes, key=lambda n: n.lineno, reverse=True):
                start = (node.decorator_list[0].lineno if node.decorator_list else node.lineno) - 1
                lines[start : node.end_lineno] = defs[node.name].split("\n")
                pasted.add(node.name)
            cell.source = "\n".join(lines)
        out[name] = nb
    return out, pasted


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_the_solution_pasted_into_the_release_gets_full_marks(
    assignment: str, tmp_path: Path
) -> None:
    files = STANDALONE if assignment in STANDALONE_ASSIGNMENTS else MODULES
    release = S.read_release(ROOT / "release" / assignment)
    nbs, pasted = _paste(release, _definitions(files))
    graded = {a for a in ASSIGNMENT_APIS[assignment] if not a.startswith("best_model_")}
    assert graded <= pasted
    student = "rules-only"
    S.write_submission(nbs, tmp_path / "submitted" / student / assignment)
    result = grade_student(assignment, student, tmp_path)
    engine = {k for k, g in grade_cells(assignment).items() if g.kind == "engine"}
    cells = {(c.notebook, c.cell_id): (c.score, c.max_score) for c in result.cells}
    assert engine and engine <= set(cells)
    lost = {k: v for k, v in cells.items() if k in engine and v[0] != v[1]}
    # the numeric answers, written answers and saved models are not code: left unanswered
    mine = [t for t in result.result.tests if t.api_name in graded]
    assert {t.api_name for t in mine} == graded
    failures = [f"{t.name}: {t.output}" for t in mine if not t.passed]
    assert lost == {} and failures == [], (lost, failures)
