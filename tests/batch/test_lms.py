"""LMS export from a real nbgrader gradebook: Canvas's import CSV (and a generic one),
students matched by id, a clear error for graded students that match no roster row."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import pytest

from nnkit.batch.gradebook import update_gradebook
from nnkit.cli import main
from nnkit.course.source_notebooks import ROOT
from nnkit.lms import LmsError, canvas_csv, choose_id_column, match, read_grades, read_roster

pytestmark = pytest.mark.batch

ROSTER = """\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,hw1 (88123),Current Score,Final Score
    Points Possible,,,,,10.00,(read only),(read only)
"Liddell, Alice",101,S-0001,Alice,Sec 1,,71.2,71.2
"Builder, Bob",102,S-0002,bob,Sec 1,3.00,,
"Dee, Dana",104,S-0004,dana,Sec 2,,,
"""


def _record(student: str, a: str, scores: dict[str, float], penalty: float = 0.0) -> dict:
    tests = [
        {"name": f"{api}: case", "score": s, "max_score": 5.0, "output": ""}
        for api, s in scores.items()
    ]
    raw = sum(scores.values())
    rec = {
        "student": student,
        "assignment": a,
        "status": "graded",
        "score": raw - penalty,
        "max_score": 5.0 * len(scores),
        "tests": tests,
        "messages": [],
    }
    if penalty:
        rec["late"] = {"penalty": penalty, "raw_score": raw}
    return rec


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("lms")
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    update_gradebook(
        db,
        [
            _record("alice", "hw1", {"relu_forward": 5.0, "relu_backward": 4.0}),
            _record("bob", "hw1", {"relu_forward": 5.0, "relu_backward": 5.0}, penalty=2.0),
            _record("carol", "hw1", {"relu_forward": 1.0, "relu_backward": 0.0}),
            _record("alice", "hw2", {"affine_forward": 5.0}),
        ],
    )
    (tmp_path / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return tmp_path


def _db(course: Path) -> str:
    return f"sqlite:///{course / 'gradebook.db'}"


def test_scores_are_the_gradebooks_minus_late_penalties(course: Path) -> None:
    g = read_grades(_db(course))
    assert g.assignments == ["hw1", "hw2"] and g.max_scores == {"hw1": 10.0, "hw2": 5.0}
    assert g.scores == {
        "alice": {"hw1": 9.0, "hw2": 5.0},
        "bob": {"hw1": 8.0},
        "carol": {"hw1": 1.0},
    }


def test_unmatched_graded_students_are_an_error(course: Path) -> None:
    g = read_grades(_db(course))
    columns, rows = read_roster(course / "roster.csv")
    col = choose_id_column(columns, rows[1:], g.students)
    assert col == "SIS Login ID"  # matches case-insensitively: Alice, bob
    with pytest.raises(
        LmsError, match=r"1 graded student\(s\) match no roster row on 'SIS Login ID': carol"
    ):
        match(rows, col, g)
    m = match(rows, col, g, allow_unmatched=True)
    assert m.unmatched_students == ["carol"] and m.roster_without_grades == ["dana"]


def test_canvas_import_file(course: Path) -> None:
    g = read_grades(_db(course), ["hw1", "hw2"])
    columns, rows = read_roster(course / "roster.csv")
    m = match(rows, "SIS Login ID", g, allow_unmatched=True)
    out = list(csv.reader(io.StringIO(canvas_csv(columns, rows, m, g))))
    assert out[0] == [
        "Student",
        "ID",
        "SIS User ID",
        "SIS Login ID",
        "Section",
        "hw1 (88123)",
        "hw2",
    ]
    assert out[1][0].strip() == "Points Possible" and out[1][5:] == ["10.00", "5.00"]
    assert out[2] == ["Liddell, Alice", "101", "S-0001", "Alice", "Sec 1", "9.00", "5.00"]
    assert out[3][5:] == ["8.00", ""]  # bob: late penalty subtracted; no hw2 submission
    assert out[4] == ["Dee, Dana", "104", "S-0004", "dana", "Sec 2", "", ""]
    assert len(out) == 5


def test_command_line(course: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = str(course / "roster.csv")
    assert main(["lms-export", "hw1", "--canvas", roster, "--course", str(course)]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("nnkit lms-export: 1 graded student(s) match no roster row")
        and "carol" in err
    )
    assert not (course / "reports" / "canvas_export.csv").exists()

    args = ["lms-export", "hw1", "--canvas", roster, "--course", str(course), "--allow-unmatched"]
    assert main(args) == 0
    said = capsys.readouterr().out
    assert "left out (no roster row): carol" in said and "dana" in said
    assert "9.00" in (course / "reports" / "canvas_export.csv").read_text()

    assert main(["lms-export", "--generic", "--course", str(course)]) == 0
    rows = list(csv.reader(open(course / "reports" / "grades_export.csv")))
    assert rows == [
        ["student_id", "hw1", "hw2"],
        ["max_score", "10.00", "5.00"],
        ["alice", "9.00", "5.00"],
        ["bob", "8.00", ""],
        ["carol", "1.00", ""],
    ]
    assert main(["lms-export", "nope", "--generic", "--course", str(course)]) == 2
    assert "no assignment 'nope' in the gradebook" in capsys.readouterr().err
