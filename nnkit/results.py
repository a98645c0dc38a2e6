"""One result model for a graded submission, with its renderers and the credit gate.

Renderers: the Gradescope ``results.json`` schema (:meth:`SubmissionResult.to_gradescope`),
a plain JSON dump (:meth:`SubmissionResult.to_json`) and a text table
(:meth:`SubmissionResult.to_table`).

Gated credit (:func:`gate`): a test of kind ``property`` (inputs unchanged, a numeric
gradient of the submission's own function, train and test modes agreeing...) pays only in
proportion to the value tests of the same API name: its score is multiplied by
``earned / possible`` over that name's ``value`` tests. A function whose values are all
wrong earns nothing for its properties.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


def _num(x: float) -> float | int:
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
    kind: str = "value"  # "value" or "property" (gated by the name's value tests)

    @property
    def api_name(self) -> str:
        return self.name.split(":", 1)[0].strip()

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score and self.score >= 0


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

    def to_gradescope(self) -> dict[str, Any]:
        """The Gradescope results.json schema."""
        out: dict[str, Any] = {
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "execution_time": round(self.execution_time, 3),
            "tests": [
                {
                    "name": t.name,
                    "score": _num(t.score),
                    "max_score": _num(t.max_score),
                    "output": t.output,
                }
                for t in self.tests
            ],
        }
        if self.messages:
            out["output"] = "\n".join(self.messages)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Everything, as plain data."""
        return {
            "student": self.student,
            "score": _num(self.score),
            "max_score": _num(self.max_score),
            "execution_time": round(self.execution_time, 3),
            "messages": list(self.messages),
            "tests": [asdict(t) for t in self.tests],
        }

    def to_json(self, gradescope: bool = False) -> str:
        data = self.to_gradescope() if gradescope else self.to_dict()
        return json.dumps(data, indent=2)

    def to_table(self, width: int = 100) -> str:
        """A text table: one line per test, then totals and messages."""
        name_w = min(max([len(t.name) for t in self.tests] + [4]), width - 30)
        lines = [f"{'test':<{name_w}}  {'score':>11}  output", "-" * (name_w + 22)]
        for t in self.tests:
            name = t.name if len(t.name) <= name_w else t.name[: name_w - 3] + "..."
            out = t.output.splitlines()[0] if t.output else ""
            if len(out) > 60:
                out = out[:57] + "..."
            pts = f"{_num(t.score)}/{_num(t.max_score)}"
            lines.append(f"{name:<{name_w}}  {pts:>11}  {out}")
        lines.append("-" * (name_w + 22))
        lines.append(
            f"{'total':<{name_w}}  {str(_num(self.score)) + '/' + str(_num(self.max_score)):>11}"
            f"  ({self.execution_time:.1f} s)"
        )
        lines += [f"note: {m}" for m in self.messages]
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


KINDS = ("value", "property")


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
            f"value checks of {api} ({_num(earned[api])} of {_num(possible[api])} points)"
        )
        t.output = f"{note}; {t.output}" if t.output else note
    return tests
