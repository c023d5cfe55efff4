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
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Self

from devtools import PROJECT_ROOT
from devtools.local_endpoint import LocalstackProcess

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
    # the audit heartbeat's AWS::Scheduler::Schedule (moto's Scheduler: stored, never run)
    "scheduler",
)
LOCK_PATH = Path(tempfile.gettempdir()) / "kmsecdh-deploy-local-endpoint.lock"


class EndpointError(RuntimeError):
    """The deploy endpoint could not be started."""


class DeployEndpoint(LocalstackProcess):
    """localstack-core with CloudFormation on a free loopback port; one per machine at a time."""

    name = "deploy endpoint"
    services = SERVICES
    error = EndpointError
    setup_hint = "run `make deploy-local-setup`"
    stop_timeout_seconds = 20.0
    poll_seconds = 0.3

    def __init__(self, venv: Path | None = None, startup_timeout: float = 120.0) -> None:
        super().__init__(
            Path(venv or os.environ.get("KMSECDH_LOCALSTACK_FULL_VENV", DEFAULT_VENV)), startup_timeout
        )
        self.waited_for_lock = 0.0
        self._lock: int | None = None

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

    def start(self) -> Self:
        python = self._python()
        self._acquire_lock()
        try:
            self._launch(python)
        except BaseException:
            self.stop()
            raise
        return self

    def _command(self, python: Path) -> list[str]:
        return [str(python), str(START_SCRIPT)]

    def _extra_environment(self, root: Path) -> dict[str, str]:
        # Its own temporary folder: see the module's docstring.
        tmp = root / "tmp"
        tmp.mkdir()
        return {"TMPDIR": str(tmp)}

    def _acquire_lock(self) -> None:
        self._lock = os.open(LOCK_PATH, os.O_RDWR | os.O_CREAT, 0o666)
        started = time.monotonic()
        with contextlib.suppress(BlockingIOError):
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        print(f"   (another deploy endpoint runs on this machine: waiting for {LOCK_PATH})", flush=True)
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self.waited_for_lock = time.monotonic() - started

    def stop(self) -> None:
        super().stop()
        if self._lock is not None:
            os.close(self._lock)  # releases the flock
            self._lock = None
