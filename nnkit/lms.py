"""``nnkit lms-export``: the gradebook's final scores as a CSV for the LMS.

Scores come from nbgrader's gradebook, as ``nbgrader export`` computes them: every grade of a
submission (the engine's auto scores and the formgrader's manual ones) minus its late
penalty (``nnkit.late``), never below 0.

* **Canvas** (``--canvas ROSTER.csv``): the roster is the gradebook CSV exported from
  Canvas (Grades > Export). Students are matched by an id column of the roster (``--id-column``;
  by default the one of ``SIS Login ID``, ``SIS User ID``, ``ID``, ``Integration ID`` that
  matches the most nbgrader student ids). The file written is the roster's identity columns
  plus one column per assignment -- the roster's own column for it when it has one
  (``two_layer_net (123456)``), else a new one named after the assignment -- and the
  ``Points Possible`` row, ready for Grades > Import.
* **Generic** (``--generic``): ``student_id`` plus one column per assignment; with
  ``--roster FILE --id-column COL`` the rows follow a roster of any LMS.

A graded student that no roster row matches is an error (nothing is written; the message
names them and a close id when there is one) unless ``--allow-unmatched``; roster students
without a submission get an empty cell (no change in Canvas) and are listed.
"""

from __future__ import annotations

import argparse
import csv
import difflib
import io
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: Canvas's identity columns, in its order (those the roster has are kept).
CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Integration ID", "Section")
#: Roster columns tried, in this order, when no --id-column is given.
ID_CANDIDATES = ("SIS Login ID", "SIS User ID", "ID", "Integration ID", "Email", "email")
POINTS_POSSIBLE = "Points Possible"


class LmsError(RuntimeError):
    """The export cannot be written as asked (the message says why and what to do)."""


@dataclass
class Grades:
    """Final scores from the gradebook."""

    assignments: list[str]
    max_scores: dict[str, float]
    scores: dict[str, dict[str, float]] = field(default_factory=dict)  # student -> a -> score

    @property
    def students(self) -> list[str]:
        return sorted(self.scores)


def read_grades(db_url: str, assignments: list[str] | None = None) -> Grades:
    """Scores after late penalties (``nbgrader export``'s), for the given assignments (all
    that the gradebook has by default)."""
    from nbgrader.api import Gradebook, MissingEntry

    from nnkit.batch.gradebook import _alembic_on_path

    _alembic_on_path()
    with Gradebook(db_url) as gb:
        known = [a.name for a in gb.assignments]
        wanted = list(assignments) if assignments else known
        unknown = [a for a in wanted if a not in known]
        if unknown:
            raise LmsError(
                f"no assignment {', '.join(map(repr, unknown))} in the gradebook "
                f"(it has: {', '.join(known) or 'none'}); grade it first with nnkit autograde"
            )
        out = Grades(wanted, {a: float(gb.find_assignment(a).max_score) for a in wanted})
        for st in gb.students:
            for a in wanted:
                try:
                    sub = gb.find_submission(a, st.id)
                except MissingEntry:
                    continue
                penalty = float(sub.late_submission_penalty or 0.0)
                score = round(max(0.0, float(sub.score) - penalty), 6)
                out.scores.setdefault(st.id, {})[a] = score
    return out


def _key(value: str) -> str:
    return value.strip().casefold()


