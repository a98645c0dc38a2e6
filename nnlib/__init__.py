"""nnlib: the library provided with the assignments (no solutions in it).

Gradient checks, the Solver, fast convolution / pooling layers, data loaders, saving a trained
model, and plots. Pure numpy (matplotlib for the plots). It is copied as a folder next to the
notebooks, so its modules import each other relatively. Data sets: ``nnlib.data`` (not
imported here, so that ``python -m nnlib.data download ...`` runs it cleanly).
"""

from .fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from .model_io import load_model, save_model
from .plotting import plot_training, visualize_grid
from .solver import Solver

__all__ = [
    "Solver",
    "conv_backward_fast",
    "conv_forward_fast",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "load_model",
    "max_pool_backward_fast",
    "max_pool_forward_fast",
    "plot_training",
    "rel_error",
    "save_model",
    "visualize_grid",
]
