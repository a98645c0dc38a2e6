"""nbgrader configuration of the nnkit course (the repository root is the course root).

Run nbgrader from this directory (``nbgrader generate_assignment fully_connected``), or use
the kit's wrappers (``nnkit release <a>``, ``nnkit autograde <a>``, ``nnkit feedback <a>``),
which run the same commands and then verify or complete their results.

Grading model: the hidden test cells of the notebooks only hand over to the nnkit engine.
Autograde executes the notebooks (so that outputs and plots exist for the formgrader), then
``nnkit autograde`` overwrites every grade cell's score with the score the sandboxed hidden
suites give; nothing a kernel computes is trusted.
"""

import os
import sys

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)

_ROOT = os.path.dirname(os.path.abspath(__file__))

# --- course layout ---------------------------------------------------------------------
c.CourseDirectory.root = _ROOT
c.CourseDirectory.course_id = "nnkit"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_ROOT, "gradebook.db")
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".pytest_cache",
    "*.egg-info",
]

# --- kernels that run submissions ---------------------------------------------------------
# The kernel's working directory is autograded/<student>/<assignment>/, which holds the copy
# of the student library (nnlib/) shipped with the release. The instructor's packages
# (reference solutions, hidden suites, the tooling) must not be importable there: the guard
# below drops the editable-install finder and the course root from the import machinery and
# refuses those top-level names. It is a courtesy, not the security boundary (student code
# could undo it); the boundary is that kernel results are never used for scores.
_KERNEL_GUARD = "\n".join(
    [
        "def _nnkit_guard():",
        "    import sys",
        "    blocked = {'reference', 'grading_tests', 'nnkit'}",
        "    class _Block:",
        "        @staticmethod",
        "        def find_spec(name, path=None, target=None):",
        "            if name.split('.')[0] in blocked:",
        "                raise ModuleNotFoundError(f'No module named {name!r}', name=name)",
        "            return None",
        "    sys.meta_path[:] = [_Block] + [f for f in sys.meta_path",
        "                                   if 'editable' not in getattr(f, '__module__', '')]",
        "    for name in list(sys.modules):",
        "        if name.split('.')[0] in blocked:",
        "            del sys.modules[name]",
        "_nnkit_guard()",
        "del _nnkit_guard",
    ]
)
c.Execute.extra_arguments = [
    "--HistoryManager.hist_file=:memory:",
    "--IPKernelApp.exec_lines=" + _KERNEL_GUARD,
]
# Training cells on the bundled data take seconds; the largest (hyper-parameter searches,
# one convnet epoch) stay well under two minutes on one core.
c.Execute.timeout = 300
c.Execute.startup_timeout = 120
c.Execute.interrupt_on_timeout = True
c.LimitOutput.max_lines = 400
c.LimitOutput.max_traceback = 60

# --- autograde --------------------------------------------------------------------------------
# Grade cells deleted by a student come back (their scores are the engine's anyway).
c.OverwriteCells.add_missing_cells = True
c.Autograde.create_student = True

# --- feedback ---------------------------------------------------------------------------------
# Hidden test regions are stripped from the HTML (nbgrader copies them otherwise), and so
# are the tracebacks of test cells (they quote the code around a failing line).
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nnkit.course.feedback.ClearHiddenTracebacks",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# generate_feedback copies every other file of autograded/<s>/<a>/ into feedback/; a student
# gets back only the HTML report (nnkit's own feedback command passes the same setting).
# ("*" matches the assignment folder itself, so nothing is copied; the HTML is written anyway.)
if "generate_feedback" in sys.argv:
    c.CourseDirectory.ignore = ["*"]
