"""``nnkit autograde <a>``: nbgrader autograde, then the engine's scores in the gradebook.

1. ``nbgrader autograde`` executes every submitted notebook (outputs and plots for the
   formgrader, manual-grading entries for inline questions). Its kernel-side scores are
   provisional and always overwritten.
2. The hidden suites grade the submitted notebooks (``nnkit.grade.grade``, student code in
   the sandbox) and the trusted side reads numeric answers statically (``answers``).
3. Every grade cell listed in the course table (``build_notebooks.grade_cells``) gets its
   score in the gradebook: ``points * earned / possible`` over the engine tests of the API
   names the cell stands for, or over the numeric answers it checks. Manually graded cells
   are left to the formgrader.
4. ``nbgrader generate_feedback`` (hidden tests stripped, no files copied) plus a text report
   of the engine's tests per student.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from nnkit.notebooks import read_notebook
from nnkit.results import SubmissionResult, TestResult
from nnkit.staging import read_tree, write_tree

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


#: Where the repaired copies of submissions go (inside autograded/, which is not committed).
SANITIZED = "autograded/.nnkit-sanitized"


def _grade_id(cell: dict) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def repair_notebook(nb: nbformat.NotebookNode, release: nbformat.NotebookNode) -> list[str]:
    """Restore nbgrader's view of a submitted notebook from the release, in place.

    Cells that the release knows (by grade_id) get the release's nbgrader metadata back, and
    locked ones their release source; a cell claiming an unknown or repeated grade_id loses
    its nbgrader metadata. Students' own code is untouched: only what nbgrader needs to run
    (and what a student must not change anyway) is reset. Returns what was repaired.
    """
    known = {_grade_id(c): c for c in release.cells if _grade_id(c)}
    seen: set[str] = set()
    notes = []
    for cell in nb.cells:
        meta = cell.get("metadata", {})
        if "nbgrader" not in meta:
            continue
        gid = _grade_id(cell)
        if gid not in known or gid in seen:
            del meta["nbgrader"]
            notes.append(f"cell {gid!r}: unknown or repeated grade id, metadata dropped")
            continue
        seen.add(gid)
        ref = known[gid]
        if meta["nbgrader"] != ref.metadata["nbgrader"]:
            notes.append(f"cell {gid!r}: nbgrader metadata restored")
            meta["nbgrader"] = copy.deepcopy(ref.metadata["nbgrader"])
        if ref.metadata["nbgrader"].get("locked") and not ref.metadata["nbgrader"].get("solution"):
            if cell.source != ref.source or cell.cell_type != ref.cell_type:
                notes.append(f"cell {gid!r}: locked cell restored")
            cell.source = ref.source
            if cell.cell_type != ref.cell_type:
                cell.cell_type = ref.cell_type
                if ref.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
                else:
                    cell.pop("outputs", None)
                    cell.pop("execution_count", None)
            for key in ("editable", "deletable"):
                if key in ref.metadata:
                    meta[key] = ref.metadata[key]
                else:
                    meta.pop(key, None)
    return notes


def sanitize(assignment: str, course_root: Path, student: str) -> list[str]:
    """Copy submitted/<s>/<a>/ to SANITIZED/<s>/<a>/ with notebooks read by the kit's one
    reader and repaired against the release (so that nbgrader can run on anything a student
    hands in). Files are read by :func:`nnkit.staging.read_tree`: no link is followed."""
    src = course_root / "submitted" / student / assignment
    dst = course_root / SANITIZED / student / assignment
    if dst.is_symlink():
        dst.unlink()
    elif dst.exists():
        shutil.rmtree(dst)
    snap = read_tree(src)
    notes = list(snap.messages)
    for name in sorted(n for n in snap.files if n.endswith(".ipynb") and "/" not in n):
        nb, msgs = read_notebook(name, snap.files[name])
        notes += msgs
        if nb is None:  # left as handed in: nbgrader reports it
            continue
        node = nbformat.from_dict(nb)
        rel = course_root / "release" / assignment / name
        if rel.is_file():
            release = nbformat.read(str(rel), as_version=4)
            notes += [f"{name}: {n}" for n in repair_notebook(node, release)]
        snap.files[name] = (nbformat.writes(node) + "\n").encode("utf-8")
    dst.parent.mkdir(parents=True, exist_ok=True)
    write_tree(snap, dst)
    return notes


def nbgrader_autograde(
    assignment: str, course_root: Path, student: str, timeout: float | None = 3600
) -> str:
    """Run nbgrader autograde for one student on the repaired copy of the submission;
    returns its log (never raises)."""
    notes = sanitize(assignment, course_root, student)
    try:
        proc = run_nbgrader(
            [
                "autograde",
                assignment,
                "--force",
                f"--student={student}",
                f"--CourseDirectory.submitted_directory={SANITIZED}",
            ],
            course_root,
            check=False,
            timeout=timeout,
        )
    except Exception as e:  # noqa: BLE001 - a hanging kernel must not stop the class
        return f"nbgrader autograde did not finish: {e}"
    return "\n".join(notes) + "\n" + proc.stdout + proc.stderr


# -------------------------------------------------------------------------------------------
# trusted scores
# -------------------------------------------------------------------------------------------


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


def generate_feedback(assignment: str, course_root: Path, grades: list[StudentGrade]) -> None:
    """nbgrader feedback HTML (hidden tests stripped) plus the engine's report per student."""
    for g in grades:
        run_nbgrader(
            ["generate_feedback", assignment, "--force", f"--student={g.student}"],
            course_root,
            check=False,
        )
        dest = course_root / "feedback" / g.student / assignment
        dest.mkdir(parents=True, exist_ok=True)
        lines = [
            f"{c.notebook} / {c.cell_id}: {c.score:g} / {c.max_score:g}"
            + (f"\n    {c.detail.replace(chr(10), chr(10) + '    ')}" if c.detail else "")
            for c in g.cells
        ]
        (dest / "hidden_tests.txt").write_text(
            f"Hidden test results for {g.student}, {assignment}\n\n"
            + "\n".join(lines)
            + "\n\n"
            + g.result.to_table()
            + "\n"
        )


