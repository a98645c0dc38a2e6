"""``nnkit grade PATH``: one submission, or a class folder, through the one pipeline.

A single submission (a notebook, a folder of one, or ``.py`` modules) becomes the same task
that batch grading runs (:func:`nnkit.batch.task.run_task`): staged from regular files only,
graded in the sandbox, scored; only the printing differs. A ``submitted/`` folder goes to
batch mode.

The assignment of a single submission is ``--assignment`` or what its notebooks' nbgrader
metadata says (the grade ids of the course's release notebooks), never a folder's name: a
folder called ``submission/`` (Gradescope's) grades like one called after the assignment.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

from nnkit.batch import cli as batch_cli
from nnkit.batch.discover import Submission, is_batch_root
from nnkit.batch.outputs import as_result, gradescope_doc
from nnkit.batch.task import GradeTask, make_task, run_task
from nnkit.batch.triage import CourseIndex
from nnkit.course.source_notebooks import ROOT
from nnkit.datasets import DataSetting, load_setting
from nnkit.errors import UsageError
from nnkit.grade import ASSIGNMENT_APIS
from nnkit.loader import read_bytes
from nnkit.staging import read_tree

#: The assignment name of a submission whose notebooks are of no known assignment (or that
#: holds only ``.py`` modules): graded by the names it defines.
NEUTRAL = "submission"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``nnkit grade PATH [--student ID] [--format ...] [--timeout S]`` (+ batch options)."""
    parser.conflict_handler = "resolve"
    parser.add_argument(
        "path",
        type=Path,
        nargs="+",
        help="notebook(s), .py module(s) or a folder of one submission; or a "
        "submitted/ folder of a class (batch mode)",
    )
    parser.add_argument("--student", default="anonymous", help="student id (seeds the inputs)")
    parser.add_argument("--format", choices=("gradescope", "table", "json"), default="table")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="wall-clock limit of one call into the submission (default 5 s)",
    )
    parser.add_argument(
        "--no-loops",
        action="append",
        default=[],
        metavar="API",
        help="exercise that must be vectorised (policy), repeatable",
    )
    batch_cli.add_arguments(parser)


def course_index(course: Path | None = None) -> CourseIndex:
    """The release notebooks that name the assignments: ``course``'s (or the current
    directory's, when it is a course), then the kit's own for any assignment not found there."""
    roots: list[Path] = []
    if course is not None:
        roots.append(Path(course))
    elif (Path.cwd() / "nbgrader_config.py").is_file():
        roots.append(Path.cwd())
    roots.append(ROOT)
    found: dict = {}
    for root in roots:
        for a, specs in CourseIndex.from_course(root).assignments.items():
            found.setdefault(a, specs)
    return CourseIndex(found)


def course_data(course: Path | None = None) -> DataSetting:
    """The course's data sets (``c.NnkitData`` of its nbgrader_config.py): ``course``'s, or the
    current directory's when it is a course, else the kit's own course config."""
    if course is not None:
        return load_setting(Path(course))
    if (Path.cwd() / "nbgrader_config.py").is_file():
        return load_setting(Path.cwd())
    return load_setting(ROOT)


def known_assignments(index: CourseIndex) -> list[str]:
    """Assignments the kit can grade as such (the course's and the engine's table)."""
    return sorted(set(index.assignments) | set(ASSIGNMENT_APIS))


def check_assignment(name: str, index: CourseIndex) -> str:
    """``name`` if it is a known assignment, else a :class:`UsageError` that lists them."""
    known = known_assignments(index)
    if name not in known:
        raise UsageError(f"unknown assignment {name!r}; known: {', '.join(known)}")
    return name


def detect_assignment(files: list[tuple[str, bytes]], index: CourseIndex) -> tuple[str, str]:
    """(assignment, message) of a submission's files, from its notebooks' nbgrader metadata.

    No notebook (``.py`` modules), or none of any known assignment: :data:`NEUTRAL` and a
    message saying so. Notebooks of different assignments, or one that matches two equally
    well: :class:`UsageError`.
    """
    owners = index.assignment_of(files)
    if not owners:
        return NEUTRAL, ""
    tied = {nb: a for nb, a in owners.items() if len(a) > 1}
    if tied:
        nb, cands = sorted(tied.items())[0]
        raise UsageError(
            f"{nb} matches the release notebooks of {' and '.join(cands)} equally well; "
            "pass --assignment A to say which one it is"
        )
    found = {nb: a[0] for nb, a in owners.items() if a}
    if len(set(found.values())) > 1:
        shown = "; ".join(f"{nb}: {a}" for nb, a in sorted(found.items()))
        raise UsageError(
            f"the notebooks belong to different assignments ({shown}); grade one "
            "assignment's notebooks at a time, or pass --assignment A"
        )
    if found:
        return next(iter(found.values())), ""
    return NEUTRAL, (
        "the notebooks carry none of the nbgrader cell ids of a release notebook, so the "
        "assignment is unknown; they were graded by the names they define (pass "
        "--assignment A to grade them as assignment A)"
    )


