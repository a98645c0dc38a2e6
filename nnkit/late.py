"""Late penalties: nbgrader's submission timestamps against the course's late policy.

The policy lives in the course's ``nbgrader_config.py`` (section ``NnkitLate``)::

    c.NnkitLate.per_day = 10          # percent of the points earned, per started day late
    c.NnkitLate.grace_minutes = 15    # no penalty up to this long after the due date
    c.NnkitLate.cap = 50              # never more than this percent
    c.NnkitLate.due = {"two_layer_net": "2025-10-10 23:59:00 Europe/Berlin"}

A due date not given in ``due`` is the gradebook's (``nbgrader db assignment add <a>
--duedate=...``), and a student's nbgrader extension moves it. The submission time is the
``timestamp.txt`` nbgrader writes into ``submitted/<student>/<assignment>/``, parsed like
nbgrader does (:func:`nbgrader.utils.parse_utc`).

A submission later than the grace period loses ``per_day`` percent of the points it earned
for every started day after the due date, at most ``cap`` percent. The penalty is part of
the one result record: ``score`` is what remains, ``late`` holds the raw score and how the
penalty was computed, and a message says it in words; the CSV, the gradebook (nbgrader's
``late_submission_penalty``, which ``nbgrader export`` subtracts), the Gradescope JSON and
the feedback show it. :func:`apply` is idempotent, so a changed policy or a new extension is
applied to stored records again without grading them again.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

#: Section of ``nbgrader_config.py`` that holds the policy.
SECTION = "NnkitLate"
#: nbgrader's submission time file, at the top of a submission folder.
TIMESTAMP_FILE = "timestamp.txt"
#: Every message about lateness starts so.
PREFIX = "late submission: "
_DAY = 86400.0


@dataclass(frozen=True)
class LatePolicy:
    """The course's policy (see the module documentation)."""

    per_day: float = 0.0
    grace_minutes: float = 0.0
    cap: float = 100.0
    due: dict[str, str] = field(default_factory=dict)

    def rule(
        self,
        assignment: str,
        gradebook_due: datetime | None = None,
        extension: timedelta | None = None,
    ) -> LateRule | None:
        """The rule for one submission, or None when the assignment has no due date."""
        text = self.due.get(assignment)
        due = parse_time(text) if text else gradebook_due
        if due is None or self.per_day <= 0:
            return None
        if extension:
            due = due + extension
        return LateRule(
            due=due.strftime("%Y-%m-%d %H:%M:%S UTC"),
            per_day=float(self.per_day),
            grace_minutes=float(self.grace_minutes),
            cap=float(self.cap),
        )


@dataclass(frozen=True)
class LateRule:
    """What grading one submission needs to know (plain data: it travels with a task)."""

    due: str  # "YYYY-MM-DD HH:MM:SS UTC" (the extension included)
    per_day: float
    grace_minutes: float
    cap: float


def parse_time(text: str | None) -> datetime | None:
    """A timestamp as nbgrader reads it (naive UTC), or None if it cannot be read."""
    from nbgrader.utils import parse_utc

    if not text or not text.strip():
        return None
    try:
        return parse_utc(text.strip()[:64])
    except (ValueError, TypeError, OverflowError):
        return None


def load_policy(course_root: Path | None) -> LatePolicy | None:
    """The ``NnkitLate`` section of ``<course_root>/nbgrader_config.py`` (None if absent)."""
    if course_root is None or not (Path(course_root) / "nbgrader_config.py").is_file():
        return None
    from traitlets.config.loader import PyFileConfigLoader

    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_root)).load_config()
    if SECTION not in cfg:
        return None
    sec = cfg[SECTION]
    due = sec.get("due", {})
    if not isinstance(due, dict):
        raise ValueError(f"nbgrader_config.py: c.{SECTION}.due must be a dict of due dates")
    for a, text in due.items():
        if parse_time(str(text)) is None:
            raise ValueError(f"nbgrader_config.py: c.{SECTION}.due[{a!r}] = {text!r} is not a date")
    return LatePolicy(
        per_day=float(sec.get("per_day", 0.0)),
        grace_minutes=float(sec.get("grace_minutes", 0.0)),
        cap=float(sec.get("cap", 100.0)),
        due={str(k): str(v) for k, v in due.items()},
    )


