"""Object references: one worker-side id per Ref handed out, released exactly once."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest
from _engine_util import worker_for

from nnkit.sandbox import Ref, StudentError, Worker

pytestmark = pytest.mark.engine

CODE = """
import weakref
import numpy as np

SHARED = {"scale": 2.0}
_watch = []

def dropout_test_mode(x):
    return x, None  # the same object (None) as the cache of every call

def use_none(dout, cache):
    if cache is not None:
        raise ValueError("expected the None cache")
    return dout

def shared_forward(x):
    return x * SHARED["scale"], SHARED  # the same dict as the cache of every call

def shared_backward(dout, cache):
    return dout * cache["scale"]

class Box:
    pass

def fresh_forward(x):
    box = Box()
    box.x = x
    _watch.append(weakref.ref(box))
    return x, box

def alive():
    return sum(r() is not None for r in _watch)

def pair():
    box = Box()
    return box, box

class Model:
    def __init__(self):
        self.w = 3.0

    def loss(self, x):
        return x * self.w

def apply(model, x):
    return model.loss(x)
"""


@pytest.fixture(scope="module")
def w(tmp_path_factory: pytest.TempPathFactory) -> Worker:
    worker = worker_for(tmp_path_factory.mktemp("refs"), CODE)
    yield worker
    worker.close()


def _release(worker: Worker) -> None:
    """Collect dropped Refs and deliver their release to the worker."""
    gc.collect()
    worker.ping()


def test_releasing_an_earlier_ref_to_the_same_object_keeps_the_newer_one(w: Worker) -> None:
    # dropout in test mode: every call returns the same None as its cache
    _, first = w.call("dropout_test_mode", np.ones(2), keep=(1,)).value
    _, second = w.call("dropout_test_mode", np.ones(2), keep=(1,)).value
    assert isinstance(first, Ref) and isinstance(second, Ref) and first.id != second.id
    del first
    _release(w)
    assert np.array_equal(w.call("use_none", np.ones(2), second).value, np.ones(2))


def test_a_shared_cache_outlives_every_handle_but_the_last(w: Worker) -> None:
    refs = [w.call("shared_forward", np.ones(2), keep=(1,)).value[1] for _ in range(3)]
    last = refs.pop()
    refs.clear()
    _release(w)
    assert np.array_equal(w.call("shared_backward", np.ones(2), last).value, 2 * np.ones(2))


def test_the_same_object_kept_twice_in_one_reply(w: Worker) -> None:
    a, b = w.call("pair", keep=(0, 1)).value
    assert a.id != b.id
    del a
    _release(w)
    w.setattr(b, "tag", 7)
    assert w.getattr(b, "tag") == 7


def test_an_echoed_ref_is_a_handle_of_its_own(w: Worker) -> None:
    model = w.new("Model")
    reply = w.call("apply", model, 2.0, echo_args=True)
    assert reply.value == 6.0
    echoed = reply.args[0]
    assert isinstance(echoed, Ref) and echoed.id != model.id
    del echoed, reply
    _release(w)
    assert w.method(model, "loss", 1.0).value == 3.0


def test_objects_are_freed_when_the_last_handle_goes(w: Worker) -> None:
    before = w.call("alive").value
    refs = [w.call("fresh_forward", np.ones(2), keep=(1,)).value[1] for _ in range(3)]
    assert w.call("alive").value == before + 3
    del refs
    _release(w)
    assert w.call("alive").value == before


def test_refs_of_a_refused_reply_are_not_leaked(tmp_path: Path) -> None:
    code = CODE + "\ndef junk(x):\n    box = Box()\n    _watch.append(weakref.ref(box))\n"
    code += "    return object(), box\n"
    with worker_for(tmp_path, code) as worker:
        with pytest.raises(StudentError) as e:
            worker.call("junk", 1, keep=(1,))
        assert e.value.kind == "bad_return"
        assert worker.call("alive").value == 0


# ---------------------------------------------------------------- opaque student objects

OPAQUE = (
    CODE
    + """

class Cache:
    def __init__(self, x):
        self.x = x
        self.dtype = x.dtype  # not data: a numpy dtype object

def odd_forward(x):
    return x * 2, (x, x.dtype, Cache(x), lambda: 0)

def odd_backward(dout, cache):
    x, dt, box, _ = cache
    assert box.x is x and dt == x.dtype
    return (dout * 2).astype(dt)

def list_forward(x):
    return [x + 1, {"x": x, "t": np.float32}]

def store_dtype(x, param):
    param["dtype"] = x.dtype  # a student's own entry in a state dict
    param["running"] = x.mean()
    return x, param

def rule(w, dw, config=None):
    config = {} if config is None else config
    config["kind"] = w.dtype
    return w - dw, config
"""
)


def test_a_cache_holding_non_data_goes_back_untouched(tmp_path: Path) -> None:
    """The cache stays in the worker; echoing the backward's arguments sends the cache Ref
    back as a Ref (never decoded), so a cache holding a dtype, an object or a lambda costs
    nothing."""
    with worker_for(tmp_path, OPAQUE) as worker:
        x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
        out, cache = worker.call("odd_forward", x, keep=(1,)).value
        assert isinstance(cache, Ref) and out.dtype == np.float32
        reply = worker.call("odd_backward", np.ones_like(x), cache, echo_args=True)
        assert reply.value.dtype == np.float32 and np.array_equal(reply.value, 2 * np.ones_like(x))
        dout_echo, cache_echo = reply.args
        assert np.array_equal(dout_echo, np.ones_like(x))
        assert isinstance(cache_echo, Ref) and cache_echo.id != cache.id
        again = worker.call("odd_backward", np.ones_like(x), cache)  # still usable
        assert np.array_equal(again.value, reply.value)


def test_a_list_result_keeps_its_cache(tmp_path: Path) -> None:
    with worker_for(tmp_path, OPAQUE) as worker:
        out, cache = worker.call("list_forward", np.zeros(2), keep=(1,)).value
        assert np.array_equal(out, np.ones(2)) and isinstance(cache, Ref)


def test_non_data_in_echoed_state_dicts_and_opaque_results(tmp_path: Path) -> None:
    """A student's own non-data entries: Refs in the echo; with opaque=True in results too;
    without it a non-data result is still refused."""
    with worker_for(tmp_path, OPAQUE) as worker:
        x = np.ones((2, 2))
        reply = worker.call("store_dtype", x, {"mode": "train"}, echo_args=True, keep=(1,))
        param = reply.args[1]
        assert param["mode"] == "train" and param["running"] == 1.0
        assert isinstance(param["dtype"], Ref)
        w = np.ones(3)
        with pytest.raises(StudentError) as e:
            worker.call("rule", w, w)
        assert e.value.kind == "bad_return"
        next_w, config = worker.call("rule", w, w, opaque=True).value
        assert np.array_equal(next_w, np.zeros(3)) and isinstance(config["kind"], Ref)
