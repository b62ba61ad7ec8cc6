"""Time per epoch of the train stage's fit path against plain ``model.fit`` on NumPy arrays.

Three trainings of the baseline variant (400-128-64-10) on full-size Fashion-MNIST
(60,000 training images, area-resized to 20x20 as the preprocess stage does), all
with batch size 32, 20% validation split, seed 0 and the same initial weights:

- plain: ``model.fit(x, y, batch_size=32, validation_split=0.2)`` on NumPy arrays,
  one batch per call into TensorFlow, the way the original write-up trained;
- untracked: the train stage's input pipeline and compile settings (a seeded
  ``tf.data`` shuffle, ``steps_per_execution`` from params.yaml, validation in
  batches of 1,024) with no callback but early stopping;
- stage: ``glassbox.training.train`` with MLflow epoch logging into a temporary
  local store and the weight history, as stages/train.py runs it.

Speed-up and accuracy compare one plain and one stage training of ``--epochs``
epochs, and a plain training with another seed shows how much the accuracy moves
with the seed alone. The tracking overhead compares ``--rounds`` pairs of short untracked and
stage trainings, alternated, and also times the tracking callbacks' work alone.
The first epoch of each training traces the TensorFlow functions, so epoch times
are medians of the later epochs. Other load on the machine shifts the ratios, so
the load average is printed too.

Usage: python benchmarks/train_speed.py [--epochs 10] [--rounds 4] [--idx-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import keras
import mlflow
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fashion_mnist import ensure_fashion_mnist  # noqa: E402

from glassbox import tracking  # noqa: E402
from glassbox.callbacks import EpochMetricsLogger, WeightHistory  # noqa: E402
from glassbox.data.idx import read_images, read_labels  # noqa: E402
from glassbox.data.preprocess import Split, to_features  # noqa: E402
from glassbox.model import build_model, compile_model  # noqa: E402
from glassbox.params import TrainParams, Variant, load_params, preprocess_params, train_params, variant_params  # noqa: E402
from glassbox.training import EVALUATION_BATCH_SIZE, make_dataset, make_deterministic, train, validation_split  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SEED = 0


class EpochTimer(keras.callbacks.Callback):
    """Record each epoch's wall time, validation included; put it last so that it counts the other callbacks."""

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self.val_accuracy: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
        self.val_accuracy.append(float(logs["val_accuracy"]))


def load_fashion_mnist(folder: Path, raw_params: dict) -> Split:
    """Read the four IDX files and turn them into features as the preprocess stage does."""
    settings = preprocess_params(raw_params)
    x_train = to_features(read_images(folder / "train-images-idx3-ubyte.gz"), settings)
    x_test = to_features(read_images(folder / "t10k-images-idx3-ubyte.gz"), settings)
    y_train = read_labels(folder / "train-labels-idx1-ubyte.gz")
    y_test = read_labels(folder / "t10k-labels-idx1-ubyte.gz")
    return Split(x_train, y_train, x_test, y_test)


def time_plain_fit(variant: Variant, data: Split, settings: TrainParams, seed: int = SEED) -> EpochTimer:
    make_deterministic(seed)
    model = build_model(variant, data.x_train.shape[1])
    compile_model(model, variant, settings.learning_rate, steps_per_execution=1)
    timer = EpochTimer()
    model.fit(
        data.x_train, data.y_train.astype(np.int32),
        batch_size=settings.batch_size, epochs=settings.max_epochs,
        validation_split=settings.validation_split, verbose=0, callbacks=[timer],
    )
    return timer


def time_untracked_fit(variant: Variant, data: Split, settings: TrainParams) -> EpochTimer:
    """Time the stage's data pipeline and compile settings, without weight history or MLflow."""
    make_deterministic(SEED)
    x_fit, y_fit, x_val, y_val = validation_split(data.x_train, data.y_train.astype(np.int32), settings.validation_split)
    model = build_model(variant, data.x_train.shape[1])
    compile_model(model, variant, settings.learning_rate, settings.steps_per_execution)
    timer = EpochTimer()
    early_stopping = keras.callbacks.EarlyStopping(monitor="val_loss", patience=settings.patience, restore_best_weights=True)
    model.fit(
        make_dataset(x_fit, y_fit, settings.batch_size, SEED),
        validation_data=make_dataset(x_val, y_val, EVALUATION_BATCH_SIZE, None),
        epochs=settings.max_epochs, verbose=2, shuffle=False, callbacks=[early_stopping, timer],
    )
    return timer


def time_stage_fit(variant: Variant, data: Split, settings: TrainParams, store: tracking.Store) -> EpochTimer:
    """Time ``glassbox.training.train`` with the weight history and MLflow logging, as the train stage runs it."""
    experiment_id = tracking.ensure_experiment("train-speed", store)
    timer = EpochTimer()
    with tracking.run(experiment_id, name=f"{variant.name}-seed{SEED}"):
        train(variant, data, settings, SEED, callbacks=[EpochMetricsLogger(), timer])
    return timer


