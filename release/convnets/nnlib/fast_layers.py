"""Fast convolution and max-pooling layers in pure numpy (no compile step).

Same signatures and results as the naive layers of the assignment:

- ``conv_forward_fast(x, w, b, conv_param) -> (out, cache)``,
  ``conv_backward_fast(dout, cache) -> (dx, dw, db)``
- ``max_pool_forward_fast(x, pool_param) -> (out, cache)``,
  ``max_pool_backward_fast(dout, cache) -> dx``

Convolution uses im2col: a strided view of the padded input is copied into a column matrix and
multiplied with the filters by BLAS. Any stride and padding works (output sizes are floored, as
in the naive layers when the division is exact). Max pooling handles any window and stride,
including overlapping and non-tiling windows; its backward pass routes each upstream gradient
to the first maximum of its window (row-major order), like the naive layer. The dtype of ``x``
(float32 or float64) is preserved.

Large scratch arrays are recycled through a small pool: numpy hands every fresh large array
over to mmap, and touching new pages costs as much as the arithmetic here.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

__all__ = [
    "conv_forward_fast",
    "conv_backward_fast",
    "max_pool_forward_fast",
    "max_pool_backward_fast",
]


class _BufferPool:
    """Recycles large arrays; an array is reused only once nothing but the pool refers to it."""

    def __init__(self, max_bytes: int = 256 * 2**20, min_bytes: int = 2**16) -> None:
        self.max_bytes = max_bytes
        self.min_bytes = min_bytes
        self._buffers: dict[tuple[str, tuple[int, ...], str], list[np.ndarray]] = {}

    def get(self, key: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of shape/dtype: zeros when new, else what its last user left in it."""
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if nbytes < self.min_bytes:
            return np.zeros(shape, dtype)
        bucket = self._buffers.setdefault((key, shape, dtype.str), [])
        for buf in bucket:
            # References: the bucket list, getrefcount's argument and the loop variable.
            if sys.getrefcount(buf) <= 3:
                return buf
        if self._nbytes() + nbytes > self.max_bytes:
            self._drop_free()
        buf = np.zeros(shape, dtype)
        if self._nbytes() + nbytes <= self.max_bytes:
            bucket.append(buf)
        return buf

    def _nbytes(self) -> int:
        return sum(b.nbytes for bucket in self._buffers.values() for b in bucket)

    def _drop_free(self) -> None:
        for key, bucket in list(self._buffers.items()):
            bucket[:] = [b for b in bucket if sys.getrefcount(b) > 3]
            if not bucket:
                del self._buffers[key]


_POOL = _BufferPool()
_CHUNK_BYTES = 4 * 2**20


def _padded(x: np.ndarray, pad: int) -> np.ndarray:
    """x (N, C, H, W) zero-padded on both spatial sides: (N, C, H + 2 pad, W + 2 pad).

    The pooled buffer keeps its zero border between calls; only the interior is rewritten.
    """
    if pad == 0:
        return x
    N, C, H, W = x.shape
    xp = _POOL.get(f"pad{pad}", (N, C, H + 2 * pad, W + 2 * pad), x.dtype)
    xp[:, :, pad : pad + H, pad : pad + W] = x
    return xp


def _windows(xp: np.ndarray, HH: int, WW: int, stride: int, Ho: int, Wo: int) -> np.ndarray:
    """Read-only view (N, C, HH, WW, Ho, Wo) of xp (N, C, Hp, Wp).

    [n, c, kh, kw, i, j] = xp[n, c, i * stride + kh, j * stride + kw].
    """
    sN, sC, sH, sW = xp.strides
    N, C = xp.shape[:2]
    return as_strided(
        xp,
        shape=(N, C, HH, WW, Ho, Wo),
        strides=(sN, sC, sH, sW, sH * stride, sW * stride),
        writeable=False,
    )


