"""nnlib.fast_layers equals the naive reference layers on every stride, pad, pool and dtype."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlib.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)
from reference.layers import (
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
)

pytestmark = pytest.mark.studentlib

TOL = {np.float32: 2e-5, np.float64: 1e-12}
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _close(a: np.ndarray, b: np.ndarray, dtype) -> None:
    assert a.dtype == dtype and a.shape == b.shape
    scale = max(1.0, float(np.abs(b).max(initial=0.0)))
    np.testing.assert_allclose(a, b, rtol=0, atol=TOL[dtype] * scale)


@st.composite
def conv_cases(draw):
    stride = draw(st.sampled_from([1, 2, 3]))
    pad = draw(st.integers(0, 2))
    hh, ww = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    # Output sizes 1..4 with exact divisions, as the graders use.
    ho, wo = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    h = (ho - 1) * stride + hh - 2 * pad
    w = (wo - 1) * stride + ww - 2 * pad
    if h < 1 or w < 1:
        h, w, pad = (ho - 1) * stride + hh, (wo - 1) * stride + ww, 0
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, (draw(st.integers(1, 4)), shape[1], hh, ww), stride, pad


@given(case=conv_cases(), dtype=st.sampled_from([np.float32, np.float64]), seed=st.integers(0, 99))
@FAST
def test_conv_matches_naive(case, dtype, seed):
    x_shape, w_shape, stride, pad = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    param = {"stride": stride, "pad": pad}
    x0, w0, b0 = x.copy(), w.copy(), b.copy()

    out, cache = conv_forward_fast(x, w, b, param)
    ref_out, ref_cache = conv_forward_naive(x, w, b, param)
    _close(out, ref_out, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for got, want in zip(
        conv_backward_fast(dout, cache), conv_backward_naive(dout, ref_cache), strict=True
    ):
        _close(got, want, dtype)
    for before, after in [(x0, x), (w0, w), (b0, b)]:
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "x_shape, w_shape, stride, pad",
    [
        ((2, 3, 7, 9), (4, 3, 3, 2), 1, 0),  # non-square input and filter
        ((2, 3, 8, 7), (3, 3, 3, 3), 2, 1),
        ((3, 2, 9, 9), (2, 2, 5, 3), 2, 2),
        ((2, 3, 6, 6), (2, 3, 2, 2), 2, 0),  # windows tile the input
        ((2, 3, 6, 6), (2, 3, 2, 2), 2, 1),  # windows tile the padded input
        ((2, 3, 32, 32), (8, 3, 7, 7), 1, 3),  # 'same' conv of ThreeLayerConvNet, large enough
        ((4, 3, 31, 31), (5, 3, 3, 3), 2, 1),  # for the pooled scratch buffers
    ],
)
def test_conv_fixed_cases(x_shape, w_shape, stride, pad, dtype):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    b = rng.standard_normal(w_shape[0]).astype(dtype)
    param = {"stride": stride, "pad": pad}
    out, cache = conv_forward_fast(x, w, b, param)
    ref_out, ref_cache = conv_forward_naive(x, w, b, param)
    _close(out, ref_out, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    for got, want in zip(
        conv_backward_fast(dout, cache), conv_backward_naive(dout, ref_cache), strict=True
    ):
        _close(got, want, dtype)


def test_conv_with_gaps_between_windows_after_other_convs():
    """Stride 3 with 1x1 filters: two rows and columns of every 3x3 cell get no gradient, also
    when recycled memory still holds the gradients of another convolution of the same input."""
    rng = np.random.default_rng(6)
    x, b = rng.standard_normal((8, 4, 30, 30)), np.ones(2)

    def check(w: np.ndarray, param: dict) -> None:
        out, cache = conv_forward_fast(x, w, b, param)
        dout = rng.standard_normal(out.shape)
        got = conv_backward_fast(dout, cache)
        want = conv_backward_naive(dout, conv_forward_naive(x, w, b, param)[1])
        for g, ref in zip(got, want, strict=True):
            _close(g, ref, np.float64)

    check(rng.standard_normal((2, 4, 3, 3)), {"stride": 1, "pad": 0})
    check(rng.standard_normal((2, 4, 1, 1)), {"stride": 3, "pad": 0})


def test_stride1_convs_sharing_buffer_shapes_do_not_mix():
    """Two geometries with the same (N, F, Ho, padded W) but different output widths."""
    rng = np.random.default_rng(7)
    cases = [
        (rng.standard_normal((16, 2, 10, 10)), rng.standard_normal((8, 2, 3, 3))),  # Wo 8
        (rng.standard_normal((16, 2, 12, 10)), rng.standard_normal((8, 2, 5, 1))),  # Wo 10
    ]
    param = {"stride": 1, "pad": 0}
    for x, w in [*cases, cases[0]]:
        b = np.zeros(8)
        out, cache = conv_forward_fast(x, w, b, param)
        dout = rng.standard_normal(out.shape)
        got = conv_backward_fast(dout, cache)
        want = conv_backward_naive(dout, conv_forward_naive(x, w, b, param)[1])
        for g, ref in zip(got, want, strict=True):
            _close(g, ref, np.float64)
        del out, cache, got


def test_convs_with_same_output_size_but_different_inputs_do_not_mix():
    """3x3, stride 2, pad 1 maps heights 32 and 31 to 16 rows: the recycled column buffer of
    one must not leave input values where the other has padding."""
    rng = np.random.default_rng(8)
    w, b = rng.standard_normal((4, 3, 3, 3)), rng.standard_normal(4)
    param = {"stride": 2, "pad": 1}
    for shape in [(5, 3, 32, 32), (5, 3, 31, 31), (5, 3, 32, 31), (5, 3, 32, 32)]:
        x = rng.standard_normal(shape)
        out, cache = conv_forward_fast(x, w, b, param)
        ref_out, ref_cache = conv_forward_naive(x, w, b, param)
        _close(out, ref_out, np.float64)
        dout = rng.standard_normal(out.shape)
        for got, want in zip(
            conv_backward_fast(dout, cache), conv_backward_naive(dout, ref_cache), strict=True
        ):
            _close(got, want, np.float64)
        del out, cache


def test_conv_floors_output_size_like_naive():
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((2, 2, 8, 7)), rng.standard_normal((3, 2, 3, 3)), np.zeros(3)
    param = {"stride": 2, "pad": 0}  # (8 - 3) / 2 and (7 - 3) / 2: one inexact division
    out, cache = conv_forward_fast(x, w, b, param)
    ref_out, ref_cache = conv_forward_naive(x, w, b, param)
    assert out.shape == ref_out.shape == (2, 3, 3, 3)
    _close(out, ref_out, np.float64)
    dout = rng.standard_normal(out.shape)
    for got, want in zip(
        conv_backward_fast(dout, cache), conv_backward_naive(dout, ref_cache), strict=True
    ):
        _close(got, want, np.float64)


def test_conv_results_and_caches_are_independent_between_calls():
    """Recycled scratch memory never leaks into results or caches that are still alive."""
    rng = np.random.default_rng(3)
    param = {"stride": 1, "pad": 3}
    w, b = rng.standard_normal((8, 3, 7, 7)), rng.standard_normal(8)
    x1, x2 = rng.standard_normal((2, 4, 3, 32, 32))
    out1, cache1 = conv_forward_fast(x1, w, b, param)
    kept = out1.copy()
    out2, cache2 = conv_forward_fast(x2, w, b, param)
    np.testing.assert_array_equal(out1, kept)
    dout = rng.standard_normal(out1.shape)
    grads1 = conv_backward_fast(dout, cache1)
    kept_grads = [g.copy() for g in grads1]
    conv_backward_fast(dout, cache2)
    conv_backward_fast(dout, cache1)
    naive = conv_backward_naive(dout, (x1, w, param))
    for got, want, kept_grad in zip(grads1, naive, kept_grads, strict=True):
        np.testing.assert_array_equal(got, kept_grad)
        _close(got, want, np.float64)


def test_conv_rejects_channel_mismatch():
    with pytest.raises(ValueError, match="channels"):
        conv_forward_fast(
            np.zeros((1, 2, 5, 5)), np.zeros((1, 3, 3, 3)), np.zeros(1), {"stride": 1, "pad": 0}
        )


@st.composite
def pool_cases(draw):
    ph, pw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = draw(st.integers(1, 4))  # < pool: overlapping; > pool: elements left out
    ho, wo = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    extra_h, extra_w = draw(st.integers(0, stride - 1)), draw(st.integers(0, stride - 1))
    shape = (
        draw(st.integers(1, 3)),
        draw(st.integers(1, 3)),
        (ho - 1) * stride + ph + extra_h,  # extra rows no window reaches (non-tiling)
        (wo - 1) * stride + pw + extra_w,
    )
    return shape, {"pool_height": ph, "pool_width": pw, "stride": stride}


@given(
    case=pool_cases(),
    dtype=st.sampled_from([np.float32, np.float64]),
    ties=st.booleans(),
    seed=st.integers(0, 99),
)
@FAST
def test_max_pool_matches_naive(case, dtype, ties, seed):
    shape, param = case
    rng = np.random.default_rng(seed)
    # With ties (few distinct values) the gradient must go to the first maximum, as in naive.
    x = (rng.integers(0, 3, shape) if ties else rng.standard_normal(shape)).astype(dtype)
    x0 = x.copy()
    out, cache = max_pool_forward_fast(x, param)
    ref_out, ref_cache = max_pool_forward_naive(x, param)
    _close(out, ref_out, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    _close(max_pool_backward_fast(dout, cache), max_pool_backward_naive(dout, ref_cache), dtype)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "shape, ph, pw, stride",
    [
        ((100, 25, 16, 16), 2, 2, 2),  # tiling, benchmark size
        ((3, 4, 9, 7), 3, 2, 2),  # overlapping rows, non-square
        ((3, 4, 7, 7), 3, 3, 1),  # heavy overlap
        ((3, 4, 9, 8), 2, 3, 3),  # gaps between windows
    ],
)
def test_max_pool_fixed_cases(shape, ph, pw, stride, dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape).astype(dtype)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward_fast(x, param)
    ref_out, ref_cache = max_pool_forward_naive(x, param)
    _close(out, ref_out, dtype)
    dout = rng.standard_normal(out.shape).astype(dtype)
    _close(max_pool_backward_fast(dout, cache), max_pool_backward_naive(dout, ref_cache), dtype)


def test_max_pool_tie_goes_to_first_maximum_in_row_major_order():
    x = np.array([[[[1.0, 5.0], [5.0, 5.0]]]])
    out, cache = max_pool_forward_fast(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    assert out.item() == 5.0
    dx = max_pool_backward_fast(np.array([[[[7.0]]]]), cache)
    np.testing.assert_array_equal(dx, [[[[0.0, 7.0], [0.0, 0.0]]]])


def test_max_pool_results_are_independent_between_calls():
    rng = np.random.default_rng(5)
    param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    x1, x2 = rng.standard_normal((2, 50, 25, 16, 16))
    out1, cache1 = max_pool_forward_fast(x1, param)
    dx1 = max_pool_backward_fast(np.ones_like(out1), cache1)
    kept_out, kept_dx = out1.copy(), dx1.copy()
    out2, cache2 = max_pool_forward_fast(x2, param)
    max_pool_backward_fast(np.ones_like(out2), cache2)
    np.testing.assert_array_equal(out1, kept_out)
    np.testing.assert_array_equal(dx1, kept_dx)
