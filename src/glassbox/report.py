"""The ablation's numbers: every trained model's results, and their mean and spread per variant.

The compare stage reads, for each variant and seed in params.yaml, the metrics file and
training history that the train stage wrote and the interpretation.json that the
interpret stage wrote. report_table, report_figures and report_html turn the result
into the Markdown table, the figures and the self-contained HTML page.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from glassbox.atomic import atomic_file
from glassbox.errors import DataError
from glassbox.model_files import history_path, load_history_csv, load_metrics, metrics_path
from glassbox.params import Variant

INTERPRETATION_DIR = Path("reports") / "variants"
INTERPRETATION_FILE = "interpretation.json"
FOCUSED_NEURONS_PNG = "most_focused_neurons.png"
PATHWAY_PIXELS_PNG = "pathway_pixels.png"
FULL_MNIST_IMAGES = 70_000

# The numbers averaged over seeds, in table order: key and column title.
QUANTITIES = [
    ("test_accuracy", "test accuracy"),
    ("test_loss", "test loss"),
    ("best_epoch", "best epoch"),
    ("epochs_run", "epochs run"),
    ("near_zero_share", "near-zero first-layer weights"),
    ("focus_mean", "mean focus"),
    ("focus_max", "best focus"),
    ("n_multi_region", "multi-region neurons"),
]


def interpretation_summary(path: str | Path) -> dict:
    """Read the numbers the report shows from one interpretation.json; a key the file lacks becomes None.

    No other function reads interpretation.json, so a renamed key needs a change here
    alone.
    """
    path = Path(path)
    try:
        numbers = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(f"{path}: not found; run the interpret stage first") from None
    except json.JSONDecodeError as error:
        raise DataError(f"{path}: invalid JSON ({error}); run the interpret stage again") from None
    return {
        "run_id": _lookup(numbers, "run_id"),
        "near_zero_share": _lookup(numbers, "first_layer", "near_zero_share"),
        "focus_mean": _lookup(numbers, "focus", "mean"),
        "focus_max": _lookup(numbers, "focus", "max"),
        "pathway_target": _lookup(numbers, "pathway", "target"),
        "n_multi_region": _lookup(numbers, "regions", "n_multi_region"),
        "faithfulness": _faithfulness_verdict(numbers),
    }


def _faithfulness_verdict(numbers: dict) -> str | None:
    """Return the deletion-curve winner, qualified when it does not beat both random baselines."""
    most_faithful = _lookup(numbers, "faithfulness", "most_faithful")
    if most_faithful is None:
        return None
    failed = [
        baseline
        for baseline, key in (
            ("random order", "most_faithful_beats_random_order"),
            ("the random-weight model", "most_faithful_beats_random_weight_model"),
        )
        if _lookup(numbers, "faithfulness", key) is False
    ]
    return most_faithful + (f" (not better than {' or '.join(failed)})" if failed else "")


def _lookup(numbers: dict, *keys: str):
    value = numbers
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


@dataclass
class ModelResult:
    """The results of one trained model (one variant, one seed), as read from its files."""

    variant: str
    seed: int
    metrics: dict
    interpretation: dict
    history: dict[str, list[float]]
    folder: Path  # reports/variants/<variant>/seed<k>, where its figures are

    def value(self, key: str):
        """Return a quantity of QUANTITIES, from the metrics file or the interpretation."""
        return self.metrics[key] if key in self.metrics else self.interpretation.get(key)


def collect_results(variants: list[str], seeds: list[int], root: str | Path = ".") -> list[ModelResult]:
    """Read every variant's results for every seed, in the order of params.yaml."""
    root = Path(root)
    results = []
    for variant in variants:
        for seed in seeds:
            metrics = load_metrics(root / metrics_path(variant, seed))
            history_file = root / history_path(variant, seed)
            history = load_history_csv(history_file)
            if not {"loss", "val_loss"} <= history.keys():
                raise DataError(f"{history_file}: expected columns loss and val_loss, found {', '.join(history)}; run the train stage again")
            folder = root / INTERPRETATION_DIR / variant / f"seed{seed}"
            interpretation = interpretation_summary(folder / INTERPRETATION_FILE)
            results.append(ModelResult(variant, seed, metrics, interpretation, history, folder))
    return results


@dataclass(frozen=True)
class Spread:
    """Mean and sample standard deviation over the seeds that have a value; ``std`` is None below two."""

    mean: float | None
    std: float | None
    n: int


def spread(values: list) -> Spread:
    present = [float(value) for value in values if value is not None]
    if not present:
        return Spread(None, None, 0)
    # ddof=1: the seeds are a sample of all possible seeds.
    std = float(np.std(present, ddof=1)) if len(present) > 1 else None
    return Spread(float(np.mean(present)), std, len(present))


@dataclass
class VariantSummary:
    """One variant over all its seeds: one row of the ablation table."""

    variant: str
    settings: Variant
    results: list[ModelResult]
    spreads: dict[str, Spread] = field(default_factory=dict)
    faithfulness: str = "n/a"


