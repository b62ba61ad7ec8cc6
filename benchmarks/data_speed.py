"""Time and memory of reading full-size Fashion-MNIST through the idx source and preprocessing it to 20x20.

Each pipeline runs in its own child process, so that its peak resident memory is its
own. The glassbox pipeline is what the fetch and preprocess stages compute, without
writing files: read and check the four IDX files (from_idx), resample to 20x20 by
area, keep the official split and take the binary 0/1 set. The baseline is plain
NumPy on the same files: np.frombuffer of gzip.decompress, then two dense float32
matrix products for the same area resampling, then the same split and binary set.

Run from the project root:  python benchmarks/data_speed.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fashion_mnist import ensure_fashion_mnist  # noqa: E402 - the helper sits beside this script.

SIZE = 20
BINARY_PER_CLASS = 500
FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")


def glassbox_pipeline(folder: Path) -> tuple[float, float, np.ndarray]:
    """Return (read seconds, preprocess seconds, x_train) for the glassbox code path."""
    from glassbox.data.preprocess import binary_subset, split, to_features
    from glassbox.data.sources import from_idx
    from glassbox.params import DataParams, PreprocessParams

    data_params = DataParams(source="idx", idx_dir=str(folder), mirrors=(), timeout_s=1.0, retries=0)
    preprocess_params = PreprocessParams(
        resize="area", size=SIZE, test_fraction=0.2, split_seed=0, binary_per_class=BINARY_PER_CLASS
    )

    start = time.perf_counter()
    dataset = from_idx(data_params)
    read_done = time.perf_counter()
    features = to_features(dataset.images, preprocess_params)
    digits = split(features, dataset.labels, dataset.is_test, dataset.official_split, preprocess_params)
    binary_subset(digits, BINARY_PER_CLASS)
    done = time.perf_counter()
    return read_done - start, done - read_done, digits.x_train


def numpy_pipeline(folder: Path) -> tuple[float, float, np.ndarray]:
    """Return (read seconds, preprocess seconds, x_train) for plain NumPy without any checks."""
    from glassbox.data.preprocess import area_matrix  # The same weights, so that the outputs compare.

    start = time.perf_counter()
    arrays = []
    for name in FILES:
        content = gzip.decompress((folder / name).read_bytes())
        header = 16 if "images" in name else 8
        arrays.append(np.frombuffer(content, dtype=np.uint8, offset=header))
    images = np.concatenate([arrays[0], arrays[2]]).reshape(-1, 28, 28)
    labels = np.concatenate([arrays[1], arrays[3]])
    read_done = time.perf_counter()

    rows = area_matrix(28, SIZE).astype(np.float32)
    small = np.matmul(np.matmul(rows, images.astype(np.float32) / 255.0), rows.T)
    features = small.reshape(len(images), -1)
    x_train, y_train = features[:60_000], labels[:60_000]
    keep = np.concatenate([np.flatnonzero(y_train == digit)[:BINARY_PER_CLASS] for digit in (0, 1)])
    x_train[np.sort(keep)]
    done = time.perf_counter()
    return read_done - start, done - read_done, x_train


PIPELINES = {"glassbox": glassbox_pipeline, "numpy": numpy_pipeline}


def measure(name: str, folder: Path, repeat: int) -> dict:
    """Run one pipeline ``repeat`` times in this process and return its best times and peak memory."""
    pipeline = PIPELINES[name]
    tracemalloc.start()
    read_s, preprocess_s, x_train = pipeline(folder)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    totals = [(read_s, preprocess_s)]
    for _ in range(repeat - 1):
        read_s, preprocess_s, x_train = pipeline(folder)
        totals.append((read_s, preprocess_s))
    best_read, best_preprocess = min(totals, key=sum)
    np.save(os.environ["DATA_SPEED_OUTPUT"], x_train)
    return {
        "read_s": best_read,
        "preprocess_s": best_preprocess,
        "total_s": best_read + best_preprocess,
        "traced_peak_mb": traced_peak / 1e6,
        # ru_maxrss is in kilobytes on Linux; it includes the interpreter and imported libraries.
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3,
    }


def run_child(name: str, folder: Path, repeat: int, output: Path) -> dict:
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root / "src"), DATA_SPEED_OUTPUT=str(output))
    command = [sys.executable, __file__, "--child", name, "--folder", str(folder), "--repeat", str(repeat)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per pipeline; the fastest is reported")
    parser.add_argument("--child", choices=sorted(PIPELINES), help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        print(json.dumps(measure(args.child, args.folder, args.repeat)))
        return

    folder = ensure_fashion_mnist()
    outputs = {name: Path(f"/tmp/data_speed_{name}_{os.getpid()}.npy") for name in PIPELINES}
    results = {name: run_child(name, folder, args.repeat, outputs[name]) for name in PIPELINES}
    difference = np.abs(np.load(outputs["glassbox"]) - np.load(outputs["numpy"])).max()
    for path in outputs.values():
        path.unlink()

    print(f"Fashion-MNIST from {folder}: 70,000 images of 28x28 -> {SIZE}x{SIZE}, {os.cpu_count()} CPUs, best of {args.repeat}")
    print(f"{'pipeline':<10} {'read s':>8} {'resize+split s':>15} {'total s':>8} {'peak traced MB':>15} {'max RSS MB':>11}")
    for name, result in results.items():
        print(
            f"{name:<10} {result['read_s']:>8.2f} {result['preprocess_s']:>15.2f} {result['total_s']:>8.2f} "
            f"{result['traced_peak_mb']:>15.0f} {result['max_rss_mb']:>11.0f}"
        )
    glassbox, numpy = results["glassbox"], results["numpy"]
    print(
        f"glassbox / numpy: time {glassbox['total_s'] / numpy['total_s']:.2f}x, "
        f"peak traced memory {glassbox['traced_peak_mb'] / numpy['traced_peak_mb']:.2f}x, "
        f"max RSS {glassbox['max_rss_mb'] / numpy['max_rss_mb']:.2f}x"
    )
    print(f"largest difference between the two x_train arrays: {difference:.2e}")


if __name__ == "__main__":
    main()
