"""Save a trained model to a data-only file and read it back (no pickle anywhere).

    save_model("best_model.npz", model, dataset="digits")
    saved = load_model("best_model.npz")          # validated SavedModel
    model = saved.build(classifiers)               # a fresh model of the same class and shape

The file is an ``.npz`` holding one array per parameter under ``param/<name>``, the running
statistics of batch normalisation under ``bn/<i>/running_mean`` and ``bn/<i>/running_var``
(i = 1 for the first hidden layer, like gamma1), and a JSON string ``meta``:
``{"format": 1, "class": <class name>, "config": {...}, "extra": {...keyword arguments of
save_model...}}``. The config rebuilds the model:

- FullyConnectedNet: hidden_dims, input_dim, num_classes, normalization
- ThreeLayerConvNet: input_dim ([C, H, W]), num_filters, filter_size, hidden_dim, num_classes
- TwoLayerNet (modular): input_dim, hidden_dim, num_classes
- TwoLayerNet (the stand-alone net, which has ``train`` and ``predict``): input_size,
  hidden_size, output_size
"""

# The API (and reproducible runs after np.random.seed) use numpy's global random state.
# ruff: noqa: NPY002

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["FORMAT", "ModelFileError", "SavedModel", "load_model", "model_config", "save_model"]

FORMAT = 1
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "FullyConnectedNet": ("hidden_dims", "input_dim", "num_classes", "normalization"),
    "ThreeLayerConvNet": ("input_dim", "num_filters", "filter_size", "hidden_dim", "num_classes"),
    "TwoLayerNet": ("input_dim", "hidden_dim", "num_classes"),
    "StandaloneTwoLayerNet": ("input_size", "hidden_size", "output_size"),
}
NORMALIZATIONS = (None, "batchnorm", "layernorm")


class ModelFileError(ValueError):
    """A saved model file (or a model to save) is malformed; the message says what is wrong."""


def _is_standalone(model: Any) -> bool:
    return callable(getattr(model, "train", None)) and callable(getattr(model, "predict", None))


def _shape(params: dict[str, np.ndarray], name: str) -> tuple[int, ...]:
    if name not in params:
        raise ModelFileError(f"the model has no parameter {name!r}")
    return tuple(np.shape(params[name]))


def model_config(model: Any) -> tuple[str, dict[str, Any]]:
    """(class key, config) of a model, read from its parameter shapes (see module docstring).

    The class key is the class name, or "StandaloneTwoLayerNet" for the stand-alone net.
    """
    params = model.params
    name = type(model).__name__
    if name == "TwoLayerNet" and _is_standalone(model):
        (D, H), (_, C) = _shape(params, "W1"), _shape(params, "W2")
        return "StandaloneTwoLayerNet", {"input_size": D, "hidden_size": H, "output_size": C}
    if name == "TwoLayerNet":
        (D, H), (_, C) = _shape(params, "W1"), _shape(params, "W2")
        return name, {"input_dim": D, "hidden_dim": H, "num_classes": C}
    if name == "ThreeLayerConvNet":
        F, C, size, _ = _shape(params, "W1")
        pooled, hidden = _shape(params, "W2")
        input_dim = getattr(model, "input_dim", None)
        if input_dim is None:  # assume a square input of even side: pooled = F * (H / 2)^2
            side = 2 * int(round(np.sqrt(pooled / F)))
            input_dim = (C, side, side)
        return name, {
            "input_dim": [int(v) for v in input_dim],
            "num_filters": F,
            "filter_size": size,
            "hidden_dim": hidden,
            "num_classes": _shape(params, "W3")[1],
        }
    if name == "FullyConnectedNet":
        L = sum(1 for k in params if re.fullmatch(r"W\d+", k))
        dims = [_shape(params, f"W{i}") for i in range(1, L + 1)]
        normalization = getattr(model, "normalization", None)
        if not hasattr(model, "normalization") and "gamma1" in params:
            bn = getattr(model, "bn_params", [{}])
            normalization = "batchnorm" if bn and "mode" in bn[0] else "layernorm"
        return name, {
            "hidden_dims": [d[1] for d in dims[:-1]],
            "input_dim": dims[0][0],
            "num_classes": dims[-1][1],
            "normalization": normalization,
        }
    raise ModelFileError(
        f"cannot save a {name}: save_model knows FullyConnectedNet, ThreeLayerConvNet and "
        "TwoLayerNet"
    )


