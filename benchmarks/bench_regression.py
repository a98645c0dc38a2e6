"""Calibration of the regression thresholds (prints a table; not a test).

    .venv/bin/python benchmarks/bench_regression.py                       # diabetes
    NNKIT_DATA=DIR .venv/bin/python benchmarks/bench_regression.py --dataset california

For one regression data set it runs the code of the fully_connected notebook's regression
section (the cells' source, read from source/fully_connected/DeepNetworks.ipynb, with the
reference implementations in place of the student's) and scores on the held-out split
(nnkit.heldout, as grading_tests/test_thresholds.py does):

* the mean predictor (the mean training target);
* linear regression in closed form (least squares on the same standardised training rows);
* the notebook's solution (the reference regression net), once per seed;
* other reasonable settings, to see the spread of nets;
* undertrained nets: the solution's architecture and settings after a few epochs.

and prints each held-out RMSE with its margin to the bound of grading_tests/rules.py.
"""

# The notebook seeds numpy's global generator, as students do.
# ruff: noqa: NPY002

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEEP = ROOT / "source" / "fully_connected" / "DeepNetworks.ipynb"


def regression_cells() -> list[str]:
    """The regression exercise's code cells: data, baselines, trainer, then the solution."""
    from nnkit.course.notebook import code_between

    return code_between(DEEP, "best_fc_model", "train_regression_model")


#: (label, text of the solution, replacement): other settings, to see the spread of nets
VARIANTS: dict[str, list[tuple[str, str, str]]] = {
    "diabetes": [
        (
            "net [16], L2 0.01, 100 epochs",
            "[64], 0.1, 200, 32, 1.0",
            "[16], 0.01, 100, 32, 1.0",
        ),
        ("net [32, 32], L2 0.1", "[64], 0.1, 200, 32, 1.0", "[32, 32], 0.1, 200, 32, 1.0"),
        ("net [64], L2 0.3", "[64], 0.1, 200, 32, 1.0", "[64], 0.3, 200, 32, 1.0"),
        ("net [64], no L2", "[64], 0.1, 200, 32, 1.0", "[64], 0.0, 200, 32, 1.0"),
    ],
    "california": [
        ("net [64], one hidden layer", "[64, 64], 1e-4, 20", "[64], 1e-4, 20"),
        (
            "net [64, 64], no lr decay",
            "[64, 64], 1e-4, 20, 100, 0.95",
            "[64, 64], 1e-4, 20, 100, 1.0",
        ),
    ],
}

#: epochs of the undertrained nets (the solution trains 200 on diabetes, 20 on California)
UNDERTRAINED = {"diabetes": (1, 3, 5, 10), "california": (1, 2)}


def _namespace(dataset: str) -> dict:
    """Globals of the notebook's regression cells: the reference in place of the student's."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from nnlib.data import load_dataset
    from nnlib.model_io import save_model
    from reference.classifiers import FullyConnectedNet
    from reference.optim import adam

    os.environ["NNKIT_DATASET"] = dataset
    return {
        "os": os,
        "np": np,
        "plt": plt,
        "load_dataset": load_dataset,
        "save_model": save_model,
        "FullyConnectedNet": FullyConnectedNet,
        "adam": adam,
    }


def _heldout_rmse(ns: dict, predict, X: np.ndarray, y: np.ndarray) -> float:
    """RMSE in the data set's units of a predictor of standardised inputs."""
    Z = (X - ns["reg_x_mean"]) / ns["reg_x_std"]
    return float(np.sqrt(np.mean((ns["to_units"](predict(Z)) - y) ** 2)))


