"""Run every analysis on one trained model and collect its figures and numbers."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf
from matplotlib.figure import Figure

from glassbox import figures
from glassbox.data.preprocess import Split
from glassbox.interpret.activation_max import activation_max_section
from glassbox.interpret.attribution import attribution_section
from glassbox.interpret.binary_comparison import binary_comparison_section
from glassbox.interpret.class_example import class_example_section
from glassbox.interpret.evolution import evolution_section
from glassbox.interpret.faithfulness import faithfulness_section
from glassbox.interpret.first_layer import first_layer_section
from glassbox.interpret.focus import focus_section
from glassbox.interpret.output_weights import output_weights_section
from glassbox.interpret.pathway import pathway_section
from glassbox.interpret.regions import regions_section
from glassbox.interpret.section import Section
from glassbox.interpret.selectivity import selectivity_section
from glassbox.interpret.subject import make_subject
from glassbox.params import InterpretParams

log = logging.getLogger(__name__)


@dataclass
class Interpretation:
    """Every analysis's numbers (for interpretation.json), figures and MLflow metrics, and how long each took."""

    numbers: dict = field(default_factory=dict)
    figures: dict[str, Figure] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, section: Section) -> None:
        self.numbers[name] = section.numbers
        self.figures.update(section.figures)
        self.metrics.update(section.metrics)

    @contextmanager
    def timer(self, name: str, level: int = logging.INFO) -> Iterator[None]:
        started = time.perf_counter()
        yield
        self.seconds[name] = time.perf_counter() - started
        log.log(level, "%s: %.2f s", name, self.seconds[name])


def interpret(model: keras.Model, weights: dict[str, np.ndarray], data: Split, params: InterpretParams) -> Interpretation:
    """Analyse ``model`` (its restored best weights) and its weight history ``weights``.

    The binary model gets every analysis that applies to one sigmoid output, with
    digit 1 as its class: its output weights are drawn alone instead of against a
    contrast class, and a comparison with logistic regression is added.
    """
    # Some TensorFlow kernels sum in a varying order unless op determinism is on.
    tf.config.experimental.enable_op_determinism()
    result = Interpretation()
    with result.timer("inference on the test images"):
        subject = make_subject(model, weights, data, params)
    target = subject.target
    result.numbers["task"] = "binary" if target.is_binary else "digits"
    result.numbers["target"] = {"class": target.label, "contrast": target.contrast, "output": target.output}
    result.numbers["n_live_pixels"] = int(subject.live.sum())

    with result.timer("first_layer"):
        result.add("first_layer", first_layer_section(subject))
    with result.timer("focus"):
        focus, scores = focus_section(subject)
        result.add("focus", focus)
    with result.timer("regions"):
        result.add("regions", regions_section(subject, scores))
    with result.timer("evolution"):
        result.add("evolution", evolution_section(subject, scores))
    with result.timer("output_weights"):
        result.add("output_weights", output_weights_section(subject))
    with result.timer("pathway"):
        result.add("pathway", pathway_section(subject))
    with result.timer("class_example"):
        result.add("class_example", class_example_section(subject))
    with result.timer("selectivity"):
        result.add("selectivity", selectivity_section(subject))
    with result.timer("integrated_gradients"):
        attribution, images, attributions = attribution_section(subject)
        result.add("integrated_gradients", attribution)
    with result.timer("faithfulness"):
        result.add("faithfulness", faithfulness_section(subject, images, attributions))
    with result.timer("activation_max"):
        result.add("activation_max", activation_max_section(subject))
    if target.is_binary:
        with result.timer("binary_comparison"):
            result.add("binary_comparison", binary_comparison_section(subject))
    return result


def save(result: Interpretation, folder, extra: dict) -> None:
    """Write every figure as PNG and the numbers (with ``extra``) as interpretation.json, all or nothing.

    Each figure is drawn and released in turn, so memory holds one rendered figure at a time.
    """
    from glassbox.atomic import atomic_dir, write_json

    with atomic_dir(folder) as temporary, result.timer(f"saving {len(result.figures)} figures"):
        for name in list(result.figures):
            with result.timer(f"figure {name}", level=logging.DEBUG):
                figures.save(result.figures.pop(name), temporary / f"{name}.png")
        write_json(temporary / "interpretation.json", {**extra, **result.numbers})


def headline_metrics(result: Interpretation) -> dict[str, float]:
    """Return the numbers logged as MLflow metrics; a name means the same thing for every variant."""
    return dict(result.metrics)


def run_tags(result: Interpretation) -> dict[str, str]:
    """Return tags that record the class the latest interpretation explained and the explanation found most faithful."""
    return {
        "interpret.explained_class": str(result.numbers["target"]["class"]),
        "interpret.most_faithful": result.numbers["faithfulness"]["most_faithful"],
    }