def gradebook_dates(
    db_url: str, assignments: set[str]
) -> tuple[dict[str, datetime], dict[tuple[str, str], timedelta]]:
    """Due dates of these assignments and students' extensions, from nbgrader's gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    dues: dict[str, datetime] = {}
    extensions: dict[tuple[str, str], timedelta] = {}
    with Gradebook(db_url) as gb:
        for a in sorted(assignments):
            try:
                assignment = gb.find_assignment(a)
            except MissingEntry:
                continue
            if assignment.duedate is not None:
                dues[a] = assignment.duedate
            for sub in assignment.submissions:
                if sub.extension:
                    extensions[(a, sub.student_id)] = sub.extension
    return dues, extensions


def _span(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days} day{'s' * (days != 1)}"] if days else []
    if hours:
        parts.append(f"{hours} h")
    if minutes or not parts:
        parts.append(f"{minutes} min")
    return " ".join(parts)


def _pct(x: float) -> str:
    return f"{x:g}%"


def entry(timestamp: str | None, rule: LateRule, raw_score: float) -> dict[str, Any] | None:
    """The ``late`` entry of a record submitted at ``timestamp`` (None when on time)."""
    submitted = parse_time(timestamp)
    due = parse_time(rule.due)
    if submitted is None or due is None:
        return None
    seconds = (submitted - due).total_seconds()
    if seconds <= 0:
        return None
    in_grace = seconds <= rule.grace_minutes * 60
    days = 0 if in_grace else math.ceil(seconds / _DAY)
    percent = min(rule.cap, days * rule.per_day)
    penalty = round(max(0.0, raw_score) * percent / 100.0, 6)
    late = f"submitted {_span(seconds)} after the due date ({rule.due})"
    if in_grace:
        text = f"{late}, within the {rule.grace_minutes:g}-minute grace period: no penalty"
    else:
        text = (
            f"{late}: {days} started day{'s' * (days != 1)} late x {_pct(rule.per_day)}"
            f"{f' (at most {_pct(rule.cap)})' if days * rule.per_day > rule.cap else ''}"
            f" = -{_pct(percent)} of {raw_score:g} points = -{penalty:g}"
        )
    return {
        "submitted": submitted.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "seconds_late": round(seconds, 3),
        "days_late": days,
        "percent": percent,
        "penalty": penalty,
        "raw_score": raw_score,
        "rule": asdict(rule),
        "text": text,
    }


def apply(record: dict[str, Any], timestamp: str | None, rule: LateRule | None) -> dict[str, Any]:
    """``record`` with its late penalty (re)computed; a copy, the input is not changed.

    Only graded records are charged. A previous ``late`` entry is undone first, so applying
    a new rule (or none) to a stored record gives what grading it afresh would give.
    """
    rec = dict(record)
    old = rec.pop("late", None)
    if old is not None:
        rec["score"] = old["raw_score"]
    msgs = [m for m in rec.get("messages", []) if not m.startswith(PREFIX)]
    if rule is not None and rec.get("status") == "graded":
        if parse_time(timestamp) is None:
            msgs.append(f"{PREFIX}no readable {TIMESTAMP_FILE}; no late penalty was computed")
        else:
            late = entry(timestamp, rule, float(rec["score"]))
            if late is not None:
                rec["late"] = late
                rec["score"] = round(max(0.0, late["raw_score"] - late["penalty"]), 6)
                msgs.append(PREFIX + late["text"])
    rec["messages"] = msgs
    return rec


def penalty(record: dict[str, Any]) -> float:
    """Points a record lost for lateness (0 if none)."""
    late = record.get("late")
    return float(late["penalty"]) if late else 0.0


def timestamp_of(files: Any) -> str | None:
    """The text of ``timestamp.txt`` among a submission's (path, bytes) files, if any."""
    for rel, data in files:
        if rel == TIMESTAMP_FILE:
            return data[:256].decode("utf-8", errors="replace")
    return None
