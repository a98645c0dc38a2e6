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
    a, fc = affine_forward(x, w, b)
    out, relu = relu_forward(a)
    return out, {"fc": fc, "relu": relu}


def affine_relu_backward(dout, cache):
    return affine_backward(relu_backward(dout, cache["relu"]), cache["fc"])


def conv_relu_forward(x, w, b, conv_param):
    a, conv = conv_forward_naive(x, w, b, conv_param)
    out, relu = relu_forward(a)
    return out, {"conv": conv, "relu": relu}


def conv_relu_backward(dout, cache):
    return conv_backward_naive(relu_backward(dout, cache["relu"]), cache["conv"])


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    a, conv = conv_forward_naive(x, w, b, conv_param)
    s, relu = relu_forward(a)
    out, pool = max_pool_forward_naive(s, pool_param)
    return out, [conv, relu, pool]


def conv_relu_pool_backward(dout, cache):
    conv, relu, pool = cache
    return conv_backward_naive(relu_backward(max_pool_backward_naive(dout, pool), relu), conv)
