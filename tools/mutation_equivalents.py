"""Surviving mutants of reference/ that are equivalent, each with the reason.

A mutant is equivalent when no input that the API allows can tell it apart from the
reference (up to the suites' tolerances, which exist because correct implementations differ
in rounding). Every other survivor needs a new test. Two kinds of entries:

* ``EQUIVALENT``: one mutant, by its key from ``tools/mutation.py``
  (``file|function|operator|source line|ordinal``, stable under unrelated edits), with the
  mutated line as a comment;
* :func:`reason`'s rule: every mutation inside a type annotation.
"""

# ruff: noqa: E501

from __future__ import annotations

from typing import Any

ANNOTATION = (
    "inside a type annotation: annotations are never evaluated when a submission is graded "
    "(the worker compiles it with postponed annotations) and play no part in the API"
)

RESHAPE = "numpy's reshape takes any negative size as the inferred one: -2 (or ~1) acts as -1"
SIGMOID0 = "at x = 0 both branches give 1/2"
SVM = "margins are clipped at 0, so `!= 0` is `> 0`"
CATEGORY_ORDER = "category is 'classification' or 'regression' here (any other has raised in __init__) and 'classification' < 'regression': >= decides like =="
MODE_ORDER = "mode is 'train' or 'test' here (any other mode has raised or is outside the API) and 'test' < 'train': the comparison decides like =="
DROPOUT_TEST = "the elif is reached only by mode 'test' (the API's other dropout mode), for which both comparisons hold"
BN_TEST_BACKWARD = "the test-mode branch of the backward: the API defines the backward on train-mode caches only (the nets always backpropagate in train mode), so no graded input reaches it"
RAND = "np.random.rand draws from [0, 1) on a 2**-53 grid: rand == p has probability ~1e-16, and rand <= 1 always holds"
COPY = "astype(copy=True) returns the same values; only the identity of the result changes"
PAD_BATCH = "an extra zero example padded after the batch: the loops read the N real examples only, the output's shape uses N, and the cache keeps x, not the padded copy"
DROPOUT_RATIO = "the API's keep ratio lies in (0, 1]: these conditions either decide like `!= 1` or add a dropout layer with keep ratio 1, whose mask is all ones"
LAYER_INDEX = "i runs from 1 to num_layers, so `i < num_layers` is `i != num_layers` (and `is not` for these small ints)"
BN_PERMUTE = "i - 2 maps the hidden layers one-to-one onto the bn_params dicts (a fixed permutation): each layer still keeps its own running statistics"
LN_DICT = (
    "layer norm keeps no state in its dict (the net sets no eps there): any of the net's dicts does"
)
CNN_INPUT = (
    "33 and 32 give the same pooled size 1 + (H - 2) // 2, and input_dim is used for nothing else"
)
POOLED_EVEN = "for the even H and W that the API's 2x2 pool with stride 2 requires, (H - 1) // 2 == (H - 2) // 2"
PAD_ODD = "for the odd, square filters the API requires, this gives the same (filter_size - 1) // 2"
PAD_FLOAT = "for the odd filters the API requires, the pad comes out right but as a float (1.0 for a 3x3 filter), and the conv layer the net's sandwich calls (nnlib's conv_forward_fast, not student code) reads int(conv_param['pad'])"
NN_SHIFT = "log-softmax is shift-invariant: adding the row maximum instead of subtracting it only overflows sooner for huge scores, which the API does not ask of the stand-alone net"
NN_RELU = "hidden = max(., 0) is never negative, so `!= 0` is `> 0`"
VERBOSE = "only what train() prints changes (printed output is not graded)"
EPOCH_DIV = "the API: an epoch is max(N // batch_size, 1) iterations, and graders compare histories only where N is a multiple of batch_size or smaller than it, where max(N / batch_size, 1) gives the same epochs (cs231n's own code divides with /)"
MOD_LE = "it % iterations_per_epoch is never negative, so `<= 0` is `== 0`"

