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
import signal
import subprocess
import threading
import urllib.parse
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import keras
import mlflow
import numpy as np
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


def uri_for_logs(uri: str) -> str:
    """Return the tracking URI without the user name and password that an http URI may hold."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


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


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, which ``dvc`` and job schedulers send to stop a process.

    Python's default action for SIGTERM ends the process at once, with no cleanup and
    the MLflow run left RUNNING. As a SystemExit it unwinds like Ctrl-C does and, if
    nothing catches it, exits with the shell's status for SIGTERM, 143.
    """

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


@contextlib.contextmanager
def interrupts_deferred() -> Iterator[None]:
    """Hold back SIGINT and SIGTERM until the block ends, then deliver the first one received.

    For steps that must not be cut in half, such as ending a run and renaming its
    outputs into place. Only the main thread can install signal handlers; elsewhere
    the block runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def remember(signum, frame) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, remember) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if received:
            signal.raise_signal(received[0])


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def run(experiment_id: str, *, run_id: str | None = None, name: str | None = None, tags: dict | None = None) -> Iterator[mlflow.ActiveRun]:
    """Open (or reopen) a run and always close it with a final status.

    MLflow's own exit hook would mark a crashed run FINISHED, so the run ends here as
    KILLED on Ctrl-C (SIGINT) or SIGTERM and FAILED on any other exception. The block
    may end the run itself with ``finish_run`` (to publish outputs in the same
    uninterrupted step); otherwise it ends FINISHED when the block does. Under
    ``mlflow run``, a new run is a child of the run that ``mlflow run`` created.
    """
    with _sigterm_raises():
        try:
            yield _start_run(experiment_id, run_id, name, tags)
        except (KeyboardInterrupt, Terminated) as error:
            _end_active_run(RunStatus.KILLED, error)
            raise
        except BaseException as error:
            _end_active_run(RunStatus.FAILED, error)
            raise
        _end_active_run(RunStatus.FINISHED, None)


def finish_run() -> None:
    """End the active run as FINISHED; call it inside ``interrupts_deferred`` with the steps that publish outputs."""
    mlflow.end_run(RunStatus.to_string(RunStatus.FINISHED))


def _start_run(experiment_id: str | None, run_id: str | None, name: str | None, tags: dict | None) -> mlflow.ActiveRun:
    uri = mlflow.get_tracking_uri()
    # `mlflow run` passes its own run in MLFLOW_RUN_ID, and start_run would log into
    # that run instead of a new one: every stage of `dvc repro` into the same run.
    # A new run records it as its parent instead.
    launcher_run_id = os.environ.pop("MLFLOW_RUN_ID", None)
    if launcher_run_id and not run_id:
        tags = {**(tags or {}), "mlflow.parentRunId": launcher_run_id}
    try:
        return mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id, run_name=name, tags=tags)
    except mlflow.exceptions.MlflowException as error:
        raise TrackingError(f"MLflow tracking store {uri}: could not start a run: {error}") from None


def _end_active_run(status: int, error: BaseException | None) -> None:
    """End the active run, if the block has not ended it already (glassbox never nests runs)."""
    active = mlflow.active_run()
    if active is None:
        return
    status_name = RunStatus.to_string(status)
    if error is not None:
        reason = "SIGTERM" if isinstance(error, Terminated) else type(error).__name__
        log.warning("MLflow run %s (%s) ends as %s: %s", active.info.run_name, active.info.run_id, status_name, reason)
    # A second Ctrl-C while the status is written would otherwise leave the run RUNNING.
    with interrupts_deferred():
        mlflow.end_run(status_name)


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


def array_digest(*arrays: np.ndarray) -> str:
    """Return the SHA-256 of the arrays' dtypes, shapes and contents, in hex."""
    hasher = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        hasher.update(f"{array.dtype.str}{array.shape}".encode())
        hasher.update(array.tobytes())
    return hasher.hexdigest()


def log_dataset(x: np.ndarray, y: np.ndarray, *, name: str, source: str, context: str) -> None:
    """Record arrays as a dataset input of the active run, with their digest, source file and shape.

    The digest covers the arrays themselves, so it changes when preprocessing does,
    not only when the raw data does. MLflow keeps at most 36 characters of it.
    """
    from mlflow.data.numpy_dataset import from_numpy

    with warnings.catch_warnings():
        # MLflow 3.17 finds two local-file source types for a path, warns, and uses the first.
        warnings.filterwarnings("ignore", message="The specified dataset source can be interpreted in multiple ways")
        dataset = from_numpy(x, targets=y, source=source, name=name, digest=array_digest(x, y)[:36])
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
