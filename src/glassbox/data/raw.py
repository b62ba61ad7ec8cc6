"""The raw data set that every source produces, and its file format (data/raw/mnist.npz)."""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glassbox.atomic import write_json, write_npz
from glassbox.errors import DataError


@dataclass
class RawDataset:
    """Images and labels as one source delivered them, before any preprocessing.

    ``is_test`` marks the official test images when the source has an official split
    (MNIST's last 10,000). Otherwise it is all False, and preprocessing draws a split.
    ``dataset`` names the release ("MNIST", "Fashion-MNIST", ...). ``location`` is the
    folder or file the data came from. ``files`` maps each input file to its checksums.
    """

    images: np.ndarray
    labels: np.ndarray
    is_test: np.ndarray
    official_split: bool
    source: str
    description: str
    dataset: str
    location: str
    files: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.images.ndim != 3 or self.images.dtype != np.uint8:
            raise DataError(f"{self.source}: expected uint8 images of shape (n, height, width), got {self.images.dtype} {self.images.shape}")
        if self.images.size == 0:
            raise DataError(f"{self.source}: expected at least one image of at least one pixel, got shape {self.images.shape}")
        if self.labels.shape != (len(self.images),):
            raise DataError(f"{self.source}: {len(self.images)} images but labels of shape {self.labels.shape}")
        if self.is_test.shape != (len(self.images),) or self.is_test.dtype != bool:
            raise DataError(f"{self.source}: {len(self.images)} images but a split marker of {self.is_test.dtype} {self.is_test.shape}")
        if self.labels.size and self.labels.max() > 9:
            raise DataError(f"{self.source}: labels must be 0-9, found {int(self.labels.max())}")

    @property
    def digest(self) -> str:
        """SHA-256 of the image shape, images, labels and split marker: the identity of the data."""
        hasher = hashlib.sha256(str(self.images.shape).encode())
        for array in (self.images, self.labels, self.is_test):
            hasher.update(np.ascontiguousarray(array).tobytes())
        return hasher.hexdigest()

    def summary(self) -> dict:
        """Return the record written to source.json and copied into MLflow and the report."""
        n_train = int((~self.is_test).sum())
        n_test = int(self.is_test.sum())
        if self.official_split:
            split = f"official: {n_train:,} train, then {n_test:,} test images"
        else:
            split = "none: preprocess draws a stratified split (preprocess.test_fraction, preprocess.split_seed)"
        return {
            "source": self.source,
            "description": self.description,
            "dataset": self.dataset,
            "location": self.location,
            "digest": self.digest,
            "n_images": int(len(self.images)),
            "n_labels": int(len(self.labels)),
            "image_shape": list(self.images.shape[1:]),
            "class_counts": np.bincount(self.labels, minlength=10).tolist(),
            "official_split": self.official_split,
            "split": split,
            "n_train": n_train if self.official_split else None,
            "n_test": n_test if self.official_split else None,
            "files": self.files,
            "notes": self.notes,
        }


def sha256_file(path: str | Path) -> str:
    """Return the SHA-256 of the file's bytes as stored (before any decompression)."""
    hasher = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def save_raw(dataset: RawDataset, npz_path: str | Path, json_path: str | Path) -> None:
    write_npz(
        npz_path,
        images=dataset.images,
        labels=dataset.labels,
        is_test=dataset.is_test,
        official_split=np.array(dataset.official_split),
    )
    write_json(json_path, dataset.summary())


def load_raw(npz_path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Return images, labels, is_test and official_split from data/raw/mnist.npz, checking their shapes."""
    try:
        with np.load(npz_path) as data:
            images, labels, is_test = data["images"], data["labels"], data["is_test"]
            official_split = bool(data["official_split"])
    except FileNotFoundError:
        raise DataError(f"{npz_path}: file not found; run the fetch stage first (dvc repro fetch)") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{npz_path}: not a valid raw data file ({error}); run the fetch stage again") from None
    if images.ndim != 3 or images.dtype != np.uint8 or labels.shape != (len(images),) or is_test.shape != labels.shape:
        raise DataError(
            f"{npz_path}: inconsistent arrays (images {images.dtype} {images.shape}, labels {labels.shape}, "
            f"is_test {is_test.shape}); run the fetch stage again"
        )
    return images, labels, is_test, official_split


def load_source(json_path: str | Path) -> dict:
    """Return the source record (data/raw/source.json) that the fetch stage wrote."""
    try:
        return json.loads(Path(json_path).read_text())
    except FileNotFoundError:
        raise DataError(f"{json_path}: file not found; run the fetch stage first (dvc repro fetch)") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{json_path}: invalid JSON ({error}); run the fetch stage again") from None
