"""The trained model under study and what every analysis of it reads, computed once."""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
import numpy as np

from glassbox.data.preprocess import Split, live_pixels
from glassbox.errors import DataError, ParamsError
from glassbox.interpret.network import Network, Pass
from glassbox.interpret.pathway import DenseStack, dense_stack
from glassbox.params import InterpretParams


@dataclass(frozen=True)
class Target:
    """The class an analysis explains and the class it is contrasted with.

    For a 10-digit model these are ``interpret.class_of_interest`` and
    ``interpret.contrast_class``. The binary model has one sigmoid output, the
    probability of digit 1, so its target is digit 1 against digit 0 regardless of
    those settings.
    """

    label: int
    contrast: int
    output: int
    is_binary: bool

    @property
    def name(self) -> str:
        return f"digit {self.label}"

    @property
    def contrast_name(self) -> str:
        return f"digit {self.contrast}"


@dataclass
class Subject:
    """A trained model with its weight history, data, live-pixel mask, target class and one inference pass over the test set."""

    model: keras.Model
    network: Network
    stack: DenseStack
    history: dict[str, np.ndarray]
    data: Split
    live: np.ndarray
    side: int
    target: Target
    params: InterpretParams
    test_pass: Pass

    @property
    def kernel(self) -> np.ndarray:
        return np.asarray(self.model.get_layer("hidden1").kernel, dtype=np.float64)

    @property
    def initial_kernel(self) -> np.ndarray:
        return self.history["hidden1/kernel"][0].astype(np.float64)

    def class_images(self, label: int, count: int | None = None) -> np.ndarray:
        """Return the first ``count`` test images of a class, in test-set order."""
        images = self.data.x_test[self.data.y_test == label]
        return images if count is None else images[:count]


def make_subject(model: keras.Model, history: dict[str, np.ndarray], data: Split, params: InterpretParams) -> Subject:
    """Build the inputs every analysis shares. Raise ParamsError if a setting does not fit this model."""
    network = Network(model)
    side = math.isqrt(data.x_train.shape[1])
    if side * side != data.x_train.shape[1]:
        raise DataError(f"processed data: {data.x_train.shape[1]} features per image do not form a square image")
    if network.is_binary:
        target = Target(label=1, contrast=0, output=0, is_binary=True)
    else:
        target = Target(params.class_of_interest, params.contrast_class, params.class_of_interest, False)
    if params.window > side:
        raise ParamsError(f"params.yaml: interpret.window: expected at most the image side, {side} pixels, got {params.window}")
    units = model.get_layer("hidden1").units
    for neuron in params.neurons:
        if neuron >= units:
            raise ParamsError(
                f"params.yaml: interpret.neurons: neuron {neuron} does not exist; {model.name} has {units} "
                f"first-layer neurons, numbered 0 to {units - 1}"
            )
    for label in (target.label, target.contrast):
        if not np.any(data.y_test == label):
            raise ParamsError(f"params.yaml: interpret: the test images contain no digit {label} to analyse")
    return Subject(
        model=model,
        network=network,
        stack=dense_stack(model),
        history=history,
        data=data,
        live=live_pixels(data.x_train),
        side=side,
        target=target,
        params=params,
        test_pass=network.forward(data.x_test),
    )
