"""IDX files: round trips, gzip detection, and every kind of damaged file rejected with the file's name."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from glassbox.data.idx import encode_idx, read_images, read_labels, write_idx
from glassbox.errors import DataError


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("shape", [(28, 28), (32, 17)])
def test_images_round_trip(tmp_path, compress, shape):
    images = np.random.default_rng(1).integers(0, 256, (7, *shape), dtype=np.uint8)
    path = tmp_path / "images"

    write_idx(path, images, compress=compress)
    loaded = read_images(path)

    assert loaded.dtype == np.uint8
    assert loaded.shape == images.shape
    assert np.array_equal(loaded, images)


@pytest.mark.parametrize("compress", [False, True])
def test_labels_round_trip(tmp_path, compress):
    labels = np.array([0, 9, 3, 3, 1], dtype=np.uint8)
    path = tmp_path / "labels"

    write_idx(path, labels, compress=compress)

    assert np.array_equal(read_labels(path), labels)


def test_gzip_detected_by_content_not_name(tmp_path):
    labels = np.array([1, 2, 3], dtype=np.uint8)
    plain_named_gz = tmp_path / "labels.gz"
    gzipped_without_suffix = tmp_path / "labels"
    plain_named_gz.write_bytes(encode_idx(labels))
    gzipped_without_suffix.write_bytes(gzip.compress(encode_idx(labels)))

    assert np.array_equal(read_labels(plain_named_gz), labels)
    assert np.array_equal(read_labels(gzipped_without_suffix), labels)


def test_header_layout_matches_mnist(tmp_path):
    content = encode_idx(np.zeros((2, 28, 28), dtype=np.uint8))

    assert struct.unpack(">IIII", content[:16]) == (2051, 2, 28, 28)
    assert len(content) == 16 + 2 * 28 * 28


def images_gz(count: int = 4) -> bytes:
    return gzip.compress(encode_idx(np.full((count, 28, 28), 7, dtype=np.uint8)), mtime=0)


def test_truncated_gzip_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(images_gz()[:-20])

    with pytest.raises(DataError) as error:
        read_images(path)

    assert str(path) in str(error.value)
    assert "corrupt or truncated gzip" in str(error.value)


def test_corrupt_gzip_rejected(tmp_path):
    content = bytearray(images_gz())
    content[-6] ^= 0xFF  # The CRC-32 in the gzip trailer no longer matches the data.
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(bytes(content))

    with pytest.raises(DataError) as error:
        read_images(path)

    assert str(path) in str(error.value)
    assert "corrupt or truncated gzip" in str(error.value)


def test_labels_file_read_as_images_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    write_idx(path, np.zeros(5, dtype=np.uint8))

    with pytest.raises(DataError) as error:
        read_images(path)

    message = str(error.value)
    assert str(path) in message
    assert "wrong IDX magic number 2049" in message
    assert "expected 2051 for MNIST images" in message


def test_foreign_file_rejected_with_magic_in_hex(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(b"PK\x03\x04" + bytes(100))

    with pytest.raises(DataError) as error:
        read_labels(path)

    assert str(path) in str(error.value)
    assert "0x504b0304" in str(error.value)
    assert "expected 2049 for MNIST labels" in str(error.value)


def test_short_file_rejected(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00")

    with pytest.raises(DataError) as error:
        read_labels(path)

    assert str(path) in str(error.value)
    assert "too short for an IDX header (2 bytes)" in str(error.value)


def test_truncated_body_rejected(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(encode_idx(np.zeros((3, 28, 28), dtype=np.uint8))[:-1])

    with pytest.raises(DataError) as error:
        read_images(path)

    message = str(error.value)
    assert str(path) in message
    assert "header says shape (3, 28, 28), which needs 2368 bytes" in message
    assert "the file has 2367 bytes" in message


def test_extra_bytes_after_body_rejected(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte"
    path.write_bytes(encode_idx(np.zeros(3, dtype=np.uint8)) + b"\x00")

    with pytest.raises(DataError) as error:
        read_labels(path)

    assert str(path) in str(error.value)
    assert "needs 11 bytes, but the file has 12 bytes" in str(error.value)


def test_label_outside_digits_rejected(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    write_idx(path, np.array([0, 4, 10, 2], dtype=np.uint8), compress=True)

    with pytest.raises(DataError) as error:
        read_labels(path)

    assert str(path) in str(error.value)
    assert "label 10 at index 2 is outside 0-9" in str(error.value)


def test_missing_file_rejected(tmp_path):
    path = tmp_path / "absent-idx3-ubyte"

    with pytest.raises(DataError) as error:
        read_images(path)

    assert str(error.value) == f"{path}: file not found"


def test_directory_in_place_of_file_rejected(tmp_path):
    with pytest.raises(DataError) as error:
        read_images(tmp_path)

    assert str(error.value) == f"{tmp_path}: expected an IDX file, found a directory"
