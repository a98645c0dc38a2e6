"""nnlib.solver.Solver: training behaviour on the reference models and on small fakes."""

# The API (and reproducible runs after np.random.seed) use numpy's global random state.
# ruff: noqa: NPY002

import numpy as np
import pytest

from nnlib.data import load_dataset
from nnlib.model_io import load_model
from nnlib.solver import UPDATE_RULES, Solver, sgd
from reference.classifiers import FullyConnectedNet
from reference.optim import adam

pytestmark = pytest.mark.studentlib


@pytest.fixture(scope="module")
def digits():
    d = load_dataset("digits")
    mean = d["X_train"].mean(axis=0)
    return {k: (v - mean) / 16.0 if k.startswith("X") else v for k, v in d.items()}


def test_trains_fully_connected_net_on_digits(digits):
    np.random.seed(0)
    model = FullyConnectedNet(
        [100, 100],
        input_dim=64,
        num_classes=10,
        normalization="batchnorm",
        dropout_keep_ratio=0.8,
        weight_scale=5e-2,
        dtype=np.float64,
    )
    solver = Solver(
        model,
        digits,
        update_rule=adam,
        optim_config={"learning_rate": 3e-3},
        lr_decay=0.9,
        num_epochs=12,
        batch_size=50,
        verbose=False,
    )
    solver.train()
    assert solver.best_val_acc >= 0.97
    # The model ends with its best parameters (running statistics included).
    assert solver.check_accuracy(digits["X_val"], digits["y_val"]) == solver.best_val_acc
    for name, value in solver.best_params.items():
        np.testing.assert_array_equal(model.params[name], value)
    assert len(solver.val_acc_history) == 12 + 1
    assert len(solver.loss_history) == 12 * (1227 // 50)


def test_overfits_fifty_examples(digits):
    np.random.seed(1)
    small = {
        "X_train": digits["X_train"][:50],
        "y_train": digits["y_train"][:50],
        "X_val": digits["X_val"],
        "y_val": digits["y_val"],
    }
    model = FullyConnectedNet(
        [100, 100], input_dim=64, num_classes=10, weight_scale=2e-1, dtype=np.float64
    )
    solver = Solver(
        model,
        small,
        update_rule="sgd",
        optim_config={"learning_rate": 0.3},
        num_epochs=20,
        batch_size=25,
        verbose=False,
    )
    solver.train()
    assert solver.train_acc_history[-1] == 1.0
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]


class LinearModel:
    """Softmax regression with the model interface; counts the rows it scores."""

    def __init__(self, D: int, C: int) -> None:
        self.params = {"W": np.zeros((D, C)), "b": np.zeros(C)}
        self.scored = 0

    def loss(self, X, y=None):
        scores = X @ self.params["W"] + self.params["b"]
        if y is None:
            self.scored += len(X)
            return scores
        p = np.exp(scores - scores.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        loss = -np.log(p[np.arange(len(y)), y]).mean()
        p[np.arange(len(y)), y] -= 1
        p /= len(y)
        return loss, {"W": X.T @ p, "b": p.sum(axis=0)}


def toy_data(n_train=60, n_val=30, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_train + n_val, 4))
    y = (X[:, 0] > 0).astype(int)
    return {
        "X_train": X[:n_train],
        "y_train": y[:n_train],
        "X_val": X[n_train:],
        "y_val": y[n_train:],
    }


def test_update_rules_by_name_or_callable():
    assert UPDATE_RULES == {"sgd": sgd}
    w, dw = np.ones(3), np.full(3, 2.0)
    next_w, config = sgd(w, dw)
    np.testing.assert_allclose(next_w, 1 - 1e-2 * 2)
    assert config == {"learning_rate": 1e-2}
    with pytest.raises(ValueError, match="sgd_momentum.*your own rule"):
        Solver(LinearModel(4, 2), toy_data(), update_rule="sgd_momentum")
    with pytest.raises(ValueError, match="unrecognized arguments: learning_rate"):
        Solver(LinearModel(4, 2), toy_data(), learning_rate=1.0)


