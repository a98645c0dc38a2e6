"""Every number the seed notebooks publish for the reference API, reproduced.

Inputs are rebuilt exactly as the notebooks build them (np.linspace grids, or the same
np.random draws after the same np.random.seed calls). Published gradient-check errors depend
on the BLAS in use, so they are checked as an order of magnitude (at most 10x the published
value) rather than digit for digit.
"""

# The notebooks' numbers come from numpy's legacy global random state.
# ruff: noqa: NPY002

import numpy as np
import pytest

from nnlib.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from reference import classifiers, layer_utils, layers, neural_net, optim

pytestmark = pytest.mark.reference


def _grid(lo, hi, *shape):
    return np.linspace(lo, hi, num=int(np.prod(shape))).reshape(shape)


# ---------------------------------------------------------------------------------------
# Layers (seed 000 / 001 / 003 / 004)
# ---------------------------------------------------------------------------------------


def test_affine_forward_published_output():
    x = _grid(-0.1, 0.5, 2, 4, 5, 6)
    w = _grid(-0.2, 0.3, 120, 3)
    b = np.linspace(-0.3, 0.1, num=3)
    expected = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    out, _ = layers.affine_forward(x, w, b)
    assert rel_error(out, expected) < 1e-8


def test_affine_backward_published_errors():
    np.random.seed(231)
    x = np.random.randn(10, 2, 3)
    w = np.random.randn(6, 5)
    b = np.random.randn(5)
    dout = np.random.randn(10, 5)
    dx_num = eval_numerical_gradient_array(lambda x: layers.affine_forward(x, w, b)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda w: layers.affine_forward(x, w, b)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda b: layers.affine_forward(x, w, b)[0], b, dout)
    dx, dw, db = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
    assert rel_error(dx_num, dx) < 10 * 5.399100368651805e-11
    assert rel_error(dw_num, dw) < 10 * 9.904211865398145e-11
    assert rel_error(db_num, db) < 10 * 2.4122867568119087e-11


def test_relu_forward_published_output():
    x = _grid(-0.5, 0.5, 3, 4)
    expected = np.array(
        [
            [0.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.04545455, 0.13636364],
            [0.22727273, 0.31818182, 0.40909091, 0.5],
        ]
    )
    out, _ = layers.relu_forward(x)
    assert rel_error(out, expected) < 1e-7


def test_relu_backward_published_error():
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: layers.relu_forward(x)[0], x, dout)
    dx = layers.relu_backward(dout, layers.relu_forward(x)[1])
    assert rel_error(dx_num, dx) < 10 * 3.2756349136310288e-12


def test_sigmoid_forward_published_output():
    x = _grid(-6, 6, 3, 4)
    expected = np.array(
        [
            [0.00247262, 0.00732514, 0.0214955, 0.06138311],
            [0.16296047, 0.36691963, 0.63308037, 0.83703953],
            [0.93861689, 0.9785045, 0.99267486, 0.99752738],
        ]
    )
    out, _ = layers.sigmoid_forward(x)
    assert rel_error(out, expected) < 1e-6


def test_sigmoid_backward_published_error():
    np.random.seed(231)
    x = np.random.randn(10, 10)
    dout = np.random.randn(*x.shape)
    dx_num = eval_numerical_gradient_array(lambda x: layers.sigmoid_forward(x)[0], x, dout)
    dx = layers.sigmoid_backward(dout, layers.sigmoid_forward(x)[1])
    assert rel_error(dx_num, dx) < 10 * 3.446520386706568e-11


def test_affine_relu_published_errors():
    np.random.seed(231)
    x = np.random.randn(2, 3, 4)
    w = np.random.randn(12, 10)
    b = np.random.randn(10)
    dout = np.random.randn(2, 10)
    _, cache = layer_utils.affine_relu_forward(x, w, b)
    dx, dw, db = layer_utils.affine_relu_backward(dout, cache)

    def fwd(x, w, b):
        return layer_utils.affine_relu_forward(x, w, b)[0]

    dx_num = eval_numerical_gradient_array(lambda v: fwd(v, w, b), x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: fwd(x, v, b), w, dout)
    db_num = eval_numerical_gradient_array(lambda v: fwd(x, w, v), b, dout)
    assert rel_error(dx_num, dx) < 10 * 6.750562121603446e-11
    assert rel_error(dw_num, dw) < 10 * 8.162015570444288e-11
    assert rel_error(db_num, db) < 10 * 7.826724021458994e-12


