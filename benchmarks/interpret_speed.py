"""Time the interpret stage on full-size data: one 128-64-10 model, every analysis and figure.

The script builds a throw-away project folder and runs the real fetch, preprocess and
train stages there on Fashion-MNIST: 70,000 real 28x28 images in IDX format, the same
format as MNIST (see fashion_mnist.py). Training runs the baseline variant for one
epoch. Then the interpret stage runs as a separate process. The script prints the
stage's wall time and peak memory (maximum resident set size) and each analysis's
share of the wall time. It also prints the ratio to a plain Keras baseline in the
same run: a process that imports Keras, loads the same model and predicts the test
set, the least any interpretation must do.

Usage: python benchmarks/interpret_speed.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fashion_mnist import ensure_fashion_mnist  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parents[1]
VARIANT = "baseline"
TIMING = re.compile(r"glassbox\.interpret\.analysis: (.+): ([0-9.]+) s$")

PLAIN_KERAS = """
import keras, numpy as np
model = keras.saving.load_model("models/baseline/seed0/model.keras")
with np.load("data/processed/digits.npz") as data:
    x_test = data["x_test"]
model.predict(x_test, batch_size=1024, verbose=0)
"""


def environment() -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DVC_"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    return env


def run_measured(command: list[str], folder: Path) -> tuple[float, float, str]:
    """Run ``command`` in ``folder``; return its wall time in seconds, its peak memory in MiB and its stderr."""
    started = time.perf_counter()
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(command, cwd=folder, env=environment(), stdout=subprocess.DEVNULL, stderr=errors, text=True)
        # wait4 returns the resource usage of this one child, not of every child so far.
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        errors.seek(0)
        log = errors.read()
    if process.returncode != 0:
        sys.exit(f"error: {' '.join(command)} failed ({process.returncode}):\n{log[-3000:]}")
    return wall, usage.ru_maxrss / 1024, log


def prepare(folder: Path) -> None:
    """Write params.yaml for Fashion-MNIST and one baseline epoch, then run fetch, preprocess and train."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["data"]["source"] = "idx"
    params["data"]["idx_dir"] = str(ensure_fashion_mnist())
    params["train"]["max_epochs"] = 1
    params["variants"] = {VARIANT: params["variants"][VARIANT]}
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage, arguments in (("fetch", []), ("preprocess", []), ("train", ["--variant", VARIANT, "--seed", "0"])):
        wall, _, _ = run_measured([sys.executable, str(PROJECT_ROOT / "stages" / f"{stage}.py"), *arguments], folder)
        print(f"prepared: {stage} stage, {wall:.1f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", type=Path, help="build the project in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="glassbox-interpret-speed-"))
    folder.mkdir(parents=True, exist_ok=True)
    prepare(folder)

    stage = [sys.executable, str(PROJECT_ROOT / "stages" / "interpret.py"), "--variant", VARIANT, "--seed", "0"]
    wall, peak, log = run_measured(stage, folder)
    plain_wall, plain_peak, _ = run_measured([sys.executable, "-c", PLAIN_KERAS], folder)

    timings = [(match.group(1), float(match.group(2))) for match in map(TIMING.search, log.splitlines()) if match]
    figures = sum(seconds for name, seconds in timings if name.startswith("saving "))
    analyses = [(name, seconds) for name, seconds in timings if not name.startswith("saving ")]
    print()
    print(f"interpret stage, {VARIANT} (400-128-64-10), full-size Fashion-MNIST (60,000 train / 10,000 test images)")
    print(f"  wall time   {wall:6.1f} s   peak memory {peak:7.0f} MiB")
    print(f"  plain Keras {plain_wall:6.1f} s   peak memory {plain_peak:7.0f} MiB   (import, load model, predict the test set)")
    print(f"  ratio to plain Keras: {wall / plain_wall:.1f}x time, {peak / plain_peak:.1f}x memory")
    print()
    print(f"  {'part':40s} {'seconds':>8s} {'share of wall':>14s}")
    for name, seconds in analyses:
        print(f"  {name:40s} {seconds:8.2f} {seconds / wall:14.1%}")
    print(f"  {'drawing and saving all figures':40s} {figures:8.2f} {figures / wall:14.1%}")
    rest = wall - figures - sum(seconds for _, seconds in analyses)
    print(f"  {'rest: imports, loading, MLflow logging':40s} {rest:8.2f} {rest / wall:14.1%}")
    print(f"\nproject folder: {folder}")


if __name__ == "__main__":
    main()
