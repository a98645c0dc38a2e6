"""Hidden tests: the modular models TwoLayerNet, FullyConnectedNet and ThreeLayerConvNet.

Each model is built by the student's class in the worker; its ``params`` are then replaced
by parameters drawn on the trusted side, so that scores, losses and gradients can be
compared with the reference model holding the same parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    NUMERIC_H,
    TOLERANCES,
    as_scalar,
    check_close,
    check_scalar,
    fail,
    get_attr,
    method,
    new,
    np_seeded,
    set_attr,
    unpack,
)
from reference import classifiers as ref

F64 = np.float64


def _ref_kwargs(kwargs: dict) -> dict:
    """The student gets dtype as a string (data); the reference gets the numpy type."""
    out = dict(kwargs)
    if "dtype" in out:
        out["dtype"] = np.dtype(out["dtype"]).type
    return out


def _random_params(
    rng: np.random.Generator, shapes: dict[str, tuple[int, ...]], dtype: Any = F64
) -> dict[str, np.ndarray]:
    """Parameters of the given shapes: weights ~ N(0, 1/fan_in), other vectors non-trivial."""
    params = {}
    for name, shape in shapes.items():
        if name.startswith("W"):
            fan_in = int(np.prod(shape[:-1])) if len(shape) == 2 else int(np.prod(shape[1:]))
            params[name] = rng.standard_normal(shape) * (1.5 / np.sqrt(fan_in))
        elif name.startswith("gamma"):
            params[name] = rng.uniform(0.5, 1.5, size=shape)
        else:
            params[name] = 0.3 * rng.standard_normal(shape)
    return {k: v.astype(dtype) for k, v in params.items()}


class Pair:
    """The student's model (a Ref in the worker) and the reference model, same parameters."""

    def __init__(
        self,
        student: Any,
        cls: str,
        kwargs: dict,
        case: str,
        rng: np.random.Generator,
        params: dict | None = None,
    ) -> None:
        self.student, self.cls, self.case = student, cls, case
        with np_seeded(0):
            self.ref = getattr(ref, cls)(**_ref_kwargs(kwargs))
        self.obj = new(student, case, cls, **kwargs)
        if params is None:
            dtype = self.ref.params["W1"].dtype
            params = _random_params(rng, {k: v.shape for k, v in self.ref.params.items()}, dtype)
        self.set_params(params)

    def set_params(self, params: dict[str, np.ndarray]) -> None:
        """Give both models these parameters."""
        self.ref.params = {k: v.copy() for k, v in params.items()}
        set_attr(self.student, self.case, self.obj, "params", params)

    def scores(self, X: np.ndarray) -> Any:
        """The student's scores."""
        return method(self.student, self.case, self.obj, f"{self.cls}.loss", "loss", X).value

    def loss(self, X: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
        """The student's (loss, grads)."""
        value = method(self.student, self.case, self.obj, f"{self.cls}.loss", "loss", X, y).value
        return unpack(value, 2, f"{self.cls}.loss", self.case)

    def check_scores(self, X: np.ndarray, tol: str = "model", dtype: Any = None) -> None:
        """Student scores vs reference scores."""
        expected = self.ref.loss(X.copy())
        check_close(self.scores(X), expected, tol, f"{self.cls}.loss scores", self.case, dtype)

    def check_loss(
        self, X: np.ndarray, y: np.ndarray, tol: str = "model", dtype: Any = None
    ) -> tuple[Any, dict]:
        """Student loss and grads vs reference."""
        loss, grads = self.loss(X, y)
        eloss, egrads = self.ref.loss(X.copy(), y)
        check_scalar(loss, float(eloss), tol, f"{self.cls}.loss loss", self.case)
        check_grads(grads, egrads, tol, self.cls, self.case, dtype)
        return loss, grads


def check_grads(
    grads: Any, expected: dict, tol: str, cls: str, case: str, dtype: Any = None
) -> None:
    """grads must be a dict keyed like the expected one, each entry close."""
    if not isinstance(grads, dict):
        fail(f"{cls}.loss [{case}]: grads is a {type(grads).__name__}, expected a dict")
    missing = sorted(set(expected) - set(grads))
    if missing:
        fail(f"{cls}.loss [{case}]: grads has no entry for {', '.join(missing)}")
    for name in sorted(expected):
        check_close(grads[name], expected[name], tol, f"{cls} grads[{name!r}]", case, dtype)


def check_init(student: Any, cls: str, kwargs: dict, case: str, seed: int) -> None:
    """Parameters drawn as API.md says: keys, shapes, dtype, zeros/ones, randn order."""
    student.seed(seed)
    obj = new(student, case, cls, **kwargs)
    params = get_attr(student, case, obj, "params")
    with np_seeded(seed):
        expected = getattr(ref, cls)(**_ref_kwargs(kwargs)).params
    if not isinstance(params, dict):
        fail(f"{cls} [{case}]: params is a {type(params).__name__}, expected a dict")
    if set(params) != set(expected):
        extra, missing = sorted(set(params) - set(expected)), sorted(set(expected) - set(params))
        fail(f"{cls} [{case}]: params keys differ (missing {missing}, unexpected {extra})")
    for name in sorted(expected):
        check_close(
            params[name],
            expected[name],
            "f64",
            f"{cls} params[{name!r}]",
            case,
            dtype=expected[name].dtype,
        )


def numeric_check(
    pair: Pair, X: np.ndarray, y: np.ndarray, names: tuple[str, ...], rng: np.random.Generator
) -> None:
    """The student's gradients against central differences of the student's own loss."""
    params = {k: v.copy() for k, v in pair.ref.params.items()}
    _, grads = pair.loss(X, y)
    if not isinstance(grads, dict):
        fail(f"{pair.cls}.loss [{pair.case}]: grads is not a dict")
    for name in names:
        v = rng.standard_normal(params[name].shape)
        vals = []
        for sign in (1.0, -1.0):
            moved = dict(params)
            moved[name] = params[name] + sign * NUMERIC_H * v
            set_attr(pair.student, pair.case, pair.obj, "params", moved)
            vals.append(as_scalar(pair.loss(X, y)[0], f"{pair.cls}.loss", pair.case))
        numeric = (vals[0] - vals[1]) / (2 * NUMERIC_H)
        g = grads.get(name)
        if not isinstance(g, np.ndarray) or g.shape != v.shape:
            fail(f"{pair.cls}.loss [{pair.case}]: grads[{name!r}] missing or of the wrong shape")
        analytic = float(np.sum(g * v))
        err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-8)
        tol = TOLERANCES["numeric"].rtol
        if not err <= tol:
            fail(
                f"{pair.cls}.loss [{pair.case}]: grads[{name!r}] disagrees with a numeric "
                f"gradient of your loss: rel error {err:.2e} > {tol:.0e}"
            )
    set_attr(pair.student, pair.case, pair.obj, "params", params)


