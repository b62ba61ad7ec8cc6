"""Run every analysis on one trained model and collect its figures and numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import keras
import numpy as np
from matplotlib.figure import Figure

from glassbox import figures
from glassbox.data.preprocess import Split, live_pixels
from glassbox.interpret.focus import focus_scores
from glassbox.interpret.pathway import dense_stack, hidden1_importance, pixel_importance
from glassbox.params import InterpretParams

PATHWAY_NOTE = (
    "Linear pathway: products of the weight matrices. It ignores the activations, so it equals the "
    "input gradient only where every hidden unit is active."
)
BATCH_NORM_NOTE = " Batch normalization's inference-time scale gamma / sqrt(moving variance + eps) is folded into the weights."


@dataclass
class Interpretation:
    numbers: dict = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)


def interpret(model: keras.Model, weights: dict[str, np.ndarray], data: Split, params: InterpretParams) -> Interpretation:
    """Analyse ``model`` (its restored best weights) and its weight history."""
    result = Interpretation()
    side = int(math.isqrt(data.x_train.shape[1]))
    live = live_pixels(data.x_train)
    kernel = np.asarray(model.get_layer("hidden1").kernel)
    initial_kernel = weights["hidden1/kernel"][0]
    is_binary = model.output_shape[-1] == 1
    result.numbers["n_live_pixels"] = int(live.sum())

    _first_layer_weights(result, kernel, side)
    _focus(result, kernel, initial_kernel, live, side, params)
    _linear_pathway(result, model, side, 0 if is_binary else params.class_of_interest, is_binary)
    return result


def _first_layer_weights(result: Interpretation, kernel: np.ndarray, side: int) -> None:
    result.figures["first_layer_weights"] = figures.neuron_images(
        kernel, range(kernel.shape[1]), side, f"All {kernel.shape[1]} first-layer neurons: input weights"
    )
    result.numbers["first_layer_near_zero_share"] = float(np.mean(np.abs(kernel) < 1e-3))


def _focus(result: Interpretation, kernel, initial_kernel, live, side: int, params: InterpretParams) -> None:
    scores = focus_scores(kernel, initial_kernel, live, side, params.window)
    top = scores["ranking"][: params.top_neurons]
    energy = scores["window_energy"]
    result.numbers["focus"] = {
        "score": f"window energy E_{params.window}: largest share of a neuron's weight energy in one "
        f"{params.window}x{params.window} patch (live pixels only)",
        "mean": float(energy.mean()),
        "max": float(energy.max()),
        "initial_max": float(scores["window_energy_initial"].max()),
        "n_above_initial_max": scores["n_above_null"],
        "most_focused": [int(neuron) for neuron in top],
        "per_neuron": [round(float(value), 6) for value in energy],
    }
    result.figures["most_focused_neurons"] = figures.neuron_images(
        kernel,
        top,
        side,
        f"The {len(top)} most focused first-layer neurons (E_{params.window} share in one patch)",
        labels=[f"#{neuron}: {energy[neuron]:.0%}" for neuron in top],
        columns=min(len(top), 8),
    )
    result.figures["focus_ranking"] = figures.ranked_scores(
        energy,
        float(scores["window_energy_initial"].max()),
        f"Focus of every first-layer neuron: {scores['n_above_null']} above initialisation",
        f"share of weight energy in the best {params.window}x{params.window} patch",
    )


def _linear_pathway(result: Interpretation, model: keras.Model, side: int, class_index: int, is_binary: bool) -> None:
    stack = dense_stack(model)
    note = PATHWAY_NOTE + (BATCH_NORM_NOTE if stack.has_batch_norm else "")
    target = "the output (digit 1 against 0)" if is_binary else f"class {class_index}"
    hidden = hidden1_importance(stack, class_index)
    pixels = pixel_importance(stack, class_index)
    strongest = int(np.argmax(np.abs(hidden)))
    result.numbers["pathway"] = {
        "target": target,
        "batch_norm_folded": stack.has_batch_norm,
        "hidden1_most_relied_on": strongest,
        "hidden1_importance": [round(float(value), 6) for value in hidden],
    }
    result.figures["pathway_pixels"] = figures.heat_map(
        pixels, side, f"Pixels pushing toward {target}", note, "W1 @ W2 @ W3[:, c]"
    )
    result.figures["pathway_hidden1"] = figures.bar_chart(
        hidden,
        f"First-layer neurons pushing toward {target} (black: most relied on, #{strongest})",
        "first-layer neuron",
        "W2 @ W3[:, c]",
        highlight=strongest,
    )


def save(result: Interpretation, folder, extra: dict) -> None:
    """Write every figure as PNG and the numbers (with ``extra``) as interpretation.json, all or nothing."""
    from glassbox.atomic import atomic_dir, write_json

    with atomic_dir(folder) as temporary:
        for name, figure in result.figures.items():
            figures.save(figure, temporary / f"{name}.png")
        write_json(temporary / "interpretation.json", {**extra, **result.numbers})


def headline_metrics(result: Interpretation) -> dict[str, float]:
    """Return the numbers logged as MLflow metrics; the same names for every variant."""
    focus = result.numbers["focus"]
    return {
        "focus_mean": focus["mean"],
        "focus_max": focus["max"],
        "focus_initial_max": focus["initial_max"],
        "focused_neurons_above_initial": focus["n_above_initial_max"],
        "first_layer_near_zero_share": result.numbers["first_layer_near_zero_share"],
    }