def single_task(
    paths: list[Path],
    student: str,
    assignment: str | None,
    kwargs: dict,
    index: CourseIndex | None = None,
    data: DataSetting | None = None,
) -> GradeTask:
    """The pipeline task of one submission given as files or one folder (links never read).

    The assignment is ``assignment`` (checked) or :func:`detect_assignment`'s; ``data`` the
    course's data sets (default: the bundled ones).
    """
    data = data or DataSetting()
    index = course_index() if index is None else index
    if len(paths) == 1 and paths[0].is_dir():
        files = sorted(read_tree(paths[0]).files.items())
    else:
        files = sorted((p.name, read_bytes(p)) for p in paths)
    if assignment is not None:
        name, note = check_assignment(assignment, index), ""
    else:
        name, note = detect_assignment(files, index)
    if len(paths) == 1 and paths[0].is_dir():
        sub = Submission(student, name, paths[0], (), digest="")
        task = make_task(sub, "", index, grade_kwargs=kwargs, data=data)
    else:
        task = GradeTask(
            student=student,
            assignment=name,
            digest="",
            grader="",
            files=tuple(files),
            index=index,
            grade_kwargs=tuple(sorted(kwargs.items())),
            data=data,
        )
    if note:
        task = replace(task, messages=(note, *task.messages))
    return task


def run(args: argparse.Namespace) -> int:
    """Grade one submission and print it; a class folder goes to batch mode."""
    paths: list[Path] = list(args.path)
    if len(paths) == 1 and is_batch_root(paths[0]):
        return int(batch_cli.run(args, paths[0]))
    for p in paths:
        if p.is_symlink():
            raise UsageError(
                f"{p} is a symbolic link, which the grader never follows; give the file itself"
            )
        if not p.exists():
            raise UsageError(f"{p} does not exist; check the path (was it submitted?)")
    if len(paths) > 1 and any(p.is_dir() for p in paths):
        raise UsageError("give one folder, or the files of one submission, not both")
    if len(paths) == 1 and paths[0].is_dir():
        top = [n for n in read_tree(paths[0]).files if "/" not in n]
        if not any(n.endswith((".ipynb", ".py")) for n in top):
            raise UsageError(
                f"no submission in {paths[0]}: it holds no notebook (.ipynb) or module (.py); "
                "give the folder of one submission, or submitted/ of a class "
                "(<student>/<assignment>/ folders)"
            )
    kwargs: dict[str, object] = {"timeout": 5.0 if args.timeout is None else float(args.timeout)}
    if args.no_loops:
        kwargs["no_loops"] = tuple(args.no_loops)
    index = course_index(getattr(args, "course", None))
    data = course_data(getattr(args, "course", None))
    missing = data.missing()
    if missing:
        raise UsageError(
            f"the course grades on {data.value} (nbgrader_config.py, c.NnkitData.dataset), "
            "but this machine lacks its data:\n  " + "\n  ".join(missing)
        )
    task = single_task(paths, args.student, args.assignment, kwargs, index, data)
    outcome = run_task(task)
    if args.format == "gradescope":
        print(json.dumps(gradescope_doc(outcome.record, outcome.seconds), indent=1))
        return 0
    result = as_result(outcome.record, outcome.seconds)
    if args.format == "json":
        print(result.to_json())
    else:
        width = max(80, min(160, _terminal_width()))
        print(f"assignment: {task.assignment}")
        print(result.to_table(width=width))
        if "cells" in outcome.record:
            print(
                f"course total (the grade cells, as in the gradebook): "
                f"{outcome.record['score']:g} / {outcome.record['max_score']:g}"
            )
    return 0


def _terminal_width() -> int:
    try:
        return os.get_terminal_size().columns
    except OSError:
        return 100
