"""Hidden tests: naive convolution and max pooling, and the conv sandwich layers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    backward,
    check_close,
    check_unchanged,
    describe,
    directional_check,
    forward,
    graded,
)
from reference import layer_utils as ref_lu
from reference import layers as ref

F64, F32 = np.float64, np.float32


def _tol(dtype: Any) -> str:
    return "f32" if np.dtype(dtype) == np.float32 else "f64"


def _conv_inputs(
    rng: np.random.Generator, x_shape: tuple[int, ...], w_shape: tuple[int, ...], dtype: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, w, b of normal values."""
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    return x, w, b


# (x shape, w shape, stride, pad, dtype); sizes divide exactly as API.md promises.
CONV_CASES = [
    ("stride 1, pad 1", ((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, F64)),
    ("stride 2, pad 1, non-square input and kernel", ((2, 2, 7, 5), (3, 2, 3, 1), 2, 1, F64)),
    ("stride 2, pad 0, non-square", ((1, 3, 6, 8), (2, 3, 2, 4), 2, 0, F64)),
    ("stride 1, pad 2, float32", ((2, 2, 4, 4), (3, 2, 5, 5), 1, 2, F32)),
]


def _conv_case(x: np.ndarray, w: np.ndarray, stride: int, pad: int) -> str:
    return describe(x=x, w=w, stride=stride, pad=pad)


@pytest.mark.parametrize("spec", graded("conv_forward_naive", CONV_CASES))
def test_conv_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Cross-correlation with zero padding and stride, output of the API's size."""
    xs, ws, stride, pad, dtype = spec
    x, w, b = _conv_inputs(rng, xs, ws, dtype)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad)
    out, _ = forward(student, case, "conv_forward_naive", x, w, b, param)
    expected, _ = ref.conv_forward_naive(x, w, b, param)
    check_close(out, expected, _tol(dtype), "conv_forward_naive out", case, dtype=dtype)


@pytest.mark.grade("conv_forward_naive: inputs not modified")
def test_conv_forward_inputs(student: Any, rng: np.random.Generator) -> None:
    """x, w and b are unchanged after the call."""
    x, w, b = _conv_inputs(rng, (1, 2, 4, 4), (2, 2, 3, 3), F64)
    case = _conv_case(x, w, 1, 1)
    _, _, echoed = forward(
        student, case, "conv_forward_naive", x, w, b, {"stride": 1, "pad": 1}, echo=True
    )
    check_unchanged(echoed[:3], (x, w, b), "conv_forward_naive", case)


CONV_BWD_CASES = [
    ("stride 1, pad 1", ((2, 3, 4, 4), (2, 3, 3, 3), 1, 1, F64)),
    ("stride 2, pad 2, non-square", ((2, 2, 5, 7), (3, 2, 3, 5), 2, 2, F64)),
    ("stride 2, pad 0, float32", ((1, 2, 5, 5), (2, 2, 3, 3), 2, 0, F32)),
]


@pytest.mark.parametrize("spec", graded("conv_backward_naive", CONV_BWD_CASES))
def test_conv_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx, dw, db from the cache of one forward call."""
    xs, ws, stride, pad, dtype = spec
    x, w, b = _conv_inputs(rng, xs, ws, dtype)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad)
    eout, rcache = ref.conv_forward_naive(x, w, b, param)
    dout = rng.standard_normal(eout.shape).astype(dtype)
    _, cache = forward(student, case, "conv_forward_naive", x, w, b, param)
    grads = backward(student, case, "conv_backward_naive", dout, cache, 3)
    for name, got, exp in zip(
        ("dx", "dw", "db"), grads, ref.conv_backward_naive(dout, rcache), strict=True
    ):
        check_close(got, exp, _tol(dtype), f"conv_backward_naive {name}", case, dtype=dtype)


@pytest.mark.grade("conv_backward_naive: numeric gradient of your conv_forward_naive")
def test_conv_backward_numeric(student: Any, rng: np.random.Generator) -> None:
    """dx, dw, db agree with central differences of the student's own forward pass."""
    x, w, b = _conv_inputs(rng, (2, 2, 5, 5), (2, 2, 3, 3), F64)
    param = {"stride": 2, "pad": 1}
    case = _conv_case(x, w, 2, 1)
    dout = rng.standard_normal((2, 2, 3, 3))
    _, cache = forward(student, case, "conv_forward_naive", x, w, b, param)
    grads = backward(student, case, "conv_backward_naive", dout, cache, 3)
    args = [x, w, b, param]
    for index, name in enumerate(("dx", "dw", "db")):
        directional_check(
            student,
            case,
            "conv_forward_naive",
            args,
            index,
            dout,
            grads[index],
            "conv_backward_naive",
            rng,
            name,
        )


# ---------------------------------------------------------------------------------------
# Max pooling
# ---------------------------------------------------------------------------------------

# (x shape, pool height, pool width, stride, dtype)
POOL_CASES = [
    ("2x2 windows, stride 2", ((2, 3, 4, 4), 2, 2, 2, F64)),
    ("overlapping 3x3 windows, stride 1", ((1, 2, 5, 5), 3, 3, 1, F64)),
    ("non-square 3x2 windows, stride 2, non-square input", ((2, 2, 7, 6), 3, 2, 2, F64)),
    ("stride larger than the window (unused border)", ((2, 2, 7, 7), 2, 2, 5, F64)),
    ("2x2 windows, stride 2, float32", ((2, 2, 6, 4), 2, 2, 2, F32)),
]


