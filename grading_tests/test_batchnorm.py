"""Hidden tests: batch norm (forward, both backward passes), layer norm, spatial batch norm
and group norm."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    StudentError,
    backward,
    call,
    check_close,
    check_unchanged,
    describe,
    directional_check,
    fail,
    forward,
    graded,
)
from reference import layers as ref

F64, F32 = np.float64, np.float32


def _x(rng: np.random.Generator, shape: tuple[int, ...], scale: float, dtype: Any) -> np.ndarray:
    """Features with non-zero means and per-feature scales around ``scale``."""
    ax = (1,) if len(shape) == 2 else (1, 2, 3)
    sh = [1] * len(shape)
    for a in ax[:1]:
        sh[a] = shape[a]
    means = rng.uniform(-3, 3, size=sh)
    scales = scale * rng.uniform(0.7, 2.5, size=sh)
    return (means + scales * rng.standard_normal(shape)).astype(dtype)


def _affine_params(
    rng: np.random.Generator, shape: tuple[int, ...], dtype: Any
) -> tuple[np.ndarray, np.ndarray]:
    """gamma in [0.5, 2], beta ~ N(0, 1)."""
    return (
        rng.uniform(0.5, 2.0, size=shape).astype(dtype),
        rng.standard_normal(shape).astype(dtype),
    )


def _tol(dtype: Any, f64: str = "f64") -> str:
    return "f32" if np.dtype(dtype) == np.float32 else f64


# ---------------------------------------------------------------------------------------
# batchnorm_forward
# ---------------------------------------------------------------------------------------

BN_FWD_CASES = [
    ("train mode output", ((8, 5), 3.0, F64)),
    ("train mode output float32", ((6, 4), 2.0, F32)),
    ("features with tiny variance (eps matters)", ((7, 3), 1e-3, F64)),
]


@pytest.mark.parametrize("spec", graded("batchnorm_forward", BN_FWD_CASES))
def test_batchnorm_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Train mode normalises with batch mean and biased batch variance."""
    shape, scale, dtype = spec
    x = _x(rng, shape, scale, dtype)
    gamma, beta = _affine_params(rng, (shape[1],), dtype)
    case = describe(x=x, mode="train")
    out, _ = forward(student, case, "batchnorm_forward", x, gamma, beta, {"mode": "train"})
    expected, _ = ref.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    check_close(out, expected, _tol(dtype), "batchnorm_forward out", case, dtype=dtype)


@pytest.mark.grade("batchnorm_forward: running mean and variance over three train calls")
def test_batchnorm_running_stats(student: Any, rng: np.random.Generator) -> None:
    """bn_param's running averages are updated in place with momentum 0.9 (the default)."""
    param: dict = {"mode": "train"}
    eparam: dict = {"mode": "train"}
    for call_no in range(1, 4):
        x = _x(rng, (6, 4), 2.0, F64)
        gamma, beta = _affine_params(rng, (4,), F64)
        case = describe(x=x, mode="train", call=call_no)
        _, _, echoed = forward(student, case, "batchnorm_forward", x, gamma, beta, param, echo=True)
        ref.batchnorm_forward(x, gamma, beta, eparam)
        param = echoed[3]
        if not isinstance(param, dict):
            fail(f"batchnorm_forward [{case}]: bn_param did not come back as a dict")
        for key in ("running_mean", "running_var"):
            if key not in param:
                fail(f"batchnorm_forward [{case}]: bn_param has no {key!r} after the call")
            check_close(param[key], eparam[key], "f64", f"batchnorm_forward {key}", case)


