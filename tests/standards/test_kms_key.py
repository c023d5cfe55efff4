"""KmsPrivateKey: ECDH through DeriveSharedSecret on every curve, one GetPublicKey, refusals, KMS errors."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import (
    AccessDenied,
    DeriveError,
    InvalidPublicKey,
    KeyNotAllowed,
    KeyUnavailable,
    KmsThrottled,
    KmsUnavailable,
)
from kmsecdh.keys import curve_for, public_key_der
from kmsecdh.kms_key import KmsKeyOperationError, KmsPrivateKey

KEY_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
FAKE_ARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"


class CountingClient:
    """A KMS client that counts the calls made through it."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[str] = []

    def get_public_key(self, **kwargs: Any) -> Any:
        self.calls.append("GetPublicKey")
        return self.client.get_public_key(**kwargs)

    def derive_shared_secret(self, **kwargs: Any) -> Any:
        self.calls.append("DeriveSharedSecret")
        return self.client.derive_shared_secret(**kwargs)


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_exchange_is_derive_shared_secret(kms_key_holding, kms_client, key_spec: str) -> None:
    curve = curve_for(key_spec).curve()
    owner, peer = ec.generate_private_key(curve), ec.generate_private_key(curve)
    arn = kms_key_holding(owner).key_arn
    counting = CountingClient(kms_client)
    key = KmsPrivateKey(arn, counting)
    assert counting.calls == ["GetPublicKey"]
    assert key.public_key() == owner.public_key()
    assert key.curve.name == curve.name
    assert key.key_size == curve.key_size
    assert key.key_spec == key_spec
    for _ in range(2):
        assert key.exchange(ec.ECDH(), peer.public_key()) == owner.exchange(ec.ECDH(), peer.public_key())
        assert key.public_key() == owner.public_key()
    assert counting.calls == ["GetPublicKey", "DeriveSharedSecret", "DeriveSharedSecret"]


def test_key_by_alias_and_default_client(kms_client, local_kms_env) -> None:
    arn = kms_client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
    kms_client.create_alias(AliasName="alias/kmsecdh-kms-key-test", TargetKeyId=arn)
    key = KmsPrivateKey("alias/kmsecdh-kms-key-test")
    assert key.key_arn == arn
    assert repr(key) == f"KmsPrivateKey({arn!r}, ECC_NIST_P256)"


def test_operations_that_need_the_private_key_are_refused(new_kms_key) -> None:
    key = new_kms_key("ECC_NIST_P256")
    with pytest.raises(KmsKeyOperationError, match="signing is not possible"):
        key.sign(b"data", ec.ECDSA(hashes.SHA256()))
    with pytest.raises(KmsKeyOperationError, match="private numbers"):
        key.private_numbers()
    with pytest.raises(KmsKeyOperationError, match="serializing the private key"):
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    with pytest.raises(KmsKeyOperationError, match="pickling"):
        pickle.dumps(key)
    with pytest.raises(KmsKeyOperationError, match="ECDH only"):
        key.exchange("ECDH", ec.generate_private_key(ec.SECP256R1()).public_key())  # type: ignore[arg-type]
    assert copy.copy(key) is key
    assert copy.deepcopy(key) is key


def test_peer_on_another_curve_is_refused_before_kms(kms_client, new_kms_key) -> None:
    key = new_kms_key("ECC_NIST_P256")
    counting = CountingClient(kms_client)
    key = KmsPrivateKey(key.key_arn, counting)
    with pytest.raises(InvalidPublicKey, match="expected secp256r1"):
        key.exchange(ec.ECDH(), ec.generate_private_key(ec.SECP384R1()).public_key())
    with pytest.raises(InvalidPublicKey, match="elliptic-curve public key"):
        key.exchange(ec.ECDH(), b"not a key")  # type: ignore[arg-type]
    assert counting.calls == ["GetPublicKey"]


def test_not_a_key_agreement_key(kms_client) -> None:
    arn = kms_client.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    with pytest.raises(KeyNotAllowed, match="SIGN_VERIFY key"):
        KmsPrivateKey(arn, kms_client)


def test_unknown_key(kms_client) -> None:
    with pytest.raises(KeyUnavailable, match="NotFoundException"):
        KmsPrivateKey("alias/kmsecdh-does-not-exist", kms_client)


def _stubbed(public_key: ec.EllipticCurvePublicKey) -> tuple[Any, Stubber]:
    client = boto3.client(
        "kms", region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    stubber = Stubber(client)
    stubber.add_response(
        "get_public_key",
        {
            "KeyId": FAKE_ARN,
            "PublicKey": public_key_der(public_key),
            "KeySpec": "ECC_NIST_P256",
            "KeyUsage": "KEY_AGREEMENT",
            "KeyAgreementAlgorithms": ["ECDH"],
        },
        {"KeyId": "alias/stubbed"},
    )
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize(
    ("kms_code", "expected"),
    [
        ("DisabledException", KeyUnavailable),
        ("KMSInvalidStateException", KeyUnavailable),
        ("AccessDeniedException", AccessDenied),
        ("ThrottlingException", KmsThrottled),
        ("KMSInternalException", KmsUnavailable),
        ("InvalidKeyUsageException", KeyNotAllowed),
        ("ValidationException", InvalidPublicKey),
    ],
)
def test_kms_errors_map_like_the_derive_function(kms_code: str, expected: type[DeriveError]) -> None:
    owner, peer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    client, stubber = _stubbed(owner.public_key())
    key = KmsPrivateKey("alias/stubbed", client)
    stubber.add_client_error("derive_shared_secret", service_error_code=kms_code, service_message="echo")
    with pytest.raises(expected) as raised:
        key.exchange(ec.ECDH(), peer.public_key())
    assert type(raised.value) is expected
    assert "echo" not in str(raised.value)
    stubber.assert_no_pending_responses()


def test_a_short_shared_secret_is_refused() -> None:
    owner, peer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    client, stubber = _stubbed(owner.public_key())
    key = KmsPrivateKey("alias/stubbed", client)
    stubber.add_response(
        "derive_shared_secret",
        {"KeyId": FAKE_ARN, "SharedSecret": b"\x01" * 31, "KeyAgreementAlgorithm": "ECDH"},
    )
    with pytest.raises(KmsUnavailable, match="no shared secret"):
        key.exchange(ec.ECDH(), peer.public_key())
