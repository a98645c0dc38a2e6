"""pytest plugin of the hidden suites (registered by ``grading_tests/conftest.py``).

Options: ``--submission PATH`` (repeatable; a folder works too), ``--student ID``,
``--nnkit-timeout S`` (per worker call), ``--nnkit-results FILE`` (write Gradescope JSON),
``--nnkit-no-loops API`` (mark an exercise as vectorising, repeatable).

Every test of a suite (a folder holding ``points.py``) must carry
``@pytest.mark.grade("<api_name>: <case>")`` with ``api_name`` a key of ``POINTS``;
otherwise collection stops with a usage error. ``kind="property"`` in the marker
(default ``"value"``) gates the test's credit: it pays only in proportion to the value
tests of its API name (:func:`nnkit.results.gate`). Fixtures:

* ``student`` -- the :class:`~nnkit.sandbox.Worker` holding the submission (one per
  session, reused across tests; it replaces its own process after a fatal failure); numpy's
  global generator in the worker is seeded per (student, test) before every test;
* ``rng`` -- ``np.random.Generator`` seeded by a stable hash of (student id, test name);
* ``submission`` -- the loaded :class:`~nnkit.loader.Submission`; ``student_id``.

A test whose API name the submission does not define fails with "<name> is not defined in
the submission". Results (short messages only, never pytest's long representation, so no
hidden array is printed) become a :class:`~nnkit.results.SubmissionResult` stored in
``config.stash[RESULT_KEY]``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from nnkit import policy
from nnkit.datasets import DataSetting
from nnkit.results import KINDS, SubmissionResult, TestResult, gate
from nnkit.sandbox import StudentError, Worker

RESULT_KEY = pytest.StashKey[SubmissionResult]()
_STATE = pytest.StashKey["_State"]()
_NAME = pytest.StashKey[str]()
_POINTS = pytest.StashKey[float]()
_KIND = pytest.StashKey[str]()
MAX_OUTPUT = 1000
#: ``record_property(PASS_OUTPUT, text)`` in a hidden test: the output of that test when it
#: passes (the saved-model tests state the metric they measured; the leaderboard reads it)
PASS_OUTPUT = "nnkit_output"
#: ``record_property(BONUS_POINTS, x)`` in a passing test of kind ``bonus``: its score (the
#: test is worth 0 points, so x is extra).
BONUS_POINTS = "nnkit_bonus"


def stable_seed(student_id: str, test_name: str) -> int:
    """A 64-bit seed from (student id, test name): same per student, different across."""
    digest = hashlib.sha256(f"{student_id}\x00{test_name}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def _load_points(suite_dir: Path) -> dict[str, float]:
    init = suite_dir / "__init__.py"
    if init.exists() and suite_dir.name.isidentifier():
        with _prepend(suite_dir.parent):
            mod = importlib.import_module(f"{suite_dir.name}.points")
    else:
        name = f"_nnkit_points_{abs(hash(str(suite_dir)))}"
        spec = importlib.util.spec_from_file_location(name, suite_dir / "points.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    return {str(k): float(v) for k, v in mod.POINTS.items()}


class _prepend:
    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __enter__(self) -> None:
        sys.path.insert(0, self.path)

    def __exit__(self, *exc: object) -> None:
        if self.path in sys.path:
            sys.path.remove(self.path)


class _State:
    """Per-session grading state."""

    def __init__(self, config: pytest.Config) -> None:
        from nnkit.grade import make_plan

        self.config = config
        self.student_id: str = config.getoption("student")
        self.timeout: float = config.getoption("nnkit_timeout")
        paths = config.getoption("submission") or []
        data = DataSetting.parse(
            config.getoption("nnkit_dataset"), config.getoption("nnkit_data_dir") or ""
        )
        self.plan = make_plan(paths, data) if paths else None
        self.workers: dict[str, Worker] = {}
        self.results: dict[str, TestResult] = {}
        self.order: list[str] = []
        self.skipped: list[str] = []
        self.apis: set[str] = set()
        self.errors: list[str] = []

    def worker(self, group: str) -> Worker:
        if self.plan is None:
            raise pytest.UsageError("the hidden suites need --submission PATH")
        w = self.workers.get(group)
        if w is None:
            sub = self.plan.groups.get(group) or self.plan.groups["main"]
            w = Worker(sub, timeout=self.timeout)
            self.workers[group] = w
        return w

    def record(self, item: pytest.Item, rep: pytest.TestReport, exc: BaseException | None) -> None:
        name = item.stash.get(_NAME, None)
        if name is None:
            return
        pts = item.stash[_POINTS]
        if name not in self.results:
            self.results[name] = TestResult(name, pts, pts, "", item.stash.get(_KIND, "value"))
            self.order.append(name)
        res = self.results[name]
        if rep.skipped and rep.when in ("setup", "call"):
            self.skipped.append(f"{name}: skipped ({_skip_reason(rep)})")
            res.score, res.output = float("nan"), "skipped"
        elif rep.failed and res.score == res.max_score:
            res.score = 0.0
            res.output = _message(exc, name) if exc is not None else "failed"
        elif rep.passed and rep.when == "call" and res.score == res.max_score:
            props = dict(item.user_properties)
            note = props.get(PASS_OUTPUT)
            if note:
                res.output = str(note)[:MAX_OUTPUT]
            if res.kind == "bonus":
                res.score = max(0.0, float(props.get(BONUS_POINTS, 0.0)))

    def finish(self) -> SubmissionResult:
        result = SubmissionResult(student=self.student_id)
        result.tests = gate([t for n in self.order if (t := self.results[n]).score == t.score])
        if self.plan is not None:
            result.messages += self.plan.messages
            no_loops = self.config.getoption("nnkit_no_loops") or []
            for group, sub in self.plan.groups.items():
                w = self.workers.get(group)
                problems = w.load_problems if w is not None else sub.problems
                result.messages += sub.notes
                result.messages += [f"not loaded: {p}" for p in problems]
                if w is not None and w.restarts:
                    result.messages.append(
                        f"the sandbox worker was replaced {w.restarts} time(s) after failures"
                    )
                violations = policy.check(sub, self.apis, no_loops=no_loops)
                result.tests += policy.penalties(violations, result.tests)
        result.messages += self.skipped
        result.messages += [f"grading did not complete: {e}" for e in self.errors]
        return result

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
        self.workers.clear()
        if self.plan is not None:
            self.plan.close()


def _skip_reason(rep: pytest.TestReport) -> str:
    lr = rep.longrepr
    if isinstance(lr, tuple) and len(lr) == 3:
        return str(lr[2]).removeprefix("Skipped: ")
    return "skipped"


def _message(exc: BaseException, name: str) -> str:
    """A short, array-free message for a failed test."""
    api = name.split(":", 1)[0].strip()
    if isinstance(exc, StudentError):
        msg = f"{api}: {exc.message}" if exc.kind != "exception" else f"{api} raised {exc}"
    elif isinstance(exc, pytest.fail.Exception):
        msg = str(exc.msg)
    elif isinstance(exc, AssertionError):
        text = str(exc).split("\nassert ", 1)[0].strip()
        msg = text if text and not text.startswith("assert ") else "assertion failed"
    elif isinstance(exc, pytest.UsageError):
        msg = str(exc)
    else:
        first = (str(exc).strip().splitlines() or [""])[0]
        msg = f"error while grading: {type(exc).__name__}: {first}"
    return msg if len(msg) <= MAX_OUTPUT else msg[: MAX_OUTPUT - 4] + " ..."


def _unbuilt_repr(excinfo: Any, style: Any = None) -> str:
    """A graded test's failure report: pytest_runtest_makereport replaces it with the short
    message, so pytest's long representation (a walk over the traceback) is never built."""
    return "failed"


