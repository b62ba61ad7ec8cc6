"""Access to an MLflow tracking store from several processes at once, and from temporary copies of the repository.

Three things go wrong once runs leave a single ``dvc repro``:

- ``dvc exp run --queue`` (and ``--temp``) runs each experiment in a temporary copy
  of the repository under ``.dvc/tmp/exps/``, without git-ignored files, and deletes
  the copy afterwards. A store path relative to the working directory lands in the
  copy and vanishes with it, so store paths are resolved against ``project_root``.
- Processes that open a new SQLite store at the same time race on creating its
  schema, and on creating the experiment. ``store_lock`` lets one process at a time
  do both, and ``retry_when_locked`` retries a write that found the database locked.
- Against an HTTP tracking server that is down, MLflow's client retries each request
  for minutes by default. ``set_http_retry_defaults`` bounds that.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import time
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import requests
import sqlalchemy.exc
from mlflow.exceptions import MlflowException

from glassbox.errors import TrackingError

log = logging.getLogger(__name__)

T = TypeVar("T")

# Exceptions that mean the tracking store could not be reached or written.
STORE_FAILURES = (MlflowException, requests.RequestException, sqlalchemy.exc.SQLAlchemyError)

# Each MLflow 3.17 session already waits up to 20 s for a locked SQLite database
# (PRAGMA busy_timeout), so a "database is locked" error means another writer held
# the lock that long. The retries wait about 1 + 2 + 4 + 8 + 16 s more, with jitter.
LOCKED_ATTEMPTS = 6
LOCKED_FIRST_PAUSE_S = 1.0

# Applied only where the user has not set them. MLflow 3.17's defaults are 7
# retries with a backoff factor of 2 and a 120 s timeout: with urllib3 2.8 the
# pauses add up to about 4 minutes for every request to a server that is down.
# These give up after about 15 s (pauses of 0, 2, 4 and 8 s, plus up to 1 s of
# jitter each) when the server refuses connections, and after about 5 x 20 s
# when it accepts connections but sends no response.
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "20",
}


def project_root() -> Path:
    """Return the root of the user's DVC repository, also when DVC runs the stage in a temporary copy.

    DVC 3.67 sets ``DVC_ROOT`` for every stage command. Under ``dvc repro`` and a
    plain ``dvc exp run`` it is the repository, which is also the working directory.
    Under ``dvc exp run --queue`` or ``--temp`` the stage runs in a copy under
    ``.dvc/tmp/exps/``, and DVC sets ``DVC_ROOT`` to the repository the experiment
    came from (dvc/repo/experiments/queue/base.py does this on purpose). Outside DVC
    the root is the working directory.
    """
    return Path(os.environ.get("DVC_ROOT") or ".").resolve()


def uri_for_logs(uri: str) -> str:
    """Return the tracking URI without the user name and password that an http URI may hold."""
    parts = urllib.parse.urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    if parts.port is not None:
        host += f":{parts.port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=host))


def sqlite_file(uri: str) -> Path | None:
    """Return the database file of a ``sqlite:///`` URI, or None for other stores and in-memory databases."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri.removeprefix("sqlite:///").partition("?")[0]
    if not path or path == ":memory:":
        return None
    return Path(path)


def absolute_sqlite_uri(uri: str, root: Path) -> str:
    """Return ``uri`` with a relative SQLite path made absolute under ``root``; other URIs unchanged."""
    path = sqlite_file(uri)
    if path is None or path.is_absolute():
        return uri
    _, separator, query = uri.partition("?")
    return f"sqlite:///{root / path}{separator}{query}"


@contextlib.contextmanager
def store_lock(uri: str) -> Iterator[None]:
    """Hold an exclusive lock on ``<database>.lock`` beside a SQLite store; do nothing for other stores.

    Every glassbox process creates the schema and the experiment inside this lock,
    so the first one does it and the others find both in place.
    """
    database = sqlite_file(uri)
    if database is None:
        yield
        return
    database.parent.mkdir(parents=True, exist_ok=True)
    # NOTE: flock works between processes on one machine. On a network file system it
    # may not lock at all, and SQLite itself is unsafe there; use a tracking server.
    with open(database.with_name(database.name + ".lock"), "a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def is_database_locked(error: object) -> bool:
    return "database is locked" in str(error)


def retry_when_locked(call: Callable[[], T], uri: str) -> T:
    """Return ``call()``, calling it again after a growing pause while SQLite reports the database locked.

    Gives up after ``LOCKED_ATTEMPTS`` attempts and raises the last error. Retrying
    one store call is safe, because MLflow rolls back the transaction that failed.
    """
    for attempt in range(1, LOCKED_ATTEMPTS + 1):
        try:
            return call()
        except (MlflowException, sqlalchemy.exc.OperationalError) as error:
            if attempt == LOCKED_ATTEMPTS or not is_database_locked(error):
                raise
            # Jitter, so that processes that collided once do not collide again.
            pause = LOCKED_FIRST_PAUSE_S * 2 ** (attempt - 1) * random.uniform(0.75, 1.25)
            log.warning(
                "MLflow tracking store %s: database is locked (attempt %d of %d); retrying in %.1f s",
                uri_for_logs(uri), attempt, LOCKED_ATTEMPTS, pause,
            )
            time.sleep(pause)
    raise AssertionError("unreachable: the last attempt returns or raises")


@contextlib.contextmanager
def store_errors(uri: str) -> Iterator[None]:
    """Turn a failure to reach or write the store into one TrackingError line that names the store."""
    try:
        yield
    except STORE_FAILURES as error:
        raise TrackingError(f"MLflow tracking store {uri_for_logs(uri)}: {describe(error, uri)}") from None


def describe(error: BaseException, uri: str) -> str:
    """Return the error's message on one line, with any password in ``uri`` left out."""
    return " ".join(str(error).replace(uri, uri_for_logs(uri)).split())


def set_http_retry_defaults() -> None:
    """Bound MLflow's HTTP retries and timeout, where the user has not set them."""
    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


class _LockedDatabaseFilter(logging.Filter):
    """Drop MLflow's traceback for a locked SQLite database, which ``retry_when_locked`` logs in one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not is_database_locked(record.getMessage())


def quiet_locked_database_tracebacks() -> None:
    logger = logging.getLogger("mlflow.store.db.utils")
    if not any(isinstance(existing, _LockedDatabaseFilter) for existing in logger.filters):
        logger.addFilter(_LockedDatabaseFilter())
