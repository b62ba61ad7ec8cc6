"""Stage compare: the ablation table and figure over every variant and seed."""

import mlflow

from glassbox import figures, tracking
from glassbox.atomic import atomic_file
from glassbox.cli import run_stage
from glassbox.data.raw import load_source
from glassbox.params import load_params, mlflow_params
from glassbox.report import accuracy_figure, collect_rows, markdown_table

SOURCE_JSON = "data/raw/source.json"
TABLE_MD = "reports/ablation.md"
FIGURE_PNG = "reports/ablation.png"


def main() -> None:
    experiment = mlflow_params(load_params()).experiment

    rows = collect_rows("metrics", "reports/variants")
    source = load_source(SOURCE_JSON)

    table = markdown_table(rows, source)
    figure = accuracy_figure(rows, source)

    with atomic_file(TABLE_MD) as temporary:
        temporary.write_text(table)
    figures.save(figure, FIGURE_PNG)

    store = tracking.configure()
    experiment_id = tracking.ensure_experiment(experiment, store)
    tags = {"glassbox.ablation": "true", "data.source": source["source"], "data.digest": source["digest"], "git.commit": tracking.git_commit()}
    with tracking.run(experiment_id, name="ablation", tags=tags) as active:
        mlflow.log_artifact(TABLE_MD)
        mlflow.log_artifact(FIGURE_PNG)
        mlflow.log_dict({"runs": rows}, "ablation.json")
    tracking.write_run_record("ablation", active.info.run_id, experiment_id)


if __name__ == "__main__":
    run_stage(main)
