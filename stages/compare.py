"""Stage compare: the ablation over every variant and seed, as a table, figures, a web page and an MLflow run."""

import mlflow

from glassbox import tracking
from glassbox.cli import run_stage
from glassbox.data.raw import load_source
from glassbox.params import load_params, mlflow_params, train_params, variant_names, variant_params
from glassbox.report import (
    FOCUSED_NEURONS_PNG,
    PATHWAY_PIXELS_PNG,
    collect_results,
    model_rows,
    save_val_loss_csv,
    summarize,
    summary_metrics,
)
from glassbox.report_files import write_report

SOURCE_JSON = "data/raw/source.json"
REPORTS_DIR = "reports"
VAL_LOSS_CSV = "plots/val_loss.csv"


def main() -> None:
    raw = load_params()
    variants = variant_names(raw)
    # The report only names each activation, and the train stage already checked it against Keras.
    settings = {name: variant_params(raw, name, check_activation=False) for name in variants}
    seeds = list(train_params(raw).seeds)
    experiment = mlflow_params(raw).experiment

    source = load_source(SOURCE_JSON)
    results = collect_results(variants, seeds)

    summaries = summarize(results, settings)

    files = write_report(summaries, results, source, REPORTS_DIR)
    save_val_loss_csv(results, VAL_LOSS_CSV)

    store = tracking.configure()
    experiment_id = tracking.ensure_experiment(experiment, store)
    tags = {
        "glassbox.ablation": "true",
        "data.source": source["source"],
        "data.description": source["description"],
        "data.digest": source["digest"],
        "git.commit": tracking.git_commit(),
        "dvc.stage": "compare",
    }
    numbers = summary_metrics(summaries)
    with tracking.run(experiment_id, name="ablation", tags=tags) as active:
        for path in [*files.all(), VAL_LOSS_CSV]:
            mlflow.log_artifact(str(path))
        # Under the same relative paths as in ablation.md, so that its image links work among the artifacts.
        for summary in summaries:
            folder = summary.results[0].folder
            for figure in (FOCUSED_NEURONS_PNG, PATHWAY_PIXELS_PNG):
                mlflow.log_artifact(str(folder / figure), artifact_path=folder.relative_to(REPORTS_DIR).as_posix())
        mlflow.log_dict({"models": model_rows(results)}, "models.json")
        mlflow.log_metrics({f"{variant}/{key}": value for variant, values in numbers.items() for key, value in values.items()})
    tracking.write_run_record("ablation", active.info.run_id, experiment_id)


if __name__ == "__main__":
    run_stage(main)
