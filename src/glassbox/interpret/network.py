"""Inference-mode passes through a trained model: hidden activations, class scores and input gradients.

The model is the Sequential network of glassbox.model: Dense layers named hidden1,
hidden2, ... and output, each hidden one optionally followed by batch normalization
and dropout. Every pass runs in inference mode, so dropout is off and batch
normalization uses its moving statistics.

Two conventions hold in every analysis:

- An activation is the output of a hidden Dense layer's activation function, before
  batch normalization. It is non-negative for ReLU and sigmoid, as the class selectivity
  index needs, and silencing a unit means setting this value to zero.
- The class score that attributions explain is the class logit: the output layer's
  value before softmax (or before the sigmoid of the binary model). The logit keeps
  its gradient where the softmax saturates, and the linear pathway map approximates
  the gradient of exactly this value. Deletion curves track the class probability.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from glassbox.model import dense_layer_names

# Images per call into TensorFlow: few calls, and bounded memory for the tensors in between.
BATCH_ROWS = 16_384


@dataclass
class Pass:
    """The hidden activations (one array per hidden layer name) and the output logits of a batch."""

    activations: dict[str, np.ndarray]
    logits: np.ndarray


class Network:
    """A trained model seen as hidden layers and class logits, run in inference mode."""

    def __init__(self, model: keras.Model):
        self.model = model
        self.output_layer = model.get_layer("output")
        self.hidden = dense_layer_names(model)[:-1]
        self.is_binary = self.output_layer.units == 1

    def tensor_pass(self, x: tf.Tensor, silenced: dict[str, int] | None = None, keep: bool = False):
        """Return (activations, activation slopes, logits) as tensors, so that gradients can flow through.

        Slopes are computed only with ``keep``; otherwise that dict is empty.
        """
        activations = {}
        slopes = {}
        h = x
        for layer in self.model.layers:
            if layer is self.output_layer:
                return activations, slopes, tf.matmul(h, layer.kernel) + layer.bias
            if layer.name in self.hidden:
                pre_activation = tf.matmul(h, layer.kernel) + layer.bias
                if keep:
                    with tf.GradientTape() as tape:
                        tape.watch(pre_activation)
                        h = layer.activation(pre_activation)
                    # The activation acts element-wise, so the gradient of the sum is its slope.
                    slopes[layer.name] = tape.gradient(h, pre_activation)
                else:
                    h = layer.activation(pre_activation)
                if silenced and layer.name in silenced:
                    mask = np.ones(layer.units, dtype=np.float32)
                    mask[silenced[layer.name]] = 0.0
                    h = h * mask
                activations[layer.name] = h
            else:
                h = layer(h, training=False)
        raise ValueError(f"model {self.model.name}: no layer named 'output'")

    def forward(self, x: np.ndarray, silenced: dict[str, int] | None = None) -> Pass:
        """Run ``x`` through the model; ``silenced`` maps a hidden layer name to a unit set to zero."""
        parts = []
        for start in range(0, len(x), BATCH_ROWS):
            activations, _, logits = self.tensor_pass(tf.constant(x[start : start + BATCH_ROWS], tf.float32), silenced)
            parts.append(({name: value.numpy() for name, value in activations.items()}, logits.numpy()))
        return Pass(
            {name: np.concatenate([part[0][name] for part in parts]) for name in self.hidden},
            np.concatenate([part[1] for part in parts]),
        )

    def logits(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x).logits

    def mean_slopes(self, x: np.ndarray) -> dict[str, np.ndarray]:
        """Return each hidden unit's mean activation slope over ``x``: for ReLU, the share of images where it is active."""
        _, slopes, _ = self.tensor_pass(tf.constant(x, tf.float32), keep=True)
        return {name: slope.numpy().mean(axis=0).astype(np.float64) for name, slope in slopes.items()}

    def class_probability(self, logits: np.ndarray, class_index: int) -> np.ndarray:
        """Return the probability of output ``class_index`` (for the binary model: of digit 1)."""
        if self.is_binary:
            return 1.0 / (1.0 + np.exp(-logits[:, 0].astype(np.float64)))
        return _softmax(logits)[:, class_index]

    def true_class_probability(self, logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Return each image's probability of its own label."""
        if self.is_binary:
            ones = self.class_probability(logits, 0)
            return np.where(labels == 1, ones, 1.0 - ones)
        return _softmax(logits)[np.arange(len(labels)), labels]

    def predict_labels(self, logits: np.ndarray) -> np.ndarray:
        if self.is_binary:
            return (logits[:, 0] > 0).astype(np.int64)
        return np.argmax(logits, axis=1)

    def input_gradients(self, x: np.ndarray, class_index: int) -> np.ndarray:
        """Return the gradient of the class logit with respect to each input pixel, one row per image."""
        parts = []
        for start in range(0, len(x), BATCH_ROWS):
            batch = tf.constant(x[start : start + BATCH_ROWS], tf.float32)
            with tf.GradientTape() as tape:
                tape.watch(batch)
                _, _, logits = self.tensor_pass(batch)
                score = tf.reduce_sum(logits[:, class_index])
            parts.append(tape.gradient(score, batch).numpy())
        return np.concatenate(parts)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def reinitialised(model: keras.Model, seed: int) -> keras.Model:
    """Return a copy of ``model`` with fresh random weights, as before any training.

    Kernels are drawn Glorot-uniform and biases are zero, the Keras defaults that
    glassbox.model uses; batch normalization starts as the identity. The draw comes
    from ``seed`` alone, so the same seed gives the same model.
    """
    clone = keras.models.clone_model(model)
    rng = np.random.default_rng(seed)
    for layer in clone.layers:
        if isinstance(layer, keras.layers.Dense):
            fan_in, fan_out = layer.kernel.shape
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            layer.kernel.assign(rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(np.float32))
            layer.bias.assign(np.zeros(fan_out, dtype=np.float32))
        elif isinstance(layer, keras.layers.BatchNormalization):
            for variable, value in ((layer.moving_mean, 0.0), (layer.moving_variance, 1.0)):
                variable.assign(np.full(variable.shape, value, dtype=np.float32))
            if layer.scale:
                layer.gamma.assign(np.ones(layer.gamma.shape, dtype=np.float32))
            if layer.center:
                layer.beta.assign(np.zeros(layer.beta.shape, dtype=np.float32))
    return clone
