"""Reference layers: the instructor's solution of the layer API (see docs/api.md).

Every ``*_forward`` returns ``(out, cache)`` and every ``*_backward(dout, cache)`` returns the
gradients with respect to the forward inputs, in the order of the forward signature. All
functions keep the dtype of their inputs (float32 in, float32 out) and never modify their
array arguments; the only arguments they write to are the state dicts ``bn_param``.
"""

# docs/api.md fixes numpy's legacy global random state for dropout (np.random.seed / rand).
# ruff: noqa: NPY002

from typing import Any

import numpy as np

Cache = Any


# ----------------------------------------------------------------------------------------
# Affine and activations
# ----------------------------------------------------------------------------------------


def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Fully connected layer: out = x.reshape(N, D) @ w + b.

    Inputs:
    - x: (N, d_1, ..., d_k), with D = d_1 * ... * d_k
    - w: (D, M)
    - b: (M,)

    Returns out (N, M) and cache (x, w).
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w)


def affine_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of affine_forward.

    Inputs:
    - dout: (N, M) upstream gradient
    - cache: (x, w) from affine_forward

    Returns dx (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Rectified linear unit, max(0, x), elementwise on x of any shape."""
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of relu_forward: dout where x > 0, else 0 (also at exactly 0)."""
    x = cache
    return dout * (x > 0)


def sigmoid_forward(x: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Logistic sigmoid 1 / (1 + exp(-x)), elementwise on x of any shape.

    Computed from exp(-|x|), which lies in (0, 1], so large |x| never overflows.
    """
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out


def sigmoid_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of sigmoid_forward: dout * s * (1 - s) with s the forward output."""
    s = cache
    return dout * s * (1 - s)


# ----------------------------------------------------------------------------------------
# Losses
# ----------------------------------------------------------------------------------------


def softmax_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of the softmax of class scores.

    Inputs:
    - x: (N, C) scores
    - y: (N,) integer labels in [0, C)

    Returns the loss (a float) and dx (N, C). Scores are shifted by their row maximum before
    exponentiating, so huge scores give a finite loss.
    """
    n = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(n), y].mean()
    dx = np.exp(log_probs)
    dx[np.arange(n), y] -= 1
    dx /= n
    return float(loss), dx


def svm_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean multiclass hinge loss with margin 1.

    Inputs:
    - x: (N, C) scores
    - y: (N,) integer labels in [0, C)

    Returns the loss (a float) and dx (N, C).
    """
    n = x.shape[0]
    rows = np.arange(n)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1)
    margins[rows, y] = 0
    loss = margins.sum() / n
    positive = (margins > 0).astype(x.dtype)
    positive[rows, y] = -positive.sum(axis=1)
    return float(loss), positive / n


def mse_loss(x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean squared error.

    Inputs:
    - x: (N,) or (N, 1) predictions
    - y: targets of x's shape

    Returns loss = mean((x - y)**2) (a float) and dx = 2 (x - y) / N, of x's shape.
    """
    diff = x - y
    return float(np.mean(diff**2)), 2 * diff / x.shape[0]


# ----------------------------------------------------------------------------------------
# Normalisation
# ----------------------------------------------------------------------------------------


def batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, Cache]:
    """Batch normalisation of features.

    Inputs:
    - x: (N, D)
    - gamma, beta: (D,) scale and shift
    - bn_param: dict with
      - mode: 'train' or 'test' (required; anything else raises ValueError)
      - eps: added to the variance (default 1e-5)
      - momentum: of the running averages (default 0.9)
      - running_mean, running_var: (D,) (default zeros of x's dtype)
      Missing defaults are written into bn_param; train mode stores the updated running
      averages running = momentum * running + (1 - momentum) * batch back into it.

    Train mode normalises with the batch mean and biased batch variance, test mode with the
    running averages. Returns out (N, D) and a cache.
    """
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f'invalid batchnorm mode "{mode}"')
    eps = bn_param.setdefault("eps", 1e-5)
    momentum = bn_param.setdefault("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.setdefault("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.setdefault("running_var", np.zeros(d, dtype=x.dtype))

    if mode == "train":
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc**2).mean(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        xc = x - running_mean
        var = running_var
    std = np.sqrt(var + eps)
    xhat = xc / std
    out = gamma * xhat + beta
    return out, (mode, xhat, xc, std, gamma)


def batchnorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batchnorm_forward, one node of the computation graph at a time.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from batchnorm_forward (a test-mode cache gives the gradients of the fixed
      affine map that test mode applies)

    Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    mode, xhat, xc, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if mode == "test":
        return dxhat / std, dgamma, dbeta
    n = dout.shape[0]
    # xhat = xc / std
    dxc = dxhat / std
    dstd = -(dxhat * xc).sum(axis=0) / std**2
    # std = sqrt(var + eps), var = mean(xc**2)
    dvar = dstd / (2 * std)
    dxc += 2 * xc * dvar / n
    # xc = x - mean(x)
    dx = dxc - dxc.sum(axis=0) / n
    return dx, dgamma, dbeta


def batchnorm_backward_alt(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of batchnorm_forward in closed form (same results as batchnorm_backward).

    Returns dx (N, D), dgamma (D,), dbeta (D,).
    """
    mode, xhat, _, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    if mode == "test":
        return dxhat / std, dgamma, dbeta
    # Through xhat = (x - mean) / std, with the batch's mean and std depending on x too.
    dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std
    return dx, dgamma, dbeta


def layernorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, ln_param: dict
) -> tuple[np.ndarray, Cache]:
    """Layer normalisation: per-sample statistics over the features, same in train and test.

    Inputs:
    - x: (N, D)
    - gamma, beta: (D,)
    - ln_param: dict with optional eps (default 1e-5); other keys are ignored

    Returns out (N, D) and a cache.
    """
    xc = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt((xc**2).mean(axis=1, keepdims=True) + ln_param.get("eps", 1e-5))
    xhat = xc / std
    return gamma * xhat + beta, (xhat, std, gamma)


def layernorm_backward(dout: np.ndarray, cache: Cache) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of layernorm_forward: dx (N, D), dgamma (D,), dbeta (D,)."""
    xhat, std, gamma = cache
    dxhat = dout * gamma
    dx = (
        dxhat
        - dxhat.mean(axis=1, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)
    ) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def spatial_batchnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, bn_param: dict
) -> tuple[np.ndarray, Cache]:
    """Batch normalisation of channels: statistics over N, H and W.

    Inputs:
    - x: (N, C, H, W)
    - gamma, beta: (C,)
    - bn_param: as for batchnorm_forward, with running averages of shape (C,)

    Returns out (N, C, H, W) and a cache.
    """
    n, c, h, w = x.shape
    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)
    out, cache = batchnorm_forward(flat, gamma, beta, bn_param)
    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of spatial_batchnorm_forward: dx (N, C, H, W), dgamma (C,), dbeta (C,)."""
    n, c, h, w = dout.shape
    flat = dout.transpose(0, 2, 3, 1).reshape(-1, c)
    dx, dgamma, dbeta = batchnorm_backward_alt(flat, cache)
    return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(
    x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, G: int, gn_param: dict
) -> tuple[np.ndarray, Cache]:
    """Group normalisation: per-sample statistics over each group of C // G channels and H, W.

    Inputs:
    - x: (N, C, H, W), C divisible by G
    - gamma, beta: (1, C, 1, 1) (or (C,))
    - G: number of groups
    - gn_param: dict with optional eps (default 1e-5)

    Returns out (N, C, H, W) and a cache.
    """
    n, c, _, _ = x.shape
    groups = x.reshape(n, G, -1)
    xc = groups - groups.mean(axis=2, keepdims=True)
    std = np.sqrt((xc**2).mean(axis=2, keepdims=True) + gn_param.get("eps", 1e-5))
    xhat = (xc / std).reshape(x.shape)
    out = gamma.reshape(1, c, 1, 1) * xhat + beta.reshape(1, c, 1, 1)
    return out, (G, xhat, std, gamma)


def spatial_groupnorm_backward(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of spatial_groupnorm_forward.

    Returns dx (N, C, H, W) and dgamma, dbeta of gamma's shape (1, C, 1, 1).
    """
    G, xhat, std, gamma = cache
    n = dout.shape[0]
    dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(gamma.shape)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(gamma.shape)
    dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, -1)
    xhat = xhat.reshape(n, G, -1)
    dx = (
        dxhat
        - dxhat.mean(axis=2, keepdims=True)
        - xhat * (dxhat * xhat).mean(axis=2, keepdims=True)
    ) / std
    return dx.reshape(dout.shape), dgamma, dbeta


# ----------------------------------------------------------------------------------------
# Dropout
# ----------------------------------------------------------------------------------------


def dropout_forward(x: np.ndarray, dropout_param: dict) -> tuple[np.ndarray, Cache]:
    """Inverted dropout.

    Inputs:
    - x: any shape
    - dropout_param: dict with
      - p: probability of KEEPING each unit
      - mode: 'train' or 'test'
      - seed (optional): if given, np.random.seed(seed) is called first

    Train mode draws mask = (np.random.rand(*x.shape) < p) / p and returns x * mask; test mode
    returns x unchanged. out has x's shape and dtype.
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode == "train":
        if dropout_param.get("seed") is not None:
            np.random.seed(dropout_param["seed"])
        mask = (np.random.rand(*x.shape) < p) / p
        out = (x * mask).astype(x.dtype, copy=False)
    elif mode == "test":
        mask = None
        out = x.copy()
    else:
        raise ValueError(f'invalid dropout mode "{mode}"')
    return out, mask


def dropout_backward(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of dropout_forward: dout * mask in train mode, dout in test mode."""
    mask = cache
    if mask is None:
        return dout.copy()
    return (dout * mask).astype(dout.dtype, copy=False)


# ----------------------------------------------------------------------------------------
# Convolution and pooling
# ----------------------------------------------------------------------------------------


def conv_forward_naive(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, Cache]:
    """Convolution (cross-correlation, no kernel flip) with zero padding.

    Inputs:
    - x: (N, C, H, W)
    - w: (F, C, HH, WW)
    - b: (F,)
    - conv_param: dict with 'stride' and 'pad' (zeros added on every side of H and W)

    Returns out (N, F, H', W') with H' = 1 + (H + 2 pad - HH) // stride and
    W' = 1 + (W + 2 pad - WW) // stride, and a cache.

    The naive version: one explicit loop per example, filter and output position.
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    h_out = 1 + (h + 2 * pad - hh) // stride
    w_out = 1 + (wd + 2 * pad - ww) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((n, f, h_out, w_out), dtype=np.result_type(x, w, b))
    for k in range(n):
        for m in range(f):
            for i in range(h_out):
                for j in range(w_out):
                    r, c = i * stride, j * stride
                    window = xp[k, :, r : r + hh, c : c + ww]
                    out[k, m, i, j] = np.sum(window * w[m]) + b[m]
    return out, (x, w, conv_param)


def conv_backward_naive(
    dout: np.ndarray, cache: Cache
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of conv_forward_naive.

    Inputs:
    - dout: (N, F, H', W') upstream gradient
    - cache: (x, w, conv_param) from conv_forward_naive

    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    _, _, h_out, w_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp, dtype=np.result_type(dout, w))
    dw = np.zeros_like(w, dtype=np.result_type(dout, x))
    for k in range(n):
        for m in range(f):
            for i in range(h_out):
                for j in range(w_out):
                    r, c = i * stride, j * stride
                    g = dout[k, m, i, j]
                    dw[m] += g * xp[k, :, r : r + hh, c : c + ww]
                    dxp[k, :, r : r + hh, c : c + ww] += g * w[m]
    dx = dxp[:, :, pad : pad + h, pad : pad + wd]
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x: np.ndarray, pool_param: dict) -> tuple[np.ndarray, Cache]:
    """Max pooling without padding; windows may overlap or leave a border unused.

    Inputs:
    - x: (N, C, H, W)
    - pool_param: dict with 'pool_height', 'pool_width' and 'stride'

    Returns out (N, C, H', W') with H' = 1 + (H - pool_height) // stride and
    W' = 1 + (W - pool_width) // stride, and a cache.
    """
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, ch, h, w = x.shape
    h_out = 1 + (h - ph) // stride
    w_out = 1 + (w - pw) // stride
    out = np.zeros((n, ch, h_out, w_out), dtype=x.dtype)
    for k in range(n):
        for m in range(ch):
            for i in range(h_out):
                for j in range(w_out):
                    r, c = i * stride, j * stride
                    out[k, m, i, j] = np.max(x[k, m, r : r + ph, c : c + pw])
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache: Cache) -> np.ndarray:
    """Backward pass of max_pool_forward_naive: each dout goes to its window's maximum.

    Inputs:
    - dout: (N, C, H', W') upstream gradient
    - cache: (x, pool_param) from max_pool_forward_naive

    Returns dx (N, C, H, W).
    """
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    n, ch, h_out, w_out = dout.shape
    dx = np.zeros(x.shape, dtype=dout.dtype)
    for k in range(n):
        for m in range(ch):
            for i in range(h_out):
                for j in range(w_out):
                    r, c = i * stride, j * stride
                    window = x[k, m, r : r + ph, c : c + pw]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dx[k, m, r + di, c + dj] += dout[k, m, i, j]
    return dx
