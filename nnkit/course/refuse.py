"""Plain ``nbgrader autograde`` (and the formgrader's Autograde button) refuse to run.

nbgrader would execute each submission in its own kernel as the grader's user, outside the
sandbox. ``nbgrader_config.py`` makes this preprocessor the only step of autograde, so the
command stops before any student code runs and says what to use instead.
"""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

MESSAGE = (
    "nnkit: plain `nbgrader autograde` would run student code outside the sandbox, so it is "
    "disabled for this course; run `nnkit autograde <assignment>` in the course directory "
    "(it executes the notebooks in the sandbox and fills the same gradebook, autograded/ "
    "and feedback/)"
)


class RefuseUnsandboxedAutograde(NbGraderPreprocessor):
    """Stop nbgrader's autograde before it starts a kernel."""

    def preprocess(
        self, nb: NotebookNode, resources: ResourcesDict
    ) -> tuple[NotebookNode, ResourcesDict]:
        raise RuntimeError(MESSAGE)
