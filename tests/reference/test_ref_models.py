"""Reference models: parameter layout, numeric gradients of loss, dtypes, train/test modes."""

# The models draw their weights from numpy's legacy global random state (docs/api.md).
# ruff: noqa: NPY002

import numpy as np
import pytest

from nnlib.gradient_check import eval_numerical_gradient
from reference.classifiers import FullyConnectedNet, ThreeLayerConvNet, TwoLayerNet

pytestmark = pytest.mark.reference


def _data(n, d, c, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *np.atleast_1d(d))), rng.integers(c, size=n)


def _assert_model_grads(model, X, y, rtol=1e-6, h=1e-5):
    """Analytic gradients of every parameter agree with centred differences of loss.

    Elementwise |analytic - numeric| <= 1e-8 + rtol |numeric|: gradients that are exactly zero
    (a bias followed by batchnorm) come out of the numeric check as ~1e-11, which a purely
    relative error would reject.
    """
    loss, grads = model.loss(X, y)
    assert sorted(grads) == sorted(model.params)
    for name in sorted(grads):
        num = eval_numerical_gradient(
            lambda _: model.loss(X, y)[0], model.params[name], verbose=False, h=h
        )
        assert grads[name].shape == model.params[name].shape, name
        np.testing.assert_allclose(grads[name], num, rtol=rtol, atol=1e-8, err_msg=name)
    return loss


# ---------------------------------------------------------------------------------------
# TwoLayerNet (modular)
# ---------------------------------------------------------------------------------------


def test_two_layer_net_draws_weights_in_order():
    np.random.seed(5)
    model = TwoLayerNet(input_dim=6, hidden_dim=4, num_classes=3, weight_scale=0.1)
    np.random.seed(5)
    np.testing.assert_array_equal(model.params["W1"], 0.1 * np.random.randn(6, 4))
    np.testing.assert_array_equal(model.params["W2"], 0.1 * np.random.randn(4, 3))
    np.testing.assert_array_equal(model.params["b1"], np.zeros(4))
    np.testing.assert_array_equal(model.params["b2"], np.zeros(3))


@pytest.mark.parametrize("reg", [0.0, 0.3])
def test_two_layer_net_gradients(reg):
    np.random.seed(1)
    model = TwoLayerNet(input_dim=6, hidden_dim=5, num_classes=4, weight_scale=0.5, reg=reg)
    X, y = _data(4, (2, 3), 4)
    assert model.loss(X).shape == (4, 4)
    _assert_model_grads(model, X, y)


def test_two_layer_net_reads_reg_at_each_call_and_penalises_weights_only():
    np.random.seed(2)
    model = TwoLayerNet(input_dim=5, hidden_dim=4, num_classes=3, weight_scale=0.5)
    X, y = _data(3, 5, 3)
    loss0, grads0 = model.loss(X, y)
    model.reg = 0.8
    loss1, grads1 = model.loss(X, y)
    p = model.params
    penalty = 0.5 * 0.8 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert loss1 == pytest.approx(loss0 + penalty)
    for name in ("W1", "W2"):
        np.testing.assert_allclose(grads1[name], grads0[name] + 0.8 * p[name])
    for name in ("b1", "b2"):
        np.testing.assert_array_equal(grads1[name], grads0[name])


# ---------------------------------------------------------------------------------------
# FullyConnectedNet
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_parameter_layout_and_draw_order(normalization):
    np.random.seed(3)
    model = FullyConnectedNet(
        [4, 5], input_dim=6, num_classes=3, normalization=normalization, weight_scale=0.1
    )
    np.random.seed(3)
    expected = {
        "W1": 0.1 * np.random.randn(6, 4),
        "W2": 0.1 * np.random.randn(4, 5),
        "W3": 0.1 * np.random.randn(5, 3),
        "b1": np.zeros(4),
        "b2": np.zeros(5),
        "b3": np.zeros(3),
    }
    if normalization is not None:
        expected.update(gamma1=np.ones(4), beta1=np.zeros(4), gamma2=np.ones(5), beta2=np.zeros(5))
    assert sorted(model.params) == sorted(expected)
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32, name
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32), err_msg=name)
    assert model.num_layers == 3
    assert len(model.bn_params) == (2 if normalization else 0)
    assert all(isinstance(p, dict) for p in model.bn_params)


