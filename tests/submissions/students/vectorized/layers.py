"""A correct submission in a vectorised style: einsum, stride tricks (im2col through
as_strided / sliding_window_view), in-place numpy (+=, out=), explicit float32 paths, and
caches that are objects holding non-data things (numpy dtypes, namedtuples, lambdas)."""

from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view


class Cache:
    """A bag of attributes: what the backward pass needs, plus the input dtype."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


class BNCache(NamedTuple):
    xhat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    dtype: Any


def affine_forward(x, w, b):
    flat = x.reshape(x.shape[0], -1)
    out = np.einsum("nd,dm->nm", flat, w)
    out += b  # in place on our own fresh array
    return out, Cache(x=x, w=w, shape=x.shape, dtype=x.dtype)


def affine_backward(dout, cache):
    flat = cache.x.reshape(cache.shape[0], -1)
    dx = np.einsum("nm,dm->nd", dout, cache.w).reshape(cache.shape)
    dw = np.einsum("nd,nm->dm", flat, dout)
    db = np.add.reduce(dout, axis=0)
    return dx.astype(cache.dtype, copy=False), dw, db


def relu_forward(x):
    out = np.empty_like(x)
    np.maximum(x, 0, out=out)
    return out, Cache(mask=x > 0, dtype=x.dtype, kind=np.maximum)


def relu_backward(dout, cache):
    dx = np.zeros_like(dout)
    np.copyto(dx, dout, where=cache.mask)
    return dx


def sigmoid_forward(x):
    z = np.exp(-np.abs(x))
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z)).astype(x.dtype, copy=False)
    return out, Cache(s=out, f=lambda s: s * (1 - s))


def sigmoid_backward(dout, cache):
    return dout * cache.f(cache.s)


def softmax_loss(x, y):
    n = x.shape[0]
    z = x - x.max(axis=1, keepdims=True)
    log_z = np.log(np.exp(z).sum(axis=1, keepdims=True))
    loss = (log_z[:, 0] - z[np.arange(n), y]).sum() / n
    np.exp(z, out=z)  # z is ours: turn it into the probabilities in place
    z /= z.sum(axis=1, keepdims=True)
    z[np.arange(n), y] -= 1
    z /= n
    return float(loss), z


def svm_loss(x, y):
    n = x.shape[0]
    rows = np.arange(n)
    margins = x - x[rows, y][:, None] + 1
    np.maximum(margins, 0, out=margins)
    margins[rows, y] = 0
    loss = margins.sum() / n
    dx = (margins > 0).astype(x.dtype)
    dx[rows, y] -= dx.sum(axis=1)
    dx /= n
    return float(loss), dx


def mse_loss(x, y):
    diff = x - y
    loss = diff.ravel() @ diff.ravel() / diff.size
    dx = diff
    dx *= 2.0 / x.shape[0]  # diff is ours: scaling it in place is fine
    return float(loss), dx.astype(x.dtype, copy=False)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.setdefault("eps", 1e-5)
    momentum = bn_param.setdefault("momentum", 0.9)
    d = x.shape[1]
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        rm = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
        rv = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mu
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    elif mode == "test":
        mu = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
        var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    else:
        raise ValueError(mode)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mu) * inv_std
    out = xhat * gamma
    out += beta
    return out.astype(x.dtype, copy=False), BNCache(xhat, inv_std, gamma, x.dtype)


def batchnorm_backward(dout, cache):
    xhat, inv_std, gamma, dtype = cache
    n = dout.shape[0]
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dbeta = dout.sum(axis=0)
    dxhat = dout * gamma
    dvar = -0.5 * np.einsum("nd,nd->d", dxhat, xhat) * inv_std**2
    dmu = -dxhat.sum(axis=0) * inv_std
    dx = dxhat * inv_std + dvar * 2 * xhat / (n * inv_std) + dmu / n
    return dx.astype(dtype, copy=False), dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, inv_std, gamma, dtype = cache
    n = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = dout * n
    dx -= dbeta
    dx -= xhat * dgamma
    dx *= gamma * inv_std / n
    return dx.astype(dtype, copy=False), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    xc = x - mu
    inv_std = 1 / np.sqrt(np.einsum("nd,nd->n", xc, xc)[:, None] / x.shape[1] + eps)
    xhat = xc * inv_std
    return gamma * xhat + beta, Cache(xhat=xhat, inv_std=inv_std, gamma=gamma)


def layernorm_backward(dout, cache):
    c = cache
    d = dout.shape[1]
    g = dout * c.gamma
    dx = g * d
    dx -= g.sum(axis=1, keepdims=True)
    dx -= c.xhat * (g * c.xhat).sum(axis=1, keepdims=True)
    dx *= c.inv_std / d
    return dx, (dout * c.xhat).sum(axis=0), dout.sum(axis=0)


def dropout_forward(x, dropout_param):
    p, mode = dropout_param["p"], dropout_param["mode"]
    if dropout_param.get("seed") is not None:
        np.random.seed(dropout_param["seed"])
    if mode == "train":
        mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype)
        return x * mask, Cache(mask=mask, train=True)
    return x.copy(), Cache(mask=None, train=False)


def dropout_backward(dout, cache):
    return dout * cache.mask if cache.train else dout.copy()


def _windows(xp, kh, kw, stride):
    """(N, C, Ho, Wo, kh, kw) view of the windows of xp (no copy)."""
    n, c, h, w = xp.shape
    ho, wo = 1 + (h - kh) // stride, 1 + (w - kw) // stride
    s0, s1, s2, s3 = xp.strides
    return as_strided(
        xp,
        shape=(n, c, ho, wo, kh, kw),
        strides=(s0, s1, s2 * stride, s3 * stride, s2, s3),
        writeable=False,
    )


def conv_forward_naive(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    cols = _windows(xp, w.shape[2], w.shape[3], stride)
    out = np.einsum("nchwij,fcij->nfhw", cols, w, optimize=True)
    out += b[None, :, None, None]
    return out.astype(x.dtype, copy=False), Cache(x=x, w=w, stride=stride, pad=pad, dt=x.dtype)


def conv_backward_naive(dout, cache):
    c = cache
    pad, stride = c.pad, c.stride
    xp = np.pad(c.x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    kh, kw = c.w.shape[2:]
    cols = _windows(xp, kh, kw, stride)
    dw = np.einsum("nchwij,nfhw->fcij", cols, dout, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    dxp = np.zeros_like(xp)
    ho, wo = dout.shape[2:]
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i : i + stride * ho : stride, j : j + stride * wo : stride] += np.einsum(
                "nfhw,fc->nchw", dout, c.w[:, :, i, j]
            )
    h, wd = c.x.shape[2:]
    dx = dxp[:, :, pad : pad + h, pad : pad + wd]
    return dx.astype(c.dt, copy=False), dw.astype(c.dt, copy=False), db


def max_pool_forward_naive(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    win = sliding_window_view(x, (ph, pw), axis=(2, 3))[:, :, ::s, ::s]
    out = win.max(axis=(4, 5))
    return out, Cache(x=x, ph=ph, pw=pw, s=s)


def max_pool_backward_naive(dout, cache):
    c = cache
    n, ch, ho, wo = dout.shape
    win = sliding_window_view(c.x, (c.ph, c.pw), axis=(2, 3))[:, :, :: c.s, :: c.s]
    flat = win.reshape(n, ch, ho, wo, -1)
    arg = flat.argmax(axis=-1)
    r, q = np.divmod(arg, c.pw)
    dx = np.zeros_like(c.x)
    nn_, cc, ii, jj = np.indices((n, ch, ho, wo))
    np.add.at(dx, (nn_, cc, ii * c.s + r, jj * c.s + q), dout)
    return dx


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    n, c, h, w = x.shape
    out, cache = batchnorm_forward(np.moveaxis(x, 1, -1).reshape(-1, c), gamma, beta, bn_param)
    return np.moveaxis(out.reshape(n, h, w, c), -1, 1), cache


def spatial_batchnorm_backward(dout, cache):
    n, c, h, w = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(np.moveaxis(dout, 1, -1).reshape(-1, c), cache)
    return np.moveaxis(dx.reshape(n, h, w, c), -1, 1), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    eps = gn_param.get("eps", 1e-5)
    n, c, h, w = x.shape
    xg = x.reshape(n, G, c // G, h, w)
    mu = xg.mean(axis=(2, 3, 4), keepdims=True)
    var = xg.var(axis=(2, 3, 4), keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    xhat = ((xg - mu) * inv_std).reshape(x.shape)
    out = gamma * xhat + beta
    return out, Cache(xhat=xhat, inv_std=inv_std, gamma=gamma, G=G)


def spatial_groupnorm_backward(dout, cache):
    c = cache
    n, ch, h, w = dout.shape
    dgamma = np.einsum("nchw,nchw->c", dout, c.xhat).reshape(c.gamma.shape)
    dbeta = dout.sum(axis=(0, 2, 3)).reshape(c.gamma.shape)
    g = (dout * c.gamma).reshape(n, c.G, -1)
    xh = c.xhat.reshape(n, c.G, -1)
    m = g.shape[-1]
    dx = g - g.mean(axis=-1, keepdims=True) - xh * (g * xh).mean(axis=-1, keepdims=True)
    dx *= c.inv_std.reshape(n, c.G, 1)
    return dx.reshape(dout.shape), dgamma, dbeta
