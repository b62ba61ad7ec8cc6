"""Figures of weights, importance maps and curves, drawn with Matplotlib's object API.

Each function builds a ``Figure`` directly (no pyplot), so nothing stays in pyplot's
registry after saving and memory stays flat however many figures a stage draws. The
Agg canvas needs no display. Many small images (one per neuron or per epoch) are
tiled into one mosaic drawn by a single ``imshow``: a subplot per image would cost
about 15 ms each to lay out and draw. Every figure uses constrained layout, and its
title and note are wrapped to its width, so that no text overlaps.
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import LineCollection, PolyCollection
from matplotlib.figure import Figure

from glassbox.atomic import atomic_file

DIVERGING = "RdBu_r"  # Red for positive values, blue for negative, white for zero.
DEAD_GREY = (0.78, 0.78, 0.78, 1.0)
DEAD_NOTE = "Grey: pixels that are constant in every training image; their weights never train."
TILE_INCHES = 0.8  # Width of one small image in a mosaic.


def save(figure: Figure, path: str | Path) -> None:
    """Write ``figure`` to ``path`` in the format its suffix names, then free what it drew."""
    path = Path(path)
    # A figure with constrained layout already fits its contents; "tight" would draw it twice.
    constrained = figure.get_layout_engine() is not None
    with atomic_file(path) as temporary:
        figure.savefig(
            temporary,
            format=path.suffix.lstrip("."),
            dpi=100,
            bbox_inches=None if constrained else "tight",
            metadata=_NO_DATE[path.suffix],
        )
    figure.clear()


# Without a fixed date, Matplotlib writes the current time into PDF and SVG files; PNG gets none by default.
_NO_DATE = {".png": {"Software": None}, ".pdf": {"CreationDate": None}, ".svg": {"Date": None}}


def symmetric_limit(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    limit = float(np.max(np.abs(values))) if values.size else 0.0
    return limit if limit > 0 else 1.0


def _new_figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def _finish(figure: Figure, title: str, note: str = "", title_size: float = 11) -> Figure:
    """Add the title above and the note below, each wrapped to the figure's width."""
    width = figure.get_figwidth()
    figure.suptitle(textwrap.fill(title, width=max(40, int(width * 10.5 * 11 / title_size))), fontsize=title_size)
    if note:
        figure.supxlabel(textwrap.fill(note, width=max(60, int(width * 17))), fontsize=7, x=0.01, ha="left")
    return figure


def _colormap(name: str):
    # Tile gaps are NaN and show white.
    return colormaps[name].with_extremes(bad="white")


@dataclass
class MosaicLayout:
    """Tile positions of a mosaic: ``columns`` tiles per row, with room above each tile for its label."""

    count: int
    side: int
    columns: int
    label_rows: int
    gap: int = 1

    @property
    def rows(self) -> int:
        return math.ceil(self.count / self.columns)

    @property
    def stride_x(self) -> int:
        return self.side + self.gap

    @property
    def stride_y(self) -> int:
        return self.side + self.gap + self.label_rows

    @property
    def shape(self) -> tuple[int, int]:
        return self.rows * self.stride_y, self.columns * self.stride_x - self.gap

    def origin(self, index: int) -> tuple[int, int]:
        row, column = divmod(index, self.columns)
        return row * self.stride_y + self.label_rows, column * self.stride_x

    def inches(self) -> tuple[float, float]:
        """Return the mosaic's drawn width and height in inches."""
        height, width = self.shape
        scale = TILE_INCHES / self.side
        return width * scale, height * scale


def mosaic_layout(count: int, side: int, columns: int, labels: list[str] | None) -> MosaicLayout:
    lines = max((label.count("\n") + 1 for label in labels), default=0) if labels else 0
    return MosaicLayout(max(count, 1), side, max(1, min(columns, count)), 4 * lines)


