"""nbgrader configuration of the nnkit course (the repository root is the course root).

Run nbgrader from this directory (``nbgrader generate_assignment fully_connected``), or use
the kit's wrappers (``nnkit release <a>``, ``nnkit autograde <a>``, ``nnkit feedback <a>``),
which run the same commands and then verify or complete their results.

Grading model: the hidden test cells of the notebooks only hand over to the nnkit engine.
``nnkit autograde <a>`` executes the notebooks in the sandbox (outputs and plots for the
formgrader and feedback), runs the hidden suites in the sandbox and writes every grade
cell's score into the gradebook; nothing a kernel computes is trusted.
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

# --- autograde ---------------------------------------------------------------------------------
# Student code runs only in nnkit's sandbox. Plain `nbgrader autograde` and the formgrader's
# Autograde button would execute submissions in a kernel as your own user: here they stop
# with a message that points to `nnkit autograde <assignment>`, which executes the notebooks
# in the sandbox and fills the same gradebook, autograded/ and feedback/.
c.Autograde.sanitize_preprocessors = ["nnkit.course.refuse.RefuseUnsandboxedAutograde"]
c.Autograde.autograde_preprocessors = ["nnkit.course.refuse.RefuseUnsandboxedAutograde"]

# --- late penalties (nnkit) -------------------------------------------------------------------
# `nnkit autograde` and `nnkit grade submitted/` compare nbgrader's timestamp.txt of each
# submission with the due date (plus the student's nbgrader extension, if any). Later than the
# grace period, a submission loses `per_day` percent of the points it earned for every started
# day after the due date, at most `cap` percent. The penalty is in the result record, the CSV,
# the gradebook (late_submission_penalty, subtracted by `nbgrader export`) and the feedback.
c.NnkitLate.per_day = 0  # percent per started day late; 0 = no late penalties
c.NnkitLate.grace_minutes = 15
c.NnkitLate.cap = 50  # percent
# assignment -> due date ("YYYY-MM-DD HH:MM:SS" and a time zone: "UTC", "Europe/Berlin",
# "+0200"); an assignment not listed uses the gradebook's due date
# (`nbgrader db assignment add two_layer_net --duedate="2025-10-10 23:59:00 UTC"`).
c.NnkitLate.due = {}

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