@pytest.mark.grade("batchnorm_forward: test mode uses the running statistics")
def test_batchnorm_test_mode(student: Any, rng: np.random.Generator) -> None:
    """Test mode normalises with the given running averages and leaves them unchanged."""
    x = _x(rng, (5, 4), 2.0, F64)
    gamma, beta = _affine_params(rng, (4,), F64)
    param = {
        "mode": "test",
        "running_mean": rng.standard_normal(4),
        "running_var": rng.uniform(0.5, 3.0, size=4),
    }
    case = describe(x=x, mode="test")
    out, _, echoed = forward(
        student, case, "batchnorm_forward", x, gamma, beta, copy.deepcopy(param), echo=True
    )
    expected, _ = ref.batchnorm_forward(x, gamma, beta, copy.deepcopy(param))
    check_close(out, expected, "f64", "batchnorm_forward out", case)
    for key in ("running_mean", "running_var"):
        got = echoed[3].get(key) if isinstance(echoed[3], dict) else None
        if not isinstance(got, np.ndarray) or not np.array_equal(got, param[key]):
            fail(f"batchnorm_forward [{case}]: test mode changed bn_param[{key!r}]")


@pytest.mark.grade("batchnorm_forward: an unknown mode raises ValueError")
def test_batchnorm_bad_mode(student: Any, rng: np.random.Generator) -> None:
    """mode other than 'train'/'test' raises ValueError."""
    x = _x(rng, (4, 3), 1.0, F64)
    gamma, beta = _affine_params(rng, (3,), F64)
    case = "mode 'eval'"
    try:
        student.call("batchnorm_forward", x, gamma, beta, {"mode": "eval"}, keep=(1,))
    except StudentError as err:
        raised = getattr(err, "raised", None)
        if not (raised("ValueError") if callable(raised) else "ValueError" in str(err)):
            fail(f"batchnorm_forward [{case}]: raised something other than ValueError")
        return
    fail(f"batchnorm_forward [{case}]: returned normally instead of raising ValueError")


@pytest.mark.grade("batchnorm_forward: inputs not modified")
def test_batchnorm_inputs(student: Any, rng: np.random.Generator) -> None:
    """x, gamma and beta are unchanged after a train call."""
    x = _x(rng, (5, 3), 1.0, F64)
    gamma, beta = _affine_params(rng, (3,), F64)
    case = describe(x=x, mode="train")
    _, _, echoed = forward(
        student, case, "batchnorm_forward", x, gamma, beta, {"mode": "train"}, echo=True
    )
    check_unchanged(echoed[:3], (x, gamma, beta), "batchnorm_forward", case)


# ---------------------------------------------------------------------------------------
# Backward passes, shared by every normalisation
# ---------------------------------------------------------------------------------------


def _bn_inputs(
    rng: np.random.Generator, dtype: Any, shape: tuple[int, ...] = (6, 4)
) -> tuple[list[Any], Callable]:
    """Arguments of batchnorm_forward (train mode) and the reference forward."""
    x = _x(rng, shape, 2.0, dtype)
    gamma, beta = _affine_params(rng, (shape[1],), dtype)
    return [x, gamma, beta, {"mode": "train"}], ref.batchnorm_forward


def _ln_inputs(
    rng: np.random.Generator, dtype: Any, shape: tuple[int, ...] = (4, 6)
) -> tuple[list[Any], Callable]:
    """Arguments of layernorm_forward and the reference forward."""
    x = _x(rng, shape, 2.0, dtype)
    gamma, beta = _affine_params(rng, (shape[1],), dtype)
    return [x, gamma, beta, {}], ref.layernorm_forward


def _sbn_inputs(
    rng: np.random.Generator, dtype: Any, shape: tuple[int, ...] = (3, 4, 3, 2)
) -> tuple[list[Any], Callable]:
    """Arguments of spatial_batchnorm_forward (train mode) and the reference forward."""
    x = _x(rng, shape, 2.0, dtype)
    gamma, beta = _affine_params(rng, (shape[1],), dtype)
    return [x, gamma, beta, {"mode": "train"}], ref.spatial_batchnorm_forward


def _gn_inputs(
    rng: np.random.Generator, dtype: Any, shape: tuple[int, ...] = (2, 6, 3, 2), groups: int = 3
) -> tuple[list[Any], Callable]:
    """Arguments of spatial_groupnorm_forward and the reference forward."""
    x = _x(rng, shape, 2.0, dtype)
    gamma, beta = _affine_params(rng, (1, shape[1], 1, 1), dtype)
    return [x, gamma, beta, groups, {}], ref.spatial_groupnorm_forward


