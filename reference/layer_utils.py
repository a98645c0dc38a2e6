"""Reference sandwich layers: common chains of layers in one forward/backward pair.

The convolutional sandwiches use the provided fast layers of ``nnlib.fast_layers`` (same
signatures and results as the naive ones, as in cs231n's layer_utils), so that a network
built from them trains in seconds; the naive layers are for understanding and checking.
"""

import numpy as np

from nnlib.fast_layers import (
    conv_backward_fast,
    conv_forward_fast,
    max_pool_backward_fast,
    max_pool_forward_fast,
)

from .layers import (
    Cache,
    affine_backward,
    affine_forward,
    relu_backward,
    relu_forward,
)

Grads3 = tuple[np.ndarray, np.ndarray, np.ndarray]


def affine_relu_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, Cache]:
    """Affine then ReLU.

    Inputs: x (N, d_1, ..., d_k), w (D, M), b (M,). Returns out (N, M) and a cache.
    """
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout: np.ndarray, cache: Cache) -> Grads3:
    """Backward pass of affine_relu_forward: dx (N, d_1, ..., d_k), dw (D, M), db (M,)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict
) -> tuple[np.ndarray, Cache]:
    """Convolution then ReLU.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param as for conv_forward_naive.
    Returns out (N, F, H', W') and a cache.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout: np.ndarray, cache: Cache) -> Grads3:
    """Backward pass of conv_relu_forward: dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_relu_pool_forward(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict, pool_param: dict
) -> tuple[np.ndarray, Cache]:
    """Convolution, ReLU, then max pooling.

    Inputs: x (N, C, H, W), w (F, C, HH, WW), b (F,), conv_param as for conv_forward_naive,
    pool_param as for max_pool_forward_naive. Returns out (N, F, H'', W'') and a cache.
    """
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout: np.ndarray, cache: Cache) -> Grads3:
    """Backward pass of conv_relu_pool_forward: dx (N, C, H, W), dw (F, C, HH, WW), db (F,)."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    return conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)
