"""Linear pathway importance: a class's output weights pushed back through the network.

For a 400-h1-h2-10 network with kernels W1, W2, W3, the importance of hidden-1 units
for class c is W2 @ W3[:, c] and that of the pixels is W1 @ W2 @ W3[:, c]. This equals
the true input gradient of the class logit only where every ReLU is active; it ignores
activations. Batch normalization at inference scales each unit's output by
gamma / sqrt(moving_variance + epsilon), and that scale is folded into the weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import keras
import numpy as np

from glassbox import figures
from glassbox.interpret.section import Section, cosine, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

PATHWAY_NOTE = (
    "Linear pathway: products of the weight matrices, W1 @ W2 @ W3[:, c]. It ignores the activations, so it "
    "equals the input gradient of the class logit only where every hidden unit is active."
)
BATCH_NORM_NOTE = " Batch normalization's inference-time scale gamma / sqrt(moving variance + eps) is folded into the weights."


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


def hidden1_importance(stack: DenseStack, class_index: int, slopes: list[np.ndarray] | None = None) -> np.ndarray:
    """Return W2 @ ... @ W_out[:, c] with BN scales folded: one value per hidden-1 unit.

    ``slopes`` (one array per hidden layer) weights each hidden unit by its mean
    activation slope on the class's images, for ReLU the share of those images on
    which it is active. Without it every unit counts as always active.
    """
    gates = slopes or [np.ones(len(scale)) for scale in stack.output_scales]
    vector = stack.kernels[-1][:, class_index]
    for kernel, scale, gate in zip(reversed(stack.kernels[1:-1]), reversed(stack.output_scales[1:]), reversed(gates[1:])):
        vector = kernel @ (scale * gate * vector)
    return stack.output_scales[0] * gates[0] * vector


def pixel_importance(stack: DenseStack, class_index: int, slopes: list[np.ndarray] | None = None) -> np.ndarray:
    """Return W1 @ W2 @ ... @ W_out[:, c] with BN scales folded (and ``slopes`` applied): one value per pixel."""
    return stack.kernels[0] @ hidden1_importance(stack, class_index, slopes)


def output_weights(stack: DenseStack, class_index: int) -> np.ndarray:
    """Return the output weights of a class from each last-hidden unit, with that layer's BN scale folded."""
    return stack.kernels[-1][:, class_index] * stack.output_scales[-1]


def hidden_to_pixels(stack: DenseStack, layer_index: int, unit: int) -> np.ndarray:
    """Return the pixel map of one hidden unit: its input weights pushed back to the pixels.

    ``layer_index`` counts hidden layers from 0; for layer 0 this is the unit's own
    weight image. BN scales of the layers in between are folded in.
    """
    vector = stack.kernels[layer_index][:, unit]
    for kernel, scale in zip(reversed(stack.kernels[:layer_index]), reversed(stack.output_scales[:layer_index])):
        vector = kernel @ (scale * vector)
    return vector


def pathway_section(subject: Subject) -> Section:
    target = subject.target
    images = subject.class_images(target.label)
    slopes_by_layer = subject.network.mean_slopes(images)
    slopes = [slopes_by_layer[name] for name in subject.network.hidden]
    hidden = hidden1_importance(subject.stack, target.output)
    pixels = pixel_importance(subject.stack, target.output)
    gated_hidden = hidden1_importance(subject.stack, target.output, slopes)
    gated_pixels = pixel_importance(subject.stack, target.output, slopes)
    gradients = subject.network.input_gradients(images, target.output).astype(np.float64)
    live = subject.live
    strongest = int(np.argmax(np.abs(hidden)))

    section = Section()
    section.numbers = {
        "target": "the output (digit 1 against 0)" if target.is_binary else target.name,
        "batch_norm_folded": subject.stack.has_batch_norm,
        "hidden1_most_relied_on": strongest,
        "hidden1_most_relied_on_activity_weighted": int(np.argmax(np.abs(gated_hidden))),
        "hidden1_importance": rounded(hidden),
        "hidden1_importance_activity_weighted": rounded(gated_hidden),
        "pixel_importance": rounded(pixels),
        "active_share": {name: rounded(value, 4) for name, value in slopes_by_layer.items()},
        "gradient_images": len(images),
        # How far ignoring the activations takes the map from the true gradient on real images.
        "gradient_cosine": float(np.mean([cosine(pixels[live], g[live]) for g in gradients])),
        "gradient_cosine_activity_weighted": float(np.mean([cosine(gated_pixels[live], g[live]) for g in gradients])),
    }
    section.metrics = {
        "pathway_gradient_cosine": section.numbers["gradient_cosine"],
        "pathway_gradient_cosine_activity_weighted": section.numbers["gradient_cosine_activity_weighted"],
    }

    note = PATHWAY_NOTE + (BATCH_NORM_NOTE if subject.stack.has_batch_norm else "")
    name = section.numbers["target"]
    section.figures["pathway_pixels"] = figures.heat_maps(
        [pixels, gated_pixels, gradients.mean(axis=0)],
        subject.side,
        [
            "linear pathway W1 @ W2 @ W3[:, c]",
            f"weighted by how often each unit is\nactive on {target.name} (cosine to gradient {section.numbers['gradient_cosine_activity_weighted']:.2f})",
            f"true input gradient, mean over\n{len(images)} test images of {target.name}",
        ],
        f"Pixels pushing the logit of {name} up (red) or down (blue); "
        f"pathway vs true gradient: cosine {section.numbers['gradient_cosine']:.2f}",
        note + " Each map has its own colour scale. " + figures.DEAD_NOTE,
        "effect on the class logit",
        live=live,
    )
    section.figures["pathway_hidden1"] = figures.bar_chart(
        hidden,
        f"First-layer neurons pushing toward {name} (black: most relied on, #{strongest})",
        "first-layer neuron",
        "W2 @ W3[:, c]",
        highlight=strongest,
        note=note,
    )
    return section