def test_each_parameter_gets_its_own_config_and_lr_decays_per_epoch():
    seen = []

    def recording_rule(w, dw, config):
        config.setdefault("steps", 0)
        config["steps"] += 1
        seen.append((id(config), config["learning_rate"]))
        return w - config["learning_rate"] * dw, config

    user_config = {"learning_rate": 1.0}
    np.random.seed(0)
    solver = Solver(
        LinearModel(4, 2),
        toy_data(),
        update_rule=recording_rule,
        optim_config=user_config,
        lr_decay=0.5,
        num_epochs=3,
        batch_size=20,
        verbose=False,
    )
    solver.train()
    assert user_config == {"learning_rate": 1.0}
    configs = solver.optim_configs
    assert configs["W"] is not configs["b"]
    assert configs["W"]["steps"] == configs["b"]["steps"] == 9
    # 3 iterations per epoch; the rate halves after each epoch.
    rates = [rate for config_id, rate in seen if config_id == id(configs["W"])]
    assert rates == [1.0] * 3 + [0.5] * 3 + [0.25] * 3
    assert configs["W"]["learning_rate"] == 0.125


def test_check_accuracy_subsamples_and_batches():
    data = toy_data(n_train=500, n_val=10)
    model = LinearModel(4, 2)
    model.params["W"][0] = [-1.0, 1.0]  # the exact rule: accuracy 1
    solver = Solver(model, data, verbose=False)
    assert (
        solver.check_accuracy(data["X_train"], data["y_train"], num_samples=120, batch_size=50)
        == 1.0
    )
    assert model.scored == 120
    model.params["W"][0] = [1.0, -1.0]
    assert solver.check_accuracy(data["X_val"], data["y_val"]) == 0.0


def test_best_parameters_are_restored_and_progress_printed(capsys):
    data = toy_data()
    model = LinearModel(4, 2)
    model.params["W"][0] = [-1.0, 1.0]  # perfect at the start; training makes it worse
    start = {k: v.copy() for k, v in model.params.items()}

    def wrong_way(w, dw, config):
        return w + 5.0 * dw, config

    np.random.seed(0)
    solver = Solver(
        model, data, update_rule=wrong_way, num_epochs=2, batch_size=30, print_every=1, verbose=True
    )
    solver.train()
    out = capsys.readouterr().out
    assert "(Iteration 1 / 4) loss:" in out and "(Iteration 4 / 4) loss:" in out
    assert "(Epoch 0 / 2) train acc:" in out and "(Epoch 2 / 2) train acc:" in out
    assert solver.val_acc_history[0] == solver.best_val_acc > solver.val_acc_history[-1]
    best_after_first_step = solver.best_params
    assert not np.array_equal(best_after_first_step["W"], start["W"])  # one update happened
    for name in start:
        np.testing.assert_array_equal(model.params[name], solver.best_params[name])
    assert model.params is not solver.best_params

    Solver(LinearModel(4, 2), data, num_epochs=1, batch_size=30, verbose=False).train()
    assert capsys.readouterr().out == ""


def test_checkpoints_are_data_only_model_files(tmp_path, digits):
    np.random.seed(0)
    model = FullyConnectedNet(
        [20], input_dim=64, num_classes=10, normalization="batchnorm", dtype=np.float64
    )
    solver = Solver(
        model,
        digits,
        num_epochs=2,
        batch_size=200,
        verbose=False,
        checkpoint_name=str(tmp_path / "fc"),
        optim_config={"learning_rate": 0.1},
    )
    solver.train()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["fc_epoch_0.npz", "fc_epoch_1.npz", "fc_epoch_2.npz"]
    saved = load_model(tmp_path / "fc_epoch_2.npz")
    assert saved.extra["epoch"] == 2
    assert saved.extra["val_acc_history"] == solver.val_acc_history
    assert saved.config["hidden_dims"] == [20] and 1 in saved.running_stats
