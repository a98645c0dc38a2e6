"""Everything a batch writes at the end, derived from the stored result records.

``grades.csv``, ``gradescope/<assignment>/<student>.json``, the gradebook and the class report.
All of it is rewritten from the records on every run, so a rerun after a crash repairs it.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from nnkit.batch.discover import Submission
from nnkit.batch.store import ResultStore, atomic_write
from nnkit.course.publish import report_markdown
from nnkit.results import HIDDEN_TESTS_VISIBILITY, SubmissionResult

CSV_FIELDS = (
    "student",
    "assignment",
    "score",
    "max_score",
    "percent",
    "status",
    "raw_score",  # before the late penalty (nnkit.late)
    "late_penalty",
    "messages",
)


def grades_csv(records: list[dict[str, Any]]) -> bytes:
    """One row per submission, sorted by assignment then student."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_FIELDS)
    for r in sorted(records, key=lambda r: (r["assignment"], r["student"])):
        pct = 100.0 * r["score"] / r["max_score"] if r["max_score"] else 0.0
        late = r.get("late")
        w.writerow(
            [
                r["student"],
                r["assignment"],
                r["score"],
                r["max_score"],
                f"{pct:.1f}",
                r["status"],
                late["raw_score"] if late else r["score"],
                late["penalty"] if late else 0,
                " | ".join(r["messages"]),
            ]
        )
    return buf.getvalue().encode()


def as_result(record: dict[str, Any], seconds: float = 0.0) -> SubmissionResult:
    """A stored record as the kit's result model."""
    return SubmissionResult.from_dict({**record, "execution_time": seconds})


def gradescope_doc(
    record: dict[str, Any],
    seconds: float | None,
    visibility: str = HIDDEN_TESTS_VISIBILITY,
    output: str | None = None,
) -> dict[str, Any]:
    """Gradescope's results.json of one record (messages go to its top-level output).

    The total is the record's: for a course assignment its grade cells' sum (= gradebook).
    """
    result = as_result(record, seconds or 0.0)
    return result.to_gradescope(score=record["score"], visibility=visibility, output=output)


def gradescope_json(
    record: dict[str, Any], seconds: float | None, visibility: str = HIDDEN_TESTS_VISIBILITY
) -> bytes:
    """:func:`gradescope_doc` as the bytes of a file."""
    return (json.dumps(gradescope_doc(record, seconds, visibility), indent=1) + "\n").encode()


def summary_table(records: list[dict[str, Any]], n_subs: dict[str, int]) -> str:
    """Per assignment: submissions, results, errors, mean / min / max percent."""
    by_a: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_a[r["assignment"]].append(r)
    head = (
        f"{'assignment':<20} {'subs':>5} {'graded':>6} {'errors':>6} "
        f"{'mean %':>7} {'min %':>6} {'max %':>6}"
    )
    lines = [head, "-" * len(head)]
    for a in sorted(n_subs):
        rs = by_a.get(a, [])
        ok = [r for r in rs if r["status"] == "graded"]
        pcts = [100.0 * r["score"] / r["max_score"] if r["max_score"] else 0.0 for r in ok] or [0.0]
        lines.append(
            f"{a:<20} {n_subs[a]:>5} {len(ok):>6} {len(rs) - len(ok):>6} "
            f"{statistics.fmean(pcts):>7.1f} {min(pcts):>6.1f} {max(pcts):>6.1f}"
        )
    return "\n".join(lines)


def publish_files(src: Path, course_root: Path, student: str, assignment: str) -> None:
    """Copy a submission's rendered autograded/ and feedback/ files into the course."""
    for kind in ("autograded", "feedback"):
        dest = course_root / kind / student / assignment
        for f in sorted((src / kind).glob("*")) if (src / kind).is_dir() else []:
            dest.mkdir(parents=True, exist_ok=True)
            atomic_write(dest / f.name, f.read_bytes())


def write_outputs(
    subs: list[Submission],
    store: ResultStore,
    out_dir: Path,
    db_url: str | None,
    report: bool = True,
    course_root: Path | None = None,
) -> str:
    """Write CSV, Gradescope files, gradebook and report; return the summary table."""
    pairs = list(store.records(subs))
    records = [r for _, r in pairs]
    atomic_write(out_dir / "grades.csv", grades_csv(records))
    for sub, rec in pairs:
        atomic_write(
            out_dir / "gradescope" / sub.assignment / f"{sub.student}.json",
            gradescope_json(rec, store.seconds(sub.assignment, sub.student)),
        )
    if db_url:
        from nnkit.batch.gradebook import update_gradebook

        graded = [r for r in records if r["status"] == "graded"]
        update_gradebook(db_url, graded, course_root)
        if course_root is not None:
            for r in graded:
                src = store.published(r["assignment"], r["student"])
                if src is not None:
                    publish_files(src, course_root, r["student"], r["assignment"])
                if "cells" in r:
                    fb = course_root / "feedback" / r["student"] / r["assignment"]
                    fb.mkdir(parents=True, exist_ok=True)
                    atomic_write(fb / "grading_report.md", (report_markdown(r) + "\n").encode())
    if report and records:
        from nnkit.batch.report import write_report

        timings = {
            (s.assignment, s.student): store.seconds(s.assignment, s.student) or 0.0
            for s, _ in pairs
        }
        write_report(records, timings, out_dir)
    n_subs: dict[str, int] = defaultdict(int)
    for s in subs:
        n_subs[s.assignment] += 1
    return summary_table(records, dict(n_subs))
