"""Reference layers: numeric gradients, dtypes, and the details docs/api.md pins down."""

# Dropout draws its mask from numpy's legacy global random state (docs/api.md).
# ruff: noqa: NPY002

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlib.gradient_check import eval_numerical_gradient, rel_error
from reference import layer_utils, layers

pytestmark = pytest.mark.reference


def _rng(seed=0):
    return np.random.default_rng(seed)


# ---------------------------------------------------------------------------------------
# Gradient checks (float64)
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("x_shape", [(4, 6), (3, 2, 3, 4), (1, 5)])
def test_affine_gradients(check_grads, x_shape):
    rng = _rng()
    x = rng.standard_normal(x_shape)
    d = int(np.prod(x_shape[1:]))
    w, b = rng.standard_normal((d, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((x_shape[0], 3))
    out, cache = layers.affine_forward(x, w, b)
    assert out.shape == (x_shape[0], 3)
    dx, dw, db = layers.affine_backward(dout, cache)

    def fn(x, w, b):
        return layers.affine_forward(x, w, b)[0]

    check_grads(fn, [x, w, b], dout, {0: dx, 1: dw, 2: db})


@pytest.mark.parametrize("name", ["relu", "sigmoid"])
@pytest.mark.parametrize("shape", [(5, 7), (2, 3, 4, 2)])
def test_activation_gradients(check_grads, name, shape):
    forward = getattr(layers, f"{name}_forward")
    backward = getattr(layers, f"{name}_backward")
    rng = _rng(1)
    x, dout = rng.standard_normal(shape), rng.standard_normal(shape)
    dx = backward(dout, forward(x)[1])
    check_grads(lambda x: forward(x)[0], [x], dout, {0: dx})


@pytest.mark.parametrize("name", ["softmax_loss", "svm_loss"])
@pytest.mark.parametrize("n, c", [(6, 4), (1, 3), (20, 10)])
def test_classification_loss_gradients(name, n, c):
    loss_fn = getattr(layers, name)
    rng = _rng(2)
    x = rng.standard_normal((n, c))
    y = rng.integers(c, size=n)
    loss, dx = loss_fn(x, y)
    num = eval_numerical_gradient(lambda x: loss_fn(x, y)[0], x.copy(), verbose=False)
    assert dx.shape == x.shape
    assert rel_error(num, dx) < 1e-7


@pytest.mark.parametrize("shape", [(7,), (7, 1)])
def test_mse_loss_value_and_gradient(shape):
    rng = _rng(3)
    x, y = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, dx = layers.mse_loss(x, y)
    assert loss == pytest.approx(np.mean((x - y) ** 2))
    assert dx.shape == shape
    np.testing.assert_allclose(dx, 2 * (x - y) / shape[0])
    num = eval_numerical_gradient(lambda x: layers.mse_loss(x, y)[0], x.copy(), verbose=False)
    assert rel_error(num, dx) < 1e-8


def _norm_inputs(shape, seed=4):
    rng = _rng(seed)
    x = 3 * rng.standard_normal(shape) + 2
    return x, rng.standard_normal(shape[1]), rng.standard_normal(shape[1])


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
@pytest.mark.parametrize("shape", [(4, 5), (10, 3), (3, 1)])
def test_batchnorm_train_gradients(check_grads, backward, shape):
    x, gamma, beta = _norm_inputs(shape)
    dout = _rng(5).standard_normal(shape)
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = backward(dout, cache)

    def fn(x, g, b):
        return layers.batchnorm_forward(x, g, b, {"mode": "train"})[0]

    check_grads(fn, [x, gamma, beta], dout, {0: dx, 1: dgamma, 2: dbeta}, tol=1e-6)


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
def test_batchnorm_test_mode_gradients(check_grads, backward):
    x, gamma, beta = _norm_inputs((6, 4))
    rng = _rng(6)
    param = {"mode": "test", "running_mean": rng.standard_normal(4), "running_var": rng.random(4)}
    dout = rng.standard_normal((6, 4))
    dx, dgamma, dbeta = backward(dout, layers.batchnorm_forward(x, gamma, beta, dict(param))[1])

    def fn(x, g, b):
        return layers.batchnorm_forward(x, g, b, dict(param))[0]

    check_grads(fn, [x, gamma, beta], dout, {0: dx, 1: dgamma, 2: dbeta})


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(1, 12),
    d=st.integers(1, 6),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-2, 1e2),
)
def test_batchnorm_backward_alt_equals_backward(n, d, seed, scale):
    rng = _rng(seed)
    x = scale * rng.standard_normal((n, d))
    gamma, beta, dout = rng.standard_normal(d), rng.standard_normal(d), rng.standard_normal((n, d))
    _, cache = layers.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    for a, b in zip(
        layers.batchnorm_backward(dout, cache),
        layers.batchnorm_backward_alt(dout, cache),
        strict=True,
    ):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-9 * (1 + np.abs(a).max()))


