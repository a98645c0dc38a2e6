"""Regenerate the bundled data files from scikit-learn's copies of digits and diabetes.

    python -m nnkit.make_bundled_data

writes nnlib/data/{digits,diabetes}.npz (the public part, shipped to students) and
nnkit/data/{digits,diabetes}_heldout.npz (the fixed held-out part, grading side only).
Each file holds X and y in the order of scikit-learn's data set.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PUBLIC_DIR = ROOT / "nnlib" / "data"
HELDOUT_DIR = ROOT / "nnkit" / "data"
HELDOUT_FRACTION = 0.15
HELDOUT_SEED = 20240517


def source_arrays(name: str) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's (X, y): digits X (1797, 1, 8, 8) in [0, 16]; diabetes X (442, 10)."""
    from sklearn import datasets

    if name == "digits":
        d = datasets.load_digits()
        return d.images.reshape(-1, 1, 8, 8).astype(np.float64), d.target.astype(np.int64)
    if name == "diabetes":
        d = datasets.load_diabetes()
        return d.data.astype(np.float64), d.target.astype(np.float64)
    raise ValueError(f"unknown bundled data set {name!r}")


def heldout_mask(n: int) -> np.ndarray:
    """Boolean mask (n,) of the rows held out for grading (a fixed 15 %)."""
    mask = np.zeros(n, dtype=bool)
    count = int(np.ceil(HELDOUT_FRACTION * n))
    mask[np.random.default_rng(HELDOUT_SEED).permutation(n)[:count]] = True
    return mask


def split(name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{'public': (X, y), 'heldout': (X, y)} of a bundled set, rows in scikit-learn's order."""
    X, y = source_arrays(name)
    held = heldout_mask(len(X))
    return {"public": (X[~held], y[~held]), "heldout": (X[held], y[held])}


def _storage(name: str, X: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    # Digits are small integers: store them as uint8 (the loaders convert back exactly).
    if name == "digits":
        return {"X": X.astype(np.uint8), "y": y.astype(np.uint8)}
    return {"X": X, "y": y}


def main() -> None:
    for name in ("digits", "diabetes"):
        parts = split(name)
        for part, directory, suffix in [
            ("public", PUBLIC_DIR, ""),
            ("heldout", HELDOUT_DIR, "_heldout"),
        ]:
            directory.mkdir(parents=True, exist_ok=True)
            path = directory / f"{name}{suffix}.npz"
            np.savez_compressed(path, **_storage(name, *parts[part]))
            print(f"wrote {path.relative_to(ROOT)}: {len(parts[part][0])} rows")


if __name__ == "__main__":
    main()