def time_tracking_work(model: keras.Model, store: tracking.Store, repeats: int = 20) -> float:
    """Return the seconds that the two tracking callbacks spend at the end of one epoch, median of ``repeats``."""
    experiment_id = tracking.ensure_experiment("train-speed", store)
    logs = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.79}
    weight_history, metrics_logger = WeightHistory(), EpochMetricsLogger()
    weight_history.set_model(model)
    seconds = []
    with tracking.run(experiment_id, name="tracking-work"):
        for epoch in range(repeats):
            start = time.perf_counter()
            weight_history.on_epoch_end(epoch, logs)
            metrics_logger.on_epoch_end(epoch, logs)
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def per_epoch(timers: list[EpochTimer]) -> float:
    """Return the median epoch time, leaving out each training's first epoch, which traces the TensorFlow functions."""
    return statistics.median(seconds for timer in timers for seconds in timer.seconds[1:])


def print_trainings(rows: list[tuple[str, list[EpochTimer]]]) -> None:
    print(f"{'training':<10} {'s/epoch':>8}  final (best) val_accuracy  epoch times (s)")
    for name, timers in rows:
        for timer in timers:
            times = " ".join(f"{seconds:.2f}" for seconds in timer.seconds)
            accuracy = f"{timer.val_accuracy[-1]:.4f} ({max(timer.val_accuracy):.4f})"
            print(f"{name:<10} {per_epoch([timer]):>8.3f}  {accuracy:<24}  {times}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=10, help="epochs of the plain and stage trainings compared for speed and accuracy (default 10)")
    parser.add_argument("--rounds", type=int, default=4, help="pairs of 3-epoch untracked and stage trainings, alternated, for the tracking overhead (default 4)")
    parser.add_argument("--idx-dir", type=Path, help="a folder with the four Fashion-MNIST IDX files (default: install Debian's)")
    args = parser.parse_args()
    if args.epochs < 2 or args.rounds < 1:
        parser.error("--epochs must be at least 2 (the first epoch is not timed) and --rounds at least 1")

    raw = load_params(PROJECT_ROOT / "params.yaml")
    variant = variant_params(raw, "baseline")
    # Enough patience that every training runs all epochs.
    settings = dataclasses.replace(train_params(raw), max_epochs=args.epochs, patience=args.epochs)
    short = dataclasses.replace(settings, max_epochs=3, patience=3)
    data = load_fashion_mnist(args.idx_dir or ensure_fashion_mnist(), raw)
    print(f"Fashion-MNIST: {len(data.x_train)} training images of {data.x_train.shape[1]} features, "
          f"batch size {settings.batch_size}, steps_per_execution {settings.steps_per_execution}")
    print(f"CPU cores: {os.cpu_count()}, load average before: {os.getloadavg()[0]:.1f}")

    os.environ.pop("MLFLOW_TRACKING_URI", None)
    with tempfile.TemporaryDirectory() as store_dir:
        store = tracking.configure(store_dir)
        plain = time_plain_fit(variant, data, settings)
        stage = time_stage_fit(variant, data, settings, store)
        # Another seed shows how far the accuracy moves with the initial weights and batch order alone.
        plain_other_seed = time_plain_fit(variant, data, settings, seed=SEED + 1)
        # Alternated in the order ABBA, so that load changes and the order itself hit both alike.
        untracked_rounds, stage_rounds = [], []
        for round_index in range(args.rounds):
            if round_index % 2 == 0:
                untracked_rounds.append(time_untracked_fit(variant, data, short))
                stage_rounds.append(time_stage_fit(variant, data, short, store))
            else:
                stage_rounds.append(time_stage_fit(variant, data, short, store))
                untracked_rounds.append(time_untracked_fit(variant, data, short))
        # Keras gave the timer the trained model, as it gives every callback.
        tracking_work = time_tracking_work(stage.model, store)
    mlflow.set_tracking_uri(None)

    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print_trainings([
        ("plain", [plain]), ("stage", [stage]), ("plain s1", [plain_other_seed]),
        ("untracked", untracked_rounds), ("stage", stage_rounds),
    ])
    speedup = per_epoch([plain]) / per_epoch([stage])
    accuracy_gap = 100 * (stage.val_accuracy[-1] - plain.val_accuracy[-1])
    seed_gap = 100 * (plain_other_seed.val_accuracy[-1] - plain.val_accuracy[-1])
    overhead = per_epoch(stage_rounds) / per_epoch(untracked_rounds) - 1
    print(f"stage speed-up over plain model.fit: {speedup:.2f}x per epoch (target >= 2x)")
    print(f"final val_accuracy after {args.epochs} epochs, stage minus plain: {accuracy_gap:+.2f} points (target within 0.3)")
    print(f"final val_accuracy, plain seed {SEED + 1} minus plain seed {SEED}: {seed_gap:+.2f} points (seed noise)")
    print(f"MLflow logging + weight history, epoch time with / without: {100 * overhead:+.1f}% (target < 5%)")
    print(f"MLflow logging + weight history, work per epoch: {1000 * tracking_work:.1f} ms, "
          f"{100 * tracking_work / per_epoch(stage_rounds):.1f}% of a stage epoch")


if __name__ == "__main__":
    main()
