"""Margins of the bundled data sets' thresholds: the notebooks' reference models against
undertrained ones, scored like the hidden threshold test (held-out split, raw inputs).

Run: ``.venv/bin/python tools/calibrate_thresholds.py`` (about a minute on one core). For each
classification model of the notebooks (the stand-alone two-layer net of ``two_layer_net`` and
the fully connected net of ``fully_connected``, trained with the source notebooks' solution
settings) it prints the held-out digits accuracy after full training and after a few
iterations, next to the threshold of the rule table; docs/course.md quotes the output.
"""

# ruff: noqa: NPY002

from __future__ import annotations

import numpy as np

from grading_tests.rules import THRESHOLDS
from nnkit.heldout import load_heldout
from nnlib.data import load_dataset
from nnlib.solver import Solver
from reference.classifiers import FullyConnectedNet
from reference.neural_net import TwoLayerNet
from reference.optim import adam


def _flat(X: np.ndarray) -> np.ndarray:
    return X.reshape(len(X), -1)


def two_layer_net(num_iters: int) -> float:
    """two_layer_net's tuning solution (hidden 128, lr 3e-2, momentum 0.9, decay 0.95,
    reg 0.1, batches of 100), stopped after ``num_iters``; held-out accuracy."""
    d = load_dataset("digits")
    X_held, y_held = load_heldout("digits")
    best, best_val = None, -1.0
    for hidden in (64, 128):
        for lr in (1e-2, 3e-2):
            np.random.seed(1)
            net = TwoLayerNet(64, hidden, 10)
            net.train(
                _flat(d["X_train"]),
                d["y_train"],
                _flat(d["X_val"]),
                d["y_val"],
                num_iters=num_iters,
                batch_size=100,
                learning_rate=lr,
                learning_rate_decay=0.95,
                reg=0.1,
                momentum=0.9,
            )
            val = float(np.mean(net.predict(_flat(d["X_val"])) == d["y_val"]))
            if val > best_val:
                best, best_val = net, val
    assert best is not None
    return float(np.mean(best.predict(_flat(X_held)) == y_held))


def fully_connected(num_epochs: float) -> float:
    """fully_connected's best-model solution ([128, 128], batchnorm, reg 1e-4, Adam 1e-3 or
    3e-3, batches of 100), ``num_epochs`` epochs (a fraction: that share of one epoch's
    iterations); held-out accuracy with the notebook's preprocessing."""
    raw = load_dataset("digits")
    mean, scale = raw["X_train"].mean(axis=0), raw["X_train"].std()
    data = {k: ((v - mean) / scale if k.startswith("X_") else v) for k, v in raw.items()}
    X_held, y_held = load_heldout("digits")
    best, best_val = None, -1.0
    for lr in (1e-3, 3e-3):
        np.random.seed(0)
        model = FullyConnectedNet(
            [128, 128],
            input_dim=64,
            num_classes=10,
            weight_scale=5e-2,
            normalization="batchnorm",
            reg=1e-4,
        )
        epochs = max(1, int(np.ceil(num_epochs)))
        solver = Solver(
            model,
            data,
            num_epochs=epochs,
            batch_size=100,
            update_rule=adam,
            optim_config={"learning_rate": lr},
            lr_decay=0.95,
            verbose=False,
        )
        if num_epochs < 1:  # a fraction of an epoch: that many steps
            steps = max(1, int(num_epochs * len(data["X_train"]) / 100))
            for _ in range(steps):
                solver._step()
        else:
            solver.train()
        val = solver.check_accuracy(data["X_val"], data["y_val"])
        if val > best_val:
            best, best_val = model, val
    assert best is not None
    pred = np.argmax(best.loss((X_held - mean) / scale), axis=1)
    return float(np.mean(pred == y_held))


def main() -> None:
    t = THRESHOLDS["digits"]
    print(f"digits held-out ({len(load_heldout('digits')[1])} examples)")
    bound = t.bound_for("two_layer_net")
    print(f"two_layer_net (threshold {bound:g}):")
    for iters in (1500, 200, 50, 20):
        acc = two_layer_net(iters)
        print(f"  {iters:5d} iterations: {acc:.4f} ({'pass' if acc >= bound else 'FAIL'})")
    bound = t.bound_for("fully_connected")
    print(f"fully_connected (threshold {bound:g}):")
    for epochs in (15, 1, 0.5, 0.25):
        acc = fully_connected(epochs)
        print(f"  {epochs:5g} epochs: {acc:.4f} ({'pass' if acc >= bound else 'FAIL'})")


if __name__ == "__main__":
    main()
