"""One result model for a graded submission, with its renderers and the credit gate.

Renderers: Gradescope's ``results.json`` (:meth:`SubmissionResult.to_gradescope`, the fields of
the autograder specification: ``score``, ``execution_time``, ``output``, ``output_format``,
``tests[]`` with ``status`` and ``visibility``, ``leaderboard``), a plain JSON dump
(:meth:`SubmissionResult.to_json`) and a text table (:meth:`SubmissionResult.to_table`).

Gated credit (:func:`gate`): a test of kind ``property`` (inputs unchanged, a numeric
gradient of the submission's own function, train and test modes agreeing...) pays only in
proportion to the value tests of the same API name: its score is multiplied by
``earned / possible`` over that name's ``value`` tests. A function whose values are all
wrong earns nothing for its properties.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

#: Gradescope's visibility settings (``hidden`` is never shown to students).
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
#: What the hidden tests' details default to: shown once the instructor publishes grades.
HIDDEN_TESTS_VISIBILITY = "after_published"
#: The entry a policy violation adds (``"<api>: policy"``): always a failure, even at 0/0.
POLICY_SUFFIX = ": policy"
#: How a saved-model test states the metric it measured (the leaderboard's values).
_METRIC = re.compile(r"held-out (accuracy|RMSE) (-?[0-9][0-9.]*(?:e[-+]?[0-9]+)?)")


def json_points(x: float) -> float | int:
    """Points as ints when whole (stable, readable JSON)."""
    r = round(float(x), 6)
    return int(r) if r == int(r) else r


@dataclass
class TestResult:
    """One graded test: ``name`` is ``"<api_name>: <case>"``."""

    __test__ = False  # not a pytest test class

    name: str
    score: float
    max_score: float
    output: str = ""
    kind: str = "value"  # "value", "property" (gated by the name's value tests) or "bonus"

    @property
    def api_name(self) -> str:
        return self.name.split(":", 1)[0].strip()

    @property
    def is_policy(self) -> bool:
        """A policy violation's entry (present only when there is a violation)."""
        return self.name.endswith(POLICY_SUFFIX)

    @property
    def passed(self) -> bool:
        """Full points, nothing taken away; a policy entry never passes (even at 0/0), and a
        bonus passes only when it earned something."""
        if self.kind == "bonus":
            return self.score > 0
        return self.score >= self.max_score and self.score >= 0 and not self.is_policy

    @property
    def status(self) -> str:
        """Gradescope's test status."""
        return "passed" if self.passed else "failed"

    def metric(self) -> tuple[str, float] | None:
        """(metric, value) that a saved-model test measured, if it says so."""
        m = _METRIC.search(self.output) if self.api_name.startswith("best_model_") else None
        if m is None:
            return None
        try:
            return m.group(1), float(m.group(2))
        except ValueError:
            return None


