"""Figures of weights and importance maps, drawn with Matplotlib's object API.

Each function builds a ``Figure`` directly (no pyplot), so nothing stays in pyplot's
registry after saving and memory stays flat however many figures a stage draws. The
Agg canvas needs no display.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from glassbox.atomic import atomic_file

DIVERGING = "RdBu_r"  # Red for positive weights, blue for negative, white for zero.


def save(figure: Figure, path: str | Path) -> None:
    path = Path(path)
    with atomic_file(path) as temporary:
        figure.savefig(temporary, format=path.suffix.lstrip("."), dpi=100, bbox_inches="tight", metadata=_NO_DATE[path.suffix])


# Without a fixed date, Matplotlib writes the current time into PDF and SVG files; PNG gets none by default.
_NO_DATE = {".png": {"Software": None}, ".pdf": {"CreationDate": None}, ".svg": {"Date": None}}


def symmetric_limit(values: np.ndarray) -> float:
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return limit if limit > 0 else 1.0


def neuron_images(
    kernel: np.ndarray,
    neurons: list[int] | np.ndarray,
    side: int,
    title: str,
    labels: list[str] | None = None,
    columns: int | None = None,
) -> Figure:
    """Draw each neuron's input weights as a side x side image on one colour scale centred on zero."""
    neurons = list(neurons)
    columns = columns or min(len(neurons), 16)
    rows = math.ceil(len(neurons) / columns)
    figure = Figure(figsize=(1.1 * columns + 1.2, 1.2 * rows + 0.8))
    limit = symmetric_limit(kernel[:, neurons])
    axes = figure.subplots(rows, columns, squeeze=False)
    image = None
    for position, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if position >= len(neurons):
            continue
        neuron = neurons[position]
        image = ax.imshow(kernel[:, neuron].reshape(side, side), cmap=DIVERGING, vmin=-limit, vmax=limit)
        ax.set_title(labels[position] if labels else f"#{neuron}", fontsize=7)
    figure.suptitle(title)
    if image is not None:
        figure.colorbar(image, ax=axes, shrink=0.8, label="input weight")
    return figure


def heat_map(values: np.ndarray, side: int, title: str, note: str, label: str) -> Figure:
    """Draw one value per pixel as a side x side map on a colour scale centred on zero."""
    figure = Figure(figsize=(5.0, 4.6))
    ax = figure.subplots()
    limit = symmetric_limit(values)
    image = ax.imshow(values.reshape(side, side), cmap=DIVERGING, vmin=-limit, vmax=limit)
    ax.set_axis_off()
    ax.set_title(title)
    figure.colorbar(image, ax=ax, label=label)
    figure.text(0.02, 0.01, note, fontsize=7, wrap=True)
    return figure


def bar_chart(values: np.ndarray, title: str, xlabel: str, ylabel: str, highlight: int | None = None) -> Figure:
    figure = Figure(figsize=(8.0, 3.2))
    ax = figure.subplots()
    colors = ["tab:red" if value > 0 else "tab:blue" for value in values]
    if highlight is not None:
        colors[highlight] = "black"
    ax.bar(np.arange(len(values)), values, color=colors, width=0.9)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return figure


def ranked_scores(scores: np.ndarray, null_max: float, title: str, ylabel: str) -> Figure:
    """Plot neuron scores from highest to lowest against the highest score at initialisation."""
    figure = Figure(figsize=(6.0, 3.4))
    ax = figure.subplots()
    ax.plot(np.sort(scores)[::-1], marker=".", linestyle="none", label="trained neurons")
    ax.axhline(null_max, color="tab:red", linestyle="--", label="most focused neuron at initialisation")
    ax.set_xlabel("neurons, most focused first")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    return figure
