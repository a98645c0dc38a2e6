"""``nnkit autograde <a>``: an assignment's submissions through the one grading pipeline.

The course's own flow on top of :mod:`nnkit.batch` (the same tasks, sandbox and outputs as
``nnkit grade submitted/``): every submitted notebook is executed in the sandbox (outputs and
plots for the formgrader and feedback), graded by the hidden suites in the sandbox, and every
grade cell listed in the course table (``build_notebooks.grade_cells``) gets its score in the
gradebook: ``points * earned / possible`` over the engine tests of the API names the cell
stands for, or over the numeric answers it checks. Manually graded cells are left to the
formgrader. Plain ``nbgrader autograde`` is refused by the course config
(:mod:`nnkit.course.refuse`).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from nnkit.results import SubmissionResult, TestResult

from .answers import matches, read_answers
from .build_notebooks import ASSIGNMENTS, ROOT, grade_cells
from .release import ReleaseError, run_nbgrader

COURSE_ID = "nnkit"


def db_url_for(course_root: Path) -> str:
    """The course's SQLite gradebook (as nbgrader_config.py sets it)."""
    return f"sqlite:///{course_root / 'gradebook.db'}"


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


# -------------------------------------------------------------------------------------------
# nbgrader steps
# -------------------------------------------------------------------------------------------


def ensure_assignment(assignment: str, course_root: Path) -> None:
    """Make sure the gradebook knows the assignment and its cells (as generate_assignment
    records them), without touching release/."""
    with Gradebook(db_url_for(course_root), COURSE_ID) as gb:
        try:
            a = gb.find_assignment(assignment)
            if a.notebooks:
                return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        run_nbgrader(
            [
                "generate_assignment",
                assignment,
                "--force",
                f"--CourseDirectory.release_directory={tmp}",
            ],
            course_root,
        )


def submitted_students(assignment: str, course_root: Path) -> list[str]:
    """Students with a folder submitted/<s>/<assignment>/."""
    sub = course_root / "submitted"
    return sorted(p.parent.name for p in sub.glob(f"*/{assignment}") if p.is_dir())


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def covers(names: tuple[str, ...], test_name: str) -> bool:
    """Whether a grade cell standing for ``names`` counts the test ``test_name``: a plain API
    name takes all its tests, ``"<api>: <case prefix>"`` the tests whose name starts so."""
    api = test_name.split(":", 1)[0].strip()
    return any(test_name.startswith(n) if ":" in n else api == n for n in names)


def _fraction(result: SubmissionResult, names: tuple[str, ...]) -> tuple[float, float, str]:
    earned = possible = 0.0
    failed = []
    for t in result.tests:
        if covers(names, t.name):
            earned += max(0.0, t.score)
            possible += t.max_score
            if not t.passed:
                failed.append(f"{t.name}: {t.output.splitlines()[0] if t.output else 'failed'}")
    return earned, possible, "\n".join(failed)


def score_cells(
    assignment: str, notebooks: list[Path], result: SubmissionResult, source_root: Path = ROOT
) -> list[CellScore]:
    """Trusted scores of every autograded cell of the course table."""
    table = grade_cells(assignment)
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
            earned, possible, detail = _fraction(result, g.names)
            score = g.points * earned / possible if possible else 0.0
            if not possible:
                detail = "no hidden test ran for " + ", ".join(g.names)
        out.append(CellScore(nb_name, cell_id, round(score, 4), g.points, detail))
    return out


def write_gradebook(
    assignment: str, student: str, cells: list[CellScore], course_root: Path
) -> list[str]:
    """Store the trusted scores as the grade cells' auto scores; returns problems."""
    with Gradebook(db_url_for(course_root), COURSE_ID) as gb:
        problems = store_cell_scores(
            gb, assignment, student, [(c.notebook, c.cell_id, c.score) for c in cells]
        )
        gb.db.commit()
    return problems


def store_cell_scores(
    gb: Gradebook, assignment: str, student: str, cells: list[tuple[str, str, float]]
) -> list[str]:
    """Set (notebook, cell id, score) as auto scores in an open gradebook; returns problems."""
    problems = []
    for notebook, cell_id, score in cells:
        try:
            grade = gb.find_grade(cell_id, notebook, assignment, student)
        except MissingEntry:
            problems.append(f"{student}: no gradebook entry for {notebook}/{cell_id}")
            continue
        grade.auto_score = score
        grade.needs_manual_grade = False
    return problems