def test_fc_net_seed_seeds_dropout_only():
    params = []
    for seed in (None, 1, 2):
        np.random.seed(0)
        model = FullyConnectedNet(
            [4], input_dim=3, num_classes=2, dropout_keep_ratio=0.5, seed=seed
        )
        params.append(model.params)
        assert model.dropout_param["p"] == 0.5
        assert model.dropout_param.get("seed") == seed
        assert ("seed" in model.dropout_param) == (seed is not None)
    for other in params[1:]:
        for name in params[0]:
            np.testing.assert_array_equal(other[name], params[0][name])


FC_CASES = [
    ([], None, 1),
    ([6], None, 1),
    ([5, 4, 3], None, 1),
    ([5, 4], "batchnorm", 1),
    ([5, 4], "layernorm", 1),
    ([6, 5], None, 0.6),
    ([5, 4], "batchnorm", 0.7),
    ([5, 4], "layernorm", 0.7),
]


@pytest.mark.parametrize("hidden, normalization, keep", FC_CASES)
@pytest.mark.parametrize("reg", [0.0, 0.5])
def test_fc_net_gradients(hidden, normalization, keep, reg):
    np.random.seed(4)
    model = FullyConnectedNet(
        hidden,
        input_dim=6,
        num_classes=4,
        dropout_keep_ratio=keep,
        normalization=normalization,
        reg=reg,
        weight_scale=0.5,
        dtype=np.float64,
        seed=123,
    )
    X, y = _data(5, 6, 4, seed=1)
    loss = _assert_model_grads(model, X, y, rtol=1e-5)
    assert np.isfinite(loss)


@pytest.mark.parametrize("normalization", [None, "batchnorm", "layernorm"])
def test_fc_net_float32_matches_float64(normalization):
    kwargs = dict(
        input_dim=6,
        num_classes=4,
        normalization=normalization,
        dropout_keep_ratio=0.8,
        reg=0.1,
        weight_scale=0.5,
        seed=7,
    )
    np.random.seed(5)
    m64 = FullyConnectedNet([5, 4], dtype=np.float64, **kwargs)
    np.random.seed(5)
    m32 = FullyConnectedNet([5, 4], **kwargs)
    assert m32.dtype == np.float32
    X, y = _data(6, 6, 4, seed=2)
    scores = m32.loss(X)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, m64.loss(X), rtol=1e-4, atol=1e-5)
    loss32, grads32 = m32.loss(X, y)
    loss64, grads64 = m64.loss(X, y)
    assert loss32 == pytest.approx(loss64, rel=1e-5)
    for name, g in grads32.items():
        assert g.dtype == np.float32, name
        np.testing.assert_allclose(g, grads64[name], rtol=1e-3, atol=1e-4, err_msg=name)


def test_fc_net_penalises_weights_only():
    np.random.seed(6)
    kwargs = dict(input_dim=5, num_classes=3, normalization="batchnorm", dtype=np.float64)
    model = FullyConnectedNet([4, 4], weight_scale=0.5, **kwargs)
    X, y = _data(6, 5, 3)
    loss0, grads0 = model.loss(X, y)
    model.reg = 0.7
    loss1, grads1 = model.loss(X, y)
    weights = ["W1", "W2", "W3"]
    penalty = 0.5 * 0.7 * sum(np.sum(model.params[w] ** 2) for w in weights)
    assert loss1 == pytest.approx(loss0 + penalty)
    for name in grads0:
        extra = 0.7 * model.params[name] if name in weights else 0
        np.testing.assert_allclose(grads1[name], grads0[name] + extra, err_msg=name)


def test_fc_net_dropout_in_train_mode_only():
    np.random.seed(7)
    kwargs = dict(input_dim=5, num_classes=3, weight_scale=0.5, dtype=np.float64)
    plain = FullyConnectedNet([8, 8], **kwargs)
    dropped = FullyConnectedNet([8, 8], dropout_keep_ratio=0.5, **kwargs)
    dropped.params = {k: v.copy() for k, v in plain.params.items()}
    X, y = _data(6, 5, 3)
    np.testing.assert_array_equal(dropped.loss(X), plain.loss(X))
    assert dropped.loss(X, y)[0] != pytest.approx(plain.loss(X, y)[0])


def test_fc_net_seeded_dropout_is_repeatable():
    np.random.seed(8)
    model = FullyConnectedNet(
        [8], input_dim=5, num_classes=3, dropout_keep_ratio=0.5, dtype=np.float64, seed=3
    )
    X, y = _data(6, 5, 3)
    assert model.loss(X, y)[0] == model.loss(X, y)[0]


