"""Save a trained model to a data-only file and read it back (no pickle anywhere).

    save_model("best_model.npz", model, dataset="digits")
    saved = load_model("best_model.npz")          # validated SavedModel
    model = saved.build(classifiers)               # a fresh model of the same class and shape

The file is an ``.npz`` holding one array per parameter under ``param/<name>``, the running
statistics of batch normalisation under ``bn/<i>/running_mean`` and ``bn/<i>/running_var``
(i = 1 for the first hidden layer, like gamma1), and a JSON string ``meta``:
``{"format": 1, "class": <class name>, "config": {...}, "extra": {...keyword arguments of
save_model...}}``. The config rebuilds the model:

- FullyConnectedNet: hidden_dims, input_dim, num_classes, normalization, and ``category``
  when the net is a regression net (``category='regression'``)
- ThreeLayerConvNet: input_dim ([C, H, W]), num_filters, filter_size, hidden_dim, num_classes
- TwoLayerNet (modular): input_dim, hidden_dim, num_classes
- TwoLayerNet (the stand-alone net, which has ``train`` and ``predict``): input_size,
  hidden_size, output_size

``load_model`` reads files that may be hostile (the grader loads students' models): before
any array is loaded it checks the archive from its headers alone -- the member names, every
``.npy`` header (numeric dtypes only, no objects), that each member's shape matches its size,
the total size against a cap and the members' compression ratios -- so that a crafted file
(a zip bomb, a header that lies about its shape) is refused without using its memory.
"""

# The API (and reproducible runs after np.random.seed) use numpy's global random state.
# ruff: noqa: NPY002

from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "FORMAT",
    "MAX_MODEL_BYTES",
    "ModelFileError",
    "SavedModel",
    "check_archive",
    "load_model",
    "model_config",
    "save_model",
]

FORMAT = 1
CONFIG_KEYS: dict[str, tuple[str, ...]] = {
    "FullyConnectedNet": ("hidden_dims", "input_dim", "num_classes", "normalization"),
    "ThreeLayerConvNet": ("input_dim", "num_filters", "filter_size", "hidden_dim", "num_classes"),
    "TwoLayerNet": ("input_dim", "hidden_dim", "num_classes"),
    "StandaloneTwoLayerNet": ("input_size", "hidden_size", "output_size"),
}
NORMALIZATIONS = (None, "batchnorm", "layernorm")
#: config keys a file may leave out (a FullyConnectedNet without "category" classifies)
OPTIONAL_KEYS: dict[str, tuple[str, ...]] = {"FullyConnectedNet": ("category",)}
CATEGORIES = ("classification", "regression")
#: Default cap on the arrays of a saved model, uncompressed (the course's nets need < 10 MB).
MAX_MODEL_BYTES = 64 * 2**20
_MAX_MEMBERS = 256
_MAX_CENTRAL_DIRECTORY = 2**20
_MAX_HEADER = 10_000  # as numpy's own default for .npy headers
#: deflate cannot compress better than about 1032:1; a member claiming more lies
_MAX_RATIO = 1100
_MEMBER = re.compile(r"(meta|param/[A-Za-z_][A-Za-z0-9_]{0,63}|bn/\d{1,4}/running_(mean|var))\.npy")


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
        config = {
            "hidden_dims": [d[1] for d in dims[:-1]],
            "input_dim": dims[0][0],
            "num_classes": dims[-1][1],
            "normalization": normalization,
        }
        if getattr(model, "category", "classification") == "regression":
            config["category"] = "regression"
        return name, config
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
    optional = OPTIONAL_KEYS.get(class_key, ())
    missing = [k for k in required if k not in config]
    unknown = [k for k in config if k not in required and k not in optional]
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
    if config.get("category", "classification") not in CATEGORIES:
        raise _fail(where, f"config category={config['category']!r} is not valid")


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