@pytest.mark.parametrize("shape", [(4, 5), (3, 8), (2, 3)])
def test_layernorm_gradients(check_grads, shape):
    x, gamma, beta = _norm_inputs(shape, seed=7)
    dout = _rng(8).standard_normal(shape)
    dx, dgamma, dbeta = layers.layernorm_backward(
        dout, layers.layernorm_forward(x, gamma, beta, {})[1]
    )

    def fn(x, g, b):
        return layers.layernorm_forward(x, g, b, {})[0]

    check_grads(fn, [x, gamma, beta], dout, {0: dx, 1: dgamma, 2: dbeta}, tol=1e-6)


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (3, 2, 3, 2)])
def test_spatial_batchnorm_gradients(check_grads, shape):
    rng = _rng(9)
    x = 4 * rng.standard_normal(shape) + 10
    gamma, beta = rng.standard_normal(shape[1]), rng.standard_normal(shape[1])
    dout = rng.standard_normal(shape)
    _, cache = layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = layers.spatial_batchnorm_backward(dout, cache)

    def fn(x, g, b):
        return layers.spatial_batchnorm_forward(x, g, b, {"mode": "train"})[0]

    check_grads(fn, [x, gamma, beta], dout, {0: dx, 1: dgamma, 2: dbeta}, tol=1e-6)


@pytest.mark.parametrize("shape, G", [((2, 6, 4, 5), 2), ((2, 6, 3, 3), 3), ((1, 4, 2, 3), 1)])
def test_spatial_groupnorm_gradients(check_grads, shape, G):
    rng = _rng(10)
    c = shape[1]
    x = 4 * rng.standard_normal(shape) + 10
    gamma, beta = rng.standard_normal((1, c, 1, 1)), rng.standard_normal((1, c, 1, 1))
    dout = rng.standard_normal(shape)
    _, cache = layers.spatial_groupnorm_forward(x, gamma, beta, G, {})
    dx, dgamma, dbeta = layers.spatial_groupnorm_backward(dout, cache)
    assert dgamma.shape == dbeta.shape == (1, c, 1, 1)

    def fn(x, g, b):
        return layers.spatial_groupnorm_forward(x, g, b, G, {})[0]

    check_grads(fn, [x, gamma, beta], dout, {0: dx, 1: dgamma, 2: dbeta}, tol=1e-6)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_dropout_gradients(check_grads, mode):
    rng = _rng(11)
    x, dout = rng.standard_normal((6, 5)), rng.standard_normal((6, 5))
    param = {"p": 0.7, "mode": mode, "seed": 123}
    dx = layers.dropout_backward(dout, layers.dropout_forward(x, param)[1])
    check_grads(lambda x: layers.dropout_forward(x, param)[0], [x], dout, {0: dx}, tol=1e-9)


def test_affine_relu_sandwich_gradients(check_grads):
    rng = _rng(12)
    x, w, b = rng.standard_normal((3, 2, 4)), rng.standard_normal((8, 6)), rng.standard_normal(6)
    dout = rng.standard_normal((3, 6))
    dx, dw, db = layer_utils.affine_relu_backward(dout, layer_utils.affine_relu_forward(x, w, b)[1])

    def fn(x, w, b):
        return layer_utils.affine_relu_forward(x, w, b)[0]

    check_grads(fn, [x, w, b], dout, {0: dx, 1: dw, 2: db})


# ---------------------------------------------------------------------------------------
# float32: dtype kept, values close to the float64 results
# ---------------------------------------------------------------------------------------


def _fwd_bwd(forward, backward):
    """forward(*args) then backward(dout, cache), returning (out, *grads); dout is last."""

    def run(*args):
        *inputs, dout = args
        out, cache = forward(*inputs)
        grads = backward(dout, cache)
        return (out, *(grads if isinstance(grads, tuple) else (grads,)))

    return run


