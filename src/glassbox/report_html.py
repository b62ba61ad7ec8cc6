"""The ablation as one self-contained web page (reports/index.html).

Every image is embedded as a data URI and the page contains no script, so it works opened
as a file with no server. Its Content-Security-Policy forbids loading anything but
those data URIs, so a browser makes no request beyond the file itself. Every inserted
text is HTML-escaped, and the same inputs give the same bytes.
"""

from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from glassbox.errors import DataError
from glassbox.report import (
    FOCUSED_NEURONS_PNG,
    PATHWAY_PIXELS_PNG,
    ModelResult,
    VariantSummary,
    data_statement,
    sample_warning,
)
from glassbox.report_table import (
    FOCUS_NOTE,
    MODEL_COLUMNS,
    SPREAD_NOTE,
    SUMMARY_COLUMNS,
    figure_caption,
    model_cells,
    pathway_title,
    summary_cells,
)

CONTENT_SECURITY_POLICY = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 90rem; padding: 0 1rem; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.data { background: #eef3f8; padding: 0.6rem 0.8rem; border-radius: 4px; }
.warning { background: #fff3cd; border: 1px solid #e0b000; padding: 0.6rem 0.8rem; border-radius: 4px; font-weight: 600; }
.note { color: #555; font-size: 0.9rem; }
table { border-collapse: collapse; font-size: 0.85rem; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: right; }
td { white-space: nowrap; }
#summary td:nth-child(2) { white-space: normal; min-width: 9rem; }
#summary td:nth-child(2), #summary th:nth-child(2) { text-align: left; }
th { background: #f3f3f3; vertical-align: bottom; }
td:first-child, th:first-child { text-align: left; }
.wide { overflow-x: auto; }
.gallery { display: grid; gap: 1rem; align-items: start; }
.gallery.neurons { grid-template-columns: repeat(auto-fill, minmax(28rem, 1fr)); }
.gallery.maps { grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); }
figure { margin: 0; } figure img { width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: 0.85rem; text-align: center; }
img.chart { max-width: 100%; height: auto; }
"""


def data_uri(path: str | Path) -> str:
    """Return a PNG file as a ``data:image/png;base64,...`` URI."""
    path = Path(path)
    try:
        payload = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: figure not found; run the stage that draws it first") from None
    return "data:image/png;base64," + base64.b64encode(payload).decode("ascii")


def html_report(
    summaries: list[VariantSummary],
    results: list[ModelResult],
    source: dict,
    accuracy_png: str | Path,
    val_loss_png: str | Path,
) -> str:
    """Return reports/index.html with every figure embedded."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{escape(CONTENT_SECURITY_POLICY)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>glassbox ablation</title>",
        f"<style>{STYLE}</style>",
        "</head>",
        "<body>",
        "<h1>Ablation: what regularizers do to a small network</h1>",
        f'<p class="data" id="data-source">{_inline_code(data_statement(source))}</p>',
    ]
    warning = sample_warning(source)
    if warning:
        parts.append(f'<p class="warning" id="sample-warning">{escape(warning)}</p>')

    parts += ["<h2>Per variant</h2>", f'<p class="note">{escape(SPREAD_NOTE)}<br>{escape(FOCUS_NOTE)}</p>']
    parts.append(_table("summary", SUMMARY_COLUMNS, [(summary.variant, summary_cells(summary)) for summary in summaries]))

    parts += [
        "<h2>Test accuracy per variant</h2>",
        _chart(accuracy_png, "Test accuracy per variant: diamonds at the mean, error bars one standard deviation, dots one seed each"),
        "<h2>Validation loss of every model</h2>",
        _chart(val_loss_png, "Validation loss per epoch, one colour per variant, one line per seed; training loss dashed"),
        "<h2>Most focused first-layer neurons</h2>",
        _gallery("neurons", summaries, FOCUSED_NEURONS_PNG, "most focused first-layer neurons"),
        f"<h2>{escape(pathway_title(summaries))}</h2>",
        _gallery("maps", summaries, PATHWAY_PIXELS_PNG, "pixel heat map"),
        "<h2>Every model</h2>",
        _table("models", MODEL_COLUMNS, [(result.variant, model_cells(result)) for result in results]),
        "</body>",
        "</html>",
    ]
    return "\n".join(parts) + "\n"


def _inline_code(text: str) -> str:
    """Escape ``text`` and show its `backticked` parts as code."""
    pieces = escape(text).split("`")
    return "".join(f"<code>{piece}</code>" if index % 2 else piece for index, piece in enumerate(pieces))


def _table(table_id: str, header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    lines = [f'<div class="wide"><table id="{table_id}">', "<thead><tr>"]
    lines += [f"<th>{escape(title)}</th>" for title in header]
    lines += ["</tr></thead>", "<tbody>"]
    for variant, cells in rows:
        lines.append(f'<tr data-variant="{escape(variant)}">' + "".join(f"<td>{escape(cell)}</td>" for cell in cells) + "</tr>")
    lines += ["</tbody>", "</table></div>"]
    return "\n".join(lines)


def _chart(path: str | Path, description: str) -> str:
    return f'<img class="chart" src="{data_uri(path)}" alt="{escape(description)}">'


def _gallery(kind: str, summaries: list[VariantSummary], filename: str, what: str) -> str:
    """Place one figure per variant side by side, each from the variant's first seed."""
    lines = [f'<div class="gallery {kind}">']
    for summary in summaries:
        caption = figure_caption(summary, filename)
        source = summary.results[0].folder / filename
        lines.append(
            f'<figure><img src="{data_uri(source)}" alt="{escape(f"{summary.variant}: {what}")}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>"
        )
    lines.append("</div>")
    return "\n".join(lines)
