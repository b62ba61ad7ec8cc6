"""Keras callbacks that record what happens during training."""

from __future__ import annotations

from typing import TYPE_CHECKING

import keras
import mlflow
import numpy as np

if TYPE_CHECKING:
    from glassbox.tracking import OutageTolerantRun


class WeightHistory(keras.callbacks.Callback):
    """Record every weight of the model before training and after every epoch.

    With ``every_batches`` > 0 it also records after every batch whose count since
    the start of training is a multiple of ``every_batches``, for a finer film of a
    neuron. Keras calls batch callbacks only once per ``steps_per_execution`` batches.
    So ``training.train`` compiles the model with a ``steps_per_execution`` that
    divides ``every_batches`` and the batches per epoch (``execution_steps``). With
    any other value a snapshot lands on the first execution boundary after the batch.

    NOTE: snapshots stay in memory until training ends, about 0.23 MB each for a
    400-128-64-10 model, so a small ``every_batches`` over many epochs needs gigabytes.
    """

    def __init__(self, every_batches: int = 0):
        super().__init__()
        self.every_batches = every_batches
        self.snapshots: list[list[np.ndarray]] = []
        self.epochs: list[int] = []
        self.steps: list[int] = []
        self.epoch_ends: list[bool] = []
        self._completed_epochs = 0

    def _record(self, epoch_end: bool) -> None:
        step = int(self.model.optimizer.iterations.numpy())
        if self.steps and self.steps[-1] == step:
            self.epoch_ends[-1] = self.epoch_ends[-1] or epoch_end
            self.epochs[-1] = self._completed_epochs
            return
        self.snapshots.append([np.array(weight) for weight in self.model.get_weights()])
        self.epochs.append(self._completed_epochs)
        self.steps.append(step)
        self.epoch_ends.append(epoch_end)

    def on_train_begin(self, logs=None):
        self._record(epoch_end=True)

    def on_train_batch_end(self, batch, logs=None):
        if self.every_batches:
            step = int(self.model.optimizer.iterations.numpy())
            if step // self.every_batches > self.steps[-1] // self.every_batches:
                self._record(epoch_end=False)

    def on_epoch_end(self, epoch, logs=None):
        self._completed_epochs = epoch + 1
        self._record(epoch_end=True)

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Return one stacked array per weight, keyed by its path (``hidden1/kernel``).

        ``epoch`` is the number of completed epochs at each snapshot (0 for the initial
        state), ``step`` the number of batches trained, and ``epoch_end`` marks the
        initial state and the end-of-epoch snapshots.
        """
        arrays = {
            _layer_path(weight.path, self.model.name): np.stack([snapshot[index] for snapshot in self.snapshots])
            for index, weight in enumerate(self.model.weights)
        }
        arrays["epoch"] = np.array(self.epochs, dtype=np.int32)
        arrays["step"] = np.array(self.steps, dtype=np.int64)
        arrays["epoch_end"] = np.array(self.epoch_ends, dtype=bool)
        return arrays


def _layer_path(path: str, model_name: str) -> str:
    """Drop the model name from a Keras variable path: ``baseline/hidden1/kernel`` -> ``hidden1/kernel``."""
    prefix = f"{model_name}/"
    return path[len(prefix):] if path.startswith(prefix) else path


class EpochMetricsLogger(keras.callbacks.Callback):
    """Log each epoch's loss and metrics to the active MLflow run, with the epoch (from 1) as step.

    Steps count from 1 so that step k matches the weights after epoch k in the weight
    history, where 0 is the initial state. Given an ``OutageTolerantRun``, it logs
    through that run, so that a failing store does not stop training.
    """

    def __init__(self, run: OutageTolerantRun | None = None):
        super().__init__()
        self._run = run

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        metrics = {key: float(value) for key, value in logs.items()}
        if self._run is None:
            mlflow.log_metrics(metrics, step=epoch + 1)
        else:
            self._run.write(mlflow.log_metrics, metrics, step=epoch + 1)
