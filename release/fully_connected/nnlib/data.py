"""Data sets for the assignments: bundled offline sets and readers of the published formats.

Bundled (offline, shipped in ``data/``): ``'digits'`` (scikit-learn's 8x8 digits, images
(N, 1, 8, 8) float64 in [0, 16], labels 0-9) and ``'diabetes'`` (scikit-learn's diabetes
regression set, X (N, 10) float64, y (N,) float64). Only their public part is bundled.

Downloaded (``python -m nnlib.data download cifar10|mnist|california [--dest DIR]``):
CIFAR-10 (images (N, 3, 32, 32) float64 in [0, 255]), MNIST (images (N, 1, 28, 28) float64 in
[0, 255]) and California housing (X (N, 8) float64 with scikit-learn's features, y (N,) in
units of 100,000 dollars). The data directory is ``$NNKIT_DATA`` (default ``~/.nnkit/data``).

``load_dataset(name)`` returns train / validation / test splits carved from the public data
only: the official CIFAR-10 test batch, the MNIST t10k files and a fixed 10 % of California
housing are held out for grading and never returned. Nothing is preprocessed (no mean is
subtracted); the notebooks do that themselves.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import pickle
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "BUNDLED",
    "DOWNLOADABLE",
    "SOURCES",
    "DataMissingError",
    "CLASSIFICATION",
    "REGRESSION",
    "california_heldout_mask",
    "default_dataset",
    "download",
    "load_bundled",
    "load_california",
    "load_cifar10",
    "load_dataset",
    "load_mnist",
    "parse_selection",
    "resolve_data_dir",
    "selected_dataset",
    "split_dataset",
]

BUNDLED = ("digits", "diabetes")
DOWNLOADABLE = ("cifar10", "mnist", "california")

#: Default (num_val, num_test) carved out of the public data of each set.
SPLIT_SIZES: dict[str, tuple[int, int]] = {
    "digits": (150, 150),
    "diabetes": (50, 50),
    "cifar10": (1000, 1000),
    "mnist": (5000, 5000),
    "california": (2000, 2000),
}

CIFAR_DIR = "cifar-10-batches-py"
MNIST_DIR = "mnist"
CALIFORNIA_DIR = "CaliforniaHousing"
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CALIFORNIA_HELDOUT_SEED = 20240601
CALIFORNIA_HELDOUT_FRACTION = 0.1

#: Download sources: name -> list of (url, file name, hash algorithm, hex digest).
SOURCES: dict[str, list[tuple[str, str, str, str]]] = {
    "cifar10": [
        (
            "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
            "cifar-10-python.tar.gz",
            "md5",
            "c58f30108f718f92721af3b95e74349a",
        )
    ],
    "mnist": [
        (
            f"https://ossci-datasets.s3.amazonaws.com/mnist/{stem}.gz",
            f"{stem}.gz",
            "md5",
            digest,
        )
        for stem, digest in [
            ("train-images-idx3-ubyte", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
            ("train-labels-idx1-ubyte", "d53e105ee54ea40749a09fcbcd1e9432"),
            ("t10k-images-idx3-ubyte", "9fb629c4189551a2d022fa330f9573f3"),
            ("t10k-labels-idx1-ubyte", "ec29112dd5afa0611ce80d1b7f02629c"),
        ]
    ],
    "california": [
        (
            "https://ndownloader.figshare.com/files/5976036",
            "cal_housing.tgz",
            "sha256",
            "aaa5c9a6afe2225cc2aed2723682ae403280c4a3695a2ddda4ffb5d8215ea681",
        )
    ],
}


class DataMissingError(FileNotFoundError):
    """A data set is not on disk; the message names the command that downloads it."""


def resolve_data_dir(path: str | os.PathLike | None = None) -> Path:
    """The data directory: ``path`` if given, else ``$NNKIT_DATA``, else ``~/.nnkit/data``."""
    if path is not None:
        return Path(path).expanduser()
    return Path(os.environ.get("NNKIT_DATA") or Path.home() / ".nnkit" / "data").expanduser()


#: Classification sets (images, integer labels) and regression sets (features, real targets).
CLASSIFICATION = ("digits", "mnist", "cifar10")
REGRESSION = ("diabetes", "california")
#: How the course's data-set setting reaches the notebooks (the grader sets it in the sandbox).
SELECTION_ENV = "NNKIT_DATASET"


def parse_selection(text: str | Sequence[str] | None) -> dict[str, str]:
    """The data sets a course setting selects: ``{"classification": ..., "regression": ...}``.

    ``text`` names one or two data sets (``"mnist"``, ``"california"``, ``"mnist+california"``,
    ``"cifar10,california"``, or a list); what it does not name stays bundled (``digits`` for
    classification, ``diabetes`` for regression). ``"bundled"`` and ``""`` mean both bundled.
    """
    chosen = {"classification": "digits", "regression": "diabetes"}
    if text is None:
        return chosen
    names = [text] if isinstance(text, str) else list(text)
    parts = [p.strip().lower() for n in names for p in str(n).replace(",", "+").split("+")]
    seen: dict[str, str] = {}
    for name in parts:
        if name in ("", "bundled"):
            continue
        task = "classification" if name in CLASSIFICATION else None
        task = "regression" if name in REGRESSION else task
        if task is None:
            raise ValueError(
                f"unknown data set {name!r}; choose from {CLASSIFICATION + REGRESSION} "
                "(one classification and one regression set at most, e.g. 'mnist+california')"
            )
        if task in seen and seen[task] != name:
            raise ValueError(f"two {task} data sets selected: {seen[task]!r} and {name!r}")
        seen[task] = chosen[task] = name
    return chosen


def course_selection() -> str | None:
    """The course's data-set setting as the release ships it (``nnlib/selfcheck.json``,
    written by ``nnkit release`` from the course config), or None."""
    import json

    try:
        text = Path(__file__).with_name("selfcheck.json").read_text(encoding="utf-8")
        value = json.loads(text).get("dataset")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def selected_dataset(task: str = "classification") -> str:
    """The course's data set for ``task`` ('classification' or 'regression'):
    ``$NNKIT_DATASET`` when set (the grader sets it), else the course's setting shipped with
    the release, else the bundled ``digits`` / ``diabetes``."""
    if task not in ("classification", "regression"):
        raise ValueError(f"task must be 'classification' or 'regression', not {task!r}")
    return parse_selection(os.environ.get(SELECTION_ENV) or course_selection())[task]


def default_dataset() -> str:
    """The classification data set the notebooks use (:func:`selected_dataset`)."""
    return selected_dataset("classification")


def _missing(name: str, what: Path, root: Path) -> DataMissingError:
    return DataMissingError(
        f"{name} data not found ({what} is missing). Download it with:\n"
        f"    python -m nnlib.data download {name} --dest {root}"
    )


# ---------------------------------------------------------------------------------------------
# Bundled sets
# ---------------------------------------------------------------------------------------------


def load_bundled(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Public part (X, y) of a bundled set: 'digits' -> X (N, 1, 8, 8), y (N,) int64;
    'diabetes' -> X (N, 10), y (N,) float64."""
    if name not in BUNDLED:
        raise ValueError(f"unknown bundled data set {name!r}; choose from {BUNDLED}")
    with np.load(Path(__file__).with_name("data") / f"{name}.npz", allow_pickle=False) as f:
        X, y = f["X"].astype(np.float64), f["y"]
    if name == "digits":
        return X, y.astype(np.int64)
    return X, y.astype(np.float64)


