"""The most class-differentiating neuron of each hidden layer, checked by silencing it.

For class c and one unit with activations a (before batch normalization):

- class selectivity index CSI = (mu_c - mu_rest) / (mu_c + mu_rest), with mu_c the
  unit's mean activation on test images of c and mu_rest the mean of the other
  classes' means. It needs non-negative activations (ReLU, sigmoid), ranges from -1
  to 1, and is known to overstate selectivity (Leavitt and Morcos, ICLR 2021), so
  d' and the AUROC come with it;
- d' = (mean_c - mean_rest) / sqrt((var_c + var_rest) / 2), over the images of c and
  all other images;
- AUROC: the probability that the unit is more active on a random image of c than on
  a random other image.

The unit with the highest CSI among units with AUROC above 0.5 is the layer's most
differentiating one by the index; the unit with the highest d' is reported beside it,
because the highest CSI can belong to a unit that barely fires. Silencing a unit
(activation set to zero) should lower the test accuracy on c more than on any other
class; the drops in accuracy and in the mean probability of the true class are
reported per class.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.stats import rankdata

from glassbox import figures
from glassbox.interpret.pathway import hidden_to_pixels
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject


def selectivity_scores(activations: np.ndarray, labels: np.ndarray, label: int) -> dict[str, np.ndarray]:
    """Return CSI, d' and AUROC of every unit for class ``label``; CSI is NaN where both means are zero."""
    activations = activations.astype(np.float64)
    inside = labels == label
    classes = np.unique(labels)
    means = np.stack([activations[labels == other].mean(axis=0) for other in classes])
    mean_class = means[classes == label][0]
    mean_rest = means[classes != label].mean(axis=0)
    total = mean_class + mean_rest
    csi = np.divide(mean_class - mean_rest, total, out=np.full_like(total, np.nan), where=total > 0)

    pooled = np.sqrt((activations[inside].var(axis=0) + activations[~inside].var(axis=0)) / 2)
    difference = activations[inside].mean(axis=0) - activations[~inside].mean(axis=0)
    # A unit whose spread is rounding noise on its own magnitude is constant: d' = 0.
    constant = pooled <= 1e-9 * np.abs(activations).max(axis=0)
    d_prime = np.divide(difference, pooled, out=np.zeros_like(pooled), where=~constant)

    # AUROC from the Mann-Whitney U statistic; tied activations share their mean rank.
    ranks = rankdata(activations, axis=0)
    n_in, n_out = inside.sum(), (~inside).sum()
    auroc = (ranks[inside].sum(axis=0) - n_in * (n_in + 1) / 2) / (n_in * n_out)
    return {"csi": csi, "d_prime": d_prime, "auroc": auroc, "class_means": means}


def most_differentiating(scores: dict[str, np.ndarray]) -> int:
    """Return the unit with the highest CSI among units with AUROC above 0.5; ties go to the higher d'."""
    csi = np.where(np.isnan(scores["csi"]) | (scores["auroc"] <= 0.5), -np.inf, scores["csi"])
    candidates = np.flatnonzero(csi == csi.max())
    return int(candidates[np.argmax(scores["d_prime"][candidates])])


