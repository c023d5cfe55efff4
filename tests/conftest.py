"""Fixtures shared by every test area: third-party vectors, OpenSSL, the local KMS endpoint."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools import PROJECT_ROOT, use_project_node
from devtools.local_endpoint import LocalKmsEndpoint
from devtools.openssl import OpenSsl
from kmsecdh import keys, log

# Before any CDK code is imported: the jsii kernel of this session, the CDK CLI and every app it starts run on
# the project's pinned Node (package.json), not on whatever Node the machine has.
use_project_node()

# The third-party vectors live in the repository (provenance and licenses: tests/vectors/README.md).
VECTORS_DIR = PROJECT_ROOT / "tests" / "vectors"
KEY_SPECS = tuple(keys.KEY_SPECS)


def secret_encodings(secret: bytes) -> set[str]:
    """The ways a secret would show up in a text log: hex (both cases), base64 and base64url."""
    b64 = base64.b64encode(secret).decode()
    urlsafe = base64.urlsafe_b64encode(secret).decode()
    return {secret.hex(), secret.hex().upper(), b64, b64.rstrip("="), urlsafe, urlsafe.rstrip("=")}


def leaked_secrets(text: str, secrets: list[bytes]) -> list[str]:
    """Which of ``secrets`` appear in ``text`` in any of those encodings, by index (never the values)."""
    return [
        f"secret #{index}"
        for index, secret in enumerate(secrets)
        if any(form in text for form in secret_encodings(secret))
    ]


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS_DIR


@pytest.fixture
def log_to_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invocation lines on the ``kmsecdh.invocation`` logger (the default) for one test, whatever an
    earlier test or the handler module set up (metrics off); the previous set-up comes back afterwards."""
    monkeypatch.setattr(log, "_write_line", log._to_logger)
    monkeypatch.setattr(log, "_function_name", None)


@pytest.fixture
def log_to_stdout(log_to_logger: None) -> None:
    """Invocation lines on stdout, as the Lambda entry point sets up, for one test only."""
    log.configure_logging()


@pytest.fixture(scope="session")
def synthesized_app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The app of cdk.json, synthesized once per session (``tests.infra.conftest.SynthesizedApp``); the CDK
    libraries are imported only by sessions that use it."""
    from tests.infra.conftest import synthesize_app

    return synthesize_app(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def openssl() -> OpenSsl:
    return OpenSsl()


@pytest.fixture(scope="session")
def local_kms() -> Iterator[LocalKmsEndpoint]:
    """The local KMS endpoint (localstack-core, KMS only) on a free loopback port, one per session."""
    with LocalKmsEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def local_kms_env(local_kms: LocalKmsEndpoint, monkeypatch: pytest.MonkeyPatch) -> LocalKmsEndpoint:
    """Point boto3 at the local KMS endpoint for one test (dummy credentials, us-east-1)."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_kms.client_environment().items():
        monkeypatch.setenv(name, value)
    return local_kms
