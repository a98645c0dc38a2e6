"""Class report: which topics and tests students fail, how scores spread, which submissions
were slowest.

Written next to ``grades.csv``: ``report.md`` plus, per assignment, ``report_<a>_scores.png``
(histogram of total scores), ``report_<a>_topics.png`` (pass share per topic) and
``report_<a>_tests.png`` (the most-failed tests only, so that it stays legible with hundreds
of tests). Tests are grouped per topic (the hidden suite that grades them); every test is
listed in the Markdown, per topic.
"""

from __future__ import annotations

import io
import statistics
import textwrap
from collections import defaultdict
from pathlib import Path
from typing import Any

from grading_tests.points import SUITE_APIS
from nnkit.batch.store import atomic_write
from nnkit.results import POLICY_SUFFIX, SubmissionResult

#: How many of the slowest submissions the report lists.
SLOWEST = 10
#: How many of the most-failed tests the report's table and plot show.
MOST_FAILED = 25
#: Readable names of the hidden suites (the topics); others: the module name without test_.
TOPIC_NAMES = {
    "test_layers": "layers",
    "test_losses": "losses",
    "test_optim": "update rules",
    "test_batchnorm": "normalization",
    "test_dropout": "dropout",
    "test_conv": "convolution and pooling",
    "test_models": "models",
    "test_neural_net": "two-layer net",
    "test_thresholds": "saved models (held-out data)",
}
_TOPIC_OF = {
    api: TOPIC_NAMES.get(suite, suite.removeprefix("test_"))
    for suite, apis in reversed(list(SUITE_APIS.items()))
    for api in apis
}


def topic(test_name: str) -> str:
    """The topic of a test: its hidden suite; numeric answers and policy entries apart."""
    if test_name.endswith(POLICY_SUFFIX):
        return "policy"
    if test_name.endswith(": numeric answers"):
        return "numeric answers"
    api = test_name.split(":", 1)[0].strip()
    return _TOPIC_OF.get(api, api)


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


def topic_shares(rows: list[tuple[str, float, int]]) -> list[tuple[str, float, int, str]]:
    """Per topic: (topic, mean pass share of its tests, number of tests, its most-failed test);
    the weakest topic first."""
    by_topic: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
    for row in rows:
        by_topic[topic(row[0])].append(row)
    out = []
    for name, tests in by_topic.items():
        worst = min(tests, key=lambda r: (r[1], r[0]))
        out.append((name, statistics.fmean(r[1] for r in tests), len(tests), worst[0]))
    return sorted(out, key=lambda x: (x[1], x[0]))


def percents(records: list[dict[str, Any]]) -> list[float]:
    """Total score of each submission in percent of its maximum."""
    return [100.0 * r["score"] / r["max_score"] if r["max_score"] else 0.0 for r in records]


def _wrap(label: str, width: int = 56) -> str:
    lines = textwrap.wrap(label, width)
    return "\n".join(lines[:2]) + (" ..." if len(lines) > 2 else "") if lines else label


def _barh(rows: list[tuple[str, float, str]], title: str, path: Path) -> None:
    """One bar per (label, pass share, group); bars coloured by group, with a legend."""
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(r[2] for r in rows))
    cmap = plt.get_cmap("tab10")
    color = {g: cmap(i % 10) for i, g in enumerate(groups)}
    fig, ax = plt.subplots(figsize=(13, 1.4 + 0.42 * max(1, len(rows))))
    for i, (_, share, group) in enumerate(rows):
        ax.barh(i, 100 * share, color=color[group], label=group)
        ax.text(min(100 * share + 1, 92), i, f"{100 * share:.0f} %", va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [_wrap(r[0]) for r in rows])
    ax.set_xlim(0, 100)
    ax.set_xlabel("students passing (%)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title(title, loc="left")
    if len(groups) > 1:
        handles, labels = ax.get_legend_handles_labels()
        seen = dict(zip(labels, handles, strict=True))
        ax.legend(
            seen.values(),
            seen.keys(),
            fontsize=8,
            title="topic",
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
        )
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _plots(name: str, records: list[dict[str, Any]], out_dir: Path) -> tuple[str, str, str]:
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

    rows = pass_shares(records)
    topics_png = f"report_{name}_topics.png"
    topics = topic_shares(rows)
    _barh(
        [(f"{t} ({n} tests)", share, "topic") for t, share, n, _ in topics],
        f"{name}: mean pass share per topic",
        out_dir / topics_png,
    )
    tests_png = f"report_{name}_tests.png"
    shown = rows[:MOST_FAILED]
    _barh(
        [(n, share, topic(n)) for n, share, _ in shown],
        f"{name}: the {len(shown)} most-failed of {len(rows)} tests",
        out_dir / tests_png,
    )
    return score_png, topics_png, tests_png


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
        scores_png, topics_png, tests_png = _plots(a, graded, out_dir)
        rows = pass_shares(graded)
        lines += [
            f"## {a}",
            "",
            f"{len(graded)} graded submissions ({len(rs) - len(graded)} failed to grade); "
            f"mean {statistics.fmean(pc):.1f} %, median {statistics.median(pc):.1f} %.",
            "",
            f"![total scores]({scores_png})",
            "",
            "### Topics (weakest first)",
            "",
            "| topic | tests | mean passing | most-failed test |",
            "| --- | ---: | ---: | --- |",
        ]
        shares = {n: s for n, s, _ in rows}
        for t, share, n, worst in topic_shares(rows):
            lines.append(
                f"| {_md_cell(t)} | {n} | {100 * share:.0f} % | "
                f"{_md_cell(worst)} ({100 * shares[worst]:.0f} %) |"
            )
        lines += [
            "",
            f"![pass share per topic]({topics_png})",
            "",
            f"### The {min(MOST_FAILED, len(rows))} most-failed tests",
            "",
            "| test | topic | passing | submissions |",
            "| --- | --- | ---: | ---: |",
        ]
        lines += [
            f"| {_md_cell(n)} | {_md_cell(topic(n))} | {100 * s:.0f} % | {k} |"
            for n, s, k in rows[:MOST_FAILED]
        ]
        lines += ["", f"![most-failed tests]({tests_png})", "", "### Every test, per topic", ""]
        per_topic: dict[str, list[tuple[str, float, int]]] = defaultdict(list)
        for row in rows:
            per_topic[topic(row[0])].append(row)
        for t, *_ in topic_shares(rows):
            lines += [
                "<details>",
                f"<summary>{_md_cell(t)} ({len(per_topic[t])} tests)</summary>",
                "",
                "| test | passing | submissions |",
                "| --- | ---: | ---: |",
            ]
            lines += [f"| {_md_cell(n)} | {100 * s:.0f} % | {k} |" for n, s, k in per_topic[t]]
            lines += ["", "</details>", ""]
        lines += ["### Slowest submissions", ""]
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
