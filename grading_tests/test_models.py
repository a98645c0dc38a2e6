"""Hidden tests: the modular models TwoLayerNet, FullyConnectedNet and ThreeLayerConvNet.

Each model is built by the student's class in the worker; its ``params`` are then replaced
by parameters drawn on the trusted side, so that scores, losses and gradients can be
compared with the reference model holding the same parameters. The battery (initial
parameters, values at every boundary value, float32, X and y unchanged, numeric gradients,
batchnorm running statistics, the regression head) comes from the rule table; the
hand-written extras of the table's rows are here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests._support import StudentError, fail, set_attr
from grading_tests.rules import Case, make_fc, make_two_layer, rule_for


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


def _raised_value_error(err: Exception) -> bool:
    raised = getattr(err, "raised", None)
    return raised("ValueError") if callable(raised) else "ValueError" in str(err)


@pytest.mark.grade("FullyConnectedNet: an unknown category raises ValueError", kind="property")
def test_fc_unknown_category(student: Any, rng: np.random.Generator) -> None:
    """category='classifier' raises ValueError when the net is built, or at the latest when
    loss(X, y) is called."""
    api = "FullyConnectedNet"
    rule = rule_for(api)
    values = dict({p.name: p.default for p in rule.params}, category="regression")
    mc = make_fc(rng, np.float64, values)
    kwargs = dict(mc.kwargs, category="classifier")
    case = "category 'classifier'"
    try:
        obj = student.new(api, *mc.args, **kwargs)
        student.method(obj, "loss", mc.X, mc.y)
    except StudentError as err:
        if not _raised_value_error(err):
            fail(f"{api} [{case}]: raised something other than ValueError")
        return
    fail(f"{api} [{case}]: built the net and computed a loss instead of raising ValueError")
