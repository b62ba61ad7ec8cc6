"""The files of a trained model (models/<variant>/seed<k>/) and how to read them back."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from glassbox.atomic import atomic_file, temporary_beside, write_json, write_npz
from glassbox.errors import DataError

if TYPE_CHECKING:
    import keras

    from glassbox.training import TrainingResult

MODEL_FILE = "model.keras"
WEIGHTS_FILE = "weights.npz"
HISTORY_FILE = "history.json"


def model_dir(variant: str, seed: int) -> Path:
    return Path("models") / variant / f"seed{seed}"


def metrics_path(variant: str, seed: int) -> Path:
    return Path("metrics") / variant / f"seed{seed}.json"


def history_path(variant: str, seed: int) -> Path:
    return Path("plots") / "history" / variant / f"seed{seed}.csv"


class StagedTraining:
    """A trained model's folder and metrics file under temporary names, until ``publish``.

    The temporaries sit beside their final paths, named ``.<name>.tmp-*`` as in
    ``glassbox.atomic``, so that a killed stage leaves nothing that looks complete
    and the next run removes the leftovers. Leaving the ``with`` block removes
    whatever was not published.
    """

    def __init__(self, folder: str | Path, metrics_file: str | Path):
        self.destination_folder = Path(folder)
        self.destination_metrics = Path(metrics_file)
        self.folder = temporary_beside(self.destination_folder, directory=True)
        try:
            self.metrics_file = temporary_beside(self.destination_metrics, directory=False)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        self.published = False

    def publish(self) -> None:
        """Rename the model folder, then the metrics file, into place, replacing older ones."""
        if self.destination_folder.exists():
            shutil.rmtree(self.destination_folder)
        os.replace(self.folder, self.destination_folder)
        os.replace(self.metrics_file, self.destination_metrics)
        self.published = True

    def discard(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.metrics_file.unlink(missing_ok=True)

    def __enter__(self) -> StagedTraining:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.published:
            self.discard()


def stage_training(result: TrainingResult, folder: str | Path, metrics_file: str | Path) -> StagedTraining:
    """Write the model, weight history, history and metrics under temporary names."""
    staged = StagedTraining(folder, metrics_file)
    try:
        result.model.save(staged.folder / MODEL_FILE)
        write_npz(staged.folder / WEIGHTS_FILE, **result.weights)
        write_json(staged.folder / HISTORY_FILE, {"epoch": list(range(1, result.epochs_run + 1)), **result.history})
        write_json(staged.metrics_file, result.metrics)
    except BaseException:
        staged.discard()
        raise
    return staged


def save_training(result: TrainingResult, folder: str | Path, metrics_file: str | Path) -> None:
    """Write the model folder and the metrics file, each either complete or not at all."""
    with stage_training(result, folder, metrics_file) as staged:
        staged.publish()


def load_model(folder: str | Path) -> keras.Model:
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise DataError(f"{path}: model file not found; run the train stage first")
    import keras  # Imported here so that readers of metrics and histories do not load TensorFlow.

    return keras.saving.load_model(path, safe_mode=True)


def load_weight_history(folder: str | Path) -> dict[str, np.ndarray]:
    path = Path(folder) / WEIGHTS_FILE
    try:
        with np.load(path) as stored:
            return {key: stored[key] for key in stored.files}
    except FileNotFoundError:
        raise DataError(f"{path}: weight history not found; run the train stage first") from None


def load_metrics(path: str | Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: metrics file not found; run the train stage first") from None


def save_history_csv(history: dict[str, list[float]], path: str | Path) -> None:
    """Write the per-epoch history as CSV for DVC plots: ``epoch`` (from 1), then one column per metric."""
    names = sorted(history)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["epoch", *names])
    for index in range(len(history[names[0]]) if names else 0):
        writer.writerow([index + 1, *(repr(float(history[name][index])) for name in names)])
    with atomic_file(path) as temporary:
        temporary.write_text(text.getvalue())


def load_history_csv(path: str | Path) -> dict[str, list[float]]:
    """Return the columns of a history CSV that ``save_history_csv`` wrote, ``epoch`` as integers."""
    try:
        rows = list(csv.DictReader(io.StringIO(Path(path).read_text())))
    except FileNotFoundError:
        raise DataError(f"{path}: training history not found; run the train stage first") from None
    if not rows or "epoch" not in rows[0]:
        raise DataError(f"{path}: expected a CSV with a header row starting with 'epoch' and one row per epoch; run the train stage again")
    try:
        columns = {name: [float(row[name]) for row in rows] for name in rows[0]}
    except (TypeError, ValueError) as error:
        raise DataError(f"{path}: invalid number in the training history ({error}); run the train stage again") from None
    columns["epoch"] = [int(value) for value in columns["epoch"]]
    return columns
