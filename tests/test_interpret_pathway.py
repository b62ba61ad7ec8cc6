"""The linear pathway against the matrix product and against true input gradients from TensorFlow."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox.interpret.network import Network
from glassbox.interpret.pathway import dense_stack, hidden1_importance, hidden_to_pixels, output_weights, pixel_importance
from glassbox.model import build_model
from glassbox.params import Variant

N_PIXELS = 400


def model_with_random_weights(activation: str, batch_norm: bool, hidden=(12, 7), seed: int = 0):
    """Build the pipeline's architecture and fill every weight, batch normalization statistics included, at random."""
    variant = Variant(
        name="hand_built", task="digits", hidden=hidden, activation=activation, l1=0.0, dropout=(0.1, 0.1), batch_norm=batch_norm
    )
    model = build_model(variant, N_PIXELS)
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        shape = tuple(variable.shape)
        if variable.path.endswith("moving_variance"):
            value = rng.uniform(0.2, 3.0, shape)
        elif variable.path.endswith("gamma"):
            value = rng.uniform(0.5, 2.0, shape)
        else:
            value = rng.normal(0, 0.3, shape)
        variable.assign(value.astype(np.float32))
    return model


def kernels(model):
    return [np.asarray(model.get_layer(name).kernel, dtype=np.float64) for name in ("hidden1", "hidden2", "output")]


def test_pathway_equals_matrix_product():
    model = model_with_random_weights("relu", batch_norm=False)
    w1, w2, w3 = kernels(model)
    stack = dense_stack(model)

    for class_index in (0, 4, 9):
        np.testing.assert_allclose(hidden1_importance(stack, class_index), w2 @ w3[:, class_index], rtol=1e-12)
        np.testing.assert_allclose(pixel_importance(stack, class_index), w1 @ w2 @ w3[:, class_index], rtol=1e-12)
    assert not stack.has_batch_norm


def test_batch_norm_scale_is_folded():
    model = model_with_random_weights("relu", batch_norm=True)
    w1, w2, w3 = kernels(model)
    scales = []
    for name in ("bn1", "bn2"):
        layer = model.get_layer(name)
        scales.append(np.asarray(layer.gamma, np.float64) / np.sqrt(np.asarray(layer.moving_variance, np.float64) + layer.epsilon))
    stack = dense_stack(model)

    expected = w1 @ (scales[0] * (w2 @ (scales[1] * w3[:, 3])))
    np.testing.assert_allclose(pixel_importance(stack, 3), expected, rtol=1e-10)
    np.testing.assert_allclose(output_weights(stack, 3), scales[1] * w3[:, 3], rtol=1e-12)
    np.testing.assert_allclose(hidden_to_pixels(stack, 1, 5), w1 @ (scales[0] * w2[:, 5]), rtol=1e-12)
    np.testing.assert_allclose(hidden_to_pixels(stack, 0, 5), w1[:, 5], rtol=1e-12)
    assert stack.has_batch_norm


@pytest.mark.parametrize("batch_norm", [False, True])
def test_linear_model_pathway_is_input_gradient(batch_norm):
    # With linear activations every unit is always "active", so the pathway is exact.
    model = model_with_random_weights("linear", batch_norm=batch_norm)
    images = np.random.default_rng(3).uniform(0, 1, (5, N_PIXELS)).astype(np.float32)
    network = Network(model)
    stack = dense_stack(model)

    for class_index in (1, 7):
        gradients = network.input_gradients(images, class_index)
        expected = pixel_importance(stack, class_index)
        for gradient in gradients:
            np.testing.assert_allclose(gradient, expected, rtol=1e-4, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("batch_norm", [False, True])
def test_activity_weighted_pathway_is_gradient_of_one_image(batch_norm):
    # Weighted by one image's ReLU gates, the pathway is that image's true input gradient.
    model = model_with_random_weights("relu", batch_norm=batch_norm)
    image = np.random.default_rng(4).uniform(0, 1, (1, N_PIXELS)).astype(np.float32)
    network = Network(model)
    slopes = network.mean_slopes(image)

    gated = pixel_importance(dense_stack(model), 2, [slopes["hidden1"], slopes["hidden2"]])

    gradient = network.input_gradients(image, 2)[0]
    np.testing.assert_allclose(gated, gradient, rtol=1e-4, atol=1e-5 * np.abs(gradient).max())
    assert 0 < slopes["hidden1"].sum() < len(slopes["hidden1"])


def test_network_pass_matches_keras_predict():
    model = model_with_random_weights("relu", batch_norm=True)
    images = np.random.default_rng(5).uniform(0, 1, (64, N_PIXELS)).astype(np.float32)
    network = Network(model)

    logits = network.logits(images)

    probabilities = np.stack([network.class_probability(logits, c) for c in range(10)], axis=1)
    np.testing.assert_allclose(probabilities, model.predict(images, verbose=0), rtol=1e-4, atol=1e-6)


def test_silencing_a_unit_zeroes_its_activation():
    model = model_with_random_weights("relu", batch_norm=True)
    images = np.random.default_rng(6).uniform(0, 1, (16, N_PIXELS)).astype(np.float32)
    network = Network(model)

    normal = network.forward(images)
    silenced = network.forward(images, silenced={"hidden2": 3})

    assert np.all(silenced.activations["hidden2"][:, 3] == 0)
    np.testing.assert_array_equal(np.delete(silenced.activations["hidden2"], 3, axis=1), np.delete(normal.activations["hidden2"], 3, axis=1))
    assert not np.allclose(silenced.logits, normal.logits)
