"""nnlib.plotting: the image grid and the training curves."""

import matplotlib
import numpy as np
import pytest

from nnlib.plotting import (
    plot_images,
    plot_training,
    plot_weights,
    training_history,
    visualize_grid,
    weight_grid,
)

matplotlib.use("Agg")
pytestmark = pytest.mark.studentlib


def test_visualize_grid_places_and_rescales_images():
    rng = np.random.default_rng(0)
    Xs = rng.uniform(-3, 5, (5, 4, 3, 2))
    grid = visualize_grid(Xs, ubound=1.0, padding=2)
    # 5 images -> a 3 x 3 grid; 3 * 4 + 2 * 2 rows, 3 * 3 + 2 * 2 columns.
    assert grid.shape == (16, 13, 2)
    for n, img in enumerate(Xs):
        row, col = divmod(n, 3)
        tile = grid[row * 6 : row * 6 + 4, col * 5 : col * 5 + 3]
        np.testing.assert_allclose(tile, (img - img.min()) / (img.max() - img.min()))
    assert np.all(grid[4:6] == 0) and np.all(grid[:, 3:5] == 0)  # padding
    assert np.all(grid[12:, 5:] == 0)  # empty cells of the last row


def test_visualize_grid_grayscale_and_constant_images():
    grid = visualize_grid(np.stack([np.full((2, 2), 7.0), np.eye(2)]), padding=0)
    assert grid.shape == (4, 4)
    np.testing.assert_array_equal(grid[:2, :2], 0)
    np.testing.assert_array_equal(grid[:2, 2:], 255 * np.eye(2))
    with pytest.raises(ValueError, match="images"):
        visualize_grid(np.zeros((2, 3)))


class FakeSolver:
    loss_history = [2.3, 1.0, 0.5, 0.4]
    train_acc_history = [0.1, 0.6, 0.9]
    val_acc_history = [0.1, 0.5, 0.8]


@pytest.mark.parametrize(
    "source", [FakeSolver(), {k: getattr(FakeSolver, k) for k in training_history(FakeSolver())}]
)
def test_plot_training_draws_loss_and_accuracies(source):
    fig = plot_training(source, target_acc=0.5)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.get_lines()) == 1
    np.testing.assert_array_equal(loss_ax.get_lines()[0].get_ydata(), FakeSolver.loss_history)
    lines = acc_ax.get_lines()
    assert len(lines) == 3  # train, val, target
    np.testing.assert_array_equal(lines[1].get_ydata(), FakeSolver.val_acc_history)
    assert [t.get_text() for t in acc_ax.get_legend().get_texts()] == ["train", "val", "target 0.5"]
    assert len(plot_training(source).axes[1].get_lines()) == 2


def test_training_history_requires_the_keys():
    with pytest.raises(ValueError, match="lacks"):
        training_history({"loss_history": []})


def test_plot_training_labels_both_panels_and_never_leaves_accuracy_blank():
    fig = plot_training(FakeSolver())
    loss_ax, acc_ax = fig.axes
    for ax in (loss_ax, acc_ax):
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    empty = {"loss_history": [2.3, 2.2], "train_acc_history": [], "val_acc_history": []}
    acc_ax = plot_training(empty).axes[1]
    assert any("no accuracy" in t.get_text() for t in acc_ax.texts)
    one = {"loss_history": [2.3], "train_acc_history": [0.2], "val_acc_history": [0.1]}
    assert all(line.get_marker() == "o" for line in plot_training(one).axes[1].get_lines())


def test_weight_grid_upscales_small_filters_and_leaves_gaps_blank():
    rng = np.random.default_rng(1)
    W = rng.standard_normal((5, 8, 8))
    grid = weight_grid(W)  # 8x8 tiles repeated 3 times (>= 24 pixels), 2 x 3 grid, 1-px gaps
    assert grid.shape == (2 * 24 + 1, 3 * 24 + 2)
    np.testing.assert_array_equal(grid[:24, :24], W[0].repeat(3, 0).repeat(3, 1))
    np.testing.assert_array_equal(grid[:24, 25:49], W[1].repeat(3, 0).repeat(3, 1))
    assert np.isnan(grid[24]).all() and np.isnan(grid[:, 24]).all()
    assert np.isnan(grid[25:, 50:]).all()  # the empty cell of the last row
    assert weight_grid(W[:, :, :, None], upscale=1).shape == (17, 26)
    colour = weight_grid(rng.standard_normal((2, 4, 4, 3)), upscale=2)
    assert colour.shape == (8, 17, 3) and np.nanmin(colour) == 0 and np.nanmax(colour) == 1
    with pytest.raises(ValueError, match="filters"):
        weight_grid(np.zeros((2, 3)))


def test_plot_weights_has_a_zero_centred_colour_bar_for_grey_filters():
    W = np.random.default_rng(2).standard_normal((10, 8, 8))
    fig = plot_weights(W, title="first layer")
    image_ax = fig.axes[0]
    assert image_ax.get_title() == "first layer"
    low, high = image_ax.get_images()[0].get_clim()
    assert low == -high == -np.abs(W).max()
    assert len(fig.axes) == 2  # the colour bar
    assert len(plot_weights(np.random.default_rng(3).random((4, 5, 5, 3))).axes) == 1


def test_plot_images_titles_each_image_with_its_label():
    fig = plot_images(np.zeros((5, 8, 8, 1)), labels=[3, 1, 4, 1, 5], title="digits")
    titles = [ax.get_title() for ax in fig.axes if ax.get_images()]
    assert titles == ["3", "1", "4", "1", "5"]
    assert fig._suptitle.get_text() == "digits"
