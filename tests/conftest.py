"""Shared fixtures: a throw-away copy of the project to run the real DVC pipeline in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    """Return the files git tracks, or would track, in the project (no generated outputs)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\n")
    skipped = ("dvc.lock", "metrics/", "plots/", "mlflow-store/")
    return [name for name in listing if name and not name.startswith(skipped) and (PROJECT_ROOT / name).is_file()]


def copy_project(destination: Path) -> Path:
    """Copy the project's source files into ``destination`` as a fresh git repository."""
    for name in tracked_files():
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(PROJECT_ROOT / name, target)
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    commit_all(destination, "copy of the project under test")
    return destination


def commit_all(root: Path, message: str) -> None:
    """Commit every change in ``root``, because DVC experiments and `mlflow run` start from a commit."""
    git = ["git", "-c", "user.name=glassbox-tests", "-c", "user.email=tests@localhost"]
    subprocess.run(git + ["add", "-A"], cwd=root, check=True, capture_output=True)
    subprocess.run(git + ["commit", "-qm", message], cwd=root, check=True, capture_output=True)


def set_params(root: Path, overrides: dict) -> None:
    """Apply dotted-key overrides (``{"train.max_epochs": 2}``) to root/params.yaml."""
    path = root / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for dotted, value in overrides.items():
        section = params
        *parents, key = dotted.split(".")
        for parent in parents:
            section = section[parent]
        section[key] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def pipeline_env(root: Path) -> dict[str, str]:
    """Return an environment that runs the copy's own code against the copy's own MLflow store."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DVC_"))}
    env["PYTHONPATH"] = str(root / "src")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def dvc(root: Path, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real DVC command line in ``root`` and return its result."""
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args],
        cwd=root, env=env or pipeline_env(root), capture_output=True, text=True,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def stages_run(output: str) -> set[str]:
    """Return the names of the stages that ``dvc repro`` reports running in its output."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


FAST_PARAMS = {"data.source": "embedded", "train.max_epochs": 2}

# The smallest pipeline that still runs every stage: one variant for one epoch. The
# dvc.yaml matrix gives every variant the same stages, so one variant covers them.
ONE_VARIANT = {
    "baseline": {"task": "digits", "hidden": [128, 64], "activation": "relu", "l1": 0.0, "dropout": [], "batch_norm": False},
}
SMALLEST_PARAMS = {"data.source": "embedded", "train.max_epochs": 1, "variants": ONE_VARIANT}


@pytest.fixture(scope="session")
def small_project(tmp_path_factory) -> Path:
    """A copy of the project with the embedded data and two epochs per model, not yet run."""
    root = copy_project(tmp_path_factory.mktemp("project"))
    set_params(root, FAST_PARAMS)
    return root