def draw_mosaic(
    ax,
    images: np.ndarray,
    columns: int,
    *,
    limit: float | None = None,
    labels: list[str] | None = None,
    dead: np.ndarray | None = None,
    outlines: np.ndarray | None = None,
    grey: bool = False,
    label_size: float = 7,
):
    """Tile ``images`` (n, side, side) into one picture on ``ax`` and return the image artist.

    Values share one colour scale, symmetric around zero unless ``grey`` (then 0 is
    black and ``limit``, by default 1, is white). ``dead`` (side x side) paints
    constant pixels grey. ``outlines`` (n, side, side) contains region numbers whose
    borders are drawn in black.
    """
    layout = mosaic_layout(len(images), images.shape[-1], columns, labels)
    side = layout.side
    mosaic = np.full(layout.shape, np.nan)
    cover = np.zeros(layout.shape + (4,))
    segments = []
    for index in range(len(images)):
        y, x = layout.origin(index)
        mosaic[y : y + side, x : x + side] = images[index]
        if dead is not None:
            cover[y : y + side, x : x + side][dead] = DEAD_GREY
        if labels:
            ax.text(x + side / 2 - 0.5, y - 1.0, labels[index], ha="center", va="bottom", fontsize=label_size, linespacing=1.0)
        if outlines is not None:
            segments.extend(_border_segments(outlines[index], x, y))
    if grey:
        image = ax.imshow(mosaic, cmap=_colormap("gray"), vmin=0.0, vmax=1.0 if limit is None else limit, interpolation="nearest")
    else:
        limit = limit if limit is not None else symmetric_limit(images)
        image = ax.imshow(mosaic, cmap=_colormap(DIVERGING), vmin=-limit, vmax=limit, interpolation="nearest")
    if dead is not None:
        ax.imshow(cover, interpolation="nearest")
    if segments:
        ax.add_collection(LineCollection(segments, colors="black", linewidths=1.2))
    ax.set_axis_off()
    return image


def _border_segments(regions: np.ndarray, x: int, y: int) -> list:
    """Return line segments along pixel edges where the region number changes and one side is a region."""
    padded = np.pad(regions, 1)
    segments = []
    # Pixel (r, c) of the tile is drawn centred on (x + c, y + r); padded index i is tile index i - 1.
    across = (padded[:, 1:] != padded[:, :-1]) & ((padded[:, 1:] > 0) | (padded[:, :-1] > 0))
    for r, c in zip(*np.nonzero(across)):
        edge = x + c - 0.5
        segments.append([(edge, y + r - 1.5), (edge, y + r - 0.5)])
    down = (padded[1:, :] != padded[:-1, :]) & ((padded[1:, :] > 0) | (padded[:-1, :] > 0))
    for r, c in zip(*np.nonzero(down)):
        edge = y + r - 0.5
        segments.append([(x + c - 1.5, edge), (x + c - 0.5, edge)])
    return segments


def neuron_images(
    kernel: np.ndarray,
    neurons: list[int] | np.ndarray,
    side: int,
    title: str,
    labels: list[str] | None = None,
    columns: int | None = None,
    live: np.ndarray | None = None,
    outlines: np.ndarray | None = None,
    note: str = "",
) -> Figure:
    """Draw each neuron's input weights as a side x side image on one colour scale centred on zero.

    With ``live``, the scale is set by live pixels alone and dead pixels are grey.
    """
    neurons = list(neurons)
    labels = labels or [f"#{neuron}" for neuron in neurons]
    columns = columns or min(max(len(neurons), 1), 16)
    layout = mosaic_layout(len(neurons), side, columns, labels)
    width, height = layout.inches()
    figure = _new_figure(max(width + 1.4, 6.0), height + 1.3)
    ax = figure.subplots()
    notes = " ".join(text for text in (note, DEAD_NOTE if live is not None else "") if text)
    if not neurons:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no neuron qualifies", ha="center", va="center")
        return _finish(figure, title, notes)
    images = kernel[:, neurons].T.reshape(-1, side, side)
    dead = None if live is None else ~live.reshape(side, side)
    limit = symmetric_limit(kernel[:, neurons] if live is None else kernel[live][:, neurons])
    image = draw_mosaic(ax, images, columns, limit=limit, labels=labels, dead=dead, outlines=outlines)
    figure.colorbar(image, ax=ax, shrink=0.8, label="input weight (red +, blue -)")
    return _finish(figure, title, notes)


