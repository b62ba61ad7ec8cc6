"""The output weights of the class of interest against those of the contrast class.

Each output class reads the last hidden layer through one column of the output
kernel. Where batch normalization follows the last hidden layer, its inference-time
scale is folded into these weights, so that they compare units on the scale the
output layer receives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassbox import figures
from glassbox.interpret.pathway import output_weights
from glassbox.interpret.section import Section, cosine, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

BATCH_NORM_NOTE = "Batch normalization's inference-time scale of each unit is folded into its weights."


def output_weights_section(subject: Subject) -> Section:
    target = subject.target
    layer = subject.network.hidden[-1]
    note = BATCH_NORM_NOTE if subject.stack.has_batch_norm else ""
    weights = output_weights(subject.stack, target.output)
    section = Section()
    if target.is_binary:
        # One sigmoid output: a positive weight pushes toward digit 1, a negative one toward digit 0.
        section.numbers = {
            "target": "the single output, the probability of digit 1",
            "weights": rounded(weights),
            "units_toward_1": int((weights > 0).sum()),
            "units_toward_0": int((weights < 0).sum()),
            "strongest_toward_1": int(np.argmax(weights)),
            "strongest_toward_0": int(np.argmin(weights)),
            "batch_norm_folded": subject.stack.has_batch_norm,
        }
        section.figures["output_weights"] = figures.bar_chart(
            weights,
            "Output weights of the binary model (red: toward digit 1, blue: toward digit 0)",
            f"unit of the last hidden layer ({layer})",
            "output weight",
            note=note,
        )
        return section

    contrast = output_weights(subject.stack, target.contrast)
    for_class_against_contrast = (weights > 0) & (contrast < 0)
    section.numbers = {
        "class": target.label,
        "contrast": target.contrast,
        "weights": rounded(weights),
        "contrast_weights": rounded(contrast),
        "cosine": cosine(weights, contrast),
        "units_for_class_against_contrast": [int(u) for u in np.flatnonzero(for_class_against_contrast)],
        "units_for_both": int(((weights > 0) & (contrast > 0)).sum()),
        "strongest_for_class": int(np.argmax(weights)),
        "strongest_for_contrast": int(np.argmax(contrast)),
        "batch_norm_folded": subject.stack.has_batch_norm,
    }
    section.metrics = {"output_weights_cosine": section.numbers["cosine"]}
    section.figures["output_weights"] = figures.paired_bars(
        weights,
        contrast,
        (f"{target.name}", f"{target.contrast_name}"),
        f"Output weights of {target.name} against {target.contrast_name} "
        f"(cosine {section.numbers['cosine']:.2f}; {int(for_class_against_contrast.sum())} units push toward "
        f"{target.label} and away from {target.contrast})",
        f"unit of the last hidden layer ({layer})",
        "output weight",
        note=note,
    )
    return section