def test_fc_net_batchnorm_modes():
    """Test mode (y None) normalises with the running averages, train mode with the batch."""
    np.random.seed(9)
    model = FullyConnectedNet(
        [6], input_dim=4, num_classes=3, normalization="batchnorm", dtype=np.float64
    )
    X, y = _data(8, 4, 3)
    for _ in range(3):
        model.loss(X, y)
    bn = model.bn_params[0]
    assert bn["running_mean"].shape == (6,) and np.any(bn["running_mean"] != 0)

    p = model.params
    a = X @ p["W1"] + p["b1"]

    def scores_given(mean, var):
        h = np.maximum(p["gamma1"] * (a - mean) / np.sqrt(var + 1e-5) + p["beta1"], 0)
        return h @ p["W2"] + p["b2"]

    expected_test = scores_given(bn["running_mean"], bn["running_var"])
    np.testing.assert_allclose(model.loss(X), expected_test)
    np.testing.assert_allclose(model.loss(X[:2]), expected_test[:2])

    expected_train = scores_given(a.mean(axis=0), a.var(axis=0))
    probs = _softmax(expected_train)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(-np.mean(np.log(probs[np.arange(8), y])))


def _softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_fc_net_layernorm_gives_the_same_scores_in_both_modes():
    np.random.seed(10)
    model = FullyConnectedNet(
        [6], input_dim=4, num_classes=3, normalization="layernorm", dtype=np.float64
    )
    X, y = _data(5, 4, 3)
    scores = model.loss(X)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(-np.mean(np.log(_softmax(scores)[np.arange(5), y])))


def test_fc_net_accepts_image_shaped_input():
    np.random.seed(11)
    model = FullyConnectedNet([5], input_dim=2 * 3 * 3, num_classes=4, dtype=np.float64)
    X, y = _data(3, (2, 3, 3), 4)
    assert model.loss(X).shape == (3, 4)
    _assert_model_grads(model, X, y)


# ---------------------------------------------------------------------------------------
# ThreeLayerConvNet
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "input_dim, filter_size, pooled",
    [((3, 8, 8), 3, (4, 4)), ((2, 6, 10), 5, (3, 5)), ((1, 7, 5), 3, (3, 2))],
)
def test_conv_net_parameter_layout_and_draw_order(input_dim, filter_size, pooled):
    np.random.seed(12)
    model = ThreeLayerConvNet(
        input_dim=input_dim, num_filters=4, filter_size=filter_size, hidden_dim=6, num_classes=5
    )
    np.random.seed(12)
    flat = 4 * pooled[0] * pooled[1]
    expected = {
        "W1": 1e-3 * np.random.randn(4, input_dim[0], filter_size, filter_size),
        "W2": 1e-3 * np.random.randn(flat, 6),
        "W3": 1e-3 * np.random.randn(6, 5),
        "b1": np.zeros(4),
        "b2": np.zeros(6),
        "b3": np.zeros(5),
    }
    assert sorted(model.params) == sorted(expected)
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32), err_msg=name)
    X, _ = _data(2, input_dim, 5)
    scores = model.loss(X)
    assert scores.shape == (2, 5) and scores.dtype == np.float32


@pytest.mark.parametrize("input_dim, reg", [((2, 6, 6), 0.0), ((3, 4, 6), 0.4)])
def test_conv_net_gradients(input_dim, reg):
    np.random.seed(13)
    model = ThreeLayerConvNet(
        input_dim=input_dim,
        num_filters=3,
        filter_size=3,
        hidden_dim=5,
        num_classes=3,
        weight_scale=0.3,
        reg=reg,
        dtype=np.float64,
    )
    X, y = _data(2, input_dim, 3, seed=3)
    _assert_model_grads(model, X, y, rtol=1e-5)


def test_conv_net_initial_loss_is_about_log_c_and_float32_grads():
    np.random.seed(14)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, hidden_dim=10)
    X, y = _data(4, (3, 8, 8), 10)
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(10), abs=1e-3)
    assert all(g.dtype == np.float32 for g in grads.values())


def test_models_do_not_modify_their_input():
    X, y = _data(4, (2, 4, 4), 3)
    X32 = X.astype(np.float32)
    before, before32 = X.copy(), X32.copy()
    np.random.seed(15)
    models = [
        TwoLayerNet(input_dim=32, hidden_dim=5, num_classes=3),
        FullyConnectedNet([5], input_dim=32, num_classes=3, normalization="batchnorm"),
        ThreeLayerConvNet(input_dim=(2, 4, 4), num_filters=2, filter_size=3, num_classes=3),
    ]
    for model in models:
        for data in (X, X32):
            model.loss(data)
            model.loss(data, y)
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(X32, before32)
