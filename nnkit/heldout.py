"""Held-out splits for grading (trusted side only; never shipped to students).

``load_heldout(name) -> (X, y)``: 'digits' / 'diabetes' from nnkit/data/*_heldout.npz (rows that
nnlib/data does not contain), 'cifar10' the official test_batch, 'mnist' the t10k files,
'california' the fixed 10 % that nnlib.data.load_dataset leaves out. Arrays have the shapes and
dtypes of nnlib.data's loaders.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from nnlib import data

HELDOUT_DIR = Path(__file__).with_name("data")


def load_heldout(
    name: str, data_dir: str | os.PathLike | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The held-out (X, y) of a data set; data_dir as in nnlib.data.load_dataset."""
    if name in data.BUNDLED:
        with np.load(HELDOUT_DIR / f"{name}_heldout.npz", allow_pickle=False) as f:
            X, y = f["X"].astype(np.float64), f["y"]
        return X, (y.astype(np.int64) if name == "digits" else y.astype(np.float64))
    if name == "cifar10":
        return data.load_cifar10(data_dir, test=True)
    if name == "mnist":
        return data.load_mnist(data_dir, test=True)
    if name == "california":
        X, y = data.load_california(data_dir)
        held = data.california_heldout_mask(len(X))
        return X[held], y[held]
    raise ValueError(f"unknown data set {name!r}; choose from {data.BUNDLED + data.DOWNLOADABLE}")
