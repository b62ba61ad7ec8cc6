"""Take the README's picture of the MLflow UI comparing the ablation runs.

Usage: python docs/mlflow_compare_screenshot.py PROJECT [OUTPUT.png]

PROJECT is a project folder after ``dvc repro`` (its store is PROJECT/mlflow-store).
The script starts ``mlflow server`` on 127.0.0.1 and opens the compare view of every
variant run in the system's headless Chromium (Debian package chromium). It plots
test_accuracy on the parallel coordinates plot, saves a screenshot reduced to 256
colours, and stops the server.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from mlflow import MlflowClient
from PIL import Image

EXPERIMENT = "glassbox-ablation"
VIEWPORT = {"width": 1280, "height": 1200}
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, server: subprocess.Popen, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"error: mlflow server exited with status {server.returncode} before responding to {url}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    raise SystemExit(f"error: mlflow server did not respond to {url} within {timeout_s:.0f} s")


def compare_url(base: str, store_uri: str) -> str:
    """Return the UI address of the compare view of every variant run, in run-name order."""
    client = MlflowClient(tracking_uri=store_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is None:
        raise SystemExit(f"error: {store_uri}: no experiment {EXPERIMENT}; run dvc repro first")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.variant != ''", order_by=["attributes.run_name ASC"])
    run_ids = json.dumps([run.info.run_id for run in runs])
    return f"{base}/#/compare-runs?runs={quote(run_ids)}&experiments={quote(json.dumps([experiment.experiment_id]))}"


def show_test_accuracy(page) -> None:
    """Close the assistant panel, plot test_accuracy in place of the training accuracy, fold the params away."""
    page.get_by_role("button", name="Close").click()
    metrics = page.get_by_text("Metrics:", exact=True).locator("xpath=following-sibling::*[1]")
    metrics.locator(".du-bois-light-select-selection-item-remove").first.click()
    metrics.click()
    page.keyboard.type("test_accuracy")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.get_by_text("Parameters", exact=True).first.click()
    page.wait_for_timeout(2_000)  # The charts redraw after each change.


def main() -> None:
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    project = Path(sys.argv[1]).resolve()
    output = Path(sys.argv[2]) if len(sys.argv) == 3 else Path(__file__).with_name("mlflow-compare.png")
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("error: chromium not found; install it (Debian: apt-get install chromium)")
    store_uri = f"sqlite:///{project / 'mlflow-store' / 'mlflow.db'}"
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    from playwright.sync_api import sync_playwright

    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", store_uri, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"{base}/health", server)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(compare_url(base, store_uri), wait_until="load")
            page.get_by_text("test_accuracy").first.wait_for(timeout=60_000)
            show_test_accuracy(page)
            page.screenshot(path=str(output))
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)

    # 256 colours keep the picture small enough for the repository.
    Image.open(output).convert("RGB").quantize(colors=256).save(output, optimize=True)
    print(f"{output}: {output.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