def _pool_inputs(rng: np.random.Generator, spec: tuple) -> tuple[np.ndarray, dict, str]:
    xs, ph, pw, stride, dtype = spec
    x = rng.standard_normal(xs).astype(dtype)  # continuous values: no ties
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    return x, param, describe(x=x, pool=f"{ph}x{pw}", stride=stride)


@pytest.mark.parametrize("spec", graded("max_pool_forward_naive", POOL_CASES))
def test_max_pool_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Maximum of every window."""
    x, param, case = _pool_inputs(rng, spec)
    out, _ = forward(student, case, "max_pool_forward_naive", x, param)
    expected, _ = ref.max_pool_forward_naive(x, param)
    check_close(out, expected, "f64", "max_pool_forward_naive out", case, dtype=x.dtype)


@pytest.mark.parametrize("spec", graded("max_pool_backward_naive", POOL_CASES))
def test_max_pool_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Each upstream gradient goes to its window's maximum (accumulated where windows
    overlap)."""
    x, param, case = _pool_inputs(rng, spec)
    eout, rcache = ref.max_pool_forward_naive(x, param)
    dout = rng.standard_normal(eout.shape).astype(x.dtype)
    _, cache = forward(student, case, "max_pool_forward_naive", x, param)
    (dx,) = backward(student, case, "max_pool_backward_naive", dout, cache, 1)
    expected = ref.max_pool_backward_naive(dout, rcache)
    check_close(dx, expected, "f64", "max_pool_backward_naive dx", case, dtype=x.dtype)


# ---------------------------------------------------------------------------------------
# Sandwiches
# ---------------------------------------------------------------------------------------

SANDWICH_CASES = [
    ("3x3 kernel, stride 1, pad 1", ((2, 3, 4, 4), (3, 3, 3, 3), 1, 1)),
    ("stride 2, pad 1, non-square", ((1, 2, 5, 7), (2, 2, 3, 3), 2, 1)),
]
POOL2 = {"pool_height": 2, "pool_width": 2, "stride": 2}


@pytest.mark.parametrize("spec", graded("conv_relu_forward", SANDWICH_CASES))
def test_conv_relu_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """relu(conv(x))."""
    xs, ws, stride, pad = spec
    x, w, b = _conv_inputs(rng, xs, ws, F64)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad)
    out, _ = forward(student, case, "conv_relu_forward", x, w, b, param)
    expected, _ = ref_lu.conv_relu_forward(x, w, b, param)
    check_close(out, expected, "f64", "conv_relu_forward out", case)


@pytest.mark.parametrize("spec", graded("conv_relu_backward", SANDWICH_CASES))
def test_conv_relu_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx, dw, db of relu(conv(x))."""
    xs, ws, stride, pad = spec
    x, w, b = _conv_inputs(rng, xs, ws, F64)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad)
    eout, rcache = ref_lu.conv_relu_forward(x, w, b, param)
    dout = rng.standard_normal(eout.shape)
    _, cache = forward(student, case, "conv_relu_forward", x, w, b, param)
    grads = backward(student, case, "conv_relu_backward", dout, cache, 3)
    for name, got, exp in zip(
        ("dx", "dw", "db"), grads, ref_lu.conv_relu_backward(dout, rcache), strict=True
    ):
        check_close(got, exp, "norm", f"conv_relu_backward {name}", case)


POOL_SANDWICH_CASES = [
    ("3x3 kernel, pad 1, 2x2 pool", ((2, 3, 4, 4), (3, 3, 3, 3), 1, 1, POOL2)),
    (
        "non-square input, 3x3 pool with stride 1",
        ((1, 2, 4, 6), (2, 2, 3, 3), 1, 1, {"pool_height": 3, "pool_width": 3, "stride": 1}),
    ),
]


@pytest.mark.parametrize("spec", graded("conv_relu_pool_forward", POOL_SANDWICH_CASES))
def test_conv_relu_pool_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """pool(relu(conv(x)))."""
    xs, ws, stride, pad, pool = spec
    x, w, b = _conv_inputs(rng, xs, ws, F64)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad) + f", pool {pool['pool_height']}x{pool['pool_width']}"
    out, _ = forward(student, case, "conv_relu_pool_forward", x, w, b, param, pool)
    expected, _ = ref_lu.conv_relu_pool_forward(x, w, b, param, pool)
    check_close(out, expected, "f64", "conv_relu_pool_forward out", case)


@pytest.mark.parametrize("spec", graded("conv_relu_pool_backward", POOL_SANDWICH_CASES))
def test_conv_relu_pool_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx, dw, db of pool(relu(conv(x)))."""
    xs, ws, stride, pad, pool = spec
    x, w, b = _conv_inputs(rng, xs, ws, F64)
    param = {"stride": stride, "pad": pad}
    case = _conv_case(x, w, stride, pad) + f", pool {pool['pool_height']}x{pool['pool_width']}"
    eout, rcache = ref_lu.conv_relu_pool_forward(x, w, b, param, pool)
    dout = rng.standard_normal(eout.shape)
    _, cache = forward(student, case, "conv_relu_pool_forward", x, w, b, param, pool)
    grads = backward(student, case, "conv_relu_pool_backward", dout, cache, 3)
    for name, got, exp in zip(
        ("dx", "dw", "db"), grads, ref_lu.conv_relu_pool_backward(dout, rcache), strict=True
    ):
        check_close(got, exp, "norm", f"conv_relu_pool_backward {name}", case)
