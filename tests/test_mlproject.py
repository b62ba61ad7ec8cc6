"""The MLproject file through the real `mlflow run`: the pipeline, and one variant trained with -P parameters.

A copy of the project with one variant and one epoch, run as an MLflow user would,
with `--env-manager local` and no MLFLOW_TRACKING_URI, so that `mlflow run` and the
stages log to MLflow's default store, mlflow.db in the project folder.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest
from mlflow import MlflowClient

from conftest import SMALLEST_PARAMS, commit_all, copy_project, dvc, pipeline_env, set_params

pytestmark = pytest.mark.e2e

EXPERIMENT = "glassbox-ablation"


def mlflow_run(root, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "mlflow", "run", ".", "--env-manager", "local", "--experiment-name", EXPERIMENT, *args]
    result = subprocess.run(command, cwd=root, env=pipeline_env(root), capture_output=True, text=True)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The copy after `mlflow run` of the main entry point, then of the train entry point."""
    root = copy_project(tmp_path_factory.mktemp("mlproject"))
    set_params(root, SMALLEST_PARAMS)
    commit_all(root, "one variant, one epoch")
    client = MlflowClient(f"sqlite:///{root}/mlflow.db")

    mlflow_run(root)
    (main_launcher,) = launcher_runs(client, "main")
    mlflow_run(root, "-e", "train", "-P", "variant=baseline", "-P", "seed=0")
    (train_launcher,) = launcher_runs(client, "train")
    return root, client, main_launcher, train_launcher


def launcher_runs(client: MlflowClient, entry_point: str) -> list:
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], f"tags.`mlflow.project.entryPoint` = '{entry_point}'")


def children(client: MlflowClient, parent) -> dict[str, object]:
    runs = client.search_runs([parent.info.experiment_id], f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'")
    return {run.info.run_name: run for run in runs}


def test_main_runs_pipeline_as_child_runs(project):
    root, client, launcher, _ = project
    runs = children(client, launcher)

    assert launcher.info.status == "FINISHED"
    assert set(runs) == {"baseline-seed0", "ablation"}
    for name, run in runs.items():
        assert run.info.status == "FINISHED", name
        # MLflow writes a local artifact location as a path or as a file: URI.
        assert Path(urllib.parse.urlsplit(run.info.artifact_uri).path).is_relative_to(root / "mlruns"), name
    # The interpret stage logs into the training run, not into a run of its own.
    assert "focus_mean" in runs["baseline-seed0"].data.metrics
    assert not (root / "mlflow-store" / "mlflow.db").exists()


def test_launcher_runs_hold_no_stage_data(project):
    _, client, main_launcher, train_launcher = project

    assert main_launcher.data.params == {}
    assert main_launcher.data.metrics == {}
    assert train_launcher.data.params == {"variant": "baseline", "seed": "0"}
    assert train_launcher.data.metrics == {}
    for launcher in (main_launcher, train_launcher):
        assert client.list_artifacts(launcher.info.run_id) == []


def test_train_entry_point_trains_one_child_run(project):
    root, client, _, launcher = project
    (run,) = children(client, launcher).values()

    assert launcher.info.status == "FINISHED"
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "baseline-seed0"
    assert run.data.params["model.hidden"] == "[128, 64]"
    assert run.data.params["train.seed"] == "0"
    assert {"test_accuracy", "best_epoch", "epochs_run"} <= set(run.data.metrics)
    assert (root / "models" / "baseline" / "seed0" / "model.keras").is_file()


def test_train_entry_point_outputs_rerun_under_dvc(project):
    root, _, _, _ = project

    status = dvc(root, "status", "train@baseline-0").stdout

    assert "changed outs" in status