def _conv_sizes(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int, pad: int
) -> tuple[int, ...]:
    """N, C, H, W, F, HH, WW, Ho, Wo of a convolution (checked)."""
    N, C, H, W = x_shape
    F, Cw, HH, WW = w_shape
    if C != Cw:
        raise ValueError(f"x has {C} channels but w expects {Cw}")
    if stride < 1 or pad < 0:
        raise ValueError(f"need stride >= 1 and pad >= 0, got stride={stride}, pad={pad}")
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    if Ho < 1 or Wo < 1:
        raise ValueError(f"filter {HH}x{WW} does not fit input {H}x{W} with pad {pad}")
    return N, C, H, W, F, HH, WW, Ho, Wo


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Convolution (cross-correlation) forward pass.

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad'.
    Returns out (N, F, Ho, Wo) with Ho = 1 + (H + 2 pad - HH) // stride (same for Wo), and a
    cache for conv_backward_fast.
    """
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    N, C, H, W, F, HH, WW, Ho, Wo = _conv_sizes(x.shape, w.shape, stride, pad)
    dtype = x.dtype
    K = C * HH * WW
    xp = _padded(x, pad)
    # Columns (N, K + 1, Ho*Wo): K rows of window values and a row of ones, so that one
    # product [w | b] @ cols adds the bias and, in the backward pass, dout @ cols.T gives db.
    cols = _POOL.get("cols", (N, K + 1, Ho * Wo), dtype)
    np.copyto(cols[:, :K].reshape(N, C, HH, WW, Ho, Wo), _windows(xp, HH, WW, stride, Ho, Wo))
    cols[:, K] = 1
    del xp
    wb = np.empty((F, K + 1), dtype=dtype)
    wb[:, :K] = w.reshape(F, K)
    wb[:, K] = b
    out = _POOL.get("conv_out", (N, F, Ho * Wo), dtype)
    np.matmul(wb, cols, out=out)
    cache = (x.shape, wb, w.shape, cols, stride, pad, Ho, Wo)
    return out.reshape(N, F, Ho, Wo), cache


def conv_backward_fast(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution backward pass.

    dout: (N, F, Ho, Wo); cache from conv_forward_fast.
    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).
    """
    x_shape, wb, w_shape, cols, stride, pad, Ho, Wo = cache
    N, C, H, W = x_shape
    F, _, HH, WW = w_shape
    dtype = cols.dtype
    K = C * HH * WW
    dout = np.asarray(dout, dtype=dtype)
    dout3 = np.ascontiguousarray(dout).reshape(N, F, Ho * Wo)

    dwb_per_n = _POOL.get("dw", (N, F, K + 1), dtype)
    np.matmul(dout3, cols.transpose(0, 2, 1), out=dwb_per_n)
    dwb = dwb_per_n.sum(axis=0)
    dw, db = dwb[:, :K].reshape(w_shape), dwb[:, K].copy()
    return _col2im(dout, wb[:, :K], x_shape, HH, WW, stride, pad), dw, db


