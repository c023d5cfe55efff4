"""The handler against the local KMS endpoint, with OpenSSL as the peer and as the reference KDF.

For each key spec: a KEY_AGREEMENT key and alias in the local KMS, a peer key from
``openssl ecparam -genkey``, and for each KDF id the handler's derived key must equal
``openssl pkeyutl -derive`` followed by ``openssl kdf`` with the same FixedInfo and salt.
"""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.local_endpoint import LocalKmsEndpoint
from devtools.openssl import OpenSsl
from kmsecdh import kdf
from kmsecdh.contract import ALLOW_RAW_SECRET_VARIABLE
from kmsecdh.errors import InvalidPublicKey, KeyNotAllowed
from kmsecdh.keys import curve_for, public_key_pem
from tests.conftest import KEY_SPECS

from .support import b64, configure, lambda_context

FIXED_INFO = kdf.fixed_info(b"kmsecdh-test-aes256", b"alice@example.com", b"bob@example.com")
BATCH_SIZE = 50


@dataclass(frozen=True)
class AgreementKey:
    alias: str
    arn: str
    key_id: str
    key_spec: str
    public_key_der: bytes


@dataclass(frozen=True)
class Peer:
    """A peer's OpenSSL key files: private key PEM, public key PEM and DER."""

    key_spec: str
    private_key: Path
    public_key_pem: Path
    public_key_der: Path

    def private_scalar(self) -> bytes:
        key = serialization.load_pem_private_key(self.private_key.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return key.private_numbers().private_value.to_bytes(curve_for(self.key_spec).field_size, "big")


@pytest.fixture(scope="module")
def local_kms_client(local_kms: LocalKmsEndpoint):
    return boto3.client(
        "kms",
        endpoint_url=local_kms.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def agreement_keys(local_kms_client) -> dict[str, AgreementKey]:
    keys = {}
    for key_spec in KEY_SPECS:
        metadata = local_kms_client.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
        alias = f"alias/kmsecdh-test-{key_spec.rsplit('_', 1)[1].lower()}"
        local_kms_client.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        public_key = local_kms_client.get_public_key(KeyId=metadata["Arn"])["PublicKey"]
        keys[key_spec] = AgreementKey(alias, metadata["Arn"], metadata["KeyId"], key_spec, public_key)
    return keys


@pytest.fixture(scope="module")
def peers(openssl: OpenSsl, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Peer]:
    directory = tmp_path_factory.mktemp("peers")
    result = {}
    for key_spec in KEY_SPECS:
        peer = Peer(
            key_spec,
            directory / f"{key_spec}.key.pem",
            directory / f"{key_spec}.pub.pem",
            directory / f"{key_spec}.pub.der",
        )
        openssl.genkey(key_spec, peer.private_key)
        openssl.public_key(peer.private_key, peer.public_key_pem)
        openssl.public_key(peer.private_key, peer.public_key_der, der=True)
        result[key_spec] = peer
    return result


@pytest.fixture
def function_env(local_kms_env, agreement_keys, monkeypatch, fresh_kms_client) -> dict[str, AgreementKey]:
    """The handler configured with the three local keys (P-256 by default), talking to the local KMS."""
    configure(
        monkeypatch,
        {key.alias: (key.arn, key.key_spec) for key in agreement_keys.values()},
        agreement_keys["ECC_NIST_P256"].alias,
    )
    return agreement_keys


def openssl_shared_secret(openssl: OpenSsl, peer: Peer, key: AgreementKey, tmp_path: Path) -> bytes:
    """Z on the peer's side: ``openssl pkeyutl -derive`` with the KMS key's public key as the peer key."""
    kms_public_key = tmp_path / f"{key.key_spec}.kms.der"
    kms_public_key.write_bytes(key.public_key_der)
    return openssl.derive(peer.private_key, kms_public_key)


@pytest.mark.parametrize("algorithm", sorted(kdf.ALGORITHMS))
@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_derived_key_equals_openssl(
    derive_handler, function_env, peers, openssl, tmp_path, watch_secret, key_spec, algorithm
):
    key, peer = function_env[key_spec], peers[key_spec]
    length = 48 if key_spec == "ECC_NIST_P384" else 32
    salt = os.urandom(32) if kdf.get_algorithm(algorithm).takes_salt else None
    shared_secret = openssl_shared_secret(openssl, peer, key, tmp_path)
    expected = openssl.kdf(
        shared_secret, algorithm=algorithm, length=length, fixed_info=FIXED_INFO, salt=salt
    )
    for secret in (shared_secret, expected, peer.private_scalar()):
        watch_secret(secret)
    # The peer sends its public key as PEM for the one-step ids and as base64 DER for HKDF.
    peer_text = peer.public_key_pem.read_text() if salt is None else b64(peer.public_key_der.read_bytes())
    request_kdf = {"algorithm": algorithm, "length": length, "fixed_info": b64(FIXED_INFO)}
    if salt is not None:
        request_kdf["salt"] = b64(salt)
    event = {"action": "derive", "key_id": key.alias, "peer_public_key": peer_text, "kdf": request_kdf}

    response = derive_handler(event, lambda_context())

    assert response == {
        "key_id": key.arn,
        "key_spec": key_spec,
        "kdf": {"algorithm": algorithm, "length": length},
        "derived_key": b64(expected),
    }


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_public_key_action_equals_get_public_key(derive_handler, function_env, local_kms_client, key_spec):
    key = function_env[key_spec]
    kms_public_key = local_kms_client.get_public_key(KeyId=key.key_id)["PublicKey"]
    response = derive_handler({"action": "public_key", "key_id": key.alias}, None)
    assert response["key_id"] == key.arn
    assert response["key_spec"] == key_spec
    assert base64.b64decode(response["public_key_der"]) == kms_public_key
    loaded = serialization.load_der_public_key(kms_public_key)
    assert isinstance(loaded, ec.EllipticCurvePublicKey)
    assert response["public_key_pem"] == public_key_pem(loaded)


@pytest.mark.parametrize("form", ["alias name", "alias ARN", "key id", "key ARN", "default"])
def test_key_id_forms(derive_handler, function_env, peers, form):
    key = function_env["ECC_NIST_P256"]
    key_ids = {
        "alias name": key.alias,
        "alias ARN": key.arn.rsplit(":", 1)[0] + ":" + key.alias,
        "key id": key.key_id,
        "key ARN": key.arn,
    }
    event = {"action": "derive", "peer_public_key": peers["ECC_NIST_P256"].public_key_pem.read_text()}
    if form in key_ids:
        event["key_id"] = key_ids[form]
    assert derive_handler(event, None)["key_id"] == key.arn


def test_key_in_kms_but_not_configured_is_not_allowed(derive_handler, function_env, local_kms_client, peers):
    other = local_kms_client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
    for key_id in (other["KeyId"], other["Arn"]):
        event = {
            "action": "derive",
            "key_id": key_id,
            "peer_public_key": peers["ECC_NIST_P256"].public_key_pem.read_text(),
        }
        with pytest.raises(KeyNotAllowed):
            derive_handler(event, None)


def test_peer_on_another_curve_is_rejected_before_kms(derive_handler, function_env, peers):
    event = {"action": "derive", "peer_public_key": peers["ECC_NIST_P384"].public_key_pem.read_text()}
    with pytest.raises(InvalidPublicKey, match="curve"):
        derive_handler(event, None)


def test_raw_shared_secret_only_when_allowed(
    derive_handler, function_env, peers, openssl, tmp_path, monkeypatch, watch_secret
):
    key, peer = function_env["ECC_NIST_P521"], peers["ECC_NIST_P521"]
    shared_secret = openssl_shared_secret(openssl, peer, key, tmp_path)
    watch_secret(shared_secret)
    event = {
        "action": "derive",
        "key_id": key.alias,
        "peer_public_key": peer.public_key_pem.read_text(),
        "output": "shared_secret",
    }
    monkeypatch.setenv(ALLOW_RAW_SECRET_VARIABLE, "true")
    response = derive_handler(event, None)
    assert response == {"key_id": key.arn, "key_spec": key.key_spec, "shared_secret": b64(shared_secret)}


def test_batch_of_50_equals_50_single_derives(derive_handler, function_env, watch_secret, captured_logs):
    peer_keys = [
        public_key_pem(ec.generate_private_key(ec.SECP384R1()).public_key()) for _ in range(BATCH_SIZE)
    ]
    request = {
        "action": "derive",
        "key_id": function_env["ECC_NIST_P384"].alias,
        "kdf": {"algorithm": "hkdf-sha384", "fixed_info": b64(FIXED_INFO), "salt": b64(b"batch")},
    }

    batch = derive_handler({**request, "peer_public_keys": peer_keys}, lambda_context("batch"))
    singles = [derive_handler({**request, "peer_public_key": peer}, None) for peer in peer_keys]

    derived = [single["derived_key"] for single in singles]
    for value in derived:
        watch_secret(base64.b64decode(value))
    assert batch["results"] == [{"derived_key": value} for value in derived]
    assert len(set(derived)) == BATCH_SIZE
    assert {k: v for k, v in batch.items() if k != "results"} == {
        k: v for k, v in singles[0].items() if k != "derived_key"
    }
    batch_line = captured_logs.invocation_lines()[0]
    assert (batch_line["request_id"], batch_line["peers"], batch_line["outcome"]) == (
        "batch",
        BATCH_SIZE,
        "success",
    )
    assert len(captured_logs.invocation_lines()) == 1 + BATCH_SIZE


def test_one_invocation_logs_one_json_line(derive_handler, function_env, peers, captured_logs):
    key, peer = function_env["ECC_NIST_P256"], peers["ECC_NIST_P256"]
    event = {
        "action": "derive",
        "peer_public_key": peer.public_key_pem.read_text(),
        "kdf": {"fixed_info": b64(FIXED_INFO)},
    }
    derive_handler(event, lambda_context("req-42"))
    [line] = captured_logs.invocation_lines()
    assert set(line) == {
        "level",
        "message",
        "request_id",
        "action",
        "key_arn",
        "peers",
        "peer_key_sha256",
        "fixed_info_sha256",
        "outcome",
        "error_code",
        "peer_error_codes",
        "duration_ms",
    }
    assert (line["request_id"], line["action"], line["key_arn"], line["peers"]) == (
        "req-42",
        "derive",
        key.arn,
        1,
    )
    assert (line["outcome"], line["error_code"], line["level"]) == ("success", None, "INFO")
    # Which peer was served: `openssl pkey -pubin -outform DER | openssl dgst -sha256`, whatever its form.
    assert line["peer_key_sha256"] == [hashlib.sha256(peer.public_key_der.read_bytes()).hexdigest()]
    assert line["fixed_info_sha256"] == hashlib.sha256(FIXED_INFO).hexdigest()
    assert line["duration_ms"] >= 0
    # The handler module sends the line to stdout as bare JSON for CloudWatch Logs.
    assert captured_logs.output().count('"request_id":"req-42"') == 1
