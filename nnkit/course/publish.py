"""Put graded submissions where nbgrader and students look: autograded/ and feedback/.

For each graded record of a course assignment (written by the trusted side only):

* ``autograded/<s>/<a>/<nb>.ipynb``: the notebook as executed in the sandbox, with the grade
  cells' nbgrader metadata (and the source of locked cells) restored from the release, so
  the formgrader shows it as autograded with the engine's scores from the gradebook;
* ``feedback/<s>/<a>/<nb>.html``: that notebook without hidden tests or test-cell
  tracebacks, opened by a report that names every test that lost points and why (the
  engine's one-line diagnostics, never test code or arrays).
"""

from __future__ import annotations

import copy
import html
import json
from pathlib import Path, PurePosixPath
from typing import Any

import nbformat

from nnkit.results import SubmissionResult

_HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def _grade_id(cell: dict[str, Any]) -> str | None:
    nbg = cell.get("metadata", {}).get("nbgrader")
    return nbg.get("grade_id") if isinstance(nbg, dict) else None


def restore_release_cells(nb: dict[str, Any], release: dict[str, Any] | None) -> dict[str, Any]:
    """Grade cells get the release's metadata; locked cells also its source (as nbgrader's
    OverwriteCells does), so a student can neither fake a cell's points nor its tests."""
    if release is None:
        return nb
    cells = {g: c for c in release.get("cells", []) if (g := _grade_id(c))}
    for cell in nb.get("cells", []):
        ref = cells.get(_grade_id(cell) or "")
        if ref is None:
            if "nbgrader" in cell.get("metadata", {}):
                del cell["metadata"]["nbgrader"]  # a cell the student marked: not graded
            continue
        cell["metadata"]["nbgrader"] = copy.deepcopy(ref["metadata"]["nbgrader"])
        if ref["metadata"]["nbgrader"].get("locked") and not ref["metadata"]["nbgrader"].get(
            "solution"
        ):
            cell["source"] = ref["source"]
            cell["cell_type"] = ref["cell_type"]
    return nb


def _strip_hidden(source: str) -> str:
    out, hidden = [], False
    for line in source.splitlines():
        if line.strip() == _HIDDEN[0]:
            hidden = True
        elif line.strip() == _HIDDEN[1]:
            hidden = False
        elif not hidden:
            out.append(line)
    return "\n".join(out)


def report_markdown(record: dict[str, Any]) -> str:
    """The grading report at the top of the feedback: total, then every lost point."""
    res = SubmissionResult.from_dict(record)
    lines = [
        "## Grading report",
        "",
        f"**Score: {res.score:g} / {res.max_score:g}** (hidden tests, run in a sandbox)",
        "",
    ]
    lost = [t for t in res.tests if t.score < t.max_score or t.score < 0]
    if lost:
        lines += ["| test | points | why |", "| --- | --- | --- |"]
        for t in lost:
            why = html.escape((t.output or "failed").splitlines()[0][:300]).replace("|", "\\|")
            lines.append(f"| {html.escape(t.name)} | {t.score:g} / {t.max_score:g} | {why} |")
    else:
        lines.append("Every hidden test passed.")
    notes = [m for m in record.get("messages", []) if m]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {html.escape(m[:300])}" for m in notes[:30]]
    return "\n".join(lines)


def feedback_notebook(nb: dict[str, Any], record: dict[str, Any]) -> nbformat.NotebookNode:
    """The student's copy: hidden tests and test-cell outputs gone, the report on top."""
    fb = nbformat.from_dict(copy.deepcopy(nb))
    for cell in fb.cells:
        nbg = cell.get("metadata", {}).get("nbgrader", {})
        if nbg.get("grade") and not nbg.get("solution"):
            cell.source = _strip_hidden(cell.source)
            if cell.cell_type == "code":
                cell.outputs = []
        cell.get("metadata", {}).pop("nbgrader", None)
    fb.cells.insert(0, nbformat.v4.new_markdown_cell(report_markdown(record)))
    return fb


class Publisher:
    """Writes autograded notebooks and feedback HTML for one course (one HTML exporter)."""

    def __init__(self, course_root: Path) -> None:
        from nbconvert import HTMLExporter

        self.root = course_root
        self.exporter = HTMLExporter()
        self._release: dict[tuple[str, str], dict[str, Any] | None] = {}

    def release_notebook(self, assignment: str, name: str) -> dict[str, Any] | None:
        key = (assignment, name)
        if key not in self._release:
            path = self.root / "release" / assignment / name
            try:
                self._release[key] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self._release[key] = None
        return self._release[key]

    def publish(self, record: dict[str, Any], notebooks: dict[str, str]) -> None:
        a, s = record["assignment"], record["student"]
        auto = self.root / "autograded" / s / a
        fb_dir = self.root / "feedback" / s / a
        auto.mkdir(parents=True, exist_ok=True)
        fb_dir.mkdir(parents=True, exist_ok=True)
        for name, text in sorted(notebooks.items()):
            name = PurePosixPath(name).name
            if not name.endswith(".ipynb") or name.startswith("."):
                continue
            nb = restore_release_cells(json.loads(text), self.release_notebook(a, name))
            node = nbformat.from_dict(nb)
            nbformat.write(node, auto / name)
            body, _ = self.exporter.from_notebook_node(feedback_notebook(nb, record))
            (fb_dir / name.replace(".ipynb", ".html")).write_text(body, encoding="utf-8")
        (fb_dir / "grading_report.md").write_text(report_markdown(record) + "\n")
