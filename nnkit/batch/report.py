"""Class report: which tests students fail, how scores spread, which submissions were slowest.

Written next to ``grades.csv``: ``report.md`` plus ``report_scores.png`` (histogram of total
scores) and ``report_tests.png`` (pass share per test), one section per assignment.
"""

from __future__ import annotations

import io
import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any

from nnkit.batch.store import atomic_write
from nnkit.results import SubmissionResult

#: How many of the slowest submissions the report lists.
SLOWEST = 10


def pass_shares(records: list[dict[str, Any]]) -> list[tuple[str, float, int]]:
    """(test name, share of submissions with full points on it, submissions that have it).

    Sorted from the most failed test to the least.
    """
    passed: dict[str, int] = defaultdict(int)
    seen: dict[str, int] = defaultdict(int)
    for r in records:
        for t in SubmissionResult.from_dict(r).tests:
            seen[t.name] += 1
            passed[t.name] += t.passed
    rows = [(name, passed[name] / n, n) for name, n in seen.items()]
    return sorted(rows, key=lambda x: (x[1], x[0]))


def percents(records: list[dict[str, Any]]) -> list[float]:
    """Total score of each submission in percent of its maximum."""
    return [100.0 * r["score"] / r["max_score"] if r["max_score"] else 0.0 for r in records]


def _plots(name: str, records: list[dict[str, Any]], out_dir: Path) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    score_png = f"report_{name}_scores.png"
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(percents(records), bins=[i * 5 for i in range(21)], color="#4878a8", edgecolor="white")
    ax.set_xlabel("total score (%)")
    ax.set_ylabel("submissions")
    ax.set_title(f"{name}: total scores ({len(records)} submissions)")
    fig.tight_layout()
    _save(fig, out_dir / score_png)
    plt.close(fig)

    tests_png = f"report_{name}_tests.png"
    rows = pass_shares(records)
    fig, ax = plt.subplots(figsize=(10, max(2.0, 0.22 * len(rows) + 1)))
    labels = [r[0] if len(r[0]) <= 70 else r[0][:67] + "..." for r in rows]
    ax.barh(range(len(rows)), [100 * r[1] for r in rows], color="#5a9e6f")
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlim(0, 100)
    ax.set_xlabel("students passing (%)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=7)
    ax.set_title(f"{name}: pass share per test", loc="left")
    fig.tight_layout()
    _save(fig, out_dir / tests_png)
    plt.close(fig)
    return score_png, tests_png


def _save(fig: Any, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    atomic_write(path, buf.getvalue())


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_report(
    records: list[dict[str, Any]], seconds: dict[tuple[str, str], float], out_dir: Path
) -> Path:
    """Write ``report.md`` and its plots into ``out_dir``; return the Markdown file's path."""
    by_a: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        by_a[r["assignment"]].append(r)
    lines = ["# Class report", ""]
    for a in sorted(by_a):
        rs = sorted(by_a[a], key=lambda r: r["student"])
        graded = [r for r in rs if r["status"] == "graded"]
        pc = percents(graded) or [0.0]
        scores_png, tests_png = _plots(a, graded, out_dir)
        lines += [
            f"## {a}",
            "",
            f"{len(graded)} graded submissions ({len(rs) - len(graded)} failed to grade); "
            f"mean {statistics.fmean(pc):.1f} %, median {statistics.median(pc):.1f} %.",
            "",
            f"![total scores]({scores_png})",
            "",
            "### Pass share per test (most failed first)",
            "",
            "| test | passing | submissions |",
            "| --- | ---: | ---: |",
        ]
        lines += [f"| {_md_cell(n)} | {100 * s:.0f} % | {k} |" for n, s, k in pass_shares(graded)]
        lines += ["", f"![pass share per test]({tests_png})", "", "### Slowest submissions", ""]
        lines += ["| student | seconds | score |", "| --- | ---: | ---: |"]
        slow = sorted(rs, key=lambda r: (-seconds.get((a, r["student"]), 0.0), r["student"]))
        for r in slow[:SLOWEST]:
            t = seconds.get((a, r["student"]), 0.0)
            score = f"{r['score']} / {r['max_score']}"
            lines.append(f"| {_md_cell(r['student'])} | {t:.1f} | {score} |")
        lines.append("")
    path = out_dir / "report.md"
    atomic_write(path, "\n".join(lines).encode())
    return path
