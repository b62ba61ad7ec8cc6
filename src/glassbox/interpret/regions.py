"""Neurons whose strongest weights form several separate regions of the image.

For each first-layer neuron: keep the fewest live pixels that hold half of its weight
energy, label their 8-connected regions (scipy.ndimage.label), and drop regions of
fewer than 3 pixels or under 5% of the energy. A neuron is multi-region when two of
the regions left have energy centres at least 6 pixels apart. The rule works on
energy shares, so it does not depend on the scale of the weights. Each region's sign
(positive, negative or mixed weights) is reported beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import label

from glassbox import figures
from glassbox.interpret.focus import FocusScores, energy_shares, half_energy_pixels
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

MIN_REGION_PIXELS = 3
MIN_REGION_ENERGY = 0.05
MIN_CENTRE_DISTANCE = 6.0
_EIGHT_CONNECTED = np.ones((3, 3), dtype=int)


@dataclass
class NeuronRegions:
    """The regions kept for one neuron, the strongest first.

    ``labels`` is a side x side map with 0 outside the kept regions and k inside region k.
    """

    labels: np.ndarray
    energies: list[float]
    centres: list[tuple[float, float]]
    signs: list[str]

    @property
    def n_regions(self) -> int:
        return len(self.energies)

    @property
    def max_distance(self) -> float:
        """Return the largest distance between two region centres, in pixels (0 with one region)."""
        centres = np.array(self.centres, dtype=np.float64).reshape(-1, 2)
        if len(centres) < 2:
            return 0.0
        differences = centres[:, None, :] - centres[None, :, :]
        return float(np.sqrt((differences**2).sum(axis=2)).max())

    @property
    def is_multi_region(self) -> bool:
        return self.n_regions >= 2 and self.max_distance >= MIN_CENTRE_DISTANCE


def neuron_regions(shares: np.ndarray, weights: np.ndarray, core: np.ndarray) -> NeuronRegions:
    """Find the regions of one neuron from its energy shares, weights and half-energy pixels, all side x side."""
    components, count = label(core, structure=_EIGHT_CONNECTED)
    large = []
    for component in range(1, count + 1):
        inside = components == component
        energy = float(shares[inside].sum())
        if inside.sum() >= MIN_REGION_PIXELS and energy >= MIN_REGION_ENERGY:
            large.append((energy, inside))
    large.sort(key=lambda item: -item[0])

    labels = np.zeros(shares.shape, dtype=np.int32)
    centres, signs = [], []
    rows, columns = np.indices(shares.shape)
    for number, (energy, inside) in enumerate(large, start=1):
        labels[inside] = number
        weight = shares[inside] / energy
        centres.append((float(weight @ rows[inside]), float(weight @ columns[inside])))
        signs.append(_sign(weights[inside]))
    return NeuronRegions(labels, [energy for energy, _ in large], centres, signs)


def _sign(values: np.ndarray) -> str:
    if np.all(values > 0):
        return "positive"
    if np.all(values < 0):
        return "negative"
    return "mixed"


def layer_regions(kernel: np.ndarray, live: np.ndarray, side: int) -> list[NeuronRegions]:
    """Find the regions of every neuron of a Dense kernel of shape (n_pixels, n_neurons)."""
    shares = energy_shares(kernel, live).reshape(-1, side, side)
    cores = half_energy_pixels(kernel, live).reshape(-1, side, side)
    weights = kernel.T.reshape(-1, side, side)
    return [neuron_regions(shares[n], weights[n], cores[n]) for n in range(len(shares))]


def regions_section(subject: Subject, scores: FocusScores) -> Section:
    trained = layer_regions(subject.kernel, subject.live, subject.side)
    initial = layer_regions(subject.initial_kernel, subject.live, subject.side)
    multi = [n for n, regions in enumerate(trained) if regions.is_multi_region and scores.eligible[n]]
    multi.sort(key=lambda n: -trained[n].max_distance)
    n_initial = sum(regions.is_multi_region for regions in initial)
    drawn = multi[: subject.params.top_neurons]

    section = Section()
    section.numbers = {
        "rule": "the fewest live pixels holding half of the weight energy, in 8-connected regions of at least "
        f"{MIN_REGION_PIXELS} pixels and {MIN_REGION_ENERGY:.0%} of the energy; multi-region when two region "
        f"centres are at least {MIN_CENTRE_DISTANCE:g} pixels apart",
        "n_multi_region": len(multi),
        "n_multi_region_initial": int(n_initial),
        "multi_region_neurons": multi,
        "regions_per_neuron": [regions.n_regions for regions in trained],
        "max_distance_per_neuron": rounded([regions.max_distance for regions in trained], 4),
        "details": {
            str(n): {
                "energies": rounded(trained[n].energies, 4),
                "centres": [rounded(centre, 4) for centre in trained[n].centres],
                "signs": trained[n].signs,
            }
            for n in multi
        },
    }
    section.metrics = {"multi_region_neurons": len(multi), "multi_region_neurons_initial": int(n_initial)}
    section.figures["multi_region_neurons"] = figures.neuron_images(
        subject.kernel,
        drawn,
        subject.side,
        f"Multi-region first-layer neurons: {len(multi)} of {int(scores.eligible.sum())} "
        f"(at initialisation: {n_initial} of {len(initial)})",
        labels=[f"#{n} ({trained[n].n_regions})" for n in drawn],
        columns=min(max(len(drawn), 1), 8),
        live=subject.live,
        outlines=np.stack([trained[n].labels for n in drawn]) if drawn else None,
        note="Black outlines: the regions of the fewest pixels that hold half of the neuron's weight energy "
        f"(label: number of regions). Shown: up to {subject.params.top_neurons}, the farthest-apart regions first.",
    )
    return section
