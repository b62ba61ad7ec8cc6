"""Small MNIST-format IDX sets built in the tests, gzipped or raw."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from glassbox.data.idx import encode_idx

STEMS = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_arrays(n_train: int = 30, n_test: int = 10, shape: tuple[int, int] = (28, 28), seed: int = 0) -> dict[str, np.ndarray]:
    """Return random uint8 images and labels 0-9 (every digit present) keyed by file stem."""
    rng = np.random.default_rng(seed)
    return {
        STEMS[0]: rng.integers(0, 256, (n_train, *shape), dtype=np.uint8),
        STEMS[1]: (np.arange(n_train) % 10).astype(np.uint8),
        STEMS[2]: rng.integers(0, 256, (n_test, *shape), dtype=np.uint8),
        STEMS[3]: (np.arange(n_test) % 10).astype(np.uint8),
    }


def write_idx_set(folder: Path, arrays: dict[str, np.ndarray] | None = None, *, compress: bool = True) -> dict[str, Path]:
    """Write the four IDX files into ``folder`` and return their paths keyed by stem."""
    arrays = make_arrays() if arrays is None else arrays
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for stem, array in arrays.items():
        content = encode_idx(array)
        path = folder / (f"{stem}.gz" if compress else stem)
        path.write_bytes(gzip.compress(content, mtime=0) if compress else content)
        paths[stem] = path
    return paths


def files_under(folder: Path) -> list[str]:
    """Return the files below ``folder`` (empty if it does not exist), as relative paths."""
    if not folder.exists():
        return []
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
