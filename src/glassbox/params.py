"""Read params.yaml into typed, validated settings.

Every check raises ParamsError with one line that names the param by its dotted
path (``variants.baseline.dropout``) and states what was expected, so that a typo in
params.yaml stops a stage before it does any work.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from glassbox.errors import ParamsError

DATA_SOURCES = ("auto", "openml", "mirror", "idx", "embedded")
RESIZE_METHODS = ("area", "crop")
TASKS = ("digits", "binary")
# np.random.seed, which training calls, accepts seeds from 0 to 2**32 - 1.
MAX_SEED = 2**32 - 1
# Variant names become folder names, Keras model names and DVC stage names.
VARIANT_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


class _Yaml12Loader(yaml.SafeLoader):
    """SafeLoader that reads ``1e-5`` as a float, as YAML 1.2 and DVC do.

    PyYAML follows YAML 1.1, where a float needs a dot (``1.0e-5``), so ``l1: 1e-5``
    would otherwise arrive as the string "1e-5".
    """


_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+][0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


@dataclass(frozen=True)
class DataParams:
    source: str
    idx_dir: str
    mirrors: tuple[str, ...]
    timeout_s: float
    retries: int


@dataclass(frozen=True)
class PreprocessParams:
    resize: str
    size: int
    test_fraction: float
    split_seed: int
    binary_per_class: int


@dataclass(frozen=True)
class TrainParams:
    learning_rate: float
    batch_size: int
    max_epochs: int
    validation_split: float
    patience: int
    seeds: tuple[int, ...]
    track_every_batches: int
    steps_per_execution: int


@dataclass(frozen=True)
class Variant:
    """One model of the ablation: its task, architecture and regularizers."""

    name: str
    task: str
    hidden: tuple[int, ...]
    activation: str
    l1: float
    dropout: tuple[float, ...]
    batch_norm: bool

    @property
    def n_outputs(self) -> int:
        return 1 if self.task == "binary" else 10


@dataclass(frozen=True)
class InterpretParams:
    class_of_interest: int
    contrast_class: int
    neurons: tuple[int, ...]
    top_neurons: int
    window: int
    images: int
    smoothness: float
    seed: int


@dataclass(frozen=True)
class MlflowParams:
    experiment: str


def load_params(path: str | Path = "params.yaml") -> dict[str, Any]:
    """Load params.yaml as a mapping, raising ParamsError if it is missing or not YAML."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found; run the stage from the project root") from None
    try:
        raw = yaml.load(text, Loader=_Yaml12Loader)
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping of sections at the top level")
    return raw


