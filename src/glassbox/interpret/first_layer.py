"""Every first-layer neuron's input weights as an image on one colour scale centred on zero."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from glassbox import figures
from glassbox.interpret.section import Section

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

# Weights below this magnitude count as near zero, the share L1 regularization raises.
NEAR_ZERO = 1e-3


def first_layer_section(subject: Subject) -> Section:
    kernel = subject.kernel
    live_weights = kernel[subject.live]
    section = Section()
    section.numbers = {
        "n_neurons": int(kernel.shape[1]),
        "near_zero": NEAR_ZERO,
        "near_zero_share": float(np.mean(np.abs(live_weights) < NEAR_ZERO)),
        "near_zero_share_initial": float(np.mean(np.abs(subject.initial_kernel[subject.live]) < NEAR_ZERO)),
    }
    section.metrics = {"first_layer_near_zero_share": section.numbers["near_zero_share"]}
    section.figures["first_layer_weights"] = figures.neuron_images(
        kernel,
        range(kernel.shape[1]),
        subject.side,
        f"All {kernel.shape[1]} first-layer neurons: input weight of each pixel (one colour scale for all)",
        live=subject.live,
    )
    return section