# ---------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("nnkit", "nnkit hidden grading")
    group.addoption(
        "--submission",
        action="append",
        default=[],
        metavar="PATH",
        help="submission notebook/.py/folder (repeatable)",
    )
    group.addoption("--student", default="anonymous", metavar="ID", help="student id")
    group.addoption(
        "--nnkit-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="wall-clock timeout of one call into the submission",
    )
    group.addoption(
        "--nnkit-results",
        default=None,
        metavar="FILE",
        help="write the Gradescope results.json here",
    )
    group.addoption(
        "--nnkit-dataset",
        default=None,
        metavar="NAME",
        help="the course's data sets (nnkit.datasets; default: the bundled digits + diabetes)",
    )
    group.addoption(
        "--nnkit-data-dir",
        default="",
        metavar="DIR",
        help="where the downloaded data sets are (default: $NNKIT_DATA or ~/.nnkit/data)",
    )
    group.addoption(
        "--nnkit-no-loops",
        action="append",
        default=[],
        metavar="API",
        help="exercise that must be vectorised (policy)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "grade(name, kind='value'): '<api_name>: <case>' of a hidden test; kind 'property' "
        "pays in proportion to the name's value tests",
    )
    config.stash[_STATE] = _State(config)


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    state = config.stash[_STATE]
    points_cache: dict[Path, dict[str, float]] = {}
    errors: list[str] = []
    module_apis: dict[str, set[str]] = {}
    graded: list[pytest.Item] = []
    for item in items:
        suite_dir = Path(str(item.path)).parent
        if not (suite_dir / "points.py").exists():
            continue
        if suite_dir not in points_cache:
            points_cache[suite_dir] = _load_points(suite_dir)
        points = points_cache[suite_dir]
        marker = item.get_closest_marker("grade")
        if marker is None or not marker.args or not isinstance(marker.args[0], str):
            errors.append(f"{item.nodeid}: no @pytest.mark.grade('<api_name>: <case>')")
            continue
        name = marker.args[0].strip()
        api = name.split(":", 1)[0].strip()
        if ":" not in name or api not in points:
            errors.append(f"{item.nodeid}: API name {api!r} of {name!r} is not in POINTS")
            continue
        kind = marker.kwargs.get("kind", "value")
        if kind not in KINDS:
            errors.append(f"{item.nodeid}: kind {kind!r} of {name!r} is not one of {KINDS}")
            continue
        item.stash[_KIND] = kind
        item.stash[_NAME] = name
        item.stash[_POINTS] = 0.0 if kind == "bonus" else points[api]
        item.repr_failure = _unbuilt_repr  # type: ignore[method-assign]
        module_apis.setdefault(Path(str(item.path)).stem, set()).add(api)
        graded.append(item)
    if errors:
        text = "invalid hidden tests:\n  " + "\n  ".join(errors)
        state.errors.append(text)
        raise pytest.UsageError(text)
    if state.plan is None:
        _number_duplicates(graded)
        return
    keep = state.plan.selector(module_apis)
    kept, dropped = [], []
    for item in items:
        name = item.stash.get(_NAME, None)
        if name is None:
            kept.append(item)
            continue
        api = name.split(":", 1)[0].strip()
        if item.stash.get(_KIND, "value") == "bonus" and not state.plan.pays_bonus(api):
            dropped.append(item)
        elif keep(Path(str(item.path)).stem, api):
            kept.append(item)
            state.apis.add(api)
        else:
            dropped.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    _number_duplicates([i for i in kept if i.stash.get(_NAME, None) is not None])


