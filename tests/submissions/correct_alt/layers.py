"""An independent correct implementation of the layer API (loops and dict caches).

It is written in a deliberately different style from ``reference/`` so that the hidden
suites are checked for false failures: explicit loops, dictionary caches, other names.
"""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

import numpy as np


def affine_forward(x, w, b):
    """Fully connected layer on inputs of any rank (first axis is the batch)."""
    batch = x.shape[0]
    flat = x.reshape(batch, -1)
    result = np.empty((batch, w.shape[1]), dtype=np.result_type(x, w))
    for i in range(batch):
        result[i] = flat[i] @ w + b
    return result, {"inp": x, "weights": w}


def affine_backward(dout, cache):
    """Gradients of the fully connected layer."""
    inp, weights = cache["inp"], cache["weights"]
    flat = inp.reshape(inp.shape[0], -1)
    grad_w = np.zeros_like(weights)
    for i in range(flat.shape[0]):
        grad_w += np.outer(flat[i], dout[i])
    grad_b = dout.sum(axis=0)
    grad_x = (dout @ weights.T).reshape(inp.shape)
    return grad_x, grad_w, grad_b


def relu_forward(x):
    """Rectified linear unit."""
    mask = x > 0
    return np.where(mask, x, np.zeros_like(x)), {"mask": mask}


def relu_backward(dout, cache):
    """Gradient of the ReLU; zero where the input was exactly zero."""
    return np.where(cache["mask"], dout, np.zeros_like(dout))


def sigmoid_forward(x):
    """Logistic function, evaluated without overflow for large |x|."""
    expo = np.exp(-np.abs(x))
    pos = 1.0 / (1.0 + expo)
    neg = expo / (1.0 + expo)
    out = np.where(x >= 0, pos, neg).astype(x.dtype, copy=False)
    return out, {"sig": out}


def sigmoid_backward(dout, cache):
    """Gradient of the logistic function."""
    s = cache["sig"]
    return dout * s * (1 - s)


def softmax_loss(x, y):
    """Mean cross-entropy of the softmax of the scores ``x`` with labels ``y``."""
    n = x.shape[0]
    loss = 0.0
    grad = np.zeros_like(x)
    for i in range(n):
        row = x[i] - np.max(x[i])
        log_z = np.log(np.sum(np.exp(row)))
        logp = row - log_z
        loss -= logp[y[i]]
        p = np.exp(logp)
        p[y[i]] -= 1
        grad[i] = p / n
    return loss / n, grad


def svm_loss(x, y):
    """Mean multiclass hinge loss with margin 1."""
    n, c = x.shape
    loss = 0.0
    grad = np.zeros_like(x)
    for i in range(n):
        correct = x[i, y[i]]
        for j in range(c):
            if j == y[i]:
                continue
            m = x[i, j] - correct + 1
            if m > 0:
                loss += m
                grad[i, j] += 1.0 / n
                grad[i, y[i]] -= 1.0 / n
    return loss / n, grad


def mse_loss(x, y):
    """Mean squared error and its gradient."""
    diff = x - y
    n = x.shape[0]
    return float(np.sum(diff * diff) / diff.size), 2.0 * diff / n


def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation with running statistics kept in ``bn_param``."""
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    run_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    run_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    if mode == "train":
        mu = x.mean(axis=0)
        centred = x - mu
        var = (centred**2).mean(axis=0)
        inv_std = 1.0 / np.sqrt(var + eps)
        xhat = centred * inv_std
        out = gamma * xhat + beta
        run_mean = momentum * run_mean + (1 - momentum) * mu
        run_var = momentum * run_var + (1 - momentum) * var
        cache = {"xhat": xhat, "inv_std": inv_std, "gamma": gamma, "centred": centred}
    elif mode == "test":
        xhat = (x - run_mean) / np.sqrt(run_var + eps)
        out = gamma * xhat + beta
        cache = None
    else:
        raise ValueError(f"unknown batchnorm mode {mode!r}")
    bn_param["running_mean"] = run_mean
    bn_param["running_var"] = run_var
    return out.astype(x.dtype, copy=False), cache


def batchnorm_backward(dout, cache):
    """Batch-norm gradient, step by step through the computation graph."""
    xhat, inv_std, gamma, centred = (
        cache["xhat"],
        cache["inv_std"],
        cache["gamma"],
        cache["centred"],
    )
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dinv = (dxhat * centred).sum(axis=0)
    dvar = dinv * (-0.5) * inv_std**3
    dcentred = dxhat * inv_std + dvar * 2.0 * centred / n
    dmu = -dcentred.sum(axis=0)
    dx = dcentred + dmu / n
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """Batch-norm gradient in closed form."""
    xhat, inv_std, gamma = cache["xhat"], cache["inv_std"], cache["gamma"]
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = (gamma * inv_std / n) * (n * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalisation: statistics per sample over its features."""
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    return gamma * xhat + beta, {"xhat": xhat, "inv_std": inv_std, "gamma": gamma}


