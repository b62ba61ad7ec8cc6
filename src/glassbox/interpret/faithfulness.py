"""Deletion curves: does removing the pixels an explanation ranks first lower the class probability fastest?

Following RISE (Petsiuk et al., BMVC 2018), pixels are set to black in the order an
explanation ranks them, most important first, and the class probability is tracked.
A faithful explanation makes it fall fastest, so its area under the curve (AUC, over
the deleted share 0 to 1) is the smallest. The explanations compared:

- integrated gradients of the trained model (attribution.py);
- the linear pathway map times the pixel value: the change of the pathway's linear
  logit when the pixel is removed;
- the class-average image times the pixel value, an explanation that ignores the model;
- a random order, seeded by ``interpret.seed``;
- integrated gradients of the same network with random weights (network.reinitialised):
  a sanity baseline after Adebayo et al. (NeurIPS 2018). An explanation that does no
  better than the random model's ranks pixels by what the image holds, not by what
  the model learned.

NOTE: images with black holes are unlike any training image. The probabilities
compare explanations with each other and do not describe the model on real digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

from glassbox import figures
from glassbox.interpret.attribution import Attributions, integrated_gradients
from glassbox.interpret.network import Network, reinitialised
from glassbox.interpret.pathway import pixel_importance
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

LEVELS = 41  # Deleted shares 0, 2.5%, ..., 100%.
EXPLANATIONS = ("integrated gradients", "linear pathway", "class average")
BASELINES = ("random order", "integrated gradients, random-weight model")
UNNATURAL_NOTE = (
    "Deleted pixels are set to black, which makes images unlike any training image: compare the curves with "
    "each other, not with the model's behaviour on real digits."
)


def deletion_curves(network: Network, images: np.ndarray, scores: dict[str, np.ndarray], output: int) -> dict[str, np.ndarray]:
    """Return, per ranking, the class probability of each image as pixels are deleted: shape (n_images, LEVELS).

    ``scores`` maps a name to per-pixel scores of shape (n_images, n_pixels); the
    highest score is deleted first and ties go in pixel order.
    """
    n_images, n_pixels = images.shape
    deleted = np.round(np.linspace(0, 1, LEVELS) * n_pixels).astype(int)
    batches = []
    for values in scores.values():
        order = np.argsort(-values, axis=1, kind="stable")
        ranks = np.argsort(order, axis=1)
        keep = ranks[None, :, :] >= deleted[:, None, None]
        batches.append((images[None, :, :] * keep).reshape(-1, n_pixels))
    probabilities = network.class_probability(network.logits(np.vstack(batches).astype(np.float32)), output)
    probabilities = probabilities.reshape(len(scores), LEVELS, n_images)
    return {name: probabilities[index].T for index, name in enumerate(scores)}


def area_under_curve(curve: np.ndarray) -> np.ndarray:
    """Return each row's area under the curve over the deleted share from 0 to 1 (trapezoid rule)."""
    return np.trapezoid(curve, dx=1.0 / (curve.shape[1] - 1), axis=1)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return the Spearman rank correlation of each row of ``a`` with the same row of ``b``."""
    ranks_a = rankdata(a, axis=1)
    ranks_b = rankdata(b, axis=1)
    ranks_a -= ranks_a.mean(axis=1, keepdims=True)
    ranks_b -= ranks_b.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(ranks_a, axis=1) * np.linalg.norm(ranks_b, axis=1)
    return np.divide((ranks_a * ranks_b).sum(axis=1), norms, out=np.zeros(len(a)), where=norms > 0)


def faithfulness_section(subject: Subject, images: np.ndarray, attributions: Attributions) -> Section:
    target = subject.target
    seed = subject.params.seed
    images = images.astype(np.float64)
    random_model = Network(reinitialised(subject.model, seed))
    random_model_attributions = integrated_gradients(random_model, images, target.output)
    pathway = pixel_importance(subject.stack, target.output)
    class_average = subject.data.x_train[subject.data.y_train == target.label].mean(axis=0)
    rng = np.random.default_rng(seed)
    scores = {
        "integrated gradients": attributions.values,
        "linear pathway": images * pathway,
        "class average": images * class_average,
        "random order": rng.random(images.shape),
        "integrated gradients, random-weight model": random_model_attributions.values,
    }
    curves = deletion_curves(subject.network, images, scores, target.output)
    areas = {name: area_under_curve(curve) for name, curve in curves.items()}
    mean_area = {name: float(area.mean()) for name, area in areas.items()}
    most_faithful = min(EXPLANATIONS, key=mean_area.get)
    beats = {baseline: mean_area[most_faithful] < mean_area[baseline] for baseline in BASELINES}
    similarity = rank_correlation(attributions.values, random_model_attributions.values)

    section = Section()
    section.numbers = {
        "target": target.name,
        "images": len(images),
        "score": "class probability as pixels are set to black, most important first",
        "deleted_share": rounded(np.linspace(0, 1, LEVELS), 4),
        "auc": {name: round(value, 6) for name, value in mean_area.items()},
        "auc_standard_error": {name: round(float(area.std(ddof=1) / np.sqrt(len(area))) if len(area) > 1 else 0.0, 6) for name, area in areas.items()},
        "mean_curve": {name: rounded(curve.mean(axis=0)) for name, curve in curves.items()},
        "most_faithful": most_faithful,
        "most_faithful_beats_random_order": beats["random order"],
        "most_faithful_beats_random_weight_model": beats["integrated gradients, random-weight model"],
        "random_weight_model_seed": seed,
        "random_weight_model_ig_steps": random_model_attributions.steps,
        "ig_rank_correlation_with_random_weight_model": float(similarity.mean()),
        "note": UNNATURAL_NOTE,
    }
    section.metrics = {
        "deletion_auc_integrated_gradients": mean_area["integrated gradients"],
        "deletion_auc_linear_pathway": mean_area["linear pathway"],
        "deletion_auc_class_average": mean_area["class average"],
        "deletion_auc_random_order": mean_area["random order"],
        "deletion_auc_random_weight_model": mean_area["integrated gradients, random-weight model"],
        "ig_rank_correlation_with_random_weight_model": section.numbers["ig_rank_correlation_with_random_weight_model"],
    }

    verdict = f"most faithful: {most_faithful}" + (
        "" if all(beats.values()) else " (but not better than " + " or ".join(b for b in BASELINES if not beats[b]) + ")"
    )
    section.figures["deletion_curve"] = figures.curves(
        np.linspace(0, 100, LEVELS),
        {f"{name} (AUC {mean_area[name]:.3f})": curve.mean(axis=0) for name, curve in curves.items()},
        f"Deletion curves for {target.name} on {len(images)} test images: {verdict}",
        "pixels set to black, most important first (% of the image)",
        f"probability of {target.name} (mean over images)",
        note=UNNATURAL_NOTE + " Lower area under the curve (AUC) means a more faithful ranking. The random-weight "
        "model is the same network re-initialised at random; rank correlation of its integrated gradients with "
        f"the trained model's: {section.numbers['ig_rank_correlation_with_random_weight_model']:.2f}.",
        styles={
            f"{name} (AUC {mean_area[name]:.3f})": style
            for name, style in zip(curves, ("-", "-", "-", "k--", "k:"))
        },
    )
    return section
