"""The input that most excites a class: gradient ascent on its logit with a smoothness penalty.

Starting from a black image, each step moves the pixels up the gradient of

    class logit - smoothness * sum of squared differences between neighbouring pixels

with Adam, then clips them to [0, 1], the range of real images. Pixels that are
constant in every training image stay at that constant: their weights never trained,
so ascent would otherwise paint them with leftover initial noise. The penalty keeps
the picture from turning into high-frequency noise that no digit contains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import numpy as np
import tensorflow as tf

from glassbox import figures
from glassbox.interpret.network import Network
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

STEPS = 300
LEARNING_RATE = 0.05


def maximise_class(network: Network, output: int, live: np.ndarray, fixed: np.ndarray, side: int, smoothness: float) -> np.ndarray:
    """Return the image in [0, 1] that gradient ascent finds for output ``output``'s logit.

    ``fixed`` gives the value of every pixel outside ``live``.
    """
    live_mask = tf.constant(live.astype(np.float32))
    fixed_values = tf.constant(np.where(live, 0.0, fixed).astype(np.float32))
    image = tf.Variable(fixed_values[None, :])
    optimizer = keras.optimizers.Adam(learning_rate=LEARNING_RATE)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            _, _, logits = network.tensor_pass(image)
            grid = tf.reshape(image, (side, side))
            roughness = tf.reduce_sum(tf.square(grid[1:, :] - grid[:-1, :])) + tf.reduce_sum(tf.square(grid[:, 1:] - grid[:, :-1]))
            objective = logits[0, output] - smoothness * roughness
        # The optimizer minimises, so it gets the negative gradient of the objective.
        gradient = -tape.gradient(objective, image) * live_mask
        optimizer.apply_gradients([(gradient, image)])
        image.assign(tf.clip_by_value(image, 0.0, 1.0) * live_mask + fixed_values)

    for _ in range(STEPS):
        step()
    return image.numpy()[0].astype(np.float64)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / norm) if norm > 0 else 0.0


def activation_max_section(subject: Subject) -> Section:
    target = subject.target
    live = subject.live
    constant = subject.data.x_train[0]
    image = maximise_class(subject.network, target.output, live, constant, subject.side, subject.params.smoothness)
    logits = subject.network.logits(image[None, :].astype(np.float32))
    probability = float(subject.network.class_probability(logits, target.output)[0])
    labels = subject.data.y_train
    averages = {int(label): subject.data.x_train[labels == label].mean(axis=0) for label in np.unique(labels)}
    similarity = {label: correlation(image[live], average[live]) for label, average in averages.items()}
    most_similar = max(similarity, key=similarity.get)

    section = Section()
    section.numbers = {
        "target": target.name,
        "objective": "class logit minus smoothness times the summed squared differences of neighbouring pixels",
        "smoothness": subject.params.smoothness,
        "steps": STEPS,
        "learning_rate": LEARNING_RATE,
        "logit": float(logits[0, target.output]),
        "probability": probability,
        "predicted": int(subject.network.predict_labels(logits)[0]),
        "correlation_with_class_averages": {str(label): round(value, 6) for label, value in similarity.items()},
        "most_similar_class_average": most_similar,
        "image": rounded(image, 4),
    }
    section.metrics = {
        "activation_max_probability": probability,
        "activation_max_class_average_correlation": similarity[target.label],
    }
    section.figures["activation_max"] = figures.grey_images(
        [image, averages[target.label], averages[most_similar]] if most_similar != target.label else [image, averages[target.label]],
        subject.side,
        [
            f"input that most excites {target.name}\n(probability {probability:.2f})",
            f"average training image of {target.name}\n(correlation {similarity[target.label]:.2f})",
            f"most similar average: digit {most_similar}\n(correlation {similarity[most_similar]:.2f})",
        ],
        f"Does the model's ideal {target.name} look like one? Most similar class average: digit {most_similar}",
        note=f"Gradient ascent on the logit of {target.name} from a black image, {STEPS} Adam steps, smoothness "
        f"penalty {subject.params.smoothness:g} on squared neighbour differences, pixels kept in [0, 1]. "
        "Correlation: Pearson, over the live pixels.",
    )
    return section
