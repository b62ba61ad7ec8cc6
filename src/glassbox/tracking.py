"""MLflow conventions: where runs are stored, how they are named, tagged and closed.

The tracking URI is ``MLFLOW_TRACKING_URI`` when set, else the SQLite store
``mlflow-store/mlflow.db`` in the project root with artifacts in
``mlflow-store/artifacts``. Every stage that logs to MLflow also writes a run record
under ``mlflow-store/runs/``; dvc.yaml declares those records as outputs with
``cache: false``, which keeps the stages out of DVC's run cache and makes DVC re-run
them when the store folder is deleted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import mlflow
from mlflow.entities import RunStatus

from glassbox.atomic import write_json
from glassbox.errors import TrackingError

log = logging.getLogger(__name__)

STORE_DIR = "mlflow-store"
RUN_RECORDS_DIR = f"{STORE_DIR}/runs"


def local_store_uri(root: str | Path) -> str:
    return f"sqlite:///{Path(root).resolve() / STORE_DIR / 'mlflow.db'}"


@dataclass(frozen=True)
class Store:
    """The tracking URI in use and, for the project's local store, where artifacts go."""

    uri: str
    artifact_location: str | None


def configure(root: str | Path = ".") -> Store:
    """Point MLflow at ``MLFLOW_TRACKING_URI``, or else at the project's local store."""
    # Read the variable before set_tracking_uri, which sets it for child processes.
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    artifact_location = None
    if not uri:
        uri = local_store_uri(root)
        store_dir = Path(root).resolve() / STORE_DIR
        store_dir.mkdir(parents=True, exist_ok=True)
        artifact_location = (store_dir / "artifacts").as_uri()
    mlflow.set_tracking_uri(uri)
    return Store(uri, artifact_location)


def ensure_experiment(name: str, store: Store) -> str:
    """Return the id of experiment ``name``, creating it if needed."""
    try:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        return mlflow.create_experiment(name, artifact_location=store.artifact_location)
    except mlflow.exceptions.MlflowException as error:
        raise TrackingError(f"MLflow tracking store {store.uri}: {error}") from None


def run_name(variant: str, seed: int) -> str:
    return f"{variant}-seed{seed}"


def git_commit() -> str:
    """Return the current git commit, with ``-dirty`` if tracked files changed, or ``unknown``."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    """Flatten nested settings to ``prefix.key`` entries, lists written as strings."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat.update(flatten(f"{prefix}.{key}" if prefix else key, item))
        return flat
    if isinstance(value, (list, tuple)):
        return {prefix: json.dumps(list(value))}
    return {prefix: value}


def params_hash(params: dict[str, Any]) -> str:
    text = json.dumps(params, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class EpochMetricsLogger(keras.callbacks.Callback):
    """Log each epoch's loss and metrics to the active MLflow run, with the epoch (from 1) as step.

    Steps count from 1 so that step k matches the weights after epoch k in the weight
    history, where 0 is the initial state.
    """

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            mlflow.log_metrics({key: float(value) for key, value in logs.items()}, step=epoch + 1)


@contextlib.contextmanager
def run(experiment_id: str, *, run_id: str | None = None, name: str | None = None, tags: dict | None = None) -> Iterator[mlflow.ActiveRun]:
    """Open (or reopen) a run and always close it with a final status.

    MLflow's own exit hook would mark a crashed run FINISHED, so the run ends here as
    FAILED on an exception and KILLED on Ctrl-C.
    """
    uri = mlflow.get_tracking_uri()
    try:
        active = mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id, run_name=name, tags=tags)
    except mlflow.exceptions.MlflowException as error:
        raise TrackingError(f"MLflow tracking store {uri}: could not start a run: {error}") from None
    try:
        yield active
    except KeyboardInterrupt:
        mlflow.end_run(RunStatus.to_string(RunStatus.KILLED))
        raise
    except BaseException:
        mlflow.end_run(RunStatus.to_string(RunStatus.FAILED))
        raise
    mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))


def run_record_path(name: str, root: str | Path = ".") -> Path:
    return Path(root) / RUN_RECORDS_DIR / f"{name}.json"


def write_run_record(name: str, run_id: str, experiment_id: str, root: str | Path = ".") -> None:
    """Write the record that ties a DVC stage's outputs to its MLflow run."""
    write_json(run_record_path(name, root), {"run_id": run_id, "experiment_id": experiment_id})


def read_run_record(name: str, root: str | Path = ".") -> dict[str, str]:
    path = run_record_path(name, root)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TrackingError(f"{path}: run record not found; run the train stage first") from None
    except json.JSONDecodeError as error:
        raise TrackingError(f"{path}: invalid run record ({error}); run the train stage again") from None


def log_dataset(x, y, *, name: str, source: str, digest: str, context: str = "training") -> None:
    """Record the training arrays as the run's dataset input, identified by the data digest."""
    import mlflow.data
    from mlflow.data.numpy_dataset import from_numpy

    dataset = from_numpy(x, targets=y, source=source, name=name, digest=digest[:36])
    mlflow.log_input(dataset, context=context)


def log_keras_model(model: keras.Model) -> None:
    """Log the model in Keras's .keras format so that ``mlflow.keras.load_model`` reads it back.

    The signature is given in place of an input example, because mlflow.keras 3.17
    writes the example before it creates the model folder and fails.
    The pip requirements are given, because inferring them starts a second Python that
    imports TensorFlow again, which takes seconds.
    """
    import mlflow.keras
    import tensorflow as tf
    import numpy as np
    from mlflow.models import ModelSignature
    from mlflow.types import Schema, TensorSpec

    n_features, n_outputs = model.input_shape[-1], model.output_shape[-1]
    signature = ModelSignature(
        inputs=Schema([TensorSpec(np.dtype(np.float32), (-1, n_features), "pixels")]),
        outputs=Schema([TensorSpec(np.dtype(np.float32), (-1, n_outputs))]),
    )
    mlflow.keras.log_model(
        model,
        name="model",
        signature=signature,
        pip_requirements=[f"tensorflow=={tf.__version__}", f"keras=={keras.__version__}"],
    )
