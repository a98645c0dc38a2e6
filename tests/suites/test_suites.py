"""Prove the hidden suites: full marks for correct code, zero for stubs, every mutant caught."""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus  # noqa: E402

pytestmark = pytest.mark.suites

REFERENCE = _corpus.ROOT / "reference"
CORRECT_ALT = _corpus.SUBMISSIONS / "correct_alt"
STUBS = _corpus.SUBMISSIONS / "stubs"
MUTANTS = _corpus.catalog.MUTANTS


@pytest.fixture(scope="module")
def reference_result() -> Any:
    """The reference graded as a .py submission (all suites but the thresholds)."""
    return _corpus.grade_on(REFERENCE, "suite-check")


def _failures(result: Any) -> list[str]:
    return [f"{t.name}: {t.output}" for t in result.tests if not t.passed]


def test_reference_full_marks(reference_result: Any) -> None:
    """Every hidden test passes on the reference, and the suite is large (its speed is
    measured by benchmarks/bench_pipeline.py, not asserted here)."""
    res = reference_result
    assert _failures(res) == []
    assert len(res.tests) >= 150
    assert res.score == res.max_score > 0


def test_every_api_name_is_graded(reference_result: Any) -> None:
    """Each API name of the points table (but the saved models) has at least two tests."""
    from grading_tests.points import POINTS

    counts: dict[str, int] = {}
    for t in reference_result.tests:
        counts[t.api_name] = counts.get(t.api_name, 0) + 1
    for api in POINTS:
        if not api.startswith("best_model_"):
            assert counts.get(api, 0) >= 2, api


def test_correct_alt_full_marks() -> None:
    """A second, independent correct implementation (loops, dict caches) gets full marks."""
    res = _corpus.grade_on(CORRECT_ALT, "alt-check")
    assert _failures(res) == []
    assert len(res.tests) >= 150


@pytest.mark.parametrize("student", ["alice", "bob", "carol"])
def test_correct_alt_full_marks_other_ids(student: str) -> None:
    """No false failures on other students' inputs either."""
    res = _corpus.grade_on(CORRECT_ALT, student)
    assert _failures(res) == []


def test_stubs_score_zero_and_run_completes(reference_result: Any) -> None:
    """NotImplementedError everywhere: 0 on every test, and every test still ran."""
    res = _corpus.grade_on(STUBS, "stub-check")
    assert {t.name for t in res.tests} == {t.name for t in reference_result.tests}
    passed = [t.name for t in res.tests if t.score > 0]
    assert passed == []
    assert res.score == 0
    assert any("NotImplementedError" in t.output for t in res.tests)


def test_corpus_is_large_and_applies() -> None:
    """At least 30 mutants, unique names, every edit applies to the current reference."""
    assert len(MUTANTS) >= 30
    assert len({m.name for m in MUTANTS}) == len(MUTANTS)
    for m in MUTANTS:
        _corpus.catalog.apply(m, (REFERENCE / m.file).read_text(encoding="utf-8"))


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.name for m in MUTANTS])
def test_mutant_is_caught(mutant: Any, tmp_path: Path) -> None:
    """The mutant loses points on a test named after the API name it breaks; the failure
    messages are short and name the case without dumping arrays."""
    res = _corpus.run_mutant(mutant, tmp_path)
    killed = _corpus.killed_by(res, mutant.api)
    assert killed, f"{mutant.name} ({mutant.why}) survived the {mutant.api} tests"
    assert all(name.startswith(f"{mutant.api}: ") for name in killed)
    assert res.score < res.max_score
    for t in res.tests:
        if not t.passed:
            assert t.output and len(t.output) < 600, t.name
            assert not re.search(r"\[\s*-?\d+\.\d+\s+-?\d+\.\d+", t.output), t.output


def _summary(result: Any) -> list[tuple[str, float, str]]:
    return [(t.name, t.score, t.output) for t in result.tests]