def per_class_mean(values: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> np.ndarray:
    return np.array([values[labels == label].mean() for label in classes], dtype=np.float64)


@dataclass
class Silencing:
    """The cost of silencing one unit, per class: the drop in test accuracy and in the mean probability of the true class."""

    accuracy_drop: np.ndarray
    probability_drop: np.ndarray


def silence(subject: Subject, layer: str, unit: int) -> Silencing:
    labels = subject.data.y_test
    classes = np.unique(labels)
    network = subject.network
    before = subject.test_pass.logits
    after = network.forward(subject.data.x_test, silenced={layer: unit}).logits
    correct_before = (network.predict_labels(before) == labels).astype(np.float64)
    correct_after = (network.predict_labels(after) == labels).astype(np.float64)
    return Silencing(
        accuracy_drop=per_class_mean(correct_before - correct_after, labels, classes),
        probability_drop=per_class_mean(
            network.true_class_probability(before, labels) - network.true_class_probability(after, labels), labels, classes
        ),
    )


def _unit_numbers(scores: dict[str, np.ndarray], unit: int, silencing: Silencing, is_class: np.ndarray, classes: np.ndarray) -> dict:
    class_drop = float(silencing.accuracy_drop[is_class][0])
    other_drop = float(silencing.accuracy_drop[~is_class].max())
    class_probability_drop = float(silencing.probability_drop[is_class][0])
    other_probability_drop = float(silencing.probability_drop[~is_class].max())
    return {
        "unit": unit,
        "csi": float(scores["csi"][unit]),
        "d_prime": float(scores["d_prime"][unit]),
        "auroc": float(scores["auroc"][unit]),
        "class_means": rounded(scores["class_means"][:, unit]),
        "silenced_accuracy_drop": {str(label): round(float(value), 6) for label, value in zip(classes, silencing.accuracy_drop)},
        "silenced_probability_drop": {str(label): round(float(value), 6) for label, value in zip(classes, silencing.probability_drop)},
        "silenced_class_drop": class_drop,
        "silenced_max_other_drop": other_drop,
        "silenced_class_probability_drop": class_probability_drop,
        "silenced_max_other_probability_drop": other_probability_drop,
        # The check the index must pass: silencing hurts its class more than any other.
        "silencing_confirms": class_drop > other_drop,
        "silencing_confirms_by_probability": class_probability_drop > other_probability_drop,
    }


def selectivity_section(subject: Subject) -> Section:
    target = subject.target
    labels = subject.data.y_test
    classes = np.unique(labels)
    is_class = classes == target.label

    section = Section()
    section.numbers = {
        "class": target.label,
        "activations": "hidden layer outputs before batch normalization, on the test images",
        "silencing": "the unit's activation set to zero; drops are before minus after, per class",
    }
    rows = []
    for layer_index, layer in enumerate(subject.network.hidden):
        activations = subject.test_pass.activations[layer]
        scores = selectivity_scores(activations, labels, target.label)
        chosen = {"highest_csi": most_differentiating(scores), "highest_d_prime": int(np.argmax(scores["d_prime"]))}
        silenced = {rule: silence(subject, layer, unit) for rule, unit in chosen.items()}
        numbers = {rule: _unit_numbers(scores, unit, silenced[rule], is_class, classes) for rule, unit in chosen.items()}
        section.numbers[layer] = {
            **numbers,
            "negative_activations": bool((activations < 0).any()),
            "per_unit": {key: rounded(np.nan_to_num(scores[key], nan=0.0)) for key in ("csi", "d_prime", "auroc")},
        }
        best = numbers["highest_csi"]
        section.metrics.update(
            {
                f"selectivity_{layer}_csi": best["csi"],
                f"selectivity_{layer}_d_prime": best["d_prime"],
                f"selectivity_{layer}_auroc": best["auroc"],
                f"silenced_{layer}_class_accuracy_drop": best["silenced_class_drop"],
                f"silenced_{layer}_max_other_accuracy_drop": best["silenced_max_other_drop"],
                f"silenced_{layer}_class_probability_drop": best["silenced_class_probability_drop"],
                f"silenced_{layer}_max_other_probability_drop": best["silenced_max_other_probability_drop"],
                f"selectivity_{layer}_highest_d_prime": numbers["highest_d_prime"]["d_prime"],
            }
        )
        for rule, unit in chosen.items():
            if rule == "highest_d_prime" and unit == chosen["highest_csi"]:
                continue
            row = numbers[rule]
            rows.append(
                figures.UnitProfile(
                    pixel_map=hidden_to_pixels(subject.stack, layer_index, unit),
                    class_means=scores["class_means"][:, unit],
                    accuracy_drop=silenced[rule].accuracy_drop,
                    probability_drop=silenced[rule].probability_drop,
                    name=f"{layer} #{unit}, highest {'CSI' if rule == 'highest_csi' else 'd' + chr(39)}: "
                    f"CSI {row['csi']:.2f}, d' {row['d_prime']:.2f}, AUROC {row['auroc']:.2f}",
                    pixel_title="input weights" if layer_index == 0 else "pixel map (linear pathway)",
                )
            )
    section.figures["selectivity"] = figures.unit_profiles(
        rows,
        subject.side,
        [str(label) for label in classes],
        int(np.flatnonzero(is_class)[0]),
        f"Units that tell {target.name} apart from the other classes, per hidden layer: the highest class "
        "selectivity index (CSI) and, where it differs, the highest d'",
        "Activations: the layer's outputs before batch normalization, on the test images. CSI = (class mean - mean "
        "of the other class means) / their sum; it overstates selectivity, so d', AUROC and silencing come with it. "
        "Silencing sets the unit's activation to zero. A deeper unit's pixel map multiplies its weights through the "
        "layers below (linear pathway). " + figures.DEAD_NOTE,
        live=subject.live,
    )
    return section
