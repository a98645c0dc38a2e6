"""Submission loader: definitions kept, top-level work dropped, broken cells reported."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from nnkit.loader import extract_definitions, import_notebook, load_submission
from nnkit.sandbox import Worker

pytestmark = pytest.mark.engine
REPO = Path(__file__).resolve().parents[2]


def notebook(path: Path, cells: list[str], markdown: bool = True) -> Path:
    """A format-4 notebook (what nbformat writes: sources as lists of lines)."""
    out = []
    if markdown:
        out.append({"cell_type": "markdown", "metadata": {}, "source": ["# Title\n", "x = 1"]})
    for c in cells:
        out.append(
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": c.splitlines(keepends=True),
            }
        )
    nb = {"cells": out, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return path


CELLS = [
    "%matplotlib inline\nimport numpy as np\nfrom math import sqrt as _sqrt\n!pip install torch\n"
    "import matplotlib.pyplot as plt",
    "EPS = 1e-5\nSHAPE = (2, 3)\nDT = np.float32\nSCALE = 2 * EPS\nHALF = np.float64(0.5)",
    "def relu_forward(x):\n    return np.maximum(x, 0), x\n\nprint(relu_forward(np.ones(2)))",
    "for i in range(10**9):\n    pass\nmodel = train()\nnp.random.seed(0)\nX = np.random.randn(3)",
    "def broken(:\n    pass",
    "class Net:\n    reg = EPS\n    def loss(self, x):\n        return float(np.sum(x)) * self.reg",
    "%%bash\necho hi",
    "%%time\ndef timed():\n    return 3",
    "try:\n    import torch\nexcept ImportError:\n    torch = None",
    "@staticmethod\ndef deco():\n    return 1\nif __name__ == '__main__':\n    deco()",
]


def test_notebook_keeps_definitions_only(tmp_path: Path) -> None:
    sub = load_submission(notebook(tmp_path / "a.ipynb", CELLS))
    assert sub.kind == "notebook"
    names = sub.names
    assert {
        "np",
        "_sqrt",
        "EPS",
        "SHAPE",
        "DT",
        "SCALE",
        "HALF",
        "relu_forward",
        "Net",
        "timed",
        "torch",
        "deco",
    } <= names
    assert not names & {"model", "X", "i", "broken"}
    code = "\n".join(s.code for s in sub.sources)
    for dropped in ("print(", "range(10**9)", "train()", "seed(0)", "pip", "echo", "__main__"):
        assert dropped not in code


def test_broken_cell_is_reported_and_the_rest_loads(tmp_path: Path) -> None:
    sub = load_submission(notebook(tmp_path / "a.ipynb", CELLS))
    assert len(sub.problems) == 1
    prob = sub.problems[0]
    assert prob.origin == "a.ipynb, cell 5" and "SyntaxError" in prob.message
    with Worker(sub) as w:
        assert w.call("relu_forward", np.array([-1.0, 1.0]), keep=(1,)).value[0][1] == 1.0
        net = w.new("Net")
        assert w.method(net, "loss", np.ones(3)).value == pytest.approx(3e-5)
        assert w.call("timed").value == 3
        assert not w.has("model") and not w.has("X")
        # display-only modules are absent from workers, silently; the broken cell is reported
        assert [p.origin for p in w.load_problems] == ["a.ipynb, cell 5"]


def test_source_line_numbers_point_into_the_cell() -> None:
    srcs, _ = extract_definitions("import os\n\n\ndef f():\n    return 1\n", "c", "c.py")
    assert [(s.names, s.lineno) for s in srcs] == [(("os",), 1), (("f",), 4)]


def test_py_module_drops_calls_and_keeps_constants(tmp_path: Path) -> None:
    p = tmp_path / "mod.py"
    p.write_text(
        "import numpy as np\nA = [1, 2]\nB = np.zeros(3)\nC = -A[0]\nmain()\n"
        "def f():\n    return A\n"
    )
    sub = load_submission(p)
    assert sub.names == {"np", "A", "f"} and sub.kind == "module" and not sub.problems


def test_several_notebooks_share_one_namespace_and_import_notebook(tmp_path: Path) -> None:
    folder = tmp_path / "fully_connected"
    folder.mkdir()
    notebook(folder / "1_layers.ipynb", ["import numpy as np\ndef double(x):\n    return 2 * x"])
    notebook(
        folder / "2_net.ipynb",
        [
            "from nnlib.nbimport import import_notebook\nL = import_notebook('1_layers.ipynb')",
            "def quadruple(x):\n    return L.double(double(x))",
        ],
    )
    sub = load_submission(folder)
    assert [p.name for p in sub.paths] == ["1_layers.ipynb", "2_net.ipynb"]
    with Worker(sub) as w:
        assert w.call("quadruple", 3).value == 12
        assert w.load_problems == []


def test_a_notebook_loads_after_the_notebook_it_imports(tmp_path: Path) -> None:
    """Alphabetical order would load DeepNets first; import_notebook decides the order."""
    folder = tmp_path / "fully_connected"
    folder.mkdir()
    notebook(
        folder / "DeepNets.ipynb",
        [
            "from nnlib.loader import import_notebook\n"
            "fc = import_notebook('FullyConnected.ipynb')\n_scale = fc._scale",
            "def scaled(x):\n    return _scale * x",
        ],
    )
    notebook(folder / "FullyConnected.ipynb", ["_scale = 3"])
    sub = load_submission(folder)
    assert sub.sources[0].filename.startswith("FullyConnected.ipynb")
    with Worker(sub) as w:
        assert w.load_problems == []
        assert w.call("scaled", 2).value == 6


def test_reference_package_loads_as_a_multi_file_submission() -> None:
    sub = load_submission(REPO / "reference")
    assert sub.package == "reference"
    order = [s.filename for s in sub.sources]
    assert order.index("layers.py") < order.index("layer_utils.py") < order.index("classifiers.py")
    assert "reference.layers" in sub.aliases
    with Worker(sub) as w:
        assert w.has("affine_relu_forward") and w.has("FullyConnectedNet")
        assert w.load_problems == []
        out, _ = w.call(
            "affine_relu_forward", np.ones((2, 3)), np.ones((3, 4)), np.zeros(4), keep=(1,)
        ).value
        assert np.array_equal(out, np.full((2, 4), 3.0))


def test_import_notebook_in_process(tmp_path: Path) -> None:
    p = notebook(
        tmp_path / "earlier_nb.ipynb",
        ["def tripled(x):\n    return 3 * x\nraise SystemExit('not at import')"],
    )
    ns: dict[str, object] = {}
    try:
        mod = import_notebook(p, into=ns)
        assert mod.tripled(2) == 6 and ns["tripled"] is mod.tripled
    finally:
        sys.modules.pop("earlier_nb", None)


def test_import_notebook_skips_a_definition_that_needs_dropped_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    p = notebook(
        tmp_path / "needs_work_nb.ipynb",
        ["v = compute()\nconfig = {'v': v}\ndef kept():\n    return 7"],
    )
    try:
        mod = import_notebook(p)
        assert mod.kept() == 7 and not hasattr(mod, "config")
        assert "NameError" in capsys.readouterr().err
    finally:
        sys.modules.pop("needs_work_nb", None)


def test_missing_and_empty_submissions(tmp_path: Path) -> None:
    assert load_submission(tmp_path).problems[0].message.startswith("no notebook")
    sub = load_submission(tmp_path / "nope.py")
    assert sub.problems and "not found" in sub.problems[0].message
