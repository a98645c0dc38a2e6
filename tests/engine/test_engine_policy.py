"""Static policy checks: one table, violations named after the API name, penalties capped."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from nnkit.loader import load_submission
from nnkit.policy import POLICY, Rule, check, penalties
from nnkit.results import TestResult

pytestmark = pytest.mark.engine
REPO = Path(__file__).resolve().parents[2]


def sub_of(tmp: Path, code: str, name: str = "sub.py"):
    p = tmp / name
    p.write_text(textwrap.dedent(code))
    return load_submission(p)


def test_naive_conv_calling_a_fast_layer_is_a_violation(tmp_path: Path) -> None:
    sub = sub_of(
        tmp_path,
        """
        from nnlib.fast_layers import conv_forward_fast, max_pool_forward_fast
        def helper(x, w, b, p):
            return conv_forward_fast(x, w, b, p)
        def conv_forward_naive(x, w, b, p):
            return helper(x, w, b, p)
        pool = max_pool_forward_fast
        def max_pool_forward_naive(x, p):
            return pool(x, p)
        def conv_relu_forward(x, w, b, p):
            return conv_forward_fast(x, w, b, p)
    """,
    )
    v = check(sub, ["conv_forward_naive", "max_pool_forward_naive", "conv_relu_forward"])
    assert {x.api_name for x in v} == {"conv_forward_naive", "max_pool_forward_naive"}
    assert any("conv_forward_fast" in x.message for x in v)


def test_own_helpers_with_fast_layer_names_are_allowed(tmp_path: Path) -> None:
    sub = sub_of(
        tmp_path,
        """
        import numpy as np
        def im2col(x):
            return x
        def conv_forward_naive(x, w, b, p):
            return im2col(x)
    """,
    )
    assert check(sub, ["conv_forward_naive"]) == []


def test_forbidden_imports(tmp_path: Path) -> None:
    sub = sub_of(
        tmp_path,
        """
        import torch
        from scipy import signal
        from scipy.ndimage import convolve
        import scipy.linalg
        def conv_forward_naive(x, w, b, p):
            return signal.correlate(x, w)
        def relu_forward(x):
            import reference.layers as L
            return L.relu_forward(x)
        def sigmoid_forward(x):
            return scipy.linalg.norm(x)
    """,
    )
    v = check(sub, ["conv_forward_naive", "relu_forward", "sigmoid_forward"])
    by_api = {}
    for x in v:
        by_api.setdefault(x.api_name, []).append(x.message)
    assert "scipy.signal" in " ".join(by_api["conv_forward_naive"])
    assert "reference.layers" in " ".join(by_api["relu_forward"])
    assert "sigmoid_forward" not in by_api  # scipy.linalg is allowed
    unattributed = " ".join(by_api[""])
    assert "torch" in unattributed and "scipy.ndimage" in unattributed


def test_sibling_imports_of_a_multi_file_submission_are_not_forbidden() -> None:
    sub = load_submission(REPO / "reference")
    assert check(sub, ["affine_relu_forward", "FullyConnectedNet", "conv_forward_naive"]) == []


def test_no_loops_only_when_marked(tmp_path: Path) -> None:
    sub = sub_of(
        tmp_path,
        """
        import numpy as np
        def _rows(x):
            return [r for r in x]
        def svm_loss(x, y):
            total = 0.0
            for i in range(len(x)):
                total += x[i, y[i]]
            return total, _rows(x)
    """,
    )
    assert check(sub, ["svm_loss"]) == []
    v = check(sub, ["svm_loss"], no_loops=["svm_loss"])
    kinds = " ".join(x.message for x in v)
    assert "For" in kinds and "ListComp" in kinds and all(x.api_name == "svm_loss" for x in v)
    table = dict(POLICY, svm_loss=Rule(no_loops=True, points=1))
    assert len(check(sub, ["svm_loss"], table=table)) == 2


def test_penalties_named_after_the_api_and_capped(tmp_path: Path) -> None:
    sub = sub_of(
        tmp_path,
        """
        from nnlib.fast_layers import conv_forward_fast
        def conv_forward_naive(x, w, b, p):
            return conv_forward_fast(x, w, b, p)
    """,
    )
    results = [
        TestResult("conv_forward_naive: a", 2, 2),
        TestResult("conv_forward_naive: b", 0, 2),
        TestResult("relu_forward: a", 1, 1),
    ]
    pens = penalties(check(sub, ["conv_forward_naive"]), results)
    assert len(pens) == 1
    p = pens[0]
    assert p.name == "conv_forward_naive: policy" and p.output.startswith("policy: ")
    assert p.score == -2 and p.max_score == 0
    fixed = penalties(
        check(sub, ["conv_forward_naive"]),
        results,
        table=dict(
            POLICY, conv_forward_naive=Rule(forbid_names=("conv_forward_fast",), points=0.5)
        ),
    )
    assert fixed[0].score == -0.5
