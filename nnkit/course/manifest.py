"""``nnlib/selfcheck.json``: what the students' self-check knows of the course.

Generated from the course's own tables, never edited by hand: per assignment, what each
release notebook holds (:class:`nnkit.intake.CourseIndex`, read from ``source/``: grade ids,
the functions and classes a student must define, literal saved-model names), the notebooks'
order, the API names graded for its notebooks (``nnkit.grade.ASSIGNMENT_APIS``, for the
policy rules) and the saved-model files it grades on the course's data sets; the data-set
setting (``nnkit.datasets``: what ``nnlib.data`` loads by default); and the display-only
modules whose failed import the grader does not report
(``nnkit.sandbox.client.QUIET_MISSING``). No test, expected value or threshold is in it.
``nnkit release`` writes it before generating a release (so the release ships the current
one); a test checks that the committed one is current.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from nnkit.course.source_notebooks import ASSIGNMENTS, ROOT, notebook_specs
from nnkit.intake import CourseIndex

#: The manifest's place in the student library.
MANIFEST = Path("nnlib") / "selfcheck.json"
FORMAT = 1


def manifest(root: Path = ROOT) -> dict[str, Any]:
    """The manifest's data, from the source notebooks and the kit's tables."""
    from nnkit.datasets import load_setting
    from nnkit.grade import assignment_apis
    from nnkit.sandbox.client import QUIET_MISSING

    setting = load_setting(root)
    index = CourseIndex.from_course(root, tops=("source",)).to_dict()
    assignments: dict[str, Any] = {}
    for a in ASSIGNMENTS:
        apis = assignment_apis(a, setting)
        assignments[a] = {
            "notebooks": index.get(a, {}),
            "order": [f"{spec.name}.ipynb" for spec in notebook_specs(a)],
            "apis": sorted({x for x in apis if not x.startswith("best_model_")}),
            "model_files": sorted(f"{x}.npz" for x in apis if x.startswith("best_model_")),
        }
    return {
        "format": FORMAT,
        "assignments": assignments,
        "quiet_missing": list(QUIET_MISSING),
        "dataset": setting.value,
    }


def render(root: Path = ROOT) -> str:
    return json.dumps(manifest(root), indent=1, sort_keys=True) + "\n"


def write(root: Path = ROOT) -> bool:
    """Write ``nnlib/selfcheck.json``; True if it changed."""
    path = root / MANIFEST
    text = render(root)
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def stale(root: Path = ROOT) -> bool:
    path = root / MANIFEST
    return not path.is_file() or path.read_text(encoding="utf-8") != render(root)