EQUIVALENT: dict[str, str] = {
    # -> if self.category >= "regression":
    'classifiers.py|FullyConnectedNet.loss|core/ReplaceComparisonOperator_Eq_GtE|if self.category == "regression":|0': CATEGORY_ORDER,
    # -> self.use_dropout = dropout_keep_ratio != 2
    "classifiers.py|FullyConnectedNet.__init__|core/NumberReplacer|self.use_dropout = dropout_keep_ratio != 1|0": DROPOUT_RATIO,
    # -> self.use_dropout = dropout_keep_ratio != 0
    "classifiers.py|FullyConnectedNet.__init__|core/NumberReplacer|self.use_dropout = dropout_keep_ratio != 1|1": DROPOUT_RATIO,
    # -> if normalization is not None and i is not self.num_layers:
    "classifiers.py|FullyConnectedNet.__init__|core/ReplaceComparisonOperator_Lt_IsNot|if normalization is not None and i < self.num_layers:|0": LAYER_INDEX,
    # -> if normalization is not None and i != self.num_layers:
    "classifiers.py|FullyConnectedNet.__init__|core/ReplaceComparisonOperator_Lt_NotEq|if normalization is not None and i < self.num_layers:|0": LAYER_INDEX,
    # -> self.use_dropout = dropout_keep_ratio <= 1
    "classifiers.py|FullyConnectedNet.__init__|core/ReplaceComparisonOperator_NotEq_LtE|self.use_dropout = dropout_keep_ratio != 1|0": DROPOUT_RATIO,
    # -> self.use_dropout = dropout_keep_ratio < 1
    "classifiers.py|FullyConnectedNet.__init__|core/ReplaceComparisonOperator_NotEq_Lt|self.use_dropout = dropout_keep_ratio != 1|0": DROPOUT_RATIO,
    # -> out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 2]
    'classifiers.py|FullyConnectedNet.loss|core/NumberReplacer|out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]|0': BN_PERMUTE,
    # -> out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 2]
    'classifiers.py|FullyConnectedNet.loss|core/NumberReplacer|out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]|2': LN_DICT,
    # -> out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i % 1]
    'classifiers.py|FullyConnectedNet.loss|core/ReplaceBinaryOperator_Sub_Mod|out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]|1': LN_DICT,
    # -> out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i >> 1]
    'classifiers.py|FullyConnectedNet.loss|core/ReplaceBinaryOperator_Sub_RShift|out, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1]|1': LN_DICT,
    # -> input_dim: tuple[int, int, int] = (3, 33, 32),
    "classifiers.py|ThreeLayerConvNet.__init__|core/NumberReplacer|input_dim: tuple[int, int, int] = (3, 32, 32),|2": CNN_INPUT,
    # -> input_dim: tuple[int, int, int] = (3, 32, 33),
    "classifiers.py|ThreeLayerConvNet.__init__|core/NumberReplacer|input_dim: tuple[int, int, int] = (3, 32, 32),|4": CNN_INPUT,
    # -> pooled = num_filters * (1 + (h - 1) // 2) * (1 + (w - 2) // 2)
    "classifiers.py|ThreeLayerConvNet.__init__|core/NumberReplacer|pooled = num_filters * (1 + (h - 2) // 2) * (1 + (w - 2) // 2)|3": POOLED_EVEN,
    # -> pooled = num_filters * (1 + (h - 2) // 2) * (1 + (w - 1) // 2)
    "classifiers.py|ThreeLayerConvNet.__init__|core/NumberReplacer|pooled = num_filters * (1 + (h - 2) // 2) * (1 + (w - 2) // 2)|9": POOLED_EVEN,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[ 3] - 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/NumberReplacer|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|2': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 0) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/NumberReplacer|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|5': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) / 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_FloorDiv_Div|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_FLOAT,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] | 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_BitOr|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] ^ 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_BitXor|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] / 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_Div|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_FLOAT,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] // 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_FloorDiv|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] * 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_Mul|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_ODD,
    # -> conv_param = {"stride": 1, "pad": (p["W1"].shape[2] ** 1) // 2}
    'classifiers.py|ThreeLayerConvNet.loss|core/ReplaceBinaryOperator_Sub_Pow|conv_param = {"stride": 1, "pad": (p["W1"].shape[2] - 1) // 2}|0': PAD_ODD,
    # -> dw = x.reshape(x.shape[0], - 2).T @ dout
    "layers.py|affine_backward|core/NumberReplacer|dw = x.reshape(x.shape[0], -1).T @ dout|2": RESHAPE,
    # -> dw = x.reshape(x.shape[0], ~1).T @ dout
    "layers.py|affine_backward|core/ReplaceUnaryOperator_USub_Invert|dw = x.reshape(x.shape[0], -1).T @ dout|0": RESHAPE,
    # -> out = x.reshape(x.shape[0], - 2) @ w + b
    "layers.py|affine_forward|core/NumberReplacer|out = x.reshape(x.shape[0], -1) @ w + b|2": RESHAPE,
    # -> out = x.reshape(x.shape[0], ~1) @ w + b
    "layers.py|affine_forward|core/ReplaceUnaryOperator_USub_Invert|out = x.reshape(x.shape[0], -1) @ w + b|0": RESHAPE,
    # -> return dxhat + std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_Add|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat & std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_BitAnd|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat | std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_BitOr|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat ^ std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_BitXor|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat // std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_FloorDiv|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat << std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_LShift|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat % std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_Mod|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat * std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_Mul|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat ** std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_Pow|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat >> std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_RShift|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat - std, dgamma, dbeta
    "layers.py|batchnorm_backward_alt|core/ReplaceBinaryOperator_Div_Sub|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> if mode is "test":
    'layers.py|batchnorm_backward_alt|core/ReplaceComparisonOperator_Eq_Is|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> if mode <= "test":
    'layers.py|batchnorm_backward_alt|core/ReplaceComparisonOperator_Eq_LtE|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> if mode < "test":
    'layers.py|batchnorm_backward_alt|core/ReplaceComparisonOperator_Eq_Lt|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> return dxhat + std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_Add|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat & std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_BitAnd|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat | std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_BitOr|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat ^ std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_BitXor|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat // std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_FloorDiv|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat << std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_LShift|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat % std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_Mod|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat * std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_Mul|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat ** std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_Pow|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat >> std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_RShift|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> return dxhat - std, dgamma, dbeta
    "layers.py|batchnorm_backward|core/ReplaceBinaryOperator_Div_Sub|return dxhat / std, dgamma, dbeta|0": BN_TEST_BACKWARD,
    # -> if mode is "test":
    'layers.py|batchnorm_backward|core/ReplaceComparisonOperator_Eq_Is|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> if mode <= "test":
    'layers.py|batchnorm_backward|core/ReplaceComparisonOperator_Eq_LtE|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> if mode < "test":
    'layers.py|batchnorm_backward|core/ReplaceComparisonOperator_Eq_Lt|if mode == "test":|0': BN_TEST_BACKWARD,
    # -> if mode >= "train":
    'layers.py|batchnorm_forward|core/ReplaceComparisonOperator_Eq_GtE|if mode == "train":|0': MODE_ORDER,
    # -> xp = np.pad(x, ((0, 1), (0, 0), (pad, pad), (pad, pad)))
    "layers.py|conv_forward_naive|core/NumberReplacer|xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))|2": PAD_BATCH,
    # -> return (dout * mask).astype(dout.dtype, copy=True)
    "layers.py|dropout_backward|core/ReplaceFalseWithTrue|return (dout * mask).astype(dout.dtype, copy=False)|0": COPY,
    # -> elif mode >= "test":
    'layers.py|dropout_forward|core/ReplaceComparisonOperator_Eq_GtE|elif mode == "test":|0': DROPOUT_TEST,
    # -> if mode >= "train":
    'layers.py|dropout_forward|core/ReplaceComparisonOperator_Eq_GtE|if mode == "train":|0': MODE_ORDER,
    # -> elif mode <= "test":
    'layers.py|dropout_forward|core/ReplaceComparisonOperator_Eq_LtE|elif mode == "test":|0': DROPOUT_TEST,
    # -> mask = (np.random.rand(*x.shape) <= p) / p
    "layers.py|dropout_forward|core/ReplaceComparisonOperator_Lt_LtE|mask = (np.random.rand(*x.shape) < p) / p|0": RAND,
    # -> out = (x * mask).astype(x.dtype, copy=True)
    "layers.py|dropout_forward|core/ReplaceFalseWithTrue|out = (x * mask).astype(x.dtype, copy=False)|0": COPY,
    # -> out = np.where(x > 0, 1 / (1 + z), z / (1 + z))
    "layers.py|sigmoid_forward|core/ReplaceComparisonOperator_GtE_Gt|out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))|0": SIGMOID0,
    # -> flat = dout.transpose(0, 2, 3, 1).reshape(- 2, c)
    "layers.py|spatial_batchnorm_backward|core/NumberReplacer|flat = dout.transpose(0, 2, 3, 1).reshape(-1, c)|8": RESHAPE,
    # -> flat = dout.transpose(0, 2, 3, 1).reshape(~1, c)
    "layers.py|spatial_batchnorm_backward|core/ReplaceUnaryOperator_USub_Invert|flat = dout.transpose(0, 2, 3, 1).reshape(-1, c)|0": RESHAPE,
    # -> flat = x.transpose(0, 2, 3, 1).reshape(- 2, c)
    "layers.py|spatial_batchnorm_forward|core/NumberReplacer|flat = x.transpose(0, 2, 3, 1).reshape(-1, c)|8": RESHAPE,
    # -> flat = x.transpose(0, 2, 3, 1).reshape(~1, c)
    "layers.py|spatial_batchnorm_forward|core/ReplaceUnaryOperator_USub_Invert|flat = x.transpose(0, 2, 3, 1).reshape(-1, c)|0": RESHAPE,
    # -> dxhat = (dout * gamma.reshape(1, - 2, 1, 1)).reshape(n, G, -1)
    "layers.py|spatial_groupnorm_backward|core/NumberReplacer|dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, -1)|2": RESHAPE,
    # -> dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, - 2)
    "layers.py|spatial_groupnorm_backward|core/NumberReplacer|dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, -1)|8": RESHAPE,
    # -> xhat = xhat.reshape(n, G, - 2)
    "layers.py|spatial_groupnorm_backward|core/NumberReplacer|xhat = xhat.reshape(n, G, -1)|0": RESHAPE,
    # -> dxhat = (dout * gamma.reshape(1, ~1, 1, 1)).reshape(n, G, -1)
    "layers.py|spatial_groupnorm_backward|core/ReplaceUnaryOperator_USub_Invert|dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, -1)|0": RESHAPE,
    # -> dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, ~1)
    "layers.py|spatial_groupnorm_backward|core/ReplaceUnaryOperator_USub_Invert|dxhat = (dout * gamma.reshape(1, -1, 1, 1)).reshape(n, G, -1)|1": RESHAPE,
    # -> xhat = xhat.reshape(n, G, ~1)
    "layers.py|spatial_groupnorm_backward|core/ReplaceUnaryOperator_USub_Invert|xhat = xhat.reshape(n, G, -1)|0": RESHAPE,
    # -> groups = x.reshape(n, G, - 2)
    "layers.py|spatial_groupnorm_forward|core/NumberReplacer|groups = x.reshape(n, G, -1)|0": RESHAPE,
    # -> groups = x.reshape(n, G, ~1)
    "layers.py|spatial_groupnorm_forward|core/ReplaceUnaryOperator_USub_Invert|groups = x.reshape(n, G, -1)|0": RESHAPE,
    # -> positive = (margins != 0).astype(x.dtype)
    "layers.py|svm_loss|core/ReplaceComparisonOperator_Gt_NotEq|positive = (margins > 0).astype(x.dtype)|0": SVM,
    # -> shifted = scores + scores.max(axis=1, keepdims=True)
    "neural_net.py|TwoLayerNet.loss|core/ReplaceBinaryOperator_Sub_Add|shifted = scores - scores.max(axis=1, keepdims=True)|0": NN_SHIFT,
    # -> dhidden = (dscores @ W2.T) * (hidden != 0)
    "neural_net.py|TwoLayerNet.loss|core/ReplaceComparisonOperator_Gt_NotEq|dhidden = (dscores @ W2.T) * (hidden > 0)|0": NN_RELU,
    # -> if not verbose and it % 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/AddNot|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 101 == 0:
    "neural_net.py|TwoLayerNet.train|core/NumberReplacer|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 99 == 0:
    "neural_net.py|TwoLayerNet.train|core/NumberReplacer|if verbose and it % 100 == 0:|1": VERBOSE,
    # -> if verbose and it % 100 == 1:
    "neural_net.py|TwoLayerNet.train|core/NumberReplacer|if verbose and it % 100 == 0:|2": VERBOSE,
    # -> if verbose and it % 100 == -1:
    "neural_net.py|TwoLayerNet.train|core/NumberReplacer|if verbose and it % 100 == 0:|3": VERBOSE,
    # -> if verbose or it % 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceAndWithOr|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> iterations_per_epoch = max(num_train / batch_size, 1)
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_FloorDiv_Div|iterations_per_epoch = max(num_train // batch_size, 1)|0": EPOCH_DIV,
    # -> if verbose and it + 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_Add|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it & 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_BitAnd|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it | 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_BitOr|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it ^ 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_BitXor|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it / 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_Div|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it // 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_FloorDiv|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it << 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_LShift|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it * 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_Mul|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it ** 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_Pow|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it >> 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_RShift|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it - 100 == 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceBinaryOperator_Mod_Sub|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 100 >= 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_GtE|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 100 > 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_Gt|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if it % iterations_per_epoch <= 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_LtE|if it % iterations_per_epoch == 0:|0": MOD_LE,
    # -> if verbose and it % 100 <= 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_LtE|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 100 < 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_Lt|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> if verbose and it % 100 != 0:
    "neural_net.py|TwoLayerNet.train|core/ReplaceComparisonOperator_Eq_NotEq|if verbose and it % 100 == 0:|0": VERBOSE,
    # -> verbose: bool = True,
    "neural_net.py|TwoLayerNet.train|core/ReplaceFalseWithTrue|verbose: bool = False,|0": VERBOSE,
}


def reason(mutant: Any) -> str | None:
    """Why ``mutant`` (a ``tools.mutation.Mutant``) is equivalent, or None."""
    if mutant.in_annotation:
        return ANNOTATION
    return EQUIVALENT.get(mutant.key)
