"""nnlib.data: bundled sets, readers of the published formats (on small synthetic files),
splits, the held-out split, and the download command (without network)."""

import hashlib
import io
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from nnkit import make_bundled_data
from nnkit.heldout import load_heldout
from nnlib import data

pytestmark = pytest.mark.studentlib

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _data_files import california_table, idx_bytes, write_california, write_cifar, write_mnist  # noqa: E402, F401

# ------------------------------------------------------------------------- bundled sets


def test_bundled_files_are_what_scikit_learn_gives():
    for name in data.BUNDLED:
        X_all, y_all = make_bundled_data.source_arrays(name)
        held = make_bundled_data.heldout_mask(len(X_all))
        X, y = data.load_bundled(name)
        X_held, y_held = load_heldout(name)
        np.testing.assert_array_equal(X, X_all[~held])
        np.testing.assert_array_equal(y, y_all[~held])
        np.testing.assert_array_equal(X_held, X_all[held])
        np.testing.assert_array_equal(y_held, y_all[held])
        assert X.dtype == X_held.dtype == np.float64
        assert y.dtype == y_held.dtype == y_all.dtype
        assert 0.15 <= held.mean() <= 0.2


def test_digits_public_and_heldout_rows_are_disjoint():
    X, _ = data.load_bundled("digits")
    X_held, _ = load_heldout("digits")
    public = {row.tobytes() for row in X.reshape(len(X), -1)}
    assert not [row for row in X_held.reshape(len(X_held), -1) if row.tobytes() in public]


def test_load_dataset_digits_splits():
    d = data.load_dataset("digits")
    assert d["X_train"].shape == (1227, 1, 8, 8) and d["X_train"].dtype == np.float64
    assert d["X_val"].shape == (150, 1, 8, 8) and d["X_test"].shape == (150, 1, 8, 8)
    assert d["y_train"].dtype == np.int64 and set(np.unique(d["y_train"])) == set(range(10))
    assert 0 <= d["X_train"].min() and d["X_train"].max() == 16
    X, _ = data.load_bundled("digits")
    together = np.concatenate([d["X_train"], d["X_val"], d["X_test"]])
    np.testing.assert_array_equal(
        np.sort(together.reshape(len(X), -1), axis=0), np.sort(X.reshape(len(X), -1), axis=0)
    )
    again = data.load_dataset("digits", seed=0)
    other = data.load_dataset("digits", seed=1, num_val=100)
    np.testing.assert_array_equal(d["X_val"], again["X_val"])
    assert other["X_val"].shape[0] == 100 and not np.array_equal(other["y_test"], d["y_test"])


def test_load_dataset_diabetes_is_regression():
    d = data.load_dataset("diabetes", num_val=40, num_test=30)
    assert d["X_train"].shape == (375 - 70, 10) and d["y_train"].dtype == np.float64
    assert d["X_val"].shape == (40, 10) and d["y_test"].shape == (30,)


def test_default_dataset_comes_from_the_course_setting(monkeypatch):
    """$NNKIT_DATASET (the grader's transport) names the classification and/or regression
    set; what it does not name stays bundled."""
    monkeypatch.delenv("NNKIT_DATASET", raising=False)
    assert data.default_dataset() == "digits"  # the repository's course setting
    assert data.selected_dataset("regression") == "diabetes"
    monkeypatch.setenv("NNKIT_DATASET", "california")
    assert data.selected_dataset() == "digits"
    assert data.selected_dataset("regression") == "california"
    assert data.load_dataset()["X_train"].shape[1:] == (1, 8, 8)
    monkeypatch.setenv("NNKIT_DATASET", "mnist+california")
    assert data.selected_dataset() == "mnist"
    assert data.selected_dataset("regression") == "california"
    monkeypatch.setenv("NNKIT_DATASET", "cifar10,diabetes")
    assert data.parse_selection("cifar10,diabetes") == {
        "classification": "cifar10",
        "regression": "diabetes",
    }
    for bad, match in [("imagenet", "unknown data set"), ("mnist+cifar10", "two classification")]:
        with pytest.raises(ValueError, match=match):
            data.parse_selection(bad)


def test_unknown_names_are_rejected():
    with pytest.raises(ValueError, match="unknown data set"):
        data.load_dataset("imagenet")
    with pytest.raises(ValueError, match="cannot take"):
        data.load_dataset("diabetes", num_val=200, num_test=200)


# ------------------------------------------------------------------------- published formats


