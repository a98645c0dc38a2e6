"""``nnkit demo``: the whole course flow, end to end, in a temporary course directory.

1. copy the course (config + source/<a>/ with the student library) into a fresh directory and
   generate the release with nbgrader;
2. make a handful of submissions from the release: the reference solution filled in (and
   run, so it holds its saved models), the untouched stubs, two realistic bugs, and one
   hostile notebook (an IPython input transformer that rewrites later cells to ``pass``, a
   deleted test cell, a test cell and its metadata edited to claim 1000 points);
3. grade them through the one pipeline (``nnkit autograde``: notebooks executed and hidden
   suites run in the sandbox), write the trusted scores into the SQLite gradebook, the
   autograded notebooks, CSV, Gradescope JSON per student and feedback (HTML without hidden
   tests, opened by the grading report);
4. print a student x topic table.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import tempfile
import time
from pathlib import Path

from nnkit.course import submissions as S
from nnkit.course.autograde import StudentGrade, autograde, gradebook_scores
from nnkit.course.release import generate, make_course, verify_release
from nnkit.course.source_notebooks import ASSIGNMENTS, ROOT

#: Realistic bugs per assignment: student -> (solution cell, text in the reference code,
#: its buggy replacement, what the bug is).
BUGS: dict[str, dict[str, tuple[str, str, str, str]]] = {
    "fully_connected": {
        "cyd": (
            "affine",
            "dx = (dout @ w.T).reshape(x.shape)",
            "dx = dout @ w.T",
            "affine_backward returns dx flattened, not in x's shape",
        ),
        "dee": (
            "losses",
            "shifted = x - x.max(axis=1, keepdims=True)",
            "shifted = x",
            "softmax_loss without the max shift (overflows on large scores)",
        ),
    },
    "convnets": {
        "cyd": (
            "conv_backward",
            "db = dout.sum(axis=(0, 2, 3))",
            "db = dout.sum(axis=(2, 3))[0]",
            "conv_backward_naive sums db over the first example only",
        ),
        "dee": (
            "spatial_batchnorm",
            "flat = x.transpose(0, 2, 3, 1).reshape(-1, c)",
            "flat = x.reshape(-1, c)",
            "spatial batchnorm flattens without moving channels last",
        ),
    },
    "two_layer_net": {
        "cyd": (
            "t1_answers",
            "dz_dw0 = 1 * -0.2 * 1.0",
            "dz_dw0 = 0.3",
            "a wrong hand-computed gradient",
        ),
        "dee": (
            "two_layer_net",
            "hidden = np.maximum(X @ W1 + b1, 0)",
            "hidden = X @ W1 + b1",
            "the stand-alone net forgets the ReLU",
        ),
    },
}
#: (solution cell to attack, test cell to delete, test cell to edit) per assignment.
HOSTILE: dict[str, tuple[str, str, str]] = {
    "fully_connected": ("affine", "test_relu", "test_sigmoid"),
    "convnets": ("conv_forward", "test_max_pool_forward", "test_conv_sandwich"),
    "two_layer_net": ("t1_answers", "t2_sizes", "test_net_scores"),
}


def _replace_first(nbs: S.Notebooks, cell: str, old: str, new: str) -> S.Notebooks:
    """Like ``replace_in_cell`` but only the first occurrence (a single-site bug)."""
    out = S.replace_in_cell(nbs, cell, old, "\0")
    for nb in out.values():
        for c in nb.cells:
            if "\0" in c.source:
                first = c.source.index("\0")
                c.source = (c.source[:first] + new + c.source[first + 1 :]).replace("\0", old)
    return out


def make_submissions(assignment: str, course: Path, log=print) -> dict[str, str]:
    """Create submitted/<s>/<assignment>/ for the demo students; returns student -> story."""
    release = S.read_release(course / "release" / assignment)
    ref = S.fill_reference(release, course / "source" / assignment)
    stories: dict[str, str] = {}

    t0 = time.monotonic()
    ada = S.write_submission(ref, course / "submitted" / "ada" / assignment)
    models = S.execute(ada, course / "release" / assignment / "nnlib")
    stories["ada"] = "the reference solution, run before submitting"
    log(f"  ada: reference solution executed ({time.monotonic() - t0:.0f} s)")

    S.write_submission(release, course / "submitted" / "bob" / assignment)
    stories["bob"] = "the release as distributed (stubs only)"

    for student, (cell, old, new, story) in BUGS.get(assignment, {}).items():
        nbs = _replace_first(ref, cell, old, new)
        S.write_submission(nbs, course / "submitted" / student / assignment, models)
        stories[student] = story

    # eve carries the first bug and tries to make nbgrader's in-kernel tests pass anyway
    attack, deleted, edited = HOSTILE[assignment]
    base = ref
    for cell, old, new, _story in list(BUGS.get(assignment, {}).values())[:1]:
        base = _replace_first(ref, cell, old, new)
    nbs = S.input_transformer_attack(base, attack)
    nbs = S.delete_cell(nbs, deleted)
    nbs = S.edit_test_cell(nbs, edited)
    S.write_submission(nbs, course / "submitted" / "eve" / assignment, models)
    stories["eve"] = (
        f"cyd's bug + an input transformer in '{attack}' that turns later cells into `pass`, "
        f"deleted '{deleted}', edited '{edited}' and its metadata"
    )
    return stories


def topic_of(api: str) -> str:
    """The hidden suite (topic) that grades an API name; numeric answers are 'answers'."""
    from grading_tests.points import SUITE_APIS

    for module, apis in SUITE_APIS.items():
        if api in apis and module != "test_neural_net":
            return module.removeprefix("test_")
    return "answers"


def topic_table(grades: list[StudentGrade]) -> tuple[list[str], dict[str, dict[str, str]]]:
    """Topics and student -> topic -> 'score/max' from the engine's results."""
    rows: dict[str, dict[str, str]] = {}
    topics: list[str] = []
    for g in grades:
        acc: dict[str, list[float]] = {}
        for t in g.result.tests:
            topic = topic_of(t.api_name)
            s = acc.setdefault(topic, [0.0, 0.0])
            s[0] += max(0.0, t.score)
            s[1] += t.max_score
            if topic not in topics:
                topics.append(topic)
        rows[g.student] = {k: f"{v[0]:g}/{v[1]:g}" for k, v in acc.items()}
    return topics, rows


