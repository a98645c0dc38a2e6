"""Hidden tests: softmax, SVM and mean-squared-error losses."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    NUMERIC_H,
    TOLERANCES,
    as_scalar,
    call,
    check_close,
    check_scalar,
    check_unchanged,
    describe,
    fail,
    graded,
    unpack,
)
from reference import layers as ref

F64, F32 = np.float64, np.float32


def _run(student: Any, case: str, name: str, x: np.ndarray, y: np.ndarray) -> tuple[Any, Any]:
    """The student's ``(loss, dx)``."""
    return unpack(call(student, case, name, x, y).value, 2, name, case)


def _classification(
    rng: np.random.Generator, n: int, c: int, scale: float, dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    x = (scale * rng.standard_normal((n, c))).astype(dtype)
    y = rng.integers(0, c, size=n)
    return x, y


def _compare(
    student: Any,
    name: str,
    reference: Callable[[np.ndarray, np.ndarray], tuple[float, np.ndarray]],
    x: np.ndarray,
    y: np.ndarray,
    case: str,
) -> None:
    loss, dx = _run(student, case, name, x, y)
    eloss, edx = reference(x, y)
    f32 = x.dtype == np.float32
    check_scalar(loss, eloss, "f32" if f32 else "loss", f"{name} loss", case)
    check_close(dx, edx, "f32" if f32 else "f64", f"{name} dx", case, dtype=x.dtype)


def _numeric(
    student: Any, name: str, x: np.ndarray, y: np.ndarray, rng: np.random.Generator, case: str
) -> None:
    """dx against a central difference of the student's own loss along a random direction."""
    _, dx = _run(student, case, name, x, y)
    if not isinstance(dx, np.ndarray) or dx.shape != x.shape:
        fail(f"{name} dx [{case}]: expected an array of shape {x.shape}")
    v = rng.standard_normal(x.shape)
    plus = as_scalar(_run(student, case, name, x + NUMERIC_H * v, y)[0], f"{name} loss", case)
    minus = as_scalar(_run(student, case, name, x - NUMERIC_H * v, y)[0], f"{name} loss", case)
    numeric = (plus - minus) / (2 * NUMERIC_H)
    analytic = float(np.sum(dx * v))
    err = abs(numeric - analytic) / max(abs(numeric) + abs(analytic), 1e-8)
    tol = TOLERANCES["numeric"].rtol
    if not err <= tol:
        fail(
            f"{name} dx [{case}]: disagrees with a numeric gradient of your loss: "
            f"rel error {err:.2e} > {tol:.0e}"
        )


SOFTMAX_CASES = [
    ("loss and dx", (6, 5, 1.0, F64)),
    ("huge scores stay finite", (5, 4, 1e4, F64)),
    ("float32", (7, 3, 2.0, F32)),
]


@pytest.mark.parametrize("spec", graded("softmax_loss", SOFTMAX_CASES))
def test_softmax_loss(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Mean cross-entropy and its gradient; finite for scores of 1e4."""
    n, c, scale, dtype = spec
    x, y = _classification(rng, n, c, scale, dtype)
    _compare(student, "softmax_loss", ref.softmax_loss, x, y, describe(x=x, scale=scale))


@pytest.mark.grade("softmax_loss: numeric gradient of your loss")
def test_softmax_loss_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx is the gradient of the student's own loss."""
    x, y = _classification(rng, 5, 4, 1.0, F64)
    _numeric(student, "softmax_loss", x, y, rng, describe(x=x))


@pytest.mark.grade("softmax_loss: inputs not modified")
def test_softmax_loss_inputs(student: Any, rng: np.random.Generator) -> None:
    """x and y are unchanged after the call."""
    x, y = _classification(rng, 4, 3, 1.0, F64)
    case = describe(x=x)
    reply = call(student, case, "softmax_loss", x, y, echo_args=True)
    check_unchanged(reply.args, (x, y), "softmax_loss", case)


SVM_CASES = [
    ("loss and dx", (6, 5, 1.0, F64)),
    ("large margins", (5, 4, 10.0, F64)),
    ("float32", (7, 3, 1.0, F32)),
]


@pytest.mark.parametrize("spec", graded("svm_loss", SVM_CASES))
def test_svm_loss(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Mean multiclass hinge loss (margin 1) and its gradient."""
    n, c, scale, dtype = spec
    x, y = _classification(rng, n, c, scale, dtype)
    _compare(student, "svm_loss", ref.svm_loss, x, y, describe(x=x, scale=scale))


@pytest.mark.grade("svm_loss: numeric gradient of your loss")
def test_svm_loss_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx is the gradient of the student's own loss (no margin within 1e-3 of a kink)."""
    x, y = _classification(rng, 6, 4, 1.0, F64)
    margins = x - x[np.arange(6), y][:, None] + 1
    x[np.abs(margins) < 1e-3] += 0.01
    _numeric(student, "svm_loss", x, y, rng, describe(x=x))


MSE_CASES = [
    ("predictions of shape (N,)", ((8,), F64)),
    ("predictions of shape (N, 1)", ((6, 1), F64)),
    ("float32", ((5, 1), F32)),
]


@pytest.mark.parametrize("spec", graded("mse_loss", MSE_CASES))
def test_mse_loss(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """mean((x - y)**2) and 2 (x - y) / N, dx of x's shape."""
    shape, dtype = spec
    x = rng.standard_normal(shape).astype(dtype)
    y = rng.standard_normal(shape).astype(dtype)
    _compare(student, "mse_loss", ref.mse_loss, x, y, describe(x=x))


@pytest.mark.grade("mse_loss: numeric gradient of your loss")
def test_mse_loss_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx is the gradient of the student's own loss."""
    x = rng.standard_normal((7, 1))
    y = rng.standard_normal((7, 1))
    _numeric(student, "mse_loss", x, y, rng, describe(x=x))
