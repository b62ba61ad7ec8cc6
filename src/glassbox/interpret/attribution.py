"""Integrated gradients: how much each pixel adds to the class logit, relative to a black image.

Integrated gradients (Sundararajan et al., ICML 2017) attribute f(x) - f(baseline) to
the pixels: attribution_i = (x_i - baseline_i) times the mean of df/dx_i along the
straight path from the baseline to x. Here f is the class logit (see network.py) and
the baseline is the black image, the same "removed" state a deletion curve uses.

Completeness, sum_i attribution_i = f(x) - f(baseline), is exact for the
integral, and the midpoint sum over ``steps`` points approximates it. The number of steps
doubles until every image's sum is within 1% of the logit difference, so the
attributions are checked, not assumed. A difference under 0.001 logits counts as 0.001,
so that an image the model scores like a black image does not demand endless steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from glassbox import figures
from glassbox.interpret.network import Network
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

TOLERANCE = 0.01
DIFFERENCE_FLOOR = 1e-3  # Logits.
FIRST_STEPS = 64
MAX_STEPS = 4096
PATH_ROWS = 16_384  # Path points per call into TensorFlow.


@dataclass
class Attributions:
    """Integrated gradients of a batch of images, one row per image, with their completeness check."""

    values: np.ndarray
    steps: int
    score_difference: np.ndarray
    completeness_error: np.ndarray

    @property
    def complete(self) -> bool:
        return bool(np.all(self.completeness_error <= TOLERANCE))


def integrated_gradients(
    network: Network,
    images: np.ndarray,
    output: int,
    baseline: np.ndarray | None = None,
    steps: int = FIRST_STEPS,
    max_steps: int = MAX_STEPS,
) -> Attributions:
    """Return integrated gradients of output ``output``'s logit for ``images``.

    All path points of all images go through the model in one batch per try. The
    completeness error is |sum(attributions) - (f(x) - f(baseline))| divided by
    |f(x) - f(baseline)|, or by DIFFERENCE_FLOOR where that is larger.
    """
    images = images.astype(np.float32)
    baseline = np.zeros(images.shape[1], np.float32) if baseline is None else baseline.astype(np.float32)
    scores = network.logits(np.vstack([images, baseline[None, :]]))[:, output].astype(np.float64)
    difference = scores[:-1] - scores[-1]
    while True:
        values = (images - baseline).astype(np.float64) * _mean_path_gradient(network, images, baseline, output, steps)
        error = np.abs(values.sum(axis=1) - difference) / np.maximum(np.abs(difference), DIFFERENCE_FLOOR)
        if np.all(error <= TOLERANCE) or steps >= max_steps:
            return Attributions(values, steps, difference, error)
        steps *= 2


def _mean_path_gradient(network: Network, images: np.ndarray, baseline: np.ndarray, output: int, steps: int) -> np.ndarray:
    """Return the mean gradient over ``steps`` midpoints of each straight path, a few images at a time."""
    alphas = ((np.arange(steps) + 0.5) / steps).astype(np.float32)
    per_call = max(1, PATH_ROWS // steps)
    means = []
    for start in range(0, len(images), per_call):
        chunk = images[start : start + per_call]
        path = baseline + alphas[None, :, None] * (chunk - baseline)[:, None, :]
        gradients = network.input_gradients(path.reshape(-1, images.shape[1]), output)
        means.append(gradients.reshape(len(chunk), steps, -1).astype(np.float64).mean(axis=1))
    return np.concatenate(means)


def attribution_section(subject: Subject) -> tuple[Section, np.ndarray, Attributions]:
    """Attribute the class logit on the first ``interpret.images`` test images of the class."""
    target = subject.target
    images = subject.class_images(target.label, subject.params.images)
    attributions = integrated_gradients(subject.network, images, target.output)

    section = Section()
    section.numbers = {
        "method": "integrated gradients of the class logit from a black image, midpoint rule",
        "target": target.name,
        "images": len(images),
        "steps": attributions.steps,
        "tolerance": TOLERANCE,
        "complete": attributions.complete,
        "completeness_error": rounded(attributions.completeness_error, 4),
        "logit_difference": rounded(attributions.score_difference),
        "mean_attribution": rounded(attributions.values.mean(axis=0)),
    }
    section.metrics = {"ig_completeness_error_max": float(attributions.completeness_error.max()), "ig_steps": attributions.steps}

    drawn = min(len(images), 8)
    section.figures["integrated_gradients"] = figures.images_over_attributions(
        images[:drawn],
        attributions.values[:drawn],
        subject.side,
        [f"logit +{d:.1f}\nerror {e:.2%}" for d, e in zip(attributions.score_difference[:drawn], attributions.completeness_error[:drawn])],
        f"Integrated gradients for {target.name}: which pixels raise (red) or lower (blue) its logit",
        f"Bottom: each pixel's share of the rise of the logit from a black image to the test image above "
        f"({attributions.steps} path steps). Label: the rise, and how far the shares' sum is from it (checked to be "
        f"within {TOLERANCE:.0%}). "
        "Each attribution map has its own colour scale.",
    )
    return section, images, attributions
