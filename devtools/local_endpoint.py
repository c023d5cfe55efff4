"""Run the local KMS endpoint (localstack-core, KMS only) for tests, the demo and benchmarks.

localstack-core implements DeriveSharedSecret without Docker or an account. It lives in its own
Python 3.13 virtualenv (``make setup`` builds ``.localstack-venv``), never in the project's.
This module only starts and stops that process; it imports nothing from localstack.

``LocalstackProcess`` is the part every localstack-core process of the project shares (this KMS-only
endpoint and the CloudFormation-capable one of ``make deploy-local``): a free loopback port, its own
folder, the environment localstack needs on this machine, readiness polling and a stop by process group.
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
from typing import Self

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


class LocalstackProcess:
    """A localstack-core process of one virtualenv on a free loopback port; use as a context manager.

    Subclasses name it, its services and how it is run (``_command``, ``_extra_environment``); ``start``
    raises ``error`` when the virtualenv is missing or the services do not come up in time.
    """

    name = "local endpoint"
    services: tuple[str, ...] = ()
    error: type[RuntimeError] = RuntimeError
    setup_hint = "run `make setup`"
    stop_timeout_seconds = 10.0
    poll_seconds = 0.2

    def __init__(self, venv: Path, startup_timeout: float) -> None:
        self.venv = venv
        self.startup_timeout = startup_timeout
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._root: str | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The endpoint's process id (it leads its own process group), or None when not running."""
        return None if self._process is None else self._process.pid

    @property
    def log_path(self) -> Path | None:
        return None if self._root is None else Path(self._root) / "localstack.log"

    def log_tail(self, size: int = 2000) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_text(errors="replace")[-size:]

    def _command(self, python: Path) -> list[str]:
        return [str(python), "-m", "localstack.runtime.main"]

    def _extra_environment(self, root: Path) -> dict[str, str]:
        return {}

    def _python(self) -> Path:
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise self.error(f"{python} not found: {self.setup_hint} to build the {self.name}")
        return python

    def _launch(self, python: Path) -> None:
        self.port = _free_loopback_port()
        self._root = tempfile.mkdtemp(prefix=f"kmsecdh-{self.name.replace(' ', '-')}-")
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCALSTACK_")) and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
        }
        env.update(
            SERVICES=",".join(self.services),
            GATEWAY_LISTEN=f"127.0.0.1:{self.port}",
            DISABLE_EVENTS="1",
            SKIP_SSL_CERT_DOWNLOAD="1",
            DNS_ADDRESS="0",
            EAGER_SERVICE_LOADING="1",
            FILESYSTEM_ROOT=self._root,
            **self._extra_environment(Path(self._root)),
        )
        assert self.log_path is not None
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                self._command(python),
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._root,
                start_new_session=True,
            )
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise self.error(f"{self.name} exited early; log: {self.log_tail()}")
            try:
                # S310: the URL is always http://127.0.0.1:<port>, built above.
                health = f"{self.url}/_localstack/health"
                with urllib.request.urlopen(health, timeout=1) as response:  # noqa: S310
                    states = json.load(response).get("services", {})
                if all(states.get(service) in READY_STATES for service in self.services):
                    return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(self.poll_seconds)
        self.stop()
        raise self.error(f"{self.name} not ready after {self.startup_timeout:.0f} s; log: {self.log_tail()}")

    def start(self) -> Self:
        self._launch(self._python())
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_timeout_seconds)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class LocalKmsEndpoint(LocalstackProcess):
    """A localstack KMS process on a free loopback port; use as a context manager.

    ``also_s3`` serves S3 besides (versioning and conditional writes included), for the commands that keep
    their output in a bucket; the virtualenv's localstack-core serves S3 without further packages.
    """

    name = "local KMS endpoint"
    services = ("kms",)
    error = LocalEndpointError

    def __init__(
        self, venv: Path | None = None, startup_timeout: float = 60.0, *, also_s3: bool = False
    ) -> None:
        super().__init__(
            Path(venv or os.environ.get("KMSECDH_LOCALSTACK_VENV", DEFAULT_VENV)), startup_timeout
        )
        if also_s3:
            self.services = ("kms", "s3")

    def client_environment(self) -> dict[str, str]:
        """Environment variables that point boto3 at this endpoint with dummy credentials."""
        return client_environment(self.url)
