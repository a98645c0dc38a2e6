"""The rule table is the one truth: points, suites, collected tests and the checklist agree."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grading_tests import battery, rules
from grading_tests.points import POINTS, SUITE_APIS

pytestmark = pytest.mark.suites

GRADING_TESTS = Path(__file__).resolve().parents[2] / "grading_tests"


class _Collector:
    """A pytest plugin recording (module, function, grade name, kind) of collected items."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str, str, str]] = []

    def pytest_collection_modifyitems(self, items: list[Any]) -> None:
        for item in items:
            mark = item.get_closest_marker("grade")
            name = mark.args[0] if mark is not None and mark.args else ""
            kind = mark.kwargs.get("kind", "value") if mark is not None else ""
            self.items.append((Path(str(item.path)).stem, item.originalname, name, kind))


@pytest.fixture(scope="module")
def collected() -> list[tuple[str, str, str, str]]:
    collector = _Collector()
    code = pytest.main(
        [str(GRADING_TESTS), "--collect-only", "-q", "-p", "no:cacheprovider"],
        plugins=[collector],
    )
    assert code == 0
    return collector.items


def test_points_and_suites_come_from_the_table() -> None:
    """POINTS and SUITE_APIS are exactly the table's rows."""
    assert set(POINTS) == {r.api for r in rules.ALL_RULES}
    assert all(POINTS[r.api] == r.points for r in rules.ALL_RULES)
    assert {a for apis in SUITE_APIS.values() for a in apis} == set(POINTS)
    for r in rules.ALL_RULES:
        assert r.api in SUITE_APIS[r.suite]


def test_every_row_is_complete() -> None:
    """Inputs, outputs, a reference, a maker, a tolerance with its reason, value checks."""
    from grading_tests._support import TOLERANCES

    for r in rules.RULES:
        assert r.inputs and r.outputs and r.ref is not None, r.key
        assert r.make is not None or r.kind == "backward", r.key
        assert r.tol in TOLERANCES and r.tol32 in TOLERANCES and r.tol_reason, r.key
        assert set(r.unmodified) <= set(r.inputs), r.key
        assert set(r.state) <= set(r.inputs) | {"bn_params"}, r.key
        kinds = [c.kind for c in battery.checks(r)]
        assert kinds.count("value") >= 2, r.key
        if r.kind == "backward":
            fwd = rules.BY_KEY[r.pair]
            assert fwd.pair == r.api or fwd.kind == "forward", r.key
            assert set(r.grads_of) <= set(fwd.inputs), r.key
            assert {p.name for p in r.params} <= {p.name for p in fwd.params}, r.key


def test_boundary_values_are_in_the_cases() -> None:
    """Falsy values, minimum sizes, one layer/group, batch of one are all cases."""
    labels = {r.key: {c.label for c in rules.cases(r)} for r in rules.RULES}
    assert "N 1" in labels["affine_forward"] and "M 1" in labels["affine_forward"]
    assert {"pad 0", "stride 3", "kernel 1x1", "out 1x1"} <= labels["conv_forward_naive"]
    assert {"momentum 0.0", "N 1", "D 1"} <= labels["batchnorm_forward"]
    assert {"G 1", "G 3", "per_group 1"} <= labels["spatial_groupnorm_forward"]
    assert {"G 1", "G 3"} <= labels["spatial_groupnorm_backward"]
    assert {"seed 0", "p 1.0", "mode test"} <= labels["dropout_forward"]
    assert {"learning_rate 0.0", "momentum 0.0"} <= labels["sgd_momentum"]
    assert {"beta1 0.0", "epsilon 0.0", "state already in config (a later step)"} <= labels["adam"]
    assert {"hidden_dims [4]", "dropout with seed 0", "N 1"} <= labels["FullyConnectedNet"]
    regression = {"category regression", "regression, targets (N, 1)", "regression, reg 0.3"}
    assert regression <= labels["FullyConnectedNet"]
    assert {"filter_size 1", "N 1"} <= labels["ThreeLayerConvNet"]
    assert "sizes [7, 1, 5]" in labels["neural_net.TwoLayerNet"]


def test_every_case_runs_on_the_reference() -> None:
    """Every case of every row builds, and the reference accepts it (sizes divide exactly,
    groups divide the channels), in every dtype of the row."""
    rng = np.random.default_rng(0)
    for r in rules.RULES:
        for case in rules.cases(r):
            for dt in r.dtypes if case.f32 else ("float64",):
                dtype = np.dtype(dt).type
                if r.kind == "backward":
                    drawn: list[tuple] = []
                    battery._backward_guarded(rng, r, case, dtype, lambda *a, d=drawn: d.append(a))
                    grads = battery._ref_gradients(r, *drawn[0])
                    assert grads and all(g.dtype == dtype for g in grads), (r.key, case.label)
                elif r.kind in ("model", "net"):
                    mc = r.make(rng, dtype, case.values)
                    model = r.ref(*mc.args, **mc.kwargs)
                    model.loss(mc.X.astype(dtype), mc.y, **mc.loss_kwargs)
                else:
                    args = r.make(rng, dtype, case.values)
                    out = r.ref(*copy.deepcopy(args))
                    first = out[0]
                    if isinstance(first, np.ndarray):
                        assert first.dtype == dtype, (r.key, case.label)


