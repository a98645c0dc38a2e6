"""Late penalties: nbgrader's timestamp.txt against the course's policy (nbgrader_config.py),
applied in the one result record and shown in the CSV, the gradebook and the feedback."""

from __future__ import annotations

import csv
import json
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from nnkit.batch.runner import BatchConfig, run_batch
from nnkit.course.source_notebooks import ROOT
from nnkit.course.submissions import fill_reference, read_release, write_submission
from nnkit.errors import UsageError
from nnkit.late import PREFIX, LatePolicy, LateRule, apply, entry, load_policy, parse_time

pytestmark = pytest.mark.batch

RULE = LateRule(due="2025-03-01 12:00:00 UTC", per_day=10.0, grace_minutes=15.0, cap=50.0)
#: as nbgrader writes them (its exchange's timestamp_format "%Y-%m-%d %H:%M:%S.%f %Z")
ON_TIME = "2025-03-01 11:59:59.999999 UTC"
IN_GRACE = "2025-03-01 12:14:00.000000 UTC"
ONE_DAY = "2025-03-01 13:00:00.000000 UTC"  # 1 h late: one started day
TWO_DAYS = "2025-03-02 13:00:00.000000 UTC"  # 25 h late: two started days
LONG_AGO = "2025-03-20 12:00:00.000000 UTC"


def _rec(score: float = 20.0, status: str = "graded") -> dict:
    return {"score": score, "max_score": 25.0, "status": status, "messages": ["note"]}


@pytest.mark.parametrize(
    ("stamp", "days", "percent"),
    [(IN_GRACE, 0, 0.0), (ONE_DAY, 1, 10.0), (TWO_DAYS, 2, 20.0), (LONG_AGO, 19, 50.0)],
)
def test_penalty_per_started_day_with_grace_and_cap(stamp: str, days: int, percent: float) -> None:
    late = entry(stamp, RULE, 20.0)
    assert late is not None and late["days_late"] == days and late["percent"] == percent
    assert late["penalty"] == pytest.approx(20.0 * percent / 100)
    rec = apply(_rec(), stamp, RULE)
    assert rec["score"] == pytest.approx(20.0 - late["penalty"])
    assert rec["late"]["raw_score"] == 20.0
    assert [m for m in rec["messages"] if m.startswith(PREFIX)] == [PREFIX + late["text"]]


def test_on_time_errors_and_unreadable_timestamps() -> None:
    assert entry(ON_TIME, RULE, 20.0) is None
    assert apply(_rec(), ON_TIME, RULE) == _rec()
    assert apply(_rec(status="error"), LONG_AGO, RULE) == _rec(status="error")
    rec = apply(_rec(), "yesterday-ish", RULE)
    assert rec["score"] == 20.0 and "no readable timestamp.txt" in rec["messages"][-1]


def test_apply_is_idempotent_and_undoable() -> None:
    once = apply(_rec(), TWO_DAYS, RULE)
    assert apply(once, TWO_DAYS, RULE) == once
    assert apply(once, None, None) == _rec()  # the policy removed: the raw score is back
    cheaper = LateRule(RULE.due, 5.0, RULE.grace_minutes, RULE.cap)
    assert apply(once, TWO_DAYS, cheaper)["score"] == pytest.approx(18.0)


def test_due_dates_time_zones_and_extensions() -> None:
    policy = LatePolicy(10, 15, 50, {"hw": "2025-03-01 13:00:00 Europe/Berlin"})
    rule = policy.rule("hw")
    assert rule is not None and rule.due == "2025-03-01 12:00:00 UTC"  # CET = UTC+1
    assert policy.rule("other") is None  # no due date anywhere: no penalty
    from_book = policy.rule("other", parse_time("2025-03-01 12:00:00 UTC"))
    assert from_book == rule
    extended = policy.rule("hw", extension=timedelta(days=2))
    assert entry(TWO_DAYS, extended, 20.0) is None
    assert LatePolicy(0, 15, 50, policy.due).rule("hw") is None  # per_day 0: off