def expected_shapes(class_key: str, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Parameter name -> shape for a class key and config."""
    c = config
    if class_key == "StandaloneTwoLayerNet":
        D, H, C = c["input_size"], c["hidden_size"], c["output_size"]
        return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    if class_key == "TwoLayerNet":
        D, H, C = c["input_dim"], c["hidden_dim"], c["num_classes"]
        return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
    if class_key == "ThreeLayerConvNet":
        ch, h, w = c["input_dim"]
        F, k, hidden = c["num_filters"], c["filter_size"], c["hidden_dim"]
        pooled = F * (1 + (h - 2) // 2) * (1 + (w - 2) // 2)
        return {
            "W1": (F, ch, k, k),
            "b1": (F,),
            "W2": (pooled, hidden),
            "b2": (hidden,),
            "W3": (hidden, c["num_classes"]),
            "b3": (c["num_classes"],),
        }
    dims = [c["input_dim"], *c["hidden_dims"], c["num_classes"]]
    shapes: dict[str, tuple[int, ...]] = {}
    for i in range(1, len(dims)):
        shapes[f"W{i}"] = (dims[i - 1], dims[i])
        shapes[f"b{i}"] = (dims[i],)
        if c["normalization"] is not None and i < len(dims) - 1:
            shapes[f"gamma{i}"] = (dims[i],)
            shapes[f"beta{i}"] = (dims[i],)
    return shapes


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"save_model: {type(value).__name__} is not data (numbers, strings, lists)")


def save_model(path: str | os.PathLike, model: Any, **meta: Any) -> Path:
    """Write model's parameters, running statistics and config to ``path`` (.npz).

    meta: extra JSON-able values to store (e.g. dataset='digits'); read back as
    SavedModel.extra. Returns the path written.
    """
    class_key, config = model_config(model)
    arrays: dict[str, np.ndarray] = {}
    for name, value in model.params.items():
        arrays[f"param/{name}"] = np.asarray(value)
    if config.get("normalization") == "batchnorm":
        for i, bn in enumerate(getattr(model, "bn_params", []), start=1):
            for stat in ("running_mean", "running_var"):
                if stat in bn:
                    arrays[f"bn/{i}/{stat}"] = np.asarray(bn[stat])
    header = {
        "format": FORMAT,
        "class": type(model).__name__,
        "config": config,
        "extra": meta,
    }
    if class_key == "StandaloneTwoLayerNet":
        header["standalone"] = True
    text = json.dumps(header, default=_json_default)
    path = Path(path)
    # The validation of load_model runs before anything is written.
    _validate(class_key, config, arrays, str(path))
    with path.open("wb") as f:
        np.savez(f, meta=np.array(text), **arrays)
    return path


@dataclass
class SavedModel:
    """A validated saved model: class name, config, params, running stats, extra meta."""

    class_name: str
    config: dict[str, Any]
    params: dict[str, np.ndarray]
    running_stats: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    standalone: bool = False

    @property
    def dtype(self) -> np.dtype:
        """The dtype of the weights (float32 or float64)."""
        return self.params["W1"].dtype

    def build(self, namespace: Any) -> Any:
        """A new model of class ``namespace.<class_name>`` with these parameters.

        namespace is a module (e.g. reference.classifiers, or reference.neural_net for the
        stand-alone net) or a dict of classes. numpy's global random state is left unchanged.
        """
        classes = namespace if isinstance(namespace, dict) else vars(namespace)
        if self.class_name not in classes:
            raise ModelFileError(f"{namespace!r} has no class {self.class_name}")
        cls = classes[self.class_name]
        kwargs = dict(self.config)
        if self.class_name == "ThreeLayerConvNet":
            kwargs["input_dim"] = tuple(kwargs["input_dim"])
        if self.class_name in ("FullyConnectedNet", "ThreeLayerConvNet"):
            kwargs["dtype"] = self.dtype.type
        state = np.random.get_state()
        try:
            model = cls(**kwargs)
        finally:
            np.random.set_state(state)
        return self.load_into(model)

    def load_into(self, model: Any) -> Any:
        """Copy the parameters and running statistics into ``model`` (checked); returns it."""
        key = "StandaloneTwoLayerNet" if _is_standalone(model) else type(model).__name__
        if key != ("StandaloneTwoLayerNet" if self.standalone else self.class_name):
            raise ModelFileError(f"the file holds a {self.class_name}, not a {key}")
        theirs = {k: np.shape(v) for k, v in model.params.items()}
        ours = {k: v.shape for k, v in self.params.items()}
        if theirs != ours:
            raise ModelFileError(f"parameter shapes differ: file {ours}, model {theirs}")
        model.params = {k: v.copy() for k, v in self.params.items()}
        for i, stats in self.running_stats.items():
            model.bn_params[i - 1].update({k: v.copy() for k, v in stats.items()})
        return model


def _fail(where: str, problem: str) -> ModelFileError:
    return ModelFileError(f"{where}: {problem}")


def _check_config(class_key: str, config: Any, where: str) -> None:
    if not isinstance(config, dict):
        raise _fail(where, "meta 'config' is not an object")
    required = CONFIG_KEYS[class_key]
    missing = [k for k in required if k not in config]
    unknown = [k for k in config if k not in required]
    if missing or unknown:
        raise _fail(where, f"config of {class_key}: missing {missing}, unexpected {unknown}")

    def positive_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v > 0

    for k in required:
        v = config[k]
        if k == "normalization":
            ok = v in NORMALIZATIONS
        elif k == "hidden_dims":
            ok = isinstance(v, list) and all(positive_int(d) for d in v)
        elif k == "input_dim" and class_key == "ThreeLayerConvNet":
            ok = isinstance(v, list) and len(v) == 3 and all(positive_int(d) for d in v)
        else:
            ok = positive_int(v)
        if not ok:
            raise _fail(where, f"config {k}={v!r} is not valid")


def _validate(
    class_key: str, config: dict[str, Any], arrays: dict[str, np.ndarray], where: str
) -> None:
    """Raise ModelFileError unless arrays match the config exactly (names, shapes, dtypes)."""
    _check_config(class_key, config, where)
    shapes = expected_shapes(class_key, config)
    params = {k.removeprefix("param/"): v for k, v in arrays.items() if k.startswith("param/")}
    missing = sorted(set(shapes) - set(params))
    unknown = sorted(set(params) - set(shapes))
    if missing or unknown:
        raise _fail(where, f"parameters missing {missing}, unexpected {unknown}")
    dtypes = {v.dtype for v in params.values()}
    for name, value in params.items():
        if value.dtype not in (np.float32, np.float64):
            raise _fail(where, f"parameter {name} has dtype {value.dtype}, not float32/float64")
        if value.shape != shapes[name]:
            raise _fail(where, f"parameter {name} has shape {value.shape}, expected {shapes[name]}")
        if not np.all(np.isfinite(value)):
            raise _fail(where, f"parameter {name} holds NaN or infinite values")
    if len(dtypes) > 1:
        raise _fail(where, f"parameters mix dtypes {sorted(str(d) for d in dtypes)}")
    for key, value in arrays.items():
        if key.startswith("param/"):
            continue
        match = re.fullmatch(r"bn/(\d+)/(running_mean|running_var)", key)
        if not match:
            raise _fail(where, f"unexpected entry {key!r}")
        i = int(match.group(1))
        if config.get("normalization") != "batchnorm" or f"gamma{i}" not in shapes:
            raise _fail(where, f"{key}: the model has no batchnorm layer {i}")
        if value.shape != shapes[f"gamma{i}"] or value.dtype.kind != "f":
            raise _fail(
                where,
                f"{key} has shape {value.shape} ({value.dtype}), expected {shapes[f'gamma{i}']}",
            )


def load_model(path: str | os.PathLike) -> SavedModel:
    """Read and validate a file written by save_model (never unpickles anything)."""
    where = str(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as error:
        raise _fail(where, f"not a saved model (.npz without pickles): {error}") from error
    if "meta" not in arrays:
        raise _fail(where, "no 'meta' entry: not written by save_model")
    meta_array = arrays.pop("meta")
    if meta_array.dtype.kind != "U" or meta_array.shape != ():
        raise _fail(where, "'meta' is not a JSON string")
    try:
        meta = json.loads(str(meta_array))
    except json.JSONDecodeError as error:
        raise _fail(where, f"'meta' is not valid JSON: {error}") from error
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise _fail(
            where, f"unsupported format {meta.get('format') if isinstance(meta, dict) else meta!r}"
        )
    class_name = meta.get("class")
    standalone = bool(meta.get("standalone", False))
    class_key = "StandaloneTwoLayerNet" if standalone else class_name
    if class_key not in CONFIG_KEYS or (standalone and class_name != "TwoLayerNet"):
        raise _fail(where, f"unknown model class {class_name!r}")
    config = meta.get("config")
    _validate(class_key, config, arrays, where)
    running: dict[int, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        if key.startswith("bn/"):
            _, i, stat = key.split("/")
            running.setdefault(int(i), {})[stat] = value
    extra = meta.get("extra", {})
    if not isinstance(extra, dict):
        raise _fail(where, "meta 'extra' is not an object")
    return SavedModel(
        class_name=class_name,
        config=config,
        params={k.removeprefix("param/"): v for k, v in arrays.items() if k.startswith("param/")},
        running_stats=running,
        extra=extra,
        standalone=standalone,
    )
