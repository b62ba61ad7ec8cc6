"""Linear pathway importance: a class's output weights pushed back through the network.

For a 400-h1-h2-10 network with kernels W1, W2, W3, the importance of hidden-1 units
for class c is W2 @ W3[:, c] and that of the pixels is W1 @ W2 @ W3[:, c]. This equals
the true input gradient of the class logit only where every ReLU is active; it ignores
activations. Batch normalization at inference scales each unit's output by
gamma / sqrt(moving_variance + epsilon), and that scale is folded into the weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np


@dataclass
class DenseStack:
    """The Dense kernels from input to output, and the inference-time BN scale after each hidden layer."""

    kernels: list[np.ndarray]
    output_scales: list[np.ndarray]

    @property
    def has_batch_norm(self) -> bool:
        return any(not np.all(scale == 1.0) for scale in self.output_scales)


def dense_stack(model: keras.Model) -> DenseStack:
    """Read kernels and fold the inference-mode batch normalization scale of each hidden layer."""
    kernels: list[np.ndarray] = []
    scales: list[np.ndarray] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            kernels.append(np.asarray(layer.kernel, dtype=np.float64))
            scales.append(np.ones(kernels[-1].shape[1]))
        elif isinstance(layer, keras.layers.BatchNormalization):
            gamma = np.asarray(layer.gamma, dtype=np.float64) if layer.scale else 1.0
            variance = np.asarray(layer.moving_variance, dtype=np.float64)
            scales[-1] = scales[-1] * gamma / np.sqrt(variance + layer.epsilon)
    return DenseStack(kernels, scales[:-1])


def hidden1_importance(stack: DenseStack, class_index: int) -> np.ndarray:
    """Return W2 @ ... @ W_out[:, c] with BN scales folded: one value per hidden-1 unit."""
    vector = stack.kernels[-1][:, class_index]
    for kernel, scale in zip(reversed(stack.kernels[1:-1]), reversed(stack.output_scales[1:])):
        vector = kernel @ (scale * vector)
    return stack.output_scales[0] * vector


def pixel_importance(stack: DenseStack, class_index: int) -> np.ndarray:
    """Return W1 @ W2 @ ... @ W_out[:, c] with BN scales folded: one value per pixel."""
    return stack.kernels[0] @ hidden1_importance(stack, class_index)
