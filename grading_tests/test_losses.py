"""Hidden tests: softmax, SVM and mean-squared-error losses (all from the rule table)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery


@pytest.mark.parametrize("check", battery.params("test_losses"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)