KINDS: dict[str, tuple[str, Callable]] = {
    "batchnorm": ("batchnorm_forward", _bn_inputs),
    "layernorm": ("layernorm_forward", _ln_inputs),
    "spatial_batchnorm": ("spatial_batchnorm_forward", _sbn_inputs),
    "spatial_groupnorm": ("spatial_groupnorm_forward", _gn_inputs),
}
REF_BWD = {
    "batchnorm_backward": ref.batchnorm_backward,
    "batchnorm_backward_alt": ref.batchnorm_backward_alt,
    "layernorm_backward": ref.layernorm_backward,
    "spatial_batchnorm_backward": ref.spatial_batchnorm_backward,
    "spatial_groupnorm_backward": ref.spatial_groupnorm_backward,
}


def _kind(bwd: str) -> str:
    return bwd.removesuffix("_backward_alt").removesuffix("_backward")


def _bwd_cases(case: str) -> list[Any]:
    return [
        pytest.param(bwd, marks=pytest.mark.grade(f"{bwd}: {case}"), id=f"{bwd}-{case}")
        for bwd in REF_BWD
    ]


def _run_backward(
    student: Any, rng: np.random.Generator, bwd: str, dtype: Any, **shape: Any
) -> tuple[list[Any], Callable, np.ndarray, tuple, str]:
    """One cache-producing forward call and the student's backward on its cache."""
    fwd, make = KINDS[_kind(bwd)]
    args, ref_fwd = make(rng, dtype, **shape)
    x = args[0]
    dout = rng.standard_normal(x.shape).astype(dtype)
    case = describe(x=x)
    _, cache = forward(student, case, fwd, *copy.deepcopy(args))
    grads = backward(student, case, bwd, dout, cache, 3)
    return args, ref_fwd, dout, grads, case


@pytest.mark.parametrize("bwd", _bwd_cases("dx, dgamma, dbeta"))
def test_norm_backward(student: Any, rng: np.random.Generator, bwd: str) -> None:
    """Gradients equal the reference's for one cache-producing forward call."""
    args, ref_fwd, dout, grads, case = _run_backward(student, rng, bwd, F64)
    _, rcache = ref_fwd(*copy.deepcopy(args))
    for name, got, exp in zip(
        ("dx", "dgamma", "dbeta"), grads, REF_BWD[bwd](dout, rcache), strict=True
    ):
        check_close(got, exp, "norm", f"{bwd} {name}", case)


@pytest.mark.parametrize("bwd", _bwd_cases("float32"))
def test_norm_backward_f32(student: Any, rng: np.random.Generator, bwd: str) -> None:
    """float32 in, float32 gradients out, close to the reference's."""
    args, ref_fwd, dout, grads, case = _run_backward(student, rng, bwd, F32)
    _, rcache = ref_fwd(*copy.deepcopy(args))
    for name, got, exp in zip(
        ("dx", "dgamma", "dbeta"), grads, REF_BWD[bwd](dout, rcache), strict=True
    ):
        check_close(got, exp, "f32", f"{bwd} {name}", case, dtype=F32)


@pytest.mark.parametrize("bwd", _bwd_cases("numeric gradient of your forward pass"))
def test_norm_backward_numeric(student: Any, rng: np.random.Generator, bwd: str) -> None:
    """dx, dgamma, dbeta agree with central differences of the student's forward pass."""
    args, _, dout, grads, case = _run_backward(student, rng, bwd, F64)
    fwd = KINDS[_kind(bwd)][0]
    for index, name in enumerate(("dx", "dgamma", "dbeta")):
        directional_check(student, case, fwd, args, index, dout, grads[index], bwd, rng, name)


# ---------------------------------------------------------------------------------------
# layer norm, spatial batch norm, group norm forward
# ---------------------------------------------------------------------------------------

LN_CASES = [
    ("per-sample statistics", ((4, 6), F64)),
    ("a batch of one sample", ((1, 7), F64)),
    ("float32", ((5, 4), F32)),
]


