"""The files of a trained model (models/<variant>/seed<k>/) and how to read them back."""

from __future__ import annotations

import json
from pathlib import Path

import keras
import numpy as np

from glassbox.atomic import atomic_dir, write_json, write_npz
from glassbox.errors import DataError
from glassbox.training import TrainingResult

MODEL_FILE = "model.keras"
WEIGHTS_FILE = "weights.npz"
HISTORY_FILE = "history.json"


def model_dir(variant: str, seed: int) -> Path:
    return Path("models") / variant / f"seed{seed}"


def metrics_path(variant: str, seed: int) -> Path:
    return Path("metrics") / variant / f"seed{seed}.json"


def save_training(result: TrainingResult, folder: str | Path, metrics_file: str | Path) -> None:
    """Write the model, weight history and history into ``folder`` and the metrics file, all or nothing."""
    with atomic_dir(folder) as temporary:
        result.model.save(temporary / MODEL_FILE)
        write_npz(temporary / WEIGHTS_FILE, **result.weights)
        write_json(temporary / HISTORY_FILE, {"epoch": list(range(1, result.epochs_run + 1)), **result.history})
    write_json(metrics_file, result.metrics)


def load_model(folder: str | Path) -> keras.Model:
    path = Path(folder) / MODEL_FILE
    if not path.is_file():
        raise DataError(f"{path}: model file not found; run the train stage first")
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