def heat_maps(
    maps: list[np.ndarray], side: int, titles: list[str], title: str, note: str, label: str, live: np.ndarray | None = None
) -> Figure:
    """Draw several per-pixel maps side by side, each on its own colour scale centred on zero."""
    figure = _new_figure(3.4 * len(maps) + 0.4, 4.2)
    axes = figure.subplots(1, len(maps), squeeze=False)[0]
    dead = None if live is None else ~live.reshape(side, side)
    for ax, values, subtitle in zip(axes, maps, titles):
        values = np.asarray(values, dtype=np.float64) if live is None else np.where(live, values, 0.0)
        image = draw_mosaic(ax, values.reshape(1, side, side), 1, dead=dead)
        ax.set_title(subtitle, fontsize=9)
        figure.colorbar(image, ax=ax, shrink=0.8, label=label)
    return _finish(figure, title, note)


def grey_images(images: list[np.ndarray], side: int, titles: list[str], title: str, note: str = "") -> Figure:
    """Draw images with pixel values in [0, 1] in grey (black 0, white 1), side by side."""
    figure = _new_figure(max(2.6 * len(images) + 0.4, 6.0), 3.6)
    axes = figure.subplots(1, len(images), squeeze=False)[0]
    for ax, values, subtitle in zip(axes, images, titles):
        draw_mosaic(ax, np.asarray(values).reshape(1, side, side), 1, grey=True)
        ax.set_title(subtitle, fontsize=9)
    return _finish(figure, title, note)


def draw_bars(ax, positions: np.ndarray, heights: np.ndarray, width: float, colors, label: str | None = None) -> None:
    """Draw vertical bars from zero as one collection.

    ``Axes.bar`` makes one artist per bar, which costs about 1 ms each to create and
    draw; a chart of 128 units drew several times slower that way.
    """
    left = np.asarray(positions, dtype=np.float64) - width / 2
    heights = np.asarray(heights, dtype=np.float64)
    corners = np.stack(
        [np.stack([left, np.zeros_like(heights)], 1), np.stack([left, heights], 1),
         np.stack([left + width, heights], 1), np.stack([left + width, np.zeros_like(heights)], 1)],
        axis=1,
    )
    ax.add_collection(PolyCollection(corners, facecolors=colors, edgecolors="none", label=label))
    ax.autoscale_view()


def bar_chart(values: np.ndarray, title: str, xlabel: str, ylabel: str, highlight: int | None = None, note: str = "") -> Figure:
    figure = _new_figure(8.0, 3.6)
    ax = figure.subplots()
    colors = ["tab:red" if value > 0 else "tab:blue" for value in values]
    if highlight is not None:
        colors[highlight] = "black"
    draw_bars(ax, np.arange(len(values)), values, 0.9, colors)
    ax.axhline(0, color="grey", linewidth=0.5)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _finish(figure, title, note)


