"""The ablation report: one row per trained model, a table and a figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from glassbox.errors import DataError

COLUMNS = [
    ("variant", "variant"),
    ("seed", "seed"),
    ("test_accuracy", "test accuracy"),
    ("best_epoch", "best epoch"),
    ("epochs_run", "epochs run"),
    ("focus_mean", "mean focus (E_5)"),
]


def collect_rows(metrics_dir: str | Path, reports_dir: str | Path) -> list[dict]:
    """Read every metrics/<variant>/seed<k>.json with its interpretation.json into one row each."""
    rows = []
    for metrics_file in sorted(Path(metrics_dir).glob("*/seed*.json")):
        variant, seed = metrics_file.parent.name, int(metrics_file.stem.removeprefix("seed"))
        interpretation_file = Path(reports_dir) / variant / f"seed{seed}" / "interpretation.json"
        try:
            metrics = json.loads(metrics_file.read_text())
            interpretation = json.loads(interpretation_file.read_text())
        except FileNotFoundError as error:
            raise DataError(f"{error.filename}: not found; run dvc repro to create it") from None
        rows.append(
            {
                "variant": variant,
                "seed": seed,
                **metrics,
                "focus_mean": interpretation["focus"]["mean"],
                "run_id": interpretation["run_id"],
            }
        )
    if not rows:
        raise DataError(f"{metrics_dir}: no metrics files found; run the train stages first")
    return rows


def markdown_table(rows: list[dict], source: dict) -> str:
    """Return the report as Markdown, headed by the data source so a sample is never read as full MNIST."""
    lines = [
        "# Ablation",
        "",
        f"Data: {source['description']}; source `{source['source']}`, digest `{source['digest'][:12]}`.",
        "",
        "| " + " | ".join(title for _, title in COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    for row in rows:
        lines.append("| " + " | ".join(_format(row[key]) for key, _ in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def accuracy_figure(rows: list[dict], source: dict) -> Figure:
    """Draw test accuracy per variant, one dot per seed and a bar at the mean."""
    variants = list(dict.fromkeys(row["variant"] for row in rows))
    figure = Figure(figsize=(8.0, 3.6))
    ax = figure.subplots()
    for position, variant in enumerate(variants):
        accuracies = [row["test_accuracy"] for row in rows if row["variant"] == variant]
        ax.bar(position, np.mean(accuracies), color="lightsteelblue", width=0.6)
        ax.plot([position] * len(accuracies), accuracies, "k.", markersize=6)
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
    low = min(row["test_accuracy"] for row in rows)
    ax.set_ylim(max(0.0, low - 0.05), 1.0)
    ax.set_ylabel("test accuracy")
    ax.set_title(f"Test accuracy per variant (dots: seeds) on {source['description']}", fontsize=9)
    return figure
