"""The kink guard (grading_tests/battery.py): a value mismatch stands only at a smooth draw;
a passed check, or one failed otherwise, costs no guard evaluation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from grading_tests import battery
from grading_tests.rules import BY_KEY

KINKED = BY_KEY["affine_relu_backward"]
SMOOTH = BY_KEY["affine_backward"]


def relu_grad(inputs: tuple[np.ndarray]) -> list[np.ndarray]:
    """The gradient of relu(x0 + x1): it jumps where the sum crosses 0 (the guard moves each
    input by a relative amount, so a kink sits where inputs cancel)."""
    return [np.array([inputs[0][0] + inputs[0][1] > 0], dtype=np.float64)]


class Draws:
    """Hands out the given inputs in order and counts the guard's evaluations."""

    def __init__(self, *xs: list[float]) -> None:
        self.xs = [(np.array(x, dtype=np.float64),) for x in xs]
        self.drawn: list[tuple[np.ndarray]] = []
        self.evaluated = 0

    def draw(self) -> tuple[np.ndarray]:
        self.drawn.append(self.xs[len(self.drawn) % len(self.xs)])
        return self.drawn[-1]

    def evaluate(self, inputs: tuple[np.ndarray]) -> list[np.ndarray]:
        self.evaluated += 1
        return relu_grad(inputs)


def fails_at_kinks(inputs: tuple[np.ndarray]) -> None:
    """A correct implementation that lands on the other side of a kink."""
    if abs(inputs[0][0] + inputs[0][1]) < 1e-12:
        battery.mismatch("differs at the kink")


def always_fails(inputs: Any) -> None:
    battery.mismatch("wrong everywhere")


def raises_at_kinks(inputs: tuple[np.ndarray]) -> None:
    """The submission's code failing (not a value): no kink can cause it."""
    if abs(inputs[0][0] + inputs[0][1]) < 1e-12:
        battery.fail("raised ZeroDivisionError")


def guard(rule: Any, draws: Draws, check: Any) -> None:
    battery.guarded(rule, np.random.default_rng(0), draws.draw, draws.evaluate, check)


def test_a_passed_check_is_not_guarded() -> None:
    draws = Draws([1.0, -1.0])  # a kink, but the check passes: no guard needed
    guard(KINKED, draws, lambda inputs: None)
    assert len(draws.drawn) == 1 and draws.evaluated == 0


def test_a_failure_at_a_kink_is_drawn_again() -> None:
    draws = Draws([1.0, -1.0], [1.0, -0.5])
    guard(KINKED, draws, fails_at_kinks)
    assert len(draws.drawn) == 2 and draws.evaluated > 0


def test_a_failure_at_a_smooth_draw_stands() -> None:
    draws = Draws([1.0, -0.5], [1.0, -1.0])
    with pytest.raises(pytest.fail.Exception, match="wrong everywhere"):
        guard(KINKED, draws, always_fails)
    assert len(draws.drawn) == 1


def test_a_failure_at_kinks_only_stands_after_the_last_try() -> None:
    draws = Draws([1.0, -1.0])
    with pytest.raises(pytest.fail.Exception, match="differs at the kink"):
        guard(KINKED, draws, fails_at_kinks)
    assert len(draws.drawn) == battery.GUARD_TRIES


def test_rows_without_kinks_take_the_first_verdict() -> None:
    draws = Draws([1.0, -1.0], [1.0, -0.5])
    with pytest.raises(pytest.fail.Exception, match="differs at the kink"):
        guard(SMOOTH, draws, fails_at_kinks)
    assert len(draws.drawn) == 1 and draws.evaluated == 0


def test_a_failure_other_than_a_mismatch_stands() -> None:
    draws = Draws([1.0, -1.0], [1.0, -0.5])
    with pytest.raises(pytest.fail.Exception, match="raised ZeroDivisionError"):
        guard(KINKED, draws, raises_at_kinks)
    assert len(draws.drawn) == 1 and draws.evaluated == 0
