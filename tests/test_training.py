"""Training: same seed gives the same weights bit for bit; the weight history and final metrics are right."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glassbox.model import build_model
from glassbox.model_files import load_weight_history
from glassbox.params import TrainParams, Variant
from glassbox.training import TrainingResult, execution_steps, make_deterministic, train
from synthetic_data import binary_subset, learnable_split, noise_split

PROJECT_ROOT = Path(__file__).resolve().parents[1]

# L1, dropout and batch normalization together: every part of training that draws
# random numbers or sums in some order.
REGULARIZED = Variant("regularized", "digits", (16, 8), "relu", 1e-5, (0.1, 0.05), True)
SETTINGS = TrainParams(
    learning_rate=1e-3, batch_size=32, max_epochs=3, validation_split=0.2, patience=5,
    seeds=(0,), track_every_batches=0, steps_per_execution=32,
)
# 1,000 images leave 800 for training: 25 batches of 32 per epoch.
BATCHES_PER_EPOCH = 25


def settings(**changes) -> TrainParams:
    return dataclasses.replace(SETTINGS, **changes)


def assert_identical(first: TrainingResult, second: TrainingResult) -> None:
    """Assert that two trainings match bit for bit: weight history, final weights, history and metrics."""
    assert sorted(first.weights) == sorted(second.weights)
    for key in first.weights:
        assert first.weights[key].dtype == second.weights[key].dtype, key
        assert first.weights[key].tobytes() == second.weights[key].tobytes(), key
    for index, (a, b) in enumerate(zip(first.model.get_weights(), second.model.get_weights(), strict=True)):
        assert a.tobytes() == b.tobytes(), f"final weight {index}"
    assert first.history == second.history
    assert first.metrics == second.metrics


@pytest.fixture(scope="module")
def data():
    return learnable_split()


@pytest.fixture(scope="module")
def reference(data) -> TrainingResult:
    return train(REGULARIZED, data, SETTINGS, seed=0)


def test_same_seed_twice_is_identical(data, reference):
    again = train(REGULARIZED, data, SETTINGS, seed=0)

    assert_identical(reference, again)


def test_other_seed_gives_other_weights(data, reference):
    other = train(REGULARIZED, data, SETTINGS, seed=1)

    assert other.weights["hidden1/kernel"].tobytes() != reference.weights["hidden1/kernel"].tobytes()
    assert other.history["loss"] != reference.history["loss"]


@pytest.mark.parametrize("steps_per_execution", [1, 7])
def test_steps_per_execution_changes_nothing(data, reference, steps_per_execution):
    # 7 does not divide the 25 batches of an epoch, so each epoch ends with a shorter execution.
    result = train(REGULARIZED, data, settings(steps_per_execution=steps_per_execution), seed=0)

    assert_identical(reference, result)


def test_training_another_model_first_changes_nothing(data, reference):
    other_variant = Variant("other", "digits", (5,), "sigmoid", 0.0, (), False)
    train(other_variant, noise_split(), settings(max_epochs=2, steps_per_execution=4), seed=3)

    result = train(REGULARIZED, data, SETTINGS, seed=0)

    assert_identical(reference, result)


TRAIN_IN_A_NEW_PROCESS = """
import json, sys
sys.path.insert(0, sys.argv[1])
from glassbox.atomic import write_npz
from glassbox.training import train
from test_training import REGULARIZED, SETTINGS
from synthetic_data import learnable_split
result = train(REGULARIZED, learnable_split(), SETTINGS, seed=0)
write_npz(sys.argv[2], **result.weights)
with open(sys.argv[3], "w") as stream:
    json.dump({"history": result.history, "metrics": result.metrics}, stream)
