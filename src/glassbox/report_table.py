"""The ablation as text: formatted cells and the Markdown report (reports/ablation.md)."""

from __future__ import annotations

from glassbox.report import (
    FOCUSED_NEURONS_PNG,
    PATHWAY_PIXELS_PNG,
    QUANTITIES,
    ModelResult,
    Spread,
    VariantSummary,
    data_statement,
    describe_variant,
    sample_warning,
)

MISSING = "n/a"

# Print format of each quantity: decimals, and whether it is a share shown in percent.
FORMATS = {
    "test_accuracy": (4, False),
    "test_loss": (4, False),
    "best_epoch": (1, False),
    "epochs_run": (1, False),
    "near_zero_share": (1, True),
    "focus_mean": (3, False),
    "focus_max": (3, False),
    "n_multi_region": (1, False),
}
COUNTS = {"best_epoch", "epochs_run", "n_multi_region"}

SPREAD_NOTE = (
    "Each cell is the mean ± the sample standard deviation over seeds (n - 1 in the denominator); "
    "a cell without ± comes from one seed. n/a: the interpretation did not record that number."
)
FOCUS_NOTE = (
    "Focus: the largest share of a first-layer neuron's weight energy inside one small square patch of "
    "the image (window energy); mean over neurons, and the best neuron."
)

SUMMARY_COLUMNS = ["variant", "model", "seeds", *(title for _, title in QUANTITIES), "faithfulness"]
MODEL_COLUMNS = ["variant", "seed", *(title for _, title in QUANTITIES), "faithfulness", "MLflow run"]


def format_value(key: str, value) -> str:
    """Format one seed's value of a quantity; None becomes n/a."""
    if value is None:
        return MISSING
    if key in COUNTS and float(value).is_integer():
        return str(int(value))
    decimals, percent = FORMATS[key]
    return f"{value:.{decimals}%}" if percent else f"{value:.{decimals}f}"


def format_spread(key: str, value: Spread) -> str:
    """Format a mean with its standard deviation, such as ``0.9412 ± 0.0031``."""
    if value.mean is None:
        return MISSING
    if value.std is None:
        return format_value(key, value.mean)
    decimals, percent = FORMATS[key]
    if percent:
        return f"{value.mean:.{decimals}%} ± {value.std:.{decimals}%}"
    return f"{value.mean:.{decimals}f} ± {value.std:.{decimals}f}"


def summary_cells(summary: VariantSummary) -> list[str]:
    """Return one row of the per-variant table, in SUMMARY_COLUMNS order."""
    return [
        summary.variant,
        describe_variant(summary.settings),
        str(len(summary.results)),
        *(format_spread(key, summary.spreads[key]) for key, _ in QUANTITIES),
        summary.faithfulness,
    ]


def model_cells(result: ModelResult) -> list[str]:
    """Return one row of the per-model table, in MODEL_COLUMNS order."""
    return [
        result.variant,
        str(result.seed),
        *(format_value(key, result.value(key)) for key, _ in QUANTITIES),
        MISSING if result.interpretation["faithfulness"] is None else str(result.interpretation["faithfulness"]),
        result.interpretation["run_id"] or MISSING,
    ]


def figure_caption(summary: VariantSummary, filename: str) -> str:
    """Return the caption of a variant's figure: which model it comes from, and for a pixel map its target."""
    first = summary.results[0]
    caption = f"{summary.variant}, seed {first.seed}"
    target = first.interpretation["pathway_target"]
    if filename == PATHWAY_PIXELS_PNG and target is not None:
        caption += f", toward {target}"
    return caption


def pathway_title(summaries: list[VariantSummary]) -> str:
    """Return the heading of the pixel heat maps, naming the class when every variant targets the same one."""
    targets = {summary.results[0].interpretation["pathway_target"] for summary in summaries}
    if len(targets) == 1 and None not in targets:
        return f"Pixels pushing toward {targets.pop()} (linear pathway)"
    return "Pixels pushing toward the class of interest (linear pathway)"


def markdown_report(summaries: list[VariantSummary], results: list[ModelResult], source: dict) -> str:
    """Return reports/ablation.md; image links are relative to the reports folder."""
    lines = ["# Ablation: what regularizers do to a small network", "", data_statement(source), ""]
    warning = sample_warning(source)
    if warning:
        lines += [f"> **Warning:** {warning}", ""]
    lines += ["## Per variant", "", SPREAD_NOTE, FOCUS_NOTE, ""]
    lines += _markdown_table(SUMMARY_COLUMNS, [summary_cells(summary) for summary in summaries])
    lines += [
        "",
        "## Test accuracy per variant",
        "",
        "![Test accuracy per variant: diamonds at the mean, error bars one standard deviation, dots one seed each](ablation.png)",
        "",
        "## Validation loss of every model",
        "",
        "![Validation loss per epoch, one colour per variant, one line per seed; training loss dashed](val_loss.png)",
        "",
        "## Most focused first-layer neurons",
        "",
    ]
    lines += _image_row(summaries, FOCUSED_NEURONS_PNG, "most focused neurons")
    lines += ["", f"## {pathway_title(summaries)}", ""]
    lines += _image_row(summaries, PATHWAY_PIXELS_PNG, "pixel heat map")
    lines += ["", "## Every model", ""]
    lines += _markdown_table(MODEL_COLUMNS, [model_cells(result) for result in results])
    return "\n".join(lines) + "\n"


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(_escape_cell(cell) for cell in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_escape_cell(cell) for cell in row) + " |" for row in rows]
    return lines


def _escape_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _image_row(summaries: list[VariantSummary], filename: str, what: str) -> list[str]:
    """Return a one-row Markdown table with one variant's figure per column."""
    header = [figure_caption(summary, filename) for summary in summaries]
    cells = []
    for summary in summaries:
        first = summary.results[0]
        link = f"variants/{first.variant}/seed{first.seed}/{filename}"
        cells.append(f"![{summary.variant}: {what}]({link})")
    return _markdown_table(header, [cells])
