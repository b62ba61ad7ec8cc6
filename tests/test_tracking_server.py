"""The pipeline against a real MLflow tracking server on 127.0.0.1, read back over its REST API.

A copy of the project with one variant and one epoch runs through the real DVC
command line with MLFLOW_TRACKING_URI pointing at ``mlflow server`` (SQLite back end,
local artifact root). Then the server stops in the middle of training, a re-run after
it returns logs completely, and a stage started while it is down still trains.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

import pytest

from conftest import SMALLEST_PARAMS, copy_project, dvc, pipeline_env, set_params, stages_run
from mlflow_server import MlflowServer

pytestmark = pytest.mark.e2e

TRAIN_STAGE = "train@baseline-0"
EPOCH_LINE = re.compile(r"\d+/\d+ - .* - val_loss: ")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The copy after one dvc repro against a fresh server, with the server still running."""
    root = copy_project(tmp_path_factory.mktemp("served"))
    set_params(root, SMALLEST_PARAMS)
    server = MlflowServer(tmp_path_factory.mktemp("server")).start()
    env = {**pipeline_env(root), "MLFLOW_TRACKING_URI": server.url}
    try:
        first = dvc(root, "repro", env=env)
        yield root, server, env, first
    finally:
        server.stop()


def experiment_id(server: MlflowServer) -> str:
    return server.get("experiments/get-by-name", experiment_name="glassbox-ablation")["experiment"]["experiment_id"]


def runs_named(server: MlflowServer, name: str) -> list[dict]:
    reply = server.post("runs/search", {
        "experiment_ids": [experiment_id(server)],
        "filter": f"attributes.run_name = '{name}'",
        "order_by": ["attributes.start_time ASC"],
    })
    return reply.get("runs", [])


def recorded_run(root, server: MlflowServer, name: str) -> dict:
    record = json.loads((root / "mlflow-store" / "runs" / f"{name}.json").read_text())
    return server.get("runs/get", run_id=record["run_id"])["run"]


def metrics_of(run: dict) -> dict[str, float]:
    return {metric["key"]: metric["value"] for metric in run["data"].get("metrics", [])}


def tags_of(run: dict) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["data"].get("tags", [])}


def artifact_paths(server: MlflowServer, run_id: str, path: str) -> set[str]:
    return {item["path"] for item in server.get("artifacts/list", run_id=run_id, path=path).get("files", [])}