def test_policy_from_nbgrader_config(tmp_path: Path) -> None:
    shutil.copy(ROOT / "nbgrader_config.py", tmp_path)
    assert load_policy(tmp_path) == LatePolicy(0.0, 15.0, 50.0, {})  # the kit's course: off
    with open(tmp_path / "nbgrader_config.py", "a") as f:
        f.write("c.NnkitLate.due = {'hw': 'next Tuesday-ish'}\n")
    with pytest.raises(UsageError, match="is not a date"):
        load_policy(tmp_path)


A = "two_layer_net"
DUE = "2025-03-01 12:00:00 UTC"


def _course(root: Path, due: str) -> Path:
    shutil.copy(ROOT / "nbgrader_config.py", root)
    with open(root / "nbgrader_config.py", "a") as f:
        f.write(
            f"\nc.NnkitLate.per_day = 10\nc.NnkitLate.grace_minutes = 15\n"
            f"c.NnkitLate.cap = 50\nc.NnkitLate.due = {{{A!r}: {due!r}}}\n"
        )
    for top in ("source", "release"):
        shutil.copytree(ROOT / top / A, root / top / A, symlinks=False)
    ref = fill_reference(read_release(root / "release" / A), root / "source" / A)
    sub = root / "submitted"
    for student, stamp in (("late", TWO_DAYS), ("early", ON_TIME)):
        write_submission(ref, sub / student / A)
        (sub / student / A / "timestamp.txt").write_text(stamp + "\n")
    return sub


def _book(root: Path) -> dict[str, tuple[float, float]]:
    """student -> (sum of the cells' scores, late_submission_penalty) in the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gb:
        return {
            s: (
                gb.find_submission(A, s).score,
                gb.find_submission(A, s).late_submission_penalty,
            )
            for s in ("late", "early")
        }


def test_course_batch_charges_the_late_submission(tmp_path: Path) -> None:
    sub = _course(tmp_path, DUE)
    cfg = BatchConfig(root=sub, workers=2, progress=False, execute=False)
    summary = run_batch(cfg)
    assert summary.graded == 2 and summary.errors == 0
    results = tmp_path / "graded" / "results" / A
    late = json.loads((results / "late.json").read_text())
    early = json.loads((results / "early.json").read_text())
    raw = early["score"]
    assert "late" not in early and raw > 0
    assert late["late"]["raw_score"] == raw and late["late"]["days_late"] == 2
    assert late["late"]["penalty"] == pytest.approx(0.2 * raw)
    assert late["score"] == pytest.approx(0.8 * raw)

    rows = {r["student"]: r for r in csv.DictReader(open(tmp_path / "graded" / "grades.csv"))}
    assert float(rows["late"]["score"]) == pytest.approx(0.8 * raw)
    assert float(rows["late"]["raw_score"]) == raw
    assert float(rows["late"]["late_penalty"]) == pytest.approx(0.2 * raw)
    assert float(rows["early"]["late_penalty"]) == 0
    assert "late submission: submitted 1 day 1 h after the due date" in rows["late"]["messages"]

    book = _book(tmp_path)
    assert book["late"] == pytest.approx((raw, 0.2 * raw))  # nbgrader export: raw - penalty
    assert book["early"][0] == pytest.approx(raw) and not book["early"][1]

    report = (tmp_path / "feedback" / "late" / A / "grading_report.md").read_text()
    assert f"**Late submission: -{0.2 * raw:g} points.**" in report
    assert (
        "Late submission"
        not in (tmp_path / "feedback" / "early" / A / "grading_report.md").read_text()
    )

    # a new due date (or an extension) is applied to the stored records without regrading
    cfg_file = tmp_path / "nbgrader_config.py"
    cfg_file.write_text(cfg_file.read_text().replace(DUE, "2025-03-03 12:00:00 UTC"))
    again = run_batch(cfg)
    assert again.graded == 0 and again.skipped == 2
    late = json.loads((results / "late.json").read_text())
    assert "late" not in late and late["score"] == raw
    assert not any(m.startswith(PREFIX) for m in late["messages"])
    assert _book(tmp_path)["late"][1] in (None, 0.0)
