"""Stage train@<variant>-<seed>: train one variant with one seed and record it in MLflow."""

import argparse
import logging

import mlflow

from glassbox import tracking
from glassbox.callbacks import EpochMetricsLogger
from glassbox.cli import run_stage
from glassbox.data.processed import load_split
from glassbox.data.raw import load_source
from glassbox.model_files import history_path, metrics_path, model_dir, save_history_csv, stage_training
from glassbox.params import load_params, mlflow_params, seed_argument, train_params, variant_params
from glassbox.training import train

SOURCE_JSON = "data/raw/source.json"
DATA_NPZ = {"digits": "data/processed/digits.npz", "binary": "data/processed/binary.npz"}

log = logging.getLogger("glassbox.stages.train")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="a variant name under 'variants' in params.yaml")
    # A string, so that a bad entry in train.seeds gets the params check's message, not argparse's.
    parser.add_argument("--seed", required=True, help="the random seed for initialisation and shuffling")
    args = parser.parse_args()
    raw = load_params()
    settings = train_params(raw)
    variant = variant_params(raw, args.variant)
    seed = seed_argument(args.seed)
    experiment = mlflow_params(raw).experiment
    name = tracking.run_name(variant.name, seed)
    stage = f"train@{variant.name}-{seed}"

    data_path = DATA_NPZ[variant.task]
    data, digest = load_split(data_path)
    source = load_source(SOURCE_JSON)

    store = tracking.configure()
    logged_params = {**tracking.flatten("model", variant), **tracking.flatten("train", settings), "train.seed": seed}
    logged_params.pop("train.seeds")
    tags = {
        "variant": variant.name,
        "seed": str(seed),
        "data.source": source["source"],
        "data.description": source["description"],
        "data.digest": digest,
        "git.commit": tracking.git_commit(),
        "dvc.stage": stage,
        "params.hash": tracking.params_hash(logged_params),
    }
    # A tracking store that fails does not stop training: see OutageTolerantRun.
    with tracking.OutageTolerantRun(store, experiment, name=name, tags=tags) as run:
        log.info(
            "%s: variant %s, seed %d, %s data (%s, digest %s) from %s; MLflow run %s in %s",
            stage, variant.name, seed, source["source"], source["description"], digest[:12],
            data_path, run.run_id or "not started", tracking.uri_for_logs(store.uri),
        )
        run.write(mlflow.log_params, logged_params)
        dataset_name = f"{source['source']}-{variant.task}"
        run.write(tracking.log_dataset, data.x_train, data.y_train, name=dataset_name, source=data_path, context="training")
        run.write(tracking.log_dataset, data.x_test, data.y_test, name=dataset_name, source=data_path, context="test")

        result = train(variant, data, settings, seed, callbacks=[EpochMetricsLogger(run)])

        with stage_training(result, model_dir(variant.name, seed), metrics_path(variant.name, seed)) as staged:
            run.write(mlflow.log_metrics, result.metrics)
            run.write(mlflow.log_artifacts, str(staged.folder), artifact_path="training")
            run.write(tracking.log_keras_model, result.model)

            # Ctrl-C here must not leave a FINISHED run without outputs, or outputs of a KILLED run.
            with tracking.interrupts_deferred():
                run.finish()
                staged.publish()
                save_history_csv(result.history, history_path(variant.name, seed))
                # Without its record the stage counts as failed, so DVC runs it again and logs it completely.
                if run.complete:
                    tracking.write_run_record(name, run.run_id, run.experiment_id)
                else:
                    tracking.remove_run_record(name)


if __name__ == "__main__":
    run_stage(main)
