"""Fixtures of the HPKE / JWE / JWKS tests: KMS keys on the local endpoint, fresh or holding a vector's key.

localstack-core creates an ECC key from given key material when CreateKey carries the tag
``_custom_key_material_`` whose value is the base64 of the DER private key (PKCS#8 here); that is how
a published vector's recipient key ends up inside the local KMS, so the vector runs through the very
path a real KMS key takes (GetPublicKey, then DeriveSharedSecret). AWS KMS has no such tag.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.keys import key_spec_of
from kmsecdh.kms_key import KmsPrivateKey

LOCALSTACK_KEY_MATERIAL_TAG = "_custom_key_material_"


@pytest.fixture
def kms_client(local_kms_env: Any) -> Any:
    return boto3.session.Session().client("kms")


@pytest.fixture
def kms_key_holding(kms_client: Any) -> Callable[[ec.EllipticCurvePrivateKey], KmsPrivateKey]:
    """A KEY_AGREEMENT key on the local endpoint whose private key is ``private_key``."""

    def create(private_key: ec.EllipticCurvePrivateKey) -> KmsPrivateKey:
        pkcs8 = private_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        metadata = kms_client.create_key(
            KeySpec=key_spec_of(private_key),
            KeyUsage="KEY_AGREEMENT",
            Tags=[{"TagKey": LOCALSTACK_KEY_MATERIAL_TAG, "TagValue": base64.b64encode(pkcs8).decode()}],
        )["KeyMetadata"]
        key = KmsPrivateKey(metadata["Arn"], kms_client)
        assert key.public_key() == private_key.public_key(), "localstack ignored the key material"
        return key

    return create


@pytest.fixture
def new_kms_key(kms_client: Any) -> Callable[[str], KmsPrivateKey]:
    """A fresh KEY_AGREEMENT key of ``key_spec`` on the local endpoint (its private key unknown to us)."""

    def create(key_spec: str) -> KmsPrivateKey:
        arn = kms_client.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
        return KmsPrivateKey(arn, kms_client)

    return create
