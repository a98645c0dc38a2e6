"""Release-style stub of the stand-alone two-layer net."""


class TwoLayerNet:
    """TODO: the constructor is given; loss, train and predict are not implemented."""

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        raise NotImplementedError

    def loss(self, X, y=None, reg=0.0):
        """TODO."""
        raise NotImplementedError

    def train(self, X, y, X_val, y_val, **kwargs):
        """TODO."""
        raise NotImplementedError

    def predict(self, X):
        """TODO."""
        raise NotImplementedError