def print_table(
    assignment: str, course: Path, grades: list[StudentGrade], stories: dict[str, str]
) -> str:
    topics, rows = topic_table(grades)
    head = ["student", *topics, "gradebook"]
    lines = []
    table = []
    for g in grades:
        book = gradebook_scores(assignment, g.student, course)
        auto = [v for (nb, cell), v in book.items()]
        total = f"{sum(s for s, _ in auto):g}/{sum(m for _, m in auto):g}"
        table.append([g.student, *[rows[g.student].get(t, "-") for t in topics], total])
    widths = [max(len(str(r[i])) for r in [head, *table]) for i in range(len(head))]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    lines.append(fmt.format(*head))
    lines.append("  ".join("-" * w for w in widths))
    lines += [fmt.format(*r) for r in table]
    lines.append("")
    lines += [f"{s}: {story}" for s, story in stories.items()]
    lines.append("(gradebook = every grade cell incl. manually graded questions, still at 0)")
    out = "\n".join(lines)
    with open(course / "reports" / assignment / "topics.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(table)
    return out


def check_outcome(
    assignment: str, course: Path, grades: list[StudentGrade], release_problems: list[str]
) -> list[str]:
    """What the demo must show, as a list of failures (empty when all holds): a clean release,
    full marks for the reference, 0 for the stubs, partial credit for the buggy and hostile
    students, and a gradebook holding exactly the engine's cell scores."""
    failures = [f"release not clean: {p}" for p in release_problems]
    for g in grades:
        book = gradebook_scores(assignment, g.student, course)
        for c in g.cells:
            if book.get((c.notebook, c.cell_id), (None,))[0] != c.score:
                failures.append(f"{g.student}: gradebook differs from the engine on {c.cell_id}")
        if g.student == "ada" and g.score != g.max_score:
            failures.append(f"ada (reference) got {g.score:g}/{g.max_score:g}")
        elif g.student == "bob" and g.score != 0:
            failures.append(f"bob (stubs) got {g.score:g}")
        elif g.student not in ("ada", "bob") and not 0 < g.score < g.max_score:
            failures.append(f"{g.student} (bug) got {g.score:g}/{g.max_score:g}")
    return failures


def demo(
    assignment: str = "fully_connected", course: Path | None = None, log=print
) -> tuple[Path, list[str]]:
    """Run the demo; returns the course directory (gradebook, reports, feedback) and the
    failures of :func:`check_outcome`."""
    if course is None:
        course = Path(tempfile.mkdtemp(prefix="nnkit-demo-"))
    elif course.exists():
        shutil.rmtree(course)
    t0 = time.monotonic()
    log(f"course directory: {course}")
    make_course(course, [assignment], ROOT)
    generate(assignment, course)
    problems = verify_release(assignment, course / "release" / assignment, ROOT)
    log(
        f"release generated ({time.monotonic() - t0:.0f} s), "
        f"{'clean' if not problems else 'NOT clean: ' + '; '.join(problems)}"
    )
    stories = make_submissions(assignment, course, log)
    log(f"submissions: {', '.join(stories)}; grading with nbgrader + hidden suites ...")
    grades = autograde(assignment, course, log=lambda m: log("  " + m))
    log("")
    log(print_table(assignment, course, grades, stories))
    reports = course / "reports" / assignment
    log("")
    log(f"gradebook:  {course / 'gradebook.db'}")
    log(f"CSV:        {reports / 'grades.csv'}, {reports / 'topics.csv'}, {reports / 'cells.csv'}")
    log(f"Gradescope: {reports}/gradescope/{assignment}/<student>.json")
    log(f"feedback:   {course / 'feedback'}/<student>/{assignment}/")
    failures = check_outcome(assignment, course, grades, problems)
    log(f"done in {time.monotonic() - t0:.0f} s; " + ("; ".join(failures) or "all checks hold"))
    return course, failures


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--assignment", default="fully_connected", choices=ASSIGNMENTS)
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="course directory to create (replaced if present; default: a "
        "new temporary directory, kept after the run)",
    )


def run(args: argparse.Namespace) -> int:
    _, failures = demo(args.assignment, args.dir)
    return 1 if failures else 0