def test_cifar10_reader_and_splits(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    batches = write_cifar(tmp_path / "cifar-10-batches-py", rng)
    X, y = data.load_cifar10(tmp_path)
    assert X.shape == (11, 3, 32, 32) and X.dtype == np.float64 and y.dtype == np.int64
    rows, labels = batches["data_batch_2"]
    np.testing.assert_array_equal(X[3:5], rows.reshape(2, 3, 32, 32))
    assert y[3:5].tolist() == labels
    # Channel-major rows: the first 1024 bytes are the red plane.
    assert X[0, 0, 0, 1] == batches["data_batch_1"][0][0, 1]
    assert X[0, 1, 0, 0] == batches["data_batch_1"][0][0, 1024]

    X_test, y_test = load_heldout("cifar10", tmp_path)
    np.testing.assert_array_equal(X_test.reshape(4, -1), batches["test_batch"][0])
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path))
    d = data.load_dataset("cifar10", num_val=2, num_test=3)
    assert [len(d[k]) for k in ("X_train", "X_val", "X_test")] == [6, 2, 3]
    returned = {r.tobytes() for k in ("X_train", "X_val", "X_test") for r in d[k]}
    assert not returned & {r.tobytes() for r in X_test}
    assert returned == {r.tobytes() for r in X}


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reader(tmp_path, gz):
    rng = np.random.default_rng(1)
    arrays = write_mnist(tmp_path / "mnist", rng, gz=gz)
    X, y = data.load_mnist(tmp_path)
    assert X.shape == (7, 1, 28, 28) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(X[:, 0], arrays["train_images"])
    np.testing.assert_array_equal(y, arrays["train_labels"])
    X_held, y_held = load_heldout("mnist", tmp_path)
    np.testing.assert_array_equal(X_held[:, 0], arrays["test_images"])
    d = data.load_dataset("mnist", num_val=2, num_test=2, data_dir=tmp_path)
    assert len(d["X_train"]) == 3 and len(d["y_val"]) == 2


def test_mnist_reader_rejects_a_bad_file(tmp_path):
    rng = np.random.default_rng(2)
    write_mnist(tmp_path / "mnist", rng)
    path = tmp_path / "mnist" / data.MNIST_FILES["train_labels"]
    path.write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x09" + bytes(3))
    with pytest.raises(ValueError, match="header says"):
        data.load_mnist(tmp_path)
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        data.load_mnist(tmp_path)


def test_california_reader_matches_scikit_learn_features(tmp_path):
    rng = np.random.default_rng(3)
    table = california_table(rng, 50)
    write_california(tmp_path / "CaliforniaHousing", table)
    X, y = data.load_california(tmp_path)
    # scikit-learn: MedInc, HouseAge, AveRooms, AveBedrms, Population, AveOccup, Lat, Long.
    lon, lat, age, rooms, beds, pop, house, income, value = table.T
    expected = np.column_stack(
        [income, age, rooms / house, beds / house, pop, pop / house, lat, lon]
    )
    np.testing.assert_allclose(X, expected, rtol=1e-12)
    np.testing.assert_allclose(y, value / 1e5, rtol=1e-12)

    held = data.california_heldout_mask(50)
    assert held.sum() == 5 and np.array_equal(held, data.california_heldout_mask(50))
    X_held, y_held = load_heldout("california", tmp_path)
    np.testing.assert_array_equal(X_held, X[held])
    d = data.load_dataset("california", num_val=5, num_test=5, data_dir=tmp_path)
    returned = np.concatenate([d["y_train"], d["y_val"], d["y_test"]])
    assert len(returned) == 45
    np.testing.assert_array_equal(np.sort(returned), np.sort(y[~held]))


def test_california_reader_uses_the_domain_column_order(tmp_path):
    rng = np.random.default_rng(4)
    table = california_table(rng, 6)
    write_california(tmp_path / "CaliforniaHousing", table[:, ::-1])
    domain = "".join(f"{n}: continuous.\n" for n in reversed(data.CALIFORNIA_COLUMNS))
    (tmp_path / "CaliforniaHousing" / "cal_housing.domain").write_text(domain)
    write_california(tmp_path / "ref" / "CaliforniaHousing", table)
    np.testing.assert_array_equal(
        data.load_california(tmp_path)[0], data.load_california(tmp_path / "ref")[0]
    )


@pytest.mark.parametrize("name", data.DOWNLOADABLE)
def test_missing_data_names_the_download_command(tmp_path, monkeypatch, name):
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path))
    command = f"python -m nnlib.data download {name} --dest {tmp_path}"
    with pytest.raises(data.DataMissingError, match=command):
        data.load_dataset(name)
    with pytest.raises(data.DataMissingError, match=command):
        load_heldout(name)


# ------------------------------------------------------------------------- download