@dataclass
class SubmissionResult:
    """All results of one submission."""

    tests: list[TestResult] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    execution_time: float = 0.0
    student: str = ""

    @property
    def score(self) -> float:
        """Sum of the test scores (penalties included), never below zero."""
        return max(0.0, sum(t.score for t in self.tests))

    @property
    def max_score(self) -> float:
        return sum(t.max_score for t in self.tests)

    def by_api(self) -> dict[str, tuple[float, float]]:
        """api name -> (score, max_score)."""
        out: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            s, m = out.get(t.api_name, (0.0, 0.0))
            out[t.api_name] = (s + t.score, m + t.max_score)
        return out

    # ------------------------------------------------------------ renderers

    def leaderboard(self) -> list[dict[str, Any]]:
        """Gradescope leaderboard entries: the held-out metric of every saved model."""
        out = []
        for t in self.tests:
            got = t.metric()
            if got is None:
                continue
            metric, value = got
            dataset = t.api_name.removeprefix("best_model_")
            order = "desc" if metric == "accuracy" else "asc"
            out.append({"name": f"{dataset} {metric}", "value": round(value, 4), "order": order})
        return out

    def to_gradescope(
        self,
        score: float | None = None,
        visibility: str = HIDDEN_TESTS_VISIBILITY,
        output: str | None = None,
    ) -> dict[str, Any]:
        """Gradescope's ``results.json``.

        ``score``: the total (default: the tests' sum; a course assignment passes its grade
        cells' total, which is what the gradebook holds). ``visibility``: when students see the
        hidden tests' details (``after_published`` or ``after_due_date``); a policy entry is
        about the student's own code and is ``visible``. ``output``: the text above the tests
        (default: the result's messages). There is no top-level ``max_score`` in the
        specification: the assignment's points are set on Gradescope.
        """
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        total = self.score if score is None else float(score)
        out: dict[str, Any] = {
            "score": json_points(total),
            "execution_time": int(math.ceil(max(0.0, self.execution_time))),
            "output": "\n".join(self.messages) if output is None else output,
            "output_format": "text",
            "test_output_format": "text",
            "stdout_visibility": "hidden",
            "tests": [
                {
                    "name": t.name,
                    "score": json_points(t.score),
                    "max_score": json_points(t.max_score),
                    "status": t.status,
                    "output": t.output,
                    "output_format": "text",
                    "visibility": "visible" if t.is_policy else visibility,
                }
                for t in self.tests
            ],
        }
        board = self.leaderboard()
        if board:
            out["leaderboard"] = board
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain data."""
        return {
            "student": self.student,
            "score": json_points(self.score),
            "max_score": json_points(self.max_score),
            "execution_time": round(self.execution_time, 3),
            "messages": list(self.messages),
            "tests": [asdict(t) for t in self.tests],
        }

    def to_json(self, gradescope: bool = False) -> str:
        data = self.to_gradescope() if gradescope else self.to_dict()
        return json.dumps(data, indent=2)

    def to_table(self, width: int = 100) -> str:
        """A text table: one line per test (long outputs wrapped), then totals and messages."""
        name_w = min(max([len(t.name) for t in self.tests] + [4]), max(20, width * 2 // 5))
        out_w = max(20, width - name_w - 15)
        rule = "-" * min(width, name_w + 15 + out_w)
        lines = [f"{'test':<{name_w}}  {'score':>11}  output", rule]
        for t in self.tests:
            names = textwrap.wrap(t.name, name_w) or [""]
            outs = [
                seg
                for ln in (t.output.splitlines() or [""])
                for seg in (textwrap.wrap(ln, out_w, subsequent_indent="  ") or [""])
            ]
            pts = f"{json_points(t.score)}/{json_points(t.max_score)}"
            for i in range(max(len(names), len(outs))):
                name = names[i] if i < len(names) else ""
                lines.append(
                    f"{name:<{name_w}}  {pts if i == 0 else '':>11}  "
                    f"{outs[i] if i < len(outs) else ''}".rstrip()
                )
        lines.append(rule)
        total = f"{json_points(self.score)}/{json_points(self.max_score)}"
        lines.append(f"{'total':<{name_w}}  {total:>11}  ({self.execution_time:.1f} s)")
        for m in self.messages:
            lines += textwrap.wrap(m, width, initial_indent="note: ", subsequent_indent="      ")
        return "\n".join(lines)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SubmissionResult:
        """Inverse of :meth:`to_dict` (also reads Gradescope JSON)."""
        tests = [
            TestResult(
                str(t["name"]),
                float(t["score"]),
                float(t["max_score"]),
                str(t.get("output", "")),
                str(t.get("kind", "value")),
            )
            for t in data.get("tests", [])
        ]
        msgs = data.get("messages")
        if msgs is None:
            msgs = [m for m in str(data.get("output", "")).splitlines() if m]
        return cls(
            tests, list(msgs), float(data.get("execution_time", 0.0)), str(data.get("student", ""))
        )


#: ``bonus``: extra points (max_score 0, score >= 0) a test adds beyond the assignment's
#: points, e.g. a saved model far above its threshold (grading_tests/rules.py, ``Bonus``).
KINDS = ("value", "property", "bonus")


def gate(tests: list[TestResult]) -> list[TestResult]:
    """Pay every ``property`` test in proportion to the ``value`` tests of its API name.

    The fraction is ``earned / possible`` over the name's value tests (in this list). A
    property test of a name without value tests is left as it is. Tests are changed in place
    (score and, when reduced, a note in the output) and the list is returned.
    """
    earned: dict[str, float] = {}
    possible: dict[str, float] = {}
    for t in tests:
        if t.kind == "value" and t.max_score > 0:
            earned[t.api_name] = earned.get(t.api_name, 0.0) + max(t.score, 0.0)
            possible[t.api_name] = possible.get(t.api_name, 0.0) + t.max_score
    for t in tests:
        api = t.api_name
        if t.kind != "property" or t.score <= 0 or not possible.get(api):
            continue
        fraction = min(earned[api] / possible[api], 1.0)
        if fraction >= 1.0:
            continue
        t.score = t.score * fraction
        note = (
            f"passed, but paid {fraction:.0%}: a property check pays in proportion to the "
            f"value checks of {api} ({json_points(earned[api])} of "
            f"{json_points(possible[api])} points)"
        )
        t.output = f"{note}; {t.output}" if t.output else note
    return tests
