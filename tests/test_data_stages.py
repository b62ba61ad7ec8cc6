"""The fetch and preprocess stage scripts as DVC runs them: exit codes, messages, outputs."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import PROJECT_ROOT, copy_project, dvc, set_params, stages_run
from glassbox.data.idx import encode_idx
from idx_sets import STEMS, files_under, make_arrays, write_idx_set
from local_http import LocalServer, Reply


def make_project(root: Path, overrides: dict) -> Path:
    """Create a working folder with the project's params.yaml and the given overrides."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(PROJECT_ROOT / "params.yaml", root / "params.yaml")
    set_params(root, overrides)
    return root


def run_stage(root: Path, name: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT / "src"))
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "stages" / f"{name}.py")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )


def error_lines(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def assert_rejected(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def idx_project(tmp_path: Path, arrays: dict | None = None) -> tuple[Path, dict[str, Path]]:
    paths = write_idx_set(tmp_path / "idx", arrays)
    root = make_project(tmp_path / "project", {"data.source": "idx", "data.idx_dir": str(tmp_path / "idx")})
    return root, paths


# fetch: good data


def test_fetch_idx_writes_raw_data_and_source_record(tmp_path):
    root, paths = idx_project(tmp_path)

    result = run_stage(root, "fetch")

    assert result.returncode == 0, result.stderr
    assert files_under(root / "data") == ["raw/mnist.npz", "raw/source.json"]
    record = json.loads((root / "data/raw/source.json").read_text())
    assert record["source"] == "idx"
    assert record["location"] == str(tmp_path / "idx")
    assert record["description"].endswith(f"(IDX files in {tmp_path / 'idx'})")
    assert len(record["digest"]) == 64
    assert (record["n_train"], record["n_test"]) == (30, 10)
    assert sorted(record["files"]) == sorted(path.name for path in paths.values())
    with np.load(root / "data/raw/mnist.npz") as raw:
        assert raw["images"].shape == (40, 28, 28)


# fetch: bad data and bad params


def truncate_gzip(paths):
    paths[STEMS[0]].write_bytes(paths[STEMS[0]].read_bytes()[:-30])
    return str(paths[STEMS[0]]), "corrupt or truncated gzip"


def corrupt_gzip(paths):
    content = bytearray(paths[STEMS[2]].read_bytes())
    content[-7] ^= 0xFF
    paths[STEMS[2]].write_bytes(bytes(content))
    return str(paths[STEMS[2]]), "corrupt or truncated gzip"


def swap_magic(paths):
    paths[STEMS[0]].write_bytes(gzip.compress(encode_idx(np.zeros(30, dtype=np.uint8))))
    return str(paths[STEMS[0]]), "wrong IDX magic number 2049"


def cut_body(paths):
    content = encode_idx(np.zeros((10, 28, 28), dtype=np.uint8))[:-5]
    paths[STEMS[2]].write_bytes(gzip.compress(content))
    return str(paths[STEMS[2]]), "header says shape (10, 28, 28), which needs 7856 bytes, but the file has 7851 bytes"


def drop_label(paths):
    paths[STEMS[3]].write_bytes(gzip.compress(encode_idx(np.zeros(9, dtype=np.uint8))))
    return str(paths[STEMS[2]]), f"10 images, but {paths[STEMS[3]]} has 9 labels"


def label_twelve(paths):
    paths[STEMS[1]].write_bytes(gzip.compress(encode_idx(np.full(30, 12, dtype=np.uint8))))
    return str(paths[STEMS[1]]), "label 12 at index 0 is outside 0-9"


def remove_file(paths):
    paths[STEMS[1]].unlink()
    return str(paths[STEMS[1]].parent), "missing train-labels-idx1-ubyte (or train-labels-idx1-ubyte.gz)"


def empty_folder(paths):
    for path in paths.values():
        path.unlink()
    return str(paths[STEMS[0]].parent), "IDX folder is empty"


def remove_folder(paths):
    shutil.rmtree(paths[STEMS[0]].parent)
    return str(paths[STEMS[0]].parent), "IDX folder not found"


@pytest.mark.parametrize(
    "damage",
    [truncate_gzip, corrupt_gzip, swap_magic, cut_body, drop_label, label_twelve, remove_file, empty_folder, remove_folder],
)
def test_fetch_bad_idx_data_rejected(tmp_path, damage):
    root, paths = idx_project(tmp_path)
    named, problem = damage(paths)

    result = run_stage(root, "fetch")

    assert_rejected(result, named, problem)
    assert files_under(root / "data") == []


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("data.timeout_s", "fast", "params.yaml: data.timeout_s: expected a number in (0, 3600], got 'fast'"),
        ("data.retries", 1.5, "params.yaml: data.retries: expected an integer >= 0, got 1.5 (float)"),
        ("data.idx_dir", ["a", "b"], "params.yaml: data.idx_dir: expected a non-empty string, got ['a', 'b'] (list)"),
        ("data.mirrors", "http://127.0.0.1/", "params.yaml: data.mirrors: expected a list of strings, got 'http://127.0.0.1/'"),
        ("data.source", 3, "params.yaml: data.source: expected one of auto, openml, mirror, idx, embedded, got 3 (int)"),
    ],
)
def test_fetch_wrong_param_type_rejected(tmp_path, key, value, message):
    root = make_project(tmp_path, {"data.source": "embedded", key: value})

    result = run_stage(root, "fetch")

    assert_rejected(result, message)
    assert files_under(root / "data") == []


