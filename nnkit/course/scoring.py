"""Cell scores: the engine's tests (and numeric answers) -> the course's grade cells.

Used by the pipeline on every course submission; the gradebook, CSV and Gradescope JSON all
carry these totals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nnkit.results import SubmissionResult, TestResult

from .answers import matches, read_answers
from .source_notebooks import ASSIGNMENTS, ROOT, grade_cells


@dataclass
class CellScore:
    """The trusted score of one grade cell."""

    notebook: str
    cell_id: str
    score: float
    max_score: float
    detail: str = ""


@dataclass
class StudentGrade:
    """Everything the trusted side decided for one student."""

    student: str
    result: SubmissionResult
    cells: list[CellScore] = field(default_factory=list)

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells)

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)


def covers(names: tuple[str, ...], test_name: str) -> bool:
    """Whether a grade cell standing for ``names`` counts the test ``test_name``: a plain API
    name takes all its tests, ``"<api>: <case prefix>"`` the tests whose name starts so."""
    api = test_name.split(":", 1)[0].strip()
    return any(test_name.startswith(n) if ":" in n else api == n for n in names)


def is_bonus(t: TestResult) -> bool:
    """A bonus test: worth 0 points, its score is extra (grading_tests/rules.py, ``Bonus``)."""
    return t.max_score == 0 and t.score > 0


def _fraction(result: SubmissionResult, names: tuple[str, ...]) -> tuple[float, float, str, float]:
    """(earned, possible, failures, bonus) over the tests a cell standing for ``names`` counts."""
    earned = possible = bonus = 0.0
    failed = []
    for t in result.tests:
        if covers(names, t.name):
            if is_bonus(t):
                bonus += t.score
                continue
            earned += max(0.0, t.score)
            possible += t.max_score
            if not t.passed:
                failed.append(f"{t.name}: {t.output.splitlines()[0] if t.output else 'failed'}")
    return earned, possible, "\n".join(failed), bonus


def score_cells(
    assignment: str, notebooks: list[Path], result: SubmissionResult, source_root: Path = ROOT
) -> list[CellScore]:
    """Trusted scores of every autograded cell of the course table."""
    table = grade_cells(assignment, source_root)
    answer_names = [n for g in table.values() if g.kind == "answer" for n in g.names]
    got = read_answers(notebooks, answer_names) if answer_names else {}
    sources = sorted((source_root / "source" / assignment).glob("*.ipynb"))
    expected = read_answers(sources, answer_names) if answer_names else {}
    out = []
    for (nb_name, cell_id), g in table.items():
        if g.kind == "manual":
            continue
        if g.kind == "answer":
            ok = [n for n in g.names if matches(got.get(n), expected.get(n))]
            wrong = [n for n in g.names if n not in ok]
            score = g.points * len(ok) / len(g.names)
            detail = "wrong or missing: " + ", ".join(wrong) if wrong else ""
            result.tests.append(TestResult(f"{cell_id}: numeric answers", score, g.points, detail))
        else:
            earned, possible, detail, bonus = _fraction(result, g.names)
            score = g.points * earned / possible if possible else 0.0
            if not possible:
                detail = "no hidden test ran for " + ", ".join(g.names)
            if bonus:  # extra points, beyond the cell's maximum
                score += bonus
                detail = "\n".join(filter(None, [detail, f"bonus: {bonus:g} extra point(s)"]))
        out.append(CellScore(nb_name, cell_id, round(score, 4), g.points, detail))
    return out


def store_cell_scores(
    gb: Any, assignment: str, student: str, cells: list[tuple[str, str, float]]
) -> list[str]:
    """Set (notebook, cell id, score) as auto scores in an open gradebook; returns problems."""
    problems = []
    for notebook, cell_id, score in cells:
        try:
            grade = gb.find_grade(cell_id, notebook, assignment, student)
        except Exception:  # nbgrader.api.MissingEntry: a cell this submission lacks
            problems.append(f"{student}: no gradebook entry for {notebook}/{cell_id}")
            continue
        top = grade.max_score if grade.max_score is not None else score
        grade.auto_score = min(score, top)  # a bonus beyond the cell's points: extra credit
        grade.extra_credit = score - top if score > top else None
        grade.needs_manual_grade = False
    return problems


def course_cells(
    assignment: str, files: list[Path], result: SubmissionResult
) -> list[list[Any]] | None:
    """[notebook, cell id, score, max score] of every autograded cell of a course assignment.

    None for an assignment the course does not know. Adds the numeric-answer tests to
    ``result``.
    """
    if assignment not in ASSIGNMENTS:
        return None
    notebooks = [f for f in files if f.suffix == ".ipynb"]
    cells = score_cells(assignment, notebooks, result)
    return [[c.notebook, c.cell_id, c.score, c.max_score] for c in cells]
