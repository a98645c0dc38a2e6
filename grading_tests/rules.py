"""The rule table: one row per graded API name, the single source of the hidden suites.

Every row says, for one API name of ``docs/api.md``: its inputs and outputs, the legal
values of its parameters with their boundary values (falsy 0s, the smallest sizes, a batch of
one, one layer, one group, odd strides and paddings), the dtypes it must keep, which arguments
must stay unmodified, which state it updates, the tolerance of its comparisons (with the
reason), and its points. From it:

* ``grading_tests/points.py`` derives ``POINTS`` and ``SUITE_APIS`` (the collector refuses a
  test whose API name is not a row);
* ``grading_tests/battery.py`` generates the same battery of tests for every row (values
  against the reference at every boundary value, float32 kept, no write to any argument,
  numeric gradients, state updates);
* :func:`checklist` renders the student-facing checklist of an assignment (rule names and
  one-line meanings, never test code).

Adding a graded name is adding a row. Cases: the default values of every parameter, then one
case per boundary value of each parameter (the others at their defaults), then the row's
``combos`` (boundary values that only matter together, e.g. dropout with seed 0; for models
and the net also ``defaults``: only the required arguments, so every default of the
signature is used).
"""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from math import prod
from typing import Any

import numpy as np

from reference import classifiers as ref_models
from reference import layer_utils as ref_lu
from reference import layers as ref_layers
from reference import neural_net as ref_net
from reference import optim as ref_optim

ABSENT = None  # a config key that is not passed (the API's default applies)
RANDOM = "random"  # a value drawn per student (e.g. a dropout seed)

# ---------------------------------------------------------------------------------------
# Table types
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One parameter of a row's cases: its default, its boundary values, what it means.

    ``f64_only``: boundary values too ill-conditioned for a float32 comparison (tiny
    variances, statistics of two values); ``no_numeric``: values at which central
    differences say nothing (exact zeros into a ReLU: a kink; two values per normalisation
    group: a nearly constant function), skipped by the numeric-gradient checks.
    """

    name: str
    default: Any
    boundary: tuple[Any, ...] = ()
    meaning: str = ""
    f64_only: tuple[Any, ...] = ()
    no_numeric: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Case:
    """One point of a row's parameter space."""

    label: str
    values: dict[str, Any]
    f32: bool = True  # also checked in float32
    smooth: bool = True  # numeric gradients apply


@dataclass(frozen=True)
class Extra:
    """A hand-written test of a row (what the battery cannot express): its name after
    ``"<api>: "``, its one-line meaning, and ``value`` or ``property``."""

    name: str
    meaning: str
    kind: str = "value"


@dataclass(frozen=True)
class Rule:
    """One graded API name (see the module docstring).

    kind: ``forward`` (a layer's ``*_forward``, returns ``(out, cache)``), ``backward``
    (``*_backward(dout, cache)``, paired with the forward ``pair``), ``loss``
    (``(loss, dx)``), ``update`` (``rule(w, dw, config) -> (next_w, config)``), ``model``
    (a class with ``params`` and ``loss(X, y=None)``), ``net`` (the stand-alone two-layer
    net), ``saved_model`` (a model file scored on held-out data).
    """

    api: str
    kind: str
    suite: str
    summary: str
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    combos: tuple[tuple[str, dict[str, Any]], ...] = ()
    dtypes: tuple[str, ...] = ("float64", "float32")
    unmodified: tuple[str, ...] = ()
    state: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tol: str = "f64"
    tol32: str = "f32"
    tol_reason: str = ""
    points: float = 1.0
    pair: str | None = None  # backward: its forward; forward: its backward
    grads_of: tuple[str, ...] = ()  # backward: forward inputs, in the order of its outputs
    make: Callable[..., Any] | None = None  # (rng, dtype, values) -> the call's inputs
    ref: Callable[..., Any] | None = None  # the reference function or class
    numeric: bool = False  # a numeric-gradient check applies
    kinks: bool = False  # ReLU kinks or pooling ties inside: draws are kept away from them
    standalone: bool = False  # the stand-alone net (neural_net.py), graded on its own
    assignments: tuple[str, ...] = ()  # where it is graded (documentation; see nnkit.grade)
    extras: tuple[Extra, ...] = ()  # hand-written tests of this name (grading_tests/test_*.py)

    @property
    def key(self) -> str:
        """Unique row key: the API name, ``neural_net.TwoLayerNet`` for the stand-alone net."""
        return f"neural_net.{self.api}" if self.standalone else self.api

    @property
    def signature(self) -> str:
        """``affine_forward(x, w, b) -> out, cache``."""
        if self.kind in ("model", "net"):
            return f"{self.api}(...).loss({', '.join(self.inputs)}) -> {', '.join(self.outputs)}"
        if self.kind == "saved_model":
            return f"{self.api}.npz"
        return f"{self.api}({', '.join(self.inputs)}) -> {', '.join(self.outputs)}"


def cases(rule: Rule) -> list[Case]:
    """The default case, one case per boundary value, then the row's combos."""
    if rule.kind == "backward" and not rule.params:
        return cases(BY_KEY[rule.pair])  # type: ignore[index]
    defaults = {p.name: p.default for p in rule.params}
    out = [Case("default", dict(defaults))]
    for p in rule.params:
        for value in p.boundary:
            out.append(
                Case(
                    _label(p.name, value, p.meaning),
                    dict(defaults, **{p.name: value}),
                    f32=value not in p.f64_only,
                    smooth=value not in p.no_numeric,
                )
            )
    for label, values in rule.combos:
        if values.get("defaults"):  # the constructor's own defaults: slow, float64 not forced
            out.append(Case(label, dict(defaults, **values), f32=False, smooth=False))
        else:
            out.append(Case(label, dict(defaults, **values)))
    return out


_SHAPES = ("dims", "kernel", "out", "window", "HW", "input", "shape")


def _label(name: str, value: Any, meaning: str = "") -> str:
    if isinstance(value, bool) and meaning:
        return meaning if value else f"no {meaning}"
    if value is ABSENT:
        return f"{name} not given"
    if isinstance(value, tuple):
        if name in _SHAPES:
            return f"{name} {'x'.join(map(str, value))}"
        return f"{name} {list(value)}"
    return f"{name} {value}"


# ---------------------------------------------------------------------------------------
# Input makers (trusted side; per-student random values from the test's rng)
# ---------------------------------------------------------------------------------------


