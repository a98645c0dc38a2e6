"""nnlib ships to students: no solutions, relative imports only, works as a copied folder."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import nnlib

pytestmark = pytest.mark.studentlib

NNLIB = Path(nnlib.__file__).parent
# Every graded name of the student API (docs/api.md: layers, sandwich layers, update rules
# except the provided plain sgd, models).
GRADED = {
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "sigmoid_forward",
    "sigmoid_backward", "softmax_loss", "svm_loss", "mse_loss", "batchnorm_forward",
    "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
    "dropout_forward", "dropout_backward", "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward_naive", "max_pool_backward_naive", "spatial_batchnorm_forward",
    "spatial_batchnorm_backward", "spatial_groupnorm_forward", "spatial_groupnorm_backward",
    "affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
    "conv_relu_pool_forward", "conv_relu_pool_backward", "sgd_momentum", "rmsprop", "adam",
    "TwoLayerNet", "FullyConnectedNet", "ThreeLayerConvNet",
}  # fmt: skip
ALLOWED_IMPORTS = {
    "numpy", "matplotlib", "__future__", "argparse", "collections", "dataclasses", "gzip",
    "hashlib", "io", "json", "math", "os", "pathlib", "pickle", "random", "re", "shutil", "stat",
    "struct", "sys", "tarfile", "tempfile", "typing", "urllib", "zipfile",
    # the self-check (nnlib/selfcheck.py): running notebooks and definitions in a child process
    "ast", "contextlib", "importlib", "subprocess", "time", "types",
}  # fmt: skip


def _modules():
    return sorted(NNLIB.glob("*.py"))


def test_nnlib_defines_no_graded_name():
    for path in _modules():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names = [node.id]
            elif isinstance(node, ast.alias):
                names = [node.asname or node.name.split(".")[-1]]
            assert not set(names) & GRADED, f"{path.name} defines {set(names) & GRADED}"


def test_nnlib_imports_only_numpy_matplotlib_stdlib_and_itself_relatively():
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = set() if node.level else {node.module.split(".")[0]}
            else:
                continue
            assert roots <= ALLOWED_IMPORTS, f"{path.name} imports {roots - ALLOWED_IMPORTS}"


def test_a_copied_nnlib_folder_works_on_its_own(tmp_path):
    shutil.copytree(NNLIB, tmp_path / "nnlib", ignore=shutil.ignore_patterns("__pycache__"))
    script = (
        "import nnlib, numpy as np\n"
        "from nnlib.data import load_dataset\n"
        "from nnlib.solver import Solver\n"
        f"assert nnlib.__file__.startswith(r'{tmp_path}')\n"
        "d = load_dataset('digits')\n"
        "x = np.random.randn(2, 3, 6, 6)\n"
        "out, _ = nnlib.conv_forward_fast(x, np.ones((2, 3, 3, 3)), np.zeros(2),"
        " {'stride': 1, 'pad': 1})\n"
        "print(d['X_train'].shape, out.shape)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.strip() == "(1227, 1, 8, 8) (2, 2, 6, 6)"