def _data(
    rng: np.random.Generator, shape: tuple[int, ...], classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Inputs ~ N(0, 1) and labels."""
    return rng.standard_normal(shape), rng.integers(0, classes, size=shape[0])


# ---------------------------------------------------------------------------------------
# TwoLayerNet (modular)
# ---------------------------------------------------------------------------------------

TLN = {"input_dim": 12, "hidden_dim": 7, "num_classes": 4}


@pytest.mark.grade("TwoLayerNet: initial parameters (shapes, zero biases, weight_scale draw)")
def test_two_layer_init(student: Any, rng: np.random.Generator) -> None:
    """W1 then W2 drawn as weight_scale * randn; biases zero."""
    check_init(
        student,
        "TwoLayerNet",
        dict(TLN, weight_scale=0.05),
        "D 12, H 7, C 4",
        int(rng.integers(1, 10_000)),
    )


@pytest.mark.grade("TwoLayerNet: scores with given parameters")
def test_two_layer_scores(student: Any, rng: np.random.Generator) -> None:
    """loss(X) returns the scores of affine - relu - affine for 4-d X."""
    pair = Pair(student, "TwoLayerNet", dict(TLN), "X (5, 3, 2, 2), D 12, H 7, C 4", rng)
    X, _ = _data(rng, (5, 3, 2, 2), 4)
    pair.check_scores(X)


@pytest.mark.grade("TwoLayerNet: loss and gradients with reg")
def test_two_layer_loss(student: Any, rng: np.random.Generator) -> None:
    """Softmax loss plus 0.5 * reg * sum(W**2), gradients of every parameter."""
    pair = Pair(student, "TwoLayerNet", dict(TLN, reg=0.7), "X (6, 12), reg 0.7", rng)
    X, y = _data(rng, (6, 12), 4)
    pair.check_loss(X, y)


@pytest.mark.grade("TwoLayerNet: reg attribute read at each call")
def test_two_layer_reg_attribute(student: Any, rng: np.random.Generator) -> None:
    """Setting model.reg after construction changes the loss."""
    pair = Pair(student, "TwoLayerNet", dict(TLN, reg=0.0), "X (5, 12), reg set to 1.3 later", rng)
    set_attr(student, pair.case, pair.obj, "reg", 1.3)
    pair.ref.reg = 1.3
    X, y = _data(rng, (5, 12), 4)
    pair.check_loss(X, y)


# ---------------------------------------------------------------------------------------
# FullyConnectedNet
# ---------------------------------------------------------------------------------------

FC = {"hidden_dims": [6, 5], "input_dim": 8, "num_classes": 4, "dtype": "float64"}


@pytest.mark.grade("FullyConnectedNet: initial parameters (batchnorm, float64)")
def test_fc_init(student: Any, rng: np.random.Generator) -> None:
    """W/b per layer (W1 first), gammas ones and betas zeros, cast to dtype."""
    check_init(
        student,
        "FullyConnectedNet",
        dict(FC, normalization="batchnorm", weight_scale=0.1),
        "hidden [6, 5], batchnorm, float64",
        int(rng.integers(1, 10_000)),
    )


@pytest.mark.grade("FullyConnectedNet: initial parameters (3 hidden layers, float32)")
def test_fc_init_f32(student: Any, rng: np.random.Generator) -> None:
    """Parameters of dtype float32 by default."""
    kwargs = {"hidden_dims": [5, 4, 3], "input_dim": 6, "num_classes": 3, "weight_scale": 0.2}
    check_init(
        student,
        "FullyConnectedNet",
        kwargs,
        "hidden [5, 4, 3], default float32",
        int(rng.integers(1, 10_000)),
    )


FC_LOSS_CASES = [
    ("no normalisation, reg 0.4", {"reg": 0.4}),
    ("four hidden layers", {"hidden_dims": [5, 4, 6, 3], "reg": 0.1}),
    ("batchnorm, train mode", {"normalization": "batchnorm", "reg": 0.2}),
    ("layernorm", {"normalization": "layernorm", "reg": 0.2}),
    ("dropout 0.6 with a seed", {"dropout_keep_ratio": 0.6, "seed": 123}),
]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            kw, marks=pytest.mark.grade(f"FullyConnectedNet: loss and gradients, {d}"), id=d
        )
        for d, kw in FC_LOSS_CASES
    ],
)
def test_fc_loss(student: Any, rng: np.random.Generator, extra: dict) -> None:
    """loss(X, y) in train mode, with copied parameters, equals the reference's."""
    kwargs = dict(FC, **extra)
    case = ", ".join(f"{k} {v}" for k, v in extra.items()) + ", X (7, 2, 4), float64"
    pair = Pair(student, "FullyConnectedNet", kwargs, case, rng)
    X, y = _data(rng, (7, 2, 4), 4)
    pair.check_loss(X, y)


FC_SCORE_CASES = [
    ("no normalisation", {}),
    ("dropout is off at test time", {"dropout_keep_ratio": 0.5}),
    ("layernorm", {"normalization": "layernorm"}),
]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(kw, marks=pytest.mark.grade(f"FullyConnectedNet: scores, {d}"), id=d)
        for d, kw in FC_SCORE_CASES
    ],
)
def test_fc_scores(student: Any, rng: np.random.Generator, extra: dict) -> None:
    """loss(X) returns the test-mode scores."""
    case = ", ".join(f"{k} {v}" for k, v in extra.items()) or "plain"
    pair = Pair(student, "FullyConnectedNet", dict(FC, **extra), case + ", X (6, 8)", rng)
    X, _ = _data(rng, (6, 8), 4)
    pair.check_scores(X)


