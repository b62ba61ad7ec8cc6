"""The report page rendered by headless Chromium: every image loads, one row per variant, no request out."""

from __future__ import annotations

from browser import chromium_or_skip, render
from glassbox.report_files import write_report
from report_inputs import SAMPLE_SOURCE, write_ablation

ACCURACIES = {"baseline": [0.90, 0.92, 0.97], "l1_only": [0.95, 0.94, 0.96], "bn_dropout": [0.93, 0.91, 0.92]}


def test_page_renders_in_chromium(tmp_path):
    chromium_or_skip()
    summaries, results = write_ablation(tmp_path, ACCURACIES)
    page_path = write_report(summaries, results, SAMPLE_SOURCE, tmp_path / "reports").page_html
    screenshot = tmp_path / "index.png"

    page = render(page_path, screenshot)

    assert len(page.image_widths) == 2 + 2 * len(ACCURACIES)
    assert all(width > 0 for width in page.image_widths), page.image_widths
    assert page.summary_variants == list(ACCURACIES)
    assert page.requests == [page_path.resolve().as_uri()]
    assert screenshot.stat().st_size > 10_000