@pytest.mark.parametrize("spec", graded("layernorm_forward", LN_CASES))
def test_layernorm_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Normalises every sample over its features."""
    shape, dtype = spec
    args, _ = _ln_inputs(rng, dtype, shape)
    x = args[0]
    x[:, 0] += 5.0  # features of different scales, so per-feature statistics would differ
    case = describe(x=x)
    out, _ = forward(student, case, "layernorm_forward", *args)
    expected, _ = ref.layernorm_forward(*args)
    check_close(out, expected, _tol(dtype), "layernorm_forward out", case, dtype=dtype)


SBN_CASES = [
    ("train mode output", ((3, 4, 3, 2), F64)),
    ("train mode output float32", ((2, 3, 4, 4), F32)),
]


@pytest.mark.parametrize("spec", graded("spatial_batchnorm_forward", SBN_CASES))
def test_spatial_batchnorm_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Statistics over N, H, W for every channel."""
    shape, dtype = spec
    args, _ = _sbn_inputs(rng, dtype, shape)
    case = describe(x=args[0], mode="train")
    out, _ = forward(student, case, "spatial_batchnorm_forward", *args)
    expected, _ = ref.spatial_batchnorm_forward(*copy.deepcopy(args))
    check_close(out, expected, _tol(dtype), "spatial_batchnorm_forward out", case, dtype=dtype)


@pytest.mark.grade("spatial_batchnorm_forward: running statistics and test mode")
def test_spatial_batchnorm_running(student: Any, rng: np.random.Generator) -> None:
    """Two train calls update running stats of shape (C,); a test call then uses them."""
    param: dict = {"mode": "train", "momentum": 0.8}
    eparam: dict = {"mode": "train", "momentum": 0.8}
    for call_no in (1, 2):
        args, _ = _sbn_inputs(rng, F64, (2, 3, 4, 3))
        args[3] = param
        case = describe(x=args[0], mode="train", call=call_no)
        _, _, echoed = forward(student, case, "spatial_batchnorm_forward", *args, echo=True)
        param = echoed[3]
        ref.spatial_batchnorm_forward(*args[:3], eparam)
        for key in ("running_mean", "running_var"):
            if not isinstance(param, dict) or key not in param:
                fail(f"spatial_batchnorm_forward [{case}]: bn_param has no {key!r}")
            check_close(param[key], eparam[key], "f64", f"spatial_batchnorm_forward {key}", case)
    param["mode"] = eparam["mode"] = "test"
    args, _ = _sbn_inputs(rng, F64, (2, 3, 4, 3))
    case = describe(x=args[0], mode="test")
    out, _ = forward(student, case, "spatial_batchnorm_forward", *args[:3], param)
    expected, _ = ref.spatial_batchnorm_forward(*args[:3], eparam)
    check_close(out, expected, "f64", "spatial_batchnorm_forward out", case)


GN_CASES = [
    ("3 groups of 2 channels", ((2, 6, 3, 2), 3, F64)),
    ("one group", ((3, 4, 2, 3), 1, F64)),
    ("one channel per group float32", ((2, 3, 4, 2), 3, F32)),
]


@pytest.mark.parametrize("spec", graded("spatial_groupnorm_forward", GN_CASES))
def test_spatial_groupnorm_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """Per-sample statistics over each group of channels and H, W."""
    shape, groups, dtype = spec
    args, _ = _gn_inputs(rng, dtype, shape, groups)
    case = describe(x=args[0], G=groups)
    out, _ = forward(student, case, "spatial_groupnorm_forward", *args)
    expected, _ = ref.spatial_groupnorm_forward(*args)
    check_close(out, expected, _tol(dtype), "spatial_groupnorm_forward out", case, dtype=dtype)


@pytest.mark.grade("layernorm_forward: inputs not modified")
def test_layernorm_inputs(student: Any, rng: np.random.Generator) -> None:
    """x, gamma and beta are unchanged after the call."""
    args, _ = _ln_inputs(rng, F64)
    case = describe(x=args[0])
    reply = call(student, case, "layernorm_forward", *args, keep=(1,), echo_args=True)
    check_unchanged(reply.args[:3], args[:3], "layernorm_forward", case)