def summarize(results: list[ModelResult], settings: dict[str, Variant]) -> list[VariantSummary]:
    """Group the results by variant, in first-seen order, with each quantity's spread over seeds."""
    summaries: dict[str, VariantSummary] = {}
    for result in results:
        summary = summaries.setdefault(result.variant, VariantSummary(result.variant, settings[result.variant], []))
        summary.results.append(result)
    for summary in summaries.values():
        summary.spreads = {key: spread([result.value(key) for result in summary.results]) for key, _ in QUANTITIES}
        summary.faithfulness = faithfulness_text([result.interpretation["faithfulness"] for result in summary.results])
    return list(summaries.values())


def faithfulness_text(verdicts: list) -> str:
    """Return the one verdict all seeds agree on, else each verdict with its count of seeds."""
    present = [str(verdict) for verdict in verdicts if verdict is not None]
    if not present:
        return "n/a"
    counts = Counter(present)
    if len(counts) == 1 and len(present) == len(verdicts):
        return present[0]
    parts = [f"{verdict} ({count} of {len(verdicts)} seeds)" for verdict, count in sorted(counts.items())]
    missing = len(verdicts) - len(present)
    if missing:
        parts.append(f"n/a ({missing} of {len(verdicts)} seeds)")
    return "; ".join(parts)


def describe_variant(variant: Variant) -> str:
    """Return a variant's settings in a few words, such as ``128-64 relu, L1 1e-05, dropout 0.1/0.05``."""
    parts = ["-".join(str(size) for size in variant.hidden) + f" {variant.activation}"]
    if variant.task == "binary":
        parts.append("0 vs 1")
    if variant.l1:
        parts.append(f"L1 {variant.l1:g}")
    if variant.dropout:
        parts.append("dropout " + "/".join(f"{rate:g}" for rate in variant.dropout))
    if variant.batch_norm:
        parts.append("batch norm")
    return ", ".join(parts)


def data_statement(source: dict) -> str:
    """Return one sentence naming the data and its size, from data/raw/source.json."""
    sentence = f"Data: {source['description']} (source `{source['source']}`, {source['n_images']:,} images"
    if source.get("n_train") is not None and source.get("n_test") is not None:
        sentence += f", official split {source['n_train']:,} training / {source['n_test']:,} test"
    return sentence + f", sha256 {source['digest'][:12]})."


def sample_warning(source: dict) -> str | None:
    """Return a warning when the data is smaller than full MNIST, so a sample result is never read as one."""
    if source["n_images"] >= FULL_MNIST_IMAGES:
        return None
    return (
        f"These results come from {source['n_images']:,} images, not the {FULL_MNIST_IMAGES:,} of full MNIST: "
        "compare them only with runs on the same data."
    )


def summary_metrics(summaries: list[VariantSummary]) -> dict[str, dict[str, float | int]]:
    """Return ``{variant: {quantity_mean, quantity_std, n_seeds}}``, for reports/ablation.json and MLflow.

    A standard deviation is left out when fewer than two seeds have the quantity, and a
    quantity no seed has is left out entirely.
    """
    metrics = {}
    for summary in summaries:
        numbers: dict[str, float | int] = {"n_seeds": len(summary.results)}
        for key, _ in QUANTITIES:
            value = summary.spreads[key]
            if value.mean is not None:
                numbers[f"{key}_mean"] = _round(value.mean)
            if value.std is not None:
                numbers[f"{key}_std"] = _round(value.std)
        metrics[summary.variant] = numbers
    return metrics


def _round(value: float) -> float:
    # Twelve significant digits keep reports/ablation.json readable, and the digits beyond are float noise.
    return float(f"{value:.12g}") if math.isfinite(value) else value


def model_rows(results: list[ModelResult]) -> list[dict]:
    """Return one flat record per trained model: the per-seed numbers behind the table."""
    rows = []
    for result in results:
        row = {"variant": result.variant, "seed": result.seed}
        row.update({key: result.value(key) for key, _ in QUANTITIES})
        row["faithfulness"] = result.interpretation["faithfulness"]
        row["run_id"] = result.interpretation["run_id"]
        rows.append(row)
    return rows


def val_loss_rows(results: list[ModelResult]) -> list[dict]:
    """Return the validation and training loss of every model per epoch, in long form for one DVC plot."""
    rows = []
    for result in results:
        for epoch, val_loss, loss in zip(result.history["epoch"], result.history["val_loss"], result.history["loss"]):
            rows.append({"variant": result.variant, "seed": result.seed, "epoch": epoch, "val_loss": val_loss, "loss": loss})
    return rows


def save_val_loss_csv(results: list[ModelResult], path: str | Path) -> None:
    """Write val_loss_rows as CSV, the data of the DVC plot that draws every model on one chart."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=["variant", "seed", "epoch", "val_loss", "loss"], lineterminator="\n")
    writer.writeheader()
    for row in val_loss_rows(results):
        writer.writerow({**row, "val_loss": repr(row["val_loss"]), "loss": repr(row["loss"])})
    with atomic_file(path) as temporary:
        temporary.write_text(text.getvalue())