# ---------------------------------------------------------------------------------------------
# Readers of the published formats
# ---------------------------------------------------------------------------------------------


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with path.open("rb") as f:
        # The CIFAR-10 "python version" is a pickle; only these official batch files are
        # unpickled, nothing else in the kit is.
        batch = pickle.load(f, encoding="latin1")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch["labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(labels) != len(data):
        raise ValueError(f"{path} is not a CIFAR-10 batch: data {data.shape}, {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32).astype(np.float64), labels


def load_cifar10(
    directory: str | os.PathLike | None = None, test: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10 from ``cifar-10-batches-py``: X (N, 3, 32, 32) float64, y (N,) int64.

    ``directory`` holds ``cifar-10-batches-py`` (or is it). Returns data_batch_1..5
    (N = 50000), or test_batch with ``test=True``.
    """
    root = resolve_data_dir(directory)
    folder = root if (root / "data_batch_1").exists() else root / CIFAR_DIR
    names = ["test_batch"] if test else [f"data_batch_{i}" for i in range(1, 6)]
    for name in names:
        if not (folder / name).is_file():
            raise _missing("cifar10", folder / name, root)
    parts = [_cifar_batch(folder / n) for n in names]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _read_idx(path: Path) -> np.ndarray:
    """An idx file (optionally .gz) as an array of its stored shape and dtype."""
    if path.is_file():
        raw = path.read_bytes()
    else:
        raw = gzip.decompress(path.with_name(path.name + ".gz").read_bytes())
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in dtypes:
        raise ValueError(f"{path}: not an idx file (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(dtypes[raw[2]])
    body = raw[4 + 4 * ndim :]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise ValueError(f"{path}: header says {shape} but holds {len(body)} bytes")
    return np.frombuffer(body, dtype=dtype).reshape(shape)


def load_mnist(
    directory: str | os.PathLike | None = None, test: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """MNIST from idx files (``.gz`` or not): X (N, 1, 28, 28) float64, y (N,) int64.

    ``directory`` holds ``mnist/`` (or is it). Returns the train files (N = 60000), or the
    t10k files with ``test=True``.
    """
    root = resolve_data_dir(directory)
    folder = root / MNIST_DIR if (root / MNIST_DIR).is_dir() else root
    prefix = "test" if test else "train"
    paths = [folder / MNIST_FILES[f"{prefix}_{part}"] for part in ("images", "labels")]
    for path in paths:
        if not path.is_file() and not path.with_name(path.name + ".gz").is_file():
            raise _missing("mnist", path.with_name(path.name + ".gz"), root)
    images, labels = (_read_idx(path) for path in paths)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise ValueError(f"MNIST files disagree: images {images.shape}, labels {labels.shape}")
    X = images.reshape(len(images), 1, *images.shape[1:]).astype(np.float64)
    return X, labels.astype(np.int64)


CALIFORNIA_COLUMNS = (
    "longitude",
    "latitude",
    "housingMedianAge",
    "totalRooms",
    "totalBedrooms",
    "population",
    "households",
    "medianIncome",
    "medianHouseValue",
)
CALIFORNIA_FEATURES = (
    "MedInc",
    "HouseAge",
    "AveRooms",
    "AveBedrms",
    "Population",
    "AveOccup",
    "Latitude",
    "Longitude",
)


def load_california(directory: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """California housing from StatLib's ``cal_housing.data`` / ``cal_housing.domain``.

    Returns all 20640 rows as scikit-learn's fetch_california_housing does: X (N, 8) with
    columns CALIFORNIA_FEATURES (rooms, bedrooms and occupancy per household), y (N,) the
    median house value in units of 100,000.
    """
    root = resolve_data_dir(directory)
    folder = root / CALIFORNIA_DIR if (root / CALIFORNIA_DIR).is_dir() else root
    path = folder / "cal_housing.data"
    if not path.is_file():
        raise _missing("california", path, root)
    domain = folder / "cal_housing.domain"
    columns = CALIFORNIA_COLUMNS
    if domain.is_file():
        lines = [ln for ln in domain.read_text().splitlines() if ln.strip()]
        columns = tuple(ln.split(":")[0].strip() for ln in lines)
        if sorted(columns) != sorted(CALIFORNIA_COLUMNS):
            raise ValueError(f"{domain}: unexpected columns {columns}")
    table = np.loadtxt(path, delimiter=",", ndmin=2)
    if table.shape[1] != len(columns):
        raise ValueError(f"{path}: {table.shape[1]} columns, expected {len(columns)}")
    col = {name: table[:, columns.index(name)] for name in columns}
    households = col["households"]
    X = np.stack(
        [
            col["medianIncome"],
            col["housingMedianAge"],
            col["totalRooms"] / households,
            col["totalBedrooms"] / households,
            col["population"],
            col["population"] / households,
            col["latitude"],
            col["longitude"],
        ],
        axis=1,
    )
    return X, col["medianHouseValue"] / 100000.0


def california_heldout_mask(n: int) -> np.ndarray:
    """Boolean mask (n,) of the fixed 10 % of California housing held out for grading."""
    rng = np.random.default_rng(CALIFORNIA_HELDOUT_SEED)
    mask = np.zeros(n, dtype=bool)
    mask[rng.permutation(n)[: int(round(CALIFORNIA_HELDOUT_FRACTION * n))]] = True
    return mask


# ---------------------------------------------------------------------------------------------
# Splits
# ---------------------------------------------------------------------------------------------


def split_dataset(
    X: np.ndarray, y: np.ndarray, num_val: int, num_test: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Shuffle (X, y) with ``seed`` and cut it into train / val / test.

    Returns a dict with X_train, y_train, X_val, y_val, X_test, y_test; val and test have
    num_val and num_test rows, train the rest.
    """
    n = len(X)
    if num_val < 0 or num_test < 0 or num_val + num_test >= n:
        raise ValueError(f"cannot take {num_val} val + {num_test} test rows out of {n}")
    order = np.random.default_rng(seed).permutation(n)
    val, test, train = np.split(order, [num_val, num_val + num_test])
    return {
        "X_train": X[train],
        "y_train": y[train],
        "X_val": X[val],
        "y_val": y[val],
        "X_test": X[test],
        "y_test": y[test],
    }


def load_dataset(
    name: str | None = None,
    num_val: int | None = None,
    seed: int = 0,
    data_dir: str | os.PathLike | None = None,
    num_test: int | None = None,
) -> dict[str, np.ndarray]:
    """Train / val / test splits of a data set (never its held-out grading split).

    name: 'digits', 'diabetes', 'cifar10', 'mnist' or 'california' (default: the course's
    classification set, :func:`selected_dataset`). num_val / num_test default to
    SPLIT_SIZES[name]; seed shuffles the public rows before cutting. Returns X_train, y_train,
    X_val, y_val, X_test, y_test.
    """
    name = name or default_dataset()
    if name in BUNDLED:
        X, y = load_bundled(name)
    elif name == "cifar10":
        X, y = load_cifar10(data_dir)
    elif name == "mnist":
        X, y = load_mnist(data_dir)
    elif name == "california":
        X, y = load_california(data_dir)
        keep = ~california_heldout_mask(len(X))
        X, y = X[keep], y[keep]
    else:
        raise ValueError(f"unknown data set {name!r}; choose from {BUNDLED + DOWNLOADABLE}")
    default_val, default_test = SPLIT_SIZES[name]
    return split_dataset(
        X,
        y,
        default_val if num_val is None else num_val,
        default_test if num_test is None else num_test,
        seed,
    )


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _extract(archive: Path, dest: Path) -> None:
    """Extract a .tar.gz into dest, refusing members that would land outside it."""
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if not target.is_relative_to(dest.resolve()) or not (member.isfile() or member.isdir()):
                raise ValueError(f"{archive}: refusing archive member {member.name!r}")
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4: members were checked above
            tar.extractall(dest)


def download(name: str, dest: str | os.PathLike | None = None, quiet: bool = False) -> Path:
    """Download a data set into ``dest`` (default: the data directory), check, and unpack it.

    Every file is checked against its published checksum before it is used; a mismatch raises
    ValueError and leaves nothing behind. Returns the directory the loaders read.
    """
    if name not in SOURCES:
        raise ValueError(f"cannot download {name!r}; choose from {tuple(SOURCES)}")
    root = resolve_data_dir(dest)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        parts = []
        for url, filename, algorithm, digest in SOURCES[name]:
            part = Path(tmp) / filename
            if not quiet:
                print(f"downloading {url}", file=sys.stderr)
            with urllib.request.urlopen(url, timeout=60) as response, part.open("wb") as out:
                shutil.copyfileobj(response, out)
            got = _digest(part, algorithm)
            if got != digest:
                raise ValueError(f"{filename}: {algorithm} is {got}, expected {digest}")
            parts.append(part)
        target = root / MNIST_DIR if name == "mnist" else root
        target.mkdir(exist_ok=True)
        for part in parts:
            if part.name.endswith((".tar.gz", ".tgz")):
                _extract(part, target)
            else:
                shutil.move(part, target / part.name)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m nnlib.data download NAME [--dest DIR]``."""
    parser = argparse.ArgumentParser(prog="python -m nnlib.data", description="nnlib data sets")
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("download", help="download and verify a data set")
    get.add_argument("name", choices=sorted(SOURCES))
    get.add_argument("--dest", help="data directory (default: $NNKIT_DATA or ~/.nnkit/data)")
    args = parser.parse_args(argv)
    where = download(args.name, args.dest)
    print(f"{args.name} is ready in {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