def _tgz(path, files):
    with tarfile.open(path, "w:gz") as tar:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))


def _source(path, filename, algorithm="sha256"):
    digest = hashlib.new(algorithm, path.read_bytes()).hexdigest()
    return (path.as_uri(), filename, algorithm, digest)


def test_download_cifar_extracts_a_verified_archive(tmp_path, monkeypatch):
    rng = np.random.default_rng(5)
    batches = write_cifar(tmp_path / "src" / "cifar-10-batches-py", rng)
    archive = tmp_path / "cifar-10-python.tar.gz"
    _tgz(
        archive,
        {
            f"cifar-10-batches-py/{n}": (tmp_path / "src" / "cifar-10-batches-py" / n).read_bytes()
            for n in batches
        },
    )
    monkeypatch.setitem(data.SOURCES, "cifar10", [_source(archive, archive.name, "md5")])
    dest = tmp_path / "dest"
    assert data.main(["download", "cifar10", "--dest", str(dest)]) == 0
    X, _ = data.load_cifar10(dest)
    assert X.shape == (11, 3, 32, 32)
    assert sorted(p.name for p in dest.iterdir()) == ["cifar-10-batches-py"]


def test_a_failed_download_installs_no_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(8)
    write_mnist(tmp_path / "src", rng, gz=True)
    sources = [
        _source(tmp_path / "src" / f"{n}.gz", f"{n}.gz", "md5") for n in data.MNIST_FILES.values()
    ]
    sources[-1] = (*sources[-1][:3], "0" * 32)
    monkeypatch.setitem(data.SOURCES, "mnist", sources)
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz: md5 is"):
        data.download("mnist", tmp_path / "dest", quiet=True)
    assert list((tmp_path / "dest").iterdir()) == []


def test_download_mnist_keeps_the_gz_files(tmp_path, monkeypatch):
    rng = np.random.default_rng(6)
    arrays = write_mnist(tmp_path / "src", rng, gz=True)
    sources = [
        _source(tmp_path / "src" / f"{n}.gz", f"{n}.gz", "md5") for n in data.MNIST_FILES.values()
    ]
    monkeypatch.setitem(data.SOURCES, "mnist", sources)
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path / "home"))
    data.download("mnist", quiet=True)
    X, y = data.load_mnist()
    np.testing.assert_array_equal(y, arrays["train_labels"])


def test_download_california_then_load(tmp_path, monkeypatch):
    rng = np.random.default_rng(7)
    table = california_table(rng, 20)
    write_california(tmp_path / "src" / "CaliforniaHousing", table)
    archive = tmp_path / "cal_housing.tgz"
    _tgz(
        archive,
        {
            f"CaliforniaHousing/{n}": (tmp_path / "src" / "CaliforniaHousing" / n).read_bytes()
            for n in ("cal_housing.data", "cal_housing.domain")
        },
    )
    monkeypatch.setitem(data.SOURCES, "california", [_source(archive, archive.name)])
    data.download("california", tmp_path / "dest", quiet=True)
    X, y = data.load_california(tmp_path / "dest")
    np.testing.assert_allclose(y, table[:, 8] / 1e5)


def test_download_refuses_a_wrong_checksum_and_leaves_nothing(tmp_path, monkeypatch):
    archive = tmp_path / "cal_housing.tgz"
    _tgz(archive, {"CaliforniaHousing/cal_housing.data": b"1,2,3\n"})
    url, filename, algorithm, _ = _source(archive, archive.name)
    monkeypatch.setitem(data.SOURCES, "california", [(url, filename, algorithm, "0" * 64)])
    dest = tmp_path / "dest"
    with pytest.raises(ValueError, match="sha256 is .* expected 0000"):
        data.download("california", dest, quiet=True)
    assert list(dest.iterdir()) == []


def test_download_refuses_archive_members_outside_the_destination(tmp_path, monkeypatch):
    archive = tmp_path / "evil.tgz"
    _tgz(archive, {"../escaped.txt": b"x"})
    monkeypatch.setitem(data.SOURCES, "california", [_source(archive, "cal_housing.tgz")])
    with pytest.raises(ValueError, match="refusing archive member"):
        data.download("california", tmp_path / "dest", quiet=True)
    assert not (tmp_path / "escaped.txt").exists()


def test_published_sources_are_pinned():
    assert {name for name in data.SOURCES} == set(data.DOWNLOADABLE)
    for entries in data.SOURCES.values():
        for url, _, algorithm, digest in entries:
            assert url.startswith("https://")
            assert len(digest) == {"md5": 32, "sha256": 64}[algorithm]
    assert len(data.SOURCES["mnist"]) == 4
