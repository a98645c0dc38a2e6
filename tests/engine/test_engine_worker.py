"""Worker operations against a real sandboxed process."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from _engine_util import leftovers, worker_for

from nnkit.loader import Source
from nnkit.sandbox import Ref, StudentError, Worker

pytestmark = pytest.mark.engine

CODE = """
import numpy as np
EPS = 1e-5

def relu_forward(x):
    return np.maximum(x, 0), {"x": x}

def relu_backward(dout, cache):
    return dout * (cache["x"] > 0)

def bn(x, bn_param):
    bn_param.setdefault("running_mean", np.zeros(x.shape[1]))
    bn_param["running_mean"] = 0.9 * bn_param["running_mean"] + 0.1 * x.mean(0)
    return x - x.mean(0)

def scale_in_place(x):
    x *= 2
    return x

def bad_mode(mode):
    raise ValueError(f"unknown mode {mode}")

def rand3():
    return np.random.rand(3)

def warn():
    return np.exp(np.array([1000.0]))

def noisy():
    print("hello from the student")
    return 1

class Model:
    def __init__(self, d, reg=0.0):
        self.params = {"W": np.ones((d, 2))}
        self.reg = reg

    def loss(self, X, y=None):
        s = X @ self.params["W"]
        return s if y is None else (float(s.sum()) + self.reg, {"W": np.zeros((2, 2))})
