"""Hidden tests: the update rules sgd, sgd_momentum, rmsprop and adam."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

from grading_tests._support import (
    call,
    check_close,
    check_scalar,
    check_unchanged,
    fail,
    unpack,
)
from reference import optim as ref

RULES = ("sgd", "sgd_momentum", "rmsprop", "adam")

# Non-default hyper-parameters for the multi-step cases.
CUSTOM = {
    "sgd": {"learning_rate": 0.05},
    "sgd_momentum": {"learning_rate": 0.03, "momentum": 0.8},
    "rmsprop": {"learning_rate": 0.02, "decay_rate": 0.9, "epsilon": 1e-6},
    "adam": {"learning_rate": 0.01, "beta1": 0.8, "beta2": 0.99, "epsilon": 1e-7},
}


def _check_config(got: Any, expected: dict, rule: str, case: str) -> None:
    """Every key of the reference's config (defaults and state: velocity, cache, m, v, t)
    must be in the student's with the same value."""
    if not isinstance(got, dict):
        fail(f"{rule} [{case}]: expected config to be a dict, got {type(got).__name__}")
    for key, val in expected.items():
        if key not in got:
            fail(f"{rule} [{case}]: config has no key {key!r}")
        if isinstance(val, np.ndarray):
            check_close(got[key], val, "f64", f"{rule} config[{key!r}]", case)
        else:
            check_scalar(got[key], float(val), "loss", f"{rule} config[{key!r}]", case)


def _step(
    student: Any,
    rule: str,
    w: np.ndarray,
    dw: np.ndarray,
    config: Any,
    case: str,
    echo: bool = False,
) -> tuple[Any, Any, Any]:
    """One call of the student's rule: (next_w, returned config, echoed args or None)."""
    args = (w, dw) if config is None else (w, dw, config)
    reply = call(student, case, rule, *args, echo_args=echo)
    next_w, new_config = unpack(reply.value, 2, rule, case)
    return next_w, new_config, reply.args


def _cases(case: str) -> list[Any]:
    """One graded parameter per rule, named "<rule>: <case>"."""
    return [
        pytest.param(rule, marks=pytest.mark.grade(f"{rule}: {case}"), id=f"{rule}-{case}")
        for rule in RULES
    ]


@pytest.mark.parametrize("rule", _cases("one step with the default config"))
def test_default_config(student: Any, rng: np.random.Generator, rule: str) -> None:
    """config=None: the defaults of API.md are filled in and used."""
    w = rng.standard_normal((4, 5))
    dw = rng.standard_normal((4, 5))
    case = "config=None, w (4, 5)"
    next_w, config, _ = _step(student, rule, w, dw, None, case)
    enext, econfig = getattr(ref, rule)(w.copy(), dw.copy(), None)
    check_close(next_w, enext, "f64", f"{rule} next_w", case, dtype=np.float64)
    _check_config(config, econfig, rule, case)


@pytest.mark.parametrize("rule", _cases("three steps carrying the state"))
def test_three_steps(student: Any, rng: np.random.Generator, rule: str) -> None:
    """State (velocity, cache, m, v, t) carried over three calls with custom settings."""
    w = rng.standard_normal((3, 6))
    config: Any = dict(CUSTOM[rule])
    econfig: dict = dict(CUSTOM[rule])
    ew = w.copy()
    for step in range(1, 4):
        dw = rng.standard_normal(w.shape)
        case = f"step {step}, custom config, w {w.shape}"
        next_w, config, _ = _step(student, rule, w, dw, config, case)
        ew, econfig = getattr(ref, rule)(ew, dw, econfig)
        w = check_close(next_w, ew, "f64", f"{rule} next_w", case)
        _check_config(config, econfig, rule, case)