def layernorm_backward(dout, cache):
    """Layer-norm gradient (closed form over the feature axis)."""
    xhat, inv_std, gamma = cache["xhat"], cache["inv_std"], cache["gamma"]
    d = dout.shape[1]
    dgamma = (dout * xhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    g = dout * gamma
    dx = (
        inv_std
        / d
        * (d * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True))
    )
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Inverted dropout; ``p`` is the probability of keeping a unit."""
    keep = dropout_param["p"]
    mode = dropout_param["mode"]
    if "seed" in dropout_param and dropout_param["seed"] is not None:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        keep_mask = (np.random.rand(*x.shape) < keep) / keep
        out = (x * keep_mask).astype(x.dtype, copy=False)
        return out, {"mask": keep_mask, "mode": mode}
    return x.copy(), {"mask": None, "mode": mode}


def dropout_backward(dout, cache):
    """Gradient of inverted dropout."""
    if cache["mode"] == "train":
        return (dout * cache["mask"]).astype(dout.dtype, copy=False)
    return dout.copy()


def conv_forward_naive(x, w, b, conv_param):
    """Cross-correlation with zero padding and stride, by explicit loops."""
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    h_out = 1 + (h + 2 * pad - hh) // stride
    w_out = 1 + (wd + 2 * pad - ww) // stride
    padded = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=x.dtype)
    padded[:, :, pad : pad + h, pad : pad + wd] = x
    out = np.zeros((n, f, h_out, w_out), dtype=np.result_type(x, w))
    for img in range(n):
        for flt in range(f):
            for r in range(h_out):
                for col in range(w_out):
                    top, left = r * stride, col * stride
                    patch = padded[img, :, top : top + hh, left : left + ww]
                    out[img, flt, r, col] = np.sum(patch * w[flt]) + b[flt]
    cache = {"x": x, "w": w, "stride": stride, "pad": pad, "padded": padded}
    return out, cache


def conv_backward_naive(dout, cache):
    """Gradients of the naive convolution."""
    x, w, stride, pad, padded = (
        cache["x"],
        cache["w"],
        cache["stride"],
        cache["pad"],
        cache["padded"],
    )
    n, c, h, wd = x.shape
    f, _, hh, ww = w.shape
    _, _, h_out, w_out = dout.shape
    dpadded = np.zeros_like(padded)
    dw = np.zeros_like(w)
    db = np.zeros(f, dtype=dout.dtype)
    for flt in range(f):
        db[flt] = dout[:, flt].sum()
    for img in range(n):
        for flt in range(f):
            for r in range(h_out):
                for col in range(w_out):
                    top, left = r * stride, col * stride
                    g = dout[img, flt, r, col]
                    dw[flt] += g * padded[img, :, top : top + hh, left : left + ww]
                    dpadded[img, :, top : top + hh, left : left + ww] += g * w[flt]
    dx = dpadded[:, :, pad : pad + h, pad : pad + wd]
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max pooling by explicit loops; windows may overlap."""
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, c, h, wd = x.shape
    h_out = 1 + (h - ph) // s
    w_out = 1 + (wd - pw) // s
    out = np.zeros((n, c, h_out, w_out), dtype=x.dtype)
    for r in range(h_out):
        for col in range(w_out):
            window = x[:, :, r * s : r * s + ph, col * s : col * s + pw]
            out[:, :, r, col] = window.max(axis=(2, 3))
    return out, {"x": x, "pool": (ph, pw, s)}


def max_pool_backward_naive(dout, cache):
    """Route each upstream gradient to the arg-max of its window."""
    x = cache["x"]
    ph, pw, s = cache["pool"]
    n, c, _, _ = x.shape
    dx = np.zeros_like(x)
    _, _, h_out, w_out = dout.shape
    for i in range(n):
        for ch in range(c):
            for r in range(h_out):
                for col in range(w_out):
                    window = x[i, ch, r * s : r * s + ph, col * s : col * s + pw]
                    a, bb = np.unravel_index(np.argmax(window), window.shape)
                    dx[i, ch, r * s + a, col * s + bb] += dout[i, ch, r, col]
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch norm over N, H, W for every channel."""
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), {"inner": cache}


def spatial_batchnorm_backward(dout, cache):
    """Gradient of spatial batch norm."""
    n, c, h, w = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache["inner"])
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalisation: statistics per sample over each group of channels."""
    eps = gn_param.get("eps", 1e-5)
    n, c, h, w = x.shape
    grouped = x.reshape(n, G, c // G, h, w)
    mu = grouped.mean(axis=(2, 3, 4), keepdims=True)
    var = grouped.var(axis=(2, 3, 4), keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = ((grouped - mu) * inv_std).reshape(n, c, h, w)
    out = gamma * xhat + beta
    return out, {"xhat": xhat, "inv_std": inv_std, "gamma": gamma, "G": G}


def spatial_groupnorm_backward(dout, cache):
    """Gradient of group normalisation."""
    xhat, inv_std, gamma, groups = cache["xhat"], cache["inv_std"], cache["gamma"], cache["G"]
    n, c, h, w = dout.shape
    dgamma = (dout * xhat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    g = (dout * gamma).reshape(n, groups, c // groups, h, w)
    xg = xhat.reshape(n, groups, c // groups, h, w)
    m = g[0, 0].size
    dx = (inv_std / m) * (
        m * g
        - g.sum(axis=(2, 3, 4), keepdims=True)
        - xg * (g * xg).sum(axis=(2, 3, 4), keepdims=True)
    )
    return dx.reshape(n, c, h, w), dgamma, dbeta
