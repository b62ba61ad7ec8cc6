"""The train stage as DVC runs it: a real subprocess, a real MLflow store, real Ctrl-C and SIGTERM.

Each test builds a small project folder (params.yaml, synthetic processed data, a git
repository) and runs stages/train.py in it. MLflow is read back through its own
client, from the project's local store or from a tracking server on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow.keras
import numpy as np
import pytest
import yaml
from mlflow import MlflowClient

from glassbox import tracking
from glassbox.data.processed import save_split
from glassbox.model_files import load_model
from glassbox.params import load_params, train_params, variant_params
from conftest import commit_all
from synthetic_data import binary_subset, learnable_split

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TRAIN_STAGE = PROJECT_ROOT / "stages" / "train.py"
SOURCE_DIGEST = "5" * 64
VARIANT = {
    "task": "digits",
    "hidden": [16, 8],
    "activation": "relu",
    "l1": 1.0e-5,
    "dropout": [0.1, 0.05],
    "batch_norm": True,
}


def make_project(root: Path, **train_changes) -> Path:
    """Write params.yaml with one variant ``regularized``, synthetic processed data and a git commit."""
    params = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())
    params["variants"] = {"regularized": dict(VARIANT)}
    params["train"].update({"max_epochs": 3, "seeds": [3], **train_changes})
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    data = learnable_split()
    (root / "data" / "processed").mkdir(parents=True)
    save_split(root / "data" / "processed" / "digits.npz", data, SOURCE_DIGEST)
    save_split(root / "data" / "processed" / "binary.npz", binary_subset(data), SOURCE_DIGEST)
    source = {"source": "synthetic", "description": "synthetic prototypes for tests", "digest": SOURCE_DIGEST}
    (root / "data" / "raw").mkdir(parents=True)
    (root / "data" / "raw" / "source.json").write_text(json.dumps(source))

    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    commit_all(root, "stage test project")
    return root


def stage_env(root: Path) -> dict[str, str]:
    """Run this checkout's code against the project's own local MLflow store."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DVC_"))}
    env["PYTHONPATH"] = str(PROJECT_ROOT / "src")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stage_command(variant: str = "regularized", seed: int = 3) -> list[str]:
    return [sys.executable, str(TRAIN_STAGE), "--variant", variant, "--seed", str(seed)]


def run_stage(root: Path, variant: str = "regularized", seed: int = 3) -> subprocess.CompletedProcess:
    return subprocess.run(stage_command(variant, seed), cwd=root, env=stage_env(root), capture_output=True, text=True)


def client_for(root: Path) -> MlflowClient:
    return MlflowClient(tracking.local_store_uri(root))


def runs_named(root: Path, name: str) -> list:
    client = client_for(root)
    experiment = client.get_experiment_by_name("glassbox-ablation")
    return client.search_runs([experiment.experiment_id], f"attributes.run_name = '{name}'", order_by=["attributes.start_time ASC"])


def leftovers(root: Path) -> list[Path]:
    """Return temporary files or folders that an interrupted write left behind."""
    return [path for path in root.rglob("*.tmp-*") if ".git" not in path.parts]


