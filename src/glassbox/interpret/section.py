"""The result of one analysis, and helpers that make its numbers ready for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.figure import Figure


@dataclass
class Section:
    """Numbers for interpretation.json, figures and MLflow metrics from one analysis."""

    numbers: dict = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)


def rounded(values, digits: int = 6) -> list:
    """Return ``values`` as a JSON-ready list of floats rounded to ``digits`` significant digits."""
    array = np.asarray(values, dtype=np.float64)
    return [float(f"{value:.{digits}g}") for value in array.ravel()]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(np.dot(a, b) / norm) if norm > 0 else 0.0