def _n(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any, scale: float = 1.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def _features(rng: np.random.Generator, shape: tuple[int, ...], axis: int, scale: float, dtype):
    """Values with a mean and a scale of their own along ``axis`` (features, channels)."""
    sh = [1] * len(shape)
    sh[axis] = shape[axis]
    means = rng.uniform(-3, 3, size=sh)
    scales = scale * rng.uniform(0.7, 2.5, size=sh)
    return (means + scales * rng.standard_normal(shape)).astype(dtype)


def _gamma_beta(rng: np.random.Generator, shape: tuple[int, ...], dtype):
    return rng.uniform(0.5, 2.0, size=shape).astype(dtype), _n(rng, shape, dtype)


def _seed(rng: np.random.Generator, value: Any) -> int:
    return int(rng.integers(1, 10_000)) if value == RANDOM else int(value)


def make_affine(rng, dtype, v):
    x = _n(rng, (v["N"], *v["dims"]), dtype)
    w = _n(rng, (prod(v["dims"]), v["M"]), dtype)
    b = _n(rng, (v["M"],), dtype)
    if v.get("zero_preact"):
        x[0] = 0
        b[::2] = 0
    return [x, w, b]


def make_elementwise(rng, dtype, v):
    x = _n(rng, (v["N"], *v["dims"]), np.float64, v.get("scale", 1.0))
    if v.get("exact_zeros"):
        x[rng.random(x.shape) < 0.25] = 0
        x.flat[0] = 0
    return [x.astype(dtype)]


def make_classification(rng, dtype, v):
    x = _n(rng, (v["N"], v["C"]), dtype, v["scale"])
    y = rng.integers(0, v["C"], size=v["N"])
    if v.get("margin_safe"):  # no hinge exactly at a kink (numeric checks)
        x64 = x.astype(np.float64)
        margins = x64 - x64[np.arange(v["N"]), y][:, None] + 1
        x[np.abs(margins) < 1e-3] += 0.01
    return [x, y]


def make_regression(rng, dtype, v):
    shape = (v["N"],) if v["shape"] == "(N,)" else (v["N"], 1)
    return [_n(rng, shape, dtype), _n(rng, shape, dtype)]


def _bn_param(rng, v, d):
    param: dict[str, Any] = {"mode": v["mode"]}
    for key in ("momentum", "eps"):
        if v.get(key) is not ABSENT:
            param[key] = v[key]
    if v["mode"] == "test" or v.get("running"):
        param["running_mean"] = rng.standard_normal(d)
        param["running_var"] = rng.uniform(0.5, 3.0, size=d)
    return param


def make_batchnorm(rng, dtype, v):
    x = _features(rng, (v["N"], v["D"]), 1, v["scale"], dtype)
    gamma, beta = _gamma_beta(rng, (v["D"],), dtype)
    param = _bn_param(rng, v, v["D"])
    for key in ("running_mean", "running_var"):
        if key in param:
            param[key] = param[key].astype(dtype)
    return [x, gamma, beta, param]


def make_layernorm(rng, dtype, v):
    x = _features(rng, (v["N"], v["D"]), 1, v["scale"], dtype)
    gamma, beta = _gamma_beta(rng, (v["D"],), dtype)
    param = {} if v["eps"] is ABSENT else {"eps": v["eps"]}
    return [x, gamma, beta, param]


def make_spatial_batchnorm(rng, dtype, v):
    h, w = v["HW"]
    x = _features(rng, (v["N"], v["C"], h, w), 1, v["scale"], dtype)
    gamma, beta = _gamma_beta(rng, (v["C"],), dtype)
    param = _bn_param(rng, v, v["C"])
    for key in ("running_mean", "running_var"):
        if key in param:
            param[key] = param[key].astype(dtype)
    return [x, gamma, beta, param]


def make_groupnorm(rng, dtype, v):
    c = v["G"] * v["per_group"]
    h, w = v["HW"]
    x = _features(rng, (v["N"], c, h, w), 1, v["scale"], dtype)
    gamma, beta = _gamma_beta(rng, (1, c, 1, 1), dtype)
    param = {} if v["eps"] is ABSENT else {"eps": v["eps"]}
    return [x, gamma, beta, v["G"], param]


def make_dropout(rng, dtype, v):
    x = (_n(rng, (v["N"], *v["dims"]), np.float64) + 2.0).astype(dtype)
    param: dict[str, Any] = {"mode": v["mode"], "p": v["p"]}
    if v["seed"] is not ABSENT:
        param["seed"] = _seed(rng, v["seed"])
    return [x, param]


def _conv_size(out: int, k: int, stride: int, pad: int) -> int:
    """The input size with exactly ``out`` positions (at least as many as needed for >= 1)."""
    size = k - 2 * pad + stride * (out - 1)
    while size < 1:
        out += 1
        size = k - 2 * pad + stride * (out - 1)
    return size


def make_conv(rng, dtype, v):
    kh, kw = v["kernel"]
    oh, ow = v["out"]
    h = _conv_size(oh, kh, v["stride"], v["pad"])
    w = _conv_size(ow, kw, v["stride"], v["pad"])
    x = _n(rng, (v["N"], v["C"], h, w), dtype)
    wt = _n(rng, (v["F"], v["C"], kh, kw), dtype)
    b = _n(rng, (v["F"],), dtype)
    return [x, wt, b, {"stride": v["stride"], "pad": v["pad"]}]


def make_pool(rng, dtype, v):
    ph, pw = v["window"]
    oh, ow = v["out"]
    h, w = ph + v["stride"] * (oh - 1), pw + v["stride"] * (ow - 1)
    x = _n(rng, (v["N"], v["C"], h, w), dtype)  # continuous values: no ties
    return [x, {"pool_height": ph, "pool_width": pw, "stride": v["stride"]}]


def make_conv_relu_pool(rng, dtype, v):
    ph, pw = v["window"]
    oh, ow = v["out"]
    ps = v["pool_stride"]
    ch, cw = ph + ps * (oh - 1), pw + ps * (ow - 1)  # conv output = pool input
    kh, kw = v["kernel"]
    h = _conv_size(ch, kh, v["stride"], v["pad"])
    w = _conv_size(cw, kw, v["stride"], v["pad"])
    x = _n(rng, (v["N"], v["C"], h, w), dtype)
    wt = _n(rng, (v["F"], v["C"], kh, kw), dtype)
    b = _n(rng, (v["F"],), dtype)
    conv = {"stride": v["stride"], "pad": v["pad"]}
    return [x, wt, b, conv, {"pool_height": ph, "pool_width": pw, "stride": ps}]


def make_update(rng, dtype, v, keys: tuple[str, ...], state: tuple[str, ...]):
    w = _n(rng, v["shape"], dtype)
    dw = _n(rng, v["shape"], dtype, v["dw_scale"])
    if v.get("config_none"):
        return [w, dw, None]
    config: dict[str, Any] = {}
    for key in keys:
        if v.get(key) is not ABSENT:
            config[key] = v[key]
    if v.get("state"):
        for key in state:
            if key == "t":
                config["t"] = 5
            elif key == "cache" or key == "v":
                config[key] = rng.uniform(0.1, 1.0, size=v["shape"]).astype(dtype)
            else:
                config[key] = _n(rng, v["shape"], dtype, 0.5)
    return [w, dw, config]


@dataclass
class ModelCall:
    """A model case: constructor arguments, inputs, labels, loss keyword arguments."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    X: np.ndarray
    y: np.ndarray
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    frozen: tuple[str, ...] = ()  # parameters whose gradient is 0 (a bias before a norm)


CIFAR = (3, 32, 32)  # the shape of one input the constructors default to


def make_two_layer(rng, dtype, v):
    if v.get("defaults"):
        X = _n(rng, (v["N"], *CIFAR), np.float64)
        return ModelCall((), {}, X, rng.integers(0, 10, size=v["N"]))
    kwargs = {
        "input_dim": prod(v["input"]),
        "hidden_dim": v["hidden"],
        "num_classes": v["classes"],
        "weight_scale": 0.05,
        "reg": v["reg"],
    }
    X = _n(rng, (v["N"], *v["input"]), np.float64)
    return ModelCall((), kwargs, X, rng.integers(0, v["classes"], size=v["N"]))


def make_fc(rng, dtype, v):
    if v.get("defaults"):
        X = _n(rng, (v["N"], *CIFAR), np.float64)
        kwargs = {"hidden_dims": list(v["hidden_dims"])}
        return ModelCall((), kwargs, X, rng.integers(0, 10, size=v["N"]))
    kwargs: dict[str, Any] = {
        "hidden_dims": list(v["hidden_dims"]),
        "input_dim": prod(v["input"]),
        "num_classes": v["classes"],
        "reg": v["reg"],
        "weight_scale": 0.1,
        "dtype": np.dtype(dtype).name,
    }
    if v["normalization"] is not None:
        kwargs["normalization"] = v["normalization"]
    if v["dropout_keep_ratio"] != 1:
        kwargs["dropout_keep_ratio"] = v["dropout_keep_ratio"]
        kwargs["seed"] = _seed(rng, v["seed"])
    X = _n(rng, (v["N"], *v["input"]), np.float64)
    frozen = ()
    if v["normalization"] == "batchnorm":  # per-feature batch statistics remove the bias
        frozen = tuple(f"b{i}" for i in range(1, len(v["hidden_dims"]) + 1))
    if v["category"] == "regression":
        # one output; real targets of the call's dtype (graders pass one dtype per call),
        # shaped (N,) unless the case asks for (N, 1); not centred, so a bias matters
        kwargs["category"] = "regression"
        kwargs["num_classes"] = 1
        shape = (v["N"], 1) if v.get("targets") == "(N, 1)" else (v["N"],)
        y = (1.0 + 2.0 * rng.standard_normal(shape)).astype(dtype)
        return ModelCall((), kwargs, X, y, frozen=frozen)
    return ModelCall((), kwargs, X, rng.integers(0, v["classes"], size=v["N"]), frozen=frozen)


def make_cnn(rng, dtype, v):
    if v.get("defaults"):
        X = _n(rng, (v["N"], *CIFAR), np.float64)
        return ModelCall((), {}, X, rng.integers(0, 10, size=v["N"]))
    kwargs = {
        "input_dim": tuple(v["input"]),
        "num_filters": v["filters"],
        "filter_size": v["filter_size"],
        "hidden_dim": v["hidden"],
        "num_classes": v["classes"],
        "weight_scale": 0.1,
        "reg": v["reg"],
        "dtype": np.dtype(dtype).name,
    }
    X = _n(rng, (v["N"], *v["input"]), np.float64)
    return ModelCall((), kwargs, X, rng.integers(0, v["classes"], size=v["N"]))


def make_net(rng, dtype, v):
    d, h, c = v["sizes"]
    X = _n(rng, (v["N"], d), np.float64)
    return ModelCall(
        (d, h, c),
        {} if v.get("defaults") else {"std": 0.1},
        X,
        rng.integers(0, c, size=v["N"]),
        loss_kwargs={} if v["reg"] is ABSENT else {"reg": v["reg"]},
    )


# ---------------------------------------------------------------------------------------
# Shared parameter sets
# ---------------------------------------------------------------------------------------


AFFINE = (
    Param("N", 4, (1,), "batch size"),
    Param("dims", (5,), ((2, 3), (2, 1, 3), (1,)), "x's dimensions after N (D = their product)"),
    Param("M", 3, (1,), "output features"),
)
AFFINE_RELU = (
    *AFFINE,
    Param("zero_preact", False, (True,), "exact-0 pre-activations", no_numeric=(True,)),
)
RELU = (
    Param("N", 4, (1,), "batch size"),
    Param("dims", (5,), ((3, 2, 2),), "x's dimensions after N"),
    Param("exact_zeros", False, (True,), "entries exactly 0", no_numeric=(True,)),
)
SIGMOID = (
    Param("N", 4, (1,), "batch size"),
    Param("dims", (5,), ((2, 3, 2),), "x's dimensions after N"),
    Param("scale", 2.0, (0.0, 30.0), "scale of x (0: every x exactly 0; 30: saturated)"),
)
SOFTMAX = (
    Param("N", 5, (1,), "batch size"),
    Param("C", 4, (2,), "classes"),
    Param(
        "scale",
        1.0,
        (0.0, 1e4),
        "scale of the scores (0: all equal; 1e4: huge)",
        no_numeric=(1e4,),  # rounding of 1e4-sized scores swamps a 1e-6 step
    ),
)
SVM = (
    Param("N", 5, (1,), "batch size"),
    Param("C", 4, (2,), "classes"),
    Param("scale", 1.0, (0.0, 10.0), "scale of the scores (0: all equal; 10: large margins)"),
    Param("margin_safe", True, (), "no margin within 1e-3 of the hinge"),
)
MSE = (
    Param("N", 6, (1,), "batch size"),
    Param("shape", "(N, 1)", ("(N,)",), "shape of the predictions"),
)
BATCHNORM = (
    Param("N", 6, (1,), "batch size"),
    Param("D", 4, (1,), "features"),
    Param("mode", "train", ("test",), "'train' or 'test'"),
    Param("momentum", ABSENT, (0.0, 0.5), "momentum of the running averages (absent: 0.9)"),
    Param("eps", ABSENT, (1e-3,), "added to the variance (absent: 1e-5)"),
    Param("scale", 2.0, (1e-3,), "scale of x (1e-3: tiny variance, eps matters)", f64_only=(1e-3,)),
    Param("running", False, (True,), "running averages already in bn_param"),
)
BN_BACKWARD = tuple(p for p in BATCHNORM if p.name not in ("mode", "running"))
LAYERNORM = (
    Param("N", 4, (1,), "batch size"),
    Param("D", 5, (1, 2), "features", f64_only=(2,), no_numeric=(2,)),
    Param("eps", ABSENT, (1e-3,), "added to the variance (absent: 1e-5)"),
    Param("scale", 2.0, (1e-3,), "scale of x", f64_only=(1e-3,)),
)
SPATIAL_BN = (
    Param("N", 2, (1,), "batch size"),
    Param("C", 3, (1,), "channels"),
    Param("HW", (3, 2), ((1, 1),), "height x width", f64_only=((1, 1),), no_numeric=((1, 1),)),
    Param("mode", "train", ("test",), "'train' or 'test'"),
    Param("momentum", ABSENT, (0.0,), "momentum of the running averages (absent: 0.9)"),
    Param("eps", ABSENT, (1e-3,), "added to the variance (absent: 1e-5)"),
    Param("scale", 2.0, (), "scale of x"),
    Param("running", False, (True,), "running averages already in bn_param"),
)
SBN_BACKWARD = tuple(p for p in SPATIAL_BN if p.name not in ("mode", "running"))
GROUPNORM = (
    Param("N", 2, (1,), "batch size"),
    Param("G", 2, (1, 3), "groups (1: one group)"),
    Param("per_group", 2, (1,), "channels per group (1: one channel per group)"),
    Param("HW", (3, 2), ((1, 1),), "height x width", f64_only=((1, 1),), no_numeric=((1, 1),)),
    Param("eps", ABSENT, (1e-3,), "added to the variance (absent: 1e-5)"),
    Param("scale", 2.0, (), "scale of x"),
)
DROPOUT = (
    Param("N", 10, (1,), "batch size"),
    Param("dims", (12,), ((3, 4, 5),), "x's dimensions after N"),
    Param("p", 0.7, (1.0, 0.25), "probability of keeping a unit (1: keep all)"),
    Param("mode", "train", ("test",), "'train' or 'test'"),
    Param("seed", RANDOM, (0,), "seed of the mask (0 is a seed too)"),
)
CONV = (
    Param("N", 2, (1,), "batch size"),
    Param("C", 2, (1,), "input channels"),
    Param("F", 3, (1,), "filters"),
    Param("kernel", (3, 3), ((1, 1), (3, 1), (5, 5)), "kernel height x width"),
    Param("stride", 1, (2, 3), "stride"),
    Param("pad", 1, (0, 2, 3), "zero padding on every side"),
    # 2x3: an even output height (the default's is odd, its width even)
    Param("out", (3, 2), ((1, 1), (2, 3)), "output height x width"),
)
POOL = (
    Param("N", 2, (1,), "batch size"),
    Param("C", 2, (1,), "channels"),
    Param("window", (2, 2), ((1, 1), (3, 2)), "pool height x width"),
    Param("stride", 2, (1, 3), "stride (1: overlapping windows; 3: an unused border)"),
    # 3x2: an even output width (the default's is odd, its height even)
    Param("out", (2, 3), ((1, 1), (3, 3), (3, 2)), "output height x width"),
)
CONV_RELU = (
    Param("N", 2, (1,), "batch size"),
    Param("C", 2, (1,), "input channels"),
    Param("F", 3, (1,), "filters"),
    Param("kernel", (3, 3), ((1, 1), (3, 1)), "kernel height x width"),
    Param("stride", 1, (2,), "stride"),
    Param("pad", 1, (0, 2), "zero padding"),
    Param("out", (3, 2), ((1, 1),), "output height x width"),
)
CONV_RELU_POOL = (
    Param("N", 2, (1,), "batch size"),
    Param("C", 2, (1,), "input channels"),
    Param("F", 3, (1,), "filters"),
    Param("kernel", (3, 3), ((1, 1),), "kernel height x width"),
    Param("stride", 1, (2,), "convolution stride"),
    Param("pad", 1, (0,), "zero padding"),
    Param("window", (2, 2), ((1, 1), (3, 3)), "pool height x width"),
    Param("pool_stride", 2, (1,), "pool stride"),
    Param("out", (2, 2), ((1, 1),), "pooled output height x width"),
)


def _update_params(keys: dict[str, tuple[Any, ...]], state: bool) -> tuple[Param, ...]:
    out = [
        Param("shape", (3, 4), ((1,), (2, 3, 2)), "shape of w and dw"),
        Param("dw_scale", 1.0, (1e-4,), "scale of dw (1e-4: epsilon matters)"),
        Param("config_none", False, (True,), "config=None (every default)"),
    ]
    for key, boundary in keys.items():
        out.append(Param(key, ABSENT, boundary, f"config[{key!r}] (absent: the default)"))
    if state:
        out.append(Param("state", False, (True,), "state already in config (a later step)"))
    return tuple(out)


_UPDATE_KEYS = {
    "sgd": ({"learning_rate": (0.0, 0.5)}, ()),
    "sgd_momentum": (
        {"learning_rate": (0.0, 0.5), "momentum": (0.0, 0.99)},
        ("velocity",),
    ),
    "rmsprop": (
        {"learning_rate": (0.0, 0.05), "decay_rate": (0.0, 0.5), "epsilon": (0.0, 1e-4)},
        ("cache",),
    ),
    "adam": (
        {
            "learning_rate": (0.0, 0.05),
            "beta1": (0.0, 0.5),
            "beta2": (0.0, 0.9),
            "epsilon": (0.0, 1e-4),
        },
        ("m", "v", "t"),
    ),
}

# ---------------------------------------------------------------------------------------
# Tolerances and their reasons (the values live in grading_tests._support.TOLERANCES)
# ---------------------------------------------------------------------------------------

WHY = {
    "f64": "elementwise float64 operations and short sums: two correct orders agree to ~1e-15",
    "norm": "chains of float64 operations with cancellation (mean removed): ~1e-12 in practice",
    "loss": "one float64 scalar",
    "model": "several float64 layers deep: ~1e-12 in practice",
    "f32": "float32 rounding, ~1e-7 per operation over sums of <= 100 terms",
    "model32": "about ten float32 layers of rounding",
}

F64_ONLY = ("float64",)

# ---------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------

FC_A = ("fully_connected",)
CONV_A = ("convnets",)


def _fwd(api, suite, summary, inputs, params, make, ref, *, back, unmodified, **kw) -> Rule:
    return Rule(
        api,
        "forward",
        suite,
        summary,
        inputs=inputs,
        outputs=("out", "cache"),
        params=params,
        make=make,
        ref=ref,
        pair=back,
        unmodified=unmodified,
        tol_reason=WHY[kw.get("tol", "f64")],
        **kw,
    )


def _bwd(api, suite, summary, fwd, grads, ref, params=(), **kw) -> Rule:
    return Rule(
        api,
        "backward",
        suite,
        summary,
        inputs=("dout", "cache"),
        outputs=tuple(f"d{g}" for g in grads),
        params=params,
        ref=ref,
        pair=fwd,
        grads_of=grads,
        unmodified=("dout", "cache"),
        numeric=True,
        tol_reason=WHY[kw.get("tol", "f64")],
        **kw,
    )


RULES: tuple[Rule, ...] = (
    # ---- layers ----------------------------------------------------------------------
    _fwd(
        "affine_forward",
        "test_layers",
        "out = x.reshape(N, D) @ w + b for x of any rank",
        ("x", "w", "b"),
        AFFINE,
        make_affine,
        ref_layers.affine_forward,
        back="affine_backward",
        unmodified=("x", "w", "b"),
        assignments=FC_A,
    ),
    _bwd(
        "affine_backward",
        "test_layers",
        "dx (x's original shape), dw, db of the affine layer",
        "affine_forward",
        ("x", "w", "b"),
        ref_layers.affine_backward,
        assignments=FC_A,
    ),
    _fwd(
        "relu_forward",
        "test_layers",
        "max(0, x) elementwise",
        ("x",),
        RELU,
        make_elementwise,
        ref_layers.relu_forward,
        back="relu_backward",
        unmodified=("x",),
        assignments=FC_A,
    ),
    _bwd(
        "relu_backward",
        "test_layers",
        "dout where x > 0, else 0 (0 at exactly 0)",
        "relu_forward",
        ("x",),
        ref_layers.relu_backward,
        assignments=FC_A,
    ),
    _fwd(
        "sigmoid_forward",
        "test_layers",
        "1 / (1 + exp(-x)), stable for large |x|",
        ("x",),
        SIGMOID,
        make_elementwise,
        ref_layers.sigmoid_forward,
        back="sigmoid_backward",
        unmodified=("x",),
        assignments=FC_A,
        extras=(
            Extra("large |x| without overflow", "finite and without numpy overflow warnings"),
            Extra("large |x| without overflow, float32", "the same in float32"),
        ),
    ),
    _bwd(
        "sigmoid_backward",
        "test_layers",
        "dout * s * (1 - s)",
        "sigmoid_forward",
        ("x",),
        ref_layers.sigmoid_backward,
        assignments=FC_A,
    ),
    _fwd(
        "affine_relu_forward",
        "test_layers",
        "relu(affine(x, w, b))",
        ("x", "w", "b"),
        AFFINE_RELU,
        make_affine,
        ref_lu.affine_relu_forward,
        back="affine_relu_backward",
        unmodified=("x", "w", "b"),
        assignments=FC_A,
    ),
    _bwd(
        "affine_relu_backward",
        "test_layers",
        "dx, dw, db of relu(affine(x, w, b))",
        "affine_relu_forward",
        ("x", "w", "b"),
        ref_lu.affine_relu_backward,
        tol="norm",
        kinks=True,
        assignments=FC_A,
    ),
    # ---- losses ----------------------------------------------------------------------
    Rule(
        "softmax_loss",
        "loss",
        "test_losses",
        "mean cross-entropy of the softmax and its gradient; finite for huge scores",
        inputs=("x", "y"),
        outputs=("loss", "dx"),
        params=SOFTMAX,
        make=make_classification,
        ref=ref_layers.softmax_loss,
        unmodified=("x", "y"),
        numeric=True,
        tol_reason=WHY["f64"] + "; the loss: " + WHY["loss"],
        assignments=FC_A,
    ),
    Rule(
        "svm_loss",
        "loss",
        "test_losses",
        "mean multiclass hinge loss (margin 1) and its gradient",
        inputs=("x", "y"),
        outputs=("loss", "dx"),
        params=SVM,
        make=make_classification,
        ref=ref_layers.svm_loss,
        unmodified=("x", "y"),
        numeric=True,
        kinks=True,
        tol_reason=WHY["f64"] + "; the loss: " + WHY["loss"],
        assignments=FC_A,
    ),
    Rule(
        "mse_loss",
        "loss",
        "test_losses",
        "mean((x - y)**2) and dx = 2 (x - y) / N of x's shape",
        inputs=("x", "y"),
        outputs=("loss", "dx"),
        params=MSE,
        make=make_regression,
        ref=ref_layers.mse_loss,
        unmodified=("x", "y"),
        numeric=True,
        tol_reason=WHY["f64"] + "; the loss: " + WHY["loss"],
        assignments=FC_A,
    ),
    # ---- update rules ----------------------------------------------------------------
    *(
        Rule(
            rule,
            "update",
            "test_optim",
            {
                "sgd": "w - learning_rate * dw",
                "sgd_momentum": "v = momentum * v - learning_rate * dw; w + v",
                "rmsprop": "cache = d * cache + (1 - d) dw^2; w - lr dw / (sqrt(cache) + eps)",
                "adam": "t += 1; bias-corrected moving averages m, v; w - lr mt / (sqrt(vt) + eps)",
            }[rule],
            inputs=("w", "dw", "config"),
            outputs=("next_w", "config"),
            params=_update_params(keys, bool(state)),
            make=lambda rng, dtype, v, keys=tuple(keys), state=state: make_update(
                rng, dtype, v, keys, state
            ),
            ref=getattr(ref_optim, rule),
            unmodified=("w", "dw"),
            state={"config": state},
            tol_reason=WHY["f64"],
            assignments=FC_A,
        )
        for rule, (keys, state) in _UPDATE_KEYS.items()
    ),
    # ---- normalisation ---------------------------------------------------------------
    _fwd(
        "batchnorm_forward",
        "test_batchnorm",
        "batch statistics in train mode (biased variance), running averages in test mode",
        ("x", "gamma", "beta", "bn_param"),
        BATCHNORM,
        make_batchnorm,
        ref_layers.batchnorm_forward,
        back="batchnorm_backward",
        unmodified=("x", "gamma", "beta"),
        state={"bn_param": ("running_mean", "running_var")},
        assignments=FC_A,
        extras=(Extra("an unknown mode raises ValueError", "mode 'eval' raises ValueError"),),
    ),
    _bwd(
        "batchnorm_backward",
        "test_batchnorm",
        "dx, dgamma, dbeta of train-mode batch norm (computation graph)",
        "batchnorm_forward",
        ("x", "gamma", "beta"),
        ref_layers.batchnorm_backward,
        params=BN_BACKWARD,
        tol="norm",
        assignments=FC_A,
    ),
    _bwd(
        "batchnorm_backward_alt",
        "test_batchnorm",
        "dx, dgamma, dbeta of train-mode batch norm (closed form)",
        "batchnorm_forward",
        ("x", "gamma", "beta"),
        ref_layers.batchnorm_backward_alt,
        params=BN_BACKWARD,
        tol="norm",
        assignments=FC_A,
    ),
    _fwd(
        "layernorm_forward",
        "test_batchnorm",
        "per-sample statistics over the features, same in train and test",
        ("x", "gamma", "beta", "ln_param"),
        LAYERNORM,
        make_layernorm,
        ref_layers.layernorm_forward,
        back="layernorm_backward",
        unmodified=("x", "gamma", "beta", "ln_param"),
        assignments=FC_A,
    ),
    _bwd(
        "layernorm_backward",
        "test_batchnorm",
        "dx, dgamma, dbeta of layer norm",
        "layernorm_forward",
        ("x", "gamma", "beta"),
        ref_layers.layernorm_backward,
        tol="norm",
        assignments=FC_A,
    ),
    _fwd(
        "spatial_batchnorm_forward",
        "test_batchnorm",
        "batch norm of channels: statistics over N, H, W",
        ("x", "gamma", "beta", "bn_param"),
        SPATIAL_BN,
        make_spatial_batchnorm,
        ref_layers.spatial_batchnorm_forward,
        back="spatial_batchnorm_backward",
        unmodified=("x", "gamma", "beta"),
        state={"bn_param": ("running_mean", "running_var")},
        assignments=CONV_A,
    ),
    _bwd(
        "spatial_batchnorm_backward",
        "test_batchnorm",
        "dx, dgamma, dbeta of spatial batch norm (train mode)",
        "spatial_batchnorm_forward",
        ("x", "gamma", "beta"),
        ref_layers.spatial_batchnorm_backward,
        params=SBN_BACKWARD,
        tol="norm",
        assignments=CONV_A,
    ),
    _fwd(
        "spatial_groupnorm_forward",
        "test_batchnorm",
        "per-sample statistics over each group of C // G channels and H, W",
        ("x", "gamma", "beta", "G", "gn_param"),
        GROUPNORM,
        make_groupnorm,
        ref_layers.spatial_groupnorm_forward,
        back="spatial_groupnorm_backward",
        unmodified=("x", "gamma", "beta", "gn_param"),
        assignments=CONV_A,
    ),
    _bwd(
        "spatial_groupnorm_backward",
        "test_batchnorm",
        "dx, dgamma, dbeta (gamma's shape) of group norm",
        "spatial_groupnorm_forward",
        ("x", "gamma", "beta"),
        ref_layers.spatial_groupnorm_backward,
        tol="norm",
        assignments=CONV_A,
    ),
    # ---- dropout ---------------------------------------------------------------------
    _fwd(
        "dropout_forward",
        "test_dropout",
        "inverted dropout: x * (rand < p) / p after np.random.seed(seed) if a seed is given",
        ("x", "dropout_param"),
        DROPOUT,
        make_dropout,
        ref_layers.dropout_forward,
        back="dropout_backward",
        unmodified=("x", "dropout_param"),
        assignments=FC_A,
        extras=(
            Extra(
                "train mode without a seed: keep rate and scale",
                "without a seed, about a fraction p of the units is kept, each scaled by 1/p, "
                "and two calls draw different masks",
            ),
            Extra("train mode without a seed: small p", "the same with p = 0.25"),
        ),
    ),
    _bwd(
        "dropout_backward",
        "test_dropout",
        "dout times the forward pass's mask (dout in test mode)",
        "dropout_forward",
        ("x",),
        ref_layers.dropout_backward,
        assignments=FC_A,
    ),
    # ---- convolution and pooling -----------------------------------------------------
    _fwd(
        "conv_forward_naive",
        "test_conv",
        "cross-correlation with zero padding and stride",
        ("x", "w", "b", "conv_param"),
        CONV,
        make_conv,
        ref_layers.conv_forward_naive,
        back="conv_backward_naive",
        unmodified=("x", "w", "b", "conv_param"),
        assignments=CONV_A,
    ),
    _bwd(
        "conv_backward_naive",
        "test_conv",
        "dx, dw, db of the convolution",
        "conv_forward_naive",
        ("x", "w", "b"),
        ref_layers.conv_backward_naive,
        assignments=CONV_A,
    ),
    _fwd(
        "max_pool_forward_naive",
        "test_conv",
        "maximum of every window (no padding; windows may overlap or leave a border)",
        ("x", "pool_param"),
        POOL,
        make_pool,
        ref_layers.max_pool_forward_naive,
        back="max_pool_backward_naive",
        unmodified=("x", "pool_param"),
        combos=(("overlapping windows, output 3x3", {"stride": 1, "out": (3, 3)}),),
        assignments=CONV_A,
    ),
    _bwd(
        "max_pool_backward_naive",
        "test_conv",
        "each dout to its window's maximum, summed where windows overlap",
        "max_pool_forward_naive",
        ("x",),
        ref_layers.max_pool_backward_naive,
        kinks=True,
        assignments=CONV_A,
    ),
    _fwd(
        "conv_relu_forward",
        "test_conv",
        "relu(conv(x))",
        ("x", "w", "b", "conv_param"),
        CONV_RELU,
        make_conv,
        ref_lu.conv_relu_forward,
        back="conv_relu_backward",
        unmodified=("x", "w", "b", "conv_param"),
        assignments=CONV_A,
    ),
    _bwd(
        "conv_relu_backward",
        "test_conv",
        "dx, dw, db of relu(conv(x))",
        "conv_relu_forward",
        ("x", "w", "b"),
        ref_lu.conv_relu_backward,
        tol="norm",
        kinks=True,
        assignments=CONV_A,
    ),
    _fwd(
        "conv_relu_pool_forward",
        "test_conv",
        "pool(relu(conv(x)))",
        ("x", "w", "b", "conv_param", "pool_param"),
        CONV_RELU_POOL,
        make_conv_relu_pool,
        ref_lu.conv_relu_pool_forward,
        back="conv_relu_pool_backward",
        unmodified=("x", "w", "b", "conv_param", "pool_param"),
        assignments=CONV_A,
    ),
    _bwd(
        "conv_relu_pool_backward",
        "test_conv",
        "dx, dw, db of pool(relu(conv(x)))",
        "conv_relu_pool_forward",
        ("x", "w", "b"),
        ref_lu.conv_relu_pool_backward,
        tol="norm",
        kinks=True,
        assignments=CONV_A,
    ),
    # ---- models ----------------------------------------------------------------------
    Rule(
        "TwoLayerNet",
        "model",
        "test_models",
        "affine - relu - affine - softmax; L2 on W1, W2; reg read at each call",
        inputs=("X", "y"),
        outputs=("scores | loss, grads",),
        params=(
            Param("N", 5, (1,), "batch size"),
            Param("input", (12,), ((3, 2, 2),), "shape of one input"),
            Param("hidden", 7, (1,), "hidden units"),
            Param("classes", 4, (2,), "classes"),
            Param("reg", 0.0, (0.7,), "L2 strength"),
        ),
        combos=(("defaults", {"defaults": True, "N": 2}),),
        dtypes=F64_ONLY,
        make=make_two_layer,
        ref=ref_models.TwoLayerNet,
        unmodified=("X", "y"),
        numeric=True,
        kinks=True,
        tol="model",
        tol_reason=WHY["model"],
        points=2,
        assignments=FC_A,
        extras=(
            Extra("reg attribute read at each call", "setting model.reg later changes the loss"),
        ),
    ),
    Rule(
        "FullyConnectedNet",
        "model",
        "test_models",
        "{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax; "
        "category='regression' (num_classes 1): the same layers, the last affine's output is "
        "the prediction (N, 1), loss mse_loss plus the same L2",
        inputs=("X", "y"),
        outputs=("scores | loss, grads",),
        params=(
            Param("N", 6, (1,), "batch size"),
            Param("input", (8,), ((2, 4),), "shape of one input"),
            Param("hidden_dims", (6, 5), ((4,), (5, 4, 6, 3)), "hidden layers (one layer)"),
            Param("classes", 4, (2,), "classes"),
            Param("normalization", None, ("batchnorm", "layernorm"), "normalisation"),
            Param("dropout_keep_ratio", 1, (0.6,), "dropout keep ratio (1: no dropout)"),
            Param("seed", RANDOM, (), "dropout seed"),
            Param("reg", 0.0, (0.3,), "L2 strength"),
            Param(
                "category",
                "classification",
                ("regression",),
                "'regression': num_classes 1, real targets y of shape (N,), MSE loss",
            ),
        ),
        combos=(
            ("dropout with seed 0", {"dropout_keep_ratio": 0.5, "seed": 0}),
            ("batchnorm and dropout", {"normalization": "batchnorm", "dropout_keep_ratio": 0.7}),
            ("batchnorm, one hidden layer", {"normalization": "batchnorm", "hidden_dims": (5,)}),
            ("layernorm, a batch of one", {"normalization": "layernorm", "N": 1}),
            ("layernorm, one hidden layer", {"normalization": "layernorm", "hidden_dims": (5,)}),
            ("batchnorm, reg 0.2", {"normalization": "batchnorm", "reg": 0.2}),
            ("regression, targets (N, 1)", {"category": "regression", "targets": "(N, 1)"}),
            ("regression, reg 0.3", {"category": "regression", "reg": 0.3}),
            (
                "regression, batchnorm and dropout",
                {"category": "regression", "normalization": "batchnorm", "dropout_keep_ratio": 0.7},
            ),
            (
                "regression, one hidden layer, a batch of one",
                {"category": "regression", "hidden_dims": (4,), "N": 1},
            ),
            ("defaults", {"defaults": True, "N": 2, "hidden_dims": (7,)}),
        ),
        make=make_fc,
        ref=ref_models.FullyConnectedNet,
        unmodified=("X", "y"),
        state={"bn_params": ("running_mean", "running_var")},
        numeric=True,
        kinks=True,
        tol="model",
        tol32="model32",
        tol_reason=WHY["model"] + "; float32: " + WHY["model32"],
        points=2,
        assignments=FC_A,
        extras=(
            Extra(
                "an unknown category raises ValueError",
                "category='classifier' (neither 'classification' nor 'regression') raises "
                "ValueError, in the constructor or at the latest in loss",
                "property",  # a net that raises for everything would pass: gated by the values
            ),
        ),
    ),
    Rule(
        "ThreeLayerConvNet",
        "model",
        "test_models",
        "conv ('same' padding) - relu - 2x2 max pool - affine - relu - affine - softmax",
        inputs=("X", "y"),
        outputs=("scores | loss, grads",),
        params=(
            Param("N", 3, (1,), "batch size"),
            Param("input", (2, 6, 6), ((1, 4, 6), (1, 2, 2)), "input (C, H, W)"),
            Param("filters", 3, (1,), "filters"),
            Param("filter_size", 3, (1, 5), "odd filter size (1: pad 0)"),
            Param("hidden", 5, (1,), "hidden units"),
            Param("classes", 4, (2,), "classes"),
            Param("reg", 0.0, (0.5,), "L2 strength"),
        ),
        combos=(("defaults", {"defaults": True, "N": 1}),),
        make=make_cnn,
        ref=ref_models.ThreeLayerConvNet,
        unmodified=("X", "y"),
        numeric=True,
        kinks=True,
        tol="model",
        tol32="model32",
        tol_reason=WHY["model"] + "; float32: " + WHY["model32"],
        points=2,
        assignments=CONV_A,
    ),
    Rule(
        "TwoLayerNet",
        "net",
        "test_neural_net",
        "the stand-alone net: loss (scores, softmax loss + L2, gradients), train, predict",
        inputs=("X", "y", "reg"),
        outputs=("scores | loss, grads",),
        params=(
            Param("N", 6, (1,), "batch size"),
            Param("sizes", (5, 4, 3), ((1, 1, 2), (7, 1, 5)), "input, hidden, output sizes"),
            Param("reg", ABSENT, (0.0, 0.05), "L2 strength (absent: 0)"),
        ),
        combos=(("defaults", {"defaults": True}),),
        dtypes=F64_ONLY,
        make=make_net,
        ref=ref_net.TwoLayerNet,
        unmodified=("X", "y"),
        numeric=True,
        kinks=True,
        tol="model",
        tol_reason=WHY["model"],
        points=2,
        standalone=True,
        assignments=("two_layer_net",),
        extras=(
            Extra("scores of the toy problem", "the notebook's toy problem: scores"),
            Extra(
                "loss and gradients of the toy problem (reg 0.1)",
                "the notebook's toy problem: loss 1.30378789133 and its gradients",
            ),
            Extra(
                "train, plain SGD (histories and parameters)",
                "train() seeded like the reference gives the same histories and parameters "
                "(minibatches from np.random.choice, accuracies and decay once an epoch)",
            ),
            Extra(
                "train, momentum 0.9 and learning-rate decay 0.5 (histories and parameters)",
                "the same with momentum and a strong decay",
            ),
            Extra(
                "train, one minibatch per epoch (histories and parameters)",
                "the same with N = batch_size: accuracies and decay after every iteration",
            ),
            Extra(
                "train, a minibatch larger than the training set (histories and parameters)",
                "the same with N < batch_size: an epoch is still one iteration",
            ),
            Extra(
                "train, the default settings (histories and parameters)",
                "the same with every default of train() (learning rate, decay, reg, "
                "iterations, batch size, momentum)",
            ),
            Extra(
                "train reduces the loss and fits separable data",
                "200 iterations on separable blobs reach >= 0.9 training accuracy",
                "property",
            ),
        ),
    ),
)


# ---------------------------------------------------------------------------------------
# Saved models (accuracy thresholds)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bonus:
    """Extra points for a saved model beyond a mark (seed 004: "one bonus point for every 1 %
    of test accuracy above 56 %"): ``points`` per whole ``step`` above ``above``."""

    above: float
    step: float
    points: float
    assignments: tuple[str, ...]  # where the bonus is paid

    def earned(self, value: float) -> float:
        """The bonus of a measured accuracy (whole steps strictly above the mark)."""
        steps = int(np.floor((value - self.above) / self.step + 1e-9))
        return max(0, steps) * self.points


@dataclass(frozen=True)
class Threshold:
    """What a saved model must reach on a held-out split.

    ``bounds``: assignment -> the bound its notebooks' model must reach (the assignments
    where the model is graded when the course selects this data set, see
    ``nnkit.datasets``); ``bound``: the bound of a submission of no known assignment
    (``.py`` modules with a model file next to them).
    """

    dataset: str  # name for nnkit.heldout.load_heldout
    metric: str  # 'accuracy' (higher is better) or 'rmse' (lower is better)
    bound: float  # accuracy >= bound, or rmse <= bound
    classes: tuple[str, ...]  # model classes accepted in the file's meta
    bounds: dict[str, float] = field(default_factory=dict)
    bonus: Bonus | None = None
    split: str = ""  # what the held-out split is (documentation)

    @property
    def filename(self) -> str:
        """The file the submission must contain."""
        return f"best_model_{self.dataset}.npz"

    @property
    def op(self) -> str:
        return ">=" if self.metric == "accuracy" else "<="

    def bound_for(self, assignment: str | None) -> float:
        """The bound of a model submitted with ``assignment`` (None: no known assignment)."""
        return self.bounds.get(assignment, self.bound) if assignment else self.bound

    def passes(self, value: float, assignment: str | None = None) -> bool:
        bound = self.bound_for(assignment)
        return value >= bound if self.metric == "accuracy" else value <= bound


_CLASSIFIERS = ("FullyConnectedNet", "ThreeLayerConvNet", "TwoLayerNet")
_TLN, _FC = "two_layer_net", "fully_connected"

# Thresholds per data set (API name "best_model_<dataset>"); the course's data-set setting
# (nbgrader_config.py, c.NnkitData.dataset; see nnkit/datasets.py) says which ones its
# notebooks are graded on. Margins of the bundled bounds: docs/course.md.
THRESHOLDS: dict[str, Threshold] = {
    # bundled 8x8 digits (270 held-out rows): the reference models reach 0.96-0.98 and a net
    # stopped after a few dozen iterations stays below 0.90 (margins in docs/course.md).
    "digits": Threshold(
        "digits",
        "accuracy",
        0.95,
        _CLASSIFIERS,
        {_TLN: 0.95, _FC: 0.95},
        split="the bundled set's 270 held-out rows (nnkit/data/digits_heldout.npz)",
    ),
    # MNIST t10k: the stand-alone net of seed 002 (> 96.3 % test, > 97.4 % validation: the
    # validation mark is checked in the notebook) and the FC net of seed 003 (>= 95 %).
    "mnist": Threshold(
        "mnist",
        "accuracy",
        0.95,
        _CLASSIFIERS,
        {_TLN: 0.963, _FC: 0.95},
        split="the official t10k test files (10,000 images)",
    ),
    # CIFAR-10 test_batch: ">= 50 %" for the two-layer nets and the best FC net (seeds
    # 000/001/004), and seed 004's bonus for the two-layer net: 1 point per 1 % above 56 %.
    "cifar10": Threshold(
        "cifar10",
        "accuracy",
        0.50,
        _CLASSIFIERS,
        {_TLN: 0.50, _FC: 0.50},
        bonus=Bonus(0.56, 0.01, 1.0, (_TLN,)),
        split="the official test_batch (10,000 images)",
    ),
    # Regression bounds: RMSE in the data set's units on the held-out split, measured with
    # benchmarks/bench_regression.py (the notebook's own regression code; docs/course.md).
    # diabetes (67 held-out rows, target std ~77): mean predictor 76.3, linear regression
    # (closed form, same training rows) 55.8, the notebook's net 54.0-55.2 over 5 seeds
    # (other reasonable settings 55.1-55.8), undertrained nets 76.6 / 68.2 / 64.3 after
    # 1 / 3 / 5 epochs. No net clearly beats linear regression on diabetes (20 random
    # re-splits: net - linear = -0.06 +- 1.76), so this bound cannot exclude it: 58 certifies
    # a trained regression net of linear-model quality (margins: reference >= 2.8 below,
    # 5-epoch net 6.3 above). The bound that linear regression fails is California's.
    "diabetes": Threshold(
        "diabetes",
        "rmse",
        58.0,
        ("FullyConnectedNet",),
        {_FC: 58.0},
        split="the bundled set's 67 held-out rows (nnkit/data/diabetes_heldout.npz)",
    ),
    # California housing (2064 held-out rows, units of $100k, std ~1.15): mean predictor
    # 1.145, linear regression 0.750, the notebook's net 0.547-0.567 over 5 seeds, one hidden
    # layer of 64 0.614, undertrained nets 0.645 / 0.623 after 1 / 2 epochs. 0.60: reference
    # margin >= 0.033, linear regression fails by 0.15, undertrained by >= 0.023.
    "california": Threshold(
        "california",
        "rmse",
        0.60,
        ("FullyConnectedNet",),
        {_FC: 0.60},
        split="a fixed 10 % of the rows (nnlib.data.california_heldout_mask)",
    ),
}


def bounds_text(t: Threshold) -> str:
    """``accuracy >= 0.95``, or the bound of every assignment when they differ."""
    per = sorted(set(t.bounds.values()))
    if len(per) <= 1:
        return f"{t.metric} {t.op} {t.bound:g}"
    return f"{t.metric} {t.op} " + ", ".join(f"{b:g} ({a})" for a, b in sorted(t.bounds.items()))


def _saved_model_extras(name: str, t: Threshold) -> tuple[Extra, ...]:
    out = [
        Extra(
            f"held-out {bounds_text(t)}",
            f"{t.filename} next to the submission reaches it on held-out {name} data ({t.split})",
        )
    ]
    if t.bonus is not None:
        b = t.bonus
        out.append(
            Extra(
                bonus_name(t),
                f"{b.points:g} extra point(s) for every whole {b.step:.0%} of held-out "
                f"{t.metric} above {b.above:.0%} ({', '.join(b.assignments)})",
                "bonus",
            )
        )
    return tuple(out)


def bonus_name(t: Threshold) -> str:
    """The case name of a threshold's bonus test (after ``"best_model_<dataset>: "``)."""
    b = t.bonus
    assert b is not None
    return f"bonus, {b.points:g} point per {b.step:.0%} above {b.above:.0%}"


SAVED_MODEL_RULES: tuple[Rule, ...] = tuple(
    Rule(
        f"best_model_{name}",
        "saved_model",
        "test_thresholds",
        f"a model saved with nnlib.model_io.save_model as {t.filename}, scored on held-out "
        f"{name}: {bounds_text(t)}"
        + (
            f"; {t.bonus.points:g} bonus point per {t.bonus.step:.0%} above {t.bonus.above:.0%}"
            if t.bonus
            else ""
        ),
        dtypes=(),
        points=5,
        tol_reason="a threshold, not a comparison",
        extras=_saved_model_extras(name, t),
        assignments=tuple(t.bounds),
    )
    for name, t in THRESHOLDS.items()
)

ALL_RULES: tuple[Rule, ...] = RULES + SAVED_MODEL_RULES
BY_KEY: dict[str, Rule] = {r.key: r for r in ALL_RULES}


def rule_for(api: str, standalone: bool = False) -> Rule:
    """The row of ``api`` (the stand-alone net's row when ``standalone``)."""
    return BY_KEY[f"neural_net.{api}" if standalone else api]


def points_table() -> dict[str, float]:
    """API name -> points per test (one value per name, even for the two TwoLayerNets)."""
    out: dict[str, float] = {}
    for r in ALL_RULES:
        if out.setdefault(r.api, r.points) != r.points:
            raise ValueError(f"rows of {r.api} disagree on its points")
    return out


def suite_table() -> dict[str, tuple[str, ...]]:
    """Suite module -> the API names it grades, in table order."""
    out: dict[str, list[str]] = {}
    for r in ALL_RULES:
        names = out.setdefault(r.suite, [])
        if r.api not in names:
            names.append(r.api)
    return {k: tuple(v) for k, v in out.items()}


# ---------------------------------------------------------------------------------------
# The student-facing checklist
# ---------------------------------------------------------------------------------------

#: What holds for every graded function (docs/api.md, "Rules for every function"), said once
#: at the top of every checklist.
GENERAL: tuple[str, ...] = (
    "Arguments are read, not changed: after a call every array passed in holds what it held "
    "before, and every dict keeps its values. The only exceptions are the dicts that carry "
    "state (bn_param's running averages, the update rules' config), named with each function.",
    "float32 in, float32 out; float64 in, float64 out: every output and gradient keeps the "
    "dtype of the inputs (watch float64 constants and masks such as (x > 0) / p).",
    "The hidden tests call your functions on other inputs than the visible checks: new random "
    "values for every student, at the defaults and at each boundary value listed below (a "
    "batch of one, one feature, zero padding, momentum 0, seed 0, one hidden layer ...), in "
    "float64 and in float32. Values are compared with the correct ones up to float rounding.",
    "A forward function returns (out, cache) and its backward function gets that cache back "
    "untouched: what you keep in it is up to you.",
    "Gated credit: property checks (marked property) pay only in proportion to the value "
    "checks of the same name, so a function whose values are wrong earns nothing for its "
    "properties either.",
)

_UPDATE_STATED = (
    "config=None means every default; missing entries of the config passed in are written "
    "into that same dict (config.setdefault), the new state is stored in it too, and it is "
    "returned as the second value",
)
_NORM_EPS = "eps goes inside the square root: xhat = (x - mean) / sqrt(var + eps)"
_BN_STATED = (
    "bn_param['mode'] is 'train' or 'test'; anything else raises ValueError",
    "missing keys get defaults written into bn_param: eps 1e-5, momentum 0.9, and running_mean, "
    "running_var as zeros (one per feature) in the dtype of x",
    "train mode: the batch mean and the biased variance (divide by N); " + _NORM_EPS,
    "train mode stores running = momentum * running + (1 - momentum) * batch value back into "
    "bn_param, for the mean and the variance; test mode normalises with the running values",
    "out = gamma * xhat + beta",
)
_MODEL_INIT = (
    "parameters start as: every weight matrix weight_scale * np.random.randn(fan_in, fan_out) "
    "(no other np.random call in __init__), drawn in the order W1, W2, ...; every bias zeros; "
    "gammas ones, betas zeros"
)
_MODEL_LOSS = (
    "loss(X) returns the scores (N, C), every layer in test mode; loss(X, y) returns "
    "(loss, grads) in train mode, grads keyed like params"
)
_L2 = "the L2 term is 0.5 * reg * the sum of the squared entries of {} only (no biases, "
_L2 += "gammas or betas), added to the softmax loss; its gradient reg * W is added to each"

#: One-line statements of the rules a row's checks rely on, by row key: the API's rules that
#: a check can fail on and that the row's summary and parameter meanings do not already say.
STATED: dict[str, tuple[str, ...]] = {
    "affine_forward": (
        "x of shape (N, d1, ..., dk) is used as N rows of D = d1 * ... * dk values; w is "
        "(D, M), b is (M,); out is (N, M)",
    ),
    "affine_backward": ("dx comes back in the original shape of x; dw is (D, M), db is (M,)",),
    "relu_forward": ("out = max(0, x) elementwise, of x's shape and dtype",),
    "relu_backward": ("the gradient at exactly 0 is 0",),
    "sigmoid_forward": (
        "no numpy warning (overflow in exp) for inputs of any magnitude, e.g. compute with "
        "exp(-|x|)",
    ),
    "softmax_loss": (
        "x is (N, C) scores, y (N,) labels; the loss and dx are averaged over the N rows",
        "subtract each row's maximum before exponentiating, so that enormous scores stay finite",
    ),
    "svm_loss": (
        "the loss sums max(0, x_j - x_y + 1) over the wrong classes j of each row, averaged "
        "over N; dx is its gradient (graders keep margins away from the hinge)",
    ),
    "mse_loss": ("x and y have the same shape, (N,) or (N, 1); dx has x's shape",),
    "sgd": (*_UPDATE_STATED, "default: learning_rate 1e-2"),
    "sgd_momentum": (
        *_UPDATE_STATED,
        "defaults: learning_rate 1e-2, momentum 0.9, velocity zeros like w",
        "v = momentum * v - learning_rate * dw, next_w = w + v, and config['velocity'] = v",
    ),
    "rmsprop": (
        *_UPDATE_STATED,
        "defaults: learning_rate 1e-2, decay_rate 0.99, epsilon 1e-8, cache zeros like w",
        "cache = decay_rate * cache + (1 - decay_rate) * dw**2, next_w = w - learning_rate * "
        "dw / (sqrt(cache) + epsilon)",
    ),
    "adam": (
        *_UPDATE_STATED,
        "defaults: learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m and v zeros "
        "like w, t 0",
        "t increases by one first; m = beta1 * m + (1 - beta1) * dw, v = beta2 * v + "
        "(1 - beta2) * dw**2; mt = m / (1 - beta1**t), vt = v / (1 - beta2**t); next_w = w - "
        "learning_rate * mt / (sqrt(vt) + epsilon); m, v and t are stored in config",
    ),
    "batchnorm_forward": _BN_STATED,
    "batchnorm_backward": (
        "the gradients of train-mode batchnorm_forward (batch mean, biased variance, eps "
        "inside the square root)",
    ),
    "batchnorm_backward_alt": (
        "the same numbers as batchnorm_backward (the cache of your batchnorm_forward)",
    ),
    "layernorm_forward": (
        "the mean and the biased variance of each example over its D features; " + _NORM_EPS,
        "eps is ln_param['eps'] if given, else 1e-5; ln_param is not changed; train and test "
        "are the same (no running averages)",
        "out = gamma * xhat + beta",
    ),
    "layernorm_backward": ("the gradients of layernorm_forward",),
    "spatial_batchnorm_forward": (
        "x is (N, C, H, W), gamma and beta are (C,): batch normalisation of the C channels, "
        "with statistics over N, H and W; bn_param as in batchnorm_forward",
        *_BN_STATED[1:4],
    ),
    "spatial_batchnorm_backward": ("the gradients of train-mode spatial_batchnorm_forward",),
    "spatial_groupnorm_forward": (
        "x is (N, C, H, W) with C divisible by G; gamma and beta are (1, C, 1, 1)",
        "per example, the mean and the biased variance over each group of C // G consecutive "
        "channels and all H, W positions; " + _NORM_EPS,
        "eps is gn_param['eps'] if given, else 1e-5; gn_param is not changed",
        "out = gamma * xhat + beta",
    ),
    "spatial_groupnorm_backward": ("dgamma and dbeta have gamma's shape (1, C, 1, 1)",),
    "dropout_forward": (
        "dropout_param['p'] is the probability of keeping a unit; mode 'train' or 'test'",
        "when dropout_param holds a 'seed' (0 included), call np.random.seed(seed) first",
        "train mode: mask = (np.random.rand(*x.shape) < p) / p and out = x * mask, in x's "
        "dtype; test mode: out = x",
    ),
    "dropout_backward": ("train mode: dout * mask; test mode: dout",),
    "conv_forward_naive": (
        "x is (N, C, H, W), w is (F, C, HH, WW), b is (F,); conv_param holds stride and pad "
        "(zeros added on each side of H and W)",
        "a cross-correlation (the kernel is not flipped); out is (N, F, H', W') with H' = "
        "1 + (H + 2 pad - HH) / stride, W' likewise",
    ),
    "conv_backward_naive": ("dx, dw, db have the shapes of x, w, b",),
    "max_pool_forward_naive": (
        "pool_param holds pool_height, pool_width and stride; x is (N, C, H, W), out is "
        "(N, C, H', W') with H' = 1 + (H - pool_height) / stride, W' likewise",
    ),
    "max_pool_backward_naive": ("the graders' inputs have no ties inside a window",),
    "conv_relu_forward": ("may use the fast layers of nnlib",),
    "affine_relu_forward": ("affine_forward then relu_forward; x of any shape (N, d1, ...)",),
    "conv_relu_pool_forward": ("may use the fast layers of nnlib",),
    "TwoLayerNet": (
        "params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,); X may have any shape (N, d1, ..., dk)",
        _MODEL_INIT + "; parameters stay float64",
        _MODEL_LOSS,
        _L2.format("W1 and W2") + " weight's gradient",
        "loss reads self.reg each time it runs",
    ),
    "FullyConnectedNet": (
        "params W1 ... WL and b1 ... bL, plus gamma1 ... gamma(L-1) and beta1 ... beta(L-1) "
        "with a normalisation; num_layers is L = len(hidden_dims) + 1",
        _MODEL_INIT,
        "then every parameter is cast to dtype (default float32), and loss casts X to it: "
        "float32 parameters give float32 scores, loss and gradients",
        "normalization None, 'batchnorm' or 'layernorm': after each hidden affine layer, "
        "batchnorm_forward or layernorm_forward with gamma_i, beta_i and the dict "
        "bn_params[i-1]; bn_params is a list of one dict per hidden layer ({'mode': 'train'}) "
        "with a normalisation, else empty",
        "dropout after each hidden ReLU when dropout_keep_ratio != 1, with dropout_param "
        "{'mode': 'train', 'p': dropout_keep_ratio} plus 'seed' when seed is given (0 too); "
        "seed seeds dropout only, never the weights",
        _MODEL_LOSS + "; the modes of bn_params and dropout_param are set accordingly",
        _L2.format("W1 ... WL") + " weight's gradient",
        "category is 'classification' (the default) or 'regression' (anything else raises "
        "ValueError); regression, with num_classes=1: no softmax after the last affine layer, "
        "loss(X) returns the predictions (N, 1), and the loss is mse_loss of the predictions "
        "against y (N,) or (N, 1) reshaped like them (and cast to dtype), plus the same L2 term",
    ),
    "ThreeLayerConvNet": (
        "conv with stride 1 and pad (filter_size - 1) // 2, ReLU, 2x2 max pool with stride 2, "
        "affine, ReLU, affine, softmax",
        "params W1 (F, C, filter_size, filter_size), b1 (F,), W2 (F * H/2 * W/2, hidden_dim), "
        "b2, W3 (hidden_dim, num_classes), b3",
        "parameters start as weight_scale * np.random.randn(*shape) for W1, W2, W3 in that "
        "order (no other np.random call in __init__), biases zeros; then every parameter is "
        "cast to dtype (default float32), and loss casts X to it",
        _MODEL_LOSS,
        _L2.format("W1, W2 and W3") + " weight's gradient",
    ),
    "neural_net.TwoLayerNet": (
        "params W1 (D, H), b1 (H,), W2 (H, C), b2 (C,): W1 = std * np.random.randn(D, H) drawn "
        "before W2 = std * np.random.randn(H, C), biases zeros",
        "loss(X) returns the scores; loss(X, y, reg) the mean softmax loss plus 0.5 * reg * "
        "(sum(W1**2) + sum(W2**2)) and the gradients of every parameter",
        "train: each iteration draws its minibatch with np.random.choice(N, batch_size) (with "
        "replacement), then computes loss and gradients and updates every parameter: "
        "W -= learning_rate * dW, or with momentum > 0 v = momentum * v - learning_rate * dW "
        "and W += v (v starts at zero in every call of train); loss_history gets the "
        "minibatch loss of each iteration",
        "an epoch is max(N // batch_size, 1) iterations: after the update of every iteration "
        "it that is a multiple of it (it = 0 included), record the accuracy on that minibatch "
        "and on the validation set, then multiply the learning rate by learning_rate_decay",
        "train returns a dict with loss_history (one value per iteration), train_acc_history "
        "and val_acc_history",
        "predict(X) returns the integer labels (N,) of the highest scores",
    ),
}


def row_in(api: str, assignment: str) -> Rule:
    """The row that grades ``api`` in ``assignment`` (the stand-alone TwoLayerNet in
    two_layer_net, the modular one elsewhere)."""
    rows = [r for r in ALL_RULES if r.api == api and assignment in r.assignments]
    if len(rows) != 1:
        raise KeyError(f"{api!r} is graded by {len(rows)} rows in {assignment!r}")
    return rows[0]


def checks(rule: Rule) -> list[tuple[str, str, str]]:
    """``(check name, one-line meaning, 'value' | 'property')`` of a row's battery."""
    from grading_tests import battery  # the battery names its checks; no cycle at import

    return battery.describe(rule)


def _fmt_value(value: Any) -> str:
    if value is ABSENT:
        return "not given"
    if isinstance(value, tuple):
        return "x".join(map(str, value)) if value else "()"
    return str(value)


def parameters(rule: Rule) -> list[str]:
    """``name: meaning. Base case d; also tested: v1, v2`` for each parameter of the row's
    cases (the base case is the test's, not the signature's default)."""
    out = []
    for p in rule.params:
        if p.default == RANDOM:
            default = "a random value per student"
        else:
            default = _fmt_value(p.default)
        line = f"{p.name}: {p.meaning}. " if p.meaning else f"{p.name}: "
        line += f"Base case {default}"
        if p.boundary:
            line += "; also tested: " + ", ".join(_fmt_value(v) for v in p.boundary)
        out.append(line)
    return out


#: What a combined case's label means, where the label alone does not say it.
_COMBO = {
    "defaults": "defaults (only the required arguments: the signature's own default values)",
}


def entry(rule: Rule, fmt: str = "markdown") -> list[str]:
    """The checklist lines of one row: signature, stated rules, parameters, checks."""
    md = fmt == "markdown"
    lines = [f"## `{rule.api}`" if md else rule.api, ""]
    if rule.kind == "saved_model":
        raise ValueError("saved models are rendered together (saved_models)")
    else:
        lines.append(f"`{rule.signature}`: {rule.summary}" if md else rule.signature)
        if not md:
            lines.append(rule.summary)
    lines.append("")
    stated = list(STATED.get(rule.key, ()))
    if stated:
        lines.append("Rules:" if not md else "**Rules**")
        lines.append("")
        lines += [f"- {s}" for s in stated]
        lines.append("")
    params = parameters(rule)
    if params and rule.kind != "saved_model":
        head = "Cases (a base case, then one test per boundary value)"
        lines.append(f"**{head}**" if md else head + ":")
        lines.append("")
        lines += [f"- {s}" for s in params]
        if rule.combos:
            together = [_COMBO.get(label, label) for label, _ in rule.combos]
            lines.append("- together: " + "; ".join(together))
        lines.append("")
    lines.append("Checks:" if not md else "**Checks**")
    lines.append("")
    for name, meaning, kind in checks(rule):
        tag = " (property)" if kind == "property" else ""
        lines.append(f"- {'**' if md else ''}{name}{'**' if md else ''}{tag}: {meaning}")
    lines.append("")
    return lines


def saved_models(rows: list[Rule], fmt: str = "markdown") -> list[str]:
    """One entry per saved model of the course's data sets: its file and what it must reach
    on held-out data (bonus rules included)."""
    md = fmt == "markdown"
    lines: list[str] = []
    for r in rows:
        lines += [f"## `{r.api}`" if md else r.api, ""]
        lines.append(
            (f"`{r.signature}`" if md else r.signature)
            + ", written with nnlib.model_io.save_model next to the notebook, is scored on "
            "held-out data of its set (never seen in training). A missing or unreadable file "
            "scores 0."
        )
        lines.append("")
        lines += [f"- {x.name}: {x.meaning}" for x in r.extras]
        lines.append("")
    return lines


def render(
    title: str, rows: list[Rule], fmt: str = "markdown", intro: str = "", general: bool = True
) -> str:
    """A checklist: ``title``, the rules for every function (``general``), then one entry per
    row."""
    md = fmt == "markdown"
    lines = [f"# {title}" if md else title, ""]
    if intro:
        lines += [intro, ""]
    if general:
        lines.append("## Rules for every graded function" if md else "Rules for every function")
        lines.append("")
        lines += [f"- {g}" for g in GENERAL]
        lines.append("")
    for rule in rows:
        if rule.kind != "saved_model":
            lines += entry(rule, fmt)
    lines += saved_models([r for r in rows if r.kind == "saved_model"], fmt)
    return "\n".join(lines).rstrip() + "\n"


def checklist(assignment: str, fmt: str = "markdown", setting: Any = None) -> str:
    """The checklist of an assignment: every graded name, its rules and what they mean.

    Names and one-line meanings only (never test code or hidden values). ``fmt`` is
    ``"markdown"`` or ``"text"``. The release carries the same entries per notebook
    (``nnkit.course.checklist``). ``setting``: the course's data sets
    (``nnkit.datasets.DataSetting``; default: the kit's course config), which decide the saved
    models listed.
    """
    from nnkit.grade import assignment_apis

    if setting is None:  # the course's data sets (nbgrader_config.py of the kit's course)
        from pathlib import Path

        from nnkit.datasets import load_setting

        setting = load_setting(Path(__file__).resolve().parent.parent)
    rows = [row_in(api, assignment) for api in assignment_apis(assignment, setting)]
    return render(f"What the grader checks: {assignment}", rows, fmt)
