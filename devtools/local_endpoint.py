"""Run the local KMS endpoint (localstack-core, KMS only) for tests, the demo and benchmarks.

localstack-core implements DeriveSharedSecret without Docker or an account. It lives in its own
Python 3.13 virtualenv (``make setup`` builds ``.localstack-venv``), never in the project's.
This module only starts and stops that process; it imports nothing from localstack.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools import PROJECT_ROOT

DEFAULT_VENV = PROJECT_ROOT / ".localstack-venv"
READY_STATES = frozenset({"available", "running"})


class LocalEndpointError(RuntimeError):
    """The local KMS endpoint could not be started."""


def client_environment(url: str) -> dict[str, str]:
    """Environment variables that point boto3 at the local endpoint at ``url`` with dummy credentials."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalKmsEndpoint:
    """A localstack KMS process on a free loopback port; use as a context manager."""

    def __init__(self, venv: Path | None = None, startup_timeout: float = 60.0) -> None:
        self.venv = Path(venv or os.environ.get("KMSECDH_LOCALSTACK_VENV", DEFAULT_VENV))
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._root: str | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The endpoint's process id (it leads its own process group), or None when not running."""
        return None if self._process is None else self._process.pid

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point boto3 at this endpoint with dummy credentials."""
        return client_environment(self.url)

    def start(self) -> LocalKmsEndpoint:
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise LocalEndpointError(f"{python} not found: run `make setup` to build the local KMS endpoint")
        self.port = _free_loopback_port()
        self._root = tempfile.mkdtemp(prefix="kmsecdh-localstack-")
        self._log_path = Path(self._root) / "localstack.log"
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCALSTACK_")) and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
        }
        env.update(
            SERVICES="kms",
            GATEWAY_LISTEN=f"127.0.0.1:{self.port}",
            DISABLE_EVENTS="1",
            SKIP_SSL_CERT_DOWNLOAD="1",
            DNS_ADDRESS="0",
            EAGER_SERVICE_LOADING="1",
            FILESYSTEM_ROOT=self._root,
        )
        with open(self._log_path, "wb") as log:
            self._process = subprocess.Popen(
                [str(python), "-m", "localstack.runtime.main"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._root,
                start_new_session=True,
            )
        self._wait_until_ready()
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise LocalEndpointError(f"local KMS endpoint exited early; log: {self._log_tail()}")
            try:
                # S310: the URL is always http://127.0.0.1:<port>, built above.
                health = f"{self.url}/_localstack/health"
                with urllib.request.urlopen(health, timeout=1) as response:  # noqa: S310
                    services = json.load(response).get("services", {})
                if services.get("kms") in READY_STATES:
                    return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalEndpointError(f"local KMS endpoint not ready after {self.startup_timeout:.0f} s")

    def _log_tail(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> LocalKmsEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
