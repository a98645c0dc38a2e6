"""Release-style stubs of the sandwich layers."""


def affine_relu_forward(x, w, b):
    """TODO."""
    raise NotImplementedError


def affine_relu_backward(dout, cache):
    """TODO."""
    raise NotImplementedError


def conv_relu_forward(x, w, b, conv_param):
    """TODO."""
    raise NotImplementedError


def conv_relu_backward(dout, cache):
    """TODO."""
    raise NotImplementedError


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """TODO."""
    raise NotImplementedError


def conv_relu_pool_backward(dout, cache):
    """TODO."""
    raise NotImplementedError
