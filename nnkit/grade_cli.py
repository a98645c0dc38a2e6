"""``nnkit grade PATH``: one submission, or a class folder, through the one pipeline.

A single submission (a notebook, a folder of one, or ``.py`` modules) becomes the same task
that batch grading runs (:func:`nnkit.batch.task.run_task`): staged from regular files only,
graded in the sandbox, scored; only the printing differs. A ``submitted/`` folder goes to
batch mode.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from nnkit.batch import cli as batch_cli
from nnkit.batch.discover import Submission, is_batch_root
from nnkit.batch.outputs import as_result
from nnkit.batch.task import GradeTask, make_task, run_task
from nnkit.batch.triage import CourseIndex
from nnkit.grade import ASSIGNMENT_APIS
from nnkit.loader import read_bytes


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


def _detect(paths: list[Path]) -> str:
    """The assignment a path names (a folder called like one), else a neutral name."""
    for p in paths:
        for part in [p.resolve(), *p.resolve().parents]:
            if part.name in ASSIGNMENT_APIS:
                return part.name
    return "submission"


def single_task(paths: list[Path], student: str, assignment: str | None, kwargs: dict) -> GradeTask:
    """The pipeline task of one submission given as files or one folder (links never read)."""
    name = assignment or _detect(paths)
    if len(paths) == 1 and paths[0].is_dir():
        sub = Submission(student, name, paths[0], (), digest="")
        return make_task(sub, "", CourseIndex(), grade_kwargs=kwargs)
    files = tuple(sorted((p.name, read_bytes(p)) for p in paths))
    return GradeTask(
        student=student,
        assignment=name,
        digest="",
        grader="",
        files=files,
        grade_kwargs=tuple(sorted(kwargs.items())),
    )


def run(args: argparse.Namespace) -> int:
    """Grade one submission and print it; a class folder goes to batch mode."""
    paths: list[Path] = list(args.path)
    if len(paths) == 1 and is_batch_root(paths[0]):
        return int(batch_cli.run(args, paths[0]))
    missing = [p for p in paths if not p.exists() or p.is_symlink()]
    if missing:
        print(f"nnkit grade: no such file (links are not followed): {missing[0]}")
        return 2
    kwargs: dict[str, object] = {"timeout": 5.0 if args.timeout is None else float(args.timeout)}
    if args.no_loops:
        kwargs["no_loops"] = tuple(args.no_loops)
    outcome = run_task(single_task(paths, args.student, args.assignment, kwargs))
    result = as_result(outcome.record, outcome.seconds)
    if args.format == "gradescope":
        doc = result.to_gradescope()
        doc["score"] = outcome.record["score"]
        print(json.dumps(doc, indent=1))
    elif args.format == "json":
        print(result.to_json())
    else:
        print(result.to_table())
    return 0
