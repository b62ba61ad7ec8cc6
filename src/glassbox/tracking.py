"""MLflow conventions: where runs are stored, how they are named, tagged and closed.

The tracking URI is ``MLFLOW_TRACKING_URI`` when set, else the SQLite store
``mlflow-store/mlflow.db`` in the project root with artifacts in
``mlflow-store/artifacts``. The project root is the repository DVC runs the stage
for, also when a queued experiment runs it in a temporary copy (see
``glassbox.tracking_store``, which also makes the store safe for several processes).
Every stage that logs to MLflow also writes a run record
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
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow
import numpy as np
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from mlflow.exceptions import MlflowException

from glassbox.atomic import write_json
from glassbox.errors import TrackingError
from glassbox.tracking_store import (
    STORE_FAILURES,
    absolute_sqlite_uri,
    describe,
    project_root,
    quiet_locked_database_tracebacks,
    retry_when_locked,
    set_http_retry_defaults,
    sqlite_file,
    store_errors,
    store_lock,
    uri_for_logs,
)

if TYPE_CHECKING:
    import keras

log = logging.getLogger(__name__)

STORE_DIR = "mlflow-store"
RUN_RECORDS_DIR = f"{STORE_DIR}/runs"


def local_store_uri(root: str | Path) -> str:
    return f"sqlite:///{Path(root).resolve() / STORE_DIR / 'mlflow.db'}"


@dataclass(frozen=True)
class Store:
    """The tracking URI in use, and where a new experiment keeps its artifacts (None: where the store decides)."""

    uri: str
    artifact_location: str | None


def configure(root: str | Path | None = None) -> Store:
    """Point MLflow at ``MLFLOW_TRACKING_URI``, or else at the local store in ``root`` (default: the project root).

    A relative SQLite path in ``MLFLOW_TRACKING_URI`` is taken relative to ``root``.
    Also bounds MLflow's HTTP retries where the user has not set them.
    """
    root = project_root() if root is None else Path(root).resolve()
    # Read the variable before set_tracking_uri, which sets it for child processes.
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        uri = local_store_uri(root)
        store_dir = root / STORE_DIR
        store_dir.mkdir(parents=True, exist_ok=True)
        artifact_location = (store_dir / "artifacts").as_uri()
    else:
        uri = absolute_sqlite_uri(uri, root)
        # MLflow would put a new experiment's artifacts in ./mlruns of the working
        # directory, which in a queued experiment is the temporary copy.
        artifact_location = (root / "mlruns").as_uri() if sqlite_file(uri) else None
    set_http_retry_defaults()
    quiet_locked_database_tracebacks()
    mlflow.set_tracking_uri(uri)
    return Store(uri, artifact_location)


def ensure_experiment(name: str, store: Store) -> str:
    """Return the id of experiment ``name``, creating it, and a new SQLite store's schema, if needed.

    MLflow creates the schema when a process first opens an empty SQLite store, so
    both happen inside ``store_lock``: processes that start together, such as the
    workers of ``dvc queue start -j 2``, take turns.
    """

    def get_or_create() -> str:
        experiment = mlflow.get_experiment_by_name(name)
        if experiment is not None:
            return experiment.experiment_id
        try:
            return mlflow.create_experiment(name, artifact_location=store.artifact_location)
        except MlflowException as error:
            # Another client of the same tracking server created it in the meantime.
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            return mlflow.get_experiment_by_name(name).experiment_id

    with store_errors(store.uri), store_lock(store.uri):
        return retry_when_locked(get_or_create, store.uri)


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


# The variables DVC 3.67 sets while it runs an experiment (dvc exp run, also queued),
# and the tags that keep them on each new run.
DVC_EXPERIMENT_TAGS = {"DVC_EXP_NAME": "dvc.experiment", "DVC_EXP_BASELINE_REV": "dvc.baseline_rev"}


def dvc_experiment_tags() -> dict[str, str]:
    """Return tags naming the DVC experiment and its baseline commit, as ``dvc exp show`` lists them; empty outside one."""
    return {tag: os.environ[variable] for variable, tag in DVC_EXPERIMENT_TAGS.items() if os.environ.get(variable)}


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
    A failure to reach or write the store, in the block too, raises a TrackingError
    that names the store.
    """
    uri = mlflow.get_tracking_uri()
    with _sigterm_raises():
        try:
            active = _start_run(experiment_id, run_id, name, tags)
            with store_errors(uri):
                yield active
        except (KeyboardInterrupt, Terminated) as error:
            _end_active_run(RunStatus.KILLED, error)
            raise
        except BaseException as error:
            _end_active_run(RunStatus.FAILED, error)
            raise
        _end_active_run(RunStatus.FINISHED, None)


