"""Fast convolution and max-pooling layers in pure numpy (no compile step).

Same signatures and results as the naive layers of the assignment:

- ``conv_forward_fast(x, w, b, conv_param) -> (out, cache)``,
  ``conv_backward_fast(dout, cache) -> (dx, dw, db)``
- ``max_pool_forward_fast(x, pool_param) -> (out, cache)``,
  ``max_pool_backward_fast(dout, cache) -> dx``

Convolution uses im2col: every filter tap's view of the input is copied into one row of a
column matrix (K + 1, N*Ho*Wo) that BLAS multiplies with the filters; the backward pass reuses
it for dw and scatters the taps of dx back in cache-sized chunks of samples. Any stride and
padding works (output sizes are floored, as in the naive layers when the division is exact).
Max pooling handles any window and stride, including overlapping and non-tiling windows; its
backward pass routes each upstream gradient to the first maximum of its window (row-major
order), like the naive layer. The dtype of ``x`` (float32 or float64) is preserved.

Large scratch arrays are recycled through a small pool: numpy hands every fresh large array
over to mmap, and touching new pages costs as much as the arithmetic here.
"""

from __future__ import annotations

import math
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
        nbytes = math.prod(shape) * dtype.itemsize
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
#: Scratch bytes per chunk of samples: small enough to stay in the CPU's L2 cache.
_CHUNK_BYTES = 2**20
#: Up to this size the forward pass keeps its columns for the backward pass; larger columns
#: are rebuilt chunk by chunk in the backward pass (cheaper than reading them from memory).
_KEEP_COLS_BYTES = 2**23


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


