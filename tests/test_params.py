"""params.yaml validation: every bad value stops with one line naming the param."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from glassbox.errors import ParamsError
from glassbox.params import (
    data_params,
    interpret_params,
    load_params,
    preprocess_params,
    seed_argument,
    train_params,
    variant_params,
)

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def raw() -> dict:
    return load_params(PROJECT_ROOT / "params.yaml")


def test_project_params_are_valid(raw):
    assert data_params(raw).source == "auto"
    assert preprocess_params(raw).size == 20
    assert train_params(raw).seeds == (0,)
    assert interpret_params(raw).class_of_interest == 4
    for name in raw["variants"]:
        assert variant_params(raw, name).name == name


def test_variants_match_the_original_experiment(raw):
    baseline = variant_params(raw, "baseline")
    assert baseline.hidden == (128, 64)
    assert baseline.activation == "relu"
    assert variant_params(raw, "l1_dropout").l1 == 1e-5
    assert variant_params(raw, "l1_dropout").dropout == (0.1, 0.05)
    assert variant_params(raw, "bn_dropout").batch_norm is True
    assert variant_params(raw, "binary_l1").task == "binary"


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("variants:\n  v: {task: digits, hidden: [3], activation: relu, l1: 1e-5}\n")

    assert variant_params(load_params(path), "v").l1 == 1e-5


def with_change(raw: dict, dotted: str, value) -> dict:
    changed = copy.deepcopy(raw)
    section = changed
    *parents, key = dotted.split(".")
    for parent in parents:
        section = section[parent]
    if value is DELETE:
        del section[key]
    else:
        section[key] = value
    return changed


DELETE = object()

BAD_VALUES = [
    ("data.source", "web", data_params, "data.source: expected one of auto, openml, mirror, idx, embedded"),
    ("data.retries", -1, data_params, "data.retries: expected an integer >= 0"),
    ("data.timeout_s", "fast", data_params, "data.timeout_s: expected a number in (0, 3600]"),
    ("preprocess.resize", "bicubic", preprocess_params, "preprocess.resize: expected one of area, crop"),
    ("preprocess.test_fraction", 1.0, preprocess_params, "preprocess.test_fraction: expected a number in (0, 1)"),
    ("train.batch_size", 0, train_params, "train.batch_size: expected an integer >= 1"),
    ("train.batch_size", 32.5, train_params, "train.batch_size: expected an integer >= 1"),
    ("train.seeds", [], train_params, "train.seeds: expected a list of distinct integers from 0 to 4294967295 with at least one item"),
    ("train.seeds", ["a"], train_params, "train.seeds: expected a list of distinct integers from 0 to 4294967295"),
    ("train.seeds", [0.5], train_params, "train.seeds: expected a list of distinct integers from 0 to 4294967295"),
    ("train.seeds", [2**32], train_params, "train.seeds: expected a list of distinct integers from 0 to 4294967295"),
    ("train.seeds", [0, 1, 0], train_params, "train.seeds: expected a list of distinct integers from 0 to 4294967295"),
    ("train.patience", True, train_params, "train.patience: expected an integer >= 0"),
    ("train.epochs", 3, train_params, "train.epochs: unknown key"),
    ("interpret.class_of_interest", 10, interpret_params, "interpret.class_of_interest: expected a digit class from 0 to 9"),
    ("interpret.contrast_class", 4, interpret_params, "interpret.contrast_class: expected a class other than class_of_interest"),
    ("train", DELETE, train_params, "train: section is missing"),
]


@pytest.mark.parametrize(("dotted", "value", "reader", "message"), BAD_VALUES)
def test_bad_value_names_the_param(raw, dotted, value, reader, message):
    with pytest.raises(ParamsError) as raised:
        reader(with_change(raw, dotted, value))

    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


BAD_VARIANTS = [
    ("dropout", [1.5, 0.1], "variants.baseline.dropout: expected a list of rates in [0, 1)"),
    ("dropout", [0.1], "variants.baseline.dropout: expected 2 rates, one per hidden layer"),
    ("dropout", [1.0, 0.1], "variants.baseline.dropout: expected a list of rates in [0, 1)"),
    ("l1", -1e-5, "variants.baseline.l1: expected a number in [0, inf)"),
    ("l1", float("inf"), "variants.baseline.l1: expected a number in [0, inf)"),
    ("hidden", [], "variants.baseline.hidden: expected a list of integers >= 1 with at least one item"),
    ("hidden", [128, "64"], "variants.baseline.hidden: expected a list of integers >= 1"),
    ("hidden", [128.5, 64], "variants.baseline.hidden: expected a list of integers >= 1"),
    ("activation", "relux", "variants.baseline.activation: expected an activation Keras knows"),
    ("task", "regression", "variants.baseline.task: expected one of digits, binary"),
    ("batch_norm", "yes please", "variants.baseline.batch_norm: expected true or false"),
    ("droput", [0.1, 0.1], "variants.baseline.droput: unknown key"),
]


@pytest.mark.parametrize(("key", "value", "message"), BAD_VARIANTS)
def test_bad_variant_names_the_param(raw, key, value, message):
    with pytest.raises(ParamsError) as raised:
        variant_params(with_change(raw, f"variants.baseline.{key}", value), "baseline")

    assert message in str(raised.value)


def test_unknown_variant_lists_known_ones(raw):
    with pytest.raises(ParamsError, match="variants.basline: no such variant; known variants are .*baseline"):
        variant_params(raw, "basline")


@pytest.mark.parametrize("name", ["a/b", "a.b", "-baseline", "base line"])
def test_invalid_variant_name_rejected(raw, name):
    changed = copy.deepcopy(raw)
    changed["variants"][name] = changed["variants"]["baseline"]

    with pytest.raises(ParamsError) as raised:
        variant_params(changed, name)

    assert f"params.yaml: variants.{name}: invalid variant name; expected a letter followed by letters, digits" in str(raised.value)


def test_seed_argument_names_train_seeds():
    assert seed_argument("7") == 7
    for text in ("a", "0.5", "-1", str(2**32)):
        with pytest.raises(ParamsError, match="--seed: expected an integer from 0 to 4294967295, got"):
            seed_argument(text)


def test_missing_params_file_is_named(tmp_path):
    with pytest.raises(ParamsError, match="params.yaml: file not found"):
        load_params(tmp_path / "params.yaml")


def test_stage_exits_with_one_line_on_bad_param(tmp_path, raw):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change(raw, "data.source", "web")))

    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "stages" / "fetch.py")],
        cwd=tmp_path, capture_output=True, text=True,
    )

    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: params.yaml: data.source: expected one of auto, openml, mirror, idx, embedded, got 'web'"
    ]
    assert not (tmp_path / "data").exists()


def test_train_stage_names_bad_seed_param(tmp_path, raw):
    # DVC fills --seed from train.seeds, so a bad entry reaches the stage as text.
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(with_change(raw, "train.seeds", ["a"])))

    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "stages" / "train.py"), "--variant", "baseline", "--seed", "a"],
        cwd=tmp_path, capture_output=True, text=True,
    )

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: params.yaml: train.seeds: expected a list of distinct integers from 0 to 4294967295 "
                      "with at least one item, got ['a'] (list)"]
    assert not (tmp_path / "models").exists()
