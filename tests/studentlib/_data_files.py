"""Small files in the published formats of the downloaded data sets (CIFAR-10 python
batches, MNIST idx files, StatLib's California housing), for the tests of the readers, the
held-out splits and the course's data-set setting."""

import gzip
import pickle
import struct

import numpy as np

from nnlib import data


def write_cifar(folder, rng, sizes=(3, 2, 2, 2, 2), test_size=4):
    """CIFAR-10 python batches (pickled dicts of uint8 rows of 3072 and label lists)."""
    folder.mkdir(parents=True)
    batches = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name, n in zip(names, [*sizes, test_size], strict=True):
        rows = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        with (folder / name).open("wb") as f:
            pickle.dump({"batch_label": name, "data": rows, "labels": labels}, f)
        batches[name] = (rows, labels)
    return batches


def idx_bytes(array: np.ndarray) -> bytes:
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_mnist(folder, rng, n_train=7, n_test=3, gz=False):
    folder.mkdir(parents=True)
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": rng.integers(0, 10, n_train),
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": rng.integers(0, 10, n_test),
    }
    for key, array in arrays.items():
        raw = idx_bytes(array)
        name = data.MNIST_FILES[key]
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / name).write_bytes(raw)
    return arrays


def california_table(rng, n):
    """Rows in cal_housing.data column order (see data.CALIFORNIA_COLUMNS)."""
    households = rng.integers(50, 500, n).astype(float)
    return np.column_stack(
        [
            rng.uniform(-124, -114, n).round(2),
            rng.uniform(32, 42, n).round(2),
            rng.integers(1, 52, n),
            households * rng.uniform(3, 7, n).round(1),
            households * rng.uniform(0.8, 1.2, n).round(1),
            rng.integers(100, 3000, n),
            households,
            rng.uniform(0.5, 15, n).round(4),
            rng.integers(15000, 500001, n),
        ]
    ).astype(float)


def write_california(folder, table):
    folder.mkdir(parents=True)
    lines = [",".join(f"{v:f}" for v in row) for row in table]
    (folder / "cal_housing.data").write_text("\n".join(lines) + "\n")
    domain = "".join(f"{name}: continuous.\n" for name in data.CALIFORNIA_COLUMNS)
    (folder / "cal_housing.domain").write_text(domain)