@pytest.fixture()
def server():
    running = LocalServer().start()
    yield running
    running.stop()


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        (Reply(status=404), "HTTP 404 Not Found"),
        (Reply(status=503), "HTTP 503 Service Unavailable"),
        (Reply(body=b"not MNIST"), "received 9 bytes, expected 9912422"),
        (Reply(body=b"slow", stall_s=1.5), "timed out after 0.3 s without data"),
    ],
    ids=["404", "503", "checksum", "timeout"],
)
def test_fetch_failing_mirror_rejected(tmp_path, server, reply, problem):
    server.script("/mnist/train-images-idx3-ubyte.gz", reply)
    root = make_project(
        tmp_path, {"data.source": "mirror", "data.mirrors": [server.url + "/mnist/"], "data.retries": 0, "data.timeout_s": 0.3}
    )

    result = run_stage(root, "fetch")

    assert_rejected(result, "train-images-idx3-ubyte.gz: no mirror delivered a valid copy", problem)
    assert files_under(root / "data") == []


# preprocess


def test_preprocess_twice_gives_identical_bytes(tmp_path):
    root, _ = idx_project(tmp_path, make_arrays(n_train=200, n_test=50))
    assert run_stage(root, "fetch").returncode == 0

    first = run_stage(root, "preprocess")
    first_outputs = {name: (root / "data/processed" / name).read_bytes() for name in ("digits.npz", "binary.npz")}
    shutil.rmtree(root / "data/processed")
    second = run_stage(root, "preprocess")

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    for name, content in first_outputs.items():
        assert (root / "data/processed" / name).read_bytes() == content, name
    with np.load(root / "data/processed/digits.npz") as digits:
        assert digits["x_train"].shape == (200, 400)
        assert digits["x_test"].shape == (50, 400)
        assert digits["x_train"].dtype == np.float32


def test_preprocess_without_raw_data_rejected(tmp_path):
    root = make_project(tmp_path, {})

    result = run_stage(root, "preprocess")

    assert_rejected(result, "data/raw/mnist.npz: file not found; run the fetch stage first (dvc repro fetch)")
    assert files_under(root / "data") == []


def test_preprocess_damaged_raw_data_rejected(tmp_path):
    root, _ = idx_project(tmp_path)
    assert run_stage(root, "fetch").returncode == 0
    raw = root / "data/raw/mnist.npz"
    raw.write_bytes(raw.read_bytes()[:1000])

    result = run_stage(root, "preprocess")

    assert_rejected(result, "data/raw/mnist.npz: not a valid raw data file", "run the fetch stage again")
    assert files_under(root / "data/processed") == []


def test_preprocess_wrong_param_type_rejected(tmp_path):
    root, _ = idx_project(tmp_path)
    assert run_stage(root, "fetch").returncode == 0
    set_params(root, {"preprocess.size": "20"})

    result = run_stage(root, "preprocess")

    assert_rejected(result, "params.yaml: preprocess.size: expected an integer >= 1, got '20'")
    assert files_under(root / "data/processed") == []


# DVC and the files inside data.idx_dir


@pytest.mark.e2e
def test_forced_fetch_picks_up_changed_idx_files(tmp_path):
    """DVC does not track the files inside data.idx_dir; the README's recipe re-reads them."""
    write_idx_set(tmp_path / "idx", make_arrays(seed=0))
    root = copy_project(tmp_path / "project")
    set_params(root, {"data.source": "idx", "data.idx_dir": str(tmp_path / "idx")})
    dvc(root, "repro", "preprocess")
    digest_before = json.loads((root / "data/raw/source.json").read_text())["digest"]

    write_idx_set(tmp_path / "idx", make_arrays(seed=1))
    unchanged = dvc(root, "repro", "preprocess")
    forced = dvc(root, "repro", "--force", "fetch")
    downstream = dvc(root, "repro", "preprocess")

    assert stages_run(unchanged.stdout) == set()
    assert stages_run(forced.stdout) == {"fetch"}
    assert stages_run(downstream.stdout) == {"preprocess"}
    assert json.loads((root / "data/raw/source.json").read_text())["digest"] != digest_before
