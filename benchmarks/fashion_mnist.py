"""Locate full-size Fashion-MNIST in IDX format, installing Debian's package if it is missing.

Debian's ``dataset-fashion-mnist`` package puts the four gzipped IDX files (70,000
images of 28x28) in /usr/share/datasets/fashion-mnist. The benchmarks use it as a
real, full-size input for the ``idx`` source; it needs apt-get and root to install.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
PACKAGE = "dataset-fashion-mnist"


def ensure_fashion_mnist() -> Path:
    """Return the Fashion-MNIST IDX folder, installing the Debian package first if needed."""
    if (FASHION_MNIST_DIR / "train-images-idx3-ubyte.gz").is_file():
        return FASHION_MNIST_DIR
    if shutil.which("apt-get") is None:
        sys.exit(f"error: {FASHION_MNIST_DIR} not found and apt-get is missing; install the package {PACKAGE}")
    print(f"installing {PACKAGE} with apt-get ...", file=sys.stderr)
    subprocess.run(["apt-get", "install", "-y", "-q", PACKAGE], check=True, stdout=subprocess.DEVNULL)
    return FASHION_MNIST_DIR


if __name__ == "__main__":
    print(ensure_fashion_mnist())
