"""The ``public_key`` action returns the key's JWK (kty, crv, x, y, use enc, kid = RFC 7638 thumbprint)
beside the DER and PEM, on every curve, through the local KMS endpoint."""

from __future__ import annotations

import base64

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk as jwcrypto_jwk

from kmsecdh import kms_calls
from kmsecdh.configuration import Configuration, ConfiguredKey
from kmsecdh.jwk import load_public_jwk

CRVS = {"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"}


@pytest.mark.parametrize("key_spec", sorted(CRVS))
def test_public_key_action_returns_the_jwk(derive_handler, local_kms_env, monkeypatch, key_spec: str) -> None:
    kms = boto3.session.Session().client("kms")
    arn = kms.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
    configured = ConfiguredKey(alias="alias/kmsecdh-jwk-test", arn=arn, key_spec=key_spec)
    configuration = Configuration(keys=(configured,), default_alias=configured.alias, allow_raw_secret=False)
    for name, value in configuration.as_environment().items():
        monkeypatch.setenv(name, value)
    kms_calls.reset_kms_client()
    try:
        response = derive_handler({"action": "public_key"}, None)
    finally:
        kms_calls.reset_kms_client()
    assert set(response) == {"key_id", "key_spec", "public_key_der", "public_key_pem", "jwk"}
    jwk = response["jwk"]
    assert set(jwk) == {"kty", "crv", "x", "y", "use", "kid"}
    assert (jwk["kty"], jwk["crv"], jwk["use"]) == ("EC", CRVS[key_spec], "enc")
    assert jwk["kid"] == jwcrypto_jwk.JWK(**jwk).thumbprint()
    der = load_public_jwk(jwk, key_spec).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert der == base64.b64decode(response["public_key_der"]) == kms.get_public_key(KeyId=arn)["PublicKey"]
