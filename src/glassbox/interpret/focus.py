"""How concentrated each first-layer neuron's weights are in space.

For one neuron with weights w on the image grid, the weight energy share of pixel i is
p_i = w_i^2 / sum_k w_k^2, computed on live pixels only (pixels that vary in the
training images; the others never get a gradient and keep their initial noise). Every
score below depends on p alone, so none changes when a neuron's weights are multiplied
by a positive factor, which batch normalization after a ReLU layer makes meaningless.

- Window energy E_k: the largest share of energy inside any k x k window. It is 1 when
  the whole neuron sits in one patch and about k^2 / N (N live pixels) for weights
  spread evenly. The focus ranking uses it.
- Inverse participation ratio (IPR): sum of p_i^2, from 1/N (even) to 1 (one pixel).
  1 / IPR is the effective number of pixels a neuron uses.
- Hoyer sparseness: (sqrt(N) - L1/L2) / (sqrt(N) - 1) of the live weights, 0 when all
  are equal and 1 when one is non-zero (Hoyer, JMLR 2004).
- Spread: the radius of gyration sqrt(sum p_i |r_i - m|^2) around the energy centre
  m = sum p_i r_i, in pixels.
- Half-energy share: the smallest share of live pixels that contains half of the energy.

Each score comes with its null level, the same score on the initial (epoch 0) weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy.ndimage import uniform_filter

from glassbox import figures
from glassbox.interpret.section import Section, rounded

if TYPE_CHECKING:
    from glassbox.interpret.subject import Subject

# A neuron whose live weights have less than this share of the layer's median norm is
# "tiny": under L1 its weights shrink toward zero and what is left is mostly noise.
TINY_NORM_SHARE = 0.05


def energy_shares(kernel: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Return p for every neuron: shape (n_neurons, n_pixels), zero on dead pixels.

    ``kernel`` is a Dense kernel of shape (n_pixels, n_neurons), ``live`` a boolean
    mask over the pixels. A neuron whose live weights are all zero gets all-zero shares.
    """
    energy = np.where(live[:, None], kernel.astype(np.float64) ** 2, 0.0).T
    total = energy.sum(axis=1, keepdims=True)
    return np.divide(energy, total, out=np.zeros_like(energy), where=total > 0)


def window_energy(kernel: np.ndarray, live: np.ndarray, side: int, window: int) -> np.ndarray:
    """Return E_window for every neuron: the largest energy share in any window x window patch."""
    shares = energy_shares(kernel, live).reshape(-1, side, side)
    # uniform_filter gives the mean over each window; times its area gives the sum.
    sums = uniform_filter(shares, size=(1, window, window), mode="constant") * window * window
    half = window // 2
    # Only windows that lie fully inside the image count.
    stop = side - (window - 1 - half)
    return sums[:, half:stop, half:stop].reshape(len(shares), -1).max(axis=1)


def inverse_participation_ratio(kernel: np.ndarray, live: np.ndarray) -> np.ndarray:
    shares = energy_shares(kernel, live)
    return (shares**2).sum(axis=1)


def hoyer_sparseness(kernel: np.ndarray, live: np.ndarray) -> np.ndarray:
    magnitudes = np.abs(kernel[live].astype(np.float64)).T
    n = magnitudes.shape[1]
    l1 = magnitudes.sum(axis=1)
    l2 = np.sqrt((magnitudes**2).sum(axis=1))
    # An all-zero neuron counts as spread evenly (sparseness 0).
    ratio = np.divide(l1, l2, out=np.full_like(l1, np.sqrt(n)), where=l2 > 0)
    return (np.sqrt(n) - ratio) / (np.sqrt(n) - 1)


def spread(kernel: np.ndarray, live: np.ndarray, side: int) -> np.ndarray:
    """Return each neuron's radius of gyration of its weight energy, in pixels."""
    shares = energy_shares(kernel, live)
    rows, columns = np.divmod(np.arange(side * side), side)
    centre_row = shares @ rows
    centre_column = shares @ columns
    squared = (rows[None, :] - centre_row[:, None]) ** 2 + (columns[None, :] - centre_column[:, None]) ** 2
    return np.sqrt((shares * squared).sum(axis=1))


def half_energy_pixels(kernel: np.ndarray, live: np.ndarray) -> np.ndarray:
    """Return a (n_neurons, n_pixels) mask of the fewest pixels that contain half of each neuron's energy."""
    shares = energy_shares(kernel, live)
    order = np.argsort(-shares, axis=1, kind="stable")
    cumulative = np.cumsum(np.take_along_axis(shares, order, axis=1), axis=1)
    # The pixel that crosses one half is included; the small tolerance absorbs rounding.
    counts = (cumulative < 0.5 - 1e-12).sum(axis=1) + 1
    ranks = np.argsort(order, axis=1)
    return (ranks < counts[:, None]) & (shares.sum(axis=1, keepdims=True) > 0)


def half_energy_share(kernel: np.ndarray, live: np.ndarray) -> np.ndarray:
    return half_energy_pixels(kernel, live).sum(axis=1) / live.sum()