def finish_run() -> None:
    """End the active run as FINISHED; call it inside ``interrupts_deferred`` with the steps that publish outputs."""
    with store_errors(mlflow.get_tracking_uri()):
        _write_final_status(mlflow.active_run().info.run_id, RunStatus.to_string(RunStatus.FINISHED))


class OutageTolerantRun:
    """A new run for a long computation, which goes on when the tracking store fails and reports the failure at the end.

    Training takes long and its outputs are worth keeping, so a failure to reach or
    write the store does not stop it. The first failure is logged and remembered, and
    every later ``write`` is skipped, because each would wait for the client's
    retries again. Leaving the ``with`` block ends the run as ``run`` does (FAILED
    after a failed write) and then raises the failure as a TrackingError. The block
    should publish its outputs either way, but write its run record only when
    ``complete``. Without the record, DVC counts the stage as failed, and the next
    ``dvc repro`` runs it again and logs a complete new run.
    """

    def __init__(self, store: Store, experiment: str, *, name: str, tags: dict[str, str]):
        self.store = store
        self.experiment = experiment
        self.name = name
        self.tags = tags
        self.experiment_id: str | None = None
        self.run_id: str | None = None
        self.failure: TrackingError | None = None
        self._finished = False
        self._signal_handlers = contextlib.ExitStack()

    @property
    def complete(self) -> bool:
        """Whether every write reached the store and the run ended FINISHED."""
        return self._finished and self.failure is None

    def __enter__(self) -> OutageTolerantRun:
        self._signal_handlers.enter_context(_sigterm_raises())
        try:
            self.write(self._start)
        except BaseException as error:
            # Python calls __exit__ only after __enter__ returned: end a run started before Ctrl-C.
            self.__exit__(type(error), error, error.__traceback__)
            raise
        return self

    def _start(self) -> None:
        self.experiment_id = ensure_experiment(self.experiment, self.store)
        self.run_id = _start_run(self.experiment_id, None, self.name, self.tags).info.run_id

    def write(self, log_step: Callable[..., object], /, *args: Any, **kwargs: Any) -> None:
        """Call ``log_step(*args, **kwargs)``, such as ``mlflow.log_params``, unless an earlier step failed.

        A failure to reach or write the store is logged and kept for the end of the
        block; a locked SQLite database is retried first.

        NOTE: a step of several store calls, such as ``log_keras_model``, is retried as
        a whole, so a retry can leave a second, unfinished logged model beside the
        complete one.
        """
        if self.failure is not None:
            return
        try:
            with store_errors(self.store.uri):
                retry_when_locked(lambda: log_step(*args, **kwargs), self.store.uri)
        except TrackingError as error:
            self.failure = error
            log.error("%s. Training goes on without MLflow, and the stage will fail after writing its outputs", error)

    def finish(self) -> None:
        """End the run as FINISHED if every write so far reached the store; call it as ``finish_run``."""
        self.write(finish_run)
        self._finished = self.failure is None

    def __exit__(self, error_type, error, traceback) -> None:
        try:
            if isinstance(error, (KeyboardInterrupt, Terminated)):
                _end_active_run(RunStatus.KILLED, error)
            elif error is not None:
                _end_active_run(RunStatus.FAILED, error)
            elif self.failure is not None:
                _end_active_run(RunStatus.FAILED, self.failure)
                raise TrackingError(
                    f"{self.failure}. The stage wrote its outputs but no run record; "
                    "run it again (dvc repro) once the store is reachable"
                )
            else:
                _end_active_run(RunStatus.FINISHED, None)
        finally:
            self._signal_handlers.close()


