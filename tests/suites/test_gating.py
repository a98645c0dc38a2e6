"""Gated credit: property checks pay only in proportion to the value checks of their name.

One test per kind of graded name (a layer's forward, a backward, a loss, an update rule, a
model, the stand-alone net): a sabotaged function whose properties still hold (inputs
untouched, gradients consistent with its own wrong forward pass) gets 0 for its name.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from nnkit.results import SubmissionResult, TestResult, gate

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _corpus  # noqa: E402

pytestmark = pytest.mark.suites

REFERENCE = _corpus.ROOT / "reference"


def _t(name: str, score: float, kind: str = "value", max_score: float = 1.0) -> TestResult:
    return TestResult(name, score, max_score, "", kind)


def test_gate_pays_properties_in_proportion() -> None:
    tests = [
        _t("f: v1", 1),
        _t("f: v2", 0),
        _t("f: v3", 1),
        _t("f: v4", 1),
        _t("f: p1", 1, "property"),
        _t("f: p2", 0, "property"),
        _t("g: v", 2, max_score=2),
        _t("g: p", 2, "property", 2),
    ]
    gate(tests)
    scores = {t.name: t.score for t in tests}
    assert scores == {
        "f: v1": 1,
        "f: v2": 0,
        "f: v3": 1,
        "f: v4": 1,
        "f: p1": 0.75,
        "f: p2": 0,
        "g: v": 2,
        "g: p": 2,
    }
    assert "paid 75%" in tests[4].output and tests[7].output == ""


def test_gate_zero_values_zero_properties_and_json_round_trip() -> None:
    tests = [_t("f: v", 0), _t("f: p", 1, "property"), _t("h: p only", 1, "property")]
    gate(tests)
    assert [t.score for t in tests] == [0, 0, 1]  # a name without value tests is untouched
    res = SubmissionResult(tests=tests)
    back = SubmissionResult.from_dict(res.to_dict())
    assert [t.kind for t in back.tests] == ["value", "property", "property"]
    assert "kind" not in res.to_gradescope()["tests"][0]


# ---------------------------------------------------------------------------------------
# Sabotaged functions: their properties hold, their values do not -> 0 for the name
# ---------------------------------------------------------------------------------------

SABOTAGE: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # api: (file, code appended to the reference file, the properties that would pay: every
    # kind of property check -- inputs unchanged, numeric gradient, training reduces the
    # loss -- is gated by at least one row)
    "relu_forward": (
        "layers.py",
        "_relu_forward = relu_forward\n"
        "def relu_forward(x):\n"
        "    out, cache = _relu_forward(x)\n"
        "    return out + 1.0, cache\n",
        ("inputs not modified",),
    ),
    "affine_backward": (
        "layers.py",
        "_af, _ab = affine_forward, affine_backward\n"
        "def affine_forward(x, w, b):\n"
        "    out, cache = _af(x, w, b)\n"
        "    return 2 * out, cache\n"
        "def affine_backward(dout, cache):\n"
        "    return tuple(2 * g for g in _ab(dout, cache))\n",
        ("dout and cache not modified",),
    ),
    "softmax_loss": (
        "layers.py",
        "def softmax_loss(x, y):\n    return 0.0, np.zeros_like(x)\n",
        ("inputs not modified", "numeric gradient"),
    ),
    "adam": (
        "optim.py",
        "def adam(w, dw, config=None):\n"
        "    return w - 1e-3 * dw, {} if config is None else config\n",
        ("inputs not modified",),
    ),
    "FullyConnectedNet": (
        "classifiers.py",
        "_FC = FullyConnectedNet\n"
        "class FullyConnectedNet(_FC):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.params = {k: 2 * v for k, v in self.params.items()}\n"
        "    def loss(self, X, y=None):\n"
        "        out = super().loss(X, y)\n"
        "        if y is None:\n"
        "            return 2 * out\n"
        "        return 2 * out[0], {k: 2 * v for k, v in out[1].items()}\n",
        ("inputs not modified", "numeric gradient"),
    ),
    "neural_net.TwoLayerNet": (
        "neural_net.py",
        "_Net = TwoLayerNet\n"
        "class TwoLayerNet(_Net):\n"
        "    def __init__(self, *args, **kwargs):\n"
        "        super().__init__(*args, **kwargs)\n"
        "        self.params = {k: 2 * v for k, v in self.params.items()}\n"
        "    def loss(self, X, y=None, reg=0.0):\n"
        "        out = super().loss(X, y, reg)\n"
        "        if y is None:\n"
        "            return 2 * out\n"
        "        return 2 * out[0], {k: 2 * v for k, v in out[1].items()}\n",
        ("inputs not modified", "numeric gradient", "train reduces the loss"),
    ),
}


@pytest.mark.parametrize("key", list(SABOTAGE))
def test_a_sabotaged_function_gets_zero_for_its_name(key: str, tmp_path: Path) -> None:
    file, code, props = SABOTAGE[key]
    api = key.removeprefix("neural_net.")
    pkg = tmp_path / "reference"
    shutil.copytree(REFERENCE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    target = pkg / file
    target.write_text(target.read_text(encoding="utf-8") + "\n\n" + code, encoding="utf-8")
    standalone = file == "neural_net.py"
    res = _corpus.grade_on(pkg, "sabotage", _corpus.suite_files(api, standalone=standalone))
    mine = [t for t in res.tests if t.api_name == api]
    if not standalone and api == "TwoLayerNet":
        mine = []
    assert mine, key
    assert sum(t.score for t in mine) == 0, [(t.name, t.score) for t in mine if t.score]
    gated = [t for t in mine if t.kind == "property" and "paid 0%" in t.output]
    for prop in props:
        assert any(prop in t.name for t in gated), (prop, [(t.name, t.output) for t in mine])
    assert all(t.kind == "value" or t.score == 0 for t in mine)


def test_a_correct_function_keeps_its_property_credit(reference_result: Any = None) -> None:
    """No gate note on a correct submission."""
    res = _corpus.grade_on(REFERENCE, "gate-check", [_corpus.GRADING_TESTS / "test_layers.py"])
    props = [t for t in res.tests if t.kind == "property"]
    assert props and all(t.passed and "paid" not in t.output for t in props)
