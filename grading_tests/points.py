"""The one table of points (per test, keyed by API name) and of accuracy thresholds.

Every hidden test is named ``"<api_name>: <case>"``; it is worth ``POINTS[api_name]`` points.
The collector refuses a test whose API name is not a key here.

Saved models (accuracy thresholds): a submission earns the points of
``best_model_<dataset>`` when a file named ``THRESHOLDS[dataset].filename`` (e.g.
``best_model_digits.npz``, written with ``nnlib.model_io.save_model``) lies next to the
submission (in the submission's folder, or next to the submitted file), loads into the
reference model, and meets the threshold on the held-out split (``nnkit.heldout``).
A missing or malformed file scores 0 with a message saying so.

The model is scored on the held-out inputs exactly as ``nnlib.data`` returns them (raw, not
preprocessed). A student who trained on preprocessed data saves the preprocessing with the
model, as keyword arguments of ``save_model`` (stored in the file's meta):
``x_mean``/``x_std`` (a number, or nested lists of one sample's shape, e.g. the mean image:
the model sees ``(X - x_mean) / x_std``) and, for regression, ``y_mean``/``y_std`` (the
prediction is ``output * y_std + y_mean``). Classification: accuracy of the argmax of the
scores; regression (one output): RMSE in the data set's units.
"""

from __future__ import annotations

from dataclasses import dataclass

# API name -> points per test of that name.
POINTS: dict[str, float] = {
    # layers (test_layers.py)
    "affine_forward": 1,
    "affine_backward": 1,
    "relu_forward": 1,
    "relu_backward": 1,
    "sigmoid_forward": 1,
    "sigmoid_backward": 1,
    "affine_relu_forward": 1,
    "affine_relu_backward": 1,
    # losses (test_losses.py)
    "softmax_loss": 1,
    "svm_loss": 1,
    "mse_loss": 1,
    # update rules (test_optim.py)
    "sgd": 1,
    "sgd_momentum": 1,
    "rmsprop": 1,
    "adam": 1,
    # normalisation (test_batchnorm.py)
    "batchnorm_forward": 1,
    "batchnorm_backward": 1,
    "batchnorm_backward_alt": 1,
    "layernorm_forward": 1,
    "layernorm_backward": 1,
    "spatial_batchnorm_forward": 1,
    "spatial_batchnorm_backward": 1,
    "spatial_groupnorm_forward": 1,
    "spatial_groupnorm_backward": 1,
    # dropout (test_dropout.py)
    "dropout_forward": 1,
    "dropout_backward": 1,
    # convolution and pooling (test_conv.py)
    "conv_forward_naive": 1,
    "conv_backward_naive": 1,
    "max_pool_forward_naive": 1,
    "max_pool_backward_naive": 1,
    "conv_relu_forward": 1,
    "conv_relu_backward": 1,
    "conv_relu_pool_forward": 1,
    "conv_relu_pool_backward": 1,
    # models (test_models.py; TwoLayerNet also names the stand-alone net of test_neural_net.py)
    "TwoLayerNet": 2,
    "FullyConnectedNet": 2,
    "ThreeLayerConvNet": 2,
    # saved models scored on held-out data (test_thresholds.py)
    "best_model_digits": 5,
    "best_model_mnist": 5,
    "best_model_cifar10": 5,
    "best_model_diabetes": 5,
    "best_model_california": 5,
}

# Which API names each suite module grades (a suite runs when the submission defines any of
# its names; test_thresholds runs when a model file is present or the assignment asks for it).
SUITE_APIS: dict[str, tuple[str, ...]] = {
    "test_layers": (
        "affine_forward",
        "affine_backward",
        "relu_forward",
        "relu_backward",
        "sigmoid_forward",
        "sigmoid_backward",
        "affine_relu_forward",
        "affine_relu_backward",
    ),
    "test_losses": ("softmax_loss", "svm_loss", "mse_loss"),
    "test_optim": ("sgd", "sgd_momentum", "rmsprop", "adam"),
    "test_batchnorm": (
        "batchnorm_forward",
        "batchnorm_backward",
        "batchnorm_backward_alt",
        "layernorm_forward",
        "layernorm_backward",
        "spatial_batchnorm_forward",
        "spatial_batchnorm_backward",
        "spatial_groupnorm_forward",
        "spatial_groupnorm_backward",
    ),
    "test_dropout": ("dropout_forward", "dropout_backward"),
    "test_conv": (
        "conv_forward_naive",
        "conv_backward_naive",
        "max_pool_forward_naive",
        "max_pool_backward_naive",
        "conv_relu_forward",
        "conv_relu_backward",
        "conv_relu_pool_forward",
        "conv_relu_pool_backward",
    ),
    "test_models": ("TwoLayerNet", "FullyConnectedNet", "ThreeLayerConvNet"),
    "test_neural_net": ("TwoLayerNet",),
    "test_thresholds": (
        "best_model_digits",
        "best_model_mnist",
        "best_model_cifar10",
        "best_model_diabetes",
        "best_model_california",
    ),
}


@dataclass(frozen=True)
class Threshold:
    """What a saved model must reach on a held-out split."""

    dataset: str  # name for nnkit.heldout.load_heldout
    metric: str  # 'accuracy' (higher is better) or 'rmse' (lower is better)
    bound: float  # accuracy >= bound, or rmse <= bound
    classes: tuple[str, ...]  # model classes accepted in the file's meta

    @property
    def filename(self) -> str:
        """The file the submission must contain."""
        return f"best_model_{self.dataset}.npz"


_CLASSIFIERS = ("FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet")

# Thresholds per data set (API name "best_model_<dataset>").
THRESHOLDS: dict[str, Threshold] = {
    # bundled 8x8 digits: a small FC net reaches ~0.97-0.98; 0.95 leaves room for seeds.
    "digits": Threshold("digits", "accuracy", 0.95, _CLASSIFIERS),
    # MNIST t10k: the course's requirement (seeds 002/003) of >= 95 %.
    "mnist": Threshold("mnist", "accuracy", 0.95, _CLASSIFIERS),
    # CIFAR-10 test_batch: the classic ">= 50 % with the FC net" requirement.
    "cifar10": Threshold("cifar10", "accuracy", 0.50, _CLASSIFIERS),
    # diabetes regression (targets in their original units, std ~77): predicting the mean
    # gives RMSE ~77 and linear regression ~54-58; 60 asks for a model that learned something.
    "diabetes": Threshold("diabetes", "rmse", 60.0, ("FullyConnectedNet",)),
    # California housing (targets in units of $100k, std ~1.15): predicting the mean gives
    # ~1.15, linear regression ~0.73, a small FC net ~0.5-0.55; 0.65 asks for a non-linear fit.
    "california": Threshold("california", "rmse", 0.65, ("FullyConnectedNet",)),
}