def _col2im(
    dout: np.ndarray,
    w2: np.ndarray,
    x_shape: tuple[int, int, int, int],
    HH: int,
    WW: int,
    stride: int,
    pad: int,
) -> np.ndarray:
    """dx (N, C, H, W) from dout (N, F, Ho, Wo) and the filters w2 (F, C*HH*WW).

    The padded input is split into stride x stride phase images, P[rh, rw][a, b] =
    xpad[a * stride + rh, b * stride + rw], each of width Q = ceil(Wp / stride). Filter tap
    (kh, kw) = (qh * stride + rh, qw * stride + rw) sends output (i, j) to P[rh, rw][i + qh,
    j + qw]. With dout widened by zero columns to (Ho, Q), flat index i Q + j of the widened
    output lands on flat index i Q + j + (qh Q + qw) of its phase image: every tap adds one
    contiguous slice. Samples go in chunks whose columns stay in the CPU cache.
    """
    N, F, Ho, Wo = dout.shape
    _, C, H, W = x_shape
    K = w2.shape[1]
    dtype = dout.dtype
    s = stride
    Qh, Qw = -(-(H + 2 * pad) // s), -(-(W + 2 * pad) // s)
    # Columns Wo.. of this buffer (pooled per Wo) are zeros from its creation, never written.
    wide = _POOL.get(f"dout_wide{Wo}", (N, F, Ho, Qw), dtype)
    wide[:, :, :, :Wo] = dout
    wide3 = wide.reshape(N, F, Ho * Qw)
    phases = _POOL.get("phases", (N, C, s, s, Qh * Qw), dtype)
    chunk = max(1, min(N, _CHUNK_BYTES // (K * Ho * Qw * dtype.itemsize)))
    dcols = _POOL.get("dcols", (chunk, K, Ho * Qw), dtype)
    w2t = np.ascontiguousarray(w2.T)
    length = (Ho - 1) * Qw + Wo
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        taps = np.matmul(w2t, wide3[n0:n1], out=dcols[: n1 - n0])
        taps = taps.reshape(n1 - n0, C, HH, WW, Ho * Qw)
        for rh in range(s):
            for rw in range(s):
                phase = phases[n0:n1, :, rh, rw]
                if rh >= HH or rw >= WW:  # no tap reaches this phase
                    phase.fill(0)
                    continue
                phase[:, :, :length] = taps[:, :, rh, rw, :length]
                phase[:, :, length:] = 0
                for kh in range(rh + s, HH, s):
                    for kw in range(rw, WW, s):
                        start = (kh // s) * Qw + kw // s
                        phase[:, :, start : start + length] += taps[:, :, kh, kw, :length]
                for kw in range(rw + s, WW, s):
                    start = kw // s
                    phase[:, :, start : start + length] += taps[:, :, rh, kw, :length]
    dx = _POOL.get("conv_dx", x_shape, dtype)
    grid = phases.reshape(N, C, s, s, Qh, Qw)
    for rh in range(s):
        for rw in range(s):
            # Rows h of dx with (h + pad) % s == rh live in phase rh at row (h + pad) // s.
            h0, w0 = (rh - pad) % s, (rw - pad) % s
            a0, b0 = (h0 + pad) // s, (w0 + pad) // s
            rows, cols = len(range(h0, H, s)), len(range(w0, W, s))
            dx[:, :, h0::s, w0::s] = grid[:, :, rh, rw, a0 : a0 + rows, b0 : b0 + cols]
    return dx


def _pool_sizes(x_shape: tuple[int, ...], pool_param: dict[str, int]) -> tuple[int, ...]:
    """N, C, H, W, pool_height, pool_width, stride, Ho, Wo of a max pool (checked)."""
    N, C, H, W = x_shape
    ph, pw = int(pool_param["pool_height"]), int(pool_param["pool_width"])
    s = int(pool_param["stride"])
    if s < 1 or ph < 1 or pw < 1 or ph > H or pw > W:
        raise ValueError(f"pool {ph}x{pw} with stride {s} does not fit input {H}x{W}")
    return N, C, H, W, ph, pw, s, 1 + (H - ph) // s, 1 + (W - pw) // s


def max_pool_forward_fast(
    x: np.ndarray, pool_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Max-pooling forward pass.

    x: (N, C, H, W); pool_param: 'pool_height', 'pool_width', 'stride' (no padding).
    Returns out (N, C, Ho, Wo) with Ho = 1 + (H - pool_height) // stride (same for Wo),
    and a cache for max_pool_backward_fast.
    """
    N, C, H, W, ph, pw, s, Ho, Wo = _pool_sizes(x.shape, pool_param)
    win = _windows(x, ph, pw, s, Ho, Wo)
    out = _POOL.get("pool_out", (N, C, Ho, Wo), x.dtype)
    np.copyto(out, win[:, :, 0, 0])
    # arg = index (kh * pw + kw) of the first maximum; k grows, so "max(arg, k * bigger)"
    # records the latest strict improvement (multiplications beat masked copies here).
    index_type = np.min_scalar_type(ph * pw - 1)
    arg = np.zeros((N, C, Ho, Wo), dtype=index_type)
    bigger = np.empty((N, C, Ho, Wo), dtype=bool)
    k_bigger = np.empty((N, C, Ho, Wo), dtype=index_type)
    for k in range(1, ph * pw):
        xk = win[:, :, k // pw, k % pw]
        np.greater(xk, out, out=bigger)
        np.multiply(bigger, index_type.type(k), out=k_bigger)
        np.maximum(arg, k_bigger, out=arg)
        np.maximum(out, xk, out=out)
    return out, (x.shape, arg, ph, pw, s)


def max_pool_backward_fast(dout: np.ndarray, cache: tuple[Any, ...]) -> np.ndarray:
    """Max-pooling backward pass.

    dout: (N, C, Ho, Wo); cache from max_pool_forward_fast. Returns dx (N, C, H, W); each
    gradient goes to the first maximum of its window.
    """
    x_shape, arg, ph, pw, s = cache
    N, C, H, W = x_shape
    Ho, Wo = arg.shape[2:]
    dx = _POOL.get("pool_dx", x_shape, dout.dtype)
    if not (s == ph == pw and H == s * Ho and W == s * Wo):
        dx.fill(0)  # some elements are in no window, or in several
    overlap = s < ph or s < pw
    hit = np.empty(arg.shape, dtype=bool)
    routed = np.empty(arg.shape, dtype=dx.dtype)
    for k in range(ph * pw):
        kh, kw = divmod(k, pw)
        target = dx[:, :, kh : kh + s * Ho : s, kw : kw + s * Wo : s]
        np.equal(arg, k, out=hit)
        if overlap:
            np.multiply(dout, hit, out=routed)
            target += routed
        else:
            np.multiply(dout, hit, out=target)
    return dx
