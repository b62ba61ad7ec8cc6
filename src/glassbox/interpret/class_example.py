"""A real test image of the class against the class average, in the last hidden layer's activations.

Activations are the last hidden layer's outputs before batch normalization. The
example is the first test image of the class that the model classifies correctly.
Similarity is the cosine between activation vectors, which ignores their overall size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassbox import figures
from glassbox.interpret.section import Section, cosine, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject


def class_means(activations: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return np.stack([activations[labels == label].mean(axis=0) for label in classes]).astype(np.float64)


def nearest_mean_labels(activations: np.ndarray, means: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Return, for each row, the class whose mean activation vector is nearest by cosine."""
    rows = activations / np.maximum(np.linalg.norm(activations, axis=1, keepdims=True), 1e-30)
    centres = means / np.maximum(np.linalg.norm(means, axis=1, keepdims=True), 1e-30)
    return classes[np.argmax(rows @ centres.T, axis=1)]


def class_example_section(subject: Subject) -> Section:
    target = subject.target
    layer = subject.network.hidden[-1]
    activations = subject.test_pass.activations[layer].astype(np.float64)
    labels = subject.data.y_test
    classes = np.unique(labels)
    means = class_means(activations, labels, classes)
    predicted = subject.network.predict_labels(subject.test_pass.logits)
    correct = np.flatnonzero((labels == target.label) & (predicted == labels))
    index = int(correct[0]) if correct.size else int(np.flatnonzero(labels == target.label)[0])
    example = activations[index]
    own = means[np.searchsorted(classes, target.label)]
    similarities = {int(label): cosine(example, mean) for label, mean in zip(classes, means)}
    nearest = nearest_mean_labels(activations, means, classes)

    section = Section()
    section.numbers = {
        "layer": layer,
        "test_index": index,
        "correctly_classified": bool(correct.size),
        "cosine_to_class_means": {str(label): round(value, 6) for label, value in similarities.items()},
        "nearest_class_mean": max(similarities, key=similarities.get),
        "example_activations": rounded(example),
        "class_mean_activations": rounded(own),
        "nearest_class_mean_accuracy": float(np.mean(nearest == labels)),
    }
    section.metrics = {
        "class_example_cosine": similarities[target.label],
        "nearest_class_mean_accuracy": section.numbers["nearest_class_mean_accuracy"],
    }

    order = np.argsort(-own, kind="stable")
    section.figures["class_example"] = figures.example_against_average(
        subject.data.x_test[index],
        subject.class_images(target.label).mean(axis=0),
        subject.side,
        example[order],
        own[order],
        (f"test image #{index}", f"average of the {int((labels == target.label).sum())} test images of {target.name}"),
        f"{target.name}: a real test image against the class average, in {layer} "
        f"(cosine {similarities[target.label]:.2f}; nearest class mean: digit {section.numbers['nearest_class_mean']})",
        f"unit of {layer}, sorted by the class-mean activation",
        "activation (before batch normalization)",
        note=f"Over all test images, the nearest class mean (by cosine, in {layer}) is the true label for "
        f"{section.numbers['nearest_class_mean_accuracy']:.1%} of them.",
    )
    return section