@pytest.mark.parametrize("rule", _cases("config dict updated in place"))
def test_config_in_place(student: Any, rng: np.random.Generator, rule: str) -> None:
    """The config passed in holds the new state (and defaults) after the call."""
    w = rng.standard_normal((2, 5))
    dw = rng.standard_normal((2, 5))
    passed = {"learning_rate": 0.02}
    case = "config with learning_rate only"
    _, _, echoed = _step(student, rule, w, dw, dict(passed), case, echo=True)
    _, econfig = getattr(ref, rule)(w.copy(), dw.copy(), dict(passed))
    if echoed is None or len(echoed) < 3:
        fail(f"{rule} [{case}]: the config argument was not echoed back")
    _check_config(echoed[2], econfig, rule, case + " (the dict passed in)")


@pytest.mark.parametrize("rule", _cases("w and dw not modified"))
def test_inputs_unchanged(student: Any, rng: np.random.Generator, rule: str) -> None:
    """w and dw are unchanged; next_w is a new array."""
    w = rng.standard_normal((3, 4))
    dw = rng.standard_normal((3, 4))
    case = "w (3, 4)"
    _, _, echoed = _step(student, rule, w, dw, {"learning_rate": 0.1}, case, echo=True)
    check_unchanged(echoed[:2], (w, dw), rule, case)


@pytest.mark.grade("adam: resumes from t=5 with given m and v")
def test_adam_resume(student: Any, rng: np.random.Generator) -> None:
    """t is read from config and incremented before the bias correction."""
    n, d = 4, 5
    w = np.linspace(-0.4, 0.6, num=n * d).reshape(n, d)
    dw = rng.standard_normal((n, d))
    config = {
        "learning_rate": 1e-2,
        "m": np.linspace(0.6, 0.9, num=n * d).reshape(n, d),
        "v": np.linspace(0.7, 0.5, num=n * d).reshape(n, d),
        "t": 5,
    }
    case = "t=5, w (4, 5)"
    next_w, new_config, _ = _step(student, "adam", w, dw, copy.deepcopy(config), case)
    enext, econfig = ref.adam(w.copy(), dw.copy(), copy.deepcopy(config))
    check_close(next_w, enext, "f64", "adam next_w", case)
    _check_config(new_config, econfig, "adam", case)


@pytest.mark.grade("sgd_momentum: resumes from a given velocity")
def test_momentum_resume(student: Any, rng: np.random.Generator) -> None:
    """The velocity in config is used, not reset."""
    w = rng.standard_normal((4, 3))
    dw = rng.standard_normal((4, 3))
    config = {"learning_rate": 1e-1, "velocity": rng.standard_normal((4, 3))}
    case = "given velocity, w (4, 3)"
    next_w, new_config, _ = _step(student, "sgd_momentum", w, dw, copy.deepcopy(config), case)
    enext, econfig = ref.sgd_momentum(w.copy(), dw.copy(), copy.deepcopy(config))
    check_close(next_w, enext, "f64", "sgd_momentum next_w", case)
    _check_config(new_config, econfig, "sgd_momentum", case)


@pytest.mark.parametrize(
    "rule",
    [
        pytest.param(
            r,
            marks=pytest.mark.grade(f"{r}: tiny gradients (epsilon matters)"),
            id=f"{r}-tiny gradients",
        )
        for r in ("rmsprop", "adam")
    ],
)
def test_tiny_gradients(student: Any, rng: np.random.Generator, rule: str) -> None:
    """Two steps with gradients of 1e-4 and the default epsilon: sqrt(cache) + eps exactly."""
    w = rng.standard_normal((3, 4))
    config: Any = None
    econfig: Any = None
    ew = w.copy()
    for step in (1, 2):
        dw = 1e-4 * rng.standard_normal(w.shape)
        case = f"step {step}, |dw| ~ 1e-4, default config"
        next_w, config, _ = _step(student, rule, w, dw, config, case)
        ew, econfig = getattr(ref, rule)(ew, dw, econfig)
        w = check_close(next_w, ew, "f64", f"{rule} next_w", case)
        _check_config(config, econfig, rule, case)