def grade_student(
    assignment: str, student: str, course_root: Path, timeout: float = 5.0
) -> StudentGrade:
    """Engine + answers for submitted/<student>/<assignment>/ (no nbgrader involved)."""
    from nnkit.grade import grade

    folder = course_root / "submitted" / student / assignment
    notebooks = sorted(folder.glob("*.ipynb"))
    result = (
        grade(notebooks, student, timeout=timeout)
        if notebooks
        else SubmissionResult(student=student, messages=["no notebooks submitted"])
    )
    cells = score_cells(assignment, notebooks, result)
    return StudentGrade(student, result, cells)


# -------------------------------------------------------------------------------------------
# outputs
# -------------------------------------------------------------------------------------------


def write_cells_csv(out: Path, grades: list[StudentGrade]) -> None:
    """cells.csv: every grade cell's trusted score per student."""
    with open(out / "cells.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "cell", "score", "max_score"])
        for g in grades:
            for c in g.cells:
                w.writerow([g.student, c.notebook, c.cell_id, c.score, c.max_score])


def autograde(
    assignment: str,
    course_root: Path,
    students: list[str] | None = None,
    timeout: float = 5.0,
    workers: int | None = None,
    force: bool = False,
    log=print,
) -> list[StudentGrade]:
    """Grade submitted/<s>/<assignment>/ through the one pipeline (stage, execute in the
    sandbox, hidden suites, cell scores, gradebook, autograded/, feedback/, CSV, JSON);
    returns the trusted grades. Reports go to reports/<assignment>/."""
    from nnkit.batch.runner import BatchConfig, run_batch
    from nnkit.batch.store import ResultStore

    if assignment not in ASSIGNMENTS:
        raise ReleaseError(f"unknown assignment {assignment!r}")
    ensure_assignment(assignment, course_root)
    out = course_root / "reports" / assignment
    cfg = BatchConfig(
        root=course_root / "submitted",
        assignment=assignment,
        students=tuple(students) if students else None,
        course_root=course_root,
        out_dir=out,
        force=force,
        grade_kwargs={"timeout": timeout},
        progress=False,
        report=False,
        **({"workers": workers} if workers else {}),
    )
    summary = run_batch(cfg)
    store = ResultStore(out)
    grades = []
    for sub, rec in store.records(summary.submissions):
        cells = [CellScore(nb, cell, sc, mx) for nb, cell, sc, mx in rec.get("cells", [])]
        g = StudentGrade(sub.student, SubmissionResult.from_dict(rec), cells)
        log(f"{sub.student}: {g.score:g} / {g.max_score:g} (autograded cells)")
        grades.append(g)
    write_cells_csv(out, grades)
    return grades


def gradebook_scores(
    assignment: str, student: str, course_root: Path
) -> dict[tuple[str, str], tuple[float, float]]:
    """(notebook, cell) -> (score, max_score) as the gradebook holds them."""
    out = {}
    with Gradebook(db_url_for(course_root), COURSE_ID) as gb:
        sub = gb.find_submission(assignment, student)
        for nb in sub.notebooks:
            for g in nb.grades:
                out[(nb.name, g.name)] = (float(g.score), float(g.max_score))
    return out


# -------------------------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------------------------


def course_dir(path: Path | None) -> Path:
    """The course to act on: ``--course DIR``, else the current directory."""
    root = (path or Path.cwd()).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise SystemExit(
            f"nnkit: {root} is not a course directory (no nbgrader_config.py); "
            "run from your course root or pass --course DIR"
        )
    return root


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", choices=ASSIGNMENTS)
    parser.add_argument(
        "--student",
        action="append",
        default=None,
        help="grade only this student (repeatable); default: all submitted",
    )
    parser.add_argument("--course", type=Path, help="course root (default: current directory)")
    parser.add_argument("--workers", type=int, help="submissions graded at a time (default: cores)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="wall-clock limit of one call into a submission (s)",
    )


def run(args: argparse.Namespace) -> int:
    course = course_dir(args.course)
    grades = autograde(
        args.assignment,
        course,
        args.student,
        timeout=args.timeout,
        workers=args.workers,
        force=args.force,
    )
    print(f"graded {len(grades)} submission(s); reports in {course / 'reports' / args.assignment}")
    return 0
