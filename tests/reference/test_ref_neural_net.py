"""Reference stand-alone two-layer net: loss, gradients, predict and the train() schedule."""

# The net draws weights and minibatches from numpy's legacy global random state (docs/api.md).
# ruff: noqa: NPY002

import numpy as np
import pytest

from nnlib.gradient_check import eval_numerical_gradient
from reference.neural_net import TwoLayerNet

pytestmark = pytest.mark.reference


def _problem(n=10, d=5, c=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = rng.integers(c, size=n)
    return X, y, rng.standard_normal((7, d)), rng.integers(c, size=7)


def _net(d=5, h=6, c=3, seed=1, std=0.5):
    np.random.seed(seed)
    return TwoLayerNet(d, h, c, std=std)


def test_parameters_are_drawn_in_order():
    np.random.seed(2)
    net = TwoLayerNet(4, 6, 3, std=0.1)
    np.random.seed(2)
    np.testing.assert_array_equal(net.params["W1"], 0.1 * np.random.randn(4, 6))
    np.testing.assert_array_equal(net.params["W2"], 0.1 * np.random.randn(6, 3))
    np.testing.assert_array_equal(net.params["b1"], np.zeros(6))
    np.testing.assert_array_equal(net.params["b2"], np.zeros(3))


def test_default_std_is_1e_minus_4():
    np.random.seed(3)
    net = TwoLayerNet(200, 50, 10)
    assert net.params["W1"].std() == pytest.approx(1e-4, rel=0.05)


@pytest.mark.parametrize("reg", [0.0, 0.3])
@pytest.mark.parametrize("n, d, h, c", [(6, 5, 7, 4), (1, 3, 2, 2)])
def test_gradients(reg, n, d, h, c):
    net = _net(d, h, c)
    X, y, _, _ = _problem(n, d, c)
    loss, grads = net.loss(X, y, reg=reg)
    assert sorted(grads) == ["W1", "W2", "b1", "b2"]
    for name, grad in grads.items():
        num = eval_numerical_gradient(
            lambda _: net.loss(X, y, reg=reg)[0], net.params[name], verbose=False
        )
        np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9, err_msg=name)


def test_loss_matches_definition():
    net = _net()
    X, y, _, _ = _problem()
    p = net.params
    scores = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    np.testing.assert_allclose(net.loss(X), scores)
    probs = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    data_loss = -np.mean(np.log(probs[np.arange(len(y)), y]))
    penalty = 0.5 * 0.2 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert net.loss(X, y, reg=0.2)[0] == pytest.approx(data_loss + penalty)


def test_predict_returns_integer_argmax():
    net = _net()
    X, _, _, _ = _problem()
    pred = net.predict(X)
    assert pred.shape == (10,) and pred.dtype.kind == "i"
    np.testing.assert_array_equal(pred, net.loss(X).argmax(axis=1))


def _train(net, X, y, Xv, yv, seed=0, **kwargs):
    np.random.seed(seed)
    return net.train(X, y, Xv, yv, **kwargs)


def test_epochs_are_whole_minibatches():
    X, y, Xv, yv = _problem(n=10)
    # iterations_per_epoch = 10 // 4 = 2: accuracies at it = 0, 2, 4, 6, 8, 10.
    stats = _train(_net(), X, y, Xv, yv, num_iters=12, batch_size=4)
    assert len(stats["loss_history"]) == 12
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 6
    # A batch larger than the data set gives one epoch per iteration.
    stats = _train(_net(), X, y, Xv, yv, num_iters=4, batch_size=200)
    assert len(stats["train_acc_history"]) == 4


def test_minibatches_come_from_np_random_choice():
    X, y, Xv, yv = _problem(n=10)
    net, twin = _net(), _net()
    stats = _train(net, X, y, Xv, yv, seed=5, num_iters=2, batch_size=4, reg=0.1)
    np.random.seed(5)
    first = np.random.choice(10, 4)
    assert stats["loss_history"][0] == pytest.approx(twin.loss(X[first], y[first], reg=0.1)[0])


@pytest.mark.parametrize("n", [8, 10])
def test_sgd_and_momentum_updates_with_decay_after_each_epoch(n):
    # N = 10 is not a multiple of the batch size: epochs are still 10 // 4 = 2 iterations.
    X, y, Xv, yv = _problem(n=n)
    kwargs = dict(learning_rate=0.1, learning_rate_decay=0.5, reg=0.01, batch_size=4)
    for momentum in (0.0, 0.9):
        net, twin = _net(), _net()
        _train(net, X, y, Xv, yv, num_iters=5, momentum=momentum, **kwargs)
        # The same five steps by hand: epochs of n // 4 = 2 iterations, decay at it = 0, 2, 4.
        np.random.seed(0)
        lr = 0.1
        velocity = {k: np.zeros_like(v) for k, v in twin.params.items()}
        for it in range(5):
            batch = np.random.choice(n, 4)
            _, grads = twin.loss(X[batch], y[batch], reg=0.01)
            for k in twin.params:
                velocity[k] = momentum * velocity[k] - lr * grads[k]
                twin.params[k] = twin.params[k] + velocity[k]
            if it % 2 == 0:
                lr *= 0.5
        for k in net.params:
            np.testing.assert_allclose(net.params[k], twin.params[k], rtol=1e-12, err_msg=k)


def test_learning_rate_decays_after_the_update_of_iteration_0():
    X, y, Xv, yv = _problem(n=10)
    kwargs = dict(learning_rate=0.5, learning_rate_decay=0.0, batch_size=4)
    one, five = _net(), _net()
    _train(one, X, y, Xv, yv, num_iters=1, **kwargs)
    _train(five, X, y, Xv, yv, num_iters=5, **kwargs)
    untouched = _net()
    assert not np.allclose(one.params["W1"], untouched.params["W1"])
    for k in one.params:
        np.testing.assert_array_equal(five.params[k], one.params[k])


def test_momentum_velocity_restarts_at_zero_on_every_call():
    X, y, Xv, yv = _problem(n=10)
    with_momentum, without = _net(), _net()
    for call in range(2):
        _train(with_momentum, X, y, Xv, yv, seed=call, num_iters=1, momentum=0.9)
        _train(without, X, y, Xv, yv, seed=call, num_iters=1, momentum=0.0)
    for k in without.params:
        np.testing.assert_allclose(with_momentum.params[k], without.params[k], rtol=1e-12)


def test_accuracies_are_measured_after_the_update():
    X, y, Xv, yv = _problem(n=10)
    net = _net()
    stats = _train(net, X, y, Xv, yv, seed=4, num_iters=1, batch_size=6, learning_rate=1.0)
    np.random.seed(4)
    batch = np.random.choice(10, 6)
    assert stats["train_acc_history"] == [np.mean(net.predict(X[batch]) == y[batch])]
    assert stats["val_acc_history"] == [np.mean(net.predict(Xv) == yv)]


def test_training_fits_a_separable_toy_problem():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((60, 2))
    y = (X[:, 0] > 0).astype(int)
    np.random.seed(0)
    net = TwoLayerNet(2, 16, 2, std=0.5)
    stats = net.train(X, y, X, y, learning_rate=0.5, num_iters=200, batch_size=30, momentum=0.5)
    assert stats["loss_history"][-1] < stats["loss_history"][0] / 3
    assert np.mean(net.predict(X) == y) >= 0.95
