"""Write every file of the ablation report into one folder: figures first, because the web page embeds them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glassbox import figures
from glassbox.atomic import atomic_file, write_json
from glassbox.report import ModelResult, VariantSummary, summary_metrics
from glassbox.report_figures import accuracy_figure, val_loss_figure
from glassbox.report_html import html_report
from glassbox.report_table import markdown_report


@dataclass(frozen=True)
class ReportFiles:
    """The paths of the report's files in one folder."""

    table_md: Path
    accuracy_png: Path
    val_loss_png: Path
    page_html: Path
    summary_json: Path

    @classmethod
    def in_folder(cls, folder: str | Path) -> ReportFiles:
        folder = Path(folder)
        return cls(
            table_md=folder / "ablation.md",
            accuracy_png=folder / "ablation.png",
            val_loss_png=folder / "val_loss.png",
            page_html=folder / "index.html",
            summary_json=folder / "ablation.json",
        )

    def all(self) -> list[Path]:
        return [self.table_md, self.page_html, self.accuracy_png, self.val_loss_png, self.summary_json]


def write_report(summaries: list[VariantSummary], results: list[ModelResult], source: dict, folder: str | Path) -> ReportFiles:
    """Write the Markdown report, both figures, the web page and the per-variant numbers; return their paths."""
    files = ReportFiles.in_folder(folder)
    figures.save(accuracy_figure(summaries, source["description"]), files.accuracy_png)
    figures.save(val_loss_figure(summaries, source["description"]), files.val_loss_png)
    with atomic_file(files.table_md) as temporary:
        temporary.write_text(markdown_report(summaries, results, source))
    with atomic_file(files.page_html) as temporary:
        temporary.write_text(html_report(summaries, results, source, files.accuracy_png, files.val_loss_png))
    write_json(files.summary_json, summary_metrics(summaries))
    return files
