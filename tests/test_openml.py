"""The OpenML source: scikit-learn's real fetch_openml against an OpenML-shaped server on 127.0.0.1.

The server returns the four JSON API replies and the ARFF file of a tiny data set,
so these tests exercise the cache and its repair without contacting openml.org.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import socket

import numpy as np
import pytest
from sklearn.datasets import _openml

from glassbox.data.openml import cache_folder, fetch_cached
from glassbox.errors import DataError
from glassbox.data.sources import labels_from_openml
from idx_sets import files_under
from local_http import LocalServer, Reply

NAME = "tiny_digits"
DATA_ID = 42
FILE_ID = 4242
PIXELS = np.array([[(row * 4 + column) * 10 % 256 for column in range(4)] for row in range(12)])
LABELS = [str(row % 10) for row in range(12)]

TIMEOUT_S = 0.3
BACKOFF_S = 0.01

API_PATHS = {
    "search": f"/api/v1/json/data/list/data_name/{NAME}/limit/2/data_version/1",
    "description": f"/api/v1/json/data/{DATA_ID}",
    "features": f"/api/v1/json/data/features/{DATA_ID}",
    "qualities": f"/api/v1/json/data/qualities/{DATA_ID}",
}
ARFF_PATH = f"/data/v1/download/{FILE_ID}/{NAME}.arff"


def arff_text() -> bytes:
    lines = [f"@RELATION {NAME}"]
    lines += [f"@ATTRIBUTE pixel{index + 1} NUMERIC" for index in range(4)]
    lines += ["@ATTRIBUTE class {0,1,2,3,4,5,6,7,8,9}", "@DATA"]
    lines += [",".join(str(value) for value in row) + f",{label}" for row, label in zip(PIXELS, LABELS)]
    return ("\n".join(lines) + "\n").encode()


def feature(index: int, name: str, data_type: str, is_target: bool) -> dict:
    described = {
        "index": str(index),
        "name": name,
        "data_type": data_type,
        "is_target": "true" if is_target else "false",
        "is_ignore": "false",
        "is_row_identifier": "false",
        "number_of_missing_values": "0",
    }
    if data_type == "nominal":
        described["nominal_value"] = [str(digit) for digit in range(10)]
    return described


def api_replies(base_url: str) -> dict[str, bytes]:
    """Return the JSON bodies OpenML's API gives for the tiny data set, keyed by path."""
    description = {
        "id": str(DATA_ID),
        "name": NAME,
        "version": "1",
        "status": "active",
        "format": "ARFF",
        "file_id": str(FILE_ID),
        "url": base_url + ARFF_PATH,
        "md5_checksum": hashlib.md5(arff_text()).hexdigest(),
        "description": "Twelve 2x2 images for tests.",
    }
    features = [feature(index, f"pixel{index + 1}", "numeric", False) for index in range(4)]
    features.append(feature(4, "class", "nominal", True))
    bodies = {
        "search": {"data": {"dataset": [{"did": DATA_ID, "name": NAME, "version": 1, "status": "active"}]}},
        "description": {"data_set_description": description},
        "features": {"data_features": {"feature": features}},
        "qualities": {"data_qualities": {"quality": [{"name": "NumberOfInstances", "value": str(len(LABELS))}]}},
    }
    return {API_PATHS[key]: json.dumps(body).encode() for key, body in bodies.items()}


@pytest.fixture()
def openml_server(monkeypatch):
    """A local OpenML look-alike, with scikit-learn's API URL templates pointed at it."""
    server = LocalServer().start()
    api = server.url + "/api/v1/json/data"
    monkeypatch.setattr(_openml, "_SEARCH_NAME", api + "/list/data_name/{}/limit/2")
    monkeypatch.setattr(_openml, "_DATA_INFO", api + "/{}")
    monkeypatch.setattr(_openml, "_DATA_FEATURES", api + "/features/{}")
    monkeypatch.setattr(_openml, "_DATA_QUALITIES", api + "/qualities/{}")
    serve_everything(server)
    yield server
    server.stop()


def serve_everything(server: LocalServer) -> None:
    for path, body in api_replies(server.url).items():
        server.serve_file(path, body)
    server.serve_file(ARFF_PATH, arff_text())


def fail_everything(server: LocalServer, status: int) -> None:
    for path in [*API_PATHS.values(), ARFF_PATH]:
        server.script(path, Reply(status=status))