def assert_no_outputs(root: Path) -> None:
    assert not (root / "models" / "regularized" / "seed3").exists()
    assert not (root / "metrics" / "regularized" / "seed3.json").exists()
    assert not (root / "mlflow-store" / "runs" / "regularized-seed3.json").exists()
    assert leftovers(root) == []


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One successful stage run; the tests below read what it wrote and logged."""
    root = make_project(tmp_path_factory.mktemp("trained"))
    result = run_stage(root)
    assert result.returncode == 0, result.stderr
    record = json.loads((root / "mlflow-store" / "runs" / "regularized-seed3.json").read_text())
    run = client_for(root).get_run(record["run_id"])
    return root, result, run


def test_run_is_finished_with_name_and_tags(trained):
    root, _, run = trained
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout.strip()

    assert run.info.status == "FINISHED"
    assert run.info.run_name == "regularized-seed3"
    tags = run.data.tags
    assert tags["variant"] == "regularized"
    assert tags["seed"] == "3"
    assert tags["data.source"] == "synthetic"
    assert tags["data.digest"] == SOURCE_DIGEST
    assert tags["git.commit"] == commit
    assert tags["dvc.stage"] == "train@regularized-3"
    assert re.fullmatch(r"[0-9a-f]{16}", tags["params.hash"])


def test_params_are_the_resolved_settings_flat(trained):
    root, _, run = trained
    raw = load_params(root / "params.yaml")
    variant, settings = variant_params(raw, "regularized"), train_params(raw)
    expected = {**tracking.flatten("model", variant), **tracking.flatten("train", settings), "train.seed": 3}
    expected.pop("train.seeds")

    assert run.data.params == {key: str(value) for key, value in expected.items()}
    assert run.data.params["model.hidden"] == "[16, 8]"
    assert run.data.params["model.dropout"] == "[0.1, 0.05]"
    assert run.data.params["train.max_epochs"] == "3"
    assert run.data.tags["params.hash"] == tracking.params_hash(expected)


def test_epoch_metrics_have_epoch_as_step(trained):
    root, _, run = trained
    client = client_for(root)
    history = json.loads((root / "models" / "regularized" / "seed3" / "history.json").read_text())

    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        points = client.get_metric_history(run.info.run_id, key)
        assert [point.step for point in points] == [1, 2, 3], key
        assert [point.value for point in points] == pytest.approx(history[key], rel=1e-6), key


def test_final_metrics_describe_the_saved_model(trained):
    root, _, run = trained
    metrics = json.loads((root / "metrics" / "regularized" / "seed3.json").read_text())
    model = load_model(root / "models" / "regularized" / "seed3")
    with np.load(root / "data" / "processed" / "digits.npz") as data:
        test = model.evaluate(data["x_test"], data["y_test"].astype(np.int32), verbose=0, return_dict=True)

    for key in ("best_epoch", "epochs_run", "best_val_loss", "best_val_accuracy", "test_loss", "test_accuracy"):
        assert run.data.metrics[key] == pytest.approx(metrics[key]), key
    assert metrics["epochs_run"] == 3
    assert metrics["test_loss"] == pytest.approx(test["loss"], rel=1e-5)
    assert metrics["test_accuracy"] == pytest.approx(test["accuracy"])


def test_logged_model_loads_in_safe_mode(trained):
    root, _, run = trained
    client = client_for(root)
    (logged,) = client.search_logged_models(
        [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'"
    )
    with np.load(root / "data" / "processed" / "digits.npz") as data:
        x_test = data["x_test"]

    mlflow.set_tracking_uri(tracking.local_store_uri(root))
    try:
        loaded = mlflow.keras.load_model(logged.model_uri, load_model_kwargs={"safe_mode": True})
    finally:
        mlflow.set_tracking_uri(None)
    saved = load_model(root / "models" / "regularized" / "seed3")

    assert loaded.predict(x_test, verbose=0).tobytes() == saved.predict(x_test, verbose=0).tobytes()


def test_weight_history_artifact_is_the_saved_file(trained, tmp_path):
    root, _, run = trained
    local = root / "models" / "regularized" / "seed3" / "weights.npz"

    downloaded = client_for(root).download_artifacts(run.info.run_id, "training/weights.npz", str(tmp_path))

    assert Path(downloaded).read_bytes() == local.read_bytes()
    with np.load(local) as weights:
        assert weights["epoch"].tolist() == [0, 1, 2, 3]
        assert weights["hidden1/kernel"].shape == (4, 400, 16)


def test_dataset_inputs_identify_the_processed_arrays(trained):
    root, _, run = trained
    with np.load(root / "data" / "processed" / "digits.npz") as data:
        expected = {
            "training": (tracking.array_digest(data["x_train"], data["y_train"])[:36], list(data["x_train"].shape)),
            "test": (tracking.array_digest(data["x_test"], data["y_test"])[:36], list(data["x_test"].shape)),
        }

    found = {}
    for dataset_input in run.inputs.dataset_inputs:
        (context,) = [tag.value for tag in dataset_input.tags if tag.key == "mlflow.data.context"]
        profile = json.loads(dataset_input.dataset.profile)
        found[context] = (dataset_input.dataset.digest, profile["features_shape"])
        assert "data/processed/digits.npz" in dataset_input.dataset.source

    assert found == expected


def test_progress_is_one_line_per_epoch(trained):
    _, result, _ = trained

    epoch_lines = [line for line in result.stdout.splitlines() if re.match(r"\d+/\d+ - .* - val_loss: ", line)]
    assert len(epoch_lines) == 3
    assert "Epoch 3/3" in result.stdout
    assert "INFO glassbox.stages.train: train@regularized-3: variant regularized, seed 3, synthetic data" in result.stderr


def start_stage(root: Path, **popen_arguments) -> subprocess.Popen:
    return subprocess.Popen(stage_command(), cwd=root, env=stage_env(root), **popen_arguments)


def test_ctrl_c_mid_training_kills_run(tmp_path):
    root = make_project(tmp_path, max_epochs=500, patience=500)
    process = start_stage(root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in process.stdout:
        output.append(line)
        if "val_loss" in line:
            break

    process.send_signal(signal.SIGINT)
    output.append(process.communicate(timeout=120)[0])

    assert process.returncode == -signal.SIGINT, "".join(output)
    assert "KeyboardInterrupt" in output[-1]
    (run,) = runs_named(root, "regularized-seed3")
    assert run.info.status == "KILLED"
    assert_no_outputs(root)

    set_max_epochs(root, 2)
    rerun = run_stage(root)

    assert rerun.returncode == 0, rerun.stderr
    assert [run.info.status for run in runs_named(root, "regularized-seed3")] == ["KILLED", "FINISHED"]
    assert (root / "models" / "regularized" / "seed3" / "weights.npz").is_file()
    assert json.loads((root / "metrics" / "regularized" / "seed3.json").read_text())["epochs_run"] == 2
    assert leftovers(root) == []


def set_max_epochs(root: Path, epochs: int) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["train"]["max_epochs"] = epochs
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def test_sigterm_while_saving_kills_run(tmp_path):
    root = make_project(tmp_path, max_epochs=1)
    staging_parent = root / "models" / "regularized"
    with open(tmp_path / "stage.log", "w") as log:
        process = start_stage(root, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while not list(staging_parent.glob(".seed3.tmp-*")):
            assert process.poll() is None, (tmp_path / "stage.log").read_text()
            assert time.monotonic() < deadline, "the stage never started to save"
            time.sleep(0.005)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)

    output = (tmp_path / "stage.log").read_text()
    (run,) = runs_named(root, "regularized-seed3")
    final_outputs = [
        root / "models" / "regularized" / "seed3",
        root / "metrics" / "regularized" / "seed3.json",
        root / "mlflow-store" / "runs" / "regularized-seed3.json",
    ]
    if process.returncode == 0:
        # On a loaded machine the stage can finish saving between the check above and
        # the signal. Then everything must be complete: never a mix of the two outcomes.
        assert run.info.status == "FINISHED"
        assert all(path.exists() for path in final_outputs)
        assert leftovers(root) == []
        return
    assert process.returncode == 143, output
    assert "ends as KILLED: SIGTERM" in output
    assert run.info.status == "KILLED"
    # The signal can land while a temporary is being created, before the stage can
    # track it, so a .tmp-* leftover is allowed here; the re-run must remove it.
    assert not any(path.exists() for path in final_outputs)

    rerun = run_stage(root)

    assert rerun.returncode == 0, rerun.stderr
    assert [run.info.status for run in runs_named(root, "regularized-seed3")] == ["KILLED", "FINISHED"]
    assert leftovers(root) == []


# Every params rule has a unit test in test_params.py. These two show that the stage
# reports a broken rule as one line: a rule checked by params.py, and the activation
# check, which imports Keras.
BAD_VARIANTS = {
    "unknown key": ("droput", [0.1, 0.1], "params.yaml: variants.regularized.droput: unknown key; allowed keys are "),
    "unknown activation": (
        "activation",
        "rellu",
        "params.yaml: variants.regularized.activation: expected an activation Keras knows, such as relu, sigmoid or tanh, got 'rellu'",
    ),
}


@pytest.mark.parametrize(("key", "value", "message"), BAD_VARIANTS.values(), ids=BAD_VARIANTS.keys())
def test_bad_variant_param_stops_stage_with_one_line(tmp_path, key, value, message):
    root = make_project(tmp_path)
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["variants"]["regularized"][key] = value
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))

    result = run_stage(root)

    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {message}")
    assert "Traceback" not in result.stderr
    assert not (root / "mlflow-store").exists()
    assert not (root / "models").exists()


@pytest.fixture()
def tracking_server(tmp_path):
    """A real MLflow tracking server on 127.0.0.1, with its own SQLite store and artifact folder."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server_dir = tmp_path / "server"
    server_dir.mkdir()
    command = [
        sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        "--backend-store-uri", f"sqlite:///{server_dir / 'mlflow.db'}",
        "--artifacts-destination", str(server_dir / "artifacts"),
    ]
    env = {key: value for key, value in os.environ.items() if not key.startswith("MLFLOW_")}
    with open(server_dir / "server.log", "w") as log:
        # A session of its own, so that stopping its process group stops its workers too.
        server = subprocess.Popen(command, cwd=server_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, (server_dir / "server.log").read_text()
            assert time.monotonic() < deadline, "the MLflow server did not answer /health within 90 s"
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_stage_under_mlflow_run_on_server(tmp_path, tracking_server):
    root = tmp_path / "project"
    root.mkdir()
    make_project(root, max_epochs=2)
    client = MlflowClient(tracking_server)
    # `mlflow run` creates a run of its own and passes its id to the command it starts.
    launcher = client.create_run(client.create_experiment("launcher"), run_name="mlflow-run")
    env = {**stage_env(root), "MLFLOW_TRACKING_URI": tracking_server, "MLFLOW_RUN_ID": launcher.info.run_id}

    result = subprocess.run(stage_command(), cwd=root, env=env, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    record = json.loads((root / "mlflow-store" / "runs" / "regularized-seed3.json").read_text())
    run = client.get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "regularized-seed3"
    assert run.info.run_id != launcher.info.run_id
    assert run.data.tags["mlflow.parentRunId"] == launcher.info.run_id
    assert client.get_run(launcher.info.run_id).data.params == {}
    assert run.data.metrics["epochs_run"] == 2
    assert not (root / "mlflow-store" / "mlflow.db").exists()
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "training")}
    assert artifacts == {"training/model.keras", "training/weights.npz", "training/history.json"}
    (logged,) = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    mlflow.set_tracking_uri(tracking_server)
    try:
        loaded = mlflow.keras.load_model(logged.model_uri, load_model_kwargs={"safe_mode": True})
    finally:
        mlflow.set_tracking_uri(None)
    assert loaded.output_shape == (None, 10)
