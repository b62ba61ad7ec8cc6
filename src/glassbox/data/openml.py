"""Fetch a data set from OpenML through scikit-learn, with a cache that repairs itself.

scikit-learn's ``fetch_openml`` keeps every download under ``data_home`` and reads it
from there on later calls, so a second fetch needs no network. It removes some corrupt
cached files by itself, but not all of them. A cached reply that is valid gzip but
contains the wrong JSON makes every later call fail. ``fetch_cached`` therefore clears
the whole cache and downloads once more when a fetch fails the way a damaged file
makes it fail.
"""

from __future__ import annotations

import http.client
import logging
import shutil
import socket
import urllib.error
import urllib.request
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from glassbox.errors import DataError

log = logging.getLogger(__name__)


@dataclass
class OpenmlData:
    """Features and target as ``fetch_openml`` returned them, with OpenML's id, version and MD5 of the file."""

    features: np.ndarray
    target: np.ndarray
    data_id: int
    version: int
    md5: str


def fetch_cached(
    name: str,
    version: int,
    data_home: str | Path,
    *,
    label_column: int,
    timeout_s: float,
    retries: int,
    backoff_s: float = 1.0,
) -> OpenmlData:
    """Return OpenML data set ``name`` at ``version``, read from the cache or downloaded into it.

    ``label_column`` is the position of the target in the ARFF rows (784 for mnist_784).
    The cache is the folder ``openml`` inside ``data_home``, where fetch_openml keeps
    its files. Raises DataError in one line when the network fails, and when the data
    cannot be read even after the cache was cleared and downloaded again.
    """
    data_home = Path(data_home)
    cache = cache_folder(data_home)
    label = f"OpenML {name} version {version}"
    if not _has_files(cache):
        _check_host_resolves(label, cache)

    def fetch() -> OpenmlData:
        return _fetch(name, version, data_home, label_column, timeout_s, retries, backoff_s)

    try:
        return fetch()
    except _NETWORK_ERRORS as error:
        raise DataError(f"{label}: download failed: {_one_line(error)}") from None
    except _CACHE_DAMAGE as error:
        if not _has_files(cache):
            raise DataError(f"{label}: cannot be read: {_one_line(error)}") from None
        first_error = _one_line(error)

    log.warning("%s: the cache in %s is unreadable (%s); removing it and downloading again", label, cache, first_error)
    shutil.rmtree(cache)
    try:
        return fetch()
    except (*_NETWORK_ERRORS, *_CACHE_DAMAGE) as error:
        raise DataError(
            f"{label}: the cache in {cache} was unreadable ({first_error}) and was removed, "
            f"but downloading again failed: {_one_line(error)}"
        ) from None


# HTTPError is a URLError, so an HTTP error status counts as a network failure too.
_NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, TimeoutError, ConnectionError)

# Exceptions that scikit-learn 1.9 raises when a cached file is damaged. A gzip error is an
# OSError (BadGzipFile) or an EOFError (a cut-off stream). JSON that does not parse, an MD5
# mismatch and pandas' ParserError are ValueErrors, and JSON without the expected fields
# raises KeyError or IndexError. Other errors (TypeError, ...) point at the code, so
# clearing the cache would not help.
_CACHE_DAMAGE = (EOFError, zlib.error, OSError, ValueError, KeyError, IndexError)


def cache_folder(data_home: str | Path) -> Path:
    """Return the folder where fetch_openml (scikit-learn 1.9) caches downloads for ``data_home``."""
    return Path(data_home) / "openml"


def _fetch(
    name: str, version: int, data_home: Path, label_column: int, timeout_s: float, retries: int, backoff_s: float
) -> OpenmlData:
    from sklearn.datasets import fetch_openml  # Imported here: scikit-learn's loader pulls in pandas.

    log.info("fetching %s version %d from OpenML (cache: %s)", name, version, cache_folder(data_home))
    with _socket_timeout(timeout_s), _warnings_logged():
        bunch = fetch_openml(
            name,
            version=version,
            data_home=str(data_home),
            as_frame=False,
            parser="pandas",
            # NOTE: pandas 3.1 gives a column read with dtype "category" integer categories when
            # its values look like numbers, and scikit-learn 1.9.1's pandas parser then fails
            # with a TypeError in strip_single_quotes. Reading the label column as strings skips
            # that path; labels_from_openml converts and checks them. This mapping replaces
            # scikit-learn's own, so pandas infers the type of every other column.
            read_csv_kwargs={"dtype": {label_column: "str"}},
            # scikit-learn 1.9 accepts 1 retry at least; it waits `delay` seconds between tries.
            n_retries=max(retries, 1),
            delay=backoff_s,
        )
    details = bunch.details
    return OpenmlData(
        features=np.asarray(bunch.data),
        target=np.asarray(bunch.target),
        data_id=int(details["id"]),
        version=int(details["version"]),
        md5=str(details.get("md5_checksum", "")),
    )


def openml_host() -> str:
    """Return the host name that scikit-learn's OpenML loader contacts."""
    from sklearn.datasets import _openml

    # NOTE: _SEARCH_NAME is a private constant of scikit-learn 1.9, the URL template of the
    # data set search. Reading the host from it lets tests point the loader at a local server.
    return urlparse(_openml._SEARCH_NAME).hostname or "www.openml.org"


def _check_host_resolves(label: str, cache: Path) -> None:
    """Raise DataError at once when nothing is cached and OpenML's host name does not resolve.

    scikit-learn would otherwise retry the failed name lookup with pauses in between,
    although a missing network does not come back within seconds. Behind a proxy
    (HTTPS_PROXY and the like) the proxy resolves the name, so nothing is checked here.
    """
    if urllib.request.getproxies():
        return
    host = openml_host()
    try:
        socket.getaddrinfo(host, 443)
    except socket.gaierror as error:
        raise DataError(f"{label}: cannot resolve host {host!r} ({error.strerror}), and {cache} contains no cached copy") from None


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(path.is_file() for path in folder.rglob("*"))


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Give every socket a timeout, because scikit-learn's urlopen calls pass none and could hang."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


@contextmanager
def _warnings_logged() -> Iterator[None]:
    """Log scikit-learn's warnings (retries, cache repairs) as info lines of this logger."""

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ARG001 - the showwarning signature.
        log.info("scikit-learn: %s", " ".join(str(message).split()))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        yield
