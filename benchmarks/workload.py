"""The derive workload shared by the in-process figures: configuration, peer keys and events."""

from __future__ import annotations

import base64
import importlib.util
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType
from unittest import mock

from cryptography.hazmat.primitives.asymmetric import ec

from benchmarks import PROJECT_ROOT
from kmsecdh import keys
from kmsecdh.configuration import Configuration, ConfiguredKey
from kmsecdh.keys import KEY_SPECS

HANDLER_FILE = PROJECT_ROOT / "lambda" / "derive" / "handler.py"
KEY_SPEC = "ECC_NIST_P256"
KEY_ALIAS = "alias/kmsecdh-bench-p256"
KDF_ALGORITHM = "onestep-sha256"
KDF_LENGTH = 32
FIXED_INFO = b"\x00\x00\x00\x07kmsecdh\x00\x00\x00\x05alice\x00\x00\x00\x03bob"
STAND_IN_KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000"
SHARED_SECRET = bytes(range(32))
FUNCTION_NAME = "kmsecdh-bench"


class StandInKms:
    """Stands in for the boto3 KMS client: DeriveSharedSecret returns a fixed Z after ``latency_s``."""

    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.calls = 0

    def derive_shared_secret(self, **_request: object) -> dict[str, object]:
        self.calls += 1
        if self.latency_s:
            time.sleep(self.latency_s)
        return {
            "KeyId": STAND_IN_KEY_ARN,
            "SharedSecret": SHARED_SECRET,
            "KeyAgreementAlgorithm": "ECDH",
            "KeyOrigin": "AWS_KMS",
        }

    @contextmanager
    def installed(self) -> Iterator[StandInKms]:
        """Make the service use this client: it looks its client up through kms_client() per call."""

        def stand_in_client() -> StandInKms:
            return self

        with mock.patch("kmsecdh.kms_calls.kms_client", new=stand_in_client):
            yield self


def function_environment(key_arn: str) -> dict[str, str]:
    """The derive function's configuration (docs/contract.md) with one P-256 key, and the function name
    Lambda sets in every execution environment (the handler's metrics are named after it)."""
    return {
        **Configuration(
            keys=(ConfiguredKey(alias=KEY_ALIAS, arn=key_arn, key_spec=KEY_SPEC),),
            default_alias=KEY_ALIAS,
            allow_raw_secret=False,
        ).as_environment(),
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
    }


def peer_public_key_der() -> bytes:
    """A fresh P-256 peer public key as DER SubjectPublicKeyInfo."""
    return keys.public_key_der(ec.generate_private_key(KEY_SPECS[KEY_SPEC].curve()).public_key())


def derive_event(peers: list[bytes]) -> dict[str, object]:
    """A ``derive`` request: ``peer_public_key`` for one peer, ``peer_public_keys`` for several."""
    encoded = [base64.b64encode(der).decode("ascii") for der in peers]
    event: dict[str, object] = {
        "action": "derive",
        "key_id": KEY_ALIAS,
        "kdf": {
            "algorithm": KDF_ALGORITHM,
            "length": KDF_LENGTH,
            "fixed_info": base64.b64encode(FIXED_INFO).decode("ascii"),
        },
    }
    if len(encoded) == 1:
        event["peer_public_key"] = encoded[0]
    else:
        event["peer_public_keys"] = encoded
    return event


def load_handler() -> ModuleType:
    """The Lambda entry module ``lambda/derive/handler.py``, loaded by path as a fresh module."""
    spec = importlib.util.spec_from_file_location("derive_handler", HANDLER_FILE)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {HANDLER_FILE}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextmanager
def quiet_stdio() -> Iterator[None]:
    """Send fds 1 and 2 to /dev/null: the log line is still formatted and written, just not shown."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)