def write_reports(assignment: str, course_root: Path, grades: list[StudentGrade]) -> Path:
    """nbgrader's CSV export and one Gradescope results.json per student; returns the dir."""
    out = course_root / "reports" / assignment
    out.mkdir(parents=True, exist_ok=True)
    run_nbgrader(["export", f"--to={out / 'grades.csv'}"], course_root, check=False)
    for g in grades:
        data = g.result.to_gradescope()
        (out / f"{g.student}.results.json").write_text(json.dumps(data, indent=2) + "\n")
    with open(out / "cells.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["student", "notebook", "cell", "score", "max_score"])
        for g in grades:
            for c in g.cells:
                w.writerow([g.student, c.notebook, c.cell_id, c.score, c.max_score])
    return out


def autograde(
    assignment: str,
    course_root: Path = ROOT,
    students: list[str] | None = None,
    feedback: bool = True,
    timeout: float = 5.0,
    log=print,
) -> list[StudentGrade]:
    """The whole grade flow for one assignment; returns the trusted grades."""
    if assignment not in ASSIGNMENTS:
        raise ReleaseError(f"unknown assignment {assignment!r}")
    ensure_assignment(assignment, course_root)
    grades = []
    for s in students or submitted_students(assignment, course_root):
        nb_log = nbgrader_autograde(assignment, course_root, s)
        if re.search(r"\[AutogradeApp \| ERROR\]", nb_log):
            log(f"{s}: nbgrader autograde reported errors (scores are still the engine's)")
        g = grade_student(assignment, s, course_root, timeout=timeout)
        problems = write_gradebook(assignment, s, g.cells, course_root)
        for p in problems:
            log(p)
        log(f"{s}: {g.score:g} / {g.max_score:g} (autograded cells)")
        grades.append(g)
    if feedback:
        generate_feedback(assignment, course_root, grades)
    write_reports(assignment, course_root, grades)
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
    parser.add_argument("assignment", choices=ASSIGNMENTS)
    parser.add_argument(
        "--student",
        action="append",
        default=None,
        help="grade only this student (repeatable); default: all submitted",
    )
    parser.add_argument("--course", type=Path, default=ROOT, help="course root (default: repo)")
    parser.add_argument("--no-feedback", action="store_true", help="skip feedback generation")
    parser.add_argument(
        "--timeout",
        type=float,
        default=5.0,
        help="wall-clock limit of one call into a submission (s)",
    )


def run(args: argparse.Namespace) -> int:
    grades = autograde(
        args.assignment,
        args.course.resolve(),
        args.student,
        feedback=not args.no_feedback,
        timeout=args.timeout,
    )
    print(
        f"graded {len(grades)} submission(s); reports in "
        f"{args.course / 'reports' / args.assignment}"
    )
    return 0
