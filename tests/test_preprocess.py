"""Preprocessing: area resampling, border crop, splits and the binary 0/1 set, on hand-built images."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox.data.preprocess import (
    Split,
    area_matrix,
    binary_subset,
    crop_border,
    live_pixels,
    resize_area,
    split,
    to_features,
)
from glassbox.errors import DataError
from glassbox.params import PreprocessParams


def preprocess_params(**changes) -> PreprocessParams:
    values = {"resize": "area", "size": 20, "test_fraction": 0.2, "split_seed": 0, "binary_per_class": 3}
    values.update(changes)
    return PreprocessParams(**values)


# Area resampling


def test_area_matrix_28_to_20_weights():
    matrix = area_matrix(28, 20)

    # Output pixel 0 covers input [0, 1.4): all of pixel 0 and 0.4 of pixel 1, over an area of 1.4.
    assert matrix[0, :3] == pytest.approx([1 / 1.4, 0.4 / 1.4, 0.0])
    # Output pixel 1 covers [1.4, 2.8): 0.6 of pixel 1 and 0.8 of pixel 2.
    assert matrix[1, :4] == pytest.approx([0.0, 0.6 / 1.4, 0.8 / 1.4, 0.0])
    assert matrix.sum(axis=1) == pytest.approx(np.ones(20))
    assert matrix.sum(axis=0) == pytest.approx(np.full(28, 20 / 28))


def test_constant_image_stays_constant():
    images = np.full((3, 28, 28), 51, dtype=np.uint8)

    small = resize_area(images, 20)

    assert small.shape == (3, 20, 20)
    assert small.dtype == np.float32
    assert np.allclose(small, 51 / 255, rtol=0, atol=1e-7)


def test_sum_preserved_up_to_area_scale():
    images = np.random.default_rng(3).integers(0, 256, (5, 28, 28), dtype=np.uint8)

    small = resize_area(images, 20)

    # Each output pixel averages (28/20)^2 input pixels, so the sum shrinks by (20/28)^2.
    expected = images.reshape(5, -1).sum(axis=1) / 255 * (20 / 28) ** 2
    assert small.reshape(5, -1).sum(axis=1) == pytest.approx(expected, rel=1e-6)


def test_whole_blocks_averaged_exactly():
    image = np.array([[0, 255, 10, 20], [255, 0, 30, 40], [100, 100, 0, 0], [100, 100, 0, 4]], dtype=np.uint8)

    small = resize_area(image[None], 2)[0]

    assert small * 255 == pytest.approx(np.array([[127.5, 25.0], [100.0, 1.0]]), abs=1e-4)


def test_single_bright_pixel_spread_by_overlap():
    image = np.zeros((1, 3, 3), dtype=np.uint8)
    image[0, 1, 1] = 255

    small = resize_area(image, 2)[0]

    # Each output pixel covers 1.5 x 1.5 input pixels and half of the centre pixel in each direction.
    assert small == pytest.approx(np.full((2, 2), 0.25 / 2.25))


def test_non_square_images_resampled():
    images = np.full((2, 30, 17), 255, dtype=np.uint8)

    small = resize_area(images, 20)

    assert small.shape == (2, 20, 20)
    assert np.allclose(small, 1.0)


def test_resize_same_bytes_whatever_the_chunk():
    images = np.random.default_rng(4).integers(0, 256, (50, 28, 28), dtype=np.uint8)

    whole = resize_area(images, 20, chunk=50)
    in_pieces = resize_area(images, 20, chunk=7)

    assert whole.tobytes() == in_pieces.tobytes()


def test_resize_equals_float64_reference_rounded():
    images = np.random.default_rng(5).integers(0, 256, (20, 28, 28), dtype=np.uint8)
    rows = area_matrix(28, 20)

    reference = np.einsum("ih,nhw,jw->nij", rows, images / 255.0, rows).astype(np.float32)

    assert np.array_equal(resize_area(images, 20), reference)


# Crop and features


def test_crop_cuts_centre():
    images = np.arange(28 * 28, dtype=np.uint32).reshape(1, 28, 28).astype(np.uint8)

    cropped = crop_border(images, 20)

    assert cropped.shape == (1, 20, 20)
    assert np.array_equal(cropped[0], images[0, 4:24, 4:24] / np.float32(255))


def test_crop_larger_than_image_rejected():
    with pytest.raises(DataError) as error:
        crop_border(np.zeros((1, 16, 16), dtype=np.uint8), 20)

    assert str(error.value) == "params.yaml: preprocess.size: crop needs images of at least 20x20, got 16x16"


@pytest.mark.parametrize("resize", ["area", "crop"])
def test_features_flat_float32_in_unit_range(resize):
    images = np.random.default_rng(6).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    images[0] = 255

    features = to_features(images, preprocess_params(resize=resize))

    assert features.shape == (4, 400)
    assert features.dtype == np.float32
    assert features.min() >= 0.0
    assert features.max() == 1.0


def test_enlarging_small_images_warns(caplog):
    images = np.full((2, 8, 8), 128, dtype=np.uint8)

    features = to_features(images, preprocess_params(resize="area"))

    assert features.shape == (2, 400)
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == ["images of 8x8 are smaller than preprocess.size 20: area resampling enlarges them, adding no detail"]


def test_live_pixels_excludes_constant_border():
    x_train = np.zeros((3, 4), dtype=np.float32)
    x_train[1, 2] = 0.5

    assert live_pixels(x_train).tolist() == [False, False, True, False]


# Splits


def test_official_split_keeps_order():
    features = np.arange(10, dtype=np.float32)[:, None]
    labels = np.arange(10, dtype=np.uint8)
    is_test = np.array([False] * 7 + [True] * 3)

    data = split(features, labels, is_test, official_split=True, params=preprocess_params())

    assert data.y_train.tolist() == list(range(7))
    assert data.y_test.tolist() == [7, 8, 9]
    assert data.x_test[:, 0].tolist() == [7.0, 8.0, 9.0]


def stratified(seed: int, labels: np.ndarray) -> Split:
    features = np.arange(len(labels), dtype=np.float32)[:, None]
    no_test = np.zeros(len(labels), dtype=bool)
    return split(features, labels, no_test, official_split=False, params=preprocess_params(split_seed=seed, test_fraction=0.2))


def test_stratified_split_keeps_class_proportions():
    labels = np.repeat(np.arange(10, dtype=np.uint8), [50, 50, 50, 50, 50, 100, 100, 100, 100, 100])

    data = stratified(0, labels)

    assert len(data.y_test) == 150
    assert np.bincount(data.y_test).tolist() == [10] * 5 + [20] * 5
    assert np.bincount(data.y_train).tolist() == [40] * 5 + [80] * 5
    # Every image lands in exactly one part.
    together = np.sort(np.concatenate([data.x_train[:, 0], data.x_test[:, 0]]))
    assert np.array_equal(together, np.arange(750, dtype=np.float32))


def test_stratified_split_fixed_by_seed():
    labels = np.repeat(np.arange(10, dtype=np.uint8), 20)

    first, again, other = stratified(0, labels), stratified(0, labels), stratified(1, labels)

    assert np.array_equal(first.x_test, again.x_test)
    assert not np.array_equal(first.x_test, other.x_test)


def test_split_too_small_for_fraction_rejected():
    labels = np.arange(10, dtype=np.uint8)  # One image per class cannot be stratified.

    with pytest.raises(DataError) as error:
        stratified(0, labels)

    assert str(error.value).startswith("preprocess.test_fraction=0.2: cannot split 10 images")


# The binary 0/1 set


def digits_split() -> Split:
    y_train = np.array([1, 0, 2, 1, 0, 0, 1, 0, 1, 3], dtype=np.uint8)
    y_test = np.array([0, 5, 1, 1, 9], dtype=np.uint8)
    x_train = np.arange(len(y_train), dtype=np.float32)[:, None]
    x_test = np.arange(len(y_test), dtype=np.float32)[:, None]
    return Split(x_train, y_train, x_test, y_test)


def test_binary_set_takes_first_images_of_zero_and_one():
    binary = binary_subset(digits_split(), per_class=2)

    # The first two 0s (positions 1, 4) and 1s (positions 0, 3), in their original order.
    assert binary.x_train[:, 0].tolist() == [0.0, 1.0, 3.0, 4.0]
    assert binary.y_train.tolist() == [1, 0, 1, 0]
    assert binary.x_test[:, 0].tolist() == [0.0, 2.0, 3.0]
    assert binary.y_test.tolist() == [0, 1, 1]


def test_binary_set_smaller_than_asked_warns(caplog):
    binary = binary_subset(digits_split(), per_class=5)

    # digits_split has four training images each of 0 and 1.
    assert binary.y_train.tolist().count(0) == 4
    assert binary.y_train.tolist().count(1) == 4
    warnings = [record.getMessage() for record in caplog.records if record.levelname == "WARNING"]
    assert warnings == [
        f"binary set: preprocess.binary_per_class is 5, but the training set has only 4 images of digit {digit}; using 4"
        for digit in (0, 1)
    ]


def test_binary_set_without_ones_rejected():
    data = digits_split()
    data.y_train[data.y_train == 1] = 7

    with pytest.raises(DataError) as error:
        binary_subset(data, per_class=2)

    assert str(error.value) == "binary set: no training images of digit 1"