def _number_duplicates(items: list[pytest.Item]) -> None:
    """Among the tests that run, a name used again gets " (2)", " (3)", ..."""
    seen: dict[str, int] = {}
    for item in items:
        name = item.stash[_NAME]
        k = seen.get(name, 0) + 1
        seen[name] = k
        if k > 1:
            item.stash[_NAME] = f"{name} ({k})"


@pytest.fixture
def student(request: pytest.FixtureRequest) -> Worker:
    """The sandboxed worker holding the submission (seeded for this test)."""
    state: _State = request.config.stash[_STATE]
    if state.plan is None:
        raise pytest.UsageError("the hidden suites need --submission PATH")
    module = Path(str(request.node.path)).stem
    w = state.worker(state.plan.group_for(module))
    w.recycle_if_needed()
    name = request.node.stash.get(_NAME, request.node.nodeid)
    w.seed(stable_seed(state.student_id, name) % (2**32))
    return w


@pytest.fixture
def rng(request: pytest.FixtureRequest) -> np.random.Generator:
    """A generator seeded per (student id, test name)."""
    state: _State = request.config.stash[_STATE]
    name = request.node.stash.get(_NAME, request.node.nodeid)
    return np.random.default_rng(stable_seed(state.student_id, name))


@pytest.fixture
def student_id(request: pytest.FixtureRequest) -> str:
    return request.config.stash[_STATE].student_id


