"""Update rules of the independent correct implementation."""

import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    vel = config.get("velocity")
    if vel is None:
        vel = np.zeros_like(w)
    vel = config["momentum"] * vel - config["learning_rate"] * dw
    config["velocity"] = vel
    return w + vel, config


def rmsprop(w, dw, config=None):
    """RMSProp."""
    config = {} if config is None else config
    for key, val in (("learning_rate", 1e-2), ("decay_rate", 0.99), ("epsilon", 1e-8)):
        config.setdefault(key, val)
    if "cache" not in config:
        config["cache"] = np.zeros_like(w)
    d = config["decay_rate"]
    sq = d * config["cache"] + (1 - d) * dw**2
    config["cache"] = sq
    return w - config["learning_rate"] * dw / (np.sqrt(sq) + config["epsilon"]), config


def adam(w, dw, config=None):
    """Adam with bias correction."""
    config = {} if config is None else config
    defaults = {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8, "t": 0}
    for key, val in defaults.items():
        config.setdefault(key, val)
    if "m" not in config:
        config["m"] = np.zeros_like(w)
    if "v" not in config:
        config["v"] = np.zeros_like(w)
    step = config["t"] + 1
    b1, b2 = config["beta1"], config["beta2"]
    first = b1 * config["m"] + (1 - b1) * dw
    second = b2 * config["v"] + (1 - b2) * dw * dw
    m_hat = first / (1 - b1**step)
    v_hat = second / (1 - b2**step)
    config["t"], config["m"], config["v"] = step, first, second
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config
