"""Reference update rules: defaults, state kept in config, dtypes, inputs left alone."""

import numpy as np
import pytest

from reference import optim

pytestmark = pytest.mark.reference

DEFAULTS = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
}
STATE = {"sgd": [], "sgd_momentum": ["velocity"], "rmsprop": ["cache"], "adam": ["m", "v"]}


def _w_dw(dtype=np.float64):
    rng = np.random.default_rng(0)
    return rng.standard_normal((3, 4)).astype(dtype), rng.standard_normal((3, 4)).astype(dtype)


@pytest.mark.parametrize("rule", sorted(DEFAULTS))
@pytest.mark.parametrize("empty", [None, dict])
def test_defaults_are_filled_in(rule, empty):
    w, dw = _w_dw()
    given = empty() if empty else None
    next_w, config = getattr(optim, rule)(w, dw, given)
    if given is not None:
        assert config is given
    assert next_w.shape == w.shape
    for key, value in DEFAULTS[rule].items():
        assert config[key] == value, key
    for key in STATE[rule]:
        assert config[key].shape == w.shape, key


def test_first_steps_from_zero_state():
    w, dw = _w_dw()
    np.testing.assert_allclose(optim.sgd(w, dw)[0], w - 1e-2 * dw)
    np.testing.assert_allclose(optim.sgd_momentum(w, dw)[0], w - 1e-2 * dw)
    cache = 0.01 * dw**2
    np.testing.assert_allclose(optim.rmsprop(w, dw)[0], w - 1e-2 * dw / (np.sqrt(cache) + 1e-8))
    # Adam's bias correction makes its first step learning_rate * sign(dw) (up to epsilon).
    next_w, config = optim.adam(w, dw)
    np.testing.assert_allclose(next_w, w - 1e-3 * np.sign(dw), rtol=1e-6)
    assert config["t"] == 1


def test_momentum_accumulates_velocity_across_calls():
    w, dw = _w_dw()
    config = {"learning_rate": 0.1, "momentum": 0.5}
    w1, config = optim.sgd_momentum(w, dw, config)
    w2, config = optim.sgd_momentum(w1, dw, config)
    v1 = -0.1 * dw
    v2 = 0.5 * v1 - 0.1 * dw
    np.testing.assert_allclose(config["velocity"], v2)
    np.testing.assert_allclose(w2, w + v1 + v2)


def test_adam_increments_t_before_bias_correction():
    w, dw = _w_dw()
    config = {"learning_rate": 1e-2, "t": 3}
    m = np.full_like(w, 0.2)
    v = np.full_like(w, 0.3)
    config.update(m=m.copy(), v=v.copy())
    next_w, config = optim.adam(w, dw, config)
    m4 = 0.9 * m + 0.1 * dw
    v4 = 0.999 * v + 0.001 * dw**2
    expected = w - 1e-2 * (m4 / (1 - 0.9**4)) / (np.sqrt(v4 / (1 - 0.999**4)) + 1e-8)
    np.testing.assert_allclose(next_w, expected)
    assert config["t"] == 4


@pytest.mark.parametrize("rule", sorted(DEFAULTS))
def test_float32_stays_float32(rule):
    w, dw = _w_dw(np.float32)
    config = None
    for _ in range(3):
        w, config = getattr(optim, rule)(w, dw, config)
        assert w.dtype == np.float32
    for key in STATE[rule]:
        assert config[key].dtype == np.float32, key


@pytest.mark.parametrize("rule", sorted(DEFAULTS))
def test_inputs_and_given_state_arrays_are_not_modified(rule):
    w, dw = _w_dw()
    state = {key: np.full_like(w, 0.5) for key in STATE[rule]}
    config = dict(state)
    before = [w.copy(), dw.copy()] + [a.copy() for a in state.values()]
    next_w, config = getattr(optim, rule)(w, dw, config)
    after = [w, dw] + list(state.values())
    for a, b in zip(after, before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.shares_memory(next_w, w)
