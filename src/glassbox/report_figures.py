"""The ablation's own figures: test accuracy per variant, and every model's validation loss on one chart."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from glassbox.report import VariantSummary

# tab10 has ten distinguishable colours; more variants reuse them in order.
PALETTE = [f"C{index}" for index in range(10)]


def accuracy_figure(summaries: list[VariantSummary], data_description: str) -> Figure:
    """Draw test accuracy per variant: a diamond at the mean, one standard deviation, a dot per seed.

    Points, not bars: the axis starts near the lowest accuracy so that small
    differences show, and a bar cut off there would exaggerate them.
    """
    figure = Figure(figsize=(8.0, 3.8))
    ax = figure.subplots()
    low = 1.0
    for position, summary in enumerate(summaries):
        accuracies = [result.metrics["test_accuracy"] for result in summary.results]
        value = summary.spreads["test_accuracy"]
        ax.errorbar(position, value.mean, yerr=value.std, fmt="D", color="steelblue", markersize=7, capsize=4, linewidth=1)
        ax.plot([position + 0.18] * len(accuracies), accuracies, "k.", markersize=6)
        low = min(low, *accuracies)
    ax.set_xticks(range(len(summaries)), [summary.variant for summary in summaries], rotation=30, ha="right")
    ax.set_xlim(-0.6, len(summaries) - 0.4)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.grid(axis="y", color="0.9")
    ax.set_axisbelow(True)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Test accuracy per variant (diamond: mean, line: ±1 sd, dots: seeds)\n{data_description}", fontsize=9)
    return figure


def val_loss_figure(summaries: list[VariantSummary], data_description: str) -> Figure:
    """Draw every model's validation loss per epoch, one colour per variant and one line per seed.

    Training loss is drawn dashed in the same colour, so a widening gap (over-fitting) and
    a curve still falling at the last epoch (under-fitting) show at a glance. A dot marks
    the epoch whose weights early stopping restored.
    """
    figure = Figure(figsize=(8.0, 4.6))
    ax = figure.subplots()
    handles = []
    for index, summary in enumerate(summaries):
        color = PALETTE[index % len(PALETTE)]
        for result in summary.results:
            epochs = np.asarray(result.history["epoch"])
            ax.plot(epochs, result.history["val_loss"], color=color, linewidth=1.4)
            ax.plot(epochs, result.history["loss"], color=color, linewidth=0.9, linestyle="--", alpha=0.6)
            best = int(result.metrics["best_epoch"])
            if best in result.history["epoch"]:
                ax.plot(best, result.history["val_loss"][result.history["epoch"].index(best)], "o", color=color, markersize=4)
        label = summary.variant + (" (0 vs 1)" if summary.settings.task == "binary" else "")
        handles.append(Line2D([], [], color=color, label=label))
    handles += [
        Line2D([], [], color="grey", linestyle="-", label="validation loss"),
        Line2D([], [], color="grey", linestyle="--", label="training loss"),
        Line2D([], [], color="grey", marker="o", linestyle="none", label="restored (best) epoch"),
    ]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (cross-entropy)")
    ax.set_title(f"Validation loss of every model\n{data_description}", fontsize=9)
    ax.legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return figure
