"""DVC's experiment queue with two workers: every queued experiment becomes complete runs in the repository's store.

Queued experiments run in temporary copies under .dvc/tmp/exps/ that lack the
git-ignored store and are deleted afterwards, and both workers open the one SQLite
store at the same moment. The copy of the project has one variant and one epoch and
has never run, so the store does not exist when the workers start.
"""

from __future__ import annotations

import json
import subprocess
import time

import pytest
from mlflow import MlflowClient

from conftest import SMALLEST_PARAMS, commit_all, copy_project, dvc, set_params

pytestmark = pytest.mark.e2e

LEARNING_RATES = ["0.01", "0.003", "0.0003"]
QUEUE_TIMEOUT_S = 900


def queue_tasks(root) -> dict[str, str]:
    """Return each queued experiment's status (Queued, Running, Success, Failed, ...) by name."""
    lines = dvc(root, "queue", "status").stdout.splitlines()
    tasks = {}
    for line in lines[1:]:
        if not line.strip():
            break
        fields = line.split()
        tasks[fields[1]] = fields[-1]
    return tasks


@pytest.fixture(scope="module")
def queued(tmp_path_factory):
    """The copy after three queued experiments ran with two workers; returns it and the experiments by name."""
    root = copy_project(tmp_path_factory.mktemp("queue"))
    set_params(root, SMALLEST_PARAMS)
    commit_all(root, "one variant, one epoch")
    for rate in LEARNING_RATES:
        dvc(root, "exp", "run", "--queue", "-S", f"train.learning_rate={rate}")

    dvc(root, "queue", "start", "-j", "2")
    try:
        deadline = time.monotonic() + QUEUE_TIMEOUT_S
        while any(status in ("Queued", "Running") for status in queue_tasks(root).values()):
            assert time.monotonic() < deadline, f"the queue did not finish within {QUEUE_TIMEOUT_S} s"
            time.sleep(3)
    finally:
        dvc(root, "queue", "stop", "--kill", check=False)

    tasks = queue_tasks(root)
    failed = {name: dvc(root, "queue", "logs", name, check=False).stdout for name, status in tasks.items() if status != "Success"}
    assert not failed, failed
    (baseline,) = [entry for entry in json.loads(dvc(root, "exp", "show", "--json").stdout) if entry["name"]]
    experiments = {revision["name"]: revision for group in baseline["experiments"] for revision in group["revs"]}
    assert set(experiments) == set(tasks)
    return root, baseline["rev"], experiments


def store_runs(root) -> list:
    client = MlflowClient(f"sqlite:///{root}/mlflow-store/mlflow.db")
    experiment = client.get_experiment_by_name("glassbox-ablation")
    return client, client.search_runs([experiment.experiment_id])


def learning_rate(experiment: dict) -> str:
    return str(experiment["data"]["params"]["params.yaml"]["data"]["train"]["learning_rate"])


def test_every_experiment_has_finished_runs(queued):
    root, _, experiments = queued
    _, runs = store_runs(root)

    assert sorted(learning_rate(experiment) for experiment in experiments.values()) == sorted(LEARNING_RATES)
    found = sorted((run.data.tags.get("dvc.experiment"), run.info.run_name, run.info.status) for run in runs)
    expected = sorted((name, run_name, "FINISHED") for name in experiments for run_name in ("baseline-seed0", "ablation"))
    assert found == expected
    # The temporary copies are gone, and no store was left inside them.
    assert not list((root / ".dvc" / "tmp" / "exps").rglob("mlflow.db"))


def test_runs_lead_back_to_dvc_experiments(queued):
    root, baseline_rev, experiments = queued
    _, runs = store_runs(root)

    for run in runs:
        name = run.data.tags["dvc.experiment"]
        assert run.data.tags["dvc.baseline_rev"] == baseline_rev, name
        if run.info.run_name != "baseline-seed0":
            continue
        experiment = experiments[name]
        assert run.data.params["train.learning_rate"] == learning_rate(experiment), name
        # The run record and the metrics in the experiment's commit belong to this run.
        record = subprocess.run(
            ["git", "show", f"{experiment['rev']}:mlflow-store/runs/baseline-seed0.json"],
            cwd=root, capture_output=True, text=True, check=True,
        ).stdout
        assert json.loads(record)["run_id"] == run.info.run_id, name
        committed_metrics = experiment["data"]["metrics"]["metrics/baseline/seed0.json"]["data"]
        assert run.data.metrics["test_accuracy"] == pytest.approx(committed_metrics["test_accuracy"]), name


def test_training_runs_are_complete(queued):
    root, _, _ = queued
    client, runs = store_runs(root)

    for run in runs:
        if run.info.run_name != "baseline-seed0":
            continue
        run_id = run.info.run_id
        assert run.data.params["model.hidden"] == "[128, 64]"
        assert [point.step for point in client.get_metric_history(run_id, "val_loss")] == [1]
        assert {"test_accuracy", "best_epoch", "focus_mean", "deletion_auc_integrated_gradients"} <= set(run.data.metrics)
        training = {item.path for item in client.list_artifacts(run_id, "training")}
        assert training == {"training/model.keras", "training/weights.npz", "training/history.json"}
        assert "interpretation/interpretation.json" in {item.path for item in client.list_artifacts(run_id, "interpretation")}
        assert client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run_id}'")
        # The artifacts live in the repository's store, not in a deleted copy.
        assert run.info.artifact_uri.startswith((root / "mlflow-store" / "artifacts").as_uri())


def test_summary_runs_hold_the_report(queued):
    root, _, _ = queued
    client, runs = store_runs(root)

    for run in runs:
        if run.info.run_name == "ablation":
            assert "index.html" in {item.path for item in client.list_artifacts(run.info.run_id)}
            assert "baseline/test_accuracy_mean" in run.data.metrics
