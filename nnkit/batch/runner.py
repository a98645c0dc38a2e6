"""Grade a whole class: a local process pool (or a Dask cluster), resumable, with a progress bar.

Only this process writes files. Workers return records; each record is stored atomically as
soon as it arrives, so a batch killed at any moment (even SIGKILL) has lost at most the
submissions that were being graded, and a rerun grades exactly those (and any that changed).
The gradebook, ``grades.csv``, the Gradescope files and the report are derived from the stored
records at the end, so writing them again is harmless.
"""

from __future__ import annotations

import ctypes
import fcntl
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

from tqdm import tqdm

from nnkit.batch.discover import Submission, discover
from nnkit.batch.outputs import write_outputs
from nnkit.batch.store import ResultStore, grader_fingerprint
from nnkit.batch.task import (
    DEFAULT_GRADE_FN,
    GradeTask,
    Outcome,
    failed_outcome,
    make_task,
    run_task,
)
from nnkit.batch.triage import CourseIndex
from nnkit.datasets import DataSetting, load_setting
from nnkit.errors import UsageError
from nnkit.late import TIMESTAMP_FILE, LateRule, gradebook_dates, load_policy
from nnkit.late import apply as apply_late
from nnkit.staging import read_files


@dataclass
class BatchConfig:
    """What ``nnkit grade submitted/`` was asked to do."""

    root: Path
    assignment: str | None = None
    students: tuple[str, ...] | None = None  # only these students (default: all)
    workers: int = max(1, os.cpu_count() or 1)
    force: bool = False
    out_dir: Path | None = None  # default: <root>/../graded
    course_root: Path | None = None  # default: <root>/..
    db_url: str | None = None  # default: sqlite:///<course_root>/gradebook.db; "" = no gradebook
    scheduler: str | None = None  # Dask scheduler address; None = local pool
    grade_fn: str = DEFAULT_GRADE_FN
    grade_kwargs: dict[str, Any] = field(default_factory=dict)
    execute: bool = True  # run notebooks in the sandbox (outputs for autograded/ and feedback)
    progress: bool = True
    report: bool = True
    late: bool = True  # apply the course's late policy (nnkit.late; nbgrader_config.py)
    data: DataSetting | None = None  # the course's data sets; None: read from nbgrader_config.py

    def resolved(self) -> BatchConfig:
        """The same configuration with every default filled in and paths made absolute."""
        root = Path(self.root).resolve()
        course = Path(self.course_root).resolve() if self.course_root else root.parent
        out = Path(self.out_dir).resolve() if self.out_dir else root.parent / "graded"
        db = f"sqlite:///{course / 'gradebook.db'}" if self.db_url is None else self.db_url
        data = self.data if self.data is not None else load_setting(course)
        return replace(self, root=root, course_root=course, out_dir=out, db_url=db, data=data)


@dataclass
class BatchSummary:
    """What a batch did."""

    submissions: list[Submission]
    graded: int  # results written by this run (errors included)
    skipped: int  # already graded and unchanged
    errors: int  # grading itself failed (these are graded again by the next run)
    out_dir: Path
    table: str = ""


