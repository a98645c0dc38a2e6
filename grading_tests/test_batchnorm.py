"""Hidden tests: batch norm (forward, both backward passes), layer norm, spatial batch norm
and group norm. The battery comes from the rule table; the unknown-mode error is here."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import StudentError, fail
from grading_tests.rules import BATCHNORM, make_batchnorm


@pytest.mark.parametrize("check", battery.params("test_batchnorm"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)


@pytest.mark.grade("batchnorm_forward: an unknown mode raises ValueError")
def test_bad_mode(student: Any, rng: np.random.Generator) -> None:
    """mode other than 'train'/'test' raises ValueError."""
    api = "batchnorm_forward"
    args = make_batchnorm(rng, np.float64, {p.name: p.default for p in BATCHNORM})
    args[3] = {"mode": "eval"}
    case = "mode 'eval'"
    try:
        student.call(api, *args, keep=(1,))
    except StudentError as err:
        raised = getattr(err, "raised", None)
        if not (raised("ValueError") if callable(raised) else "ValueError" in str(err)):
            fail(f"{api} [{case}]: raised something other than ValueError")
        return
    fail(f"{api} [{case}]: returned normally instead of raising ValueError")