def _seeded_scores():
    np.random.seed(231)
    x = 0.001 * np.random.randn(50, 10)
    y = np.random.randint(10, size=50)
    return x, y


def test_svm_loss_published_value_and_error():
    x, y = _seeded_scores()
    loss, dx = layers.svm_loss(x, y)
    assert loss == pytest.approx(8.999602749096233, abs=1e-12)
    dx_num = eval_numerical_gradient(lambda x: layers.svm_loss(x, y)[0], x, verbose=False)
    assert rel_error(dx_num, dx) < 10 * 1.4021566006651672e-09


def test_softmax_loss_published_value_and_error():
    x, y = _seeded_scores()
    loss, dx = layers.softmax_loss(x, y)
    assert loss == pytest.approx(2.302545844500738, abs=1e-12)
    dx_num = eval_numerical_gradient(lambda x: layers.softmax_loss(x, y)[0], x, verbose=False)
    assert rel_error(dx_num, dx) < 10 * 9.384673161989355e-09


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_random_scores_give_svm_about_9_and_softmax_about_log_10(seed):
    """Seed 004 draws the scores unseeded: the SVM loss is ~9 and the softmax loss ~2.3."""
    rng = np.random.default_rng(seed)
    x = 0.001 * rng.standard_normal((50, 10))
    y = rng.integers(10, size=50)
    assert layers.svm_loss(x, y)[0] == pytest.approx(9.0, abs=0.01)
    assert layers.softmax_loss(x, y)[0] == pytest.approx(np.log(10), abs=1e-3)


def test_mse_loss_published_value_and_error():
    np.random.seed(231)
    x = np.random.randn(50)
    y = np.random.randn(50)
    loss, dx = layers.mse_loss(x, y)
    assert loss == pytest.approx(1.8672282748726519, abs=1e-12)
    dx_num = eval_numerical_gradient(lambda x: layers.mse_loss(x, y)[0], x, verbose=False)
    assert rel_error(dx_num, dx) < 10 * 2.8607953262121067e-09


def test_conv_forward_published_output():
    x = _grid(-0.1, 0.5, 2, 3, 4, 4)
    w = _grid(-0.2, 0.3, 3, 3, 4, 4)
    b = np.linspace(-0.1, 0.2, num=3)
    expected = np.array(
        [
            [
                [[-0.08759809, -0.10987781], [-0.18387192, -0.2109216]],
                [[0.21027089, 0.21661097], [0.22847626, 0.23004637]],
                [[0.50813986, 0.54309974], [0.64082444, 0.67101435]],
            ],
            [
                [[-0.98053589, -1.03143541], [-1.19128892, -1.24695841]],
                [[0.69108355, 0.66880383], [0.59480972, 0.56776003]],
                [[2.36270298, 2.36904306], [2.38090835, 2.38247847]],
            ],
        ]
    )
    out, _ = layers.conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    assert rel_error(out, expected) < 1e-7


def test_max_pool_forward_published_output():
    x = _grid(-0.3, 0.4, 2, 3, 4, 4)
    expected = np.array(
        [
            [
                [[-0.26315789, -0.24842105], [-0.20421053, -0.18947368]],
                [[-0.14526316, -0.13052632], [-0.08631579, -0.07157895]],
                [[-0.02736842, -0.01263158], [0.03157895, 0.04631579]],
            ],
            [
                [[0.09052632, 0.10526316], [0.14947368, 0.16421053]],
                [[0.20842105, 0.22315789], [0.26736842, 0.28210526]],
                [[0.32631579, 0.34105263], [0.38526316, 0.4]],
            ],
        ]
    )
    out, _ = layers.max_pool_forward_naive(x, {"pool_width": 2, "pool_height": 2, "stride": 2})
    assert rel_error(out, expected) < 1e-7


