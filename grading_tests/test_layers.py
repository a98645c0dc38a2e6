"""Hidden tests: affine, ReLU, sigmoid and the affine-relu sandwich.

The battery (values at every boundary value, float32, inputs unchanged, numeric gradients)
comes from the rule table; only what it cannot express is written here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import call, check_close, describe, fail, graded, unpack
from reference import layers as ref


@pytest.mark.parametrize("check", battery.params("test_layers"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)


SIGMOID_LARGE = [
    ("large |x| without overflow", ((4, 6), np.float64)),
    ("large |x| without overflow, float32", ((5, 4), np.float32)),
]


@pytest.mark.parametrize("spec", graded("sigmoid_forward", SIGMOID_LARGE))
def test_sigmoid_no_overflow(student: Any, rng: np.random.Generator, spec: tuple) -> None:
    """|x| of several hundred: finite, correct, and numpy warns about no overflow."""
    shape, dtype = spec
    x = (800.0 * rng.standard_normal(shape)).astype(dtype)
    case = describe(x=x, scale=800.0)
    expected, _ = ref.sigmoid_forward(x)
    reply = call(student, case, "sigmoid_forward", x, keep=(1,))
    out, _ = unpack(reply.value, 2, "sigmoid_forward", case)
    tol = "f32" if dtype == np.float32 else "f64"
    check_close(out, expected, tol, "sigmoid_forward out", case, dtype=dtype)
    overflow = [w for w in getattr(reply, "warnings", []) if "overflow" in w.lower()]
    if overflow:
        fail(f"sigmoid_forward [{case}]: numpy warned about an overflow (not stable for large |x|)")
