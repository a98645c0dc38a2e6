"""The real nbgrader flow with a real SQLite gradebook: only the engine's scores count."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest

from nnkit.course import submissions as S
from nnkit.course.answers import matches, read_answers
from nnkit.course.autograde import autograde, grade_student, gradebook_scores
from nnkit.course.notebook import HIDDEN_BEGIN, HIDDEN_TAG
from nnkit.course.release import _solution_lines, run_nbgrader
from nnkit.course.scoring import score_cells
from nnkit.course.source_notebooks import ROOT, grade_cells
from nnkit.grade import grade
from nnkit.results import SubmissionResult

pytestmark = pytest.mark.course

A = "convnets"
BUG = ("conv_backward", "db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(2, 3))[0]")
HOSTILE = {"transformer", "deleted", "edited"}


@pytest.fixture(scope="module")
def graded(course: Path) -> dict:
    """Six students of ``convnets`` through ``nnkit autograde`` (nbgrader + engine)."""
    release = S.read_release(course / "release" / A)
    ref = S.fill_reference(release, course / "source" / A)
    buggy = S.replace_in_cell(ref, *BUG)
    subs = {
        "ref": ref,
        "stub": release,
        "buggy": buggy,
        # the hostile ones carry the bug too: the kernel would report full marks
        "transformer": S.input_transformer_attack(buggy, "conv_forward"),
        "deleted": S.delete_cell(buggy, "test_conv_backward"),
        "edited": S.edit_test_cell(buggy, "test_conv_backward"),
    }
    for student, nbs in subs.items():
        S.write_submission(nbs, course / "submitted" / student / A)
    grades = {g.student: g for g in autograde(A, course, list(subs), log=lambda m: None)}
    return {"grades": grades, "book": {s: gradebook_scores(A, s, course) for s in subs}}


def _autograded(book: dict) -> dict:
    table = grade_cells(A)
    return {k: v for k, v in book.items() if table[k].kind != "manual"}


def _same(a: dict, b: dict) -> bool:
    return set(a) == set(b) and all(abs(a[k][0] - b[k][0]) < 1e-6 and a[k][1] == b[k][1] for k in a)


def test_reference_gets_full_marks(graded: dict) -> None:
    book = _autograded(graded["book"]["ref"])
    assert book and all(score == max_score for score, max_score in book.values()), book


def test_stubs_get_zero(graded: dict) -> None:
    book = graded["book"]["stub"]
    assert all(score == 0 for score, _ in book.values()), book


def test_bug_loses_points_on_the_right_cells(graded: dict) -> None:
    book = _autograded(graded["book"]["buggy"])
    nb = "ConvolutionalNetworks"
    lost = {cell for (_, cell), (s, m) in book.items() if s < m}
    # conv_backward_naive is wrong; the sandwich layers and the convnet use it
    assert (nb, "test_conv_backward") in {(nb, c) for c in lost}
    assert lost <= {"test_conv_backward", "test_conv_sandwich", "test_convnet"}
    assert book[(nb, "test_conv_forward")] == (3.0, 3.0)
    assert 0 < sum(s for s, _ in book.values()) < sum(m for _, m in book.values())


@pytest.mark.parametrize("student", sorted(HOSTILE))
def test_hostile_submissions_get_exactly_the_engine_score(
    course: Path, graded: dict, student: str
) -> None:
    book = _autograded(graded["book"][student])
    independent = grade_student(A, student, course)  # the engine alone, no nbgrader
    expected = {(c.notebook, c.cell_id): (c.score, c.max_score) for c in independent.cells}
    assert _same(book, expected)  # (inputs are seeded per student, so only this is exact)
    assert book[("ConvolutionalNetworks", "test_conv_backward")][0] < 4


def test_kernel_cannot_import_the_reference(course: Path, graded: dict) -> None:
    nb = nbformat.read(
        str(course / "autograded" / "transformer" / A / "ConvolutionalNetworks.ipynb"), as_version=4
    )
    text = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "PROBE: reference blocked" in text
    assert "PROBE: reference importable" not in text


def test_deleted_test_cell_is_restored(course: Path, graded: dict) -> None:
    nb = nbformat.read(
        str(course / "autograded" / "deleted" / A / "ConvolutionalNetworks.ipynb"), as_version=4
    )
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
    assert "test_conv_backward" in ids


def test_feedback_has_no_hidden_tests_and_no_solutions(course: Path, graded: dict) -> None:
    secret = _solution_lines(A)
    assert secret
    for student in ("stub", "buggy", "edited"):
        folder = course / "feedback" / student / A
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["ConvolutionalNetworks.html", "grading_report.md"]
        html = (folder / "ConvolutionalNetworks.html").read_text()
        assert HIDDEN_TAG not in html and HIDDEN_BEGIN not in html
        if student == "stub":
            leaked = [ln for ln in secret if ln.replace('"', "&quot;") in html or ln in html]
            assert not leaked, leaked[:3]


def test_exports(course: Path, graded: dict) -> None:
    reports = course / "reports" / A
    rows = {r["student"]: r for r in csv.DictReader(open(reports / "grades.csv"))}
    for student, book in graded["book"].items():  # gradebook = CSV = Gradescope JSON
        auto = sum(s for s, _ in _autograded(book).values())
        doc = json.loads((reports / "gradescope" / A / f"{student}.json").read_text())
        assert abs(float(rows[student]["score"]) - auto) < 1e-6, student
        assert abs(doc["score"] - auto) < 1e-6, student
    data = SubmissionResult.from_dict(
        json.loads((reports / "gradescope" / A / "buggy.json").read_text())
    )
    assert any(t.name.startswith("conv_backward_naive:") and not t.passed for t in data.tests)


def test_numeric_answers_are_read_without_running_code(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("dz_dw0 = None\ndz_dw0 = 1 * -0.2 * 1.0\nsize_A = 32 * 1024"),
        nbformat.v4.new_code_cell("dz_dw1 = __import__('os').system('echo hacked')"),
        nbformat.v4.new_code_cell("%matplotlib inline\nnum_params = (30 + 1) * 1024 + dz_dw0"),
    ]
    p = tmp_path / "a.ipynb"
    nbformat.write(nb, str(p))
    got = read_answers([p], ["dz_dw0", "dz_dw1", "size_A", "num_params"])
    assert got == {
        "dz_dw0": -0.2,
        "dz_dw1": None,
        "size_A": 32768.0,
        "num_params": pytest.approx(31743.8),
    }
    assert matches(-0.2000000001, -0.2) and not matches(None, 1.0)


def test_two_layer_net_answers_score_per_cell(course: Path) -> None:
    a = "two_layer_net"
    release = S.read_release(course / "release" / a)
    ref = S.fill_reference(release, ROOT / "source" / a)
    wrong = S.replace_in_cell(ref, "t1_answers", "dz_dw0 = 1 * -0.2 * 1.0", "dz_dw0 = 0.3")
    for name, nbs, t1 in [("ref", ref, 4.0), ("wrong", wrong, 3.0)]:
        dest = S.write_submission(nbs, course / "answers" / name / a)
        cells = {
            c.cell_id: c.score
            for c in score_cells(a, sorted(dest.glob("*.ipynb")), SubmissionResult())
        }
        assert cells["t1_gradients"] == t1
        assert cells["t2_sizes"] == 3.0 and cells["t3_params"] == 2.0


@pytest.mark.parametrize("assignment", ["two_layer_net", "fully_connected", "convnets"])
def test_release_stubs_earn_nothing_from_the_engine(course: Path, assignment: str) -> None:
    dest = S.write_submission(
        S.read_release(course / "release" / assignment), course / "stubs" / assignment
    )
    notebooks = sorted(dest.glob("*.ipynb"))
    cells = score_cells(assignment, notebooks, grade(notebooks, "stub"))
    assert cells and all(c.score == 0 for c in cells), [
        (c.cell_id, c.score) for c in cells if c.score
    ]


def test_demo_table(course: Path, graded: dict) -> None:
    from nnkit.demo import print_table

    grades = list(graded["grades"].values())
    text = print_table(A, course, grades, {g.student: "" for g in grades})
    assert "conv" in text and "gradebook" in text
    rows = (course / "reports" / A / "topics.csv").read_text().splitlines()
    assert len(rows) == 1 + len(grades)
    ref = next(r for r in rows if r.startswith("ref,"))
    assert ref.endswith("30/34")


def test_plain_nbgrader_autograde_refuses_to_run_student_code(course: Path) -> None:
    release = S.read_release(course / "release" / A)
    probe = S.replace_in_cell(
        S.fill_reference(release, course / "source" / A),
        "conv_forward",
        "def conv_forward_naive(",
        "open('PWNED', 'w').write('x')\ndef conv_forward_naive(",
    )
    S.write_submission(probe, course / "submitted" / "plain" / A)
    done = run_nbgrader(["autograde", A, "--student=plain"], course, check=False)
    assert "nnkit autograde <assignment>" in done.stdout + done.stderr
    assert not list(course.rglob("PWNED"))


def test_every_entry_point_gives_the_same_scores(course: Path, graded: dict) -> None:
    """``nnkit autograde`` (done by the fixture), ``nnkit grade submitted/`` and ``nnkit grade
    PATH`` on the same class: identical per-test scores and totals."""
    import subprocess
    import sys

    def tests_of(doc: dict) -> dict:
        return {t["name"]: t["score"] for t in doc["tests"]}

    course_results = course / "reports" / A / "results" / A
    out = course.parent / "entry-batch"
    cmd = [sys.executable, "-m", "nnkit", "grade", str(course / "submitted"), "--assignment", A]
    cmd += ["--out", str(out), "--no-gradebook", "--no-progress", "--no-report"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    for student in ("ref", "stub", "buggy", "transformer"):
        auto = json.loads((course_results / f"{student}.json").read_text())
        batch = json.loads((out / "results" / A / f"{student}.json").read_text())
        folder = course / "submitted" / student / A
        one = subprocess.run(
            [sys.executable, "-m", "nnkit", "grade", str(folder), "--student", student]
            + ["--format", "gradescope"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        single = json.loads(one.stdout)
        assert tests_of(auto) == tests_of(batch) == tests_of(single), student
        assert auto["score"] == batch["score"] == single["score"], student
