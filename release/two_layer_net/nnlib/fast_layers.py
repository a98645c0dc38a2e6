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
_CHUNK_BYTES = 2**20
_MAX_CHUNKS = 8


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


def _inside(k: int, pad: int, stride: int, size: int, out_size: int) -> tuple[int, int]:
    """Outputs i0 <= i < i1 whose filter tap k reads an input row, not padding:
    0 <= i * stride + k - pad < size."""
    i0 = max(0, -((k - pad) // stride))
    i1 = min(out_size, (size - 1 + pad - k) // stride + 1)
    return i0, max(i0, i1)


def _im2col(x: np.ndarray, HH: int, WW: int, stride: int, pad: int) -> np.ndarray:
    """Columns (C*HH*WW + 1, N*Ho*Wo) of x (N, C, H, W).

    Row (c, kh, kw) holds, for every output (n, i, j), the input value under filter tap
    (c, kh, kw); the last row is ones, for the bias. Each tap is copied straight from x:
    positions that fall into the padding are never written and keep the zeros of the pooled
    buffer, which is keyed by the whole geometry (so no padded copy of x is needed).
    """
    N, C, H, W = x.shape
    Ho = 1 + (H + 2 * pad - HH) // stride
    Wo = 1 + (W + 2 * pad - WW) // stride
    K = C * HH * WW
    key = f"cols{H}x{W}k{HH}x{WW}s{stride}p{pad}"
    cols = _POOL.get(key, (K + 1, N * Ho * Wo), x.dtype)
    taps = cols[:K].reshape(C, HH, WW, N, Ho, Wo)
    xt = x.transpose(1, 0, 2, 3)
    for kh in range(HH):
        i0, i1 = _inside(kh, pad, stride, H, Ho)
        h0 = i0 * stride + kh - pad
        rows = slice(h0, h0 + (i1 - i0 - 1) * stride + 1, stride)
        for kw in range(WW):
            j0, j1 = _inside(kw, pad, stride, W, Wo)
            w0 = j0 * stride + kw - pad
            if i1 > i0 and j1 > j0:
                src = xt[:, :, rows, w0 : w0 + (j1 - j0 - 1) * stride + 1 : stride]
                np.copyto(taps[:, kh, kw, :, i0:i1, j0:j1], src)
    cols[K] = 1
    return cols


def _chunk(N: int, bytes_per_sample: int) -> int:
    """Samples per chunk: few enough that a chunk's scratch arrays stay in the CPU cache, but
    at most _MAX_CHUNKS chunks (every chunk costs a few dozen numpy calls)."""
    return min(N, max(1, _CHUNK_BYTES // bytes_per_sample, -(-N // _MAX_CHUNKS)))


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
    K, P = C * HH * WW, Ho * Wo
    # [w | b] (F, K + 1) @ cols[:, sample n] (K + 1, Ho*Wo) adds the bias too and writes
    # out[n] in place (one BLAS call per sample; cols of a sample are a strided 2-D view).
    cols = _im2col(x, HH, WW, stride, pad)
    wb = np.empty((F, K + 1), dtype=dtype)
    wb[:, :K] = w.reshape(F, K)
    wb[:, K] = b
    out = _POOL.get("conv_out", (N, F, Ho, Wo), dtype)
    np.matmul(wb, cols.reshape(K + 1, N, P).transpose(1, 0, 2), out=out.reshape(N, F, P))
    cache = (x.shape, wb, w.shape, cols, stride, pad, Ho, Wo)
    return out, cache


def conv_backward_fast(
    dout: np.ndarray, cache: tuple[Any, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Convolution backward pass.

    dout: (N, F, Ho, Wo); cache from conv_forward_fast.
    Returns dx (N, C, H, W), dw (F, C, HH, WW), db (F,).

    dx is scattered back (col2im) from the filter taps w.T @ dout through stride x stride
    phase images of the padded input, P[rh, rw][a, b] = xpad[a * stride + rh, b * stride + rw],
    each of width Q = ceil(Wp / stride). Filter tap (kh, kw) = (qh * stride + rh, qw * stride +
    rw) sends output (i, j) to P[rh, rw][i + qh, j + qw]. With dout widened by zero columns to
    (Ho, Q), flat index i Q + j of the widened output lands on flat index i Q + j + (qh Q + qw)
    of its phase image: every tap adds one contiguous slice. Samples go in chunks whose
    scratch arrays stay in the CPU cache.
    """
    x_shape, wb, w_shape, cols, stride, pad, Ho, Wo = cache
    N, C, H, W = x_shape
    F, _, HH, WW = w_shape
    dtype = cols.dtype
    K, P, s = C * HH * WW, Ho * Wo, stride
    Qh, Qw = -(-(H + 2 * pad) // s), -(-(W + 2 * pad) // s)
    L = Ho * Qw  # size of a widened output
    dout = np.asarray(dout, dtype=dtype)
    w2t = np.ascontiguousarray(wb[:, :K].T)
    chunk = _chunk(N, K * L * dtype.itemsize)
    dout_t = _POOL.get("conv_dout_t", (F * chunk * P,), dtype)
    # Columns Wo.. of this buffer (pooled per Wo) are zeros from its creation, never written.
    wide = _POOL.get(f"conv_dout_wide{Wo}", (F, chunk, Ho, Qw), dtype)
    taps_buf = _POOL.get("conv_taps", (K * chunk * L,), dtype)
    phases = _POOL.get("conv_phases", (C, s, s, chunk, Qh * Qw), dtype)
    dx = _POOL.get("conv_dx", x_shape, dtype)
    dwb = np.zeros((F, K + 1), dtype=dtype)
    for n0 in range(0, N, chunk):
        n1 = min(N, n0 + chunk)
        m = n1 - n0
        d_t = dout_t[: F * m * P].reshape(F, m, Ho, Wo)
        np.copyto(d_t, dout[n0:n1].transpose(1, 0, 2, 3))
        dwb += _matmul_nt(d_t.reshape(F, m * P), cols[:, n0 * P : n1 * P])
        wide[:, :m, :, :Wo] = d_t
        taps = taps_buf[: K * m * L].reshape(K, m * L)
        np.matmul(w2t, wide.reshape(F, chunk * L)[:, : m * L], out=taps)
        _add_taps(taps.reshape(C, HH, WW, m, L), phases[:, :, :, :m], Qw, Ho, Wo)
        grid = phases[:, :, :, :m].reshape(C, s, s, m, Qh, Qw)
        for rh in range(s):
            for rw in range(s):
                # Rows h of dx with (h + pad) % s == rh are in phase rh at row (h + pad) // s.
                h0, w0 = (rh - pad) % s, (rw - pad) % s
                a0, b0 = (h0 + pad) // s, (w0 + pad) // s
                rows, width = len(range(h0, H, s)), len(range(w0, W, s))
                src = grid[:, rh, rw, :, a0 : a0 + rows, b0 : b0 + width]
                dx[n0:n1, :, h0::s, w0::s] = src.transpose(1, 0, 2, 3)
    dw, db = dwb[:, :K].reshape(w_shape), dwb[:, K].copy()
    return dx, dw, db


def _matmul_nt(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a (M, L) @ b.T (L, P) for a long inner dimension L.

    Tuned on OpenBLAS: with few rows and columns (M + P < 128), a sum of products over blocks
    of 1024 is about twice as fast as one product; in float32, (b @ a.T).T beats a @ b.T.
    """
    swap = a.dtype == np.float32
    if swap:
        a, b = b, a
    L = a.shape[1]
    block = 1024 if a.shape[0] + b.shape[0] < 128 else L
    result = a[:, :block] @ b[:, :block].T
    for start in range(block, L, block):
        result += a[:, start : start + block] @ b[:, start : start + block].T
    return result.T if swap else result


def _add_taps(taps: np.ndarray, phases: np.ndarray, Qw: int, Ho: int, Wo: int) -> None:
    """Writes into phases (C, s, s, n, Qh*Qw) the sum of the filter taps (C, HH, WW, n,
    Ho*Qw) of n samples, each tap shifted to its place (see conv_backward_fast)."""
    HH, WW = taps.shape[1:3]
    s = phases.shape[1]
    length = (Ho - 1) * Qw + Wo
    for rh in range(s):
        for rw in range(s):
            phase = phases[:, rh, rw]
            if rh >= HH or rw >= WW:  # no tap reaches this phase
                phase.fill(0)
                continue
            phase[:, :, :length] = taps[:, rh, rw, :, :length]
            phase[:, :, length:] = 0
            for kh in range(rh, HH, s):
                for kw in range(rw, WW, s):
                    if kh > rh or kw > rw:
                        start = (kh // s) * Qw + kw // s
                        phase[:, :, start : start + length] += taps[:, kh, kw, :, :length]


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