def read_roster(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    """(columns, rows) of a roster CSV (a BOM and blank lines allowed)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise LmsError(f"cannot read the roster {path}: {e}") from None
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise LmsError(f"{path}: not a CSV with a header row")
    rows = [r for r in reader if any((v or "").strip() for v in r.values())]
    return list(reader.fieldnames), rows


def _is_points_row(row: dict[str, str]) -> bool:
    return POINTS_POSSIBLE.casefold() in (row.get("Student") or "").casefold()


def choose_id_column(columns: list[str], rows: list[dict[str, str]], students: list[str]) -> str:
    """The roster column that matches the most nbgrader student ids."""
    ids = {_key(s) for s in students}
    best, best_n = None, 0
    for col in ID_CANDIDATES:
        if col in columns:
            n = sum(_key(r.get(col) or "") in ids for r in rows)
            if n > best_n:
                best, best_n = col, n
    if best is None:
        tried = [c for c in ID_CANDIDATES if c in columns] or list(ID_CANDIDATES)
        raise LmsError(
            f"no roster column matches the gradebook's student ids (tried {', '.join(tried)}; "
            f"ids look like {', '.join(students[:3])}); pass --id-column COLUMN"
        )
    return best


@dataclass
class Match:
    """Roster rows matched to nbgrader students."""

    id_column: str
    student_of_row: dict[int, str]  # roster row index -> nbgrader id
    unmatched_students: list[str]  # graded, in no roster row
    roster_without_grades: list[str]  # roster ids with no submission


def match(
    rows: list[dict[str, str]], id_column: str, grades: Grades, allow_unmatched: bool = False
) -> Match:
    """Match roster rows to graded students by ``id_column``; unmatched graded students are
    an error unless ``allow_unmatched``."""
    if rows and id_column not in rows[0]:
        raise LmsError(f"the roster has no column {id_column!r}")
    by_key: dict[str, int] = {}
    for i, r in enumerate(rows):
        if _is_points_row(r):
            continue
        k = _key(r.get(id_column) or "")
        if not k:
            continue
        if k in by_key:
            raise LmsError(f"the roster has the {id_column} {r[id_column]!r} twice")
        by_key[k] = i
    student_of_row: dict[int, str] = {}
    unmatched = []
    for s in grades.students:
        i = by_key.get(_key(s))
        if i is None:
            unmatched.append(s)
        else:
            student_of_row[i] = s
    without = [
        (rows[i].get(id_column) or "").strip()
        for i in sorted(set(by_key.values()) - set(student_of_row))
    ]
    if unmatched and not allow_unmatched:
        keys = [rows[i].get(id_column, "") for i in sorted(set(by_key.values()))]
        shown = []
        for s in unmatched[:20]:
            close = difflib.get_close_matches(s, keys, n=1, cutoff=0.7)
            shown.append(f"{s} (roster has {close[0]!r}?)" if close else s)
        more = f" and {len(unmatched) - 20} more" if len(unmatched) > 20 else ""
        raise LmsError(
            f"{len(unmatched)} graded student(s) match no roster row on {id_column!r}: "
            f"{', '.join(shown)}{more}; fix the ids (or --id-column), or pass --allow-unmatched "
            "to leave them out"
        )
    return Match(id_column, student_of_row, unmatched, without)


def _num(x: float) -> str:
    return f"{x:.2f}"


def canvas_csv(columns: list[str], rows: list[dict[str, str]], m: Match, grades: Grades) -> str:
    """The Canvas import file: identity columns, one column per assignment, points row."""
    ident = [c for c in CANVAS_IDENTITY if c in columns]
    if m.id_column not in ident and m.id_column in columns:
        ident.append(m.id_column)
    heads = []
    for a in grades.assignments:
        own = [c for c in columns if c == a or (c.startswith(f"{a} (") and c.endswith(")"))]
        heads.append(own[0] if own else a)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ident + heads)
    points = next((r for r in rows if _is_points_row(r)), None)
    prow = [points.get(c, "") if points else "" for c in ident]
    if prow:
        prow[0] = f"    {POINTS_POSSIBLE}"
    w.writerow(prow + [_num(grades.max_scores[a]) for a in grades.assignments])
    for i, r in enumerate(rows):
        if _is_points_row(r):
            continue
        s = m.student_of_row.get(i)
        got = grades.scores.get(s, {}) if s else {}
        w.writerow(
            [r.get(c, "") for c in ident]
            + [_num(got[a]) if a in got else "" for a in grades.assignments]
        )
    return buf.getvalue()


def generic_csv(
    grades: Grades, rows: list[dict[str, str]] | None = None, m: Match | None = None
) -> str:
    """``student_id`` plus one column per assignment (in roster order when a roster is given);
    the first data row holds the maximum scores under ``student_id`` = ``max_score``."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["student_id", *grades.assignments])
    w.writerow(["max_score", *(_num(grades.max_scores[a]) for a in grades.assignments)])
    if rows is not None and m is not None:
        order = [
            (m.student_of_row.get(i), (r.get(m.id_column) or "").strip())
            for i, r in enumerate(rows)
            if not _is_points_row(r)
        ]
    else:
        order = [(s, s) for s in grades.students]
    for s, shown in order:
        got = grades.scores.get(s, {}) if s else {}
        w.writerow([shown, *(_num(got[a]) if a in got else "" for a in grades.assignments)])
    return buf.getvalue()


# -------------------------------------------------------------------------------------------
# command line
# -------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("assignments", nargs="*", help="default: every assignment in the gradebook")
    fmt = parser.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--canvas", type=Path, metavar="ROSTER", help="Canvas gradebook export (CSV)")
    fmt.add_argument(
        "--generic", action="store_true", help="student_id + one column per assignment"
    )
    parser.add_argument("--roster", type=Path, help="(--generic) a roster CSV whose rows to follow")
    parser.add_argument("--id-column", help="roster column holding the nbgrader student ids")
    parser.add_argument(
        "--allow-unmatched",
        action="store_true",
        help="leave out graded students no roster row matches",
    )
    parser.add_argument("--course", type=Path, help="course root (default: current directory)")
    parser.add_argument("--db", help="gradebook URL (default: the course's gradebook.db)")
    parser.add_argument("--out", type=Path, help="default: reports/<canvas|grades>_export.csv")


def run(args: argparse.Namespace) -> int:
    from nnkit.course.autograde import course_dir, db_url_for

    course = course_dir(args.course) if args.db is None else (args.course or Path.cwd())
    db = args.db or db_url_for(course)
    try:
        grades = read_grades(db, args.assignments or None)
        roster_path = args.canvas or args.roster
        m = rows = None
        if roster_path is not None:
            columns, rows = read_roster(roster_path)
            data_rows = [r for r in rows if not _is_points_row(r)]
            col = args.id_column or choose_id_column(columns, data_rows, grades.students)
            m = match(rows, col, grades, args.allow_unmatched)
        if args.canvas:
            text = canvas_csv(columns, rows, m, grades)
        else:
            text = generic_csv(grades, rows, m)
    except LmsError as e:
        print(f"nnkit lms-export: {e}", file=sys.stderr)
        return 2
    out = args.out or course / "reports" / (
        "canvas_export.csv" if args.canvas else "grades_export.csv"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    n = len(m.student_of_row) if m else len(grades.students)
    print(f"wrote {out}: {n} student(s) x {len(grades.assignments)} assignment(s)")
    if m:
        print(f"students matched on the roster column {m.id_column!r}")
        if m.unmatched_students:
            print(f"left out (no roster row): {', '.join(m.unmatched_students)}")
        if m.roster_without_grades:
            print(
                f"{len(m.roster_without_grades)} roster student(s) without a submission (left "
                f"empty): {', '.join(m.roster_without_grades[:20])}"
            )
    return 0