def test_dropout_keeps_about_p_in_train_and_everything_in_test():
    """Seed 004: with p = 0.25 about a quarter of the units survive; test mode keeps all."""
    x = np.random.default_rng(0).standard_normal((100, 100))
    out_train, _ = layers.dropout_forward(x, {"p": 0.25, "mode": "train", "seed": 0})
    out_test, _ = layers.dropout_forward(x, {"p": 0.25, "mode": "test"})
    assert np.mean(out_train != 0) == pytest.approx(0.25, abs=0.02)
    assert np.mean(out_test != 0) == 1.0


# ---------------------------------------------------------------------------------------
# Batch normalisation statistics (seed 003)
# ---------------------------------------------------------------------------------------


def _two_layer_activations(W1, W2, n=200):
    X = np.random.randn(n, W1.shape[0])
    return np.maximum(0, X @ W1) @ W2


def test_batchnorm_train_statistics_published():
    np.random.seed(231)
    X = np.random.randn(200, 50)
    W1 = np.random.randn(50, 60)
    W2 = np.random.randn(60, 3)
    a = np.maximum(0, X @ W1) @ W2
    np.testing.assert_allclose(a.mean(axis=0), [-2.3814598, -13.18038246, 1.91780462], rtol=1e-7)
    np.testing.assert_allclose(a.std(axis=0), [27.18502186, 34.21455511, 37.68611762], rtol=1e-7)

    a_norm, _ = layers.batchnorm_forward(a, np.ones(3), np.zeros(3), {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), 0, atol=1e-15)
    np.testing.assert_allclose(a_norm.std(axis=0), [0.99999999, 1.0, 1.0], rtol=1e-8)

    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    a_norm, _ = layers.batchnorm_forward(a, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(a_norm.mean(axis=0), [11.0, 12.0, 13.0], rtol=1e-12)
    np.testing.assert_allclose(a_norm.std(axis=0), [0.99999999, 1.99999999, 2.99999999], rtol=1e-8)


def test_batchnorm_test_time_statistics_published():
    np.random.seed(231)
    W1 = np.random.randn(50, 60)
    W2 = np.random.randn(60, 3)
    bn_param = {"mode": "train"}
    for _ in range(50):
        layers.batchnorm_forward(_two_layer_activations(W1, W2), np.ones(3), np.zeros(3), bn_param)
    bn_param["mode"] = "test"
    a_norm, _ = layers.batchnorm_forward(
        _two_layer_activations(W1, W2), np.ones(3), np.zeros(3), bn_param
    )
    np.testing.assert_allclose(a_norm.mean(axis=0), [-0.03927354, -0.04349152, -0.10452688], 1e-6)
    np.testing.assert_allclose(a_norm.std(axis=0), [1.01531428, 1.01238373, 0.97819988], 1e-7)


@pytest.mark.parametrize("backward", [layers.batchnorm_backward, layers.batchnorm_backward_alt])
def test_batchnorm_backward_within_published_range(backward):
    """Seed 003 expects relative errors between 1e-13 and 1e-8 on this check."""
    np.random.seed(231)
    x = 5 * np.random.randn(4, 5) + 12
    gamma = np.random.randn(5)
    beta = np.random.randn(5)
    dout = np.random.randn(4, 5)
    bn_param = {"mode": "train"}

    def fwd(x, g, b):
        return layers.batchnorm_forward(x, g, b, bn_param)[0]

    dx_num = eval_numerical_gradient_array(lambda v: fwd(v, gamma, beta), x, dout)
    dg_num = eval_numerical_gradient_array(lambda v: fwd(x, v, beta), gamma.copy(), dout)
    db_num = eval_numerical_gradient_array(lambda v: fwd(x, gamma, v), beta.copy(), dout)
    dx, dgamma, dbeta = backward(dout, layers.batchnorm_forward(x, gamma, beta, bn_param)[1])
    assert rel_error(dx_num, dx) < 1e-8
    assert rel_error(dg_num, dgamma) < 1e-8
    assert rel_error(db_num, dbeta) < 1e-8


# ---------------------------------------------------------------------------------------
# Update rules (seed 000)
# ---------------------------------------------------------------------------------------


def _update_inputs():
    return _grid(-0.4, 0.6, 4, 5), _grid(-0.6, 0.4, 4, 5)


def test_sgd_momentum_published_arrays():
    w, dw = _update_inputs()
    config = {"learning_rate": 1e-3, "velocity": _grid(0.6, 0.9, 4, 5)}
    next_w, _ = optim.sgd_momentum(w, dw, config=config)
    expected_next_w = [
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
    ]
    expected_velocity = [
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096],
    ]
    assert rel_error(next_w, np.array(expected_next_w)) < 1e-8
    assert rel_error(config["velocity"], np.array(expected_velocity)) < 1e-8


