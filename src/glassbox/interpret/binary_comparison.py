"""The binary 0-vs-1 model's pixel map against two simple references on the same data.

A 0-vs-1 task is nearly linear, so the network's linear pathway map should resemble
- the weights of a logistic regression trained on the same training images, and
- the difference of the class averages, mean(1) - mean(0).
Similarity is the cosine over live pixels; each map's scale is its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from sklearn.linear_model import LogisticRegression

from glassbox import figures
from glassbox.interpret.pathway import pixel_importance
from glassbox.interpret.section import Section, cosine, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject


def logistic_regression_weights(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the pixel weights of an L2-regularised logistic regression (scikit-learn defaults, C = 1)."""
    model = LogisticRegression(max_iter=2000)
    model.fit(x.astype(np.float64), y)
    return model.coef_[0]


def binary_comparison_section(subject: Subject) -> Section:
    live = subject.live
    data = subject.data
    pathway = pixel_importance(subject.stack, 0)
    regression = logistic_regression_weights(data.x_train[:, live], data.y_train)
    weights = np.zeros(live.size)
    weights[live] = regression
    difference = data.x_train[data.y_train == 1].mean(axis=0) - data.x_train[data.y_train == 0].mean(axis=0)
    pathway_vs_regression = cosine(pathway[live], weights[live])
    pathway_vs_difference = cosine(pathway[live], difference[live])

    section = Section()
    section.numbers = {
        "cosine_pathway_logistic_regression": pathway_vs_regression,
        "cosine_pathway_mean_difference": pathway_vs_difference,
        "cosine_logistic_regression_mean_difference": cosine(weights[live], difference[live]),
        "logistic_regression_weights": rounded(weights),
        "mean_difference": rounded(difference),
    }
    section.metrics = {
        "binary_pathway_logistic_regression_cosine": pathway_vs_regression,
        "binary_pathway_mean_difference_cosine": pathway_vs_difference,
    }
    section.figures["binary_comparison"] = figures.heat_maps(
        [pathway, weights, difference],
        subject.side,
        [
            "network: linear pathway map",
            f"logistic regression weights\n(cosine to network {pathway_vs_regression:.2f})",
            f"mean(1) - mean(0)\n(cosine to network {pathway_vs_difference:.2f})",
        ],
        "Pixels that push toward digit 1 (red) or digit 0 (blue): the network against two simple references",
        "Logistic regression: scikit-learn, L2 penalty C = 1, on the same training images. Cosine over live "
        "pixels. Each map has its own colour scale. " + figures.DEAD_NOTE,
        "weight",
        live=live,
    )
    return section
