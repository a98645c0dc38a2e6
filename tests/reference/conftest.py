"""Shared helpers for the reference tests: numeric-gradient and dtype checks."""

import numpy as np
import pytest

from nnlib.gradient_check import eval_numerical_gradient_array, rel_error


def _check_grads(fn, args, dout, analytic, tol=1e-7, h=1e-5):
    """Compare analytic gradients with numeric ones of sum(fn(*args) * dout).

    analytic maps an index into args to the gradient claimed for that argument. For a
    function linear in its arguments (convolution) a larger step h is exact and keeps the
    rounding noise of the difference quotient (about eps * |f| / h) far below tol.
    """
    for i, grad in analytic.items():

        def f_i(v, i=i):
            return fn(*args[:i], v, *args[i + 1 :])

        numeric = eval_numerical_gradient_array(f_i, np.array(args[i], copy=True), dout, h=h)
        assert grad.shape == np.shape(args[i]), f"argument {i}: gradient shape"
        err = rel_error(numeric, grad)
        assert err < tol, f"argument {i}: relative error {err:.2e}"


def _is_float_array(a):
    return isinstance(a, np.ndarray) and a.dtype.kind == "f"


def _assert_same_in_float32(fn, args64, rtol=1e-4):
    """fn on float32 copies of args64 returns float32 arrays close to the float64 results.

    Only floating arrays are cast (labels stay integers). fn returns an array or a tuple of
    arrays and scalars; scalars are compared by value only.
    """
    out64 = fn(*args64)
    out32 = fn(*[a.astype(np.float32) if _is_float_array(a) else a for a in args64])
    out64 = out64 if isinstance(out64, tuple) else (out64,)
    out32 = out32 if isinstance(out32, tuple) else (out32,)
    for k, (a64, a32) in enumerate(zip(out64, out32, strict=True)):
        if _is_float_array(a64):
            assert a32.dtype == np.float32, f"output {k} is {a32.dtype}"
            scale = np.max(np.abs(a64)) + 1e-12
            np.testing.assert_allclose(a32, a64, rtol=rtol, atol=rtol * scale, err_msg=f"{k}")
        else:
            assert a32 == pytest.approx(a64, rel=rtol, abs=rtol)


@pytest.fixture
def check_grads():
    """check_grads(fn, args, dout, {index: analytic_grad}, tol=1e-7, h=1e-5)."""
    return _check_grads


@pytest.fixture
def same_in_float32():
    """same_in_float32(fn, float64_args, rtol=1e-4)."""
    return _assert_same_in_float32