"""


def test_same_seed_in_another_process_is_identical(tmp_path, reference):
    weights_file, results_file = tmp_path / "weights.npz", tmp_path / "results.json"
    tests_dir = str(PROJECT_ROOT / "tests")

    subprocess.run(
        [sys.executable, "-c", TRAIN_IN_A_NEW_PROCESS, tests_dir, str(weights_file), str(results_file)],
        check=True, capture_output=True, cwd=tmp_path,
    )

    weights = load_weight_history(tmp_path)
    assert sorted(weights) == sorted(reference.weights)
    for key in weights:
        assert weights[key].tobytes() == reference.weights[key].tobytes(), key
    results = json.loads(results_file.read_text())
    assert results["history"] == reference.history
    assert results["metrics"] == reference.metrics


def test_weight_history_has_initial_state_and_every_epoch(reference):
    weights = reference.weights

    assert weights["epoch"].tolist() == [0, 1, 2, 3]
    assert weights["step"].tolist() == [0, 25, 50, 75]
    assert weights["epoch_end"].tolist() == [True, True, True, True]
    assert weights["hidden1/kernel"].shape == (4, 400, 16)
    assert weights["output/bias"].shape == (4, 10)
    assert {"bn1/gamma", "bn1/moving_mean", "hidden2/bias"} <= set(weights)
    assert weights["hidden1/kernel"][0].tobytes() != weights["hidden1/kernel"][1].tobytes()


def test_weight_history_starts_at_the_initial_weights(reference):
    make_deterministic(0)
    untrained = build_model(REGULARIZED, 400)

    initial = {weight.path.split("/", 1)[1]: np.asarray(weight) for weight in untrained.weights}

    for key, value in initial.items():
        assert reference.weights[key][0].tobytes() == value.tobytes(), key


def test_weight_history_every_n_batches_is_exact(data, reference):
    tracked = train(REGULARIZED, data, settings(track_every_batches=10), seed=0)
    weights = tracked.weights

    assert weights["step"].tolist() == [0, 10, 20, 25, 30, 40, 50, 60, 70, 75]
    assert weights["epoch"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert weights["epoch_end"].tolist() == [True, False, False, True, False, False, True, False, False, True]
    # Recording more often leaves training itself unchanged.
    epoch_ends = weights["epoch_end"]
    for key in reference.weights:
        if key not in ("epoch", "step", "epoch_end"):
            assert weights[key][epoch_ends].tobytes() == reference.weights[key].tobytes(), key
    assert tracked.history == reference.history


@pytest.mark.parametrize(
    ("requested", "every", "per_epoch", "expected"),
    [(32, 0, 25, 32), (32, 10, 25, 1), (32, 8, 24, 8), (32, 100, 1500, 4), (1, 5, 25, 1)],
)
def test_execution_steps_divide_interval_and_epoch(requested, every, per_epoch, expected):
    assert execution_steps(requested, every, per_epoch) == expected


def test_early_stopping_reports_the_restored_weights():
    # Random labels: the network memorises the training images and val_loss soon rises.
    variant = Variant("memoriser", "digits", (128,), "relu", 0.0, (), False)
    result = train(variant, noise_split(), settings(max_epochs=20, patience=2), seed=0)
    val_losses = result.history["val_loss"]

    assert result.epochs_run < 20
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    assert result.best_epoch < result.epochs_run
    assert result.metrics["best_epoch"] == result.best_epoch
    assert result.metrics["epochs_run"] == result.epochs_run
    assert result.metrics["best_val_loss"] == pytest.approx(val_losses[result.best_epoch - 1], rel=1e-5)
    assert result.metrics["best_val_loss"] != pytest.approx(val_losses[-1], rel=1e-3)
    best_accuracy = result.history["val_accuracy"][result.best_epoch - 1]
    assert result.metrics["best_val_accuracy"] == pytest.approx(best_accuracy, abs=1e-6)
    best_kernel = result.weights["hidden1/kernel"][result.best_epoch]
    assert result.model.get_layer("hidden1").kernel.numpy().tobytes() == best_kernel.tobytes()


def test_binary_task_trains_one_sigmoid_output():
    variant = Variant("binary", "binary", (8, 4), "sigmoid", 1e-5, (), False)

    result = train(variant, binary_subset(learnable_split(n_train=600)), settings(max_epochs=2), seed=0)

    assert result.model.output_shape == (None, 1)
    assert result.weights["output/kernel"].shape == (3, 4, 1)
    assert 0.0 <= result.metrics["test_accuracy"] <= 1.0
