"""The mirror downloader against a real HTTP server on 127.0.0.1: checksums, retries, timeouts."""

from __future__ import annotations

import hashlib
import logging
import os
import socket

import pytest

from glassbox.data.download import KnownFile, download
from glassbox.errors import DataError
from idx_sets import files_under
from local_http import LocalServer, Reply

CONTENT = bytes(range(256)) * 40  # 10,240 bytes, so that progress is reported in several steps.
KNOWN = KnownFile("sample.bin", hashlib.md5(CONTENT).hexdigest(), len(CONTENT))
PATH = "/mnist/sample.bin"

# Short enough to keep every test under a second, long enough for a loaded 2-core machine.
TIMEOUT_S = 0.3
BACKOFF_S = 0.01


@pytest.fixture()
def server():
    running = LocalServer().start()
    yield running
    running.stop()


def fetch(server: LocalServer, folder, *, retries: int = 0, mirrors: tuple[str, ...] | None = None):
    mirrors = mirrors or (server.url + "/mnist/",)
    return download(KNOWN, mirrors, folder, timeout_s=TIMEOUT_S, retries=retries, backoff_s=BACKOFF_S)


def test_good_file_downloaded_and_verified(server, tmp_path, caplog):
    server.serve_file(PATH, CONTENT)

    with caplog.at_level(logging.INFO, logger="glassbox.data.download"):
        path = fetch(server, tmp_path)

    assert path == tmp_path / "sample.bin"
    assert path.read_bytes() == CONTENT
    assert files_under(tmp_path) == ["sample.bin"]
    assert "sample.bin: 100% of 10240 bytes" in caplog.text


def test_downloaded_file_gets_umask_permissions(server, tmp_path):
    server.serve_file(PATH, CONTENT)
    umask = os.umask(0)
    os.umask(umask)

    path = fetch(server, tmp_path)

    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


def test_verified_copy_reused_without_request(server, tmp_path):
    server.serve_file(PATH, CONTENT)
    fetch(server, tmp_path)

    fetch(server, tmp_path)

    assert server.hits[PATH] == 1


def test_damaged_copy_downloaded_again(server, tmp_path):
    server.serve_file(PATH, CONTENT)
    (tmp_path / "sample.bin").write_bytes(CONTENT[:-1] + b"x")

    path = fetch(server, tmp_path)

    assert path.read_bytes() == CONTENT
    assert server.hits[PATH] == 1


def test_wrong_checksum_rejected_without_retry(server, tmp_path):
    server.serve_file(PATH, CONTENT[:-1] + b"x")

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path, retries=2)

    message = str(error.value)
    assert message.startswith("sample.bin: no mirror delivered a valid copy")
    assert f"MD5 {hashlib.md5(CONTENT[:-1] + b'x').hexdigest()}, expected {KNOWN.md5}" in message
    assert server.hits[PATH] == 1
    assert files_under(tmp_path) == []


def test_wrong_size_rejected(server, tmp_path):
    server.serve_file(PATH, CONTENT[:100])

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path)

    assert f"received 100 bytes, expected {KNOWN.size}" in str(error.value)
    assert files_under(tmp_path) == []


def test_larger_file_stopped_at_expected_size(server, tmp_path):
    server.serve_file(PATH, CONTENT + b"extra")

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path)

    assert f"more than the expected {KNOWN.size} bytes" in str(error.value)
    assert files_under(tmp_path) == []


def test_503_then_success_retried(server, tmp_path, caplog):
    server.script(PATH, Reply(status=503), Reply(body=CONTENT))

    with caplog.at_level(logging.INFO, logger="glassbox.data.download"):
        path = fetch(server, tmp_path, retries=1)

    assert path.read_bytes() == CONTENT
    assert server.hits[PATH] == 2
    assert "HTTP 503 Service Unavailable; retrying in 0.0 s (attempt 2 of 2)" in caplog.text


def test_503_every_time_fails_after_retries(server, tmp_path):
    server.script(PATH, Reply(status=503))

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path, retries=2)

    assert f"{server.url}/mnist/sample.bin: HTTP 503 Service Unavailable (3 attempts)" in str(error.value)
    assert server.hits[PATH] == 3
    assert files_under(tmp_path) == []


def test_404_moves_to_next_mirror_at_once(server, tmp_path):
    server.serve_file("/second/sample.bin", CONTENT)

    path = fetch(server, tmp_path, retries=3, mirrors=(server.url + "/first", server.url + "/second/"))

    assert path.read_bytes() == CONTENT
    assert server.hits["/first/sample.bin"] == 1
    assert server.hits["/second/sample.bin"] == 1


def test_404_on_every_mirror_lists_each(server, tmp_path):
    with pytest.raises(DataError) as error:
        fetch(server, tmp_path, retries=3, mirrors=(server.url + "/a/", server.url + "/b/"))

    message = str(error.value)
    assert f"{server.url}/a/sample.bin: HTTP 404 Not Found" in message
    assert f"{server.url}/b/sample.bin: HTTP 404 Not Found" in message
    assert "\n" not in message
    assert files_under(tmp_path) == []


def test_stall_before_headers_times_out(server, tmp_path):
    server.script(PATH, Reply(body=CONTENT, stall_s=3 * TIMEOUT_S))

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path)

    assert f"{server.url}/mnist/sample.bin: timed out after {TIMEOUT_S:g} s without data" in str(error.value)
    assert files_under(tmp_path) == []


def test_stall_inside_body_times_out_then_retry_succeeds(server, tmp_path):
    server.script(PATH, Reply(body=CONTENT, stall_s=3 * TIMEOUT_S, stall_after=1000), Reply(body=CONTENT))

    path = fetch(server, tmp_path, retries=1)

    assert path.read_bytes() == CONTENT
    assert server.hits[PATH] == 2


def test_stall_inside_body_leaves_no_partial_file(server, tmp_path):
    server.script(PATH, Reply(body=CONTENT, stall_s=3 * TIMEOUT_S, stall_after=1000))

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path)

    assert f"timed out after {TIMEOUT_S:g} s without data" in str(error.value)
    assert files_under(tmp_path) == []


def test_connection_cut_is_retried(server, tmp_path):
    server.script(PATH, Reply(body=CONTENT, cut_after=5000), Reply(body=CONTENT))

    path = fetch(server, tmp_path, retries=1)

    assert path.read_bytes() == CONTENT
    assert server.hits[PATH] == 2


def test_connection_cut_reported(server, tmp_path):
    server.script(PATH, Reply(body=CONTENT, cut_after=5000))

    with pytest.raises(DataError) as error:
        fetch(server, tmp_path)

    assert f"connection closed after 5000 of {KNOWN.size} bytes" in str(error.value)
    assert files_under(tmp_path) == []


def test_refused_connection_reported(tmp_path):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    # Nothing listens on the port once the socket is closed.

    with pytest.raises(DataError) as error:
        download(KNOWN, (f"http://127.0.0.1:{port}/",), tmp_path, timeout_s=TIMEOUT_S, retries=0)

    assert "ConnectionRefusedError" in str(error.value)


def test_unresolved_host_given_up_without_retry(tmp_path, monkeypatch):
    # A machine without a network fails every name lookup; simulate that here so the test
    # sends no query to a real resolver.
    lookups = []

    def fail_lookup(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", fail_lookup)

    with pytest.raises(DataError) as error:
        download(KNOWN, ("https://mirror.example/mnist/",), tmp_path, timeout_s=TIMEOUT_S, retries=3, backoff_s=10)

    assert "cannot resolve host 'mirror.example' (Name or service not known)" in str(error.value)
    assert lookups == ["mirror.example"]