def _die_with_parent(parent: int) -> None:
    """Pool worker start-up: get SIGKILL when the batch process dies (Linux), so none is left
    (one BLAS thread per process: ``nnkit.batch.task``)."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_die_with_parent,
        initargs=(os.getpid(),),
    )


def _run_alone(task: GradeTask) -> Outcome:
    """Grade one task in a pool of its own: if that pool dies, this task is the culprit."""
    with _pool(1) as pool:
        try:
            return pool.submit(run_task, task).result()
        except BrokenProcessPool:
            return failed_outcome(task, "the grading process died")


def run_local(
    tasks: Iterator[GradeTask], workers: int, on_outcome: Callable[[GradeTask, Outcome], None]
) -> None:
    """Run tasks in a pool of ``workers`` processes; call ``on_outcome`` once for each task.

    Tasks are read lazily (twice the worker count in flight), so memory stays small. If a
    pool process dies, every task in flight is a suspect: each is graded again alone, so only
    the one that kills its process gets an error record, and the pool is rebuilt.
    """
    source = iter(tasks)
    suspects: list[GradeTask] = []
    while True:
        for task in suspects:
            on_outcome(task, _run_alone(task))
        suspects = []
        with _pool(workers) as pool:
            running: dict[Future[Outcome], GradeTask] = {}
            while True:
                while len(running) < 2 * workers and (task := next(source, None)) is not None:
                    running[pool.submit(run_task, task)] = task
                if not running:
                    return
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = running.pop(fut)
                    try:
                        outcome = fut.result()
                    except BrokenProcessPool:
                        suspects.append(task)
                        continue
                    except Exception as e:  # e.g. a result that cannot be sent back
                        outcome = failed_outcome(task, f"{type(e).__name__}: {e}")
                    on_outcome(task, outcome)
                if suspects:
                    suspects += running.values()
                    break


class _Lock:
    """One batch at a time per output folder (released by the kernel even on SIGKILL)."""

    def __init__(self, out_dir: Path) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.f = open(out_dir / ".lock", "w")  # noqa: SIM115

    def __enter__(self) -> _Lock:
        try:
            fcntl.flock(self.f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.f.close()
            folder = Path(self.f.name).parent
            raise UsageError(
                f"another batch is already writing to {folder}; wait for it to finish or "
                "pass --out DIR"
            ) from None
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self.f, fcntl.LOCK_UN)
        self.f.close()


def _release(course_root: Path | None, assignment: str) -> tuple[tuple[str, str], ...]:
    """The release notebooks of an assignment (what autograded notebooks are repaired from)."""
    folder = (course_root or Path("/nonexistent")) / "release" / assignment
    if not folder.is_dir():
        return ()
    return tuple((p.name, p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.ipynb")))


def _ensure_course_assignments(course_root: Path, assignments: set[str]) -> None:
    """The gradebook knows every course assignment graded here (its cells come from
    ``generate_assignment``); assignments outside the course need nothing."""
    from nnkit.course.autograde import ensure_assignment
    from nnkit.course.source_notebooks import ASSIGNMENTS

    if (course_root / "nbgrader_config.py").is_file():
        for a in sorted(assignments & set(ASSIGNMENTS)):
            ensure_assignment(a, course_root)


def _late_rules(cfg: BatchConfig, subs: list[Submission]) -> dict[tuple[str, str], LateRule]:
    """(assignment, student) -> the late rule of that submission (none: no penalty)."""
    policy = load_policy(cfg.course_root) if cfg.late else None
    if policy is None:
        return {}
    dues: dict[str, Any] = {}
    extensions: dict[tuple[str, str], Any] = {}
    db = cfg.db_url or ""
    if db and (not db.startswith("sqlite:///") or Path(db.removeprefix("sqlite:///")).is_file()):
        from nnkit.batch.gradebook import _alembic_on_path

        _alembic_on_path()
        dues, extensions = gradebook_dates(db, {s.assignment for s in subs})
    rules = {}
    for s in subs:
        key = (s.assignment, s.student)
        rule = policy.rule(s.assignment, dues.get(s.assignment), extensions.get(key))
        if rule is not None:
            rules[key] = rule
    return rules


def _timestamp(sub: Submission) -> str | None:
    data = read_files(sub.path, [TIMESTAMP_FILE]).files.get(TIMESTAMP_FILE)
    return None if data is None else data[:256].decode("utf-8", errors="replace")


def _restamp(subs: list[Submission], store: ResultStore, rules: dict) -> None:
    """Apply the current late rules to records graded before (a new due date, extension or
    policy needs no regrading): records change only when their penalty does."""
    for s in subs:
        rec = store.load(s.assignment, s.student)
        if rec is None or rec.get("status") != "graded":
            continue
        new = apply_late(rec, _timestamp(s), rules.get((s.assignment, s.student)))
        if new != rec:
            store.write(new, store.seconds(s.assignment, s.student) or 0.0)


def run_batch(config: BatchConfig, stream: TextIO | None = None) -> BatchSummary:
    """Grade every submission under ``config.root`` that is not graded yet; write all outputs."""
    cfg = config.resolved()
    assert cfg.out_dir is not None
    stream = stream or sys.stderr
    subs = discover(cfg.root, cfg.assignment) if cfg.root.is_dir() else []
    if cfg.students is not None:
        subs = [s for s in subs if s.student in cfg.students]
    if not subs:
        which = f" of assignment '{cfg.assignment}'" if cfg.assignment else ""
        raise UsageError(
            f"no submissions{which} in {cfg.root}; expected nbgrader's layout "
            "<submitted>/<student>/<assignment>/ (nbgrader collect, or copy them there)"
        )
    data = cfg.data or DataSetting()
    missing = data.missing()
    if missing:
        raise UsageError(
            f"the course grades on {data.value} (nbgrader_config.py, c.NnkitData.dataset), "
            "but this machine lacks its data:\n  " + "\n  ".join(missing)
        )
    store = ResultStore(cfg.out_dir)
    grader = grader_fingerprint(data=data)
    index = CourseIndex.from_course(cfg.course_root)
    counts = {"graded": 0, "errors": 0}
    rules = _late_rules(cfg, subs)

    with _Lock(cfg.out_dir):
        store.remove_stale_temporaries()
        todo = [s for s in subs if cfg.force or not store.is_current(s, grader)]
        releases = {a: _release(cfg.course_root, a) for a in {s.assignment for s in todo}}
        tasks = (
            make_task(
                s,
                grader,
                index,
                cfg.grade_fn,
                cfg.grade_kwargs,
                cfg.execute,
                release=releases[s.assignment],
                late=rules.get((s.assignment, s.student)),
                data=data,
            )
            for s in todo
        )
        bar = tqdm(
            total=len(todo), desc="grading", unit="sub", file=stream, disable=not cfg.progress
        )

        def on_outcome(task: GradeTask, out: Outcome) -> None:
            store.write_published(task.assignment, task.student, out.notebooks)
            store.write(out.record, out.seconds)
            counts["graded"] += 1
            counts["errors"] += out.record["status"] != "graded"
            bar.set_postfix_str(f"{task.student}/{task.assignment}", refresh=False)
            bar.update(1)

        try:
            if cfg.scheduler:
                from nnkit.batch.dask_runner import run_dask

                run_dask(tasks, cfg.scheduler, on_outcome)
            else:
                run_local(tasks, cfg.workers, on_outcome)
        finally:
            bar.close()
        graded_now = {(s.assignment, s.student) for s in todo}
        _restamp([s for s in subs if (s.assignment, s.student) not in graded_now], store, rules)
        if cfg.db_url and cfg.course_root is not None:
            _ensure_course_assignments(cfg.course_root, {s.assignment for s in subs})
        table = write_outputs(
            subs, store, cfg.out_dir, cfg.db_url or None, cfg.report, cfg.course_root
        )
    return BatchSummary(
        submissions=subs,
        graded=counts["graded"],
        skipped=len(subs) - len(todo),
        errors=counts["errors"],
        out_dir=cfg.out_dir,
        table=table,
    )
