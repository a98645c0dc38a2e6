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
    mse_loss,
    relu_backward,
    relu_forward,
    softmax_loss,
)


class TwoLayerNet:
    def __init__(
        self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3, reg=0.0
    ):
        self.reg = reg
        self.params = {}
        self.params["W1"] = np.random.randn(input_dim, hidden_dim) * weight_scale
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = np.random.randn(hidden_dim, num_classes) * weight_scale
        self.params["b2"] = np.zeros(num_classes)

    def loss(self, X, y=None):
        p = self.params
        h, c1 = affine_relu_forward(X, p["W1"], p["b1"])
        scores, c2 = affine_forward(h, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, d = softmax_loss(scores, y)
        loss += 0.5 * self.reg * sum(np.einsum("ij,ij->", p[k], p[k]) for k in ("W1", "W2"))
        grads = {}
        dh, grads["W2"], grads["b2"] = affine_backward(d, c2)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dh, c1)
        for k in ("W1", "W2"):
            grads[k] += self.reg * p[k]
        return loss, grads


class Layer:
    """Caches of one hidden layer."""

    def __init__(self):
        self.fc = self.norm = self.relu = self.drop = None


class FullyConnectedNet:
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
        if category not in {"classification", "regression"}:
            raise ValueError(f"category {category!r}")
        self.category = category
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = np.dtype(dtype)
        dims = (input_dim, *hidden_dims, num_classes)
        self.params = {}
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]), start=1):
            self.params[f"W{i}"] = (weight_scale * np.random.randn(a, b)).astype(self.dtype)
            self.params[f"b{i}"] = np.zeros(b, dtype=self.dtype)
            if normalization and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(b, dtype=self.dtype)
                self.params[f"beta{i}"] = np.zeros(b, dtype=self.dtype)
        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed
        self.bn_params = [{"mode": "train"} for _ in hidden_dims] if normalization else []

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        for bp in self.bn_params:
            bp["mode"] = mode
        p = self.params
        layers = []
        h = X
        for i in range(1, self.num_layers):
            layer = Layer()
            h, layer.fc = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            if self.normalization == "batchnorm":
                h, layer.norm = batchnorm_forward(
                    h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]
                )
            elif self.normalization == "layernorm":
                h, layer.norm = layernorm_forward(
                    h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]
                )
            h, layer.relu = relu_forward(h)
            if self.use_dropout:
                h, layer.drop = dropout_forward(h, self.dropout_param)
            layers.append(layer)
        L = self.num_layers
        scores, last = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores
        if self.category == "regression":
            loss, d = mse_loss(scores, np.asarray(y, scores.dtype).reshape(-1, 1))
        else:
            loss, d = softmax_loss(scores, y)
        grads = {}
        d, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(d, last)
        for i in range(L - 1, 0, -1):
            layer = layers[i - 1]
            if self.use_dropout:
                d = dropout_backward(d, layer.drop)
            d = relu_backward(d, layer.relu)
            if self.normalization == "batchnorm":
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(d, layer.norm)
            elif self.normalization == "layernorm":
                d, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(d, layer.norm)
            d, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(d, layer.fc)
        for i in range(1, L + 1):
            W = p[f"W{i}"]
            loss += 0.5 * self.reg * float(np.vdot(W, W))
            grads[f"W{i}"] += self.reg * W
        return loss, grads


class ThreeLayerConvNet:
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
        self.reg = reg
        self.dtype = dtype
        C, H, W = input_dim
        shapes = {
            "W1": (num_filters, C, filter_size, filter_size),
            "W2": (num_filters * (H // 2) * (W // 2), hidden_dim),
            "W3": (hidden_dim, num_classes),
        }
        self.params = {}
        for i, (name, shape) in enumerate(shapes.items(), start=1):
            self.params[name] = (weight_scale * np.random.randn(*shape)).astype(dtype)
            self.params[f"b{i}"] = np.zeros(shape[0] if i == 1 else shape[1], dtype=dtype)

    def loss(self, X, y=None):
        X = X.astype(self.dtype)
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[-1] - 1) // 2}
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
            grads[k] += self.reg * p[k]
        return loss, grads