def measure(dataset: str, seeds: int) -> list[tuple[str, float]]:
    """(label, held-out RMSE) rows for one data set."""
    from nnkit.heldout import load_heldout

    *setup, solution = regression_cells()
    ns = _namespace(dataset)
    for cell in setup:
        exec(cell, ns)
    X, y = load_heldout(dataset)
    rows = [
        ("mean predictor", float(np.sqrt(np.mean((ns["reg_y_mean"] - y) ** 2)))),
        (
            "linear regression (closed form)",
            _heldout_rmse(ns, lambda Z: ns["with_bias"](Z) @ ns["linear_coef"], X, y),
        ),
    ]
    assert solution.count("np.random.seed(0)") == 1
    for seed in range(seeds):
        start = time.monotonic()
        exec(solution.replace("np.random.seed(0)", f"np.random.seed({seed})"), ns)
        model = ns["reg_model"]
        rmse = _heldout_rmse(ns, lambda Z, m=model: m.loss(Z)[:, 0], X, y)
        label = f"reference net, seed {seed} ({time.monotonic() - start:.0f} s)"
        rows.append((label, rmse))
    # other reasonable choices a student might make (same trainer, one seed)
    for label, old, new in VARIANTS[dataset]:
        assert solution.count(old) == 1, old
        exec(solution.replace(old, new), ns)
        model = ns["reg_model"]
        rows.append((label, _heldout_rmse(ns, lambda Z, m=model: m.loss(Z)[:, 0], X, y)))
    # undertrained: the solution's architecture and settings, stopped early
    for epochs in UNDERTRAINED[dataset]:
        exec(solution.replace("num_epochs=epochs", f"num_epochs={epochs}"), ns)
        model = ns["reg_model"]
        label = f"undertrained net ({epochs} epoch{'s' if epochs != 1 else ''})"
        rows.append((label, _heldout_rmse(ns, lambda Z, m=model: m.loss(Z)[:, 0], X, y)))
    return rows


def resplits(count: int) -> list[tuple[float, float]]:
    """(linear, reference net) RMSE on ``count`` random re-splits of all diabetes rows
    (public and held-out together: 67 scored, 50 validation, the rest training), to see
    whether the net's advantage over linear regression is larger than the noise."""
    from nnkit.heldout import load_heldout
    from nnlib.data import load_bundled

    *setup, solution = regression_cells()
    X, y = load_bundled("diabetes")
    Xh, yh = load_heldout("diabetes")
    X, y = np.r_[X, Xh], np.r_[y, yh]
    out = []
    for r in range(count):
        order = np.random.default_rng(1000 + r).permutation(len(X))
        scored, val, train = np.split(order, [len(yh), len(yh) + 50])
        split = {"X_train": X[train], "y_train": y[train], "X_val": X[val], "y_val": y[val]}
        split.update(X_test=X[val], y_test=y[val])
        ns = _namespace("diabetes")
        ns["load_dataset"] = lambda name, split=split: split
        for cell in setup:
            exec(cell, ns)
        exec(solution.replace("np.random.seed(0)", f"np.random.seed({r})"), ns)
        model = ns["reg_model"]
        linear = _heldout_rmse(
            ns, lambda Z, ns=ns: ns["with_bias"](Z) @ ns["linear_coef"], X[scored], y[scored]
        )
        net = _heldout_rmse(ns, lambda Z, m=model: m.loss(Z)[:, 0], X[scored], y[scored])
        out.append((linear, net))
    return out


def main(argv: list[str] | None = None) -> int:
    from grading_tests.rules import THRESHOLDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="diabetes", choices=["diabetes", "california"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument(
        "--resplits",
        type=int,
        default=0,
        help="diabetes only: also compare linear regression and the net on N random re-splits",
    )
    args = parser.parse_args(argv)
    bound = THRESHOLDS[args.dataset].bound
    rows = measure(args.dataset, args.seeds)
    print(f"{args.dataset}: held-out RMSE (bound {bound:g}; margin = bound - RMSE)")
    for label, rmse in rows:
        verdict = "passes" if rmse <= bound else "fails"
        print(f"  {label:42s} {rmse:9.4f}  margin {bound - rmse:+8.4f}  {verdict}")
    nets = [r for label, r in rows if label.startswith("reference net")]
    print(f"  reference nets: mean {np.mean(nets):.4f}, worst {max(nets):.4f}")
    if args.resplits and args.dataset == "diabetes":
        pairs = np.array(resplits(args.resplits))
        diff = pairs[:, 1] - pairs[:, 0]
        print(f"{args.resplits} random re-splits of all diabetes rows (67 scored each):")
        print(f"  linear regression: mean RMSE {pairs[:, 0].mean():.2f}")
        print(f"  reference net:     mean RMSE {pairs[:, 1].mean():.2f}")
        print(
            f"  net - linear: mean {diff.mean():+.2f}, standard deviation {diff.std(ddof=1):.2f}, "
            f"net better in {int((diff < 0).sum())} of {len(diff)}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
