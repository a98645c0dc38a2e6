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