def paired_bars(first: np.ndarray, second: np.ndarray, names: tuple[str, str], title: str, xlabel: str, ylabel: str, note: str = "") -> Figure:
    """Draw two values per item as neighbouring bars, for example two classes' weights per unit."""
    figure = _new_figure(9.0, 3.8)
    ax = figure.subplots()
    _paired(ax, first, second, names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _finish(figure, title, note)


def _paired(
    ax, first: np.ndarray, second: np.ndarray, names: tuple[str, str], positions: np.ndarray | None = None, colors=("tab:red", "tab:grey")
) -> None:
    positions = np.arange(len(first)) if positions is None else positions
    draw_bars(ax, positions - 0.2, first, 0.4, colors[0], label=names[0])
    draw_bars(ax, positions + 0.2, second, 0.4, colors[1], label=names[1])
    ax.axhline(0, color="black", linewidth=0.5)
    ax.legend(fontsize=8)


def ranked_scores(scores: np.ndarray, null_max: float, title: str, ylabel: str, initial_scores: np.ndarray | None = None) -> Figure:
    """Plot neuron scores from highest to lowest against the highest score at initialisation."""
    figure = _new_figure(6.4, 3.8)
    ax = figure.subplots()
    ax.plot(np.sort(scores)[::-1], marker=".", linestyle="none", label="trained neurons")
    if initial_scores is not None:
        ax.plot(np.sort(initial_scores)[::-1], marker=".", linestyle="none", color="tab:grey", alpha=0.6, label="the same neurons at initialisation")
    ax.axhline(null_max, color="tab:red", linestyle="--", label="most focused neuron at initialisation")
    ax.set_xlabel("neurons, most focused first")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=8)
    return _finish(figure, title, title_size=10)