def test_rmsprop_published_arrays():
    w, dw = _update_inputs()
    config = {"learning_rate": 1e-2, "cache": _grid(0.6, 0.9, 4, 5)}
    next_w, _ = optim.rmsprop(w, dw, config=config)
    expected_next_w = [
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
    ]
    expected_cache = [
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926],
    ]
    assert rel_error(next_w, np.array(expected_next_w)) < 1e-7
    assert rel_error(config["cache"], np.array(expected_cache)) < 1e-7


def test_adam_published_arrays():
    w, dw = _update_inputs()
    config = {
        "learning_rate": 1e-2,
        "m": _grid(0.6, 0.9, 4, 5),
        "v": _grid(0.7, 0.5, 4, 5),
        "t": 5,
    }
    next_w, _ = optim.adam(w, dw, config=config)
    expected_next_w = [
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
    ]
    expected_v = [
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
    ]
    expected_m = [
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85],
    ]
    assert rel_error(next_w, np.array(expected_next_w)) < 1e-6
    assert rel_error(config["v"], np.array(expected_v)) < 1e-7
    assert rel_error(config["m"], np.array(expected_m)) < 1e-7
    assert config["t"] == 6


# ---------------------------------------------------------------------------------------
# Modular models (seed 000)
# ---------------------------------------------------------------------------------------


