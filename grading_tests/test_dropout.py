"""Hidden tests: inverted dropout (p is the probability of keeping a unit). The battery
(seeded masks at every boundary value) comes from the rule table; the statistics of
unseeded masks are checked here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import as_array, describe, fail, forward, graded


@pytest.mark.parametrize("check", battery.params("test_dropout"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)


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
