"""Numeric gradient checks for the assignment notebooks.

Every check perturbs the array it is given *in place*, one element at a time, and puts the
original value back afterwards. That lets a check be written as ``lambda _: model.loss(X, y)[0]``
around an array that the model reads (``model.params[name]``).
"""

import random
from collections.abc import Callable

import numpy as np


def rel_error(x, y) -> float:
    """Largest elementwise relative error between x and y (both arrays of one shape)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, verbose: bool = True, h: float = 1e-5
) -> np.ndarray:
    """Centred-difference gradient of a scalar function f at x.

    Inputs:
    - f: function taking one array of x's shape and returning a scalar
    - x: array of any shape; modified while the check runs, restored afterwards
    - verbose: print every index and its numeric derivative
    - h: step size

    Returns an array of x's shape (and dtype) holding df/dx.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        grad[ix] = (f_plus - f_minus) / (2 * h)
        if verbose:
            print(ix, grad[ix])
        it.iternext()
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Numeric gradient of sum(f(x) * df) with respect to x, for an array-valued f.

    Inputs:
    - f: function taking one array of x's shape and returning an array of df's shape
    - x: array of any shape; modified while the check runs, restored afterwards
    - df: upstream gradient, of f(x)'s shape
    - h: step size

    Returns an array of x's shape (and dtype).
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
        it.iternext()
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
) -> list[float]:
    """Compare analytic_grad with centred differences at num_checks random entries of x.

    Prints one line per entry and returns the list of relative errors. x is modified while
    the check runs and restored afterwards. Entries are picked with Python's `random`, so
    numpy's global random state is left alone.
    """
    errors = []
    for _ in range(num_checks):
        ix = tuple(random.randrange(n) for n in x.shape)
        old = x[ix]
        x[ix] = old + h
        f_plus = f(x)
        x[ix] = old - h
        f_minus = f(x)
        x[ix] = old
        numeric = (f_plus - f_minus) / (2 * h)
        analytic = analytic_grad[ix]
        denom = abs(numeric) + abs(analytic)
        error = abs(numeric - analytic) / denom if denom > 0 else 0.0
        print(f"numerical: {numeric:f} analytic: {analytic:f}, relative error: {error:e}")
        errors.append(float(error))
    return errors