def _linspace_two_layer_net():
    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    np.random.randn(N, D)  # the notebook draws (and then discards) X and y first
    np.random.randint(C, size=N)
    std = 1e-3
    model = classifiers.TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    params = dict(model.params)
    model.params["W1"] = _grid(-0.7, 0.3, D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = _grid(-0.3, 0.4, H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    return model, params, std, X, np.asarray([0, 5, 1])


def test_two_layer_net_initialisation():
    _, params, std, _, _ = _linspace_two_layer_net()
    assert abs(params["W1"].std() - std) < std / 10
    assert abs(params["W2"].std() - std) < std / 10
    assert np.all(params["b1"] == 0) and np.all(params["b2"] == 0)


def test_two_layer_net_published_scores():
    """The seed prints 18 of the 21 scores (the last column was lost in extraction)."""
    model, _, _, X, _ = _linspace_two_layer_net()
    published = np.array(
        [
            [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765],
            [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135],
            [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506],
        ]
    )
    scores = model.loss(X)
    assert scores.shape == (3, 7)
    assert np.abs(scores[:, :6] - published).sum() < 1e-6


def test_two_layer_net_published_losses():
    model, _, _, X, y = _linspace_two_layer_net()
    assert model.loss(X, y)[0] == pytest.approx(3.4702243556, abs=1e-10)
    model.reg = 1.0
    assert model.loss(X, y)[0] == pytest.approx(26.5948426952, abs=1e-10)


@pytest.mark.parametrize("reg", [0.0, 0.7])
def test_two_layer_net_gradient_check_as_published(reg):
    """The notebook expects errors around 1e-7 or less (it shows up to 8.18e-07)."""
    model, _, _, X, y = _linspace_two_layer_net()
    model.reg = reg
    _, grads = model.loss(X, y)
    for name in sorted(grads):
        num = eval_numerical_gradient(
            lambda _: model.loss(X, y)[0], model.params[name], verbose=False
        )
        assert rel_error(num, grads[name]) < 1e-6, name


def test_fully_connected_net_published_initial_losses_and_gradients():
    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    published = {0: 2.3004790897684924, 3.14: 7.052114776533016}
    for reg, expected_loss in published.items():
        model = classifiers.FullyConnectedNet(
            [H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64
        )
        loss, grads = model.loss(X, y)
        assert loss == pytest.approx(expected_loss, abs=1e-12)
        for name in sorted(grads):
            num = eval_numerical_gradient(
                lambda _, m=model: m.loss(X, y)[0], model.params[name], verbose=False, h=1e-5
            )
            # The notebook allows W2 an error around 1e-5 without regularisation.
            tol = 1e-4 if (reg, name) == (0, "W2") else 1e-6
            assert rel_error(num, grads[name]) < tol, (reg, name)


# ---------------------------------------------------------------------------------------
# The stand-alone two-layer net (seeds 002 and 004)
# ---------------------------------------------------------------------------------------


def _toy_model():
    np.random.seed(0)
    return neural_net.TwoLayerNet(4, 10, 3, std=1e-1)


def _toy_data():
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    return X, np.array([0, 1, 2, 2, 1])


def test_standalone_net_published_scores_and_loss():
    net = _toy_model()
    X, y = _toy_data()
    expected_scores = np.array(
        [
            [-0.81233741, -1.27654624, -0.70335995],
            [-0.17129677, -1.18803311, -0.47310444],
            [-0.51590475, -1.01354314, -0.8504215],
            [-0.15419291, -0.48629638, -0.52901952],
            [-0.00618733, -0.12435261, -0.15226949],
        ]
    )
    assert np.sum(np.abs(net.loss(X) - expected_scores)) < 1e-7
    assert np.sum(np.abs(net.loss(X, y, reg=0.1)[0] - 1.30378789133)) < 1e-12


def test_standalone_net_gradient_check_as_published():
    """Seed 002 expects errors below 1e-8 or so with reg = 0.05."""
    net = _toy_model()
    X, y = _toy_data()
    _, grads = net.loss(X, y, reg=0.05)
    for name, grad in grads.items():
        num = eval_numerical_gradient(
            lambda _: net.loss(X, y, reg=0.05)[0], net.params[name], verbose=False
        )
        assert rel_error(num, grad) < 1e-8, name


def test_standalone_net_published_toy_training_loss():
    """Seed 002: a fresh toy model (seed 0), then 100 iterations of train on the toy data."""
    X, y = _toy_data()
    net = _toy_model()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert stats["loss_history"][-1] == pytest.approx(0.017143643532923733, rel=1e-9)
    assert stats["loss_history"][-1] < 0.05


def test_standalone_net_linspace_toy_published_scores_and_loss():
    """Seed 004's variant: the toy model and data are linspace grids; reg = 0.1."""
    net = neural_net.TwoLayerNet(4, 10, 3)
    net.params["W1"] = _grid(-0.2, 0.6, 4, 10)
    net.params["b1"] = np.linspace(-0.3, 0.7, num=10)
    net.params["W2"] = _grid(-0.4, 0.1, 10, 3)
    net.params["b2"] = np.linspace(-0.5, 0.9, num=3)
    X = _grid(-0.2, 0.5, 5, 4)
    y = np.array([0, 1, 2, 2, 1])
    expected_scores = np.array(
        [
            [-0.5328368, 0.20031504, 0.93346689],
            [-0.59412164, 0.15498488, 0.9040914],
            [-0.67658362, 0.08978957, 0.85616275],
            [-0.77092643, 0.01339997, 0.79772637],
            [-0.89110401, -0.08754544, 0.71601312],
        ]
    )
    assert np.sum(np.abs(net.loss(X) - expected_scores)) < 1e-7
    assert np.sum(np.abs(net.loss(X, y, reg=0.1)[0] - 1.38191946092)) < 1e-10
