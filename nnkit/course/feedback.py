"""Feedback preprocessing: no hidden test code reaches students, not even in tracebacks.

nbgrader's ``ClearHiddenTests`` strips hidden regions from the cell sources, but a failing
test cell's traceback (executed with the hidden region in place) quotes the lines around the
failure. :class:`ClearHiddenTracebacks` runs before it in ``generate_feedback`` and reduces
the error outputs of every cell holding a hidden region to ``ename: evalue``.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode


class ClearHiddenTracebacks(NbGraderPreprocessor):
    """Drop the tracebacks of cells that contain a hidden-tests region."""

    begin_test_delimeter = Unicode("BEGIN HIDDEN TESTS").tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources
