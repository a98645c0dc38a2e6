"""nnlib.model_io: data-only model files, round trips and clear errors."""

# The API (and reproducible runs after np.random.seed) use numpy's global random state.
# ruff: noqa: NPY002

import json
import zipfile

import numpy as np
import pytest

from nnlib.model_io import ModelFileError, load_model, save_model
from reference import classifiers, neural_net

pytestmark = pytest.mark.studentlib


def _trained_fc():
    np.random.seed(0)
    model = classifiers.FullyConnectedNet(
        [7, 5], input_dim=12, num_classes=4, normalization="batchnorm", dtype=np.float64
    )
    X, y = np.random.randn(16, 12), np.random.randint(4, size=16)
    for _ in range(3):  # fills the batchnorm running statistics
        model.loss(X, y)
    return model, X


def test_fully_connected_round_trip_keeps_running_stats(tmp_path):
    model, X = _trained_fc()
    path = save_model(tmp_path / "fc.npz", model, dataset="digits", val_acc=np.float64(0.5))
    saved = load_model(path)
    assert saved.class_name == "FullyConnectedNet"
    assert saved.config == {
        "hidden_dims": [7, 5],
        "input_dim": 12,
        "num_classes": 4,
        "normalization": "batchnorm",
    }
    assert saved.extra == {"dataset": "digits", "val_acc": 0.5}
    assert sorted(saved.running_stats) == [1, 2]
    state = np.random.get_state()[1].copy()
    rebuilt = saved.build(classifiers)
    np.testing.assert_array_equal(np.random.get_state()[1], state)
    for name, value in model.params.items():
        np.testing.assert_array_equal(rebuilt.params[name], value)
    np.testing.assert_array_equal(rebuilt.loss(X), model.loss(X))  # test mode uses the stats
    assert not np.array_equal(
        rebuilt.loss(X),
        classifiers.FullyConnectedNet(
            [7, 5], input_dim=12, num_classes=4, normalization="batchnorm", dtype=np.float64
        ).loss(X),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_net_round_trip(tmp_path, dtype):
    np.random.seed(1)
    model = classifiers.ThreeLayerConvNet(
        input_dim=(3, 8, 8),
        num_filters=4,
        filter_size=3,
        hidden_dim=6,
        num_classes=5,
        weight_scale=0.1,
        dtype=dtype,
    )
    X = np.random.randn(2, 3, 8, 8)
    save_model(tmp_path / "conv.npz", model)
    saved = load_model(tmp_path / "conv.npz")
    assert saved.config == {
        "input_dim": [3, 8, 8],
        "num_filters": 4,
        "filter_size": 3,
        "hidden_dim": 6,
        "num_classes": 5,
    }
    rebuilt = saved.build(classifiers)
    assert rebuilt.params["W1"].dtype == dtype
    np.testing.assert_array_equal(rebuilt.loss(X), model.loss(X))


def test_standalone_and_modular_two_layer_nets(tmp_path):
    np.random.seed(2)
    net = neural_net.TwoLayerNet(5, 6, 3, std=0.1)
    save_model(tmp_path / "net.npz", net)
    saved = load_model(tmp_path / "net.npz")
    assert saved.standalone and saved.config == {
        "input_size": 5,
        "hidden_size": 6,
        "output_size": 3,
    }
    X = np.random.randn(4, 5)
    np.testing.assert_array_equal(saved.build(neural_net).predict(X), net.predict(X))
    with pytest.raises(ModelFileError, match="not a TwoLayerNet"):
        saved.load_into(classifiers.TwoLayerNet(5, 6, 3))

    modular = classifiers.TwoLayerNet(input_dim=5, hidden_dim=6, num_classes=3)
    save_model(tmp_path / "modular.npz", modular)
    loaded = load_model(tmp_path / "modular.npz")
    assert not loaded.standalone and loaded.config["hidden_dim"] == 6
    np.testing.assert_array_equal(loaded.build(classifiers).loss(X), modular.loss(X))


def test_files_contain_no_pickles(tmp_path):
    model, _ = _trained_fc()
    save_model(tmp_path / "fc.npz", model)
    with zipfile.ZipFile(tmp_path / "fc.npz") as z:
        names = sorted(z.namelist())
    assert "meta.npy" in names and "param/W1.npy" in names and "bn/1/running_mean.npy" in names
    with np.load(tmp_path / "fc.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["meta"]))
    assert meta["format"] == 1 and meta["class"] == "FullyConnectedNet"


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    for key, value in changes.items():
        key = key.replace("__", "/")
        if value is None:
            arrays.pop(key)
        else:
            arrays[key] = value
    with open(path, "wb") as f:
        np.savez(f, **arrays)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"param__W2": np.zeros((7, 9))}, r"W2 has shape \(7, 9\), expected \(7, 5\)"),
        ({"param__b3": None}, r"parameters missing \['b3'\]"),
        ({"param__W9": np.zeros(2)}, r"unexpected \['W9'\]"),
        ({"param__W1": np.zeros((12, 7), dtype=np.int64)}, "W1 has dtype int64"),
        ({"param__b1": np.full(7, np.nan)}, "b1 holds NaN"),
        ({"bn__3__running_mean": np.zeros(5)}, "no batchnorm layer 3"),
        ({"bn__1__running_var": np.zeros(3)}, r"bn/1/running_var has shape \(3,\)"),
        ({"meta": None}, "no 'meta' entry"),
        ({"meta": np.array("{oops")}, "not valid JSON"),
        ({"meta": np.array(json.dumps({"format": 2}))}, "unsupported format 2"),
        (
            {"meta": np.array(json.dumps({"format": 1, "class": "Evil", "config": {}}))},
            "unknown model class 'Evil'",
        ),
        (
            {
                "meta": np.array(
                    json.dumps(
                        {
                            "format": 1,
                            "class": "FullyConnectedNet",
                            "config": {"hidden_dims": [7, 5], "input_dim": 12},
                        }
                    )
                )
            },
            r"missing \['num_classes', 'normalization'\]",
        ),
    ],
)
def test_malformed_files_give_clear_errors(tmp_path, change, message):
    model, _ = _trained_fc()
    path = tmp_path / "fc.npz"
    save_model(path, model)
    _rewrite(path, **change)
    with pytest.raises(ModelFileError, match=message):
        load_model(path)


def test_pickled_or_foreign_files_are_refused(tmp_path):
    path = tmp_path / "obj.npz"
    np.savez(path, meta=np.array(json.dumps({"format": 1})), evil=np.array([{"a": 1}]))
    with pytest.raises(ModelFileError, match="not a saved model"):
        load_model(path)
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(ModelFileError, match="not a saved model"):
        load_model(tmp_path / "text.npz")


def test_unsupported_models_are_refused(tmp_path):
    class Custom:
        params = {"W": np.zeros(2)}

    with pytest.raises(ModelFileError, match="cannot save a Custom"):
        save_model(tmp_path / "c.npz", Custom())
    assert not (tmp_path / "c.npz").exists()


# ------------------------------------------------------------------ hostile files


def _npy_header(shape, descr="<f8"):
    text = repr({"descr": descr, "fortran_order": False, "shape": shape}).encode("latin1")
    pad = -(10 + len(text) + 1) % 64
    text += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _zip(path, members):
    """A zip written by hand: members are (name, payload chunks, declared size or None).

    Payloads are deflated as they stream (nothing large is held in memory); a declared size
    other than the real one makes the directory lie about it.
    """
    import struct
    import zlib

    out = bytearray()
    central = bytearray()
    for name, chunks, declared in members:
        comp = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = bytearray()
        crc = size = 0
        for chunk in chunks:
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            packed += comp.compress(chunk)
        packed += comp.flush()
        size = size if declared is None else declared
        raw = name.encode()
        fields = (20, 0, 8, 0, 0, crc, len(packed), size, len(raw))
        offset = len(out)
        out += struct.pack("<4s5H3L2H", b"PK\x03\x04", *fields, 0) + raw + packed
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset)
        central += raw
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(out), 0
    )
    path.write_bytes(bytes(out + central + end))
    return path


def _zeros(n, chunk=2**20):
    while n > 0:
        yield bytes(min(chunk, n))
        n -= chunk


def _meta():
    meta = json.dumps({"format": 1, "class": "TwoLayerNet", "config": {}})
    a = np.array(meta)
    return [_npy_header((), a.dtype.str) + a.tobytes()]


HUGE = 300 * 2**20  # decompressed size of the bombs (compressed: a few hundred KB)

HOSTILE = {
    # honest sizes, absurd total: a classic zip bomb
    "bomb": lambda p: _zip(
        p,
        [
            ("meta.npy", _meta(), None),
            ("param/W1.npy", [_npy_header((HUGE // 8,)), *_zeros(HUGE)], None),
        ],
    ),
    # a small shape and a small declared size, but the data inflates to 300 MB
    "small shape, huge data": lambda p: _zip(
        p,
        [
            ("meta.npy", _meta(), None),
            ("param/W1.npy", [_npy_header((2, 2)), *_zeros(HUGE)], 128 + 32),
        ],
    ),
    # a huge shape (80 GB) over 32 bytes of data
    "huge shape": lambda p: _zip(
        p,
        [
            ("meta.npy", _meta(), None),
            ("param/W1.npy", [_npy_header((100_000, 100_000)), bytes(32)], None),
        ],
    ),
    # the directory claims 2 GB for a few compressed bytes
    "lying size": lambda p: _zip(
        p, [("meta.npy", _meta(), None), ("param/W1.npy", [_npy_header((4,)), bytes(32)], 2**31)]
    ),
    "object array": lambda p: _zip(
        p,
        [
            ("meta.npy", _meta(), None),
            ("param/W1.npy", [_npy_header((1,), "|O"), b"\x80\x04N."], None),
        ],
    ),
    "unexpected member": lambda p: _zip(
        p, [("meta.npy", _meta(), None), ("../../etc/passwd", [b"x"], None)]
    ),
}

_LOAD_IN_A_BOX = """
import json, resource, sys
import numpy as np
from nnlib.model_io import ModelFileError, load_model

out = {}
for path in sys.argv[1:]:
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        load_model(path)
        out[path] = ["loaded", 0]
    except ModelFileError as e:
        out[path] = ["ModelFileError: " + str(e), 0]
    except BaseException as e:
        out[path] = [type(e).__name__ + ": " + str(e), 0]
    out[path][1] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024
print(json.dumps(out))
"""


def test_crafted_model_files_are_refused_from_their_headers(tmp_path):
    """Zip bombs and lying headers: a clean ModelFileError, memory bounded (RLIMIT_AS 1 GiB,
    peak RSS grows < 200 MB), before any array is loaded."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    paths = {}
    for i, (case, make) in enumerate(HOSTILE.items()):
        paths[case] = str(make(tmp_path / f"m{i}.npz"))
        assert Path(paths[case]).stat().st_size < 2 * 2**20  # small files
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(repo), "OPENBLAS_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_IN_A_BOX, *paths.values()],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout)
    expected = {
        "bomb": "more than 67108864 bytes uncompressed",
        "small shape, huge data": "claims 160 bytes from",
        "huge shape": "declares shape (100000, 100000)",
        "lying size": "more than 67108864 bytes uncompressed",
        "object array": "holds objects",
        "unexpected member": "unexpected entry '../../etc/passwd'",
    }
    for case, path in paths.items():
        message, grown = got[path]
        assert message.startswith("ModelFileError: "), (case, message)
        assert expected[case] in message, (case, message)
        assert grown < 200 * 2**20, (case, grown)


def test_a_smaller_cap_refuses_a_real_model(tmp_path):
    model, _ = _trained_fc()
    path = save_model(tmp_path / "fc.npz", model)
    assert load_model(path).class_name == "FullyConnectedNet"
    with pytest.raises(ModelFileError, match="larger than 100 bytes"):
        load_model(path, max_bytes=100)


def test_a_regression_net_comes_back_as_a_regression_net(tmp_path):
    np.random.seed(3)
    model = classifiers.FullyConnectedNet([7], input_dim=4, num_classes=1, category="regression")
    X, y = np.random.randn(5, 4), np.random.randn(5)
    save_model(tmp_path / "reg.npz", model)
    saved = load_model(tmp_path / "reg.npz")
    assert saved.config["category"] == "regression"
    rebuilt = saved.build(classifiers)
    assert rebuilt.category == "regression"
    np.testing.assert_array_equal(rebuilt.loss(X, y)[0], model.loss(X, y)[0])
    # a classifier's file names no category (files of older kits read the same)
    save_model(tmp_path / "cls.npz", classifiers.FullyConnectedNet([7], input_dim=4))
    assert "category" not in load_model(tmp_path / "cls.npz").config


def test_an_unknown_category_is_refused(tmp_path):
    model = classifiers.FullyConnectedNet([3], input_dim=2, num_classes=1, category="regression")
    save_model(tmp_path / "reg.npz", model)
    with np.load(tmp_path / "reg.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta"] = np.array(str(arrays["meta"]).replace('"regression"', '"astrology"'))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ModelFileError, match="category='astrology' is not valid"):
        load_model(tmp_path / "bad.npz")