@pytest.mark.grade("FullyConnectedNet: batchnorm test-mode scores use running statistics")
def test_fc_batchnorm_running(student: Any, rng: np.random.Generator) -> None:
    """Two training calls update the running statistics that a scores call then uses."""
    pair = Pair(
        student,
        "FullyConnectedNet",
        dict(FC, normalization="batchnorm"),
        "batchnorm, 2 train calls then test, X (8, 8)",
        rng,
    )
    for _ in range(2):
        X, y = _data(rng, (8, 8), 4)
        X = 2.0 * X + 1.0
        pair.loss(X, y)
        pair.ref.loss(X.copy(), y)
    X, _ = _data(rng, (5, 8), 4)
    pair.check_scores(X)


@pytest.mark.grade("FullyConnectedNet: float32 scores and gradients")
def test_fc_float32(student: Any, rng: np.random.Generator) -> None:
    """With dtype float32, scores and gradients are float32 and close to the reference."""
    pair = Pair(
        student, "FullyConnectedNet", dict(FC, dtype="float32", reg=0.1), "float32, X (6, 8)", rng
    )
    X, y = _data(rng, (6, 8), 4)
    X = X.astype(np.float32)
    pair.check_scores(X, "model32", np.float32)
    pair.check_loss(X, y, "model32", np.float32)