def _start_run(experiment_id: str | None, run_id: str | None, name: str | None, tags: dict | None) -> mlflow.ActiveRun:
    uri = mlflow.get_tracking_uri()
    if not run_id:
        tags = {**dvc_experiment_tags(), **(tags or {})}
    # `mlflow run` passes its own run in MLFLOW_RUN_ID, and start_run would log into
    # that run instead of a new one: every stage of `dvc repro` into the same run.
    # A new run records it as its parent instead.
    launcher_run_id = os.environ.pop("MLFLOW_RUN_ID", None)
    if launcher_run_id and not run_id:
        tags = {**tags, "mlflow.parentRunId": launcher_run_id}

    def start() -> mlflow.ActiveRun:
        return mlflow.start_run(run_id=run_id, experiment_id=None if run_id else experiment_id, run_name=name, tags=tags)

    try:
        return retry_when_locked(start, uri)
    except STORE_FAILURES as error:
        action = f"could not reopen run {run_id}" if run_id else "could not start a run"
        raise TrackingError(f"MLflow tracking store {uri_for_logs(uri)}: {action}: {describe(error, uri)}") from None


def _end_active_run(status: int, error: BaseException | None) -> None:
    """End the active run, if the block has not ended it already (glassbox never nests runs).

    When the block failed already, a failure to write the status is only logged,
    so that it does not hide the block's own error.
    """
    active = mlflow.active_run()
    if active is None:
        return
    status_name = RunStatus.to_string(status)
    if error is not None:
        reason = "SIGTERM" if isinstance(error, Terminated) else type(error).__name__
        log.warning("MLflow run %s (%s) ends as %s: %s", active.info.run_name, active.info.run_id, status_name, reason)
    # A second Ctrl-C while the status is written would otherwise leave the run RUNNING.
    with interrupts_deferred():
        try:
            with store_errors(mlflow.get_tracking_uri()):
                _write_final_status(active.info.run_id, status_name)
        except TrackingError as failure:
            if error is None:
                raise
            log.warning("MLflow run %s stays as the store last saw it: %s", active.info.run_id, failure)


def _write_final_status(run_id: str, status: str) -> None:
    """End the active run with ``status``, retrying while SQLite reports the database locked."""

    def write() -> None:
        active = mlflow.active_run()
        if active is not None and active.info.run_id == run_id:
            mlflow.end_run(status)
        else:
            # mlflow.end_run removes the active run before it writes the status, so a retry writes only the status.
            MlflowClient().set_terminated(run_id, status)

    retry_when_locked(write, mlflow.get_tracking_uri())


def run_record_path(name: str, root: str | Path = ".") -> Path:
    return Path(root) / RUN_RECORDS_DIR / f"{name}.json"


def write_run_record(name: str, run_id: str, experiment_id: str, root: str | Path = ".") -> None:
    """Write the record that ties a DVC stage's outputs to its MLflow run."""
    write_json(run_record_path(name, root), {"run_id": run_id, "experiment_id": experiment_id})


def remove_run_record(name: str, root: str | Path = ".") -> None:
    """Remove a stage's run record, which would name an older run than the outputs just published."""
    run_record_path(name, root).unlink(missing_ok=True)


def read_run_record(name: str, root: str | Path = ".") -> dict[str, str]:
    path = run_record_path(name, root)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise TrackingError(f"{path}: run record not found; run the train stage first") from None
    except json.JSONDecodeError as error:
        raise TrackingError(f"{path}: invalid run record ({error}); run the train stage again") from None


def require_run(run_id: str, record_name: str) -> None:
    """Raise a TrackingError naming the fix when the store lacks the run that a run record names.

    This happens when the record was written while logging to another store (say,
    `mlflow run` without MLFLOW_TRACKING_URI) or when the run was deleted. Reopening
    such a run cannot work, and re-running the stage alone would not help.
    """
    uri = mlflow.get_tracking_uri()
    with store_errors(uri):
        try:
            retry_when_locked(lambda: MlflowClient().get_run(run_id), uri)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            raise TrackingError(
                f"{run_record_path(record_name)}: MLflow run {run_id} not found in the tracking store {uri_for_logs(uri)}; "
                "it was logged to another store or deleted. Run `dvc repro --force` to log every stage into this store"
            ) from None


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
    import keras
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
