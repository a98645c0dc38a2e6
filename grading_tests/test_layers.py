"""Hidden tests: affine, ReLU, sigmoid and the affine-relu sandwich."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    backward,
    call,
    check_close,
    check_unchanged,
    describe,
    directional_check,
    fail,
    forward,
    graded,
    unpack,
)
from reference import layer_utils as ref_lu
from reference import layers as ref

F64, F32 = np.float64, np.float32


def _tol(dtype: Any) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def _affine_inputs(
    rng: np.random.Generator, x_shape: tuple[int, ...], m: int, dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = int(np.prod(x_shape[1:]))
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal((d, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    return x, w, b


AFFINE_CASES = [
    ("2-d input", ((4, 6), 5, F64)),
    ("4-d input", ((3, 2, 4, 5), 3, F64)),
    ("3-d input float32", ((2, 3, 4), 7, F32)),
]


@pytest.mark.parametrize("spec", graded("affine_forward", AFFINE_CASES))
def test_affine_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """out equals x.reshape(N, D) @ w + b in the input dtype."""
    shape, m, dtype = spec
    x, w, b = _affine_inputs(rng, shape, m, dtype)
    case = describe(x=x, w=w)
    out, _ = forward(student, case, "affine_forward", x, w, b)
    expected, _ = ref.affine_forward(x, w, b)
    check_close(out, expected, _tol(dtype), "affine_forward out", case, dtype=dtype)


@pytest.mark.grade("affine_forward: inputs not modified")
def test_affine_forward_inputs(student: Any, rng: np.random.Generator) -> None:
    """x, w and b are unchanged after the call."""
    x, w, b = _affine_inputs(rng, (3, 2, 5), 4, F64)
    case = describe(x=x)
    _, _, echoed = forward(student, case, "affine_forward", x, w, b, echo=True)
    check_unchanged(echoed, (x, w, b), "affine_forward", case)


AFFINE_BWD_CASES = [
    ("dx, dw, db for 2-d input", ((5, 6), 4, F64)),
    ("dx for 4-d input", ((3, 2, 4, 5), 3, F64)),
    ("float32 3-d input", ((2, 3, 4), 5, F32)),
]


@pytest.mark.parametrize("spec", graded("affine_backward", AFFINE_BWD_CASES))
def test_affine_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx (in x's shape), dw and db equal the reference's."""
    shape, m, dtype = spec
    x, w, b = _affine_inputs(rng, shape, m, dtype)
    dout = rng.standard_normal((shape[0], m)).astype(dtype)
    case = describe(x=x, w=w)
    _, cache = forward(student, case, "affine_forward", x, w, b)
    dx, dw, db = backward(student, case, "affine_backward", dout, cache, 3)
    _, rcache = ref.affine_forward(x, w, b)
    edx, edw, edb = ref.affine_backward(dout, rcache)
    tol = _tol(dtype)
    check_close(dx, edx, tol, "affine_backward dx", case, dtype=dtype)
    check_close(dw, edw, tol, "affine_backward dw", case, dtype=dtype)
    check_close(db, edb, tol, "affine_backward db", case, dtype=dtype)


@pytest.mark.grade("affine_backward: numeric gradient of your affine_forward")
def test_affine_backward_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx and dw agree with central differences of the student's own forward pass."""
    x, w, b = _affine_inputs(rng, (3, 2, 3), 4, F64)
    dout = rng.standard_normal((3, 4))
    case = describe(x=x, w=w)
    _, cache = forward(student, case, "affine_forward", x, w, b)
    dx, dw, db = backward(student, case, "affine_backward", dout, cache, 3)
    args = [x, w, b]
    for index, grad, label in ((0, dx, "dx"), (1, dw, "dw"), (2, db, "db")):
        directional_check(
            student, case, "affine_forward", args, index, dout, grad, "affine_backward", rng, label
        )


@pytest.mark.grade("affine_backward: dout not modified")
def test_affine_backward_inputs(student: Any, rng: np.random.Generator) -> None:
    """The upstream gradient is unchanged after the call."""
    x, w, b = _affine_inputs(rng, (4, 3), 2, F64)
    dout = rng.standard_normal((4, 2))
    case = describe(x=x)
    _, cache = forward(student, case, "affine_forward", x, w, b)
    reply = call(student, case, "affine_backward", dout, cache, echo_args=True)
    check_unchanged(reply.args[:1], (dout,), "affine_backward", case)


