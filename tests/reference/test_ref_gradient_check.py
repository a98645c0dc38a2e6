"""The student-facing gradient checks (nnlib.gradient_check) that the reference tests rely on."""

# grad_check_sparse must leave numpy's legacy global random state alone.
# ruff: noqa: NPY002

import numpy as np
import pytest

from nnlib.gradient_check import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)

pytestmark = pytest.mark.reference


def test_rel_error():
    x = np.array([1.0, 2.0, -3.0])
    assert rel_error(x, x) == 0
    assert rel_error(x, x * 1.1) == pytest.approx(0.1 / 2.1)
    assert rel_error(x, -x) == pytest.approx(1.0)
    assert rel_error(np.zeros(2), np.array([1e-10, 0.0])) == pytest.approx(1e-2)
    assert rel_error(x, 2 * x) == rel_error(2 * x, x)


def test_eval_numerical_gradient_of_a_scalar_function():
    x = np.random.default_rng(0).standard_normal((3, 4))
    original = x.copy()
    grad = eval_numerical_gradient(lambda v: np.sum(np.sin(v) * v), x, verbose=False)
    np.testing.assert_allclose(grad, np.cos(original) * original + np.sin(original), rtol=1e-8)
    np.testing.assert_array_equal(x, original)


def test_eval_numerical_gradient_perturbs_the_given_array_in_place():
    """Notebooks check a model with `lambda _: model.loss(X, y)[0]` around model.params[name]."""
    w = np.array([[1.0, -2.0], [0.5, 3.0]])
    params = {"w": w}
    grad = eval_numerical_gradient(lambda _: np.sum(params["w"] ** 3), params["w"], verbose=False)
    np.testing.assert_allclose(grad, 3 * w**2, rtol=1e-8)
    assert params["w"] is w


def test_eval_numerical_gradient_verbose_prints_each_entry(capsys):
    eval_numerical_gradient(lambda v: float(np.sum(v**2)), np.ones(3))
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("(0,)")


def test_eval_numerical_gradient_array_contracts_with_df():
    rng = np.random.default_rng(1)
    x, df = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    original = x.copy()
    grad = eval_numerical_gradient_array(lambda v: v**2, x, df)
    np.testing.assert_allclose(grad, 2 * original * df, rtol=1e-8)
    np.testing.assert_array_equal(x, original)


def test_eval_numerical_gradient_array_copes_with_f_returning_its_input():
    df = np.arange(6.0).reshape(2, 3)
    grad = eval_numerical_gradient_array(lambda v: v, np.zeros((2, 3)), df)
    np.testing.assert_allclose(grad, df, rtol=1e-8)


def test_eval_numerical_gradient_array_of_matrix_product():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((3, 4)), rng.standard_normal((4, 2))
    df = rng.standard_normal((3, 2))
    grad = eval_numerical_gradient_array(lambda v: v @ w, x, df)
    np.testing.assert_allclose(grad, df @ w.T, rtol=1e-7)


def test_gradients_keep_the_input_dtype():
    x = np.ones((2, 2), dtype=np.float32)
    assert eval_numerical_gradient(lambda v: float(v.sum()), x, verbose=False, h=1e-2).dtype == (
        np.float32
    )
    assert eval_numerical_gradient_array(lambda v: v * 2, x, np.ones_like(x), h=1e-2).dtype == (
        np.float32
    )


def test_grad_check_sparse(capsys):
    x = np.random.default_rng(3).standard_normal((5, 4))
    original = x.copy()
    np.random.seed(0)
    state = np.random.get_state()[1].copy()
    good = grad_check_sparse(lambda v: np.sum(v**2), x, 2 * x, num_checks=6)
    bad = grad_check_sparse(lambda v: np.sum(v**2), x, 3 * x, num_checks=4)
    assert len(good) == 6 and max(good) < 1e-8
    assert len(bad) == 4 and min(bad) == pytest.approx(0.2, rel=1e-6)
    assert len(capsys.readouterr().out.strip().splitlines()) == 10
    np.testing.assert_array_equal(x, original)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
