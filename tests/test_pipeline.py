"""The whole pipeline through the real DVC command line, on the embedded sample with two epochs."""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow import MlflowClient

from conftest import dvc, set_params, stages_run

pytestmark = pytest.mark.e2e

VARIANTS = ["binary_l1", "small_sigmoid", "baseline", "l1_only", "dropout_only", "l1_dropout", "bn_dropout"]


@pytest.fixture(scope="module")
def reproduced(small_project):
    """Run dvc repro once in the small project; the tests below read what it left."""
    result = dvc(small_project, "repro")
    return small_project, result


def client_for(root) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow-store/mlflow.db")


def variant_runs(root) -> dict:
    client = client_for(root)
    experiment = client.get_experiment_by_name("glassbox-ablation")
    runs = client.search_runs([experiment.experiment_id], filter_string="tags.variant != ''")
    return {run.info.run_name: run for run in runs}


def test_repro_logs_a_finished_run_per_variant(reproduced):
    root, _ = reproduced
    runs = variant_runs(root)

    assert sorted(runs) == sorted(f"{variant}-seed0" for variant in VARIANTS)
    for name, run in runs.items():
        assert run.info.status == "FINISHED", name
        assert run.data.tags["data.source"] == "embedded"
        assert run.data.params["model.hidden"] in ("[25, 15]", "[128, 64]")
        assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0
        assert run.data.metrics["epochs_run"] == 2


def test_run_has_epoch_metrics_and_artifacts(reproduced):
    root, _ = reproduced
    client = client_for(root)
    run = variant_runs(root)["baseline-seed0"]

    history = client.get_metric_history(run.info.run_id, "val_loss")
    assert [point.step for point in history] == [1, 2]
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id, "training")}
    assert "training/weights.npz" in artifacts
    figures = {item.path for item in client.list_artifacts(run.info.run_id, "interpretation")}
    assert "interpretation/first_layer_weights.png" in figures
    assert "interpretation/pathway_pixels.png" in figures
    models = client.search_logged_models([run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'")
    assert len(models) == 1


def test_repro_writes_reports(reproduced):
    root, _ = reproduced
    table = (root / "reports" / "ablation.md").read_text()

    assert "embedded" in table
    for variant in VARIANTS:
        assert f"| {variant} | 0 |" in table
        metrics = json.loads((root / "metrics" / variant / "seed0.json").read_text())
        assert metrics["epochs_run"] == 2
        assert (root / "reports" / "variants" / variant / "seed0" / "interpretation.json").is_file()
    assert (root / "reports" / "ablation.png").stat().st_size > 0


def test_second_repro_runs_nothing(reproduced):
    root, _ = reproduced

    result = dvc(root, "repro")

    assert stages_run(result.stdout) == set()


def test_dropout_change_reruns_that_variant_only(reproduced):
    root, _ = reproduced
    set_params(root, {"variants.dropout_only.dropout": [0.2, 0.1]})

    result = dvc(root, "repro")

    assert stages_run(result.stdout) == {"train@dropout_only-0", "interpret@dropout_only-0", "compare"}
    params = yaml.safe_load((root / "params.yaml").read_text())
    assert params["variants"]["dropout_only"]["dropout"] == [0.2, 0.1]
    record = json.loads((root / "mlflow-store" / "runs" / "dropout_only-seed0.json").read_text())
    rerun = client_for(root).get_run(record["run_id"])
    assert rerun.data.params["model.dropout"] == "[0.2, 0.1]"
    assert rerun.info.status == "FINISHED"
