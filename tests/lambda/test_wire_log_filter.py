"""The filter that keeps botocore's request and response contents out of every log (kmsecdh.log).

The other tests of this folder prove that no secret is logged with every logger at DEBUG. These prove
that the capture could have seen one (without the filter, Z is in botocore's DEBUG records), and that
the filter holds however a program configures logging once it has imported ``kmsecdh``.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools import PROJECT_ROOT
from kmsecdh import log
from kmsecdh.keys import public_key_pem
from tests.conftest import leaked_secrets

from .support import configure


@pytest.fixture
def p256_key(local_kms_env, monkeypatch, fresh_kms_client) -> ec.EllipticCurvePublicKey:
    """A P-256 key on the local endpoint, configured as the function's only key; its public key."""
    kms = boto3.client("kms")
    arn = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
    configure(monkeypatch, {"alias/kmsecdh-filter-test": (arn, "ECC_NIST_P256")}, "alias/kmsecdh-filter-test")
    public_key = serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    return public_key


def _raw_derive(derive_handler, monkeypatch, kms_public_key) -> bytes:
    """Derive once with output shared_secret; returns Z as the peer computes it."""
    peer = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setenv("KMSECDH_ALLOW_RAW_SECRET", "true")
    event = {
        "action": "derive",
        "peer_public_key": public_key_pem(peer.public_key()),
        "output": "shared_secret",
    }
    response = derive_handler(event, None)
    shared_secret = peer.exchange(ec.ECDH(), kms_public_key)
    assert base64.b64decode(response["shared_secret"]) == shared_secret
    return shared_secret


def test_without_the_filter_z_would_reach_a_debug_log(derive_handler, p256_key, captured_logs, monkeypatch):
    for name in log.AWS_WIRE_LOGGERS:
        monkeypatch.setattr(logging.getLogger(name), "filters", [])
    shared_secret = _raw_derive(derive_handler, monkeypatch, p256_key)
    text = captured_logs.text()
    assert "Response body" in text
    assert leaked_secrets(text, [shared_secret]), "the capture would not see a leak"


def test_with_the_filter_z_stays_out_of_a_debug_log(
    derive_handler, p256_key, captured_logs, monkeypatch, watch_secret
):
    watch_secret(_raw_derive(derive_handler, monkeypatch, p256_key))
    text = captured_logs.text()
    assert "Response body" not in text
    assert "Event before-parameter-build.kms.DeriveSharedSecret" in text, "other DEBUG records still flow"


_PROGRAM = textwrap.dedent(
    """
    import base64, json, logging.config, sys
    import kmsecdh.kdf  # any module of the package installs the filter
    from kmsecdh import service

    # A program's own logging set-up after the import: every handler to stdout, botocore's wire loggers
    # named explicitly at DEBUG, the root at DEBUG, existing loggers kept.
    logging.config.dictConfig({
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"out": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"}},
        "loggers": {name: {"level": "DEBUG", "handlers": ["out"]} for name in %(wire)r},
        "root": {"level": "DEBUG", "handlers": ["out"]},
    })
    logging.basicConfig(level=logging.DEBUG, force=False)
    event = json.loads(sys.argv[1])
    with open(sys.argv[2], "w") as result:
        json.dump(service.handle_invocation(event), result)
    """
)


def test_the_filter_holds_under_a_programs_own_logging_configuration(p256_key, local_kms_env, tmp_path: Path):
    peer = ec.generate_private_key(ec.SECP256R1())
    event = {
        "action": "derive",
        "peer_public_key": public_key_pem(peer.public_key()),
        "output": "shared_secret",
    }
    program = _PROGRAM % {"wire": list(log.AWS_WIRE_LOGGERS)}
    result_path = tmp_path / "result.json"
    completed = subprocess.run(
        [sys.executable, "-c", program, json.dumps(event), str(result_path)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env={**os.environ, "KMSECDH_ALLOW_RAW_SECRET": "true"},
        timeout=120,
        check=True,
    )
    output = completed.stdout + completed.stderr
    shared_secret = peer.exchange(ec.ECDH(), p256_key)
    result = json.loads(result_path.read_text())
    assert base64.b64decode(result["shared_secret"]) == shared_secret
    assert "Event before-parameter-build.kms.DeriveSharedSecret" in output, "DEBUG records are written"
    leaked = leaked_secrets(output, [shared_secret])
    assert not leaked, "Z reached a log the program configured itself"
