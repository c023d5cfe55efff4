"""Z and derived keys never reach the function's log, at any log level or format Lambda offers.

The derive handler runs under awslambdaric, the managed Python runtime's own client, in a child process
(``tests/runtime_emulator.py``), so logging is set up exactly as Lambda does it: with the JSON log format
the runtime sets the root logger to ``AWS_LAMBDA_LOG_LEVEL`` (TRACE becomes DEBUG), and with the text
format it does so too when the variable is set. Every curve and KDF id, a batch and the raw-secret
output go through the local KMS endpoint; the function's whole output (stdout and stderr) must hold
neither Z nor a derived key, in hex, base64 or base64url, nor the session token botocore signs with.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.local_endpoint import LocalKmsEndpoint
from kmsecdh import kdf, log
from kmsecdh.configuration import Configuration, ConfiguredKey
from kmsecdh.encoding import b64encode
from kmsecdh.keys import curve_for, public_key_der, public_key_pem
from tests.conftest import KEY_SPECS, leaked_secrets
from tests.emf import dimension_values, emf_metrics
from tests.runtime_emulator import FUNCTION_NAME, LambdaEmulator

FIXED_INFO = kdf.fixed_info(b"A256GCM", b"alice", b"bob")
SALT = b"kmsecdh-runtime-test-salt"
BATCH_PEERS = 3


@dataclass(frozen=True)
class KmsKey:
    alias: str
    arn: str
    key_spec: str
    public_key: ec.EllipticCurvePublicKey


@pytest.fixture(scope="module")
def kms_keys(local_kms: LocalKmsEndpoint) -> dict[str, KmsKey]:
    client = boto3.client("kms", endpoint_url=local_kms.url, **_dummy_credentials())
    keys = {}
    for key_spec in KEY_SPECS:
        arn = client.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
        alias = f"alias/kmsecdh-runtime-{secrets.token_hex(4)}"
        client.create_alias(AliasName=alias, TargetKeyId=arn)
        der = client.get_public_key(KeyId=arn)["PublicKey"]
        public_key = ec.EllipticCurvePublicKey.from_encoded_point(
            curve_for(key_spec).curve(), _uncompressed_point(der, key_spec)
        )
        keys[key_spec] = KmsKey(alias, arn, key_spec, public_key)
    return keys


def _uncompressed_point(der: bytes, key_spec: str) -> bytes:
    return der[-(1 + 2 * curve_for(key_spec).field_size) :]


def _dummy_credentials() -> dict[str, str]:
    return {"region_name": "us-east-1", "aws_access_key_id": "test", "aws_secret_access_key": "test"}


def _function_environment(
    local_kms: LocalKmsEndpoint, kms_keys: dict[str, KmsKey], session_token: str, log_settings: dict[str, str]
) -> dict[str, str]:
    configuration = Configuration(
        keys=tuple(ConfiguredKey(key.alias, key.arn, key.key_spec) for key in kms_keys.values()),
        default_alias=kms_keys["ECC_NIST_P256"].alias,
        allow_raw_secret=True,
    )
    return {
        **local_kms.client_environment(),
        "AWS_SESSION_TOKEN": session_token,
        **configuration.as_environment(),
        **log_settings,
    }


class Exchange:
    """Requests for the function and what the peer computes on its side, with every secret involved."""

    def __init__(self) -> None:
        self.secrets: list[bytes] = []

    def derive(self, key: KmsKey, algorithm: str, *, peers: int | None = None) -> tuple[dict, dict]:
        """A derive event (a batch when ``peers`` is given) and the response the peer side expects."""
        private_keys = [ec.generate_private_key(curve_for(key.key_spec).curve()) for _ in range(peers or 1)]
        salt = SALT if kdf.get_algorithm(algorithm).takes_salt else None
        request_kdf = {"algorithm": algorithm, "length": 32, "fixed_info": b64encode(FIXED_INFO)}
        if salt is not None:
            request_kdf["salt"] = b64encode(salt)
        derived = []
        for private_key in private_keys:
            shared_secret = private_key.exchange(ec.ECDH(), key.public_key)
            key_bytes = kdf.derive_key(
                shared_secret, algorithm=algorithm, length=32, fixed_info=FIXED_INFO, salt=salt
            )
            self.secrets += [shared_secret, key_bytes]
            derived.append(b64encode(key_bytes))
        peer_keys = [public_key_pem(private_key.public_key()) for private_key in private_keys]
        event: dict = {"action": "derive", "key_id": key.alias, "kdf": request_kdf}
        expected: dict = {
            "key_id": key.arn,
            "key_spec": key.key_spec,
            "kdf": {"algorithm": algorithm, "length": 32},
        }
        if peers is None:
            event["peer_public_key"] = peer_keys[0]
            expected["derived_key"] = derived[0]
        else:
            event["peer_public_keys"] = peer_keys
            expected["results"] = [{"derived_key": value} for value in derived]
        return event, expected

    def raw_secret(self, key: KmsKey) -> tuple[dict, dict]:
        private_key = ec.generate_private_key(curve_for(key.key_spec).curve())
        shared_secret = private_key.exchange(ec.ECDH(), key.public_key)
        self.secrets.append(shared_secret)
        event = {
            "action": "derive",
            "key_id": key.alias,
            "peer_public_key": b64encode(public_key_der(private_key.public_key())),
            "output": "shared_secret",
        }
        return event, {"key_id": key.arn, "key_spec": key.key_spec, "shared_secret": b64encode(shared_secret)}


FULL_SETTINGS = [
    pytest.param({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, id="json-debug"),
    pytest.param({"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "TRACE"}, id="json-trace"),
    pytest.param({"AWS_LAMBDA_LOG_FORMAT": "Text", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}, id="text-debug"),
]


@pytest.mark.parametrize("log_settings", FULL_SETTINGS)
def test_no_secret_reaches_the_function_log_at_debug(
    local_kms: LocalKmsEndpoint, kms_keys: dict[str, KmsKey], tmp_path: Path, log_settings: dict[str, str]
) -> None:
    session_token = f"kmsecdh-session-token-{secrets.token_hex(16)}"
    exchange = Exchange()
    calls = [
        exchange.derive(key, algorithm) for key in kms_keys.values() for algorithm in sorted(kdf.ALGORITHMS)
    ]
    calls += [exchange.derive(key, "hkdf-sha256", peers=BATCH_PEERS) for key in kms_keys.values()]
    calls += [exchange.raw_secret(key) for key in kms_keys.values()]
    environment = _function_environment(local_kms, kms_keys, session_token, log_settings)

    with LambdaEmulator(environment, tmp_path / "function.log") as function:
        results = [function.invoke(event) for event, _ in calls]
        output = function.output()

    for (_, expected), result in zip(calls, results, strict=True):
        assert result.function_error is None, result.payload
        assert result.payload == expected
    # The level took effect: botocore's other DEBUG records are in the log (an operator debugging
    # connectivity still sees them), and so is each invocation's line.
    assert "Event before-parameter-build.kms.DeriveSharedSecret" in output, output[-2000:]
    assert output.count(log.MESSAGE) == len(calls)
    # Each line carries its metrics (EMF); their dimensions name the function, curves and KDFs, nothing else.
    lines = [json.loads(text) for text in output.splitlines() if log.MESSAGE in text]
    assert all(emf_metrics(line) for line in lines)
    allowed = {FUNCTION_NAME, *KEY_SPECS, *kdf.ALGORITHMS, log.NO_KDF}
    assert set().union(*(dimension_values(line) for line in lines)) <= allowed
    leaked = leaked_secrets(output, exchange.secrets)
    assert not leaked, "a shared secret or derived key reached the function log"
    assert session_token not in output, "botocore's canonical request (with the session token) was logged"


def test_the_invocation_line_names_each_peer_by_fingerprint_under_the_runtime(
    local_kms: LocalKmsEndpoint, kms_keys: dict[str, KmsKey], tmp_path: Path
) -> None:
    exchange = Exchange()
    event, _ = exchange.derive(kms_keys["ECC_NIST_P384"], "onestep-sha384", peers=2)
    environment = _function_environment(
        local_kms, kms_keys, "token", {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"}
    )
    with LambdaEmulator(environment, tmp_path / "function.log") as function:
        function.invoke(event)
        output = function.output()

    [line] = [json.loads(text) for text in output.splitlines() if log.MESSAGE in text]
    peer_ders = [_der_of_pem(pem) for pem in event["peer_public_keys"]]
    assert line["peer_key_sha256"] == [log.sha256_hex(der) for der in peer_ders]
    assert line["fixed_info_sha256"] == log.sha256_hex(FIXED_INFO)
    assert line["level"] == "INFO"
    assert '"level": "DEBUG"' not in output, "at INFO the runtime writes no DEBUG record"


def _der_of_pem(pem: str) -> bytes:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return public_key_der(key)
