"""Stage interpret@<variant>-<seed>: figures and numbers of what one trained model learned."""

import argparse
from dataclasses import asdict

import mlflow

from glassbox import tracking
from glassbox.cli import run_stage
from glassbox.data.processed import load_split
from glassbox.interpret.analysis import headline_metrics, interpret, run_tags, save
from glassbox.model_files import load_model, load_weight_history, model_dir
from glassbox.params import interpret_params, load_params

DATA_NPZ = {"digits": "data/processed/digits.npz", "binary": "data/processed/binary.npz"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--variant", required=True, help="a variant name under 'variants' in params.yaml")
    parser.add_argument("--seed", required=True, type=int, help="the seed the variant was trained with")
    args = parser.parse_args()
    params = interpret_params(load_params())
    name = tracking.run_name(args.variant, args.seed)
    record = tracking.read_run_record(name)
    run_id = record["run_id"]
    tracking.configure()
    tracking.require_run(run_id, name)

    folder = model_dir(args.variant, args.seed)
    model = load_model(folder)
    weights = load_weight_history(folder)
    task = "binary" if model.output_shape[-1] == 1 else "digits"
    data, _ = load_split(DATA_NPZ[task])

    result = interpret(model, weights, data, params)

    output = f"reports/variants/{args.variant}/seed{args.seed}"
    save(result, output, extra={"variant": args.variant, "seed": args.seed, "run_id": run_id, "settings": asdict(params)})

    with tracking.run(experiment_id=None, run_id=run_id):
        # Tags, not params: MLflow rejects a param whose value changes within a run.
        mlflow.set_tags({**tracking.flatten("interpret", params), **run_tags(result)})
        mlflow.log_metrics(headline_metrics(result))
        mlflow.log_artifacts(output, artifact_path="interpretation")
    tracking.write_run_record(f"{name}-interpret", run_id, record["experiment_id"])


if __name__ == "__main__":
    run_stage(main)
