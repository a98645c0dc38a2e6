"""Write batch results into nbgrader's gradebook (SQLite through ``nbgrader.api.Gradebook``).

Scores come from the stored records (the trusted side), never from a kernel. The engine's
tests are grouped by API name (the part of a test name before ``:``); each API name is one
grade cell of a notebook named :data:`ENGINE_NOTEBOOK` in the assignment, holding the sum of
its tests' points as ``auto_score``. Writing is idempotent: a rerun sets the same values.
"""

from __future__ import annotations

import os
import shutil
import sys
import warnings
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from nnkit.results import SubmissionResult

#: The gradebook notebook that holds the engine's scores of an assignment.
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


def update_gradebook(db_url: str, records: Iterable[dict[str, Any]]) -> int:
    """Store each record's scores in the gradebook at ``db_url``; return how many were written."""
    from nbgrader.api import Gradebook, MissingEntry

    records = list(records)
    if not records:
        return 0
    _alembic_on_path()
    with warnings.catch_warnings(), Gradebook(db_url) as gb:
        warnings.filterwarnings("ignore", message=".*not in session.*")  # nbgrader + SQLAlchemy 2
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
        gb.db.commit()
    return len(records)


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
