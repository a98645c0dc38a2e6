"""Release-style stubs of the update rules."""


def sgd(w, dw, config=None):
    """TODO."""
    raise NotImplementedError


def sgd_momentum(w, dw, config=None):
    """TODO."""
    raise NotImplementedError


def rmsprop(w, dw, config=None):
    """TODO."""
    raise NotImplementedError


def adam(w, dw, config=None):
    """TODO."""
    raise NotImplementedError