def test_same_student_same_results(tmp_path: Path) -> None:
    """Grading a submission twice with one id gives identical results (messages included)."""
    mutant = next(m for m in MUTANTS if m.name == "bn_unbiased_variance")
    first = _corpus.run_mutant(mutant, tmp_path / "a", student="dora")
    second = _corpus.run_mutant(mutant, tmp_path / "b", student="dora")
    assert _summary(first) == _summary(second)


def test_different_students_different_inputs(tmp_path: Path) -> None:
    """Another id draws other inputs: the measured errors of a mutant differ."""
    mutant = next(m for m in MUTANTS if m.name == "bn_unbiased_variance")
    first = _corpus.run_mutant(mutant, tmp_path / "a", student="erin")
    second = _corpus.run_mutant(mutant, tmp_path / "b", student="frank")
    out1 = {t.name: t.output for t in first.tests if not t.passed}
    out2 = {t.name: t.output for t in second.tests if not t.passed}
    assert out1.keys() == out2.keys()
    assert any(out1[k] != out2[k] for k in out1)


# ---------------------------------------------------------------------------------------
# Saved models and thresholds
# ---------------------------------------------------------------------------------------


def _digits_model(good: bool) -> tuple[Any, np.ndarray]:
    """A FullyConnectedNet on digits: trained (held-out ~0.97) or untrained."""
    from nnlib.data import load_dataset
    from nnlib.solver import Solver
    from reference.classifiers import FullyConnectedNet
    from reference.optim import adam

    state = np.random.get_state()
    np.random.seed(0)
    try:
        d = load_dataset("digits")
        mean = d["X_train"].mean(axis=0)
        data = {k: (v - mean if k.startswith("X") else v) for k, v in d.items()}
        model = FullyConnectedNet(
            [64], input_dim=64, num_classes=10, weight_scale=5e-2, reg=1e-3, dtype=np.float64
        )
        if good:
            Solver(
                model,
                data,
                update_rule=adam,
                optim_config={"learning_rate": 1e-3},
                num_epochs=15,
                batch_size=50,
                verbose=False,
            ).train()
    finally:
        np.random.set_state(state)
    return model, mean


def _diabetes_model() -> tuple[Any, float]:
    """A FullyConnectedNet with one output: random ReLU features and a ridge output layer."""
    from nnlib.data import load_dataset
    from reference.classifiers import FullyConnectedNet

    d = load_dataset("diabetes")
    X, y = d["X_train"], d["y_train"]
    r = np.random.default_rng(0)
    W1, b1 = 5 * r.standard_normal((10, 50)), 0.5 * r.standard_normal(50)
    H = np.c_[np.maximum(X @ W1 + b1, 0), np.ones(len(X))]
    coef = np.linalg.solve(H.T @ H + np.eye(51), H.T @ (y - y.mean()))
    state = np.random.get_state()
    net = FullyConnectedNet([50], input_dim=10, num_classes=1, dtype=np.float64)
    np.random.set_state(state)
    net.params.update(W1=W1, b1=b1, W2=coef[:50, None], b2=coef[50:])
    return net, float(y.mean())


def _module_submission(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "layers.py").write_text(
        (REFERENCE / "layers.py").read_text(encoding="utf-8"), encoding="utf-8"
    )
    return folder / "layers.py"


def test_saved_models_meet_thresholds(tmp_path: Path) -> None:
    """Good digits and diabetes models next to a .py submission earn the threshold points."""
    from nnlib.model_io import save_model

    sub = _module_submission(tmp_path / "sub")
    model, mean = _digits_model(good=True)
    save_model(tmp_path / "sub" / "best_model_digits.npz", model, x_mean=mean.tolist())
    net, y_mean = _diabetes_model()
    save_model(tmp_path / "sub" / "best_model_diabetes.npz", net, y_mean=y_mean)
    res = _corpus.grade_on(sub, "th-check", [_corpus.GRADING_TESTS / "test_thresholds.py"])
    names = {t.name.split(":")[0]: t for t in res.tests}
    assert set(names) == {"best_model_digits", "best_model_diabetes"}
    assert _failures(res) == []


