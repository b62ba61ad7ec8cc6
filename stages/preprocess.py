"""Stage preprocess: 20x20 features in [0, 1], the train/test split and the binary 0/1 set."""

import logging

from glassbox.cli import run_stage
from glassbox.data.preprocess import binary_subset, split, to_features
from glassbox.data.processed import save_split
from glassbox.data.raw import load_raw, load_source
from glassbox.params import load_params, preprocess_params

RAW_NPZ = "data/raw/mnist.npz"
SOURCE_JSON = "data/raw/source.json"
DIGITS_NPZ = "data/processed/digits.npz"
BINARY_NPZ = "data/processed/binary.npz"

log = logging.getLogger("glassbox.stages.preprocess")


def main() -> None:
    params = preprocess_params(load_params())

    images, labels, is_test, official_split = load_raw(RAW_NPZ)
    source = load_source(SOURCE_JSON)

    features = to_features(images, params)
    digits = split(features, labels, is_test, official_split, params)
    binary = binary_subset(digits, params.binary_per_class)

    save_split(DIGITS_NPZ, digits, source["digest"])
    save_split(BINARY_NPZ, binary, source["digest"])

    log.info(
        "wrote %s (%d train, %d test) and %s (%d train, %d test), %d features each",
        DIGITS_NPZ, len(digits.y_train), len(digits.y_test),
        BINARY_NPZ, len(binary.y_train), len(binary.y_test), digits.x_train.shape[1],
    )


if __name__ == "__main__":
    run_stage(main)