def _chunk(N: int, bytes_per_sample: int) -> int:
    """Samples per chunk: as many as fit in _CHUNK_BYTES of scratch, at least one."""
    return min(N, max(1, _CHUNK_BYTES // bytes_per_sample))


class _Im2col:
    """Columns (C*HH*WW + 1, m*Ho*Wo) of chunks of m samples of x (N, C, H, W).

    Row (c, kh, kw) holds, for every output (n, i, j), the input value under filter tap
    (c, kh, kw): one copy from a strided view of the (zero-padded) input. The last row is
    ones, for the bias. The scratch arrays are taken from the pool once per pass; with `keep`
    the columns of all samples are kept (each chunk in its place), else one chunk's are reused.
    """

    def __init__(self, x: np.ndarray, geometry: tuple[int, ...], chunk: int, keep: bool) -> None:
        N, C, H, W, HH, WW, stride, pad, Ho, Wo = geometry
        self.x, self.geometry, self.K, self.P, self.keep = x, geometry, C * HH * WW, Ho * Wo, keep
        dtype = self.dtype = x.dtype
        it = dtype.itemsize
        if pad:
            # The border of xp is zeros from the buffer's creation, never written.
            Hp, Wp = H + 2 * pad, W + 2 * pad
            self.xp = _POOL.get(f"conv_xpad{H}x{W}p{pad}", (C, chunk, Hp, Wp), dtype)
            sC, sN, sH, sW = chunk * Hp * Wp * it, Hp * Wp * it, Wp * it, it
        else:
            self.xp = None
            sN, sC, sH, sW = x.strides
        self.tap_strides = (sC, sH, sW, sN, sH * stride, sW * stride)
        width = N if keep else chunk
        self.cols = _POOL.get(f"conv_cols{keep}", (self.K + 1, width * self.P), dtype)
        self.cols[self.K] = 1
        self._views: dict[int, tuple[Any, ...]] = {}

    def __call__(self, n0: int, n1: int) -> np.ndarray:
        m = n1 - n0
        views = self._views.get(m)
        if views is None:
            views = self._views[m] = self._make_views(m)
        xp_in, taps, dest, cols_m = views
        if xp_in is not None:
            np.copyto(xp_in, self.x[n0:n1].transpose(1, 0, 2, 3))
        else:
            taps = as_strided(self.x[n0:n1], taps.shape, self.tap_strides, writeable=False)
        if self.keep:
            cols = self.cols[:, n0 * self.P : n1 * self.P]
            np.copyto(cols[: self.K].reshape(taps.shape), taps)
            return cols
        np.copyto(dest, taps)
        return cols_m

    def _make_views(self, m: int) -> tuple[Any, ...]:
        """Views for chunks of m samples: xp's interior, the taps, the columns."""
        N, C, H, W, HH, WW, stride, pad, Ho, Wo = self.geometry
        shape = (C, HH, WW, m, Ho, Wo)
        xp_in, taps = None, np.empty((0,) * 6)
        if self.xp is not None:
            xp_in = self.xp[:, :m, pad : pad + H, pad : pad + W]
            taps = np.ndarray(shape, self.dtype, buffer=self.xp, strides=self.tap_strides)
        else:
            taps = np.lib.stride_tricks.as_strided(taps, shape, (0,) * 6, writeable=False)
        cols_m = self.cols[:, : m * self.P]
        return xp_in, taps, cols_m[: self.K].reshape(shape), cols_m


def conv_forward_fast(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict[str, int]
) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Convolution (cross-correlation) forward pass.

    x: (N, C, H, W); w: (F, C, HH, WW); b: (F,); conv_param: 'stride', 'pad'.
    Returns out (N, F, Ho, Wo) with Ho = 1 + (H + 2 pad - HH) // stride (same for Wo), and a
    cache for conv_backward_fast.

    out[n] = [w | b] (F, K + 1) @ columns of sample n (K + 1, Ho*Wo), bias included. Small
    columns are built at once and kept for the backward pass; large ones chunk by chunk, so
    that each chunk's columns stay in the CPU cache.
    """
    stride, pad = int(conv_param["stride"]), int(conv_param["pad"])
    N, C, H, W, F, HH, WW, Ho, Wo = _conv_sizes(x.shape, w.shape, stride, pad)
    dtype = x.dtype
    K, P = C * HH * WW, Ho * Wo
    geometry = (N, C, H, W, HH, WW, stride, pad, Ho, Wo)
    wb = np.empty((F, K + 1), dtype=dtype)
    wb[:, :K] = w.reshape(F, K)
    wb[:, K] = b
    out = _POOL.get("conv_out", (N, F, Ho, Wo), dtype)
    keep = (K + 1) * N * P * dtype.itemsize <= _KEEP_COLS_BYTES
    chunk = _chunk(N, (K + 1) * P * dtype.itemsize)
    im2col = _Im2col(x, geometry, chunk, keep)
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        m = n1 - n0
        cols = im2col(n0, n1)
        np.matmul(wb, cols.reshape(K + 1, m, P).transpose(1, 0, 2), out=out[n0:n1].reshape(m, F, P))
    cache = (x, wb, w.shape, geometry, im2col.cols if keep else None)
    return out, cache


def conv_backward_fast(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution backward pass.

    dout: (N, F, Ho, Wo); cache from conv_forward_fast.
    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).

    [dw | db] adds up dout[n] @ columns of sample n .T (the forward pass's columns, or rebuilt
    chunk by chunk). dx is scattered back (col2im) from the filter taps w.T @ dout through
    stride x stride phase images of the padded input, P[rh, rw][a, b] = xpad[a * stride + rh,
    b * stride + rw], each of width Q = ceil(Wp / stride). Filter tap (kh, kw) = (qh * stride
    + rh, qw * stride + rw) sends output (i, j) to P[rh, rw][i + qh, j + qw]. With dout widened
    by zero columns to (Ho, Q), flat index i Q + j of a tap lands on flat index i Q + j + (qh Q
    + qw) of its phase image, so a phase image is the sum of its taps, each shifted by a
    constant: one reduction over a strided view of the taps, whose rows end in zeros so that
    shifted reads past a row's end see zeros. The phase images interleave into the padded dx,
    and dx is its inner part (a view, as the naive layer's dx).
    """
    x, wb, w_shape, geometry, kept_cols = cache
    N, C, H, W, HH, WW, s, pad, Ho, Wo = geometry
    F = w_shape[0]
    dtype = wb.dtype
    it = dtype.itemsize
    K, P = C * HH * WW, Ho * Wo
    Qh, Qw = -(-(H + 2 * pad) // s), -(-(W + 2 * pad) // s)
    L = Ho * Qw  # size of a widened output
    max_shift = (-(-HH // s) - 1) * Qw + (-(-WW // s) - 1)
    R = max(L + max_shift, Qh * Qw)  # row length of the taps: L values, then zeros
    dout = np.asarray(dout, dtype=dtype)
    w2t = np.ascontiguousarray(wb[:, :K].T)
    per_sample = K * R + F * R + C * Qh * Qw
    if kept_cols is None:
        per_sample += (K + 1) * P + C * (H + 2 * pad) * (W + 2 * pad)
    chunk = _chunk(N, per_sample * it)
    T = chunk * R  # distance between two filter taps' rows in `taps`
    # wide[f, n] is dout[n, f] widened to (Ho, Qw) and then zeros up to R; taps[k, n] is row
    # k of w.T @ wide[:, n]. Every position that is zero here stays zero: it is never written
    # (wide) or written with zeros only (taps).
    wide = _POOL.get(f"conv_wide{Wo}x{Qw}x{L}", (F, chunk, R), dtype)
    taps = _POOL.get(f"conv_taps{L}", (K, chunk, R), dtype)
    dx_pad = _POOL.get("conv_dx", (N, C, Qh * s, Qw * s), dtype)
    interleaved = dx_pad.reshape(N, C, Qh, s, Qw, s)
    # With stride 1 the only phase image is dx_pad itself; else phase images are summed in
    # `flat` (long rows: faster) and then copied to their places in dx_pad.
    flat = None if s == 1 else _POOL.get("conv_phase", (chunk, C, Qh * Qw), dtype)
    phases = []
    for rh in range(s):
        for rw in range(s):
            if rh >= HH or rw >= WW:  # no filter tap reaches this phase
                interleaved[:, :, :, rh, :, rw] = 0
            else:
                nh, nw = len(range(rh, HH, s)), len(range(rw, WW, s))
                strides = (R, HH * WW * T, s * WW * T - Qw, s * T - 1, 1)
                phases.append((rh, rw, (rh * WW + rw) * T * it, nh, nw, [d * it for d in strides]))
    transposed = dtype == np.float32  # (cols @ dout.T) is the faster order there (OpenBLAS)
    dwb = np.zeros((K + 1, F) if transposed else (F, K + 1), dtype=dtype)
    if kept_cols is None:
        im2col = _Im2col(x, geometry, chunk, False)
    else:
        _add_dw(dwb, dout.reshape(N, F, P), kept_cols.reshape(K + 1, N, P), transposed)
    views: dict[int, tuple[Any, ...]] = {}
    dx_flat = dx_pad.reshape(N, C, Qh * Qw) if s == 1 else None
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        m = n1 - n0
        if m not in views:
            wide_in = wide[:, :m, :L].reshape(F, m, Ho, Qw)[:, :, :, :Wo]
            if m == 1:  # one product without the zero tail
                product = (wide[:, 0, :L], taps[:, 0, :L])
            else:
                product = (wide[:, :m].reshape(F, m * R), taps[:, :m].reshape(K, m * R))
            shifted = [
                (
                    np.ndarray(
                        (m, C, nh, nw, Qh * Qw), dtype, buffer=taps, offset=off, strides=strides
                    ),
                    rh,
                    rw,
                )
                for rh, rw, off, nh, nw, strides in phases
            ]
            summed = None if flat is None else (flat[:m], flat[:m].reshape(m, C, Qh, Qw))
            views[m] = (wide_in, product, shifted, summed)
        wide_in, (wide_m, taps_m), shifted, summed = views[m]
        d = dout[n0:n1]
        if kept_cols is None:
            cols = im2col(n0, n1)
            _add_dw(dwb, d.reshape(m, F, P), cols.reshape(K + 1, m, P), transposed)
        np.copyto(wide_in, d.transpose(1, 0, 2, 3))
        np.matmul(w2t, wide_m, out=taps_m)
        for view, rh, rw in shifted:
            if summed is None:
                np.add.reduce(view, axis=(2, 3), out=dx_flat[n0:n1])
            else:
                np.add.reduce(view, axis=(2, 3), out=summed[0])
                np.copyto(interleaved[n0:n1, :, :, rh, :, rw], summed[1])
    dwb = dwb.T if transposed else dwb
    dw, db = dwb[:, :K].reshape(w_shape), dwb[:, K].copy()
    return dx_pad[:, :, pad : pad + H, pad : pad + W], dw, db


def _add_dw(dwb: np.ndarray, d: np.ndarray, cols: np.ndarray, transposed: bool) -> None:
    """dwb += the sum over samples n of d[n] (F, P) @ cols[:, n].T (P, K + 1), for d
    (m, F, P) and cols (K + 1, m, P); dwb holds the transpose when `transposed`."""
    if transposed:
        prods = np.matmul(cols.transpose(1, 0, 2), d.transpose(0, 2, 1))
    else:
        prods = np.matmul(d, cols.transpose(1, 2, 0))
    dwb += prods[0] if len(prods) == 1 else prods.sum(axis=0)


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