FLOAT32_CASES = {
    "affine": (layers.affine_forward, layers.affine_backward, [(3, 2, 2), (4, 5), (5,)], (3, 5)),
    "relu": (layers.relu_forward, layers.relu_backward, [(4, 5)], (4, 5)),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward, [(4, 5)], (4, 5)),
    "layernorm": (
        lambda x, g, b: layers.layernorm_forward(x, g, b, {}),
        layers.layernorm_backward,
        [(4, 5), (5,), (5,)],
        (4, 5),
    ),
    "batchnorm": (
        lambda x, g, b: layers.batchnorm_forward(x, g, b, {"mode": "train"}),
        layers.batchnorm_backward,
        [(6, 5), (5,), (5,)],
        (6, 5),
    ),
    "batchnorm_alt": (
        lambda x, g, b: layers.batchnorm_forward(x, g, b, {"mode": "train"}),
        layers.batchnorm_backward_alt,
        [(6, 5), (5,), (5,)],
        (6, 5),
    ),
    "spatial_batchnorm": (
        lambda x, g, b: layers.spatial_batchnorm_forward(x, g, b, {"mode": "train"}),
        layers.spatial_batchnorm_backward,
        [(2, 3, 4, 4), (3,), (3,)],
        (2, 3, 4, 4),
    ),
    "spatial_groupnorm": (
        lambda x, g, b: layers.spatial_groupnorm_forward(x, g, b, 2, {}),
        layers.spatial_groupnorm_backward,
        [(2, 4, 3, 3), (1, 4, 1, 1), (1, 4, 1, 1)],
        (2, 4, 3, 3),
    ),
    "dropout": (
        lambda x: layers.dropout_forward(x, {"p": 0.6, "mode": "train", "seed": 5}),
        layers.dropout_backward,
        [(4, 5)],
        (4, 5),
    ),
    "affine_relu": (
        layer_utils.affine_relu_forward,
        layer_utils.affine_relu_backward,
        [(3, 4), (4, 5), (5,)],
        (3, 5),
    ),
}


@pytest.mark.parametrize("case", sorted(FLOAT32_CASES))
def test_float32_in_float32_out(same_in_float32, case):
    forward, backward, shapes, dout_shape = FLOAT32_CASES[case]
    rng = _rng(13)
    args = [rng.standard_normal(s) for s in shapes] + [rng.standard_normal(dout_shape)]
    same_in_float32(_fwd_bwd(forward, backward), args, rtol=2e-4)


@pytest.mark.parametrize("name", ["softmax_loss", "svm_loss"])
def test_float32_classification_losses(same_in_float32, name):
    rng = _rng(14)
    x, y = rng.standard_normal((8, 5)), rng.integers(5, size=8)
    same_in_float32(getattr(layers, name), [x, y])


def test_float32_mse_loss(same_in_float32):
    rng = _rng(15)
    same_in_float32(layers.mse_loss, [rng.standard_normal((6, 1)), rng.standard_normal((6, 1))])


def test_float32_batchnorm_running_statistics_and_test_mode():
    x = _rng(16).standard_normal((8, 3)).astype(np.float32)
    g, b = np.ones(3, np.float32), np.zeros(3, np.float32)
    bn_param = {"mode": "train"}
    layers.batchnorm_forward(x, g, b, bn_param)
    assert bn_param["running_mean"].dtype == np.float32
    assert bn_param["running_var"].dtype == np.float32
    bn_param["mode"] = "test"
    out, cache = layers.batchnorm_forward(x, g, b, bn_param)
    assert out.dtype == np.float32
    assert all(d.dtype == np.float32 for d in layers.batchnorm_backward(out, cache))


# ---------------------------------------------------------------------------------------
# Behaviour pinned by docs/api.md
# ---------------------------------------------------------------------------------------


