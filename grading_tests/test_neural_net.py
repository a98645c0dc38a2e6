"""Hidden tests: the stand-alone TwoLayerNet (``neural_net.py``: loss, train, predict).

The battery (initial parameters, scores/loss/gradients/predict at every boundary value, X
and y unchanged, numeric gradients) comes from the rule table; the notebook's toy problem
and training are checked here."""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import (
    as_array,
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
from reference import neural_net as ref

CLS = "TwoLayerNet"


class Net:
    """The student's stand-alone net in the worker and the reference net, same parameters."""

    def __init__(
        self, student: Any, case: str, sizes: tuple[int, int, int], params: dict[str, np.ndarray]
    ) -> None:
        self.student, self.case = student, case
        with np_seeded(0):
            self.ref = ref.TwoLayerNet(*sizes)
        self.ref.params = {k: v.copy() for k, v in params.items()}
        self.obj = new(student, case, CLS, *sizes)
        set_attr(student, case, self.obj, "params", params)

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """A method of the student's net."""
        return method(
            self.student, self.case, self.obj, f"{CLS}.{name}", name, *args, **kwargs
        ).value


def _params(rng: np.random.Generator, d: int, h: int, c: int) -> dict[str, np.ndarray]:
    return {
        "W1": rng.standard_normal((d, h)) / np.sqrt(d),
        "b1": 0.3 * rng.standard_normal(h),
        "W2": rng.standard_normal((h, c)) / np.sqrt(h),
        "b2": 0.3 * rng.standard_normal(c),
    }


def _check_grads(grads: Any, expected: dict, case: str) -> None:
    if not isinstance(grads, dict):
        fail(f"{CLS}.loss [{case}]: grads is a {type(grads).__name__}, expected a dict")
    for name in sorted(expected):
        if name not in grads:
            fail(f"{CLS}.loss [{case}]: grads has no entry {name!r}")
        check_close(grads[name], expected[name], "model", f"{CLS} grads[{name!r}]", case)


def _toy() -> tuple[tuple[int, int, int], dict, np.ndarray, np.ndarray]:
    """The notebook's toy problem (loss 1.30378789133 with reg 0.1)."""
    with np_seeded(0):
        net = ref.TwoLayerNet(4, 10, 3, std=1e-1)
    with np_seeded(1):
        X = 10 * np.random.randn(5, 4)
    return (4, 10, 3), net.params, X, np.array([0, 1, 2, 2, 1])


@pytest.mark.parametrize("check", battery.params("test_neural_net"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)


@pytest.mark.grade("TwoLayerNet: scores of the toy problem")
def test_toy_scores(student: Any) -> None:
    """loss(X) returns the scores (N, C)."""
    sizes, params, X, _ = _toy()
    net = Net(student, "toy problem, X (5, 4)", sizes, params)
    check_close(net.call("loss", X), net.ref.loss(X), "model", f"{CLS}.loss scores", net.case)


@pytest.mark.grade("TwoLayerNet: loss and gradients of the toy problem (reg 0.1)")
def test_toy_loss(student: Any) -> None:
    """The notebook's check: loss 1.30378789133 and matching gradients."""
    sizes, params, X, y = _toy()
    net = Net(student, "toy problem, reg 0.1", sizes, params)
    loss, grads = unpack(net.call("loss", X, y, reg=0.1), 2, f"{CLS}.loss", net.case)
    eloss, egrads = net.ref.loss(X, y, reg=0.1)
    check_scalar(loss, eloss, "model", f"{CLS}.loss loss", net.case)
    _check_grads(grads, egrads, net.case)


# (case, N, train keyword arguments). N is a multiple of batch_size or smaller than it
# (docs/api.md: an epoch is max(N // batch_size, 1) iterations; graders compare only where
# max(N / batch_size, 1) is the same).
TRAIN_CASES = [
    (
        "plain SGD",
        12,
        {
            "learning_rate": 0.1,
            "learning_rate_decay": 0.9,
            "momentum": 0.0,
            "reg": 0.01,
            "num_iters": 11,
            "batch_size": 4,
        },
    ),
    (
        "momentum 0.9 and learning-rate decay 0.5",
        12,
        {
            "learning_rate": 0.05,
            "learning_rate_decay": 0.5,
            "momentum": 0.9,
            "reg": 0.01,
            "num_iters": 11,
            "batch_size": 4,
        },
    ),
    (
        "one minibatch per epoch",
        8,
        {"learning_rate": 0.1, "learning_rate_decay": 0.7, "num_iters": 6, "batch_size": 8},
    ),
    (
        "a minibatch larger than the training set",
        6,
        {"learning_rate": 0.1, "learning_rate_decay": 0.7, "num_iters": 5, "batch_size": 8},
    ),
    ("the default settings", 400, {}),
]


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            (n, kw), marks=pytest.mark.grade(f"{CLS}: train, {d} (histories and parameters)"), id=d
        )
        for d, n, kw in TRAIN_CASES
    ],
)
def test_train_exact(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Seeded identically, train() matches the reference step for step: minibatches from
    np.random.choice(N, batch_size), loss per iteration, accuracies once an epoch (it = 0
    included, after the update), learning rate decayed once an epoch."""
    n, settings = spec
    params = _params(rng, 5, 6, 3)
    case = f"N {n}, " + (", ".join(f"{k} {v}" for k, v in settings.items()) or "defaults")
    net = Net(student, case, (5, 6, 3), params)
    X, y = rng.standard_normal((n, 5)), rng.integers(0, 3, size=n)
    Xv, yv = rng.standard_normal((7, 5)), rng.integers(0, 3, size=7)
    seed = int(rng.integers(1, 10_000))
    student.seed(seed)
    hist = net.call("train", X, y, Xv, yv, **settings)
    with np_seeded(seed):
        ehist = net.ref.train(X, y, Xv, yv, **settings)
    if not isinstance(hist, dict):
        fail(f"{CLS}.train [{case}]: returned a {type(hist).__name__}, expected a dict")
    for key in ("loss_history", "train_acc_history", "val_acc_history"):
        got = hist.get(key)
        try:
            arr = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            fail(f"{CLS}.train [{case}]: {key} is not a list of numbers")
        check_close(arr, np.asarray(ehist[key], dtype=np.float64), "model", f"train {key}", case)
    got_params = get_attr(student, case, net.obj, "params")
    for name in ("W1", "b1", "W2", "b2"):
        if not isinstance(got_params, dict) or name not in got_params:
            fail(f"{CLS}.train [{case}]: params[{name!r}] missing after training")
        check_close(
            got_params[name], net.ref.params[name], "model", f"params[{name!r}] after train", case
        )


@pytest.mark.grade("TwoLayerNet: train reduces the loss and fits separable data", kind="property")
def test_train_learns(student: Any, rng: np.random.Generator) -> None:
    """200 iterations on well-separated blobs reach >= 0.9 training accuracy."""
    centres = 3.0 * rng.standard_normal((3, 4))
    y = rng.integers(0, 3, size=150)
    X = centres[y] + 0.5 * rng.standard_normal((150, 4))
    case = "3 blobs, N 150, 200 iterations, lr 0.1"
    net = Net(student, case, (4, 10, 3), _params(rng, 4, 10, 3))
    student.seed(int(rng.integers(1, 10_000)))
    hist = net.call(
        "train",
        X,
        y,
        X,
        y,
        learning_rate=0.1,
        num_iters=200,
        batch_size=30,
        reg=1e-4,
        learning_rate_decay=0.95,
    )
    losses = np.asarray(
        hist.get("loss_history", []) if isinstance(hist, dict) else [], dtype=np.float64
    )
    if losses.shape != (200,):
        fail(f"{CLS}.train [{case}]: loss_history must hold one loss per iteration (200)")
    if not np.mean(losses[-20:]) < 0.5 * np.mean(losses[:5]):
        fail(
            f"{CLS}.train [{case}]: the loss did not decrease (first {losses[0]:.3f}, "
            f"last {losses[-1]:.3f})"
        )
    pred = as_array(net.call("predict", X), f"{CLS}.predict", case)
    acc = float(np.mean(pred == y)) if pred.shape == y.shape else 0.0
    if acc < 0.9:
        fail(f"{CLS}.train [{case}]: training accuracy {acc:.2f} < 0.90 after training")