def test_bad_saved_models_score_zero(tmp_path: Path) -> None:
    """An untrained model is below the threshold; a malformed file scores 0 with a message."""
    from nnlib.model_io import save_model

    sub = _module_submission(tmp_path / "sub")
    model, mean = _digits_model(good=False)
    save_model(tmp_path / "sub" / "best_model_digits.npz", model, x_mean=mean.tolist())
    (tmp_path / "sub" / "best_model_diabetes.npz").write_bytes(b"not a zip file at all")
    res = _corpus.grade_on(sub, "th-check", [_corpus.GRADING_TESTS / "test_thresholds.py"])
    out = {t.name.split(":")[0]: t for t in res.tests}
    assert out["best_model_digits"].score == 0
    assert "held-out accuracy" in out["best_model_digits"].output
    assert out["best_model_diabetes"].score == 0
    assert "could not be read" in out["best_model_diabetes"].output


def test_missing_model_file_in_a_notebook_assignment(tmp_path: Path) -> None:
    """A notebook of an assignment that asks for a saved model, without the file: 0 points
    for that test with a clear message; the stand-alone net's tests still pass."""
    nbformat = pytest.importorskip("nbformat")
    folder = tmp_path / "two_layer_net"
    folder.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import numpy as np"),
        nbformat.v4.new_code_cell((REFERENCE / "neural_net.py").read_text(encoding="utf-8")),
    ]
    path = folder / "two_layer_net.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    res = _corpus.grade_on(path, "nb-check")
    by_api: dict[str, list] = {}
    for t in res.tests:
        by_api.setdefault(t.api_name, []).append(t)
    assert by_api["best_model_digits"][0].score == 0
    assert "no file best_model_digits.npz" in by_api["best_model_digits"][0].output
    assert all(t.passed for t in by_api["TwoLayerNet"])


def test_missing_and_hanging_names_cost_only_their_tests(tmp_path: Path) -> None:
    """svm_loss missing and softmax_loss hanging: those tests score 0, all others full."""
    source = (REFERENCE / "layers.py").read_text(encoding="utf-8")
    source = source.replace("def svm_loss(", "def svm_loss_unfinished(", 1)
    source = source.replace(
        "    n = x.shape[0]\n    shifted = x - x.max(axis=1, keepdims=True)",
        "    while True:\n        pass\n"
        "    n = x.shape[0]\n    shifted = x - x.max(axis=1, keepdims=True)",
        1,
    )
    sub = tmp_path / "broken"
    sub.mkdir()
    (sub / "layers.py").write_text(source, encoding="utf-8")
    utils = (REFERENCE / "layer_utils.py").read_text(encoding="utf-8")
    (sub / "layer_utils.py").write_text(utils, encoding="utf-8")
    files = [_corpus.GRADING_TESTS / "test_losses.py", _corpus.GRADING_TESTS / "test_layers.py"]
    res = _corpus.grade_on(sub, "broken-check", files, timeout=1.0)
    lost = {t.api_name for t in res.tests if not t.passed}
    assert lost == {"svm_loss", "softmax_loss"}
    svm = [t for t in res.tests if t.api_name == "svm_loss"]
    assert svm and all(t.score == 0 and "not defined" in t.output for t in svm)
    assert any(t.api_name == "mse_loss" and t.passed for t in res.tests)
    assert sum(t.api_name.startswith("affine") for t in res.tests) >= 10


def test_points_and_suite_tables_agree() -> None:
    """Every API name of POINTS belongs to a suite module that exists, and vice versa."""
    from grading_tests.points import POINTS, SUITE_APIS, THRESHOLDS

    in_suites = {api for apis in SUITE_APIS.values() for api in apis}
    assert in_suites == set(POINTS)
    for module in SUITE_APIS:
        assert (_corpus.GRADING_TESTS / f"{module}.py").is_file(), module
    assert {f"best_model_{name}" for name in THRESHOLDS} == set(SUITE_APIS["test_thresholds"])
    assert all(points > 0 for points in POINTS.values())
