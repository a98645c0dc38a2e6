"""Hidden tests: the update rules sgd, sgd_momentum, rmsprop and adam (all from the rule
table: one step at every boundary value of every config key, float32, state over three
steps, the config dict updated in place, w and dw unchanged)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery


@pytest.mark.parametrize("check", battery.params("test_optim"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)
