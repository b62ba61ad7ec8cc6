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

import numpy as np
import tensorflow as tf

from glassbox import figures
from glassbox.interpret.network import Network
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

STEPS = 300
LEARNING_RATE = 0.05
ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON = 0.9, 0.999, 1e-7


def maximise_class(network: Network, output: int, live: np.ndarray, fixed: np.ndarray, side: int, smoothness: float) -> np.ndarray:
    """Return the image in [0, 1] that gradient ascent finds for output ``output``'s logit.

    ``fixed`` gives the value of every pixel outside ``live``. The whole ascent runs
    as one TensorFlow loop, which is several times faster than a Python loop of steps.
    """
    live_mask = tf.constant(live.astype(np.float32)[None, :])
    fixed_values = tf.constant(np.where(live, 0.0, fixed).astype(np.float32)[None, :])

    def objective(image):
        _, _, logits = network.tensor_pass(image)
        grid = tf.reshape(image, (side, side))
        roughness = tf.reduce_sum(tf.square(grid[1:, :] - grid[:-1, :])) + tf.reduce_sum(tf.square(grid[:, 1:] - grid[:, :-1]))
        return logits[0, output] - smoothness * roughness

    @tf.function
    def ascend(image):
        # Adam (Kingma and Ba, 2015) with its default decay rates, written out for the loop.
        first = tf.zeros_like(image)
        second = tf.zeros_like(image)
        for step in tf.range(1, STEPS + 1):
            with tf.GradientTape() as tape:
                tape.watch(image)
                value = objective(image)
            gradient = tape.gradient(value, image) * live_mask
            first = ADAM_BETA1 * first + (1 - ADAM_BETA1) * gradient
            second = ADAM_BETA2 * second + (1 - ADAM_BETA2) * tf.square(gradient)
            t = tf.cast(step, tf.float32)
            update = (first / (1 - ADAM_BETA1**t)) / (tf.sqrt(second / (1 - ADAM_BETA2**t)) + ADAM_EPSILON)
            image = tf.clip_by_value(image + LEARNING_RATE * update, 0.0, 1.0) * live_mask + fixed_values
        return image

    return ascend(fixed_values).numpy()[0].astype(np.float64)


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