def test_relu_gradient_is_zero_at_exactly_zero():
    x = np.array([[-1.0, 0.0, 2.0], [0.0, 3.0, -0.0]])
    dx = layers.relu_backward(np.ones_like(x), layers.relu_forward(x)[1])
    np.testing.assert_array_equal(dx, [[0, 0, 1], [0, 1, 0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_for_large_inputs(dtype):
    x = np.array([-1e4, -800.0, -50.0, 0.0, 50.0, 800.0, 1e4], dtype=dtype)
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        out, cache = layers.sigmoid_forward(x)
        dx = layers.sigmoid_backward(np.ones_like(x), cache)
    assert out.dtype == dx.dtype == dtype
    assert np.all(np.isfinite(out)) and np.all(np.isfinite(dx))
    np.testing.assert_allclose(out[[0, -1]], [0.0, 1.0])
    assert out[3] == 0.5
    assert np.all(np.diff(out) >= 0)


def test_softmax_loss_is_finite_and_shift_invariant_for_huge_scores():
    rng = _rng(17)
    x, y = rng.standard_normal((5, 4)), rng.integers(4, size=5)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        loss_big, dx_big = layers.softmax_loss(x * 1e4 + 1e6, y)
        loss, dx = layers.softmax_loss(x + 1e6, y)
    ref_loss, ref_dx = layers.softmax_loss(x, y)
    assert np.isfinite(loss_big) and np.all(np.isfinite(dx_big))
    assert loss == pytest.approx(ref_loss, rel=1e-6)
    np.testing.assert_allclose(dx, ref_dx, atol=1e-6)


def test_softmax_loss_matches_definition():
    rng = _rng(18)
    x, y = rng.standard_normal((6, 3)), rng.integers(3, size=6)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert layers.softmax_loss(x, y)[0] == pytest.approx(-np.mean(np.log(p[np.arange(6), y])))


def test_svm_loss_matches_definition():
    x = np.array([[3.0, 1.0, 2.5], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    # row 0: max(0, 1 - 3 + 1) + max(0, 2.5 - 3 + 1) = 0 + 0.5; row 1: 1 + 1
    loss, dx = layers.svm_loss(x, y)
    assert loss == pytest.approx((0.5 + 2.0) / 2)
    np.testing.assert_allclose(dx, [[-0.5, 0, 0.5], [0.5, 0.5, -1.0]])


def test_batchnorm_fills_defaults_and_updates_running_averages():
    rng = _rng(19)
    x = rng.standard_normal((10, 3)) * 2 + 1
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    bn_param = {"mode": "train"}
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    assert bn_param["eps"] == 1e-5 and bn_param["momentum"] == 0.9
    np.testing.assert_allclose(bn_param["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(bn_param["running_var"], 0.1 * x.var(axis=0))  # biased variance
    np.testing.assert_allclose(out, gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5) + beta)

    bn_param["momentum"] = 0.5
    x2 = rng.standard_normal((10, 3))
    previous = bn_param["running_var"].copy()
    layers.batchnorm_forward(x2, gamma, beta, bn_param)
    np.testing.assert_allclose(bn_param["running_var"], 0.5 * previous + 0.5 * x2.var(axis=0))


def test_batchnorm_test_mode_uses_running_values():
    rng = _rng(20)
    x = rng.standard_normal((4, 3))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    rm, rv = rng.standard_normal(3), rng.random(3) + 0.5
    bn_param = {"mode": "test", "running_mean": rm, "running_var": rv, "eps": 1e-3}
    out, _ = layers.batchnorm_forward(x, gamma, beta, bn_param)
    np.testing.assert_allclose(out, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta)
    assert bn_param["running_mean"] is rm and bn_param["running_var"] is rv


@pytest.mark.parametrize("mode", ["Train", "eval", None])
def test_batchnorm_rejects_unknown_mode(mode):
    with pytest.raises(ValueError):
        layers.batchnorm_forward(np.ones((2, 2)), np.ones(2), np.zeros(2), {"mode": mode})


def test_layernorm_normalises_each_sample():
    rng = _rng(21)
    x = rng.standard_normal((4, 6)) * 5 + 3
    out, _ = layers.layernorm_forward(x, np.ones(6), np.zeros(6), {"eps": 1e-5})
    np.testing.assert_allclose(out.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=1), x.var(axis=1) / (x.var(axis=1) + 1e-5))
    # A batch of one sample gives the same result as that row inside a batch.
    single, _ = layers.layernorm_forward(x[1:2], np.ones(6), np.zeros(6), {})
    np.testing.assert_allclose(single[0], out[1])


def test_spatial_batchnorm_equals_batchnorm_over_n_h_w():
    rng = _rng(22)
    x = rng.standard_normal((2, 3, 4, 5))
    gamma, beta = rng.standard_normal(3), rng.standard_normal(3)
    out, _ = layers.spatial_batchnorm_forward(x, gamma, beta, {"mode": "train"})
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    expected = gamma[:, None, None] * (x - mean) / np.sqrt(var + 1e-5) + beta[:, None, None]
    np.testing.assert_allclose(out, expected)


def test_spatial_groupnorm_matches_definition():
    rng = _rng(23)
    x = rng.standard_normal((2, 6, 3, 4))
    gamma, beta = rng.standard_normal((1, 6, 1, 1)), rng.standard_normal((1, 6, 1, 1))
    out, _ = layers.spatial_groupnorm_forward(x, gamma, beta, 3, {"eps": 1e-5})
    groups = x.reshape(2, 3, 2, 3, 4)
    mean = groups.mean(axis=(2, 3, 4), keepdims=True)
    var = groups.var(axis=(2, 3, 4), keepdims=True)
    expected = gamma * ((groups - mean) / np.sqrt(var + 1e-5)).reshape(x.shape) + beta
    np.testing.assert_allclose(out, expected)


def test_spatial_groupnorm_also_accepts_flat_gamma_and_beta():
    rng = _rng(27)
    x, dout = rng.standard_normal((2, 4, 3, 3)), rng.standard_normal((2, 4, 3, 3))
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    out, cache = layers.spatial_groupnorm_forward(x, gamma, beta, 2, {})
    out4, cache4 = layers.spatial_groupnorm_forward(
        x, gamma.reshape(1, 4, 1, 1), beta.reshape(1, 4, 1, 1), 2, {}
    )
    np.testing.assert_array_equal(out, out4)
    grads = layers.spatial_groupnorm_backward(dout, cache)
    grads4 = layers.spatial_groupnorm_backward(dout, cache4)
    assert grads[1].shape == grads[2].shape == (4,)
    for g, g4 in zip(grads, grads4, strict=True):
        np.testing.assert_array_equal(g.ravel(), g4.ravel())


def test_dropout_uses_the_documented_mask():
    x = _rng(24).standard_normal((50, 40))
    out, _ = layers.dropout_forward(x, {"p": 0.3, "mode": "train", "seed": 42})
    np.random.seed(42)
    mask = (np.random.rand(*x.shape) < 0.3) / 0.3
    np.testing.assert_array_equal(out, x * mask)


def test_dropout_without_seed_uses_the_global_random_state():
    x = np.ones((20, 20))
    np.random.seed(7)
    first, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    second, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    np.random.seed(7)
    again, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train"})
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, second)


def test_dropout_test_mode_is_identity_and_dtype_is_kept():
    x = _rng(25).standard_normal((5, 5)).astype(np.float32)
    out, cache = layers.dropout_forward(x, {"p": 0.5, "mode": "test"})
    np.testing.assert_array_equal(out, x)
    dout = np.ones_like(x)
    np.testing.assert_array_equal(layers.dropout_backward(dout, cache), dout)
    out, _ = layers.dropout_forward(x, {"p": 0.5, "mode": "train", "seed": 0})
    assert out.dtype == np.float32


@pytest.mark.parametrize(
    "call",
    [
        lambda a: layers.affine_forward(a["x4"], a["w"], a["b"]),
        lambda a: layers.affine_backward(
            a["dout"], layers.affine_forward(a["x4"], a["w"], a["b"])[1]
        ),
        lambda a: layers.relu_backward(a["x"], layers.relu_forward(a["x"])[1]),
        lambda a: layers.sigmoid_backward(a["x"], layers.sigmoid_forward(a["x"])[1]),
        lambda a: layers.softmax_loss(a["x"], a["y"]),
        lambda a: layers.svm_loss(a["x"], a["y"]),
        lambda a: layers.mse_loss(a["x"], a["x"][::-1].copy()),
        lambda a: layers.batchnorm_backward(
            a["x"], layers.batchnorm_forward(a["x"], a["g"], a["g"], {"mode": "train"})[1]
        ),
        lambda a: layers.batchnorm_backward_alt(
            a["x"], layers.batchnorm_forward(a["x"], a["g"], a["g"], {"mode": "train"})[1]
        ),
        lambda a: layers.layernorm_backward(
            a["x"], layers.layernorm_forward(a["x"], a["g"], a["g"], {})[1]
        ),
        lambda a: layers.dropout_backward(
            a["x"], layers.dropout_forward(a["x"], {"p": 0.5, "mode": "train"})[1]
        ),
        lambda a: layers.spatial_batchnorm_backward(
            a["img"],
            layers.spatial_batchnorm_forward(a["img"], a["c"], a["c"], {"mode": "train"})[1],
        ),
        lambda a: layers.spatial_groupnorm_backward(
            a["img"], layers.spatial_groupnorm_forward(a["img"], a["c4"], a["c4"], 2, {})[1]
        ),
        lambda a: layer_utils.affine_relu_backward(
            a["dout"], layer_utils.affine_relu_forward(a["x4"], a["w"], a["b"])[1]
        ),
    ],
)
def test_inputs_are_not_modified(call):
    rng = _rng(26)
    arrays = {
        "x": rng.standard_normal((4, 3)),
        "x4": rng.standard_normal((4, 2, 3)),
        "w": rng.standard_normal((6, 5)),
        "b": rng.standard_normal(5),
        "dout": rng.standard_normal((4, 5)),
        "y": rng.integers(3, size=4),
        "g": rng.standard_normal(3),
        "img": rng.standard_normal((2, 4, 3, 3)),
        "c": rng.standard_normal(4),
        "c4": rng.standard_normal((1, 4, 1, 1)),
    }
    before = {k: v.copy() for k, v in arrays.items()}
    call(arrays)
    for k, v in arrays.items():
        np.testing.assert_array_equal(v, before[k], err_msg=k)