@pytest.mark.grade("FullyConnectedNet: numeric gradient of your loss (batchnorm)")
def test_fc_numeric(student: Any, rng: np.random.Generator) -> None:
    """Gradients of W1, gamma1, beta2, W3, b3 against the student's own loss (b1, b2 feed a
    batchnorm: their gradients are 0 and a numeric check of them is noise)."""
    pair = Pair(
        student,
        "FullyConnectedNet",
        dict(FC, normalization="batchnorm", reg=0.3),
        "batchnorm, reg 0.3, X (6, 8)",
        rng,
    )
    X, y = _data(rng, (6, 8), 4)
    numeric_check(pair, X, y, ("W1", "gamma1", "beta2", "W3", "b3"), rng)


# ---------------------------------------------------------------------------------------
# ThreeLayerConvNet
# ---------------------------------------------------------------------------------------

CNN = {
    "input_dim": (2, 6, 6),
    "num_filters": 3,
    "filter_size": 3,
    "hidden_dim": 5,
    "num_classes": 4,
    "dtype": "float64",
}


@pytest.mark.grade("ThreeLayerConvNet: initial parameters")
def test_cnn_init(student: Any, rng: np.random.Generator) -> None:
    """W1 (F, C, HH, WW), W2, W3 drawn in order; biases zero."""
    check_init(
        student,
        "ThreeLayerConvNet",
        dict(CNN, weight_scale=0.1),
        "input (2, 6, 6), 3 filters 3x3, float64",
        int(rng.integers(1, 10_000)),
    )


@pytest.mark.grade("ThreeLayerConvNet: scores with given parameters")
def test_cnn_scores(student: Any, rng: np.random.Generator) -> None:
    """conv - relu - pool - affine - relu - affine scores."""
    pair = Pair(student, "ThreeLayerConvNet", dict(CNN), "X (3, 2, 6, 6)", rng)
    X, _ = _data(rng, (3, 2, 6, 6), 4)
    pair.check_scores(X)


CNN_LOSS_CASES = [
    ("3x3 filters, reg 0.5", {"reg": 0.5}),
    ("5x5 filters, non-square input", {"input_dim": (1, 4, 6), "filter_size": 5, "reg": 0.1}),
]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(
            kw, marks=pytest.mark.grade(f"ThreeLayerConvNet: loss and gradients, {d}"), id=d
        )
        for d, kw in CNN_LOSS_CASES
    ],
)
def test_cnn_loss(student: Any, rng: np.random.Generator, extra: dict) -> None:
    """loss(X, y) with copied parameters equals the reference's."""
    kwargs = dict(CNN, **extra)
    shape = (3, *kwargs["input_dim"])
    pair = Pair(student, "ThreeLayerConvNet", kwargs, f"X {shape}, " + str(extra), rng)
    X, y = _data(rng, shape, 4)
    pair.check_loss(X, y)


@pytest.mark.grade("ThreeLayerConvNet: float32 scores and gradients")
def test_cnn_float32(student: Any, rng: np.random.Generator) -> None:
    """With dtype float32, scores and gradients are float32."""
    pair = Pair(student, "ThreeLayerConvNet", dict(CNN, dtype="float32"), "float32", rng)
    X, y = _data(rng, (2, 2, 6, 6), 4)
    X = X.astype(np.float32)
    pair.check_scores(X, "model32", np.float32)
    pair.check_loss(X, y, "model32", np.float32)


@pytest.mark.grade("ThreeLayerConvNet: numeric gradient of your loss")
def test_cnn_numeric(student: Any, rng: np.random.Generator) -> None:
    """Gradients of W1, b1, W2 against central differences of the student's own loss."""
    pair = Pair(student, "ThreeLayerConvNet", dict(CNN, reg=0.2), "X (2, 2, 6, 6), reg 0.2", rng)
    X, y = _data(rng, (2, 2, 6, 6), 4)
    numeric_check(pair, X, y, ("W1", "b1", "W2"), rng)
