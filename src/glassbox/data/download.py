"""Download a file from an ordered list of mirrors and verify it against a known MD5 and size."""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from glassbox.errors import DataError

log = logging.getLogger(__name__)

_CHUNK = 1 << 16


@dataclass(frozen=True)
class KnownFile:
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
    """Return the verified local copy of ``known``, downloading it if needed.

    Each mirror gets ``retries`` extra attempts with exponential back-off before the next
    one is tried. A download goes to a temporary file that is renamed only after its
    size and MD5 match, so an interrupted or corrupt download never looks complete.
    """
    folder = Path(folder)
    target = folder / known.name
    if is_valid(target, known):
        return target
    folder.mkdir(parents=True, exist_ok=True)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + known.name
        for attempt in range(retries + 1):
            if attempt:
                delay = backoff_s * 2 ** (attempt - 1)
                log.info("retrying %s in %.1f s (attempt %d of %d)", url, delay, attempt + 1, retries + 1)
                time.sleep(delay)
            try:
                _fetch_verified(url, known, target, timeout_s)
                return target
            except _ChecksumMismatch as error:
                failures.append(f"{url}: {error}")
                log.warning("%s: %s", url, error)
                break  # Another attempt at a mirror that serves the wrong bytes gives the same bytes.
            except (OSError, urllib.error.URLError) as error:
                reason = _describe(error, timeout_s)
                failures.append(f"{url}: {reason}")
                log.warning("%s: %s", url, reason)
                if isinstance(error, urllib.error.HTTPError) and error.code == 404:
                    break  # A missing file does not appear on a retry.
    raise DataError(f"{known.name}: no mirror delivered a valid copy: " + "; ".join(failures))


class _ChecksumMismatch(Exception):
    pass


def _describe(error: Exception, timeout_s: float) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    reason = getattr(error, "reason", error)
    if isinstance(reason, TimeoutError) or isinstance(error, TimeoutError):
        return f"timed out after {timeout_s:g} s"
    return f"failed ({reason})"


def _fetch_verified(url: str, known: KnownFile, target: Path, timeout_s: float) -> None:
    handle, temporary = tempfile.mkstemp(prefix=f".{known.name}.tmp-", dir=target.parent)
    temporary = Path(temporary)
    try:
        with os.fdopen(handle, "wb") as out, urllib.request.urlopen(url, timeout=timeout_s) as response:
            hasher = hashlib.md5()
            received = 0
            next_report = 0.0
            log.info("downloading %s (%.1f MB)", url, known.size / 1e6)
            while block := response.read(_CHUNK):
                out.write(block)
                hasher.update(block)
                received += len(block)
                if received / known.size >= next_report:
                    log.info("  %s: %3.0f%%", known.name, 100 * min(received / known.size, 1.0))
                    next_report += 0.25
        if received != known.size:
            raise _ChecksumMismatch(f"size {received} bytes, expected {known.size}")
        if hasher.hexdigest() != known.md5:
            raise _ChecksumMismatch(f"MD5 {hasher.hexdigest()}, expected {known.md5}")
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