def _read_file(path: str | os.PathLike, where: str, max_bytes: int) -> bytes:
    """The file's bytes (a regular file, opened without blocking, at most ``max_bytes``)."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)  # FileNotFoundError is the caller's
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _fail(where, "not a saved model: not a regular file")
        if st.st_size > max_bytes:
            raise _fail(where, f"not a saved model: larger than {max_bytes} bytes")
        os.set_blocking(fd, True)
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(min(st.st_size, max_bytes) + 1)
        if len(data) > max_bytes:
            raise _fail(where, f"not a saved model: larger than {max_bytes} bytes")
        return data
    finally:
        os.close(fd)


def _end_record(data: bytes, where: str) -> None:
    """Refuse what zipfile would trust blindly: zip64 records, many members, a huge directory."""
    tail_start = max(0, len(data) - (65535 + 22))
    i = data.rfind(b"PK\x05\x06", tail_start)
    if i < 0 or len(data) < i + 22:
        raise _fail(where, "not a saved model (.npz without pickles): not a zip archive")
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = struct.unpack(
        "<4s4H2LH", data[i : i + 22]
    )
    if i >= 20 and data[i - 20 : i - 16] == b"PK\x06\x07":
        raise _fail(where, "not a saved model: a zip64 archive")
    if disk or cd_disk or entries == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):
        raise _fail(where, "not a saved model: a multi-disk or zip64 archive")
    if entries > _MAX_MEMBERS or cd_size > _MAX_CENTRAL_DIRECTORY:
        raise _fail(where, f"not a saved model: {entries} entries ({cd_size} bytes of directory)")


def _npy_header(f: Any, name: str, where: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """(shape, dtype, header length) of the .npy member open as ``f`` (header bytes only)."""
    head = io.BytesIO(f.read(_MAX_HEADER + 16))
    fmt = np.lib.format
    try:
        version = fmt.read_magic(head)
        if version == (1, 0):
            shape, _, dtype = fmt.read_array_header_1_0(head, max_header_size=_MAX_HEADER)
        elif version == (2, 0):
            shape, _, dtype = fmt.read_array_header_2_0(head, max_header_size=_MAX_HEADER)
        else:
            raise ValueError(f".npy format version {version} is not supported")
    except (ValueError, TypeError, SyntaxError, EOFError) as error:
        raise _fail(where, f"not a saved model: {name}: {error}") from error
    if not all(isinstance(d, int) and d >= 0 for d in shape):
        raise _fail(where, f"not a saved model: {name}: shape {shape} is not valid")
    return tuple(shape), dtype, head.tell()


def check_archive(data: bytes, where: str = "model", max_bytes: int = MAX_MODEL_BYTES) -> None:
    """Raise ModelFileError unless ``data`` is an .npz that ``np.load`` can read within
    ``max_bytes`` of arrays: expected member names only, numeric .npy headers (the 'meta'
    string aside) whose shapes match their members' sizes, plausible compression. Reads
    headers only; no array is loaded."""
    _end_record(data, where)
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, EOFError, struct.error) as error:
        raise _fail(where, f"not a saved model (.npz without pickles): {error}") from error
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise _fail(where, f"not a saved model: {len(infos)} entries")
        seen: set[str] = set()
        total = 0
        for info in infos:
            name = info.filename
            if not _MEMBER.fullmatch(name) or name in seen:
                raise _fail(where, f"not a saved model: unexpected entry {name[:80]!r}")
            seen.add(name)
            if info.flag_bits & 0x1:
                raise _fail(where, f"not a saved model: {name} is encrypted")
            size, packed = info.file_size, info.compress_size
            total += size
            if total > max_bytes:
                raise _fail(where, f"the arrays take more than {max_bytes} bytes uncompressed")
            if info.compress_type == zipfile.ZIP_STORED:
                plausible = packed == size
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                plausible = (
                    size <= _MAX_RATIO * packed + 1024 and packed <= size + size // 100 + 1024
                )
            else:
                raise _fail(
                    where, f"not a saved model: {name} uses compression {info.compress_type}"
                )
            if not plausible or info.header_offset + packed > len(data):
                raise _fail(
                    where,
                    f"not a saved model: {name} claims {size} bytes from {packed} compressed bytes",
                )
            try:
                with zf.open(info) as f:
                    shape, dtype, header = _npy_header(f, name, where)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
                if isinstance(error, ModelFileError):
                    raise
                raise _fail(where, f"not a saved model: {name}: {error}") from error
            if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
                raise _fail(where, f"not a saved model: {name} holds objects or records")
            if name == "meta.npy":
                if dtype.kind != "U" or shape != ():
                    raise _fail(where, "'meta' is not a JSON string")
            elif dtype.kind not in "biufc":
                raise _fail(where, f"not a saved model: {name} has dtype {dtype}, not numbers")
            count = 1
            for d in shape:
                count *= d
            if count * dtype.itemsize != size - header:
                raise _fail(
                    where,
                    f"not a saved model: {name} declares shape {shape} of {dtype} "
                    f"({count * dtype.itemsize} bytes) but holds {size - header} bytes",
                )


def load_model(path: str | os.PathLike, max_bytes: int = MAX_MODEL_BYTES) -> SavedModel:
    """Read and validate a file written by save_model (never unpickles anything).

    The archive is checked from its headers (:func:`check_archive`) before any array is
    loaded; ``max_bytes`` caps the arrays' total size (uncompressed) and the file's size.
    """
    where = str(path)
    data = _read_file(path, where, max_bytes)
    check_archive(data, where, max_bytes)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
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
