"""How first-layer neurons changed during training, from the recorded weight history.

The weight history (weights.npz) contains the initial state and the weights after every
epoch, plus snapshots within epochs when training recorded them. Only the initial
state and the epoch ends are used here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glassbox import figures
from glassbox.interpret.focus import FocusScores, window_energy
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject


@dataclass
class EpochKernels:
    """The first-layer kernel at the initial state and after each epoch: shape (n_snapshots, n_pixels, n_neurons)."""

    epochs: np.ndarray
    kernels: np.ndarray


def epoch_kernels(history: dict[str, np.ndarray], layer: str = "hidden1") -> EpochKernels:
    ends = history["epoch_end"].astype(bool)
    return EpochKernels(history["epoch"][ends].astype(int), history[f"{layer}/kernel"][ends])


def restored_epoch(film: EpochKernels, kernel: np.ndarray) -> int | None:
    """Return the epoch whose weights the model contains (early stopping restores the best), or None."""
    for epoch, snapshot in zip(film.epochs, film.kernels):
        if np.array_equal(snapshot, kernel):
            return int(epoch)
    return None


def neuron_evolution(film: EpochKernels, neuron: int, live: np.ndarray, side: int, window: int) -> dict:
    """Return one neuron's window energy at each epoch and how its live weights moved between epochs.

    For each pair of consecutive epochs: the share of live pixels whose weight went up
    and went down, the summed rise and fall, and the size of the change relative to
    the weights before it.
    """
    weights = film.kernels[:, :, neuron].astype(np.float64)
    changes = np.diff(weights[:, live], axis=0)
    before = np.linalg.norm(weights[:-1][:, live], axis=1)
    final = weights[-1, live]
    cosine_to_final = weights[:, live] @ final / np.maximum(np.linalg.norm(weights[:, live], axis=1) * np.linalg.norm(final), 1e-30)
    return {
        "epochs": film.epochs.tolist(),
        "window_energy": window_energy(weights.T, live, side, window).tolist(),
        "cosine_to_last_epoch": cosine_to_final.tolist(),
        "share_up": (changes > 0).mean(axis=1).tolist(),
        "share_down": (changes < 0).mean(axis=1).tolist(),
        "total_rise": np.where(changes > 0, changes, 0).sum(axis=1).tolist(),
        "total_fall": np.where(changes < 0, -changes, 0).sum(axis=1).tolist(),
        "relative_change": (np.linalg.norm(changes, axis=1) / np.maximum(before, 1e-30)).tolist(),
    }


def layer_focus_by_epoch(film: EpochKernels, live: np.ndarray, side: int, window: int) -> dict:
    """Return the mean, median and maximum window energy over all neurons at each epoch."""
    energies = np.stack([window_energy(kernel, live, side, window) for kernel in film.kernels])
    return {
        "epochs": film.epochs.tolist(),
        "mean": energies.mean(axis=1).tolist(),
        "median": np.median(energies, axis=1).tolist(),
        "max": energies.max(axis=1).tolist(),
    }


def evolution_section(subject: Subject, scores: FocusScores) -> Section:
    """Follow the most focused neuron and every neuron named in ``interpret.neurons`` through training."""
    film = epoch_kernels(subject.history)
    restored = restored_epoch(film, np.asarray(subject.model.get_layer("hidden1").kernel))
    most_focused = int(scores.ranking[0])
    neurons = list(dict.fromkeys([most_focused, *subject.params.neurons]))
    window = subject.params.window
    by_layer = layer_focus_by_epoch(film, subject.live, subject.side, window)

    section = Section()
    section.numbers = {
        "epochs": film.epochs.tolist(),
        "restored_epoch": restored,
        "most_focused_neuron": most_focused,
        "neurons": {str(n): _rounded_evolution(neuron_evolution(film, n, subject.live, subject.side, window)) for n in neurons},
        "layer_window_energy": {key: rounded(value) if key != "epochs" else value for key, value in by_layer.items()},
    }
    mean_energy = by_layer["mean"]
    section.metrics = {"focus_mean_change_in_training": mean_energy[-1] - mean_energy[0]}

    labels = [f"ep {epoch}" + ("*" if epoch == restored else "") for epoch in film.epochs]
    rows = []
    for n in neurons:
        weights = film.kernels[:, :, n].astype(np.float64)
        name = f"neuron #{n}" + (" (most focused)" if n == most_focused else " (from interpret.neurons)")
        rows.append((weights, np.diff(weights, axis=0), name))
    section.figures["evolution"] = figures.film(
        rows,
        subject.side,
        labels,
        "How first-layer neurons changed during training",
        "ep 0: the initial weights. *: the epoch whose weights the saved model contains (early stopping restores "
        "the best). Each neuron's weights share one colour scale across epochs, and so do its changes.",
        live=subject.live,
    )
    section.figures["focus_by_epoch"] = figures.curves(
        film.epochs,
        {"mean over neurons": np.array(by_layer["mean"]), "median": np.array(by_layer["median"]), "most focused neuron": np.array(by_layer["max"])},
        f"Focus of the first layer during training (E_{window}, all neurons)",
        "epoch (0: initial weights)",
        f"share of weight energy in the best {window}x{window} patch",
        styles={"mean over neurons": "o-", "median": "s--", "most focused neuron": "^:"},
    )
    return section


def _rounded_evolution(numbers: dict) -> dict:
    return {key: value if key == "epochs" else rounded(value) for key, value in numbers.items()}
