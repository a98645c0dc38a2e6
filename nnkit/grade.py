"""Grade one submission with the hidden suites: ``grade(paths, student_id) -> SubmissionResult``.

The trusted process runs pytest on ``grading_tests`` in-process (with
:mod:`nnkit.pytest_plugin`); student code runs only in sandboxed workers.

Which tests apply (API.md, "A submission"):

* notebooks: the API names of their assignment (:data:`ASSIGNMENT_APIS`, keyed by the
  assignment folder name; an unknown folder falls back to the ``.py`` rule);
* ``.py`` modules: every suite (test module) that grades at least one name the module
  defines, all of that suite's tests; a saved model ``best_model_<dataset>.npz`` next to the
  submission selects that threshold test;
* the engine never reads the given paths themselves: :func:`make_plan` stages a copy first
  (:func:`nnkit.staging.stage_paths`: no symbolic link followed, regular files only, size
  caps; what was left out becomes a message of the result);
* a module named ``neural_net.py`` is its own group graded only by the stand-alone suite
  (:data:`STANDALONE_SUITE`), so that its ``TwoLayerNet`` never meets the modular one; in
  every other module ``TwoLayerNet`` is the modular net and the stand-alone suite is skipped.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grading_tests.points import SUITE_APIS, THRESHOLDS
from nnkit.datasets import DataSetting
from nnkit.loader import Submission, load_submission
from nnkit.results import SubmissionResult
from nnkit.staging import stage_paths

GRADING_TESTS = Path(__file__).resolve().parent.parent / "grading_tests"
#: pytest plugins a grading run does without (state, order, or time in every test).
_UNUSED_PLUGINS = tuple(
    arg
    for name in (
        "cacheprovider",
        "randomly",
        "unraisableexception",
        "logging",
        "warnings",
        "doctest",
        "pastebin",
        "stepwise",
        "legacypath",
    )
    for arg in ("-p", f"no:{name}")
)
STANDALONE_SUITE = "test_neural_net"
THRESHOLD_SUITE = "test_thresholds"
MODEL_FILE = "best_model_{}.npz"
#: Files staged next to a submitted file besides the file itself.
SIBLING_PATTERNS = ("best_model_*.npz", "__init__.py")

_NORMS = SUITE_APIS["test_batchnorm"]
_SPATIAL = tuple(n for n in _NORMS if n.startswith("spatial_"))

#: assignment folder name -> API names of code graded for its notebooks.
_CODE_APIS: dict[str, tuple[str, ...]] = {
    "two_layer_net": ("TwoLayerNet",),
    "fully_connected": (
        *SUITE_APIS["test_layers"],
        *SUITE_APIS["test_losses"],
        "TwoLayerNet",
        "FullyConnectedNet",
        *SUITE_APIS["test_optim"],
        *(n for n in _NORMS if n not in _SPATIAL),
        *SUITE_APIS["test_dropout"],
    ),
    "convnets": (*SUITE_APIS["test_conv"], "ThreeLayerConvNet", *_SPATIAL),
}


def assignment_apis(assignment: str, setting: DataSetting | None = None) -> tuple[str, ...]:
    """The API names graded for an assignment's notebooks on the course's data sets: its code,
    then ``best_model_<dataset>`` of every selected data set whose threshold (rule table,
    ``THRESHOLDS[...].bounds``) names the assignment."""
    setting = setting or DataSetting()
    models = tuple(
        f"best_model_{name}" for name in setting.names if assignment in THRESHOLDS[name].bounds
    )
    return _CODE_APIS[assignment] + models


#: assignment folder name -> API names graded for its notebooks on the bundled data sets
#: (the default setting; :func:`assignment_apis` for any other).
ASSIGNMENT_APIS: dict[str, tuple[str, ...]] = {a: assignment_apis(a) for a in _CODE_APIS}
#: assignments whose notebooks define the stand-alone TwoLayerNet
STANDALONE_ASSIGNMENTS = frozenset({"two_layer_net"})


@dataclass
class Plan:
    """What to grade: submission groups and which collected tests apply."""

    groups: dict[str, Submission] = field(default_factory=dict)  # "main", "neural_net"
    assignment: str | None = None
    data: DataSetting = field(default_factory=DataSetting)  # the course's data sets
    paths: list[Path] = field(default_factory=list)  # the staged copies
    messages: list[str] = field(default_factory=list)  # what staging left out
    staging: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def close(self) -> None:
        """Remove the staged copy (after the workers that copied from it are closed)."""
        if self.staging is not None:
            self.staging.cleanup()
            self.staging = None

    def group_for(self, module: str) -> str:
        """Which group's worker a suite module talks to."""
        if module == STANDALONE_SUITE and "neural_net" in self.groups:
            return "neural_net"
        return "main"

    def model_files(self) -> set[str]:
        """Names of saved-model files next to the submission."""
        dirs = {p if p.is_dir() else p.parent for p in self.paths}
        return {f.name for d in dirs if d.is_dir() for f in d.glob("best_model_*.npz")}

    def pays_bonus(self, api: str) -> bool:
        """Whether the bonus test of the saved model ``api`` applies to this submission (its
        assignment is one the threshold's bonus names)."""
        t = THRESHOLDS.get(api.removeprefix("best_model_"))
        return bool(t and t.bonus and self.assignment in t.bonus.assignments)

    def selector(self, module_apis: dict[str, set[str]]) -> Callable[[str, str], bool]:
        """``keep(module, api)`` for the collected tests (module stem -> its API names)."""
        models = self.model_files()
        if self.assignment is not None:
            allowed = set(assignment_apis(self.assignment, self.data))
            standalone = self.assignment in STANDALONE_ASSIGNMENTS

            def keep_nb(module: str, api: str) -> bool:
                if api not in allowed:
                    return False
                if api == "TwoLayerNet":
                    return (module == STANDALONE_SUITE) == standalone
                return True

            return keep_nb
        main = self.groups.get("main")
        main_names = main.names if main is not None and main.paths else set()
        has_nn = "neural_net" in self.groups
        suites = {
            m
            for m, apis in module_apis.items()
            if m not in (STANDALONE_SUITE, THRESHOLD_SUITE) and apis & main_names
        }

        def keep_py(module: str, api: str) -> bool:
            if module == STANDALONE_SUITE:
                return has_nn
            if module == THRESHOLD_SUITE:
                return MODEL_FILE.format(api.removeprefix("best_model_")) in models
            return module in suites

        return keep_py


