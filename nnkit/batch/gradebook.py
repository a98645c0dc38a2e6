"""Write batch results into nbgrader's gradebook (SQLite through ``nbgrader.api.Gradebook``).

Scores come from the stored records (the trusted side), never from a kernel, and writing is
idempotent: a rerun sets the same values.

- Assignments of the course (``nnkit.course``): the course's own table decides which grade
  cell of which notebook gets which share of the engine's tests (and checks numeric answers);
  :func:`course_cells` computes it on the worker, next to the submission's notebooks, and the
  scores go into the grade cells that ``generate_assignment`` recorded, as ``nnkit autograde``
  does (``nnkit.course.autograde``), in one gradebook session for the whole class.
- Any other assignment: the engine's tests are grouped by API name (the part of a test name
  before ``:``); each API name is one grade cell of a notebook named :data:`ENGINE_NOTEBOOK`
  in the assignment, holding the sum of its tests' points as ``auto_score``.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from nnkit.results import SubmissionResult

#: The gradebook notebook that holds the engine's scores of an assignment outside the course.
ENGINE_NOTEBOOK = "nnkit_hidden_tests"


def _alembic_on_path() -> None:
    """nbgrader runs the ``alembic`` command; find it next to this interpreter if not on PATH."""
    if shutil.which("alembic") is None:
        here = os.path.dirname(sys.executable)
        os.environ["PATH"] = here + os.pathsep + os.environ.get("PATH", "")


def api_scores(record: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """API name -> (score, max_score), summed over that name's tests (never below 0)."""
    by_api = SubmissionResult.from_dict(record).by_api()
    return {k: (max(0.0, round(s, 6)), round(m, 6)) for k, (s, m) in sorted(by_api.items())}


def update_gradebook(
    db_url: str, records: Iterable[dict[str, Any]], course_root: Path | None = None
) -> int:
    """Store each record's scores in the gradebook; return how many records were written.

    Records with course ``cells`` go to the course's gradebook (``<course_root>/gradebook.db``),
    the others to ``db_url``.
    """
    records = list(records)
    course = [r for r in records if "cells" in r]
    other = [r for r in records if "cells" not in r]
    _alembic_on_path()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader + SQLAlchemy 2
        if course:
            _write_course(course, Path(course_root or "."))
        if other:
            _write_engine_notebook(db_url, other)
    return len(records)


def _write_course(records: list[dict[str, Any]], course_root: Path) -> None:
    from nbgrader.api import Gradebook

    from nnkit.course.scoring import store_cell_scores

    problems: list[str] = []
    with Gradebook(f"sqlite:///{course_root / 'gradebook.db'}", "nnkit") as gb:
        for r in records:
            a, s = r["assignment"], r["student"]
            gb.update_or_create_student(s)
            # the submission's own timestamp: nbgrader then counts it as autograded
            gb.update_or_create_submission(a, s, timestamp=_timestamp(course_root, s, a))
            cells = [(nb, cell, score) for nb, cell, score, _mx in r["cells"]]
            problems += store_cell_scores(gb, a, s, cells)
            _store_penalty(gb.find_submission(a, s).notebooks, r)
        gb.db.commit()
    for p in problems:
        print(f"gradebook: {p}", file=sys.stderr)


def _store_penalty(notebooks: Any, record: dict[str, Any]) -> None:
    """The record's late penalty as nbgrader's ``late_submission_penalty`` (which the
    formgrader shows and ``nbgrader export`` subtracts): on the first notebook, 0 on the rest."""
    penalty = float(record["late"]["penalty"]) if record.get("late") else 0.0
    for i, nb in enumerate(sorted(notebooks, key=lambda n: n.name)):
        nb.late_submission_penalty = penalty if i == 0 and penalty else None


def _timestamp(course_root: Path, student: str, assignment: str) -> Any:
    from nbgrader.utils import parse_utc

    path = course_root / "submitted" / student / assignment / "timestamp.txt"
    try:
        return parse_utc(path.read_text(encoding="utf-8", errors="replace")[:64].strip())
    except (OSError, ValueError, TypeError):
        return None


def _write_engine_notebook(db_url: str, records: list[dict[str, Any]]) -> None:
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        cells: dict[str, dict[str, float]] = defaultdict(dict)
        for r in records:
            for api, (_, mx) in api_scores(r).items():
                cells[r["assignment"]][api] = max(mx, cells[r["assignment"]].get(api, 0.0))
        for a, apis in sorted(cells.items()):
            gb.update_or_create_assignment(a)
            gb.update_or_create_notebook(ENGINE_NOTEBOOK, a)
            for api, mx in sorted(apis.items()):
                gb.update_or_create_grade_cell(
                    api, ENGINE_NOTEBOOK, a, max_score=mx, cell_type="code"
                )
        for r in records:
            a, s = r["assignment"], r["student"]
            gb.update_or_create_student(s)
            gb.update_or_create_submission(a, s)
            scores = api_scores(r)
            for api in sorted(cells[a]):
                try:
                    grade = gb.find_grade(api, ENGINE_NOTEBOOK, a, s)
                except MissingEntry:  # a cell added after this submission was created
                    gb.update_or_create_submission(a, s)
                    grade = gb.find_grade(api, ENGINE_NOTEBOOK, a, s)
                grade.auto_score = scores.get(api, (0.0, 0.0))[0]
            _store_penalty([gb.find_submission_notebook(ENGINE_NOTEBOOK, a, s)], r)
        gb.db.commit()


def read_gradebook(db_url: str, assignment: str) -> dict[str, float]:
    """Student -> total engine score of ``assignment`` in the gradebook (for checks and tests)."""
    from nbgrader.api import Gradebook, MissingEntry

    out: dict[str, float] = {}
    _alembic_on_path()
    with Gradebook(db_url) as gb:
        for st in gb.students:
            try:
                nb = gb.find_submission_notebook(ENGINE_NOTEBOOK, assignment, st.id)
            except MissingEntry:
                continue
            out[st.id] = round(sum(g.score for g in nb.grades), 6)
    return out
