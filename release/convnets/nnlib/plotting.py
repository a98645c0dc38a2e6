"""Plotting helpers: an image grid and training curves (matplotlib)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import ceil, sqrt
from typing import Any

import numpy as np

__all__ = [
    "plot_images",
    "plot_training",
    "plot_weights",
    "training_history",
    "visualize_grid",
    "weight_grid",
]


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

    target_acc draws a dashed horizontal line at that accuracy (e.g. 0.5). Every accuracy is
    drawn as a marker, so that a single epoch shows too; a history without accuracies says
    so in the panel. Returns the matplotlib Figure (shown by Jupyter when it is a cell's last
    value).
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
    if not history["train_acc_history"] and not history["val_acc_history"]:
        acc_ax.text(
            0.5,
            0.5,
            "no accuracy recorded yet (it is measured once per epoch)",
            ha="center",
            va="center",
            transform=acc_ax.transAxes,
        )
    acc_ax.set_ylim(-0.02, 1.02)
    acc_ax.set_xlabel("Epoch")
    acc_ax.set_ylabel("Accuracy")
    acc_ax.set_title("Classification accuracy")
    acc_ax.legend(loc="lower right")
    for ax in (loss_ax, acc_ax):
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def weight_grid(
    weights: np.ndarray,
    padding: int | None = None,
    upscale: int | None = None,
    min_tile: int = 24,
) -> np.ndarray:
    """Tile filters (N, H, W) or (N, H, W, C) into one image, each pixel repeated `upscale`
    times (default: enough for tiles of at least `min_tile` pixels, so that 8x8 filters stay
    readable), with `padding` pixels of NaN (default: a third of `upscale`, at least one)
    between tiles and in empty cells (drawn as background by imshow).

    Single-channel filters keep their values (draw them with one shared, zero-centred colour
    scale); colour filters are rescaled to [0, 1] each, as visualize_grid does.
    """
    Ws = np.asarray(weights, dtype=np.float64)
    if Ws.ndim == 4 and Ws.shape[3] == 1:
        Ws = Ws[..., 0]
    if Ws.ndim not in (3, 4):
        raise ValueError(f"expected (N, H, W) or (N, H, W, C) filters, got shape {Ws.shape}")
    if Ws.ndim == 4:
        low = Ws.min(axis=(1, 2, 3), keepdims=True)
        span = Ws.max(axis=(1, 2, 3), keepdims=True) - low
        Ws = np.where(span > 0, (Ws - low) / np.where(span > 0, span, 1), 0.5)
    N, H, W = Ws.shape[:3]
    factor = upscale or max(1, int(ceil(min_tile / max(H, W))))
    padding = max(1, factor // 3) if padding is None else padding
    Ws = Ws.repeat(factor, axis=1).repeat(factor, axis=2)
    H, W = H * factor, W * factor
    cols = int(ceil(sqrt(N)))
    rows = int(ceil(N / cols))
    grid = np.full(
        (rows * H + (rows - 1) * padding, cols * W + (cols - 1) * padding, *Ws.shape[3:]), np.nan
    )
    for n, img in enumerate(Ws):
        row, col = divmod(n, cols)
        y0, x0 = row * (H + padding), col * (W + padding)
        grid[y0 : y0 + H, x0 : x0 + W] = img
    return grid


def plot_weights(weights: np.ndarray, title: str | None = None, upscale: int | None = None):
    """Figure of filters (N, H, W) or (N, H, W, C), e.g. a first layer's weights reshaped to
    images: upscaled tiles (see weight_grid); single-channel filters in a diverging colour
    map centred on zero, with one shared scale and a colour bar (red positive, blue
    negative); colour filters each rescaled to [0, 1]. Returns the Figure."""
    import matplotlib.pyplot as plt

    grid = weight_grid(weights, upscale=upscale)
    fig, ax = plt.subplots(figsize=(7, 6))
    ax.set_facecolor("0.85")
    if grid.ndim == 2:
        limit = float(np.nanmax(np.abs(grid))) or 1.0
        shown = ax.imshow(grid, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="weight")
    else:
        ax.imshow(np.nan_to_num(grid, nan=0.85), interpolation="nearest")
    ax.set_title(title or f"{len(weights)} filters")
    ax.set_xticks([])
    ax.set_yticks([])
    return fig


def plot_images(
    images: np.ndarray,
    labels: Sequence[Any] | None = None,
    title: str | None = None,
    cols: int | None = None,
):
    """Figure of images (N, H, W) or (N, H, W, C) in a grid, each with its label above it
    (e.g. the class of a training example). Returns the Figure."""
    import matplotlib.pyplot as plt

    imgs = np.asarray(images, dtype=np.float64)
    if imgs.ndim == 4 and imgs.shape[3] == 1:
        imgs = imgs[..., 0]
    n = len(imgs)
    cols = cols or int(ceil(sqrt(n)))
    rows = int(ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.45 * rows + 0.4), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k >= n:
            continue
        img = imgs[k]
        if img.ndim == 3:  # colour: rescale to [0, 1] for imshow
            low, high = img.min(), img.max()
            img = (img - low) / (high - low) if high > low else np.zeros_like(img)
            ax.imshow(img, interpolation="nearest")
        else:
            ax.imshow(img, cmap="gray", interpolation="nearest")
        if labels is not None:
            ax.set_title(str(labels[k]), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig
