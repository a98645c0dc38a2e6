"""Command line of batch grading: ``nnkit grade submitted/ [--assignment A] [--workers N] ...``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from nnkit.batch.runner import BatchConfig, run_batch
from nnkit.batch.task import DEFAULT_GRADE_FN


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of batch mode (PATH is a folder in nbgrader layout: submitted/<student>/<a>/)."""
    g = p.add_argument_group("batch mode (PATH is a folder of student folders)")
    g.add_argument("--assignment", help="grade only this assignment")
    g.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="submissions graded at a time"
    )
    g.add_argument("--force", action="store_true", help="regrade submissions already graded")
    g.add_argument("--out", type=Path, help="output folder (default: PATH/../graded)")
    g.add_argument(
        "--course", type=Path, help="course root: release/, gradebook.db (default: PATH/..)"
    )
    g.add_argument("--db", help="gradebook URL (default: sqlite:///<course>/gradebook.db)")
    g.add_argument("--no-gradebook", action="store_true", help="do not write the gradebook")
    g.add_argument("--scheduler", help="Dask scheduler address (tcp://host:8786) to grade on")
    g.add_argument("--no-progress", action="store_true", help="no progress bar")
    g.add_argument("--no-report", action="store_true", help="no class report")
    g.add_argument(
        "--timeout", type=float, help="wall-clock limit of one call into a submission (5 s)"
    )
    g.add_argument("--grade-fn", default=DEFAULT_GRADE_FN, help=argparse.SUPPRESS)


def run(args: argparse.Namespace, path: Path) -> int:
    """Run a batch from parsed arguments; print the summary table.

    Exit status 1 if grading itself failed for some submission (a rerun retries those).
    """
    kwargs: dict[str, object] = {}
    if getattr(args, "timeout", None) is not None:
        kwargs["timeout"] = float(args.timeout)
    if getattr(args, "no_loops", None):  # the engine's policy option of ``nnkit grade``
        kwargs["no_loops"] = tuple(args.no_loops)
    cfg = BatchConfig(
        root=path,
        assignment=args.assignment,
        workers=max(1, args.workers),
        force=args.force,
        out_dir=args.out,
        course_root=args.course,
        db_url="" if args.no_gradebook else args.db,
        scheduler=args.scheduler,
        grade_fn=getattr(args, "grade_fn", DEFAULT_GRADE_FN),
        grade_kwargs=kwargs,
        progress=not args.no_progress,
        report=not args.no_report,
    )
    summary = run_batch(cfg)
    print(summary.table)
    print(
        f"\n{len(summary.submissions)} submissions: {summary.graded} graded now, "
        f"{summary.skipped} already graded, {summary.errors} failed to grade; "
        f"results in {summary.out_dir}"
    )
    return 1 if summary.errors else 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="nnkit grade", description=__doc__)
    p.add_argument("path", type=Path, help="submitted/ folder (nbgrader layout)")
    add_arguments(p)
    args = p.parse_args(argv)
    return run(args, args.path)


if __name__ == "__main__":
    sys.exit(main())