def detect_assignment(sub: Submission) -> str | None:
    """The assignment of a notebook submission: the nearest folder named like one."""
    for p in sub.paths:
        for parent in p.resolve().parents:
            if parent.name in ASSIGNMENT_APIS:
                return parent.name
    return None


def make_plan(paths: str | Path | Sequence[str | Path], data: DataSetting | None = None) -> Plan:
    """Stage the submission(s) at ``paths``, load them into groups and decide what applies
    (on the course's data sets ``data``, default: the bundled ones).

    The plan owns the staged copy: call :meth:`Plan.close` when grading is over.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    plist = [Path(p) for p in paths]
    tmp = tempfile.TemporaryDirectory(prefix="nnkit-stage-")
    try:
        staged = stage_paths(plist, tmp.name, SIBLING_PATTERNS)
    except BaseException:
        tmp.cleanup()
        raise
    probe = load_submission(staged.paths)
    plan = Plan(paths=staged.paths, messages=staged.messages, staging=tmp)
    plan.data = data or DataSetting()
    if probe.kind == "notebook":
        plan.groups["main"] = probe
        # staging keeps the submission's folder name; farther ancestors are the given paths'
        given = [p / "_" if p.is_dir() else p for p in plist]
        plan.assignment = detect_assignment(probe) or detect_assignment(Submission(given))
        return plan
    nn = [p for p in probe.paths if p.stem == "neural_net"]
    rest = [p for p in probe.paths if p.stem != "neural_net"]
    plan.groups["main"] = load_submission(rest) if rest else Submission(paths=[])
    if nn:
        plan.groups["neural_net"] = load_submission(nn)
    return plan


class _Collector:
    """Receives the plugin's result at the end of the in-process pytest run."""

    def __init__(self) -> None:
        self.result: SubmissionResult | None = None

    def pytest_unconfigure(self, config: Any) -> None:
        from nnkit.pytest_plugin import RESULT_KEY

        self.result = config.stash.get(RESULT_KEY, None)


def grade(
    submission_paths: str | Path | Sequence[str | Path],
    student_id: str = "anonymous",
    timeout: float = 5.0,
    tests_dir: str | Path | None = None,
    extra_args: Sequence[str] = (),
    no_loops: Sequence[str] = (),
    quiet: bool = True,
    data: DataSetting | None = None,
) -> SubmissionResult:
    """Grade one submission; never raises for anything the submission does.

    ``data``: the course's data sets (:mod:`nnkit.datasets`; default: the bundled ones):
    which saved models a notebook submission is graded on, and where the held-out data is.
    """
    import pytest

    if isinstance(submission_paths, str | Path):
        submission_paths = [submission_paths]
    tests = Path(tests_dir) if tests_dir else GRADING_TESTS
    args = [
        str(tests),
        *_UNUSED_PLUGINS,
        "--capture=no",  # output is redirected below; per-test capture only costs time
        "--tb=no",
        "-q",
        "--no-header",
        "--assert=plain",
        "--student",
        student_id,
        "--nnkit-timeout",
        str(timeout),
    ]
    for p in submission_paths:
        args += ["--submission", os.path.abspath(p)]  # not resolve(): links stay links
    for n in no_loops:
        args += ["--nnkit-no-loops", n]
    if data is not None:
        args += ["--nnkit-dataset", data.value, "--nnkit-data-dir", data.data_dir]
    args += list(extra_args)
    collector = _Collector()
    start = time.monotonic()
    sink = io.StringIO()
    cwd = os.getcwd()
    try:
        with contextlib.ExitStack() as stack:
            if quiet:
                stack.enter_context(contextlib.redirect_stdout(sink))
                stack.enter_context(contextlib.redirect_stderr(sink))
            code = pytest.main(args, plugins=[collector])
    finally:
        os.chdir(cwd)
    result = collector.result
    if result is not None and int(code) not in (0, 1, 5) and not result.messages:
        result.messages.append(f"grading did not complete (pytest exit code {int(code)})")
    if result is None:
        result = SubmissionResult(student=student_id)
        result.messages.append(f"grading did not complete (pytest exit code {int(code)})")
        tail = sink.getvalue().strip().splitlines()[-5:]
        result.messages += tail
    result.execution_time = time.monotonic() - start
    return result
