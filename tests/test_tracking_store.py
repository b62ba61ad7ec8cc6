"""Reaching the MLflow store from several processes: where it is, who creates it, locks and outages.

The queue and the tracking server end to end are in test_queue.py and
test_tracking_server.py; these tests take each rule alone, in seconds.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mlflow
import pytest
import sqlalchemy
import sqlalchemy.exc
from mlflow import MlflowClient

from glassbox import tracking, tracking_store
from glassbox.errors import TrackingError
from mlflow_server import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def clean_env(monkeypatch):
    """No MLflow or DVC variables from the calling shell; configure's own settings undone afterwards."""
    for name in list(os.environ):
        if name.startswith(("MLFLOW_", "DVC_")):
            monkeypatch.delenv(name)
    yield monkeypatch
    if mlflow.active_run() is not None:
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    for name in tracking_store.HTTP_RETRY_DEFAULTS:
        os.environ.pop(name, None)


def test_store_in_queued_copy_is_the_repository_store(clean_env, tmp_path):
    repository = tmp_path / "repository"
    copy = repository / ".dvc" / "tmp" / "exps" / "tmpcopy"
    copy.mkdir(parents=True)
    clean_env.chdir(copy)
    clean_env.setenv("DVC_ROOT", str(repository))

    store = tracking.configure()

    assert store.uri == f"sqlite:///{repository / 'mlflow-store' / 'mlflow.db'}"
    assert store.artifact_location == (repository / "mlflow-store" / "artifacts").as_uri()
    assert not (copy / "mlflow-store").exists()


def test_store_outside_dvc_is_in_working_directory(clean_env, tmp_path):
    clean_env.chdir(tmp_path)

    store = tracking.configure()

    assert store.uri == f"sqlite:///{tmp_path / 'mlflow-store' / 'mlflow.db'}"


def test_relative_sqlite_uri_resolves_against_repository(clean_env, tmp_path):
    copy = tmp_path / ".dvc" / "tmp" / "exps" / "tmpcopy"
    copy.mkdir(parents=True)
    clean_env.chdir(copy)
    clean_env.setenv("DVC_ROOT", str(tmp_path))
    clean_env.setenv("MLFLOW_TRACKING_URI", "sqlite:///stores/mlflow.db")

    store = tracking.configure()

    assert store.uri == f"sqlite:///{tmp_path / 'stores' / 'mlflow.db'}"
    assert store.artifact_location == (tmp_path / "mlruns").as_uri()


@pytest.mark.parametrize(
    "uri",
    ["sqlite:////data/mlflow.db", "http://127.0.0.1:5000", "postgresql://mlflow@db.example.org/mlflow"],
)
def test_other_uris_stay_as_given(uri, tmp_path):
    assert tracking_store.absolute_sqlite_uri(uri, tmp_path) == uri


def test_http_retry_defaults_keep_user_settings(clean_env, tmp_path):
    clean_env.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    clean_env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "9")

    store = tracking.configure(tmp_path)

    assert store.artifact_location is None
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "9"
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == tracking_store.HTTP_RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"]
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == tracking_store.HTTP_RETRY_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]


# Each process waits for the file "go" after importing, so that all of them open the
# new store at the same moment, as the workers of `dvc queue start -j 2` do.
RACER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import mlflow
    from glassbox import tracking

    folder, index = Path(sys.argv[1]), sys.argv[2]
    (folder / f"ready-{index}").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    store = tracking.configure(folder / "project")
    experiment_id = tracking.ensure_experiment("race", store)
    with tracking.run(experiment_id, name=f"racer-{index}"):
        mlflow.log_metric("index", float(index))