def test_collected_tests_match_the_table(collected: list[tuple[str, str, str, str]]) -> None:
    """Every collected test is a battery check of its row or one of the row's extras (with
    the same kind), and every extra is collected."""
    seen_extras: set[tuple[str, str]] = set()
    battery_names = {c.name for r in rules.RULES for c in battery.checks(r)}
    for module, func, name, kind in collected:
        api, _, rest = name.partition(": ")
        assert api in POINTS, name
        if func == "test_battery":
            assert name in battery_names, name
            continue
        row = rules.rule_for(api, standalone=module == "test_neural_net")
        extras = {e.name: e.kind for e in row.extras}
        assert rest in extras, f"{name} is not in the extras of row {row.key}"
        assert extras[rest] == kind, name
        seen_extras.add((row.key, rest))
    for r in rules.ALL_RULES:
        for e in r.extras:
            assert (r.key, e.name) in seen_extras, (r.key, e.name)


def test_checklists_name_every_graded_api() -> None:
    """The checklist of each assignment lists its names and their checks, never code."""
    from nnkit.grade import ASSIGNMENT_APIS

    for assignment, apis in ASSIGNMENT_APIS.items():
        text = rules.checklist(assignment)
        plain = rules.checklist(assignment, fmt="text")
        for api in apis:
            if api.startswith("best_model_"):  # saved models: one entry, the file names
                assert f"`{api}.npz`" in text and f"{api}.npz" in plain
                continue
            assert f"## `{api}`" in text
            assert f"\n{api}\n" in plain
        for banned in ("def ", "import ", "student.call", "np.random.default_rng", "assert "):
            assert banned not in text
        assert "(property)" in text
    fc = rules.checklist("fully_connected")
    assert "momentum 0.0" in fc and "seed 0" in fc and "N 1" in fc
    assert "category regression" in fc and "an unknown category raises ValueError" in fc
    assert "conv_forward_naive" not in fc and "pad 0" in rules.checklist("convnets")


def test_assignments_of_the_rows_match_the_grader() -> None:
    """Each row's assignments are exactly where nnkit.grade grades the name."""
    from nnkit.grade import ASSIGNMENT_APIS, STANDALONE_ASSIGNMENTS

    for assignment, apis in ASSIGNMENT_APIS.items():
        standalone = assignment in STANDALONE_ASSIGNMENTS
        for api in apis:
            row = rules.rule_for(api, standalone=standalone and api == "TwoLayerNet")
            assert assignment in row.assignments, (assignment, row.key)
    # on some data-set setting of the course (nnkit.datasets): saved models of other sets
    from nnkit.datasets import DataSetting
    from nnkit.grade import assignment_apis
    from nnlib.data import CLASSIFICATION, REGRESSION

    settings = [DataSetting(c, r) for c in CLASSIFICATION for r in REGRESSION]
    for r in rules.ALL_RULES:
        for assignment in r.assignments:
            assert any(r.api in assignment_apis(assignment, s) for s in settings), (
                assignment,
                r.key,
            )


def test_guard_model_copies_behave_as_fresh_builds() -> None:
    """The kink guard's reference models (copies of one build per process) give what a model
    built right after np.random.seed(0) gives: loss, gradients (dropout masks, batchnorm
    statistics) and numpy's global state afterwards, for every case, copy after copy."""
    rng = np.random.default_rng(1)
    for r in rules.RULES:
        if r.kind not in ("model", "net"):
            continue
        for case in rules.cases(r):
            mc = r.make(rng, np.float64, case.values)
            runs = []
            for build in ("fresh", "copy", "copy"):
                np.random.seed(0)  # noqa: NPY002
                if build == "fresh":
                    model = r.ref(*mc.args, **mc.kwargs)
                    params = {k: v.copy() for k, v in model.params.items()}
                else:
                    model = battery._seeded_copy(r.ref, mc.args, mc.kwargs)
                model.params = {k: v.copy() for k, v in params.items()}
                loss, grads = model.loss(mc.X.copy(), mc.y, **mc.loss_kwargs)
                scores = model.loss(mc.X.copy())
                state = np.random.get_state()  # noqa: NPY002
                runs.append((loss, grads, scores, state[1].copy(), state[2:]))
            first = runs[0]
            for other in runs[1:]:
                assert other[0] == first[0], (r.key, case.label)
                assert all(np.array_equal(other[1][k], g) for k, g in first[1].items())
                assert np.array_equal(other[2], first[2]), (r.key, case.label)
                assert np.array_equal(other[3], first[3]) and other[4] == first[4]