"""


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Worker:
    worker = worker_for(tmp_path_factory.mktemp("w"), CODE)
    yield worker
    worker.close()


def test_call_keep_ref_and_backward(w: Worker) -> None:
    x = np.array([[-1.0, 2.0], [0.0, 3.0]])
    reply = w.call("relu_forward", x, keep=(1,))
    out, cache = reply.value
    assert np.array_equal(out, np.maximum(x, 0)) and isinstance(cache, Ref)
    dx = w.call("relu_backward", np.ones_like(x), cache).value
    assert np.array_equal(dx, (x > 0).astype(float))


def test_float32_stays_float32(w: Worker) -> None:
    out, _ = w.call("relu_forward", np.ones(3, dtype=np.float32), keep=(1,)).value
    assert out.dtype == np.float32


def test_echo_args_shows_state_dict_updates_and_in_place_changes(w: Worker) -> None:
    x = np.arange(6.0).reshape(3, 2)
    param = {"mode": "train"}
    reply = w.call("bn", x, param, echo_args=True)
    assert param == {"mode": "train"}  # the trusted copy is untouched
    echoed_x, echoed_param = reply.args
    assert np.array_equal(echoed_x, x)
    assert np.allclose(echoed_param["running_mean"], 0.1 * x.mean(0))
    reply = w.call("scale_in_place", x, echo_args=True)
    assert np.array_equal(reply.args[0], 2 * x) and np.array_equal(x, np.arange(6.0).reshape(3, 2))


def test_exception_keeps_the_worker(w: Worker) -> None:
    pid = w.pid
    with pytest.raises(StudentError) as e:
        w.call("bad_mode", "bogus")
    assert e.value.kind == "exception" and e.value.raised("ValueError")
    assert "unknown mode bogus" in e.value.message and "sub.py" in e.value.where
    assert w.pid == pid and w.call("relu_forward", np.ones(1), keep=(1,)).value[0][0] == 1


def test_missing_name(w: Worker) -> None:
    assert w.has("relu_forward") and w.has("EPS") and not w.has("conv_forward_naive")
    with pytest.raises(StudentError) as e:
        w.call("conv_forward_naive", np.ones(1))
    assert e.value.kind == "missing" and "not defined in the submission" in str(e.value)


def test_has_asks_again_after_a_no_and_after_a_restart(tmp_path: Path) -> None:
    code = "import os\ndef define_b():\n    global B\n    B = 2\ndef die():\n    os._exit(3)\n"
    w = worker_for(tmp_path, code)
    try:
        assert not w.has("B")
        w.call("define_b")
        assert w.has("B") and w.has("B")  # a no is not remembered
        with pytest.raises(StudentError):
            w.call("die")
        assert not w.has("B")  # the new child has only the loaded definitions
        assert w.has("define_b") and w.restarts == 1
    finally:
        w.close()


def test_objects_methods_and_attributes(w: Worker) -> None:
    m = w.new("Model", 3, reg=0.5)
    params = w.getattr(m, "params")
    assert set(params) == {"W"} and params["W"].shape == (3, 2)
    w.setattr(m, "params", {"W": np.full((3, 2), 2.0)})
    assert w.getattr(m, "reg") == 0.5
    scores = w.method(m, "loss", np.ones((1, 3))).value
    assert np.array_equal(scores, np.full((1, 2), 6.0))
    loss, grads = w.method(m, "loss", np.ones((1, 3)), np.zeros(1, dtype=int)).value
    assert loss == 12.5 and grads["W"].shape == (2, 2)
    assert w.getattr(None, "EPS") == 1e-5


def test_seed_makes_worker_randomness_reproducible(w: Worker) -> None:
    w.seed(3)
    a = w.call("rand3").value
    w.seed(3)
    b = w.call("rand3").value
    expected = np.random.RandomState(3).rand(3)  # what np.random.seed(3) gives
    assert np.array_equal(a, b) and np.array_equal(a, expected)


def test_warnings_and_output_are_reported(w: Worker) -> None:
    reply = w.call("warn")
    assert any("overflow" in m for m in reply.warnings)
    assert "hello from the student" in w.call("noisy").output


def test_refs_are_released_and_stale_refs_refused(tmp_path: Path) -> None:
    worker = worker_for(
        tmp_path, CODE + "\ndef hang():\n    while True:\n        pass\n", timeout=0.5
    )
    with worker:
        _, cache = worker.call("relu_forward", np.ones(2), keep=(1,)).value
        rid = cache.id
        del cache
        gc.collect()
        assert rid in worker._pending_drop
        worker.ping()
        assert worker._pending_drop == []
        _, cache = worker.call("relu_forward", np.ones(2), keep=(1,)).value
        with pytest.raises(StudentError):
            worker.call("hang")
        with pytest.raises(StudentError) as e:
            worker.call("relu_backward", np.ones(2), cache)
        assert e.value.kind == "crashed" and "restarted" in e.value.message


def test_plain_sources_and_close_leaves_nothing() -> None:
    worker = Worker([Source("inline", "def f(a, b=2):\n    return a * b\n", names=("f",))])
    assert worker.call("f", 3).value == 6 and worker.call("f", 3, b=4).value == 12
    pid = worker.pid
    assert pid is not None
    worker.close()
    assert leftovers(pid) == []


def test_sandbox_environment(tmp_path: Path) -> None:
    code = """
    import os, sys
    def env():
        return {"keys": sorted(os.environ), "path": list(sys.path), "cwd": os.getcwd(),
                "flags": [sys.flags.no_site, sys.flags.no_user_site, sys.flags.safe_path],
                "files": sorted(os.listdir(".")), "hash": hash("abc")}
    """
    with worker_for(tmp_path, code) as worker:
        info = worker.call("env").value
    with worker_for(tmp_path, code) as worker:
        again = worker.call("env").value
    assert info["hash"] == again["hash"]  # PYTHONHASHSEED=0: reproducible set orders
    assert info["flags"] == [1, 1, True]
    allowed = {
        "PATH",
        "LANG",
        "LC_ALL",
        "HOME",
        "TMPDIR",
        "OPENBLAS_NUM_THREADS",
        "OMP_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMEXPR_NUM_THREADS",
        "MPLBACKEND",
        "PYTHONHASHSEED",
        "LC_CTYPE",
        "PWD",  # bwrap's: the scratch dir
    }
    assert set(info["keys"]) <= allowed
    assert not any("site-packages" in p for p in info["path"])
    assert [k for k in info["keys"] if k.startswith("PYTHON")] == ["PYTHONHASHSEED"]
    assert info["files"] == ["sub.py"] and info["cwd"] != str(tmp_path)
