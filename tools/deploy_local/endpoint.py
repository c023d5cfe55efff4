"""The CloudFormation-capable local AWS endpoint of `make deploy-local`, as a context manager.

It runs `start_endpoint.py` under `.localstack-full-venv`'s Python on a free loopback port, waits for
every service it needs, and stops it by its process group.

Other localstack instances on this machine (the session KMS endpoint of the tests, another worktree's
run): localstack believes it runs in a container here (the machine has `/.dockerenv`), so it ignores
`FILESYSTEM_ROOT` for its temporary and state folders and uses `<tempfile.gettempdir()>/localstack`,
which it deletes when it stops. That folder holds this endpoint's CloudWatch database: a KMS-only
instance stopping meanwhile would delete it. So this endpoint gets its own `TMPDIR` (localstack
reads the folder through `tempfile`, and warns that TMPDIR is deprecated: only the name, the variable
still works). What stays shared is `/var/lib/localstack` (caches) and S3's object store, hard-coded at
`/tmp/localstack-s3-storage` and keyed by bucket name, which every deploy endpoint would use for the
same bootstrap bucket names: a machine-wide lock lets only one deploy endpoint run at a time (a
second one waits). A KMS-only instance does not load S3, so it may run alongside.
"""

from __future__ import annotations

import contextlib
import fcntl
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

DEFAULT_VENV = PROJECT_ROOT / ".localstack-full-venv"
START_SCRIPT = Path(__file__).resolve().parent / "start_endpoint.py"
SERVICES = (
    "cloudformation",
    "kms",
    "iam",
    "sts",
    "ssm",
    "s3",
    "logs",
    "sns",
    "cloudwatch",
    "lambda",
    "ec2",
    "events",
)
READY_STATES = frozenset({"available", "running"})
LOCK_PATH = Path(tempfile.gettempdir()) / "kmsecdh-deploy-local-endpoint.lock"


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EndpointError(RuntimeError):
    """The deploy endpoint could not be started."""


class DeployEndpoint:
    """localstack-core with CloudFormation on a free loopback port; one per machine at a time."""

    def __init__(self, venv: Path | None = None, startup_timeout: float = 120.0) -> None:
        self.venv = Path(venv or os.environ.get("KMSECDH_LOCALSTACK_FULL_VENV", DEFAULT_VENV))
        self.startup_timeout = startup_timeout
        self.port = 0
        self.waited_for_lock = 0.0
        self._process: subprocess.Popen[bytes] | None = None
        self._root: str | None = None
        self._lock: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path | None:
        return None if self._root is None else Path(self._root) / "localstack.log"

    def version(self) -> str:
        with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=2) as response:  # noqa: S310
            return json.load(response).get("version", "?")

    def client_environment(self, account: str, region: str) -> dict[str, str]:
        """boto3 / CDK CLI settings for this endpoint: the 12-digit access key id is the account."""
        return {
            "AWS_ENDPOINT_URL": self.url,
            "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def start(self) -> DeployEndpoint:
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise EndpointError(
                f"{python} not found: run `make deploy-local-setup` to build the deploy endpoint"
            )
        self._acquire_lock()
        try:
            self._start(python)
        except BaseException:
            self.stop()
            raise
        return self

    def _acquire_lock(self) -> None:
        self._lock = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        started = time.monotonic()
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        print(f"   (another deploy endpoint runs on this machine: waiting for {LOCK_PATH})", flush=True)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.waited_for_lock = time.monotonic() - started

    def _start(self, python: Path) -> None:
        self.port = _free_loopback_port()
        self._root = tempfile.mkdtemp(prefix="kmsecdh-deploy-endpoint-")
        tmp = Path(self._root) / "tmp"
        tmp.mkdir()
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AWS_", "LOCALSTACK_")) and key not in {"PYTHONPATH", "VIRTUAL_ENV"}
        }
        env.update(
            SERVICES=",".join(SERVICES),
            GATEWAY_LISTEN=f"127.0.0.1:{self.port}",
            DISABLE_EVENTS="1",
            SKIP_SSL_CERT_DOWNLOAD="1",
            DNS_ADDRESS="0",
            EAGER_SERVICE_LOADING="1",
            FILESYSTEM_ROOT=self._root,
            TMPDIR=str(tmp),
        )
        assert self.log_path is not None
        with open(self.log_path, "wb") as log:
            self._process = subprocess.Popen(
                [str(python), str(START_SCRIPT)],
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
                raise EndpointError(f"deploy endpoint exited early; log: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_localstack/health", timeout=1) as response:  # noqa: S310
                    services = json.load(response).get("services", {})
                if all(services.get(name) in READY_STATES for name in SERVICES):
                    return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.3)
        raise EndpointError(
            f"deploy endpoint not ready after {self.startup_timeout:.0f} s; log: {self.log_tail()}"
        )

    def log_tail(self, size: int = 3000) -> str:
        path = self.log_path
        if path is None or not path.exists():
            return ""
        return path.read_text(errors="replace")[-size:]

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None

    def __enter__(self) -> DeployEndpoint:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
