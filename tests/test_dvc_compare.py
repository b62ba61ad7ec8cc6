"""Comparing variants through DVC's own commands, MLflow and the report, on a finished small pipeline.

Two variants, two epochs, one seed first. That result is committed, then
``dvc exp run -S train.seeds=[0,1]`` adds a seed without any edit to dvc.yaml, and every
DVC command that compares revisions must name every variant and seed.
"""

from __future__ import annotations

import csv
import io
import json
from statistics import mean

import pytest
import yaml
from mlflow import MlflowClient

from glassbox.report import QUANTITIES

from browser import chromium_or_skip, render
from conftest import commit_all, copy_project, dvc, set_params, stages_run

pytestmark = pytest.mark.e2e

VARIANTS = ["baseline", "l1_dropout"]
SEEDS = [0, 1]
MODELS = [(variant, seed) for variant in VARIANTS for seed in SEEDS]


@pytest.fixture(scope="module")
def experiment(tmp_path_factory):
    """A committed one-seed pipeline, then an experiment that adds seed 1; return (root, experiment name, stages run)."""
    root = copy_project(tmp_path_factory.mktemp("compare"))
    all_variants = yaml.safe_load((root / "params.yaml").read_text())["variants"]
    set_params(root, {
        "data.source": "embedded",
        "train.max_epochs": 2,
        "train.seeds": [0],
        "variants": {name: all_variants[name] for name in VARIANTS},
    })
    dvc(root, "repro")
    commit_all(root, "ablation with seed 0")

    result = dvc(root, "exp", "run", "-S", "train.seeds=[0,1]")

    name = next(line.split(":", 1)[1].strip() for line in result.stdout.splitlines() if line.startswith("Ran experiment(s):"))
    return root, name, stages_run(result.stdout)


def test_exp_run_trains_only_new_seed(experiment):
    _, _, stages = experiment

    new_seed = {f"{stage}@{variant}-1" for stage in ("train", "interpret") for variant in VARIANTS}
    assert stages == new_seed | {"compare"}


def test_metrics_show_lists_every_model(experiment):
    root, _, _ = experiment

    table = dvc(root, "metrics", "show").stdout
    shown = json.loads(dvc(root, "metrics", "show", "--json").stdout)[""]["data"]

    for variant, seed in MODELS:
        assert f"metrics/{variant}/seed{seed}.json" in table
        assert 0.0 <= shown[f"metrics/{variant}/seed{seed}.json"]["data"]["test_accuracy"] <= 1.0


def test_params_diff_shows_the_new_seed(experiment):
    root, _, _ = experiment

    changed = json.loads(dvc(root, "params", "diff", "--json").stdout)["params.yaml"]
    every = dvc(root, "params", "diff", "--all").stdout

    assert changed == {"train.seeds": {"old": "[0]", "new": "[0, 1]"}}
    for variant in VARIANTS:
        assert f"variants.{variant}.dropout" in every


def test_metrics_diff_names_every_model(experiment):
    root, _, _ = experiment

    table = dvc(root, "metrics", "diff", "--all").stdout
    diff = json.loads(dvc(root, "metrics", "diff", "--all", "--json").stdout)

    assert sorted(diff) == sorted(f"metrics/{variant}/seed{seed}.json" for variant, seed in MODELS)
    for variant in VARIANTS:
        assert f"metrics/{variant}/seed1.json" in table
        assert diff[f"metrics/{variant}/seed0.json"]["test_accuracy"]["diff"] == 0  # seed 0 was not retrained
        assert diff[f"metrics/{variant}/seed1.json"]["test_accuracy"]["old"] is None


def test_plots_diff_draws_every_model(experiment):
    root, _, _ = experiment

    plots = json.loads(dvc(root, "plots", "diff", "--json").stdout)["data"]

    for variant, seed in MODELS:
        assert f"plots/history/{variant}/seed{seed}.csv" in plots
    # One chart contains every model's validation loss, of both revisions.
    [chart] = plots["plots/val_loss.csv"]
    assert chart["content"]["title"]["text"] == "Validation loss of every model"
    points = chart["content"]["data"]["values"]
    assert {(point["variant"], point["seed"], point["rev"]) for point in points} == (
        {(variant, str(seed), "workspace") for variant, seed in MODELS}
        | {(variant, "0", "HEAD") for variant in VARIANTS}
    )


def test_plots_diff_writes_html(experiment, tmp_path):
    root, _, _ = experiment

    dvc(root, "plots", "diff", "-o", str(tmp_path / "dvc_plots"))

    page = (tmp_path / "dvc_plots" / "index.html").read_text()
    assert "Validation loss of every model" in page
    for variant, seed in MODELS:
        assert f"plots/history/{variant}/seed{seed}.csv" in page


def test_exp_show_lists_every_model(experiment):
    root, name, _ = experiment

    rows = list(csv.DictReader(io.StringIO(dvc(root, "exp", "show", "--csv").stdout)))

    [row] = [row for row in rows if row["Experiment"] == name]
    for variant, seed in MODELS:
        assert 0.0 <= float(row[f"metrics/{variant}/seed{seed}.json:test_accuracy"]) <= 1.0
    assert row["train.seeds"] == "[0, 1]"


def client_for(root) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root}/mlflow-store/mlflow.db")


def test_every_model_run_has_same_metric_names(experiment):
    root, _, _ = experiment
    client = client_for(root)
    experiment_id = client.get_experiment_by_name("glassbox-ablation").experiment_id

    runs = client.search_runs([experiment_id], filter_string="tags.variant != ''")

    assert sorted(run.info.run_name for run in runs) == sorted(f"{variant}-seed{seed}" for variant, seed in MODELS)
    names = {run.info.run_name: frozenset(run.data.metrics) for run in runs}
    assert len(set(names.values())) == 1, names
    assert {"val_loss", "test_accuracy", "best_epoch", "focus_mean", "first_layer_near_zero_share"} <= next(iter(names.values()))


def test_summary_run_holds_report(experiment):
    root, _, _ = experiment
    client = client_for(root)
    record = json.loads((root / "mlflow-store" / "runs" / "ablation.json").read_text())

    run = client.get_run(record["run_id"])

    assert run.data.tags["glassbox.ablation"] == "true"
    assert run.data.tags["data.source"] == "embedded"
    artifacts = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"ablation.md", "index.html", "ablation.png", "val_loss.png", "ablation.json", "val_loss.csv", "models.json"} <= artifacts
    for variant in VARIANTS:
        figures = {item.path for item in client.list_artifacts(run.info.run_id, f"variants/{variant}/seed0")}
        assert f"variants/{variant}/seed0/pathway_pixels.png" in figures
        accuracies = [json.loads((root / "metrics" / variant / f"seed{seed}.json").read_text())["test_accuracy"] for seed in SEEDS]
        assert run.data.metrics[f"{variant}/test_accuracy_mean"] == pytest.approx(mean(accuracies))
        assert run.data.metrics[f"{variant}/n_seeds"] == len(SEEDS)
        for quantity, _ in QUANTITIES:
            assert f"{variant}/{quantity}_mean" in run.data.metrics, quantity


def test_report_page_shows_every_variant(experiment, tmp_path):
    root, _, _ = experiment
    chromium_or_skip()

    page = render(root / "reports" / "index.html", tmp_path / "index.png")

    assert page.summary_variants == VARIANTS
    assert len(page.image_widths) == 2 + 2 * len(VARIANTS)
    assert all(width > 0 for width in page.image_widths), page.image_widths
    table = (root / "reports" / "ablation.md").read_text()
    for variant, seed in MODELS:
        assert f"| {variant} | {seed} |" in table