def curves(
    x: np.ndarray,
    lines: dict[str, np.ndarray],
    title: str,
    xlabel: str,
    ylabel: str,
    note: str = "",
    styles: dict[str, str] | None = None,
) -> Figure:
    """Draw one line per entry of ``lines`` over ``x``, with a legend."""
    figure = _new_figure(7.0, 4.6)
    ax = figure.subplots()
    for name, values in lines.items():
        ax.plot(x, values, (styles or {}).get(name, "-"), label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _finish(figure, title, note, title_size=10)


def film(
    rows: list[tuple[np.ndarray, np.ndarray, str]],
    side: int,
    epoch_labels: list[str],
    title: str,
    note: str,
    live: np.ndarray | None = None,
) -> Figure:
    """Draw, for each (weights, changes, name) row, a neuron's image at each epoch and its changes between epochs.

    ``weights`` has shape (n_epochs, side * side) and ``changes`` (n_epochs - 1, side * side).
    """
    columns = min(len(epoch_labels), 12)
    layout = mosaic_layout(len(epoch_labels), side, columns, epoch_labels)
    width, height = layout.inches()
    figure = _new_figure(max(width + 1.6, 6.5), (2 * height + 0.8) * len(rows) + 1.2)
    axes = figure.subplots(2 * len(rows), 1, squeeze=False)[:, 0]
    dead = None if live is None else ~live.reshape(side, side)
    change_labels = [f"{a} to {b}" for a, b in zip(epoch_labels, epoch_labels[1:])]
    for index, (weights, changes, name) in enumerate(rows):
        top, bottom = axes[2 * index], axes[2 * index + 1]
        limit = symmetric_limit(weights if live is None else weights[:, live])
        image = draw_mosaic(top, weights.reshape(-1, side, side), columns, limit=limit, labels=epoch_labels, dead=dead)
        top.set_title(f"{name}: input weights after each epoch", fontsize=9)
        figure.colorbar(image, ax=top, shrink=0.9, label="weight")
        if len(changes):
            limit = symmetric_limit(changes if live is None else changes[:, live])
            image = draw_mosaic(bottom, changes.reshape(-1, side, side), columns, limit=limit, labels=change_labels, dead=dead, label_size=6)
            figure.colorbar(image, ax=bottom, shrink=0.9, label="change")
        else:
            bottom.set_axis_off()
        bottom.set_title(f"{name}: change from epoch to epoch (red: up, blue: down)", fontsize=9)
    return _finish(figure, title, note)


def example_against_average(
    image: np.ndarray,
    average: np.ndarray,
    side: int,
    example_values: np.ndarray,
    average_values: np.ndarray,
    names: tuple[str, str],
    title: str,
    xlabel: str,
    ylabel: str,
    note: str = "",
) -> Figure:
    """Draw an image and an average image in grey, then their values per unit as paired bars."""
    figure = _new_figure(12.0, 3.8)
    grid = figure.add_gridspec(1, 3, width_ratios=[1, 1, 4.5])
    for position, (values, name) in enumerate(zip((image, average), names)):
        ax = figure.add_subplot(grid[0, position])
        draw_mosaic(ax, np.asarray(values).reshape(1, side, side), 1, grey=True)
        ax.set_title(textwrap.fill(name, 24), fontsize=8)
    ax = figure.add_subplot(grid[0, 2])
    _paired(ax, example_values, average_values, names)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return _finish(figure, title, note, title_size=10)


@dataclass
class UnitProfile:
    """The values the selectivity figure draws for one hidden unit."""

    pixel_map: np.ndarray
    class_means: np.ndarray
    accuracy_drop: np.ndarray
    probability_drop: np.ndarray
    name: str
    pixel_title: str


def unit_profiles(
    profiles: list[UnitProfile], side: int, class_names: list[str], highlight: int, title: str, note: str, live: np.ndarray | None = None
) -> Figure:
    """Draw one row per unit: its pixel map, its mean activation per class, and what silencing it costs per class."""
    figure = _new_figure(12.0, 2.9 * len(profiles) + 1.0)
    axes = figure.subplots(len(profiles), 3, squeeze=False, width_ratios=[1, 2.2, 2.6])
    dead = None if live is None else ~live.reshape(side, side)
    colors = ["tab:grey"] * len(class_names)
    colors[highlight] = "tab:red"
    positions = np.arange(len(class_names))
    for row, profile in zip(axes, profiles):
        pixel_map = profile.pixel_map if live is None else np.where(live, profile.pixel_map, 0.0)
        image = draw_mosaic(row[0], pixel_map.reshape(1, side, side), 1, dead=dead)
        row[0].set_title(profile.pixel_title, fontsize=8)
        figure.colorbar(image, ax=row[0], shrink=0.8, label="red +, blue -")
        draw_bars(row[1], positions, profile.class_means, 0.8, colors)
        row[1].set_xticks(positions, class_names)
        row[1].set_title(profile.name, fontsize=9)
        row[1].set_xlabel("class")
        row[1].set_ylabel("mean activation")
        _paired(row[2], 100 * profile.accuracy_drop, 100 * profile.probability_drop, ("accuracy", "mean probability of the true class"), positions, colors=("tab:purple", "tab:orange"))
        row[2].set_xticks(positions, class_names)
        row[2].set_title("drop when the unit is silenced", fontsize=9)
        row[2].set_xlabel("class")
        row[2].set_ylabel("percentage points")
    return _finish(figure, title, note)


def images_over_attributions(images: np.ndarray, attributions: np.ndarray, side: int, labels: list[str], title: str, note: str) -> Figure:
    """Draw images in grey above their attribution maps, each map scaled to its own largest magnitude."""
    count = len(images)
    layout = mosaic_layout(count, side, count, labels)
    width, height = layout.inches()
    figure = _new_figure(max(width + 1.8, 6.0), 2 * height + 1.6)
    top, bottom = figure.subplots(2, 1)
    image = draw_mosaic(top, images.reshape(-1, side, side), count, grey=True)
    top.set_title("test images", fontsize=9)
    figure.colorbar(image, ax=top, shrink=0.9, label="pixel value")
    scale = np.maximum(np.abs(attributions).max(axis=1, keepdims=True), 1e-30)
    image = draw_mosaic(bottom, (attributions / scale).reshape(-1, side, side), count, limit=1.0, labels=labels, label_size=6)
    bottom.set_title("attributions", fontsize=9)
    figure.colorbar(image, ax=bottom, shrink=0.9, label="attribution / largest in image")
    return _finish(figure, title, note)
