"""Fixtures of the command-line tests: run ``main`` in-process, KMS keys on the local endpoint, and the
derive function served in this process (``devtools.in_process_lambda``) to the command line's client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools.in_process_lambda import InProcessLambda
from devtools.openssl import OpenSsl
from kmsecdh import client, kms_calls
from kmsecdh.cli import main
from kmsecdh.configuration import Configuration, ConfiguredKey


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``kmsecdh ARGS`` in-process; every failure must be exactly one line on stderr."""

    def run(*args: object) -> CliResult:
        code = main([str(arg) for arg in args])
        captured = capsys.readouterr()
        if code != 0:
            assert len(captured.err.strip().splitlines()) == 1, captured.err
            assert "Traceback" not in captured.err
        return CliResult(code, captured.out, captured.err)

    return run


@dataclass(frozen=True)
class PeerKey:
    """An OpenSSL-made EC key pair on disk: private PEM, public DER and PEM."""

    key_spec: str
    private: Path
    public_der: Path
    public_pem: Path


@pytest.fixture
def make_peer_key(tmp_path: Path, openssl: OpenSsl) -> Callable[[str, str], PeerKey]:
    def make(name: str, key_spec: str = "ECC_NIST_P256") -> PeerKey:
        key = PeerKey(
            key_spec, tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.der", tmp_path / f"{name}.pub.pem"
        )
        openssl.genkey(key_spec, key.private)
        openssl.public_key(key.private, key.public_der, der=True)
        openssl.public_key(key.private, key.public_pem)
        return key

    return make


@dataclass(frozen=True)
class KmsKey:
    arn: str
    alias: str
    key_spec: str
    public_der: Path


@pytest.fixture
def make_kms_key(local_kms_env: Any, tmp_path: Path) -> Callable[[str], KmsKey]:
    """A new KEY_AGREEMENT key with a fresh alias on the local endpoint, its public key on disk."""

    def make(key_spec: str = "ECC_NIST_P256") -> KmsKey:
        kms = boto3.client("kms")
        arn = kms.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
        alias = f"alias/kmsecdh-test-{uuid.uuid4().hex[:12]}"
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
        public_der = tmp_path / f"{alias.rsplit('/', 1)[1]}.pub.der"
        public_der.write_bytes(kms.get_public_key(KeyId=arn)["PublicKey"])
        return KmsKey(arn, alias, key_spec, public_der)

    return make


@pytest.fixture
def derive_function(
    local_kms_env: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[KmsKey], InProcessLambda]]:
    """Configure the derive handler for ``key`` and serve the CLI's Lambda client in-process."""

    def configure(key: KmsKey) -> InProcessLambda:
        configuration = Configuration(
            keys=(ConfiguredKey(alias=key.alias, arn=key.arn, key_spec=key.key_spec),),
            default_alias=key.alias,
            allow_raw_secret=False,
        )
        for name, value in configuration.as_environment().items():
            monkeypatch.setenv(name, value)
        kms_calls.reset_kms_client()
        stand_in = InProcessLambda()
        monkeypatch.setattr(client, "lambda_client", lambda: stand_in)
        return stand_in

    yield configure
    kms_calls.reset_kms_client()
