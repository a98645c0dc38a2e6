"""``nnkit autograde <a>``: an assignment's submissions through the one grading pipeline.

The course's own flow on top of :mod:`nnkit.batch` (the same tasks, sandbox and outputs as
``nnkit grade submitted/``): every submitted notebook is executed in the sandbox (outputs and
plots for the formgrader and feedback), graded by the hidden suites in the sandbox, and every
grade cell listed in the course table (``source_notebooks.grade_cells``) gets its score in the
gradebook: ``points * earned / possible`` over the engine tests of the API names the cell
stands for, or over the numeric answers it checks. Manually graded cells are left to the
formgrader. Plain ``nbgrader autograde`` is refused by the course config
(:mod:`nnkit.course.refuse`).
"""

from __future__ import annotations

import argparse
import csv
import tempfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from nnkit.errors import UsageError
from nnkit.results import SubmissionResult
from nnkit.staging import read_tree, write_tree

from .release import ReleaseError, course_dir, run_nbgrader
from .scoring import CellScore, StudentGrade, score_cells
from .source_notebooks import ASSIGNMENTS

COURSE_ID = "nnkit"


def db_url_for(course_root: Path) -> str:
    """The course's SQLite gradebook (as nbgrader_config.py sets it)."""
    return f"sqlite:///{course_root / 'gradebook.db'}"


# -------------------------------------------------------------------------------------------
# nbgrader steps
# -------------------------------------------------------------------------------------------


def ensure_assignment(assignment: str, course_root: Path) -> None:
    """Make sure the gradebook knows the assignment and its cells (as generate_assignment
    records them), without touching release/."""
    from nnkit.batch.gradebook import _alembic_on_path

    _alembic_on_path()  # nbgrader runs `alembic`: this environment's, even when not on PATH
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


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def grade_student(
    assignment: str, student: str, course_root: Path, timeout: float = 5.0
) -> StudentGrade:
    """Engine + answers for submitted/<student>/<assignment>/ (no nbgrader involved), read
    from a staged copy (:mod:`nnkit.staging`: no link followed, regular files only)."""
    from nnkit.grade import grade

    folder = course_root / "submitted" / student / assignment
    with tempfile.TemporaryDirectory(prefix="nnkit-autograde-") as tmp:
        snap = read_tree(folder)
        staged = write_tree(snap, Path(tmp) / assignment)
        notebooks = sorted(staged.glob("*.ipynb"))
        result = (
            grade(notebooks, student, timeout=timeout)
            if notebooks
            else SubmissionResult(student=student, messages=["no notebooks submitted"])
        )
        result.messages[:0] = snap.messages
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


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignment", help=f"one of {', '.join(ASSIGNMENTS)}")
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
    if args.assignment not in ASSIGNMENTS:
        raise UsageError(f"unknown assignment {args.assignment!r}; known: {', '.join(ASSIGNMENTS)}")
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
