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
from nnkit.results import SubmissionResult

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


def gradescope_json(record: dict[str, Any], seconds: float | None) -> bytes:
    """Gradescope's results.json for one submission (messages go to its top-level output)."""
    doc = as_result(record, seconds or 0.0).to_gradescope()
    doc["score"] = record["score"]  # a course assignment's total is its cells' (= gradebook)
    return (json.dumps(doc, indent=1) + "\n").encode()


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
        if course_root is not None and any("cells" in r for r in graded):
            from nnkit.course.publish import Publisher

            pub = Publisher(course_root)
            for r in graded:
                if "cells" in r:
                    pub.publish(r, store.notebooks(r["assignment"], r["student"]))
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
