"""A real MLflow tracking server on 127.0.0.1 for tests, which can be stopped and started again.

It keeps runs in a SQLite database and artifacts in a local folder, both under the
folder it is given, so that a restarted server on the same port serves the same runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class MlflowServer:
    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = folder / "server.log"
        self._process: subprocess.Popen | None = None

    def start(self, timeout_s: float = 90) -> MlflowServer:
        """Start ``mlflow server`` and wait until ``/health`` returns status 200."""
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--backend-store-uri", f"sqlite:///{self.folder / 'mlflow.db'}",
            "--artifacts-destination", str(self.folder / "artifacts"),
        ]
        env = {key: value for key, value in os.environ.items() if not key.startswith(("MLFLOW_", "DVC_"))}
        with open(self.log_path, "a") as log:
            # A session of its own, so that stopping its process group stops its workers too.
            self._process = subprocess.Popen(
                command, cwd=self.folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while not self._answers_health():
            if self._process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with status {self._process.returncode}:\n{self.log_path.read_text()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"mlflow server did not answer /health within {timeout_s} s:\n{self.log_path.read_text()}")
            time.sleep(0.3)
        return self

    def stop(self, crash: bool = False) -> None:
        """Stop the server and its workers and wait until they have exited; ``crash`` kills them at once (SIGKILL)."""
        if self._process is None or self._process.poll() is not None:
            return
        os.killpg(self._process.pid, signal.SIGKILL if crash else signal.SIGTERM)
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(timeout=30)

    def _answers_health(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def get(self, endpoint: str, **query: str) -> dict:
        """Send a GET request to the REST API, such as ``get("runs/get", run_id=...)``, and return the JSON reply."""
        url = f"{self.url}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            return json.loads(response.read())

    def post(self, endpoint: str, body: dict) -> dict:
        """Send a POST request with a JSON body to the REST API and return the JSON reply."""
        request = urllib.request.Request(
            f"{self.url}/api/2.0/mlflow/{endpoint}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())
