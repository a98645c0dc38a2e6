"""Release-style stubs of the models: constructing any of them raises NotImplementedError."""


class TwoLayerNet:
    """TODO."""

    def __init__(self, *args, **kwargs):
        raise NotImplementedError

    def loss(self, X, y=None):
        """TODO."""
        raise NotImplementedError


class FullyConnectedNet(TwoLayerNet):
    """TODO."""


class ThreeLayerConvNet(TwoLayerNet):
    """TODO."""
