"""Reference models built from the reference layers.

Every model keeps its parameters in ``self.params`` and has ``loss(X, y=None)``: without y it
returns the class scores (N, C), computed in test mode; with y it returns ``(loss, grads)``,
computed in train mode, with grads keyed like params. The L2 penalty
``0.5 * reg * sum(W**2)`` covers the weight matrices only.
"""

# docs/api.md fixes numpy's legacy global random state for the weight draws (np.random.randn).
# ruff: noqa: NPY002

import numpy as np

from .layer_utils import (
    affine_relu_backward,
    affine_relu_forward,
    conv_relu_pool_backward,
    conv_relu_pool_forward,
)
from .layers import (
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
    """affine - relu - affine - softmax, for inputs of dimension D and C classes.

    params: W1 (D, H), b1 (H,), W2 (H, C), b2 (C,). The attribute reg is read at each call
    of loss.
    """

    def __init__(
        self,
        input_dim: int = 3 * 32 * 32,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
    ):
        self.reg = reg
        self.params = {
            "W1": weight_scale * np.random.randn(input_dim, hidden_dim),
            "b1": np.zeros(hidden_dim),
            "W2": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b2": np.zeros(num_classes),
        }

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) of X (N, d_1, ..., d_k) if y is None, else (loss, grads)."""
        p = self.params
        hidden, hidden_cache = affine_relu_forward(X, p["W1"], p["b1"])
        scores, scores_cache = affine_forward(hidden, p["W2"], p["b2"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * float(sum(np.sum(p[k] ** 2) for k in ["W1", "W2"]))
        grads = {}
        dhidden, grads["W2"], grads["b2"] = affine_backward(dscores, scores_cache)
        _, grads["W1"], grads["b1"] = affine_relu_backward(dhidden, hidden_cache)
        grads["W1"] += self.reg * p["W1"]
        grads["W2"] += self.reg * p["W2"]
        return loss, grads


class FullyConnectedNet:
    """{affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax.

    params: W1 (D, H1), b1 (H1,), ..., WL (H_{L-1}, C), bL (C,), and when normalised
    gamma1, beta1 (H1,), ..., gamma(L-1), beta(L-1), all of dtype `dtype`.
    Attributes: num_layers (L), reg, dtype, normalization (None, 'batchnorm' or 'layernorm'),
    use_dropout, dropout_param ({'mode', 'p'[, 'seed']}), bn_params (one dict per hidden
    layer when normalised, else empty).
    """

    def __init__(
        self,
        hidden_dims: list[int],
        input_dim: int = 3 * 32 * 32,
        num_classes: int = 10,
        dropout_keep_ratio: float = 1,
        normalization: str | None = None,
        reg: float = 0.0,
        weight_scale: float = 1e-2,
        dtype=np.float32,
        seed: int | None = None,
    ):
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(f'unknown normalization "{normalization}"')
        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = reg
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = dtype

        dims = [input_dim, *hidden_dims, num_classes]
        self.params = {}
        for i in range(1, self.num_layers + 1):
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

        self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
        if seed is not None:
            self.dropout_param["seed"] = seed
        self.bn_params = (
            [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        )

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) of X (N, d_1, ..., d_k) if y is None, else (loss, grads)."""
        X = X.astype(self.dtype)
        mode = "test" if y is None else "train"
        self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

        p = self.params
        caches = []
        out = X
        for i in range(1, self.num_layers):
            out, fc_cache = affine_forward(out, p[f"W{i}"], p[f"b{i}"])
            norm_cache = None
            if self.normalization == "batchnorm":
                out, norm_cache = batchnorm_forward(
                    out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]
                )
            elif self.normalization == "layernorm":
                out, norm_cache = layernorm_forward(
                    out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]
                )
            out, relu_cache = relu_forward(out)
            drop_cache = None
            if self.use_dropout:
                out, drop_cache = dropout_forward(out, self.dropout_param)
            caches.append((fc_cache, norm_cache, relu_cache, drop_cache))
        L = self.num_layers
        scores, last_cache = affine_forward(out, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores

        weights = [f"W{i}" for i in range(1, L + 1)]
        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * float(sum(np.sum(p[k] ** 2) for k in weights))
        grads = {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)
        for i in range(L - 1, 0, -1):
            fc_cache, norm_cache, relu_cache, drop_cache = caches[i - 1]
            if self.use_dropout:
                dout = dropout_backward(dout, drop_cache)
            dout = relu_backward(dout, relu_cache)
            if self.normalization == "batchnorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward_alt(
                    dout, norm_cache
                )
            elif self.normalization == "layernorm":
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dout, norm_cache)
            dout, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dout, fc_cache)
        for name in weights:
            grads[name] += self.reg * p[name]
        return loss, grads


class ThreeLayerConvNet:
    """conv - relu - 2x2 max pool - affine - relu - affine - softmax.

    The convolution has stride 1 and pad (filter_size - 1) // 2, which keeps H and W for an
    odd filter_size; the pool halves them. For input_dim (C, H, W):
    params W1 (F, C, filter_size, filter_size), b1 (F,), W2 (F * H' * W', hidden_dim),
    b2 (hidden_dim,), W3 (hidden_dim, num_classes), b3 (num_classes,), with
    H' = 1 + (H - 2) // 2 and W' = 1 + (W - 2) // 2, all of dtype `dtype`.
    """

    def __init__(
        self,
        input_dim: tuple[int, int, int] = (3, 32, 32),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype=np.float32,
    ):
        self.reg = reg
        self.dtype = dtype
        c, h, w = input_dim
        pooled = num_filters * (1 + (h - 2) // 2) * (1 + (w - 2) // 2)
        self.params = {
            "W1": weight_scale * np.random.randn(num_filters, c, filter_size, filter_size),
            "b1": np.zeros(num_filters),
            "W2": weight_scale * np.random.randn(pooled, hidden_dim),
            "b2": np.zeros(hidden_dim),
            "W3": weight_scale * np.random.randn(hidden_dim, num_classes),
            "b3": np.zeros(num_classes),
        }
        for name, value in self.params.items():
            self.params[name] = value.astype(dtype)

    def loss(self, X: np.ndarray, y: np.ndarray | None = None):
        """Scores (N, C) of X (N, C, H, W) if y is None, else (loss, grads)."""
        X = X.astype(self.dtype)
        p = self.params
        conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}
        pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        pooled, pool_cache = conv_relu_pool_forward(X, p["W1"], p["b1"], conv_param, pool_param)
        hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])
        scores, scores_cache = affine_forward(hidden, p["W3"], p["b3"])
        if y is None:
            return scores

        loss, dscores = softmax_loss(scores, y)
        loss += 0.5 * self.reg * float(sum(np.sum(p[k] ** 2) for k in ["W1", "W2", "W3"]))
        grads = {}
        dhidden, grads["W3"], grads["b3"] = affine_backward(dscores, scores_cache)
        dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)
        _, grads["W1"], grads["b1"] = conv_relu_pool_backward(dpooled, pool_cache)
        for name in ("W1", "W2", "W3"):
            grads[name] += self.reg * p[name]
        return loss, grads
