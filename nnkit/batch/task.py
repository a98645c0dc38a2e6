"""One grading task: a submission's bytes in, a deterministic result record out.

The same function runs in a local process pool and on Dask workers, so the two give identical
records. The task carries the files themselves (workers need no shared file system) and the
grade function as an import path (tasks stay plain data).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from nnkit.batch.discover import Submission
from nnkit.batch.triage import CourseIndex, stage
from nnkit.course.publish import render
from nnkit.course.scoring import course_cells
from nnkit.datasets import DataSetting
from nnkit.execution import execute_notebooks
from nnkit.late import LateRule, timestamp_of
from nnkit.late import apply as apply_late
from nnkit.results import SubmissionResult, json_points
from nnkit.staging import read_tree

#: Version of the result record layout.
RECORD_FORMAT = 1
DEFAULT_GRADE_FN = "nnkit.grade:grade"
#: How ``nnkit.grade.grade`` says that its pytest run broke down (not the submission's fault).
ENGINE_INCOMPLETE = "grading did not complete"


@dataclass(frozen=True)
class GradeTask:
    """Everything a worker needs to grade one submission."""

    student: str
    assignment: str
    digest: str
    grader: str
    files: tuple[tuple[str, bytes], ...]
    index: CourseIndex = field(default_factory=CourseIndex)
    messages: tuple[str, ...] = ()  # what reading the folder left out (links, caps ...)
    grade_fn: str = DEFAULT_GRADE_FN
    grade_kwargs: tuple[tuple[str, Any], ...] = ()
    execute: bool = False  # run the notebooks in the sandbox for their outputs
    release: tuple[tuple[str, str], ...] = ()  # the assignment's release notebooks (name, JSON)
    late: LateRule | None = None  # the course's late policy for this submission (nnkit.late)
    data: DataSetting = field(default_factory=DataSetting)  # the course's data sets


@dataclass(frozen=True)
class Outcome:
    """A finished task: the record to store, how long grading took, and the executed
    notebooks (name -> JSON text, outputs for manual grading and feedback; untrusted data)."""

    record: dict[str, Any]
    seconds: float
    notebooks: tuple[tuple[str, str], ...] = ()  # relative path -> text, see course.publish


def make_task(
    sub: Submission,
    grader: str,
    index: CourseIndex,
    grade_fn: str = DEFAULT_GRADE_FN,
    grade_kwargs: dict[str, Any] | None = None,
    execute: bool = False,
    release: tuple[tuple[str, str], ...] = (),
    late: LateRule | None = None,
    data: DataSetting | None = None,
) -> GradeTask:
    """Read a submission's files into a task with :func:`nnkit.staging.read_tree` (no link
    followed, regular files only, size caps; what it left out becomes messages)."""
    snap = read_tree(sub.path)
    return GradeTask(
        student=sub.student,
        assignment=sub.assignment,
        digest=sub.digest,
        grader=grader,
        files=tuple(sorted(snap.files.items())),
        index=index,
        messages=tuple(snap.messages),
        grade_fn=grade_fn,
        grade_kwargs=tuple(sorted((grade_kwargs or {}).items())),
        execute=execute,
        release=release,
        late=late,
        data=data or DataSetting(),
    )


def resolve(path: str) -> Callable[..., Any]:
    """``"package.module:function"`` -> the function."""
    mod, _, attr = path.partition(":")
    return getattr(importlib.import_module(mod), attr)


def result_to_record(result: SubmissionResult) -> dict[str, Any]:
    """The grade part of a result (its timing is stored apart: it is not a grade)."""
    data = result.to_dict()
    return {
        "score": data["score"],
        "max_score": data["max_score"],
        "tests": [
            {
                "name": t.name,
                "score": json_points(t.score),
                "max_score": json_points(t.max_score),
                "output": t.output,
            }
            for t in result.tests
        ],
        "messages": data["messages"],
    }


_TMP = re.escape(tempfile.gettempdir().rstrip("/"))
_TMP_PATH = re.compile(_TMP + r"/[^/\s'\"]+")


def _scrub(record: dict[str, Any], stage_dir: Path) -> dict[str, Any]:
    """Replace temporary paths in messages so records do not depend on where they were made."""
    text = json.dumps(record)
    for form in {str(stage_dir), str(stage_dir.resolve())}:
        text = text.replace(json.dumps(form)[1:-1], "<submission>")
    text = _TMP_PATH.sub("<tmp>", text)
    return json.loads(text)


def _record(task: GradeTask, status: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "format": RECORD_FORMAT,
        "student": task.student,
        "assignment": task.assignment,
        "submission_hash": task.digest,
        "grader": task.grader,
        "status": status,
        **body,
    }


def failed_outcome(task: GradeTask, why: str, messages: Sequence[str] = ()) -> Outcome:
    """The record of a submission whose grading broke down (graded again by the next run)."""
    msgs = [*messages, f"grading failed: {why}"]
    body = {"score": 0, "max_score": 0, "tests": [], "messages": msgs}
    return Outcome(record=_record(task, "error", body), seconds=0.0)


_process_ready = False


def _prepare_process(grade_fn: str) -> None:
    """Once per grading process: one BLAS thread, the engine imported, the heap frozen.

    Processes are the parallelism: a second BLAS thread per process only competes with the
    other workers and the sandboxes for the cores (numpy is imported before any pool
    initializer could set ``OPENBLAS_NUM_THREADS``, so the limit is set at run time). The
    engine's pytest run calls ``gc.collect()`` twice per submission; in a Dask worker (a
    large heap) that alone took 0.5 s per submission before the freeze.
    """
    global _process_ready
    if not _process_ready:
        _process_ready = True
        threadpool_limits(1)
        with contextlib.suppress(Exception):  # a broken engine is reported by run_task
            resolve(grade_fn)
        gc.collect()
        gc.freeze()


def run_task(task: GradeTask) -> Outcome:
    """Stage, execute (in the sandbox), grade (in the sandbox) and score one submission;
    never raises for a bad submission."""
    _prepare_process(task.grade_fn)
    t0 = time.perf_counter()
    executed: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="nnkit-batch-") as tmp:
        folder = Path(tmp) / task.assignment
        folder.mkdir()
        staged = stage(list(task.files), task.assignment, task.index, folder)
        staged.messages[:0] = task.messages
        exec_messages: list[str] = []
        if task.execute:
            nbs = [p for p in staged.code_files if p.suffix == ".ipynb"]
            executed, exec_messages = execute_notebooks(folder, nbs, data=task.data)
        try:
            if staged.code_files:
                grade = resolve(task.grade_fn)
                kwargs = dict(task.grade_kwargs)
                if task.grade_fn == DEFAULT_GRADE_FN:  # the engine: the course's data sets
                    kwargs.setdefault("data", task.data)
                result = grade(staged.code_files, task.student, **kwargs)
            else:  # nothing to run: no points, and no engine run that would pick every suite
                result = SubmissionResult(student=task.student)
            cells = course_cells(task.assignment, staged.code_files, result)
        except Exception as e:  # the engine failed: keep the batch going, regrade on rerun
            record = failed_outcome(task, f"{type(e).__name__}: {e}", staged.messages).record
        else:
            body = result_to_record(result)
            if cells is not None:  # the total is the grade cells' (what the gradebook holds)
                body["cells"] = cells
                body["score"] = round(sum(c[2] for c in cells), 6)
                body["max_score"] = round(sum(c[3] for c in cells), 6)
            body["messages"] = staged.messages + exec_messages + body["messages"]
            incomplete = any(m.startswith(ENGINE_INCOMPLETE) for m in body["messages"])
            record = _record(task, "error" if incomplete else "graded", body)
        record = _scrub(record, folder)
    if task.late is not None:  # the penalty entry, from nbgrader's timestamp.txt
        record = apply_late(record, timestamp_of(task.files), task.late)
    published: dict[str, str] = {}
    if executed and "cells" in record and record["status"] == "graded":
        published = render(record, executed, dict(task.release))
    elif executed:
        published = {f"executed/{k}": v for k, v in executed.items()}
    return Outcome(
        record=record,
        seconds=round(time.perf_counter() - t0, 3),
        notebooks=tuple(sorted(published.items())),
    )
