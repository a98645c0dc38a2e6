"""Hidden tests: inverted dropout (p is the probability of keeping a unit)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    as_array,
    backward,
    check_close,
    check_unchanged,
    describe,
    fail,
    forward,
    graded,
    np_seeded,
)
from reference import layers as ref

F64, F32 = np.float64, np.float32


def _ref_forward(x: np.ndarray, param: dict) -> tuple[np.ndarray, Any]:
    with np_seeded(0):
        return ref.dropout_forward(x, dict(param))


SEEDED_CASES = [
    ("train mode with a seed: exact mask", ((20, 30), 0.7, "train", F64)),
    ("train mode with a seed: 4-d float32", ((3, 4, 5, 6), 0.4, "train", F32)),
    ("test mode returns x", ((10, 12), 0.3, "test", F64)),
]


@pytest.mark.parametrize("spec", graded("dropout_forward", SEEDED_CASES))
def test_dropout_forward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """With a seed the output equals x * (rand < p) / p after np.random.seed(seed)."""
    shape, p, mode, dtype = spec
    x = (rng.standard_normal(shape) + 2.0).astype(dtype)
    param = {"mode": mode, "p": p, "seed": int(rng.integers(1, 10_000))}
    case = describe(x=x, p=p, mode=mode)
    out, _ = forward(student, case, "dropout_forward", x, dict(param))
    expected, _ = _ref_forward(x, param)
    check_close(
        out, expected, "f32" if dtype == F32 else "f64", "dropout_forward out", case, dtype=dtype
    )


STAT_CASES = [
    ("train mode without a seed: keep rate and scale", 0.8),
    ("train mode without a seed: small p", 0.25),
]


@pytest.mark.parametrize("p", graded("dropout_forward", STAT_CASES))
def test_dropout_statistics(student: Any, rng: np.random.Generator, p: float) -> None:
    """A fraction p of the units is kept, each scaled by 1/p; two calls draw new masks."""
    x = np.ones((400, 100))
    case = describe(x=x, p=p, mode="train", seed="none")
    student.seed(int(rng.integers(0, 2**31 - 1)))
    outs = []
    for _ in range(2):
        out, _ = forward(student, case, "dropout_forward", x, {"mode": "train", "p": p})
        outs.append(as_array(out, "dropout_forward out", case))
    out = outs[0]
    if out.shape != x.shape:
        fail(f"dropout_forward [{case}]: shape {out.shape}, expected {x.shape}")
    kept = out != 0
    rate = float(kept.mean())
    sigma = np.sqrt(p * (1 - p) / x.size)
    if abs(rate - p) > 5 * sigma:
        fail(f"dropout_forward [{case}]: kept {rate:.3f} of the units, expected about {p}")
    if not np.allclose(out[kept], 1.0 / p, rtol=1e-6):
        fail(f"dropout_forward [{case}]: kept units are not scaled by 1/p")
    if np.array_equal(outs[0] != 0, outs[1] != 0):
        fail(f"dropout_forward [{case}]: two calls without a seed drew the same mask")


@pytest.mark.grade("dropout_forward: inputs not modified")
def test_dropout_inputs(student: Any, rng: np.random.Generator) -> None:
    """x is unchanged after a train call."""
    x = rng.standard_normal((6, 7))
    case = describe(x=x, mode="train")
    _, _, echoed = forward(
        student, case, "dropout_forward", x, {"mode": "train", "p": 0.5, "seed": 3}, echo=True
    )
    check_unchanged(echoed[:1], (x,), "dropout_forward", case)


BWD_CASES = [
    ("train mode: dout times the mask", ((15, 20), 0.6, "train", F64)),
    ("test mode: dout unchanged", ((8, 9), 0.6, "test", F64)),
    ("train mode float32", ((4, 5, 6), 0.5, "train", F32)),
]


@pytest.mark.parametrize("spec", graded("dropout_backward", BWD_CASES))
def test_dropout_backward(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """dx from the cache of one seeded forward call."""
    shape, p, mode, dtype = spec
    x = (rng.standard_normal(shape) + 2.0).astype(dtype)
    dout = rng.standard_normal(shape).astype(dtype)
    param = {"mode": mode, "p": p, "seed": int(rng.integers(1, 10_000))}
    case = describe(x=x, p=p, mode=mode)
    _, cache = forward(student, case, "dropout_forward", x, dict(param))
    (dx,) = backward(student, case, "dropout_backward", dout, cache, 1)
    _, rcache = _ref_forward(x, param)
    expected = ref.dropout_backward(dout, rcache)
    check_close(
        dx, expected, "f32" if dtype == F32 else "f64", "dropout_backward dx", case, dtype=dtype
    )
