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
