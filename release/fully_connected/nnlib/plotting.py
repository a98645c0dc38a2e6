"""Plotting helpers: an image grid and training curves (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil, sqrt
from typing import Any

import numpy as np

__all__ = ["plot_training", "training_history", "visualize_grid"]


def visualize_grid(Xs: np.ndarray, ubound: float = 255.0, padding: int = 1) -> np.ndarray:
    """Tile images into one grid image for plt.imshow.

    Xs: (N, H, W, C) or (N, H, W). Each image is rescaled to [0, ubound] on its own; images
    fill a ceil(sqrt(N)) x ceil(sqrt(N)) grid row by row with ``padding`` pixels (zeros)
    between them. Returns (G, G', C) or (G, G') float64 with
    G = ceil(sqrt(N)) * H + (ceil(sqrt(N)) - 1) * padding (G' likewise with W).
    """
    Xs = np.asarray(Xs, dtype=np.float64)
    if Xs.ndim not in (3, 4):
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) images, got shape {Xs.shape}")
    N, H, W = Xs.shape[:3]
    size = int(ceil(sqrt(N)))
    grid = np.zeros(
        (size * H + (size - 1) * padding, size * W + (size - 1) * padding, *Xs.shape[3:])
    )
    for n, img in enumerate(Xs):
        row, col = divmod(n, size)
        low, high = img.min(), img.max()
        scaled = ubound * (img - low) / (high - low) if high > low else np.zeros_like(img)
        y0, x0 = row * (H + padding), col * (W + padding)
        grid[y0 : y0 + H, x0 : x0 + W] = scaled
    return grid


def training_history(solver_or_history: Any) -> dict[str, list[float]]:
    """loss_history, train_acc_history and val_acc_history of a Solver or a history dict
    (such as the one the stand-alone net's train returns)."""
    keys = ("loss_history", "train_acc_history", "val_acc_history")
    if isinstance(solver_or_history, Mapping):
        source = solver_or_history
        missing = [k for k in keys if k not in source]
        if missing:
            raise ValueError(f"history dict lacks {missing}")
        return {k: list(source[k]) for k in keys}
    return {k: list(getattr(solver_or_history, k)) for k in keys}


def plot_training(
    solver_or_history: Any,
    title: str | None = None,
    target_acc: float | None = None,
    labels: Sequence[str] = ("train", "val"),
):
    """Figure with the loss per iteration (top) and train / val accuracy per epoch (bottom).

    target_acc draws a dashed horizontal line at that accuracy (e.g. 0.5). Returns the
    matplotlib Figure (shown by Jupyter when it is a cell's last value).
    """
    import matplotlib.pyplot as plt

    history = training_history(solver_or_history)
    fig, (loss_ax, acc_ax) = plt.subplots(2, 1, figsize=(10, 8))
    loss_ax.plot(history["loss_history"], "o", markersize=2)
    loss_ax.set_xlabel("Iteration")
    loss_ax.set_ylabel("Loss")
    loss_ax.set_title(title or "Training loss")
    acc_ax.plot(history["train_acc_history"], "-o", label=labels[0])
    acc_ax.plot(history["val_acc_history"], "-o", label=labels[1])
    if target_acc is not None:
        acc_ax.axhline(target_acc, color="k", linestyle="--", label=f"target {target_acc:g}")
    acc_ax.set_xlabel("Epoch")
    acc_ax.set_ylabel("Accuracy")
    acc_ax.legend(loc="lower right")
    fig.tight_layout()
    return fig
