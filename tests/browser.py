"""Open a report page in the real headless Chromium (Debian package chromium) through Playwright."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

# Playwright's own browser download does not run here: the Debian build is used instead.
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@dataclass
class RenderedPage:
    image_widths: list[int]  # naturalWidth of every <img>; 0 for one that failed to load
    summary_variants: list[str]  # data-variant of every row of the per-variant table
    requests: list[str]  # every URL the page asked for, the page itself included


def chromium_or_skip() -> str:
    """Return the Chromium executable, or skip the calling test where it is missing."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.skip("skipped: chromium is not installed (Debian: apt-get install chromium); the report page was not rendered")
    pytest.importorskip("playwright.sync_api", reason="skipped: the Python package playwright is not installed (pip install -r requirements-dev.txt)")
    return executable


def render(page_path: Path, screenshot_path: Path) -> RenderedPage:
    """Load ``page_path`` as a file, wait until it and its images are loaded, save a full-page screenshot."""
    from playwright.sync_api import sync_playwright

    executable = chromium_or_skip()
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("request", lambda request: requests.append(request.url))
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            widths = page.evaluate("Array.from(document.images, image => image.complete ? image.naturalWidth : 0)")
            variants = page.evaluate(
                "Array.from(document.querySelectorAll('#summary tbody tr'), row => row.dataset.variant)"
            )
            page.screenshot(path=str(screenshot_path), full_page=True)
        finally:
            browser.close()
    return RenderedPage(widths, variants, requests)
