"""The processed data files (data/processed/*.npz) that training and interpretation read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from glassbox.atomic import write_npz
from glassbox.data.preprocess import Split
from glassbox.errors import DataError


def save_split(path: str | Path, data: Split, source_digest: str) -> None:
    write_npz(path, **data.arrays(), source_digest=np.array(source_digest))


def load_split(path: str | Path) -> tuple[Split, str]:
    """Return the split stored at ``path`` and the digest of the raw data it came from."""
    try:
        with np.load(path) as stored:
            data = Split(stored["x_train"], stored["y_train"], stored["x_test"], stored["y_test"])
            return data, str(stored["source_digest"])
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; run the preprocess stage first (dvc repro preprocess)") from None
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a valid processed data file ({error}); run the preprocess stage again") from None
