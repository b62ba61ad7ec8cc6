"""Integrated gradients and deletion curves: completeness, known results, and faithfulness on a trained model."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox.interpret.attribution import DIFFERENCE_FLOOR, TOLERANCE, integrated_gradients
from glassbox.interpret.faithfulness import LEVELS, area_under_curve, deletion_curves, rank_correlation
from glassbox.interpret.network import Network, reinitialised
from glassbox.interpret.pathway import dense_stack, pixel_importance
from interpret_models import trained
from test_interpret_pathway import N_PIXELS, model_with_random_weights


@pytest.mark.parametrize("kind", ["relu", "batch_norm", "binary"])
def test_integrated_gradients_are_complete(kind):
    model = trained(kind)
    network = Network(model.model)
    label = 1 if kind == "binary" else 4
    images = model.data.x_test[model.data.y_test == label][:12]
    output = 0 if kind == "binary" else 4

    attributions = integrated_gradients(network, images, output)

    logits = network.logits(np.vstack([images, np.zeros((1, images.shape[1]), np.float32)]))[:, output]
    expected = logits[:-1].astype(np.float64) - logits[-1]
    np.testing.assert_allclose(attributions.score_difference, expected, rtol=1e-6)
    assert attributions.complete
    np.testing.assert_allclose(attributions.values.sum(axis=1), expected, rtol=TOLERANCE)


def test_images_of_other_classes_are_complete_too():
    model = trained("batch_norm")
    network = Network(model.model)
    images = model.data.x_test[:40]

    attributions = integrated_gradients(network, images, 4)

    assert np.abs(attributions.score_difference).min() < 0.1
    assert attributions.complete
    error = np.abs(attributions.values.sum(axis=1) - attributions.score_difference)
    assert np.all(error <= TOLERANCE * np.maximum(np.abs(attributions.score_difference), DIFFERENCE_FLOOR))


def test_linear_model_ig_is_weight_times_input():
    model = model_with_random_weights("linear", batch_norm=True)
    images = np.random.default_rng(0).uniform(0, 1, (3, N_PIXELS)).astype(np.float32)

    attributions = integrated_gradients(Network(model), images, 6)

    expected = images * pixel_importance(dense_stack(model), 6)
    np.testing.assert_allclose(attributions.values, expected, rtol=1e-3, atol=1e-5)
    assert attributions.steps == 64


def test_steps_double_until_complete():
    model = model_with_random_weights("relu", batch_norm=False, hidden=(64, 32), seed=1)
    images = np.random.default_rng(1).uniform(0, 1, (8, N_PIXELS)).astype(np.float32)

    coarse = integrated_gradients(Network(model), images, 3, steps=2, max_steps=2)
    checked = integrated_gradients(Network(model), images, 3, steps=2)

    assert not coarse.complete
    assert checked.complete
    assert checked.steps > 2


def test_deletion_curve_endpoints():
    model = trained("relu")
    network = Network(model.model)
    images = model.data.x_test[:4].astype(np.float64)

    curves = deletion_curves(network, images, {"any": np.random.default_rng(0).random(images.shape)}, 4)

    curve = curves["any"]
    assert curve.shape == (4, LEVELS)
    np.testing.assert_allclose(curve[:, 0], network.class_probability(network.logits(images.astype(np.float32)), 4), rtol=1e-5)
    black = network.class_probability(network.logits(np.zeros((1, N_PIXELS), np.float32)), 4)[0]
    np.testing.assert_allclose(curve[:, -1], black, rtol=1e-5)


def test_deleting_important_pixels_first_is_faster_than_random():
    model = trained("relu")
    network = Network(model.model)
    images = model.data.x_test[model.data.y_test == 4][:16].astype(np.float64)
    attributions = integrated_gradients(network, images, 4)
    rng = np.random.default_rng(0)

    curves = deletion_curves(
        network,
        images,
        {
            "integrated gradients": attributions.values,
            "linear pathway": images * pixel_importance(dense_stack(model.model), 4),
            "random order": rng.random(images.shape),
        },
        4,
    )

    area = {name: area_under_curve(curve).mean() for name, curve in curves.items()}
    assert area["integrated gradients"] < 0.5 * area["random order"]
    assert area["linear pathway"] < area["random order"]


def test_random_weight_model_explains_differently():
    model = trained("relu")
    images = model.data.x_test[model.data.y_test == 4][:8]
    random_model = reinitialised(model.model, seed=0)

    trained_ig = integrated_gradients(Network(model.model), images, 4)
    random_ig = integrated_gradients(Network(random_model), images, 4)

    assert abs(rank_correlation(trained_ig.values, random_ig.values).mean()) < 0.5
    assert not np.allclose(np.asarray(random_model.get_layer("hidden1").kernel), np.asarray(model.model.get_layer("hidden1").kernel))


def test_reinitialised_model_depends_on_seed_only():
    model = trained("batch_norm").model

    first, again, other = reinitialised(model, 3), reinitialised(model, 3), reinitialised(model, 4)

    for a, b in zip(first.weights, again.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(first.get_layer("hidden1").kernel), np.asarray(other.get_layer("hidden1").kernel))
    np.testing.assert_array_equal(np.asarray(first.get_layer("bn1").moving_variance), 1.0)


def test_rank_correlation_known_answers():
    a = np.arange(10.0)[None, :]

    assert rank_correlation(a, a * 3 + 1)[0] == pytest.approx(1.0)
    assert rank_correlation(a, -a)[0] == pytest.approx(-1.0)
