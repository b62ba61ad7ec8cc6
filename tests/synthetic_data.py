"""Small synthetic data sets for training tests: 400 features in [0, 1], like 20x20 digits."""

from __future__ import annotations

import numpy as np

from glassbox.data.preprocess import Split

N_FEATURES = 400


def learnable_split(n_train: int = 1000, n_test: int = 200, seed: int = 1) -> Split:
    """Return ten noisy prototypes with labels 0-9, which a small network learns in a few epochs."""
    prototypes = np.random.default_rng(7).random((10, N_FEATURES), dtype=np.float32)
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 10, n).astype(np.uint8)
        noise = 0.3 * rng.standard_normal((n, N_FEATURES), dtype=np.float32)
        return np.clip(prototypes[labels] + noise, 0.0, 1.0).astype(np.float32), labels

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    return Split(x_train, y_train, x_test, y_test)


def noise_split(n_train: int = 1000, n_test: int = 200, seed: int = 2) -> Split:
    """Return random images with random labels: a network can only memorise them, so val_loss soon rises."""
    rng = np.random.default_rng(seed)
    return Split(
        rng.random((n_train, N_FEATURES), dtype=np.float32),
        rng.integers(0, 10, n_train).astype(np.uint8),
        rng.random((n_test, N_FEATURES), dtype=np.float32),
        rng.integers(0, 10, n_test).astype(np.uint8),
    )


def binary_subset(data: Split) -> Split:
    """Keep the images labelled 0 or 1, as the binary task expects."""
    train, test = data.y_train <= 1, data.y_test <= 1
    return Split(data.x_train[train], data.y_train[train], data.x_test[test], data.y_test[test])
