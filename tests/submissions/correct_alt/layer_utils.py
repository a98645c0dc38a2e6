"""Sandwich layers of the independent correct implementation."""

from layers import (
    affine_backward,
    affine_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
)


def affine_relu_forward(x, w, b):
    """Affine followed by ReLU."""
    a, fc = affine_forward(x, w, b)
    out, rc = relu_forward(a)
    return out, {"fc": fc, "relu": rc}


def affine_relu_backward(dout, cache):
    """Gradient of affine followed by ReLU."""
    return affine_backward(relu_backward(dout, cache["relu"]), cache["fc"])


def conv_relu_forward(x, w, b, conv_param):
    """Convolution followed by ReLU."""
    a, cc = conv_forward_naive(x, w, b, conv_param)
    out, rc = relu_forward(a)
    return out, {"conv": cc, "relu": rc}


def conv_relu_backward(dout, cache):
    """Gradient of convolution followed by ReLU."""
    return conv_backward_naive(relu_backward(dout, cache["relu"]), cache["conv"])


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, max pool."""
    a, cc = conv_forward_naive(x, w, b, conv_param)
    r, rc = relu_forward(a)
    out, pc = max_pool_forward_naive(r, pool_param)
    return out, {"conv": cc, "relu": rc, "pool": pc}


def conv_relu_pool_backward(dout, cache):
    """Gradient of convolution, ReLU, max pool."""
    dr = max_pool_backward_naive(dout, cache["pool"])
    return conv_backward_naive(relu_backward(dr, cache["relu"]), cache["conv"])
