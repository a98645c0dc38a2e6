"""Reference convolution and max pooling: definitions, numeric gradients, dtypes."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from reference import layer_utils, layers

pytestmark = pytest.mark.reference


def _conv_by_definition(x, w, b, stride, pad):
    """out[n, f, i, j] = sum over c, di, dj of xpad[n, c, i*s + di, j*s + dj] * w[f, c, di, dj]."""
    n, _, h, wd = x.shape
    f, _, hh, ww = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    h_out, w_out = 1 + (h + 2 * pad - hh) // stride, 1 + (wd + 2 * pad - ww) // stride
    out = np.empty((n, f, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = xp[:, :, i * stride : i * stride + hh, j * stride : j * stride + ww]
            for k in range(f):
                out[:, k, i, j] = (window * w[k]).sum(axis=(1, 2, 3)) + b[k]
    return out


def _pool_by_definition(x, ph, pw, stride):
    n, c, h, w = x.shape
    h_out, w_out = 1 + (h - ph) // stride, 1 + (w - pw) // stride
    out = np.empty((n, c, h_out, w_out))
    for i in range(h_out):
        for j in range(w_out):
            window = x[:, :, i * stride : i * stride + ph, j * stride : j * stride + pw]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


# (x shape, w shape, stride, pad): strides 1 and 2, pads 0-2, non-square inputs and filters.
CONV_CASES = [
    ((2, 3, 5, 5), (2, 3, 3, 3), 1, 1),
    ((2, 2, 7, 7), (3, 2, 3, 3), 2, 1),
    ((1, 2, 6, 8), (2, 2, 3, 5), 1, 0),
    ((2, 1, 5, 7), (2, 1, 3, 3), 2, 2),
    ((1, 3, 4, 6), (2, 3, 2, 2), 2, 0),
    ((2, 2, 4, 3), (3, 2, 5, 4), 1, 2),
]


def _conv_case_id(case):
    x_shape, w_shape, stride, pad = case
    return f"x{x_shape}-w{w_shape}-s{stride}-p{pad}".replace(" ", "")


def _conv_inputs(case, seed=0):
    x_shape, w_shape, stride, pad = case
    rng = np.random.default_rng(seed)
    x, w, b = (
        rng.standard_normal(x_shape),
        rng.standard_normal(w_shape),
        rng.standard_normal(w_shape[0]),
    )
    return x, w, b, {"stride": stride, "pad": pad}


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_case_id)
def test_conv_forward_matches_definition(case):
    x, w, b, conv_param = _conv_inputs(case)
    out, _ = layers.conv_forward_naive(x, w, b, conv_param)
    expected = _conv_by_definition(x, w, b, conv_param["stride"], conv_param["pad"])
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("case", CONV_CASES, ids=_conv_case_id)
def test_conv_gradients(check_grads, case):
    x, w, b, conv_param = _conv_inputs(case, seed=1)
    out, cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    dx, dw, db = layers.conv_backward_naive(dout, cache)

    def fn(x, w, b):
        return layers.conv_forward_naive(x, w, b, conv_param)[0]

    # The convolution is linear in each of x, w and b: a step of 1e-2 is exact.
    check_grads(fn, [x, w, b], dout, {0: dx, 1: dw, 2: db}, tol=1e-6, h=1e-2)


def test_conv_is_cross_correlation_without_kernel_flip():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1.0
    w = np.arange(9.0).reshape(1, 1, 3, 3)
    out, _ = layers.conv_forward_naive(x, w, np.zeros(1), {"stride": 1, "pad": 1})
    # A unit impulse reads the kernel back point-reflected under cross-correlation.
    np.testing.assert_array_equal(out[0, 0], w[0, 0, ::-1, ::-1])


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 2),
    c=st.integers(1, 3),
    f=st.integers(1, 3),
    hh=st.integers(1, 4),
    ww=st.integers(1, 4),
    h_out=st.integers(1, 4),
    w_out=st.integers(1, 4),
    stride=st.integers(1, 3),
    pad=st.integers(0, 2),
    seed=st.integers(0, 2**16),
)
def test_conv_any_shape_matches_definition(n, c, f, hh, ww, h_out, w_out, stride, pad, seed):
    """Input sizes are derived from the output sizes, so the divisions are exact."""
    h = (h_out - 1) * stride + hh - 2 * pad
    w_ = (w_out - 1) * stride + ww - 2 * pad
    assume(h >= 1 and w_ >= 1)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w_))
    w, b = rng.standard_normal((f, c, hh, ww)), rng.standard_normal(f)
    out, cache = layers.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
    assert out.shape == (n, f, h_out, w_out)
    np.testing.assert_allclose(out, _conv_by_definition(x, w, b, stride, pad), atol=1e-12)
    dx, dw, db = layers.conv_backward_naive(np.ones_like(out), cache)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    # With dout = 1 everywhere, db counts the output positions of each filter.
    np.testing.assert_allclose(db, n * h_out * w_out)


# (x shape, pool_height, pool_width, stride): tiling, overlapping, non-tiling, non-square.
POOL_CASES = [
    ((2, 3, 4, 4), 2, 2, 2),
    ((2, 2, 5, 5), 3, 3, 2),
    ((1, 2, 5, 6), 2, 2, 1),
    ((2, 2, 5, 7), 2, 2, 2),
    ((1, 3, 6, 5), 2, 3, 1),
    ((2, 1, 7, 4), 3, 2, 2),
]


def _pool_case_id(case):
    shape, ph, pw, stride = case
    return f"x{shape}-{ph}x{pw}-s{stride}".replace(" ", "")


def _tie_free(shape, seed):
    """Distinct values (a shuffled grid), so no window has a tie."""
    rng = np.random.default_rng(seed)
    return rng.permutation(np.linspace(-1, 1, num=int(np.prod(shape)))).reshape(shape)


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_case_id)
def test_max_pool_forward_matches_definition(case):
    shape, ph, pw, stride = case
    x = _tie_free(shape, 3)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, _ = layers.max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, _pool_by_definition(x, ph, pw, stride))


@pytest.mark.parametrize("case", POOL_CASES, ids=_pool_case_id)
def test_max_pool_gradients(check_grads, case):
    shape, ph, pw, stride = case
    x = _tie_free(shape, 4)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = layers.max_pool_forward_naive(x, param)
    dout = np.random.default_rng(5).standard_normal(out.shape)
    dx = layers.max_pool_backward_naive(dout, cache)
    check_grads(lambda x: layers.max_pool_forward_naive(x, param)[0], [x], dout, {0: dx}, tol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    ph=st.integers(1, 3),
    pw=st.integers(1, 3),
    h_out=st.integers(1, 4),
    w_out=st.integers(1, 4),
    stride=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_max_pool_any_shape_matches_definition(ph, pw, h_out, w_out, stride, seed):
    shape = (2, 2, (h_out - 1) * stride + ph, (w_out - 1) * stride + pw)
    x = _tie_free(shape, seed)
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = layers.max_pool_forward_naive(x, param)
    np.testing.assert_array_equal(out, _pool_by_definition(x, ph, pw, stride))
    dx = layers.max_pool_backward_naive(np.ones_like(out), cache)
    # Every output sends its gradient to one input that holds the window's maximum.
    assert dx.sum() == out.size
    assert np.all(np.isin(x[dx > 0], out))


def test_max_pool_backward_sends_ties_to_the_first_maximum():
    x = np.ones((1, 1, 2, 2))
    out, cache = layers.max_pool_forward_naive(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    dx = layers.max_pool_backward_naive(np.full_like(out, 3.0), cache)
    np.testing.assert_array_equal(dx, [[[[3.0, 0.0], [0.0, 0.0]]]])


def test_conv_relu_sandwich_gradients(check_grads):
    x, w, b, conv_param = _conv_inputs(((2, 2, 5, 6), (3, 2, 3, 3), 1, 1), seed=6)
    out, cache = layer_utils.conv_relu_forward(x, w, b, conv_param)
    np.testing.assert_allclose(out, np.maximum(_conv_by_definition(x, w, b, 1, 1), 0), atol=1e-12)
    dout = np.random.default_rng(7).standard_normal(out.shape)
    dx, dw, db = layer_utils.conv_relu_backward(dout, cache)

    def fn(x, w, b):
        return layer_utils.conv_relu_forward(x, w, b, conv_param)[0]

    check_grads(fn, [x, w, b], dout, {0: dx, 1: dw, 2: db}, tol=1e-6)


def test_conv_relu_pool_sandwich_gradients(check_grads):
    x, w, b, conv_param = _conv_inputs(((2, 3, 6, 8), (2, 3, 3, 3), 1, 1), seed=8)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache = layer_utils.conv_relu_pool_forward(x, w, b, conv_param, pool_param)
    assert out.shape == (2, 2, 3, 4)
    dout = np.random.default_rng(9).standard_normal(out.shape)
    dx, dw, db = layer_utils.conv_relu_pool_backward(dout, cache)

    def fn(x, w, b):
        return layer_utils.conv_relu_pool_forward(x, w, b, conv_param, pool_param)[0]

    check_grads(fn, [x, w, b], dout, {0: dx, 1: dw, 2: db}, tol=1e-6)


@pytest.mark.parametrize("case", CONV_CASES[:3], ids=_conv_case_id)
def test_conv_float32_in_float32_out(same_in_float32, case):
    x, w, b, conv_param = _conv_inputs(case, seed=10)
    out64, _ = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.random.default_rng(11).standard_normal(out64.shape)

    def run(x, w, b, dout):
        out, cache = layers.conv_forward_naive(x, w, b, conv_param)
        return (out, *layers.conv_backward_naive(dout, cache))

    same_in_float32(run, [x, w, b, dout])


@pytest.mark.parametrize("case", POOL_CASES[:3], ids=_pool_case_id)
def test_max_pool_float32_in_float32_out(same_in_float32, case):
    shape, ph, pw, stride = case
    param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    x = _tie_free(shape, 12)
    dout = np.random.default_rng(13).standard_normal(
        layers.max_pool_forward_naive(x, param)[0].shape
    )

    def run(x, dout):
        out, cache = layers.max_pool_forward_naive(x, param)
        return out, layers.max_pool_backward_naive(dout, cache)

    same_in_float32(run, [x, dout])


def test_conv_and_pool_do_not_modify_inputs():
    x, w, b, conv_param = _conv_inputs(((2, 2, 5, 5), (2, 2, 3, 3), 2, 1), seed=14)
    copies = [a.copy() for a in (x, w, b)]
    out, cache = layers.conv_forward_naive(x, w, b, conv_param)
    dout = np.ones_like(out)
    layers.conv_backward_naive(dout, cache)
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 1}
    pooled, pool_cache = layers.max_pool_forward_naive(x, pool_param)
    layers.max_pool_backward_naive(np.ones_like(pooled), pool_cache)
    for a, c in zip((x, w, b), copies, strict=True):
        np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(dout, 1)
    assert conv_param == {"stride": 2, "pad": 1}
    assert pool_param == {"pool_height": 2, "pool_width": 2, "stride": 1}
