"""Hidden tests: the modular models TwoLayerNet, FullyConnectedNet and ThreeLayerConvNet.

Each model is built by the student's class in the worker; its ``params`` are then replaced
by parameters drawn on the trusted side, so that scores, losses and gradients can be
compared with the reference model holding the same parameters. The battery (initial
parameters, values at every boundary value, float32, X and y unchanged, numeric gradients,
batchnorm running statistics) comes from the rule table.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import set_attr
from grading_tests.rules import Case, make_two_layer, rule_for


@pytest.mark.parametrize("check", battery.params("test_models"))
def test_battery(student: Any, rng: np.random.Generator, check: battery.Check) -> None:
    """One generated check of the rule table (see grading_tests/battery.py)."""
    battery.run(student, rng, check)


@pytest.mark.grade("TwoLayerNet: reg attribute read at each call")
def test_two_layer_reg_attribute(student: Any, rng: np.random.Generator) -> None:
    """Setting model.reg after construction changes the loss."""
    rule = rule_for("TwoLayerNet")
    case = Case("reg set to 1.3 later", {p.name: p.default for p in rule.params})
    mc = make_two_layer(rng, np.float64, case.values)
    desc = "X (5, 12), reg 0 then set to 1.3"
    pair = battery.Pair(student, rule, mc, desc, rng, np.float64)
    set_attr(student, desc, pair.obj, "reg", 1.3)
    pair.ref.reg = 1.3
    pair.check_loss(mc.X, mc.y, "model", np.float64)