""")


def test_processes_opening_new_store_at_once(clean_env, tmp_path):
    racers = 3
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "src")}
    processes = [
        subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), str(index)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for index in range(racers)
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob("ready-*"))) < racers:
        assert time.monotonic() < deadline, "the racing processes did not start"
        assert all(process.poll() is None for process in processes), [process.communicate()[0] for process in processes]
        time.sleep(0.05)
    (tmp_path / "go").touch()
    outputs = [process.communicate(timeout=120)[0] for process in processes]

    assert [process.returncode for process in processes] == [0] * racers, outputs
    client = MlflowClient(tracking.local_store_uri(tmp_path / "project"))
    (experiment,) = [found for found in client.search_experiments() if found.name == "race"]
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.info.run_name for run in runs) == [f"racer-{index}" for index in range(racers)]
    assert {run.info.status for run in runs} == {"FINISHED"}


@pytest.fixture()
def locked_database(tmp_path, monkeypatch):
    """A SQLite database whose write lock a second connection holds until ``release`` is called."""
    monkeypatch.setattr(tracking_store, "LOCKED_FIRST_PAUSE_S", 0.01)
    path = tmp_path / "locked.db"
    uri = f"sqlite:///{path}"
    # No busy timeout: a write fails at once while the lock is held, as MLflow's does after its 20 s.
    engine = sqlalchemy.create_engine(uri, connect_args={"timeout": 0})
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE metrics (value REAL)"))
    holder = engine.raw_connection()
    holder.execute("BEGIN EXCLUSIVE")
    attempts = []

    def write() -> str:
        attempts.append(time.monotonic())
        with engine.begin() as connection:
            connection.execute(sqlalchemy.text("INSERT INTO metrics VALUES (1.0)"))
        return "written"

    yield uri, write, attempts, holder.rollback
    holder.close()
    engine.dispose()


def test_locked_database_write_is_retried(locked_database, caplog):
    uri, write, attempts, release = locked_database

    def write_after_two_failures() -> str:
        if len(attempts) == 2:
            release()
        return write()

    with caplog.at_level(logging.WARNING, logger="glassbox.tracking_store"):
        assert tracking_store.retry_when_locked(write_after_two_failures, uri) == "written"

    assert len(attempts) == 3
    retries = [record.getMessage() for record in caplog.records]
    assert len(retries) == 2
    assert retries[0].startswith(f"MLflow tracking store {uri}: database is locked (attempt 1 of {tracking_store.LOCKED_ATTEMPTS}); retrying in ")


def test_locked_database_retries_are_bounded(locked_database):
    uri, write, attempts, _ = locked_database

    with pytest.raises(sqlalchemy.exc.OperationalError, match="database is locked"):
        tracking_store.retry_when_locked(write, uri)

    assert len(attempts) == tracking_store.LOCKED_ATTEMPTS


@pytest.fixture()
def unreachable_server(clean_env):
    """A tracking URI on a loopback port where nothing listens, with no HTTP retries, to fail fast."""
    clean_env.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    clean_env.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return tracking.configure()


def test_outage_skips_writes_and_fails_at_end(unreachable_server):
    store = unreachable_server
    calls = []

    with pytest.raises(TrackingError) as raised:
        with tracking.OutageTolerantRun(store, "outage", name="model", tags={}) as run:
            run.write(calls.append, "params")
            run.finish()
            assert not run.complete
            assert run.run_id is None

    assert calls == []
    message = str(raised.value)
    assert message.startswith(f"MLflow tracking store {store.uri}: ")
    assert "\n" not in message
    assert message.endswith("run it again (dvc repro) once the store is reachable")


def test_outage_does_not_hide_ctrl_c(unreachable_server):
    with pytest.raises(KeyboardInterrupt):
        with tracking.OutageTolerantRun(unreachable_server, "outage", name="model", tags={}):
            raise KeyboardInterrupt


def test_run_names_unreachable_store(unreachable_server):
    with pytest.raises(TrackingError, match=f"^MLflow tracking store {unreachable_server.uri}: could not start a run: "):
        with tracking.run("0", name="model"):
            pass


def test_complete_run_is_tagged_with_dvc_experiment(clean_env, tmp_path):
    clean_env.setenv("DVC_EXP_NAME", "tidy-sums")
    clean_env.setenv("DVC_EXP_BASELINE_REV", "a" * 40)
    store = tracking.configure(tmp_path)

    with tracking.OutageTolerantRun(store, "tagged", name="model", tags={"variant": "baseline"}) as run:
        run.write(mlflow.log_params, {"learning_rate": 0.01})
        run.finish()
        assert run.complete

    logged = MlflowClient(store.uri).get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.params == {"learning_rate": "0.01"}
    assert logged.data.tags["dvc.experiment"] == "tidy-sums"
    assert logged.data.tags["dvc.baseline_rev"] == "a" * 40
    assert logged.data.tags["variant"] == "baseline"