def eligible_neurons(kernel: np.ndarray, live: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """Return a mask of the neurons that may rank as focused: not dead and not tiny.

    ``dead`` marks neurons whose activation never changes over the test images.
    """
    norms = np.sqrt((kernel[live].astype(np.float64) ** 2).sum(axis=0))
    return ~dead & (norms >= TINY_NORM_SHARE * np.median(norms))


@dataclass
class FocusScores:
    """Every focus score of every neuron, trained and initial, and the ranking by window energy."""

    window: int
    window_energy: np.ndarray
    window_energy_positive: np.ndarray
    window_energy_negative: np.ndarray
    ipr: np.ndarray
    hoyer: np.ndarray
    spread: np.ndarray
    half_energy_share: np.ndarray
    initial: dict[str, np.ndarray]
    eligible: np.ndarray
    ranking: np.ndarray

    @property
    def n_above_null(self) -> int:
        """Count the eligible neurons more focused than the most focused neuron at initialisation."""
        return int((self.window_energy[self.eligible] > self.initial["window_energy"].max()).sum())


def _scores(kernel: np.ndarray, live: np.ndarray, side: int, window: int) -> dict[str, np.ndarray]:
    return {
        "window_energy": window_energy(kernel, live, side, window),
        "ipr": inverse_participation_ratio(kernel, live),
        "hoyer": hoyer_sparseness(kernel, live),
        "spread": spread(kernel, live, side),
        "half_energy_share": half_energy_share(kernel, live),
    }


def focus_scores(
    kernel: np.ndarray, initial_kernel: np.ndarray, live: np.ndarray, side: int, window: int, dead: np.ndarray
) -> FocusScores:
    """Score every neuron and the same neurons at initialisation, their null level.

    The ranking lists the eligible neurons from the highest window energy down, then
    the dead and tiny ones, which never count as focused.
    """
    trained = _scores(kernel, live, side, window)
    eligible = eligible_neurons(kernel, live, dead)
    # Sort eligible neurons first, each group by falling window energy.
    ranking = np.lexsort((-trained["window_energy"], ~eligible))
    return FocusScores(
        window=window,
        window_energy_positive=window_energy(np.maximum(kernel, 0), live, side, window),
        window_energy_negative=window_energy(np.minimum(kernel, 0), live, side, window),
        initial=_scores(initial_kernel, live, side, window),
        eligible=eligible,
        ranking=ranking,
        **trained,
    )


def dead_units(activations: np.ndarray) -> np.ndarray:
    """Return a mask of the units whose activation is the same on every image (for ReLU: never active)."""
    return activations.max(axis=0) <= activations.min(axis=0)


_OTHER_SCORES = ("ipr", "hoyer", "spread", "half_energy_share")


def _summary(trained: np.ndarray, initial: np.ndarray) -> dict[str, float]:
    """Return the mean score of the eligible trained neurons and of all neurons at initialisation."""
    return {"mean": float(trained.mean()) if trained.size else 0.0, "initial_mean": float(initial.mean())}


def focus_section(subject: Subject) -> tuple[Section, FocusScores]:
    window = subject.params.window
    dead = dead_units(subject.test_pass.activations["hidden1"])
    scores = focus_scores(subject.kernel, subject.initial_kernel, subject.live, subject.side, window, dead)
    energy = scores.window_energy[scores.eligible]
    initial = scores.initial
    top = [int(neuron) for neuron in scores.ranking[: subject.params.top_neurons] if scores.eligible[neuron]]

    section = Section()
    section.numbers = {
        "score": f"window energy E_{window}: the largest share of a neuron's weight energy inside one "
        f"{window}x{window} patch, on live pixels; independent of the weight scale",
        "null": "the same scores on the initial (epoch 0) weights",
        **_summary(energy, initial["window_energy"]),
        "max": float(energy.max()) if energy.size else 0.0,
        "initial_max": float(initial["window_energy"].max()),
        "n_above_initial_max": scores.n_above_null,
        "n_eligible": int(scores.eligible.sum()),
        "dead_neurons": [int(n) for n in np.flatnonzero(dead)],
        "tiny_neurons": [int(n) for n in np.flatnonzero(~scores.eligible & ~dead)],
        "most_focused": top,
        "ranking": [int(n) for n in scores.ranking],
        "summary": {name: _summary(getattr(scores, name)[scores.eligible], initial[name]) for name in _OTHER_SCORES},
        "per_neuron": {
            "window_energy": rounded(scores.window_energy),
            "window_energy_positive": rounded(scores.window_energy_positive),
            "window_energy_negative": rounded(scores.window_energy_negative),
            "ipr": rounded(scores.ipr),
            "hoyer": rounded(scores.hoyer),
            "spread": rounded(scores.spread),
            "half_energy_share": rounded(scores.half_energy_share),
            "window_energy_initial": rounded(initial["window_energy"]),
        },
    }
    section.metrics = {
        "focus_mean": section.numbers["mean"],
        "focus_max": section.numbers["max"],
        "focus_initial_max": section.numbers["initial_max"],
        "focused_neurons_above_initial": scores.n_above_null,
        "focus_hoyer_mean": section.numbers["summary"]["hoyer"]["mean"],
        "focus_spread_mean": section.numbers["summary"]["spread"]["mean"],
    }
    section.figures["focus_ranking"] = figures.ranked_scores(
        energy,
        section.numbers["initial_max"],
        f"Focus of the first-layer neurons: {scores.n_above_null} of {len(energy)} above any neuron at initialisation",
        f"share of weight energy in the best {window}x{window} patch",
        initial_scores=initial["window_energy"],
    )
    section.figures["most_focused_neurons"] = figures.neuron_images(
        subject.kernel,
        top,
        subject.side,
        f"The {len(top)} most focused first-layer neurons (label: share of weight energy in one {window}x{window} patch)",
        labels=[f"#{n}: {scores.window_energy[n]:.0%}" for n in top],
        columns=min(max(len(top), 1), 8),
        live=subject.live,
        note="Dead neurons (never active on a test image) and tiny ones (weight norm under "
        f"{TINY_NORM_SHARE:.0%} of the median) are left out.",
    )
    return section, scores
