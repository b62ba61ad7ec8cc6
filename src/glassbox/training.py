"""Train one variant with one seed, repeatably, and evaluate the restored best weights."""

from __future__ import annotations

import logging
import math
import random
import sys
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from glassbox.callbacks import WeightHistory
from glassbox.data.preprocess import Split
from glassbox.model import build_model, compile_model
from glassbox.params import TrainParams, Variant

log = logging.getLogger(__name__)

# Validation and test batches run in inference mode, where their size changes the
# speed and the last bits of an averaged loss, never the weights.
EVALUATION_BATCH_SIZE = 1024


@dataclass
class TrainingResult:
    model: keras.Model
    history: dict[str, list[float]]
    weights: dict[str, np.ndarray]
    best_epoch: int
    epochs_run: int
    metrics: dict[str, float]


def make_deterministic(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and switch TensorFlow to deterministic kernels.

    Seeds alone are not enough: some TensorFlow kernels sum in a varying order
    unless op determinism is on.
    """
    random.seed(seed)
    np.random.seed(seed)
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def validation_split(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[np.ndarray, ...]:
    """Hold out the last ``fraction`` of the training images, as Keras's ``validation_split`` does."""
    n_validation = int(round(len(x) * fraction))
    if n_validation < 1 or n_validation >= len(x):
        raise ValueError(f"validation_split={fraction} leaves no training or no validation images out of {len(x)}")
    cut = len(x) - n_validation
    return x[:cut], y[:cut], x[cut:], y[cut:]


def make_dataset(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None) -> tf.data.Dataset:
    """Return batches from in-memory arrays, reshuffled every epoch with a fixed seed if ``seed`` is given."""
    dataset = tf.data.Dataset.from_tensor_slices((x, y))
    if seed is not None:
        dataset = dataset.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


def execution_steps(steps_per_execution: int, track_every_batches: int, steps_per_epoch: int) -> int:
    """Return how many batches each call into TensorFlow should run.

    Keras calls batch callbacks only between executions. To record the weights after
    exactly every ``track_every_batches`` batches, an execution must divide both that
    interval and the batches of an epoch, so the requested value is lowered to their
    greatest common divisor. The results do not depend on it, only the speed does.
    """
    if track_every_batches == 0:
        return steps_per_execution
    return math.gcd(steps_per_execution, track_every_batches, steps_per_epoch)


def train(
    variant: Variant,
    data: Split,
    params: TrainParams,
    seed: int,
    callbacks: list[keras.callbacks.Callback] | None = None,
) -> TrainingResult:
    """Train ``variant`` on ``data`` with early stopping on validation loss.

    Early stopping restores the best weights, so the returned metrics come from
    evaluating the restored model after ``fit``, not from the last epoch's logs.
    """
    make_deterministic(seed)
    x_fit, y_fit, x_val, y_val = validation_split(data.x_train, data.y_train, params.validation_split)
    y_dtype = np.float32 if variant.task == "binary" else np.int32
    train_batches = make_dataset(x_fit, y_fit.astype(y_dtype), params.batch_size, seed)
    validation_batches = make_dataset(x_val, y_val.astype(y_dtype), EVALUATION_BATCH_SIZE, None)
    test_batches = make_dataset(data.x_test, data.y_test.astype(y_dtype), EVALUATION_BATCH_SIZE, None)

    steps_per_epoch = math.ceil(len(x_fit) / params.batch_size)
    steps_per_execution = execution_steps(params.steps_per_execution, params.track_every_batches, steps_per_epoch)
    if steps_per_execution != params.steps_per_execution:
        log.info(
            "recording the weights every %d batches: running %d batches per execution instead of %d",
            params.track_every_batches, steps_per_execution, params.steps_per_execution,
        )
    model = build_model(variant, data.x_train.shape[1])
    compile_model(model, variant, params.learning_rate, steps_per_execution)
    weight_history = WeightHistory(every_batches=params.track_every_batches)
    early_stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=params.patience, restore_best_weights=True, verbose=1
    )

    log.info(
        "training %s, seed %d: %d training, %d validation images, up to %d epochs",
        variant.name, seed, len(x_fit), len(x_val), params.max_epochs,
    )
    fit = model.fit(
        train_batches,
        validation_data=validation_batches,
        epochs=params.max_epochs,
        callbacks=[weight_history, early_stopping, *(callbacks or [])],
        # One line per epoch when the output goes to a file or a pipe (as under dvc repro).
        verbose=1 if sys.stdout.isatty() else 2,
        # The training batches are already reshuffled every epoch, with the seed.
        shuffle=False,
    )

    epochs_run = len(fit.history["loss"])
    # EarlyStopping keeps the first epoch with the lowest val_loss; it is 0-based.
    best_epoch = early_stopping.best_epoch + 1
    validation = model.evaluate(validation_batches, verbose=0, return_dict=True)
    test = model.evaluate(test_batches, verbose=0, return_dict=True)
    metrics = {
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        # Named apart from the per-epoch val_loss, whose latest point is the last epoch's.
        "best_val_loss": float(validation["loss"]),
        "best_val_accuracy": float(validation["accuracy"]),
        "test_loss": float(test["loss"]),
        "test_accuracy": float(test["accuracy"]),
    }
    log.info(
        "%s, seed %d: best epoch %d of %d, test accuracy %.4f",
        variant.name, seed, best_epoch, epochs_run, metrics["test_accuracy"],
    )
    history = {key: [float(value) for value in values] for key, values in fit.history.items()}
    return TrainingResult(model, history, weight_history.as_arrays(), best_epoch, epochs_run, metrics)