class _Section:
    """Typed access to one mapping of params.yaml that remembers which keys were read."""

    def __init__(self, raw: dict[str, Any], path: str):
        value = raw
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                raise ParamsError(f"params.yaml: {path}: section is missing")
            value = value[part]
        if not isinstance(value, dict):
            raise ParamsError(f"params.yaml: {path}: expected a mapping, got {_show(value)}")
        self.values = value
        self.path = path
        self.read: set[str] = set()

    def _get(self, key: str, default: Any) -> Any:
        self.read.add(key)
        if key in self.values:
            return self.values[key]
        if default is _REQUIRED:
            raise ParamsError(f"params.yaml: {self.path}.{key}: missing")
        return default

    def fail(self, key: str, expected: str, value: Any) -> ParamsError:
        return ParamsError(f"params.yaml: {self.path}.{key}: expected {expected}, got {_show(value)}")

    def choice(self, key: str, choices: tuple[str, ...], default: Any = None) -> str:
        value = self._get(key, default if default is not None else _REQUIRED)
        if value not in choices:
            raise self.fail(key, "one of " + ", ".join(choices), value)
        return value

    def text(self, key: str, default: Any = None) -> str:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not isinstance(value, str) or not value:
            raise self.fail(key, "a non-empty string", value)
        return value

    def integer(self, key: str, minimum: int | None = None, default: Any = None) -> int:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not _is_int(value) or (minimum is not None and value < minimum):
            raise self.fail(key, _int_rule(minimum), value)
        return value

    def number(
        self,
        key: str,
        low: float,
        high: float,
        *,
        high_open: bool = False,
        low_open: bool = False,
        default: Any = None,
    ) -> float:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not _in_range(value, low, high, low_open, high_open):
            raise self.fail(key, "a number in " + _range_text(low, high, low_open, high_open), value)
        return float(value)

    def flag(self, key: str, default: Any = None) -> bool:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not isinstance(value, bool):
            raise self.fail(key, "true or false", value)
        return value

    def integers(
        self,
        key: str,
        minimum: int,
        *,
        allow_empty: bool,
        maximum: int | None = None,
        distinct: bool = False,
        default: Any = None,
    ) -> tuple[int, ...]:
        value = self._get(key, default if default is not None else _REQUIRED)
        kind = "distinct integers" if distinct else "integers"
        bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        rule = f"a list of {kind} {bounds}" + ("" if allow_empty else " with at least one item")
        if not isinstance(value, list) or (not value and not allow_empty):
            raise self.fail(key, rule, value)
        if not all(_is_int(item) and item >= minimum and (maximum is None or item <= maximum) for item in value):
            raise self.fail(key, rule, value)
        if distinct and len(set(value)) != len(value):
            raise self.fail(key, rule, value)
        return tuple(value)

    def strings(self, key: str, default: Any = None) -> tuple[str, ...]:
        value = self._get(key, default if default is not None else _REQUIRED)
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise self.fail(key, "a list of strings", value)
        return tuple(value)

    def finish(self) -> None:
        """Raise ParamsError naming the first key that no reader asked for, which is likely a typo."""
        unknown = sorted(set(self.values) - self.read)
        if unknown:
            allowed = ", ".join(sorted(self.read))
            raise ParamsError(f"params.yaml: {self.path}.{unknown[0]}: unknown key; allowed keys are {allowed}")


_REQUIRED = object()


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int_rule(minimum: int | None) -> str:
    return "an integer" if minimum is None else f"an integer >= {minimum}"


def _in_range(value: Any, low: float, high: float, low_open: bool, high_open: bool) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return False
    above = value > low if low_open else value >= low
    below = value < high if high_open else value <= high
    return above and below


def _range_text(low: float, high: float, low_open: bool, high_open: bool) -> str:
    return ("(" if low_open else "[") + f"{low:g}, {high:g}" + (")" if high_open else "]")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if value is None:
        return "nothing"
    return f"{value!r} ({type(value).__name__})"


def data_params(raw: dict[str, Any]) -> DataParams:
    section = _Section(raw, "data")
    params = DataParams(
        source=section.choice("source", DATA_SOURCES),
        idx_dir=section.text("idx_dir"),
        mirrors=section.strings("mirrors"),
        timeout_s=section.number("timeout_s", 0, 3600, low_open=True),
        retries=section.integer("retries", minimum=0),
    )
    section.finish()
    return params


def preprocess_params(raw: dict[str, Any]) -> PreprocessParams:
    section = _Section(raw, "preprocess")
    params = PreprocessParams(
        resize=section.choice("resize", RESIZE_METHODS),
        size=section.integer("size", minimum=1),
        test_fraction=section.number("test_fraction", 0, 1, low_open=True, high_open=True),
        split_seed=section.integer("split_seed", minimum=0),
        binary_per_class=section.integer("binary_per_class", minimum=1),
    )
    section.finish()
    return params


def train_params(raw: dict[str, Any]) -> TrainParams:
    section = _Section(raw, "train")
    params = TrainParams(
        learning_rate=section.number("learning_rate", 0, 10, low_open=True),
        batch_size=section.integer("batch_size", minimum=1),
        max_epochs=section.integer("max_epochs", minimum=1),
        validation_split=section.number("validation_split", 0, 1, low_open=True, high_open=True),
        patience=section.integer("patience", minimum=0),
        seeds=section.integers("seeds", minimum=0, maximum=MAX_SEED, allow_empty=False, distinct=True),
        track_every_batches=section.integer("track_every_batches", minimum=0),
        steps_per_execution=section.integer("steps_per_execution", minimum=1),
    )
    section.finish()
    return params


