"""Stage train@<variant>-<seed>: train one variant with one seed and record it in MLflow."""

import argparse

import mlflow

from glassbox import tracking
from glassbox.cli import run_stage
from glassbox.data.processed import load_split
from glassbox.data.raw import load_source
from glassbox.model_files import history_path, metrics_path, model_dir, save_history_csv, save_training
from glassbox.params import load_params, mlflow_params, train_params, variant_params
from glassbox.training import train

SOURCE_JSON = "data/raw/source.json"
DATA_NPZ = {"digits": "data/processed/digits.npz", "binary": "data/processed/binary.npz"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="a variant name under 'variants' in params.yaml")
    parser.add_argument("--seed", required=True, type=int, help="the random seed for initialisation and shuffling")
    args = parser.parse_args()
    raw = load_params()
    variant = variant_params(raw, args.variant)
    settings = train_params(raw)
    experiment = mlflow_params(raw).experiment
    name = tracking.run_name(variant.name, args.seed)

    data_path = DATA_NPZ[variant.task]
    data, digest = load_split(data_path)
    source = load_source(SOURCE_JSON)

    store = tracking.configure()
    experiment_id = tracking.ensure_experiment(experiment, store)
    logged_params = {**tracking.flatten("model", variant), **tracking.flatten("train", settings), "train.seed": args.seed}
    logged_params.pop("train.seeds")
    tags = {
        "variant": variant.name,
        "seed": str(args.seed),
        "data.source": source["source"],
        "data.description": source["description"],
        "data.digest": digest,
        "git.commit": tracking.git_commit(),
        "dvc.stage": f"train@{variant.name}-{args.seed}",
        "params.hash": tracking.params_hash(logged_params),
    }
    with tracking.run(experiment_id, name=name, tags=tags) as active:
        mlflow.log_params(logged_params)
        tracking.log_dataset(data.x_train, data.y_train, name=f"{source['source']}-{variant.task}", source=data_path, digest=digest)

        result = train(variant, data, settings, args.seed, callbacks=[tracking.EpochMetricsLogger()])

        folder = model_dir(variant.name, args.seed)
        save_training(result, folder, metrics_path(variant.name, args.seed))
        save_history_csv(result.history, history_path(variant.name, args.seed))

        mlflow.log_metrics(result.metrics)
        mlflow.log_artifacts(str(folder), artifact_path="training")
        tracking.log_keras_model(result.model)

    tracking.write_run_record(name, active.info.run_id, experiment_id)


if __name__ == "__main__":
    run_stage(main)
