"""Points per test, keyed by API name, and the suite modules of every name: both derived
from the rule table (``grading_tests/rules.py``), the one truth of the hidden suites.

Every hidden test is named ``"<api_name>: <case>"``; it is worth ``POINTS[api_name]`` points.
The collector refuses a test whose API name is not a key here (i.e. not a row of the table).

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

from grading_tests.rules import THRESHOLDS, Threshold, points_table, suite_table

__all__ = ["POINTS", "SUITE_APIS", "THRESHOLDS", "Threshold"]

# API name -> points per test of that name.
POINTS: dict[str, float] = points_table()

# Which API names each suite module grades (a suite runs when the submission defines any of
# its names; test_thresholds runs when a model file is present or the assignment asks for it).
SUITE_APIS: dict[str, tuple[str, ...]] = suite_table()