def fetch(data_home):
    return fetch_cached(NAME, 1, data_home, label_column=4, timeout_s=TIMEOUT_S, retries=1, backoff_s=BACKOFF_S)


def cached_json(data_home, key: str):
    return cache_folder(data_home) / "openml.org" / (API_PATHS[key].lstrip("/") + ".gz")


def test_fetch_returns_pixels_and_labels(openml_server, tmp_path):
    data = fetch(tmp_path)

    assert data.features.shape == (12, 4)
    assert np.array_equal(data.features, PIXELS)
    assert data.data_id == DATA_ID
    assert data.md5 == hashlib.md5(arff_text()).hexdigest()
    assert list(labels_from_openml(data.target)) == [int(label) for label in LABELS]


def test_second_fetch_reads_cache_only(openml_server, tmp_path):
    fetch(tmp_path)
    hits_after_first = sum(openml_server.hits.values())
    fail_everything(openml_server, 503)

    data = fetch(tmp_path)

    assert np.array_equal(data.features, PIXELS)
    assert sum(openml_server.hits.values()) == hits_after_first
    assert any(name.endswith(f"{NAME}.arff.gz") for name in files_under(cache_folder(tmp_path)))


def test_cached_reply_with_wrong_content_repaired(openml_server, tmp_path, caplog):
    fetch(tmp_path)
    # Valid gzip with the wrong JSON: scikit-learn 1.9 fails on it on every call.
    cached_json(tmp_path, "features").write_bytes(gzip.compress(b"{}"))

    with caplog.at_level(logging.WARNING, logger="glassbox.data.openml"):
        data = fetch(tmp_path)

    assert np.array_equal(data.features, PIXELS)
    assert f"the cache in {cache_folder(tmp_path)} is unreadable (KeyError: 'data_features')" in caplog.text
    assert openml_server.hits[API_PATHS["features"]] == 2


def test_unreadable_cache_removed_when_download_fails(openml_server, tmp_path):
    fetch(tmp_path)
    cached_json(tmp_path, "features").write_bytes(gzip.compress(b"{}"))
    fail_everything(openml_server, 503)

    with pytest.raises(DataError) as error:
        fetch(tmp_path)

    message = str(error.value)
    assert message.startswith(f"OpenML {NAME} version 1: the cache in {cache_folder(tmp_path)} was unreadable")
    assert "was removed, but downloading again failed: HTTPError: HTTP Error 503: Service Unavailable" in message
    assert "\n" not in message
    assert files_under(cache_folder(tmp_path)) == []

    serve_everything(openml_server)
    assert np.array_equal(fetch(tmp_path).features, PIXELS)


def test_truncated_cached_data_downloaded_again(openml_server, tmp_path):
    fetch(tmp_path)
    cached_arff = cache_folder(tmp_path) / "openml.org" / (ARFF_PATH.lstrip("/") + ".gz")
    cached_arff.write_bytes(cached_arff.read_bytes()[:-10])

    data = fetch(tmp_path)

    assert np.array_equal(data.features, PIXELS)
    assert openml_server.hits[ARFF_PATH] == 2


def test_http_error_reported_in_one_line(openml_server, tmp_path):
    fail_everything(openml_server, 503)

    with pytest.raises(DataError) as error:
        fetch(tmp_path)

    assert str(error.value) == f"OpenML {NAME} version 1: download failed: HTTPError: HTTP Error 503: Service Unavailable"
    assert openml_server.hits[API_PATHS["search"]] == 2  # The first try and one retry.
    assert files_under(tmp_path) == []


def test_stalled_server_times_out(openml_server, tmp_path):
    openml_server.script(API_PATHS["search"], Reply(body=b"{}", stall_s=3 * TIMEOUT_S))

    with pytest.raises(DataError) as error:
        fetch(tmp_path)

    assert str(error.value) == f"OpenML {NAME} version 1: download failed: TimeoutError: timed out"


def test_unresolved_host_fails_at_once(openml_server, tmp_path, monkeypatch):
    # Simulate a machine without a network, where every name lookup fails.
    def fail_lookup(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail_lookup)

    with pytest.raises(DataError) as error:
        fetch(tmp_path)

    assert str(error.value) == (
        f"OpenML {NAME} version 1: cannot resolve host '127.0.0.1' (Name or service not known), "
        f"and {cache_folder(tmp_path)} contains no cached copy"
    )
    assert sum(openml_server.hits.values()) == 0
