"""The whole interpretation of small trained models: outputs, metric names, determinism and bad settings."""

from __future__ import annotations

import gc
import json
import re
import weakref
from pathlib import Path

import numpy as np
import pytest

from glassbox.errors import ParamsError
from glassbox.interpret.analysis import headline_metrics, interpret, save
from glassbox.params import interpret_params, load_params
from glassbox.report import interpretation_summary
from interpret_models import interpret_settings, trained

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "first_layer_weights",
    "focus_ranking",
    "most_focused_neurons",
    "multi_region_neurons",
    "evolution",
    "focus_by_epoch",
    "output_weights",
    "pathway_pixels",
    "pathway_hidden1",
    "class_example",
    "selectivity",
    "integrated_gradients",
    "deletion_curve",
    "activation_max",
}


@pytest.fixture(scope="module")
def digits_result():
    model = trained("relu")
    return interpret(model.model, model.history, model.data, interpret_settings(neurons=(3,)))


def as_json(result) -> str:
    return json.dumps(result.numbers, sort_keys=True)


def test_every_analysis_draws_its_figure(digits_result):
    assert set(digits_result.figures) == FIGURES
    for name in ("focus", "regions", "evolution", "output_weights", "pathway", "class_example", "selectivity",
                 "integrated_gradients", "faithfulness", "activation_max"):
        assert name in digits_result.numbers


def test_numbers_answer_the_questions(digits_result):
    numbers = digits_result.numbers

    assert numbers["target"] == {"class": 4, "contrast": 1, "output": 4}
    assert numbers["focus"]["initial_max"] > 0
    assert numbers["evolution"]["epochs"] == [0, 1, 2]
    assert set(numbers["evolution"]["neurons"]) == {str(numbers["focus"]["most_focused"][0]), "3"}
    assert numbers["integrated_gradients"]["complete"]
    assert numbers["faithfulness"]["auc"]["integrated gradients"] < numbers["faithfulness"]["auc"]["random order"]
    assert 0 <= numbers["pathway"]["gradient_cosine"] <= 1
    assert numbers["activation_max"]["probability"] > 0.5
    assert set(numbers["selectivity"]) >= {"hidden1", "hidden2"}


def test_same_input_gives_same_numbers(digits_result):
    model = trained("relu")

    again = interpret(model.model, model.history, model.data, interpret_settings(neurons=(3,)))

    assert as_json(again) == as_json(digits_result)
    assert headline_metrics(again) == headline_metrics(digits_result)


def test_binary_model_gets_the_same_metric_names(digits_result):
    model = trained("binary")

    result = interpret(model.model, model.history, model.data, interpret_settings(class_of_interest=7))

    binary, digits = set(headline_metrics(result)), set(headline_metrics(digits_result))
    assert binary - digits == {"binary_pathway_logistic_regression_cosine", "binary_pathway_mean_difference_cosine"}
    assert digits - binary == {"output_weights_cosine"}
    assert result.numbers["target"] == {"class": 1, "contrast": 0, "output": 0}
    assert set(result.figures) == FIGURES | {"binary_comparison"}
    assert result.numbers["binary_comparison"]["cosine_pathway_mean_difference"] > 0.3


def test_batch_norm_model_is_folded():
    model = trained("batch_norm")

    result = interpret(model.model, model.history, model.data, interpret_settings())

    assert result.numbers["pathway"]["batch_norm_folded"]
    assert result.numbers["output_weights"]["batch_norm_folded"]
    assert result.numbers["integrated_gradients"]["complete"]


def test_class_of_interest_changes_the_target():
    model = trained("relu")

    result = interpret(model.model, model.history, model.data, interpret_settings(class_of_interest=7, contrast_class=2))

    assert result.numbers["target"]["class"] == 7
    assert result.numbers["output_weights"]["contrast"] == 2
    assert result.numbers["faithfulness"]["target"] == "digit 7"


def test_unknown_neuron_is_rejected():
    model = trained("relu")

    with pytest.raises(ParamsError, match=r"interpret.neurons: neuron 32 does not exist; .* numbered 0 to 31"):
        interpret(model.model, model.history, model.data, interpret_settings(neurons=(2, 32)))


def test_save_writes_everything_and_releases_figures(tmp_path):
    model = trained("relu")
    result = interpret(model.model, model.history, model.data, interpret_settings())
    drawn = [weakref.ref(figure) for figure in result.figures.values()]

    save(result, tmp_path / "out", extra={"run_id": "abc"})

    written = {path.stem for path in (tmp_path / "out").glob("*.png")}
    assert written == FIGURES
    stored = json.loads((tmp_path / "out" / "interpretation.json").read_text())
    assert stored["run_id"] == "abc"
    assert stored["focus"]["mean"] == result.numbers["focus"]["mean"]
    assert result.figures == {}
    gc.collect()
    assert all(reference() is None for reference in drawn)

    # The report reads interpretation.json by key path, so a renamed key must fail here.
    summary = interpretation_summary(tmp_path / "out" / "interpretation.json")
    for key, value in summary.items():
        assert value is not None, key


def test_metrics_are_finite_numbers(digits_result):
    for name, value in headline_metrics(digits_result).items():
        assert isinstance(value, (int, float)), name
        assert np.isfinite(value), name


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("images", 0, "interpret.images: expected an integer >= 1"),
        ("smoothness", -1.0, "interpret.smoothness: expected a number in [0, inf]"),
        ("seed", "zero", "interpret.seed: expected an integer >= 0"),
        ("colour", "red", "interpret.colour: unknown key"),
    ],
)
def test_interpret_settings_are_validated(key, value, message):
    raw = load_params(PROJECT_ROOT / "params.yaml")
    raw["interpret"][key] = value

    with pytest.raises(ParamsError, match=re.escape(message)):
        interpret_params(raw)


def test_window_larger_than_image_is_rejected():
    model = trained("relu")

    with pytest.raises(ParamsError, match="interpret.window: expected at most the image side, 20 pixels, got 21"):
        interpret(model.model, model.history, model.data, interpret_settings(window=21))
