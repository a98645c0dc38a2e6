"""Models of the independent correct implementation."""

# The API pins numpy's global random state (np.random.seed / randn / choice).
# ruff: noqa: NPY002

import numpy as np
from layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class TwoLayerNet:
    """affine - relu - affine - softmax."""

    def __init__(
        self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0
    ):
        self.reg = reg
        self.params = {}
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        """Scores for ``y`` None, else ``(loss, grads)``."""
        p = self.params
        hidden, c1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, c2 = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores
        data_loss, dscores = softmax_loss(scores, y)
        penalty = 0.5 * self.reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        grads = {}
        dh, grads["W2"], grads["b2"] = affine_backward(dscores, c2)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dh, c1)
        grads["W1"] = grads["W1"] + self.reg * p["W1"]
        grads["W2"] = grads["W2"] + self.reg * p["W2"]
        return data_loss + penalty, grads


class FullyConnectedNet:
    """{affine - [norm] - relu - [dropout]} x (L - 1) - affine - softmax."""

    def __init__(
        self,
        hidden_dims,
        input_dim=3 * 32 * 32,
        num_classes=10,
        dropout_keep_ratio=1,
        normalization=None,
        reg=0.0,
        weight_scale=1e-2,
        dtype=np.float32,
        seed=None,
        category="classification",
    ):
        self.category = category  # checked in loss (the API allows either place)
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype
        self.params = {}
        sizes = [input_dim, *hidden_dims, num_classes]
        for k in range(self.num_layers):
            self.params[f"W{k + 1}"] = weight_scale * np.random.randn(sizes[k], sizes[k + 1])
            self.params[f"b{k + 1}"] = np.zeros(sizes[k + 1])
            if normalization is not None and k < self.num_layers - 1:
                self.params[f"gamma{k + 1}"] = np.ones(sizes[k + 1])
                self.params[f"beta{k + 1}"] = np.zeros(sizes[k + 1])
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        for name in list(self.params):
            self.params[name] = self.params[name].astype(dtype)

    def loss(self, X, y=None):
        """Scores for ``y`` None (test mode), else ``(loss, grads)`` (train mode)."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        for bp in self.bn_params:
            bp["mode"] = mode
        caches = []
        h = X
        for k in range(1, self.num_layers):
            step = {}
            h, step["fc"] = affine_forward(h, self.params[f"W{k}"], self.params[f"b{k}"])
            if self.normalization == "batchnorm":
                h, step["norm"] = batchnorm_forward(
                    h, self.params[f"gamma{k}"], self.params[f"beta{k}"], self.bn_params[k - 1]
                )
            elif self.normalization == "layernorm":
                h, step["norm"] = layernorm_forward(
                    h, self.params[f"gamma{k}"], self.params[f"beta{k}"], self.bn_params[k - 1]
                )
            h, step["relu"] = relu_forward(h)
            if self.use_dropout:
                h, step["drop"] = dropout_forward(h, self.dropout_param)
            caches.append(step)
        last = self.num_layers
        scores, last_cache = affine_forward(h, self.params[f"W{last}"], self.params[f"b{last}"])
        if y is None:
            return scores
        if self.category == "regression":  # MSE written inline, targets as a column
            diff = scores - np.reshape(y, (-1, 1))
            loss = float(np.mean(diff * diff))
            dh = diff * (2.0 / len(diff))
        elif self.category == "classification":
            loss, dh = softmax_loss(scores, y)
        else:
            raise ValueError(f"category must be classification or regression, not {self.category}")
        grads = {}
        dh, grads[f"W{last}"], grads[f"b{last}"] = affine_backward(dh, last_cache)
        for k in range(self.num_layers - 1, 0, -1):
            step = caches[k - 1]
            if self.use_dropout:
                dh = dropout_backward(dh, step["drop"])
            dh = relu_backward(dh, step["relu"])
            if self.normalization == "batchnorm":
                dh, grads[f"gamma{k}"], grads[f"beta{k}"] = batchnorm_backward_alt(dh, step["norm"])
            elif self.normalization == "layernorm":
                dh, grads[f"gamma{k}"], grads[f"beta{k}"] = layernorm_backward(dh, step["norm"])
            dh, grads[f"W{k}"], grads[f"b{k}"] = affine_backward(dh, step["fc"])
        for k in range(1, self.num_layers + 1):
            w = self.params[f"W{k}"]
            loss += 0.5 * self.reg * np.sum(w * w)
            grads[f"W{k}"] = grads[f"W{k}"] + self.reg * w
        return loss, grads


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax."""

    def __init__(
        self,
        input_dim=(3, 32, 32),
        num_filters=32,
        filter_size=7,
        hidden_dim=100,
        num_classes=10,
        weight_scale=1e-3,
        reg=0.0,
        dtype=np.float32,
    ):
        c, h, w = input_dim
        self.reg = reg
        self.dtype = dtype
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, c, filter_size, filter_size),
            "b1": np.zeros(num_filters),
        }
        self.params["W2"] = weight_scale * np.random.randn(
            num_filters * (h // 2) * (w // 2), hidden_dim
        )
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for key in self.params:
            self.params[key] = self.params[key].astype(dtype)

    def loss(self, X, y=None):
        """Scores for ``y`` None, else ``(loss, grads)``."""
        p = self.params
        fs = p["W1"].shape[2]
        conv_param = {"stride": 1, "pad": (fs - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
        a1, c1 = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        a2, c2 = affine_relu_forward(a1, p["W2"], p["b2"])
        scores, c3 = affine_forward(a2, p["W3"], p["b3"])
        if y is None:
            return scores
        loss, d = softmax_loss(scores, y)
        grads = {}
        d, grads["W3"], grads["b3"] = affine_backward(d, c3)
        d, grads["W2"], grads["b2"] = affine_relu_backward(d, c2)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(d, c1)
        for k in ("W1", "W2", "W3"):
            loss += 0.5 * self.reg * np.sum(p[k] ** 2)
            grads[k] = grads[k] + self.reg * p[k]
        return loss, grads
