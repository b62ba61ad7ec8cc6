"""DVC and MLflow agree: every run record that dvc repro leaves names a run in the current store.

A copy of the project with one variant and one epoch, run through the real DVC
command line against its own MLflow store.
"""

from __future__ import annotations

import json
import re
import shutil

import pytest
from mlflow import MlflowClient

from conftest import ONE_VARIANT, SMALLEST_PARAMS, copy_project, dvc, pipeline_env, set_params, stages_run

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("agreement"))
    set_params(root, SMALLEST_PARAMS)
    first = dvc(root, "repro")
    return root, first


def client_for(root) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow-store/mlflow.db")


def recorded_run(root, name: str):
    """Return the MLflow run that mlflow-store/runs/<name>.json names, from the current store."""
    record = json.loads((root / "mlflow-store" / "runs" / f"{name}.json").read_text())
    return client_for(root).get_run(record["run_id"])


def test_repro_prints_progress_per_epoch(project):
    _, first = project

    # Keras writes "Epoch k/n" only when n > 1; with one epoch each stage writes one metrics line.
    epoch_lines = [line for line in first.stdout.splitlines() if re.match(r"\d+/\d+ - .* - val_loss: ", line)]
    assert len(epoch_lines) == len(ONE_VARIANT)
    assert "INFO glassbox.stages.train: train@baseline-0: variant baseline, seed 0, embedded data" in first.stderr
    assert "Restoring model weights from the end of the best epoch: 1." in first.stdout


def test_deleting_store_reruns_every_logging_stage(project):
    root, _ = project
    shutil.rmtree(root / "mlflow-store")

    result = dvc(root, "repro")

    expected = {f"{stage}@{variant}-0" for stage in ("train", "interpret") for variant in ONE_VARIANT} | {"compare"}
    assert stages_run(result.stdout) == expected
    assert "is cached - skipping run" not in result.stdout
    for variant in ONE_VARIANT:
        run = recorded_run(root, f"{variant}-seed0")
        assert run.info.status == "FINISHED", variant
        assert run.info.run_name == f"{variant}-seed0"
    assert recorded_run(root, "ablation").info.status == "FINISHED"


def test_reverted_param_reruns_train_instead_of_restoring(project):
    root, _ = project
    set_params(root, {"variants.baseline.l1": 1.0e-4})
    dvc(root, "repro", "train@baseline-0")
    changed_run = recorded_run(root, "baseline-seed0")

    set_params(root, {"variants.baseline.l1": 0.0})
    result = dvc(root, "repro", "train@baseline-0")

    assert stages_run(result.stdout) == {"train@baseline-0"}
    assert "is cached - skipping run" not in result.stdout
    run = recorded_run(root, "baseline-seed0")
    assert run.info.run_id != changed_run.info.run_id
    assert run.info.status == "FINISHED"
    assert run.data.params["model.l1"] == "0.0"


def test_record_from_other_store_asks_for_force(project, tmp_path):
    """Run records written while logging to one store name runs that another store lacks."""
    root, _ = project
    other_store = f"sqlite:///{tmp_path}/other.db"
    env = {**pipeline_env(root), "MLFLOW_TRACKING_URI": other_store}
    set_params(root, {"interpret.top_neurons": 8})

    failed = dvc(root, "repro", check=False, env=env)

    assert failed.returncode != 0
    (error,) = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert "mlflow-store/runs/baseline-seed0.json" in error
    assert "not found in the tracking store" in error
    assert "dvc repro --force" in error

    dvc(root, "repro", "--force", env=env)

    record = json.loads((root / "mlflow-store" / "runs" / "baseline-seed0.json").read_text())
    run = MlflowClient(tracking_uri=other_store).get_run(record["run_id"])
    assert run.info.status == "FINISHED"
    assert "focus_mean" in run.data.metrics
    assert run.data.tags["interpret.top_neurons"] == "8"
