"""nnlib.plotting: the image grid and the training curves."""

import matplotlib
import numpy as np
import pytest

from nnlib.plotting import plot_training, training_history, visualize_grid

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
