"""How concentrated each first-layer neuron's weights are in space.

For one neuron with weights w on the image grid, the weight energy share of pixel i is
p_i = w_i^2 / sum_k w_k^2, computed on live pixels only (pixels that vary in the
training images; the others never get a gradient and keep their initial noise).

- Window energy E_k: the largest share of energy inside any k x k window. It is 1 when
  the whole neuron sits in one patch and about k^2 / N (N live pixels) for weights
  spread evenly, and it does not depend on the scale of w.
- Inverse participation ratio (IPR): sum of p_i^2, from 1/N (even) to 1 (one pixel).
  1 / IPR is the effective number of pixels a neuron uses.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter


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


def focus_scores(kernel: np.ndarray, initial_kernel: np.ndarray, live: np.ndarray, side: int, window: int) -> dict:
    """Score every neuron and compare with the same scores on the initial weights.

    The initial (epoch 0) weights give the null level: a trained neuron counts as
    focused only above the most focused neuron at initialisation.
    """
    energy = window_energy(kernel, live, side, window)
    null = window_energy(initial_kernel, live, side, window)
    ranking = np.argsort(-energy, kind="stable")
    return {
        "window": window,
        "window_energy": energy,
        "window_energy_initial": null,
        "ipr": inverse_participation_ratio(kernel, live),
        "ipr_initial": inverse_participation_ratio(initial_kernel, live),
        "ranking": ranking,
        "n_above_null": int((energy > null.max()).sum()),
    }
