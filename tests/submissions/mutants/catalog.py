"""A corpus of realistic student bugs, as text edits of the reference sources.

Each :class:`Mutant` names the API function it breaks and a few ``(old, new)`` replacements
applied to one file of ``reference/``; :func:`materialize` writes the mutated copy of the
whole reference package into a folder that is then graded as a ``.py`` submission. The
reference stays the single source of truth: no copies of it live here.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

REFERENCE = Path(__file__).resolve().parents[3] / "reference"


@dataclass(frozen=True)
class Mutant:
    """One student bug: ``edits`` on ``reference/<file>`` break the API name ``api``."""

    name: str
    api: str
    file: str
    edits: tuple[tuple[str, str], ...]
    why: str


def _m(name: str, api: str, file: str, why: str, *edits: tuple[str, str]) -> Mutant:
    return Mutant(name, api, file, tuple(edits), why)


L, U, O, C, N = "layers.py", "layer_utils.py", "optim.py", "classifiers.py", "neural_net.py"

MUTANTS: tuple[Mutant, ...] = (
    # ---- affine / relu / sigmoid ----------------------------------------------------
    _m(
        "affine_no_reshape",
        "affine_forward",
        L,
        "N-d input not flattened",
        ("out = x.reshape(x.shape[0], -1) @ w + b", "out = x @ w + b"),
    ),
    _m(
        "affine_dx_flat",
        "affine_backward",
        L,
        "dx not reshaped to x's shape",
        ("dx = (dout @ w.T).reshape(x.shape)", "dx = dout @ w.T"),
    ),
    _m(
        "affine_db_mean",
        "affine_backward",
        L,
        "db averaged instead of summed",
        (
            "    db = dout.sum(axis=0)\n    return dx, dw, db",
            "    db = dout.mean(axis=0)\n    return dx, dw, db",
        ),
    ),
    _m(
        "relu_grad_at_zero",
        "relu_backward",
        L,
        "gradient 1 at x == 0",
        ("return dout * (x > 0)", "return dout * (x >= 0)"),
    ),
    _m(
        "relu_in_place",
        "relu_forward",
        L,
        "clips the caller's x in place",
        ("    return np.maximum(x, 0), x", "    np.maximum(x, 0, out=x)\n    return x, x"),
    ),
    _m(
        "relu_backward_in_place",
        "relu_backward",
        L,
        "masks the caller's dout in place",
        ("    return dout * (x > 0)", "    dout[x <= 0] = 0\n    return dout"),
    ),
    _m(
        "sigmoid_naive",
        "sigmoid_forward",
        L,
        "1 / (1 + exp(-x)) overflows for large -x",
        ("out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))", "out = 1 / (1 + np.exp(-x))"),
    ),
    _m(
        "sigmoid_backward_no_dout",
        "sigmoid_backward",
        L,
        "forgets the upstream gradient",
        ("return dout * s * (1 - s)", "return s * (1 - s)"),
    ),
    # ---- losses ----------------------------------------------------------------------
    _m(
        "softmax_no_shift",
        "softmax_loss",
        L,
        "no max shift: huge scores overflow",
        ("shifted = x - x.max(axis=1, keepdims=True)", "shifted = x"),
    ),
    _m(
        "softmax_grad_not_averaged",
        "softmax_loss",
        L,
        "dx not divided by N",
        ("    dx /= n\n    return float(loss), dx", "    return float(loss), dx"),
    ),
    _m(
        "svm_no_margin",
        "svm_loss",
        L,
        "margin (delta) of 0 instead of 1",
        ("x - x[rows, y][:, None] + 1", "x - x[rows, y][:, None]"),
    ),
    _m(
        "svm_no_correct_class_grad",
        "svm_loss",
        L,
        "no gradient for the correct class",
        ("    positive[rows, y] = -positive.sum(axis=1)\n", ""),
    ),
    _m(
        "mse_no_factor_two",
        "mse_loss",
        L,
        "dx = (x - y) / N",
        ("2 * diff / x.shape[0]", "diff / x.shape[0]"),
    ),
    # ---- batch / layer / group norm ---------------------------------------------------
    _m(
        "bn_unbiased_variance",
        "batchnorm_forward",
        L,
        "ddof=1 batch variance",
        (
            "        var = (xc**2).mean(axis=0)\n        bn_param",
            "        var = x.var(axis=0, ddof=1)\n        bn_param",
        ),
    ),
    _m(
        "bn_momentum_swapped",
        "batchnorm_forward",
        L,
        "running averages weighted the wrong way",
        (
            "momentum * running_mean + (1 - momentum) * mean",
            "(1 - momentum) * running_mean + momentum * mean",
        ),
        (
            "momentum * running_var + (1 - momentum) * var",
            "(1 - momentum) * running_var + momentum * var",
        ),
    ),
    _m(
        "bn_eps_outside_sqrt",
        "batchnorm_forward",
        L,
        "sqrt(var) + eps",
        (
            "    std = np.sqrt(var + eps)\n    xhat = xc / std",
            "    std = np.sqrt(var) + eps\n    xhat = xc / std",
        ),
    ),
    _m(
        "bn_test_uses_batch_stats",
        "batchnorm_forward",
        L,
        "test mode normalises with the batch",
        (
            "        xc = x - running_mean\n        var = running_var",
            "        xc = x - x.mean(axis=0)\n        var = (xc**2).mean(axis=0)",
        ),
    ),
    _m(
        "bn_no_mode_check",
        "batchnorm_forward",
        L,
        "an unknown mode silently runs as test mode",
        (
            '    if mode not in ("train", "test"):\n'
            "        raise ValueError(f'invalid batchnorm mode \"{mode}\"')\n",
            "",
        ),
    ),
    _m(
        "bn_backward_no_mean_term",
        "batchnorm_backward",
        L,
        "drops the gradient through the mean",
        ("    dx = dxc - dxc.sum(axis=0) / n", "    dx = dxc"),
    ),
    _m(
        "bn_backward_alt_no_stats",
        "batchnorm_backward_alt",
        L,
        "ignores the batch statistics",
        (
            "dx = (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0)) / std",
            "dx = dxhat / std",
        ),
    ),
    _m(
        "ln_batch_axis",
        "layernorm_forward",
        L,
        "statistics over the batch, as batchnorm",
        (
            "    xc = x - x.mean(axis=1, keepdims=True)\n"
            "    std = np.sqrt((xc**2).mean(axis=1, keepdims=True)",
            "    xc = x - x.mean(axis=0, keepdims=True)\n"
            "    std = np.sqrt((xc**2).mean(axis=0, keepdims=True)",
        ),
    ),
    _m(
        "ln_backward_no_stats",
        "layernorm_backward",
        L,
        "dx = dout * gamma / std",
        (
            "        - dxhat.mean(axis=1, keepdims=True)\n"
            "        - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)\n",
            "",
        ),
    ),
    _m(
        "sbn_reshape_without_transpose",
        "spatial_batchnorm_forward",
        L,
        "reshapes (N, C, H, W) to (-1, C) without moving C last",
        ("    flat = x.transpose(0, 2, 3, 1).reshape(-1, c)", "    flat = x.reshape(-1, c)"),
        (
            "    return out.reshape(n, h, w, c).transpose(0, 3, 1, 2), cache",
            "    return out.reshape(n, c, h, w), cache",
        ),
    ),
    _m(
        "sbn_backward_reshape",
        "spatial_batchnorm_backward",
        L,
        "dx reshaped without transpose",
        (
            "return dx.reshape(n, h, w, c).transpose(0, 3, 1, 2), dgamma, dbeta",
            "return dx.reshape(n, c, h, w), dgamma, dbeta",
        ),
    ),
    _m(
        "gn_instance_norm",
        "spatial_groupnorm_forward",
        L,
        "normalises each channel alone",
        (
            "groups = x.reshape(n, G, -1)",
            "groups = x.reshape(n, c, -1)",
        ),
    ),
    _m(
        "gn_dgamma_shape",
        "spatial_groupnorm_backward",
        L,
        "dgamma of shape (C,)",
        (
            "dgamma = (dout * xhat).sum(axis=(0, 2, 3)).reshape(gamma.shape)",
            "dgamma = (dout * xhat).sum(axis=(0, 2, 3))",
        ),
    ),
    # ---- dropout ----------------------------------------------------------------------
    _m(
        "dropout_not_inverted",
        "dropout_forward",
        L,
        "mask not divided by p",
        (
            "        mask = (np.random.rand(*x.shape) < p) / p\n",
            "        mask = (np.random.rand(*x.shape) < p) * 1.0\n",
        ),
    ),
    _m(
        "dropout_p_as_drop_probability",
        "dropout_forward",
        L,
        "p taken as the drop probability",
        (
            "        mask = (np.random.rand(*x.shape) < p) / p\n",
            "        mask = (np.random.rand(*x.shape) >= p) / (1 - p)\n",
        ),
    ),
    _m(
        "dropout_on_at_test_time",
        "dropout_forward",
        L,
        "test mode also drops units",
        (
            '    if mode == "train":\n        if dropout_param.get("seed")',
            '    if mode in ("train", "test"):\n        if dropout_param.get("seed")',
        ),
    ),
    _m(
        "dropout_seed_ignored",
        "dropout_forward",
        L,
        "never calls np.random.seed(seed)",
        ('            np.random.seed(dropout_param["seed"])\n', "            pass\n"),
    ),
    _m(
        "dropout_backward_no_mask",
        "dropout_backward",
        L,
        "gradient passes every unit",
        ("    return (dout * mask).astype(dout.dtype, copy=False)", "    return dout.copy()"),
    ),
    # ---- conv / pool ------------------------------------------------------------------
    _m(
        "conv_ignores_stride",
        "conv_forward_naive",
        L,
        "windows always step by 1",
        (
            "r, c = i * stride, j * stride\n                    window = xp[",
            "r, c = i, j\n                    window = xp[",
        ),
    ),
    _m(
        "conv_flipped_kernel",
        "conv_forward_naive",
        L,
        "true convolution (kernel flipped)",
        (
            "out[k, m, i, j] = np.sum(window * w[m]) + b[m]",
            "out[k, m, i, j] = np.sum(window * w[m, :, ::-1, ::-1]) + b[m]",
        ),
    ),
    _m(
        "conv_no_bias",
        "conv_forward_naive",
        L,
        "bias not added",
        (
            "out[k, m, i, j] = np.sum(window * w[m]) + b[m]",
            "out[k, m, i, j] = np.sum(window * w[m])",
        ),
    ),
    _m(
        "conv_backward_pad_slice",
        "conv_backward_naive",
        L,
        "dxp[pad:-pad] is empty for pad 0",
        ("dx = dxp[:, :, pad : pad + h, pad : pad + wd]", "dx = dxp[:, :, pad:-pad, pad:-pad]"),
    ),
    _m(
        "conv_backward_db_mean",
        "conv_backward_naive",
        L,
        "db divided by N",
        ("db = dout.sum(axis=(0, 2, 3))", "db = dout.sum(axis=(0, 2, 3)) / dout.shape[0]"),
    ),
    _m(
        "pool_stride_is_window",
        "max_pool_forward_naive",
        L,
        "assumes stride == pool size",
        (
            "r, c = i * stride, j * stride\n                    out[k, m, i, j] = np.max(",
            "r, c = i * ph, j * pw\n                    out[k, m, i, j] = np.max(",
        ),
    ),
    _m(
        "pool_backward_overwrites",
        "max_pool_backward_naive",
        L,
        "= instead of += where windows overlap",
        (
            "dx[k, m, r + di, c + dj] += dout[k, m, i, j]",
            "dx[k, m, r + di, c + dj] = dout[k, m, i, j]",
        ),
    ),
    _m(
        "pool_backward_average",
        "max_pool_backward_naive",
        L,
        "spreads dout as average pooling",
        (
            "dx[k, m, r + di, c + dj] += dout[k, m, i, j]",
            "dx[k, m, r : r + ph, c : c + pw] += dout[k, m, i, j] / (ph * pw)",
        ),
    ),
    # ---- sandwiches -------------------------------------------------------------------
    _m(
        "affine_relu_backward_skips_relu",
        "affine_relu_backward",
        U,
        "relu gradient forgotten",
        (
            "return affine_backward(relu_backward(dout, relu_cache), fc_cache)",
            "return affine_backward(dout, fc_cache)",
        ),
    ),
    _m(
        "conv_relu_pool_backward_skips_relu",
        "conv_relu_pool_backward",
        U,
        "relu gradient forgotten",
        (
            "return conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)",
            "return conv_backward_fast(ds, conv_cache)",
        ),
    ),
    # ---- update rules -----------------------------------------------------------------
    _m(
        "sgd_in_place",
        "sgd",
        O,
        "updates the caller's w in place",
        (
            '    return w - config["learning_rate"] * dw, config',
            '    w -= config["learning_rate"] * dw\n    return w, config',
        ),
    ),
    _m(
        "momentum_velocity_not_stored",
        "sgd_momentum",
        O,
        "velocity never saved in config",
        ('    config["velocity"] = v\n', ""),
    ),
    _m(
        "rmsprop_eps_default",
        "rmsprop",
        O,
        "default epsilon 1e-5",
        (
            'config.setdefault("decay_rate", 0.99)\n    config.setdefault("epsilon", 1e-8)',
            'config.setdefault("decay_rate", 0.99)\n    config.setdefault("epsilon", 1e-5)',
        ),
    ),
    _m(
        "rmsprop_eps_inside_sqrt",
        "rmsprop",
        O,
        "sqrt(cache + eps)",
        ('dw / (np.sqrt(cache) + config["epsilon"])', 'dw / np.sqrt(cache + config["epsilon"])'),
    ),
    _m(
        "adam_no_bias_correction",
        "adam",
        O,
        "m and v used without bias correction",
        (
            "    m_hat = m / (1 - beta1**t)\n    v_hat = v / (1 - beta2**t)",
            "    m_hat = m\n    v_hat = v",
        ),
    ),
    _m(
        "adam_t_not_stored",
        "adam",
        O,
        "t never incremented in config",
        ("config.update(t=t, m=m, v=v)", "config.update(m=m, v=v)"),
    ),
    _m(
        "adam_eps_inside_sqrt",
        "adam",
        O,
        "sqrt(v_hat + eps)",
        ('(np.sqrt(v_hat) + config["epsilon"])', 'np.sqrt(v_hat + config["epsilon"])'),
    ),
    _m(
        "svm_counts_correct_class",
        "svm_loss",
        L,
        "the correct class adds a margin of 1 to the loss",
        ("    margins[rows, y] = 0\n    loss = margins.sum() / n", "    loss = margins.sum() / n"),
    ),
    _m(
        "conv_pad_one_side",
        "conv_forward_naive",
        L,
        "zero padding only at the bottom and right",
        (
            "    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n    out = np.zeros(",
            "    xp = np.pad(x, ((0, 0), (0, 0), (0, 2 * pad), (0, 2 * pad)))\n    out = np.zeros(",
        ),
    ),
    # ---- models -----------------------------------------------------------------------
    _m(
        "two_layer_no_reg_grad",
        "TwoLayerNet",
        C,
        "L2 term missing from the W1 gradient",
        (
            '        grads["W1"] += self.reg * p["W1"]\n        grads["W2"] += self.reg * p["W2"]\n'
            "        return loss, grads",
            '        grads["W2"] += self.reg * p["W2"]\n        return loss, grads',
        ),
    ),
    _m(
        "two_layer_reg_no_half",
        "TwoLayerNet",
        C,
        "reg * sum(W**2) without the 1/2",
        (
            'loss += 0.5 * self.reg * float(sum(np.sum(p[k] ** 2) for k in ["W1", "W2"]))',
            'loss += self.reg * float(sum(np.sum(p[k] ** 2) for k in ["W1", "W2"]))',
        ),
    ),
    _m(
        "fc_regularised_biases",
        "FullyConnectedNet",
        C,
        "L2 on biases, gammas and betas too",
        ('weights = [f"W{i}" for i in range(1, L + 1)]', "weights = list(p)"),
    ),
    _m(
        "fc_relu_after_last_layer",
        "FullyConnectedNet",
        C,
        "ReLU on the scores",
        (
            'scores, last_cache = affine_forward(out, p[f"W{L}"], p[f"b{L}"])',
            'scores, last_cache = affine_relu_forward(out, p[f"W{L}"], p[f"b{L}"])',
        ),
        (
            'dout, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, last_cache)',
            'dout, grads[f"W{L}"], grads[f"b{L}"] = affine_relu_backward(dscores, last_cache)',
        ),
    ),
    _m(
        "fc_dropout_at_test_time",
        "FullyConnectedNet",
        C,
        "dropout stays in train mode",
        ('self.dropout_param["mode"] = mode', 'self.dropout_param["mode"] = "train"'),
    ),
    _m(
        "fc_batchnorm_always_train",
        "FullyConnectedNet",
        C,
        "batchnorm never in test mode",
        ('            bn_param["mode"] = mode', '            bn_param["mode"] = "train"'),
    ),
    _m(
        "fc_no_dtype_cast",
        "FullyConnectedNet",
        C,
        "params not cast to dtype",
        (
            "            self.params[name] = value.astype(dtype)\n\n        self.dropout_param",
            "            self.params[name] = value\n\n        self.dropout_param",
        ),
    ),
    _m(
        "fc_xavier_init",
        "FullyConnectedNet",
        C,
        "ignores weight_scale (1/sqrt(fan_in))",
        (
            'self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])',
            'self.params[f"W{i}"] = np.random.randn(dims[i - 1], dims[i]) / np.sqrt(dims[i - 1])',
        ),
    ),
    _m(
        "cnn_no_reg_on_w1",
        "ThreeLayerConvNet",
        C,
        "conv weights not regularised (gradient)",
        (
            '        for name in ("W1", "W2", "W3"):\n'
            "            grads[name] += self.reg * p[name]",
            '        for name in ("W2", "W3"):\n            grads[name] += self.reg * p[name]',
        ),
    ),
    _m(
        "cnn_no_hidden_relu",
        "ThreeLayerConvNet",
        C,
        "affine hidden layer without ReLU",
        (
            'hidden, hidden_cache = affine_relu_forward(pooled, p["W2"], p["b2"])',
            'hidden, hidden_cache = affine_forward(pooled, p["W2"], p["b2"])',
        ),
        (
            'dpooled, grads["W2"], grads["b2"] = affine_relu_backward(dhidden, hidden_cache)',
            'dpooled, grads["W2"], grads["b2"] = affine_backward(dhidden, hidden_cache)',
        ),
    ),
    _m(
        "fc_batchnorm_after_relu",
        "FullyConnectedNet",
        C,
        "ReLU before batch norm in the forward pass (seed 003's bug)",
        (
            "            norm_cache = None\n",
            "            out, relu_cache = relu_forward(out)\n            norm_cache = None\n",
        ),
        (
            "            out, relu_cache = relu_forward(out)\n            drop_cache = None\n",
            "            drop_cache = None\n",
        ),
    ),
    # ---- the stand-alone net ------------------------------------------------------------
    _m(
        "nn_reg_no_half",
        "TwoLayerNet",
        N,
        "loss adds reg * sum(W**2)",
        (
            "loss += 0.5 * reg * (np.sum(W1**2) + np.sum(W2**2))",
            "loss += reg * (np.sum(W1**2) + np.sum(W2**2))",
        ),
    ),
    _m(
        "nn_no_relu_mask",
        "TwoLayerNet",
        N,
        "hidden gradient ignores the ReLU",
        ("dhidden = (dscores @ W2.T) * (hidden > 0)", "dhidden = dscores @ W2.T"),
    ),
    _m(
        "nn_decay_every_iteration",
        "TwoLayerNet",
        N,
        "learning rate decayed every iteration",
        (
            "                learning_rate *= learning_rate_decay",
            "            learning_rate *= learning_rate_decay",
        ),
    ),
    _m(
        "nn_batches_without_replacement",
        "TwoLayerNet",
        N,
        "np.random.choice(..., replace=False)",
        (
            "np.random.choice(num_train, batch_size)",
            "np.random.choice(num_train, batch_size, replace=False)",
        ),
    ),
)


def apply(mutant: Mutant, source: str) -> str:
    """The mutated text of ``source``; each ``old`` must occur exactly once."""
    for old, new in mutant.edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{mutant.name}: {old!r} occurs {count} times in {mutant.file}")
        source = source.replace(old, new)
    return source


def materialize(mutant: Mutant, dest: Path) -> Path:
    """Write the reference package with ``mutant`` applied to ``dest/reference``; return it."""
    pkg = dest / "reference"
    pkg.mkdir(parents=True, exist_ok=True)
    for src in sorted(REFERENCE.glob("*.py")):
        text = src.read_text(encoding="utf-8")
        if src.name == mutant.file:
            text = apply(mutant, text)
        (pkg / src.name).write_text(text, encoding="utf-8")
    return pkg


def copy_reference(dest: Path) -> Path:
    """An unmutated copy of the reference package (for comparisons)."""
    pkg = dest / "reference"
    shutil.copytree(REFERENCE, pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return pkg