@pytest.fixture
def grading_plan(request: pytest.FixtureRequest) -> Any:
    """The plan (trusted side): the assignment (None: graded by names) and the course's data
    sets (``plan.data``, a :class:`nnkit.datasets.DataSetting`)."""
    state: _State = request.config.stash[_STATE]
    if state.plan is None:
        raise pytest.UsageError("the hidden suites need --submission PATH")
    return state.plan


@pytest.fixture
def submission(request: pytest.FixtureRequest) -> Any:
    """The loaded Submission (trusted side: paths, names; never executed here)."""
    state: _State = request.config.stash[_STATE]
    if state.plan is None:
        raise pytest.UsageError("the hidden suites need --submission PATH")
    module = Path(str(request.node.path)).stem
    return state.plan.groups.get(state.plan.group_for(module)) or state.plan.groups["main"]


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """Fail (not error) a test whose API name the submission does not define."""
    name = pyfuncitem.stash.get(_NAME, None)
    if name is None or "student" not in pyfuncitem.fixturenames:
        return None
    api = name.split(":", 1)[0].strip()
    w: Worker = pyfuncitem.funcargs["student"]  # type: ignore[assignment]
    try:
        defined = w.has(api)
    except StudentError as e:
        pytest.fail(f"{api}: the submission could not be loaded ({e})", pytrace=False)
    if not defined:
        why = next((p for p in w.load_problems if api in p.names), None)
        if why is not None:
            pytest.fail(f"{api} could not be loaded ({why})", pytrace=False)
        pytest.fail(f"{api} is not defined in the submission", pytrace=False)
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    rep = yield
    state: _State = item.config.stash[_STATE]
    exc = call.excinfo.value if call.excinfo is not None else None
    state.record(item, rep, exc)
    if rep.failed and item.stash.get(_NAME, None) is not None:
        # keep hidden values out of every report: a short message replaces the long repr
        rep.longrepr = state.results[item.stash[_NAME]].output
    return rep


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state: _State = session.config.stash[_STATE]
    if state.plan is None and not state.results:
        return
    try:
        result = state.finish()
    finally:
        state.close()
    session.config.stash[RESULT_KEY] = result
    out = session.config.getoption("nnkit_results")
    if out:
        Path(out).write_text(result.to_json(gradescope=True), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    result = config.stash.get(RESULT_KEY, None)
    if result is None:
        return
    terminalreporter.section("nnkit")
    for t in result.tests:
        if not t.passed:
            terminalreporter.write_line(f"{t.name}: {t.score:g}/{t.max_score:g}  {t.output}")
    for m in result.messages:
        terminalreporter.write_line(f"note: {m}")
    terminalreporter.write_line(f"score {result.score:g}/{result.max_score:g}")
