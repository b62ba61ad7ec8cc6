"""MLflow conventions: every run ends with a final status, whatever stops it; datasets get a digest."""

from __future__ import annotations

import os
import signal

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from glassbox import tracking


@pytest.fixture()
def client(tmp_path, monkeypatch) -> MlflowClient:
    """A fresh local store in tmp_path, as the stages configure it without MLFLOW_TRACKING_URI."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    store = tracking.configure(tmp_path)
    # configure sets the variable for child processes; monkeypatch removes it after the test.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.uri)
    experiment_id = tracking.ensure_experiment("tests", store)
    yield MlflowClient(store.uri), experiment_id
    if mlflow.active_run() is not None:
        mlflow.end_run()


def run_status(client: MlflowClient, name: str) -> str:
    (found,) = client.search_runs([client.get_experiment_by_name("tests").experiment_id], f"attributes.run_name = '{name}'")
    return found.info.status


def test_run_ends_finished(client):
    client, experiment_id = client

    with tracking.run(experiment_id, name="ok"):
        mlflow.log_metric("loss", 1.0)

    assert run_status(client, "ok") == "FINISHED"
    assert mlflow.active_run() is None


def test_run_ends_failed_on_exception(client):
    client, experiment_id = client

    with pytest.raises(ZeroDivisionError):
        with tracking.run(experiment_id, name="broken"):
            1 / 0

    assert run_status(client, "broken") == "FAILED"


def test_run_ends_killed_on_ctrl_c(client):
    client, experiment_id = client

    with pytest.raises(KeyboardInterrupt):
        with tracking.run(experiment_id, name="interrupted"):
            signal.raise_signal(signal.SIGINT)

    assert run_status(client, "interrupted") == "KILLED"


def test_run_ends_killed_on_sigterm(client):
    client, experiment_id = client
    handler_before = signal.getsignal(signal.SIGTERM)

    with pytest.raises(tracking.Terminated) as raised:
        with tracking.run(experiment_id, name="terminated"):
            os.kill(os.getpid(), signal.SIGTERM)

    assert run_status(client, "terminated") == "KILLED"
    assert raised.value.code == 143
    assert signal.getsignal(signal.SIGTERM) is handler_before


def test_run_ended_in_block_keeps_its_status(client):
    client, experiment_id = client

    with tracking.run(experiment_id, name="finished early"):
        tracking.finish_run()

    assert run_status(client, "finished early") == "FINISHED"


def test_interrupt_waits_for_deferred_block():
    steps = []

    with pytest.raises(KeyboardInterrupt):
        with tracking.interrupts_deferred():
            signal.raise_signal(signal.SIGINT)
            steps.append("after the signal")

    assert steps == ["after the signal"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_dataset_input_has_digest_source_and_shape(client):
    client, experiment_id = client
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    y = np.array([0, 1, 2], dtype=np.uint8)

    with tracking.run(experiment_id, name="with data") as active:
        tracking.log_dataset(x, y, name="tiny", source="data/processed/digits.npz", context="training")

    (logged,) = client.get_run(active.info.run_id).inputs.dataset_inputs
    assert logged.dataset.digest == tracking.array_digest(x, y)[:36]
    assert "data/processed/digits.npz" in logged.dataset.source
    assert '"features_shape": [3, 4]' in logged.dataset.profile
    assert [tag.value for tag in logged.tags if tag.key == "mlflow.data.context"] == ["training"]


def test_array_digest_sees_values_dtype_and_shape():
    x = np.zeros((2, 3), dtype=np.float32)

    digest = tracking.array_digest(x)

    assert tracking.array_digest(x.copy()) == digest
    assert tracking.array_digest(x.reshape(3, 2)) != digest
    assert tracking.array_digest(x.astype(np.float64)) != digest
    changed = x.copy()
    changed[1, 2] = 1.0
    assert tracking.array_digest(changed) != digest


@pytest.mark.parametrize(
    ("uri", "shown"),
    [
        ("https://alice:secret@mlflow.example.org:8443/path", "https://mlflow.example.org:8443/path"),
        ("http://token@127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("sqlite:////tmp/project/mlflow-store/mlflow.db", "sqlite:////tmp/project/mlflow-store/mlflow.db"),
    ],
)
def test_uri_for_logs_drops_credentials(uri, shown):
    assert tracking.uri_for_logs(uri) == shown