def download_artifact(server: MlflowServer, run: dict, path: str) -> bytes:
    """Download a run's artifact through the server's artifact proxy (artifact URIs start with mlflow-artifacts:/)."""
    location = run["info"]["artifact_uri"].removeprefix("mlflow-artifacts:/").strip("/")
    with urllib.request.urlopen(f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{location}/{path}", timeout=30) as response:
        return response.read()


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


def test_pipeline_logs_every_run_to_server(served):
    root, server, _, first = served

    assert stages_run(first.stdout) == {"fetch", "preprocess", TRAIN_STAGE, "interpret@baseline-0", "compare"}
    (train_run,) = runs_named(server, "baseline-seed0")
    (summary_run,) = runs_named(server, "ablation")
    assert train_run["info"]["status"] == "FINISHED"
    assert summary_run["info"]["status"] == "FINISHED"
    assert recorded_run(root, server, "baseline-seed0")["info"]["run_id"] == train_run["info"]["run_id"]
    assert recorded_run(root, server, "ablation")["info"]["run_id"] == summary_run["info"]["run_id"]
    # Nothing went to a local store.
    assert not (root / "mlflow-store" / "mlflow.db").exists()


def test_server_holds_params_metrics_and_tags(served):
    root, server, _, _ = served
    run = recorded_run(root, server, "baseline-seed0")
    local_metrics = json.loads((root / "metrics" / "baseline" / "seed0.json").read_text())

    params = {param["key"]: param["value"] for param in run["data"]["params"]}
    assert params["model.hidden"] == "[128, 64]"
    assert params["train.max_epochs"] == "1"
    metrics = metrics_of(run)
    for key, value in local_metrics.items():
        assert metrics[key] == pytest.approx(value), key
    assert "focus_mean" in metrics  # logged by the interpret stage into the same run
    history = server.get("metrics/get-history", run_id=run["info"]["run_id"], metric_key="val_loss")["metrics"]
    assert [point["step"] for point in history] == [1]
    tags = tags_of(run)
    assert tags["dvc.stage"] == TRAIN_STAGE
    assert tags["data.source"] == "embedded"


def test_server_serves_run_artifacts(served):
    root, server, _, _ = served
    run = recorded_run(root, server, "baseline-seed0")
    summary = recorded_run(root, server, "ablation")
    run_id = run["info"]["run_id"]

    assert artifact_paths(server, run_id, "training") == {"training/model.keras", "training/weights.npz", "training/history.json"}
    assert "interpretation/interpretation.json" in artifact_paths(server, run_id, "interpretation")
    local_weights = root / "models" / "baseline" / "seed0" / "weights.npz"
    assert download_artifact(server, run, "training/weights.npz") == local_weights.read_bytes()
    assert download_artifact(server, summary, "index.html") == (root / "reports" / "index.html").read_bytes()


def test_server_stopping_mid_run_then_rerun_logs_completely(served, tmp_path):
    root, server, env, _ = served
    epochs = 5
    # Training outlasts killing the server after the first epoch, which takes milliseconds.
    set_params(root, {"train.max_epochs": epochs, "train.patience": epochs})
    # A user's own HTTP retry settings win over glassbox's; no retries keep the test short.
    quick_env = {**env, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"}
    with open(tmp_path / "stderr.log", "w+") as stderr:
        stage = subprocess.Popen(
            [sys.executable, "-m", "dvc", "repro", TRAIN_STAGE], cwd=root, env=quick_env, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
        output = []
        for line in stage.stdout:
            output.append(line)
            if EPOCH_LINE.match(line):
                break
        server.stop(crash=True)
        output.append(stage.communicate(timeout=300)[0])
    errors = (tmp_path / "stderr.log").read_text()

    assert stage.returncode != 0, "".join(output)
    assert len(re.findall(EPOCH_LINE, "".join(output))) == epochs
    (error,) = error_lines(errors)
    assert error.startswith(f"error: MLflow tracking store {server.url}: ")
    assert "run it again (dvc repro) once the store is reachable" in error
    # Training wrote its outputs; only the run record, which DVC needs, is missing.
    assert json.loads((root / "metrics" / "baseline" / "seed0.json").read_text())["epochs_run"] == epochs
    assert (root / "models" / "baseline" / "seed0" / "model.keras").is_file()
    assert not (root / "mlflow-store" / "runs" / "baseline-seed0.json").exists()

    server.start()
    rerun = dvc(root, "repro", env=env)

    assert stages_run(rerun.stdout) == {TRAIN_STAGE, "interpret@baseline-0", "compare"}
    run = recorded_run(root, server, "baseline-seed0")
    assert run["info"]["status"] == "FINISHED"
    history = server.get("metrics/get-history", run_id=run["info"]["run_id"], metric_key="val_loss")["metrics"]
    assert sorted(point["step"] for point in history) == list(range(1, epochs + 1))
    assert metrics_of(run)["epochs_run"] == epochs
    assert "focus_mean" in metrics_of(run)
    assert artifact_paths(server, run["info"]["run_id"], "training") == {"training/model.keras", "training/weights.npz", "training/history.json"}
    assert recorded_run(root, server, "ablation")["info"]["status"] == "FINISHED"


def test_server_down_from_start_still_trains(served):
    root, server, env, _ = served
    server.stop()
    set_params(root, {"train.max_epochs": 1, "train.patience": 1})

    # glassbox's own HTTP retry bounds apply: the stage gives up within seconds, not minutes.
    result = dvc(root, "repro", TRAIN_STAGE, env=env, check=False)

    assert result.returncode != 0
    (error,) = error_lines(result.stderr)
    assert error.startswith(f"error: MLflow tracking store {server.url}: ")
    assert "Training goes on without MLflow" in result.stderr
    assert "MLflow run not started" in result.stderr
    assert json.loads((root / "metrics" / "baseline" / "seed0.json").read_text())["epochs_run"] == 1
    assert (root / "models" / "baseline" / "seed0" / "weights.npz").is_file()
    assert not (root / "mlflow-store" / "runs" / "baseline-seed0.json").exists()
