"""Bugs students really write, as edits of the kit's student-style corpus.

``tests/submissions/students/<style>/`` holds complete, correct submissions written the way
students write (explicit loops and staged graphs in ``naive_loops``; einsum, stride tricks,
in-place numpy and object caches holding dtypes and lambdas in ``vectorized``). Each
:class:`Bug` edits one function of one of them and lists exactly the API names it breaks:
the name itself and every graded name that calls it on a case where the bug shows. Many of
them only show at one legal boundary value (pad 0, momentum 0, seed 0, one group, a batch
of one, float32).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

STUDENTS = Path(__file__).resolve().parent / "students"
STYLES = ("naive_loops", "vectorized")


@dataclass(frozen=True)
class Bug:
    """``edits`` (old, new) applied inside ``def function`` of ``students/<style>/<file>``."""

    name: str
    style: str
    file: str
    function: str
    edits: tuple[tuple[str, str], ...]
    breaks: frozenset[str]
    why: str


def _b(name, style, file, function, why, breaks, *edits) -> Bug:
    return Bug(name, style, file, function, tuple(edits), frozenset(breaks), why)


NL, VE = "naive_loops", "vectorized"
MODELS_F32 = ("FullyConnectedNet", "ThreeLayerConvNet")

BUGS: tuple[Bug, ...] = (
    _b(
        "sandwich_writes_into_dout",
        VE,
        "layer_utils.py",
        "affine_relu_backward",
        "masks the incoming gradient in place",
        {"affine_relu_backward"},
        (
            '    return affine_backward(relu_backward(dout, cache["relu"]), cache["fc"])',
            '    dout[~cache["relu"].mask] = 0\n    return affine_backward(dout, cache["fc"])',
        ),
    ),
    _b(
        "sandwich_float32_becomes_float64",
        NL,
        "layer_utils.py",
        "conv_relu_forward",
        "relu as a * (a > 0).astype(float): float32 in, float64 out",
        {"conv_relu_forward"},
        (
            "    out, relu_cache = relu_forward(a)",
            "    out = a * (a > 0).astype(float)\n    relu_cache = a",
        ),
    ),
    _b(
        "dropout_mask_float64",
        VE,
        "layers.py",
        "dropout_forward",
        "the mask stays float64: dropout's (and the net's) float32 gradients become float64",
        {"dropout_backward", "FullyConnectedNet"},
        (
            "        mask = ((np.random.rand(*x.shape) < p) / p).astype(x.dtype)\n"
            "        return x * mask, Cache(mask=mask, train=True)",
            "        mask = (np.random.rand(*x.shape) < p) / p\n"
            "        return (x * mask).astype(x.dtype), Cache(mask=mask, train=True)",
        ),
    ),
    _b(
        "groupnorm_backward_squeeze",
        VE,
        "layers.py",
        "spatial_groupnorm_backward",
        "np.squeeze on the statistics: wrong shape with one group",
        {"spatial_groupnorm_backward"},
        (
            "    dx *= c.inv_std.reshape(n, c.G, 1)",
            "    dx *= np.squeeze(c.inv_std)[..., None]",
        ),
    ),
    _b(
        "momentum_or_default",
        NL,
        "optim.py",
        "sgd_momentum",
        "config.get('momentum') or 0.9: a momentum of 0 is replaced by 0.9",
        {"sgd_momentum"},
        (
            '    config.setdefault("momentum", 0.9)',
            '    config["momentum"] = config.get("momentum") or 0.9',
        ),
    ),
    _b(
        "dropout_seed_zero_ignored",
        NL,
        "layers.py",
        "dropout_forward",
        "if dropout_param.get('seed'): seed 0 is never applied",
        {"dropout_forward", "dropout_backward", "FullyConnectedNet"},
        ('    if "seed" in dropout_param:', '    if dropout_param.get("seed"):'),
    ),
    _b(
        "conv_pad_negative_slice",
        NL,
        "layers.py",
        "conv_backward_naive",
        "dx_pad[:, :, pad:-pad, pad:-pad] is empty for pad 0 (the conv net, even with 1x1 "
        "filters, never uses its first layer's dx)",
        {"conv_backward_naive", "conv_relu_backward", "conv_relu_pool_backward"},
        (
            "    dx = dx_pad[:, :, pad : pad + H, pad : pad + W]",
            "    dx = dx_pad[:, :, pad:-pad, pad:-pad]",
        ),
    ),
    _b(
        "softmax_float64",
        NL,
        "layers.py",
        "softmax_loss",
        "computes in float64: float32 scores give a float64 dx (and float64 model gradients)",
        {"softmax_loss", *MODELS_F32},
        (
            "    shifted_logits = x - np.max(x, axis=1, keepdims=True)",
            "    shifted_logits = x.astype(np.float64) - np.max(x, axis=1, keepdims=True)",
        ),
    ),
    _b(
        "affine_squeeze",
        VE,
        "layers.py",
        "affine_forward",
        "squeezes the flattened input: breaks a batch of one (and one feature)",
        {
            "affine_forward",
            "affine_backward",
            "affine_relu_forward",
            "affine_relu_backward",
            "TwoLayerNet",
            "FullyConnectedNet",
            "ThreeLayerConvNet",
        },
        (
            "    flat = x.reshape(x.shape[0], -1)\n",
            "    flat = x.reshape(x.shape[0], -1).squeeze()\n",
        ),
    ),
    _b(
        "batchnorm_momentum_or_default",
        NL,
        "layers.py",
        "batchnorm_forward",
        "bn_param.get('momentum') or 0.9: a momentum of 0 is replaced by 0.9",
        {"batchnorm_forward", "spatial_batchnorm_forward"},
        (
            '    momentum = bn_param.get("momentum", 0.9)',
            '    momentum = bn_param.get("momentum") or 0.9',
        ),
    ),
    _b(
        "pool_stride_is_window",
        NL,
        "layers.py",
        "max_pool_forward_naive",
        "moves windows by the pool size, not the stride (forward only; where it crashes, at "
        "stride 1, the backward has no cache to be graded with)",
        {"max_pool_forward_naive", "max_pool_backward_naive", "conv_relu_pool_forward"},
        ("            hs, ws = i * stride, j * stride", "            hs, ws = i * ph, j * pw"),
    ),
    _b(
        "adam_t_starts_at_one",
        VE,
        "optim.py",
        "adam",
        "t defaults to 1, so the first step's bias correction uses t = 2",
        {"adam"},
        ("epsilon=1e-8, t=0)", "epsilon=1e-8, t=1)"),
    ),
    _b(
        "rmsprop_eps_inside_sqrt",
        NL,
        "optim.py",
        "rmsprop",
        "sqrt(cache + eps) instead of sqrt(cache) + eps",
        {"rmsprop"},
        (
            '(np.sqrt(config["cache"]) + config["epsilon"])',
            '(np.sqrt(config["cache"] + config["epsilon"]))',
        ),
    ),
    _b(
        "relu_mask_at_zero",
        VE,
        "layers.py",
        "relu_forward",
        "mask x >= 0: gradient 1 at exactly 0",
        {"relu_backward", "affine_relu_backward"},
        ("mask=x > 0,", "mask=x >= 0,"),
    ),
    _b(
        "batchnorm_alt_scales_dout_in_place",
        VE,
        "layers.py",
        "batchnorm_backward_alt",
        "dx = dout; dx *= n writes into dout (spatial batchnorm's reshaped dout is a view "
        "of the caller's when H = W = 1)",
        {"batchnorm_backward_alt", "spatial_batchnorm_backward"},
        ("    dx = dout * n\n", "    dx = dout\n    dx *= n\n"),
    ),
)


def _function_span(source: str, function: str) -> tuple[int, int]:
    start = source.index(f"def {function}(")
    nxt = [
        i for i in (source.find("\ndef ", start + 1), source.find("\nclass ", start + 1)) if i > 0
    ]
    return start, min(nxt) if nxt else len(source)


def apply(bug: Bug, source: str) -> str:
    """The edited source; each ``old`` occurs exactly once inside the function."""
    start, end = _function_span(source, bug.function)
    body = source[start:end]
    for old, new in bug.edits:
        if body.count(old) != 1:
            raise ValueError(
                f"{bug.name}: {old!r} occurs {body.count(old)} times in {bug.function}"
            )
        body = body.replace(old, new)
    return source[:start] + body + source[end:]


def materialize(bug: Bug, dest: Path) -> Path:
    """Write the style's submission with ``bug`` applied into ``dest``; return the folder."""
    folder = dest / bug.style
    shutil.copytree(STUDENTS / bug.style, folder, ignore=shutil.ignore_patterns("__pycache__"))
    target = folder / bug.file
    target.write_text(apply(bug, target.read_text(encoding="utf-8")), encoding="utf-8")
    return folder
