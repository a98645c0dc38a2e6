"""``nnkit demo`` -- PLACEHOLDER, to be replaced by the course engineer's end-to-end demo.

For now: train the reference FullyConnectedNet on the bundled digits with nnlib's Solver
when the pieces exist, else say what is missing.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--epochs", type=int, default=5, help="training epochs")


def run(args: argparse.Namespace) -> int:
    try:
        from nnlib.data import load_dataset
        from nnlib.solver import Solver
        from reference.classifiers import FullyConnectedNet
        from reference.optim import adam
    except ImportError as e:
        print(f"nnkit demo is not available yet ({e}).")
        return 1
    data = load_dataset("digits")
    data = {k: v for k, v in data.items() if k in ("X_train", "y_train", "X_val", "y_val")}
    dim = int(data["X_train"][0].size)
    model = FullyConnectedNet([64], input_dim=dim, num_classes=10, weight_scale=1e-2)
    solver = Solver(model, data, update_rule=adam, optim_config={"learning_rate": 1e-3},
                    num_epochs=args.epochs, batch_size=50, verbose=False)
    solver.train()
    print(f"digits: best validation accuracy {solver.best_val_acc:.3f} "
          "(placeholder demo; the full demo is `nnkit demo` of issue 4)")
    return 0
