"""Focus scores and multi-region neurons on weights built by hand, with known results."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox.interpret.focus import (
    focus_scores,
    half_energy_share,
    hoyer_sparseness,
    inverse_participation_ratio,
    spread,
    window_energy,
)
from glassbox.interpret.regions import layer_regions

SIDE = 20
ALL_LIVE = np.ones(SIDE * SIDE, dtype=bool)


def blob(row: float, column: float, width: float = 1.2) -> np.ndarray:
    """Return a Gaussian bump on the grid as a flat weight vector."""
    rows, columns = np.indices((SIDE, SIDE))
    return np.exp(-((rows - row) ** 2 + (columns - column) ** 2) / (2 * width**2)).ravel()


def noisy_kernel(*neurons: np.ndarray, n_noise: int = 6, seed: int = 0) -> np.ndarray:
    """Return a kernel whose first columns are ``neurons`` plus small noise, followed by pure-noise neurons."""
    rng = np.random.default_rng(seed)
    columns = [neuron + rng.normal(0, 0.01, neuron.size) for neuron in neurons]
    columns += [rng.uniform(-0.1, 0.1, SIDE * SIDE) for _ in range(n_noise)]
    return np.stack(columns, axis=1)


def test_one_blob_neuron_ranks_most_focused():
    kernel = noisy_kernel(blob(9, 9))
    initial = np.random.default_rng(1).uniform(-0.1, 0.1, kernel.shape)
    dead = np.zeros(kernel.shape[1], dtype=bool)

    scores = focus_scores(kernel, initial, ALL_LIVE, SIDE, 5, dead)

    assert scores.ranking[0] == 0
    assert scores.window_energy[0] > 0.9
    assert scores.window_energy[1:].max() < 0.2
    assert scores.n_above_null == 1


def test_scores_ignore_weight_scale():
    kernel = noisy_kernel(blob(5, 12), blob(14, 4, width=3.0))

    for score in (
        lambda k: window_energy(k, ALL_LIVE, SIDE, 5),
        lambda k: inverse_participation_ratio(k, ALL_LIVE),
        lambda k: hoyer_sparseness(k, ALL_LIVE),
        lambda k: spread(k, ALL_LIVE, SIDE),
        lambda k: half_energy_share(k, ALL_LIVE),
    ):
        np.testing.assert_allclose(score(kernel * 37.0), score(kernel), rtol=1e-9)


def test_dead_pixels_do_not_count():
    live = ALL_LIVE.copy().reshape(SIDE, SIDE)
    live[:2, :] = False  # The top two rows never vary, as MNIST's border does not.
    live = live.ravel()
    noise = np.random.default_rng(2).uniform(-0.1, 0.1, SIDE * SIDE)
    leftover = noise.copy()
    leftover[~live] = 5.0  # Large leftover weights where no gradient ever arrives.

    kernel = np.stack([noise, leftover], axis=1)

    energy = window_energy(kernel, live, SIDE, 5)
    assert energy[1] == pytest.approx(energy[0])


def test_single_pixel_and_even_weights_span_the_range():
    one_pixel = np.zeros(SIDE * SIDE)
    one_pixel[210] = 0.3
    even = np.full(SIDE * SIDE, 0.3)
    kernel = np.stack([one_pixel, even], axis=1)
    n = SIDE * SIDE

    np.testing.assert_allclose(inverse_participation_ratio(kernel, ALL_LIVE), [1.0, 1.0 / n])
    np.testing.assert_allclose(hoyer_sparseness(kernel, ALL_LIVE), [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(half_energy_share(kernel, ALL_LIVE), [1.0 / n, 200.0 / n])
    assert spread(kernel, ALL_LIVE, SIDE)[0] == pytest.approx(0.0)
    assert window_energy(kernel, ALL_LIVE, SIDE, 5)[1] == pytest.approx(25.0 / n)


def test_dead_and_tiny_neurons_rank_last():
    kernel = noisy_kernel(blob(9, 9), blob(4, 4), n_noise=4)
    kernel[:, 1] *= 1e-4  # Tiny: what L1 leaves of a neuron.
    dead = np.zeros(kernel.shape[1], dtype=bool)
    dead[0] = True

    scores = focus_scores(kernel, kernel, ALL_LIVE, SIDE, 5, dead)

    assert set(scores.ranking[-2:]) == {0, 1}
    assert not scores.eligible[0]
    assert not scores.eligible[1]


def test_two_blob_neuron_is_multi_region():
    kernel = noisy_kernel(blob(4, 4) + blob(15, 15), blob(9, 9), n_noise=0)

    two_blobs, one_blob = layer_regions(kernel, ALL_LIVE, SIDE)

    assert two_blobs.n_regions == 2
    assert two_blobs.is_multi_region
    assert two_blobs.max_distance == pytest.approx(np.hypot(11, 11), abs=1.0)
    assert one_blob.n_regions == 1
    assert not one_blob.is_multi_region


def test_close_blobs_are_not_multi_region():
    # Centres 5 pixels apart: separate regions, but closer than the 6-pixel rule.
    kernel = noisy_kernel(blob(9, 7) + blob(9, 12), n_noise=0)

    (regions,) = layer_regions(kernel, ALL_LIVE, SIDE)

    assert regions.n_regions == 2
    assert not regions.is_multi_region


def test_region_signs_and_labels():
    kernel = noisy_kernel(blob(4, 4) - blob(15, 15), n_noise=0)

    (regions,) = layer_regions(kernel, ALL_LIVE, SIDE)

    assert sorted(regions.signs) == ["negative", "positive"]
    assert set(np.unique(regions.labels)) == {0, 1, 2}
    assert regions.labels[4, 4] > 0
    assert regions.labels[15, 15] > 0
    assert regions.labels[9, 9] == 0