# ---------------------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------------------


def _with_zeros(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """Normal values with about a quarter of the entries set to exactly 0."""
    x = rng.standard_normal(shape)
    x[rng.random(shape) < 0.25] = 0.0
    x.flat[0] = 0.0
    return x.astype(dtype)


RELU_CASES = [
    ("2-d with exact zeros", ((5, 7), F64)),
    ("4-d float32", ((2, 3, 4, 2), F32)),
]


@pytest.mark.parametrize("spec", graded("relu_forward", RELU_CASES))
def test_relu_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """max(0, x) elementwise in x's shape and dtype."""
    shape, dtype = spec
    x = _with_zeros(rng, shape, dtype)
    case = describe(x=x)
    out, _ = forward(student, case, "relu_forward", x)
    expected, _ = ref.relu_forward(x)
    check_close(out, expected, _tol(dtype), "relu_forward out", case, dtype=dtype)


@pytest.mark.grade("relu_forward: input not modified")
def test_relu_forward_inputs(student: Any, rng: np.random.Generator) -> None:
    """x is unchanged after the call (no in-place clipping)."""
    x = _with_zeros(rng, (4, 5), F64)
    case = describe(x=x)
    _, _, echoed = forward(student, case, "relu_forward", x, echo=True)
    check_unchanged(echoed, (x,), "relu_forward", case)


RELU_BWD_CASES = [
    ("gradient 0 at exactly 0", ((6, 5), F64)),
    ("4-d float32", ((2, 3, 2, 4), F32)),
]


@pytest.mark.parametrize("spec", graded("relu_backward", RELU_BWD_CASES))
def test_relu_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dout where x > 0, else 0 (also where x == 0)."""
    shape, dtype = spec
    x = _with_zeros(rng, shape, dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    case = describe(x=x)
    _, cache = forward(student, case, "relu_forward", x)
    (dx,) = backward(student, case, "relu_backward", dout, cache, 1)
    _, rcache = ref.relu_forward(x)
    check_close(dx, ref.relu_backward(dout, rcache), _tol(dtype), "relu_backward dx", case, dtype)


@pytest.mark.grade("relu_backward: dout not modified")
def test_relu_backward_inputs(student: Any, rng: np.random.Generator) -> None:
    """dout is unchanged after the call (no in-place masking)."""
    x = _with_zeros(rng, (4, 6), F64)
    dout = rng.standard_normal((4, 6))
    case = describe(x=x)
    _, cache = forward(student, case, "relu_forward", x)
    reply = call(student, case, "relu_backward", dout, cache, echo_args=True)
    check_unchanged(reply.args[:1], (dout,), "relu_backward", case)


# ---------------------------------------------------------------------------------------
# Sigmoid
# ---------------------------------------------------------------------------------------

SIGMOID_CASES = [
    ("3-d float64", ((3, 4, 5), F64, 3.0)),
    ("large |x| without overflow", ((4, 6), F64, 800.0)),
    ("float32", ((5, 4), F32, 3.0)),
]


@pytest.mark.parametrize("spec", graded("sigmoid_forward", SIGMOID_CASES))
def test_sigmoid_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """1 / (1 + exp(-x)), finite and in x's dtype, also for |x| of several hundred."""
    shape, dtype, scale = spec
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    case = describe(x=x, scale=scale)
    expected, _ = ref.sigmoid_forward(x)
    reply = call(student, case, "sigmoid_forward", x, keep=(1,))
    out, _ = unpack(reply.value, 2, "sigmoid_forward", case)
    check_close(out, expected, _tol(dtype), "sigmoid_forward out", case, dtype=dtype)
    overflow = [w for w in getattr(reply, "warnings", []) if "overflow" in w.lower()]
    if overflow:
        fail(f"sigmoid_forward [{case}]: numpy warned about an overflow (not stable for large |x|)")


SIGMOID_BWD_CASES = [
    ("3-d float64", ((2, 3, 4), F64)),
    ("float32", ((4, 5), F32)),
]


@pytest.mark.parametrize("spec", graded("sigmoid_backward", SIGMOID_BWD_CASES))
def test_sigmoid_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dout * s * (1 - s)."""
    shape, dtype = spec
    x = (2 * rng.standard_normal(shape)).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    case = describe(x=x)
    _, cache = forward(student, case, "sigmoid_forward", x)
    (dx,) = backward(student, case, "sigmoid_backward", dout, cache, 1)
    _, rcache = ref.sigmoid_forward(x)
    expected = ref.sigmoid_backward(dout, rcache)
    check_close(dx, expected, _tol(dtype), "sigmoid_backward dx", case, dtype=dtype)


@pytest.mark.grade("sigmoid_backward: numeric gradient of your sigmoid_forward")
def test_sigmoid_backward_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx agrees with central differences of the student's own forward pass."""
    x = rng.standard_normal((3, 5))
    dout = rng.standard_normal((3, 5))
    case = describe(x=x)
    _, cache = forward(student, case, "sigmoid_forward", x)
    (dx,) = backward(student, case, "sigmoid_backward", dout, cache, 1)
    directional_check(
        student, case, "sigmoid_forward", [x], 0, dout, dx, "sigmoid_backward", rng, "dx"
    )


# ---------------------------------------------------------------------------------------
# affine - relu sandwich
# ---------------------------------------------------------------------------------------


def _sandwich_inputs(
    rng: np.random.Generator, x_shape: tuple[int, ...], m: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs whose first sample is all zeros and whose b has zeros: exact-0 pre-activations."""
    x, w, b = _affine_inputs(rng, x_shape, m, F64)
    x[0] = 0.0
    b[::2] = 0.0
    return x, w, b


SANDWICH_CASES = [
    ("2-d input with exact-0 pre-activations", ((4, 5), 6)),
    ("4-d input", ((3, 2, 3, 2), 5)),
]


@pytest.mark.parametrize("spec", graded("affine_relu_forward", SANDWICH_CASES))
def test_affine_relu_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """relu(affine(x))."""
    shape, m = spec
    x, w, b = _sandwich_inputs(rng, shape, m)
    case = describe(x=x, w=w)
    out, _ = forward(student, case, "affine_relu_forward", x, w, b)
    expected, _ = ref_lu.affine_relu_forward(x, w, b)
    check_close(out, expected, "f64", "affine_relu_forward out", case)


@pytest.mark.parametrize("spec", graded("affine_relu_backward", SANDWICH_CASES))
def test_affine_relu_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx (x's shape), dw, db of relu(affine(x))."""
    shape, m = spec
    x, w, b = _sandwich_inputs(rng, shape, m)
    dout = rng.standard_normal((shape[0], m))
    case = describe(x=x, w=w)
    _, cache = forward(student, case, "affine_relu_forward", x, w, b)
    grads = backward(student, case, "affine_relu_backward", dout, cache, 3)
    _, rcache = ref_lu.affine_relu_forward(x, w, b)
    for name, got, exp in zip(
        ("dx", "dw", "db"), grads, ref_lu.affine_relu_backward(dout, rcache), strict=True
    ):
        check_close(got, exp, "norm", f"affine_relu_backward {name}", case)


@pytest.mark.grade("affine_relu_backward: returns three gradients of the right shapes")
def test_affine_relu_backward_shapes(student: Any, rng: np.random.Generator) -> None:
    """dx has x's N-d shape, dw w's, db b's."""
    x, w, b = _affine_inputs(rng, (2, 3, 4), 5, F64)
    case = describe(x=x, w=w)
    _, cache = forward(student, case, "affine_relu_forward", x, w, b)
    grads = backward(student, case, "affine_relu_backward", np.ones((2, 5)), cache, 3)
    for name, got, like in zip(("dx", "dw", "db"), grads, (x, w, b), strict=True):
        if not isinstance(got, np.ndarray) or got.shape != like.shape:
            shape = getattr(got, "shape", type(got).__name__)
            fail(f"affine_relu_backward {name} [{case}]: shape {shape}, expected {like.shape}")
