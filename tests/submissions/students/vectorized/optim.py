import numpy as np


def _config(config, **defaults):
    config = {} if config is None else config
    for key, value in defaults.items():
        if key not in config:
            config[key] = value
    return config


def sgd(w, dw, config=None):
    config = _config(config, learning_rate=1e-2)
    next_w = np.multiply(dw, -config["learning_rate"])
    next_w += w
    return next_w, config


def sgd_momentum(w, dw, config=None):
    config = _config(config, learning_rate=1e-2, momentum=0.9)
    v = config.get("velocity")
    v = np.zeros_like(w) if v is None else v * config["momentum"]
    v -= config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def rmsprop(w, dw, config=None):
    config = _config(config, learning_rate=1e-2, decay_rate=0.99, epsilon=1e-8)
    d = config["decay_rate"]
    cache = config.get("cache")
    cache = (1 - d) * dw * dw + (0 if cache is None else d * cache)
    config["cache"] = cache
    step = config["learning_rate"] * dw
    step /= np.sqrt(cache) + config["epsilon"]
    return w - step, config


def adam(w, dw, config=None):
    config = _config(config, learning_rate=1e-3, beta1=0.9, beta2=0.999, epsilon=1e-8, t=0)
    b1, b2 = config["beta1"], config["beta2"]
    m = config.get("m")
    v = config.get("v")
    m = (1 - b1) * dw + (0 if m is None else b1 * m)
    v = (1 - b2) * dw**2 + (0 if v is None else b2 * v)
    t = config["t"] + 1
    config.update(m=m, v=v, t=t)
    mt = m / (1 - b1**t)
    vt = v / (1 - b2**t)
    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"]), config
