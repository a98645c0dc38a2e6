"""The students' checklist of every release notebook, generated from the rule table.

Each notebook of a release ends with a markdown cell "What the grader checks" and each
release folder holds ``CHECKLIST.md`` (the same entries, notebook by notebook), linked from
its README. Both are rendered by ``grading_tests.rules`` from the rows the hidden tests are
generated from: rule names and one-line meanings, never test code, hidden inputs or
thresholds. Nothing here is written per name.
"""

from __future__ import annotations

import nbformat
from nbformat.notebooknode import NotebookNode

from grading_tests import rules

from .notebook import NotebookSpec, cell_id

FILENAME = "CHECKLIST.md"
HEADING = "What the grader checks"
#: The first line of the generated notebook cell (found again by the tests).
CELL_MARK = f"# {HEADING}"
INTRO = (
    "Generated from the rule table that the hidden tests are built from; every check the "
    "grader runs on your code is listed here with its meaning. Do not edit: it is the same "
    "in every copy of the assignment."
)


def graded_rows(spec: NotebookSpec) -> list[rules.Rule]:
    """The rows of the names a notebook's grade cells count, in notebook order.

    Engine cells name API names or test-name prefixes (``"TwoLayerNet: train"``); threshold
    cells name the saved models of every data set (the course setting picks one).
    """
    keys: dict[str, rules.Rule] = {}
    for cell in spec.grade_cells:
        if cell.kind not in ("engine", "threshold"):
            continue
        for name in cell.names:
            api = name.partition(": ")[0]
            if cell.kind == "threshold":
                row = rules.BY_KEY[api]
            else:
                row = rules.row_in(api, spec.assignment)
            keys.setdefault(row.key, row)
    return list(keys.values())


def notebook_text(spec: NotebookSpec, general: bool = True) -> str:
    """The checklist cell of one notebook (markdown)."""
    return rules.render(
        f"{HEADING}: {spec.name}.ipynb", graded_rows(spec), intro=INTRO, general=general
    )


def assignment_text(assignment: str, specs: list[NotebookSpec]) -> str:
    """``CHECKLIST.md`` of an assignment: the rules for every function once, then the
    checklist of each notebook, in order (each notebook also ends with its own part)."""
    head = rules.render(f"{HEADING}: {assignment}", [], intro=INTRO)
    parts = [head.rstrip(), ""]
    for spec in specs:
        text = rules.render(f"{spec.name}.ipynb", graded_rows(spec), general=False)
        # one level down: the notebook's title becomes a section of this file
        parts.append("\n".join("#" + ln if ln.startswith("#") else ln for ln in text.split("\n")))
    return "\n".join(parts).rstrip() + "\n"


def notebook_cell(spec: NotebookSpec) -> NotebookNode:
    """The last cell of a notebook: its checklist (plain markdown, no nbgrader metadata)."""
    cell = nbformat.v4.new_markdown_cell(notebook_text(spec).rstrip())
    cell["id"] = cell_id(spec.assignment, spec.name, "checklist")
    return cell
