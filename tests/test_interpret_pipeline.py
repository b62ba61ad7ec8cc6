"""The interpret stage through the real DVC command line: a changed interpret setting re-runs only interpret and compare."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from mlflow import MlflowClient

from conftest import PROJECT_ROOT, copy_project, dvc, pipeline_env, set_params, stages_run

pytestmark = pytest.mark.e2e

VARIANT = "baseline"
FIGURE = "pathway_pixels.png"


@pytest.fixture(scope="module")
def one_variant(tmp_path_factory):
    """A copy of the project with one variant, one epoch and the embedded data, reproduced once."""
    root = copy_project(tmp_path_factory.mktemp("interpret"))
    variants = yaml.safe_load((PROJECT_ROOT / "params.yaml").read_text())["variants"]
    set_params(root, {"data.source": "embedded", "train.max_epochs": 1, "variants": {VARIANT: variants[VARIANT]}})
    dvc(root, "repro")
    return root


def report_dir(root):
    return root / "reports" / "variants" / VARIANT / "seed0"


def training_run(root):
    record = json.loads((root / "mlflow-store" / "runs" / f"{VARIANT}-seed0.json").read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow-store/mlflow.db")
    return client, client.get_run(record["run_id"])


def test_changed_class_reruns_interpret_and_compare_only(one_variant, tmp_path):
    root = one_variant
    old_figure = (report_dir(root) / FIGURE).read_bytes()
    set_params(root, {"interpret.class_of_interest": 7})

    result = dvc(root, "repro")

    assert stages_run(result.stdout) == {f"interpret@{VARIANT}-0", "compare"}
    numbers = json.loads((report_dir(root) / "interpretation.json").read_text())
    assert numbers["target"]["class"] == 7
    assert numbers["settings"]["class_of_interest"] == 7

    client, run = training_run(root)
    assert run.info.status == "FINISHED"
    assert run.data.tags["interpret.class_of_interest"] == "7"
    assert run.data.tags["interpret.explained_class"] == "7"
    assert run.data.metrics["deletion_auc_integrated_gradients"] == pytest.approx(numbers["faithfulness"]["auc"]["integrated gradients"], rel=1e-5)
    assert run.data.metrics["focus_mean"] == pytest.approx(numbers["focus"]["mean"])
    assert "interpret.class_of_interest" not in run.data.params

    logged_json = client.download_artifacts(run.info.run_id, "interpretation/interpretation.json", str(tmp_path))
    assert json.loads(open(logged_json).read())["target"]["class"] == 7
    logged_figure = client.download_artifacts(run.info.run_id, f"interpretation/{FIGURE}", str(tmp_path))
    new_figure = (report_dir(root) / FIGURE).read_bytes()
    assert open(logged_figure, "rb").read() == new_figure
    assert new_figure != old_figure


def test_unknown_neuron_stops_the_stage_cleanly(one_variant):
    root = one_variant
    before = {path.name: path.read_bytes() for path in report_dir(root).iterdir()}
    set_params(root, {"interpret.neurons": [5000]})

    result = subprocess.run(
        [sys.executable, "stages/interpret.py", "--variant", VARIANT, "--seed", "0"],
        cwd=root, env=pipeline_env(root), capture_output=True, text=True,
    )

    assert result.returncode == 2
    assert "error: params.yaml: interpret.neurons: neuron 5000 does not exist" in result.stderr
    assert "Traceback" not in result.stderr
    assert {path.name: path.read_bytes() for path in report_dir(root).iterdir()} == before
    set_params(root, {"interpret.neurons": []})