def seed_argument(text: str) -> int:
    """Parse a stage's --seed option, which DVC fills in from train.seeds."""
    if not re.fullmatch(r"[0-9]+", text) or int(text) > MAX_SEED:
        raise ParamsError(f"--seed: expected an integer from 0 to {MAX_SEED}, got {text!r}; dvc repro fills it in from train.seeds in params.yaml")
    return int(text)


def variant_params(raw: dict[str, Any], name: str, *, check_activation: bool = True) -> Variant:
    """Read and validate ``variants.<name>``.

    With ``check_activation`` the activation must be one that Keras defines, which imports
    TensorFlow (seconds); without it, any non-empty name passes.
    """
    if name not in _Section(raw, "variants").values:
        known = ", ".join(sorted(raw["variants"]))
        raise ParamsError(f"params.yaml: variants.{name}: no such variant; known variants are {known}")
    if not VARIANT_NAME.fullmatch(name):
        raise ParamsError(
            f"params.yaml: variants.{name}: invalid variant name; expected a letter followed by letters, digits, '_' or '-'"
        )
    section = _Section(raw, f"variants.{name}")
    hidden = section.integers("hidden", minimum=1, allow_empty=False)
    dropout = section.values.get("dropout", [])
    section.read.add("dropout")
    if not isinstance(dropout, list) or not all(_in_range(rate, 0, 1, False, True) for rate in dropout):
        raise section.fail("dropout", "a list of rates in [0, 1), one per hidden layer, or []", dropout)
    if dropout and len(dropout) != len(hidden):
        raise section.fail("dropout", f"{len(hidden)} rates, one per hidden layer, or []", dropout)
    variant = Variant(
        name=name,
        task=section.choice("task", TASKS),
        hidden=hidden,
        activation=_keras_activation(section) if check_activation else section.text("activation"),
        l1=section.number("l1", 0, math.inf, high_open=True, default=0.0),
        dropout=tuple(float(rate) for rate in dropout),
        batch_norm=section.flag("batch_norm", default=False),
    )
    section.finish()
    return variant


def _keras_activation(section: _Section) -> str:
    name = section.text("activation")
    import keras  # Imported here because loading TensorFlow takes seconds and only training needs it.

    try:
        keras.activations.get(name)
    except ValueError:
        raise section.fail("activation", "an activation Keras knows, such as relu, sigmoid or tanh", name) from None
    return name


def variant_names(raw: dict[str, Any]) -> list[str]:
    return list(_Section(raw, "variants").values)


def interpret_params(raw: dict[str, Any]) -> InterpretParams:
    section = _Section(raw, "interpret")
    params = InterpretParams(
        class_of_interest=section.integer("class_of_interest", minimum=0),
        contrast_class=section.integer("contrast_class", minimum=0),
        neurons=section.integers("neurons", minimum=0, allow_empty=True),
        top_neurons=section.integer("top_neurons", minimum=1),
        window=section.integer("window", minimum=1),
        images=section.integer("images", minimum=1),
        smoothness=section.number("smoothness", 0, math.inf),
        seed=section.integer("seed", minimum=0),
    )
    for key in ("class_of_interest", "contrast_class"):
        if getattr(params, key) > 9:
            raise section.fail(key, "a digit class from 0 to 9", getattr(params, key))
    if params.class_of_interest == params.contrast_class:
        raise section.fail("contrast_class", "a class other than class_of_interest", params.contrast_class)
    section.finish()
    return params


def mlflow_params(raw: dict[str, Any]) -> MlflowParams:
    section = _Section(raw, "mlflow")
    params = MlflowParams(experiment=section.text("experiment"))
    section.finish()
    return params
