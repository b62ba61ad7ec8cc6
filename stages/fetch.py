"""Stage fetch: load raw MNIST from the configured source into data/raw/."""

import logging

from glassbox.cli import run_stage
from glassbox.data.raw import save_raw
from glassbox.data.sources import fetch
from glassbox.params import data_params, load_params

RAW_NPZ = "data/raw/mnist.npz"
SOURCE_JSON = "data/raw/source.json"
CACHE_DIR = "data/cache"

log = logging.getLogger("glassbox.stages.fetch")


def main() -> None:
    params = data_params(load_params())

    dataset = fetch(params, cache_dir=CACHE_DIR)

    save_raw(dataset, RAW_NPZ, SOURCE_JSON)

    log.info("wrote %s and %s: %s, digest %s", RAW_NPZ, SOURCE_JSON, dataset.description, dataset.digest[:12])


if __name__ == "__main__":
    run_stage(main)
