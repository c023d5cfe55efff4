"""Fixtures of the derive Lambda tests: the handler, its configuration, a counted KMS client, log capture.

Every test here runs under ``captured_logs``, with the root logger and botocore's, boto3's and
urllib3's loggers at DEBUG (as an operator may set them: Lambda's JSON log format puts the root
logger at the function's application log level): whatever the test registers with ``watch_secret``
(shared secrets, derived keys, private keys) must not appear, in hex, base64 or base64url, in any log
record (formatted, exception text included) or in stdout/stderr captured during the test.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest
from botocore.stub import Stubber

from devtools import PROJECT_ROOT
from kmsecdh import kms_calls, log
from kmsecdh.log import LOGGER_NAME
from tests.conftest import leaked_secrets

from .support import FAKE_P256_ALIAS, FAKE_P256_ARN, configure

# Put at DEBUG for every test here: the root logger and the AWS client libraries' own loggers.
DEBUG_LOGGERS = ("", "botocore", "boto3", "urllib3")
HANDLER_PATH = PROJECT_ROOT / "lambda" / "derive" / "handler.py"


@pytest.fixture(scope="session")
def derive_handler() -> Callable[..., dict[str, Any]]:
    """``handler`` of lambda/derive/handler.py, loaded by path (a fresh module, as in a new container)."""
    spec = importlib.util.spec_from_file_location("kmsecdh_derive_handler", HANDLER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


# --- log capture and hygiene ---------------------------------------------------------------------


class _Collector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class CapturedLogs:
    """Log records and stdout/stderr of one test (from the kmsecdh loggers and the root logger)."""

    collector: _Collector
    capsys: pytest.CaptureFixture[str]
    secrets: list[bytes] = field(default_factory=list)
    _output: list[str] = field(default_factory=list)

    def invocation_lines(self) -> list[dict[str, Any]]:
        """The invocation log lines written to stdout so far (where the function writes them)."""
        lines = [json.loads(line) for line in self.output().splitlines() if line.startswith("{")]
        return [line for line in lines if line.get("message") == log.MESSAGE]

    def output(self) -> str:
        """Everything written to stdout and stderr during the test so far."""
        out, err = self.capsys.readouterr()
        self._output.extend((out, err))
        return "".join(self._output)

    def text(self) -> str:
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        return "\n".join([*(formatter.format(record) for record in self.collector.records), self.output()])


@pytest.fixture(autouse=True)
def captured_logs(capsys: pytest.CaptureFixture[str], log_to_stdout: None) -> Iterator[CapturedLogs]:
    # Lines on stdout as in the deployed function, whether or not lambda/derive/handler.py was loaded yet.
    collector = _Collector()
    loggers = [logging.getLogger(), logging.getLogger("kmsecdh"), logging.getLogger(LOGGER_NAME)]
    for logger in loggers:
        logger.addHandler(collector)
    debug_loggers = [logging.getLogger(name) for name in DEBUG_LOGGERS]
    saved_levels = [logger.level for logger in debug_loggers]
    for logger in debug_loggers:
        logger.setLevel(logging.DEBUG)
    logs = CapturedLogs(collector, capsys)
    try:
        yield logs
    finally:
        for logger in loggers:
            logger.removeHandler(collector)
        for logger, level in zip(debug_loggers, saved_levels, strict=True):
            logger.setLevel(level)
    leaked = leaked_secrets(logs.text(), logs.secrets)
    assert not leaked, "a secret appeared in the captured logs or output"


@pytest.fixture
def watch_secret(captured_logs: CapturedLogs) -> Callable[[bytes], None]:
    """Register bytes that must never be logged during this test."""
    return captured_logs.secrets.append


# --- configuration and KMS clients ---------------------------------------------------------------


@pytest.fixture
def fresh_kms_client() -> Iterator[None]:
    """A KMS client built from this test's environment, forgotten afterwards."""
    kms_calls.reset_kms_client()
    yield
    kms_calls.reset_kms_client()


@pytest.fixture
def offline_env(monkeypatch: pytest.MonkeyPatch, fresh_kms_client: None) -> None:
    """Dummy credentials, a region and an endpoint nothing listens on: no test call can reach AWS."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    configure(monkeypatch, {FAKE_P256_ALIAS: (FAKE_P256_ARN, "ECC_NIST_P256")}, FAKE_P256_ALIAS)


@dataclass
class CountedKms:
    """The service's KMS client under a botocore Stubber, counting every API call it is asked to make."""

    stubber: Stubber
    calls: list[str] = field(default_factory=list)


@pytest.fixture
def counted_kms(offline_env: None) -> Iterator[CountedKms]:
    client = kms_calls.kms_client()
    counted = CountedKms(Stubber(client))

    def count(model: Any, **_: Any) -> None:
        counted.calls.append(model.name)

    client.meta.events.register_first("before-parameter-build.kms", count)
    with counted.stubber:
        yield counted
