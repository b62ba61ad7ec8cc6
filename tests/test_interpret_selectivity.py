"""Class selectivity scores on activations built by hand, and silencing on a trained model."""

from __future__ import annotations

import numpy as np
import pytest

from glassbox.interpret.selectivity import most_differentiating, selectivity_scores, silence
from glassbox.interpret.subject import make_subject
from interpret_models import interpret_settings, trained


def hand_built_activations():
    """Return activations of four units over 10 classes of 50 images each.

    Unit 0 fires on class 2 only, unit 1 the same on every image, unit 2 fires on
    every class but more on class 2, unit 3 never fires.
    """
    labels = np.repeat(np.arange(10), 50)
    rng = np.random.default_rng(0)
    activations = np.zeros((len(labels), 4))
    activations[labels == 2, 0] = rng.uniform(1.0, 2.0, 50)
    activations[:, 1] = 0.7
    activations[:, 2] = rng.uniform(0.5, 1.0, len(labels)) + (labels == 2) * 0.5
    return activations, labels


def test_selectivity_known_answers():
    activations, labels = hand_built_activations()

    scores = selectivity_scores(activations, labels, 2)

    assert scores["csi"][0] == pytest.approx(1.0)
    assert scores["auroc"][0] == pytest.approx(1.0)
    assert scores["d_prime"][0] > 2
    assert scores["csi"][1] == pytest.approx(0.0)
    assert scores["auroc"][1] == pytest.approx(0.5)
    assert scores["d_prime"][1] == 0.0
    assert 0 < scores["csi"][2] < 1
    assert np.isnan(scores["csi"][3])
    assert scores["class_means"].shape == (10, 4)


def test_most_differentiating_unit():
    activations, labels = hand_built_activations()

    assert most_differentiating(selectivity_scores(activations, labels, 2)) == 0
    # For class 5 no unit responds more to it than to the rest: the highest d' decides.
    scores = selectivity_scores(activations, labels, 5)
    assert most_differentiating(scores) == int(np.argmax(scores["d_prime"]))


def test_silencing_reports_a_drop_per_class():
    model = trained("relu")
    subject = make_subject(model.model, model.history, model.data, interpret_settings())

    silencing = silence(subject, "hidden2", 0)

    assert silencing.accuracy_drop.shape == (10,)
    assert silencing.probability_drop.shape == (10,)
    assert np.all(np.abs(silencing.accuracy_drop) <= 1)
    assert np.any(silencing.probability_drop != 0)
