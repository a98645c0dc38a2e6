"""Hidden tests: accuracy thresholds of the student's saved models on held-out data.

The file ``best_model_<dataset>.npz`` (``nnlib.model_io.save_model``) next to the submission
is read in the trusted process with ``nnlib.model_io.load_model`` (data only, validated),
loaded into the *reference* model of its class, and scored on ``nnkit.heldout`` data that
the release never ships. No student code runs here.

Optional preprocessing, stored by the student as keyword arguments of ``save_model`` (they
land in ``SavedModel.extra``): ``x_mean`` and ``x_std`` (a number, or nested lists of the
shape of one sample, e.g. the mean image) give the model ``(X - x_mean) / x_std``;
for regression ``y_mean`` and ``y_std`` turn its output into ``out * y_std + y_mean``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from grading_tests._support import fail
from grading_tests.points import THRESHOLDS, Threshold

BATCH = 500  # rows per forward pass when scoring


def _model_file(submission: Any, filename: str) -> Path | None:
    """``filename`` in the submission's folder (or next to its files), if present."""
    paths = [Path(p) for p in getattr(submission, "paths", [])]
    for d in dict.fromkeys(p if p.is_dir() else p.parent for p in paths):
        candidate = d / filename
        if candidate.is_file():
            return candidate
    return None


def _array(extra: dict, key: str, api: str, shape: tuple[int, ...]) -> np.ndarray | None:
    """A preprocessing value from the file's meta, checked to broadcast over one sample."""
    if key not in extra or extra[key] is None:
        return None
    try:
        value = np.asarray(extra[key], dtype=np.float64)
        np.broadcast_to(value, shape)
    except (TypeError, ValueError):
        fail(f"{api}: meta {key!r} is not a number or an array of one sample's shape {shape}")
    if not np.all(np.isfinite(value)):
        fail(f"{api}: meta {key!r} holds NaN or infinite values")
    return value


def _predict(model: Any, X: np.ndarray, standalone: bool) -> np.ndarray:
    """Scores of the reference model, in batches."""
    outs = []
    for start in range(0, len(X), BATCH):
        xb = X[start : start + BATCH]
        if standalone:
            xb = xb.reshape(len(xb), -1)
        outs.append(np.asarray(model.loss(xb), dtype=np.float64))
    return np.concatenate(outs)


@pytest.mark.parametrize(
    "spec",
    [
        pytest.param(
            t,
            marks=pytest.mark.grade(
                f"best_model_{name}: held-out {t.metric} "
                f"{'>=' if t.metric == 'accuracy' else '<='} {t.bound:g}"
            ),
            id=name,
        )
        for name, t in THRESHOLDS.items()
    ],
)
def test_saved_model(submission: Any, spec: Threshold, record_property: Any) -> None:
    """Load the saved model into the reference model and score it on the held-out split."""
    from nnkit.heldout import load_heldout
    from nnlib.model_io import ModelFileError, load_model
    from reference import classifiers, neural_net

    api = f"best_model_{spec.dataset}"
    path = _model_file(submission, spec.filename)
    if path is None:
        fail(
            f"{api}: no file {spec.filename} next to the submission (write it with "
            f'nnlib.model_io.save_model("{spec.filename}", model))'
        )
    try:
        saved = load_model(path)
    except (ModelFileError, OSError, ValueError) as err:
        fail(f"{api}: {spec.filename} could not be read: {str(err)[:300]}")
    if saved.class_name not in spec.classes:
        fail(
            f"{api}: {spec.filename} holds a {saved.class_name}; expected one of "
            f"{', '.join(spec.classes)}"
        )
    try:
        model = saved.build(neural_net if saved.standalone else classifiers)
    except (ModelFileError, TypeError, ValueError) as err:
        fail(f"{api}: the saved model does not fit the reference model: {str(err)[:300]}")
    try:
        X, y = load_heldout(spec.dataset)
    except Exception as err:  # data not installed on the grading machine: say so
        fail(
            f"{api}: the held-out {spec.dataset} data is not available to the grader "
            f"({type(err).__name__}: {str(err)[:200]})"
        )
    sample = X.shape[1:]
    x_mean = _array(saved.extra, "x_mean", api, sample)
    x_std = _array(saved.extra, "x_std", api, sample)
    if x_mean is not None:
        X = X - x_mean
    if x_std is not None:
        if np.any(x_std == 0):
            fail(f"{api}: meta 'x_std' contains zeros")
        X = X / x_std
    try:
        with np.errstate(all="ignore"):
            scores = _predict(model, X.astype(saved.dtype), saved.standalone)
    except ValueError as err:  # e.g. input_dim that does not match the data set
        fail(
            f"{api}: the saved model does not accept {spec.dataset} inputs of shape "
            f"{sample}: {str(err)[:200]}"
        )
    if scores.shape[0] != len(X) or not np.all(np.isfinite(scores)):
        fail(f"{api}: the model's outputs on the held-out data are not finite")
    if spec.metric == "accuracy":
        if scores.ndim != 2 or scores.shape[1] <= int(y.max()):
            fail(f"{api}: the model has {scores.shape[-1]} outputs, fewer than the classes")
        acc = float(np.mean(np.argmax(scores, axis=1) == y))
        if acc < spec.bound:
            fail(
                f"{api}: held-out accuracy {acc:.4f} < {spec.bound:g} "
                f"({len(y)} {spec.dataset} examples)"
            )
        record_property(
            "nnkit_output",
            f"{api}: held-out accuracy {acc:.4f} >= {spec.bound:g} "
            f"({len(y)} {spec.dataset} examples)",
        )
        return
    if scores.ndim == 2 and scores.shape[1] != 1:
        fail(f"{api}: a regression model must have one output, this one has {scores.shape[1]}")
    pred = scores.reshape(-1)
    y_std = _array(saved.extra, "y_std", api, ())
    y_mean = _array(saved.extra, "y_mean", api, ())
    if y_std is not None:
        pred = pred * float(y_std)
    if y_mean is not None:
        pred = pred + float(y_mean)
    rmse = float(np.sqrt(np.mean((pred - y) ** 2)))
    if not rmse <= spec.bound:
        fail(f"{api}: held-out RMSE {rmse:.4g} > {spec.bound:g} ({len(y)} {spec.dataset} examples)")
    record_property(
        "nnkit_output",
        f"{api}: held-out RMSE {rmse:.4g} <= {spec.bound:g} ({len(y)} {spec.dataset} examples)",
    )
