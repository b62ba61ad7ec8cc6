"""Download a file from an ordered list of mirrors and verify it against a known MD5 and size."""

from __future__ import annotations

import hashlib
import http.client
import logging
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from glassbox.atomic import atomic_file
from glassbox.errors import DataError

log = logging.getLogger(__name__)

_CHUNK = 1 << 16

# HTTP statuses that describe a passing state of the server, so a later attempt can succeed.
# Any other error status (404, 403, 410, ...) moves on to the next mirror at once.
_TRANSIENT_HTTP = {408, 425, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class KnownFile:
    """A published file: its name on the mirrors, its MD5 and its size in bytes."""

    name: str
    md5: str
    size: int


def md5_file(path: str | Path) -> str:
    hasher = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()


def is_valid(path: Path, known: KnownFile) -> bool:
    return path.is_file() and path.stat().st_size == known.size and md5_file(path) == known.md5


def download(
    known: KnownFile,
    mirrors: tuple[str, ...],
    folder: str | Path,
    *,
    timeout_s: float,
    retries: int,
    backoff_s: float = 1.0,
) -> Path:
    """Return the verified copy of ``known`` in ``folder``, downloading it first if needed.

    Mirrors are tried in order. A mirror that times out or returns a transient HTTP
    status (503, 429, ...) gets ``retries`` more attempts, waiting ``backoff_s``,
    then twice as long, and so on. A mirror whose host name does not resolve, that
    answers 404, or that serves bytes with the wrong size or MD5 is given up at once.
    Raises DataError listing every mirror's failure when none delivers a valid copy.
    """
    folder = Path(folder)
    target = folder / known.name
    if is_valid(target, known):
        log.info("using the verified copy %s", target)
        return target
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + known.name
        failure = _download_from_mirror(url, known, target, timeout_s, retries, backoff_s)
        if failure is None:
            return target
        log.info("%s failed: %s", url, failure)
        failures.append(f"{url}: {failure}")
    raise DataError(f"{known.name}: no mirror delivered a valid copy ({'; '.join(failures)})")


def _download_from_mirror(
    url: str, known: KnownFile, target: Path, timeout_s: float, retries: int, backoff_s: float
) -> str | None:
    """Download ``url`` into ``target`` with retries; return None on success, else the last failure."""
    failure = ""
    for attempt in range(retries + 1):
        if attempt:
            delay = backoff_s * 2 ** (attempt - 1)
            log.info("%s: %s; retrying in %.1f s (attempt %d of %d)", url, failure, delay, attempt + 1, retries + 1)
            time.sleep(delay)
        try:
            _download_verified(url, known, target, timeout_s)
            return None
        except _ChecksumMismatch as error:
            return str(error)  # Another attempt at a mirror that serves the wrong bytes gets the same bytes.
        except _TransferCut as error:
            failure = str(error)
        except urllib.error.HTTPError as error:
            failure = f"HTTP {error.code} {error.reason}"
            error.close()
            if error.code not in _TRANSIENT_HTTP:
                return failure
        except urllib.error.URLError as error:
            if isinstance(error.reason, socket.gaierror):
                # A host name that does not resolve (no network, or a typo) stays unresolved
                # for longer than any back-off is worth waiting.
                return f"cannot resolve host {urlparse(url).hostname!r} ({error.reason.strerror})"
            failure = _describe(error.reason, timeout_s)
        except (OSError, http.client.HTTPException) as error:
            failure = _describe(error, timeout_s)
    if retries:
        failure += f" ({retries + 1} attempts)"
    return failure


class _ChecksumMismatch(Exception):
    """The mirror delivered a whole file, but not the published one."""


class _TransferCut(Exception):
    """The connection closed before the body that the server announced was complete."""


def _describe(error: object, timeout_s: float) -> str:
    if isinstance(error, TimeoutError):
        return f"timed out after {timeout_s:g} s without data"
    if isinstance(error, http.client.IncompleteRead):
        return f"connection closed after {len(error.partial)} bytes of the body"
    return f"failed ({type(error).__name__}: {error})"


def _download_verified(url: str, known: KnownFile, target: Path, timeout_s: float) -> None:
    """Download ``url`` to a temporary file beside ``target``; rename it only if size and MD5 match."""
    # atomic_file removes the temporary file when this block raises, so an interrupted or
    # corrupt download never sits under the real name.
    with atomic_file(target) as temporary, temporary.open("wb") as out:
        # NOTE: timeout_s limits each connect and each read, not the whole download, so a
        # server that keeps sending a few bytes at a time is never timed out.
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            announced = response.length
            log.info("downloading %s (%.1f MB)", url, known.size / 1e6)
            hasher = hashlib.md5()
            received = 0
            next_report = 0.25
            while block := response.read(_CHUNK):
                received += len(block)
                if received > known.size:
                    raise _ChecksumMismatch(f"more than the expected {known.size} bytes")
                out.write(block)
                hasher.update(block)
                if received >= next_report * known.size:
                    log.info("%s: %3.0f%% of %d bytes", known.name, 100 * received / known.size, known.size)
                    next_report += 0.25
        if announced is not None and received < announced:
            raise _TransferCut(f"connection closed after {received} of {announced} bytes")
        if received != known.size:
            raise _ChecksumMismatch(f"received {received} bytes, expected {known.size}")
        if hasher.hexdigest() != known.md5:
            raise _ChecksumMismatch(f"MD5 {hasher.hexdigest()}, expected {known.md5}")
