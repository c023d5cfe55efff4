"""Two generations of a P-256 key in the local KMS, configured as the stack configures the derive function
during a rotation: the spec's alias names the new generation, each generation has its own alias.

A request names a generation by its alias, its key ARN or its kid (the RFC 7638 thumbprint of its public
key); without ``key_id`` it gets the current generation. Each derive equals OpenSSL's with that
generation's public key. Once the old generation is retired the function is no longer configured with it,
and every way of naming it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.openssl import OpenSsl
from kmsecdh import kms_calls
from kmsecdh.configuration import ConfiguredKey
from kmsecdh.contract import ALLOW_RAW_SECRET_VARIABLE
from kmsecdh.encoding import b64decode
from kmsecdh.errors import KeyNotAllowed
from kmsecdh.jwk import public_jwk
from kmsecdh.log import InvocationRecord

from .support import configure, lambda_context

SPEC = "ECC_NIST_P256"
SPEC_ALIAS = "alias/kmsecdh-test-rotation-p256"


@dataclass(frozen=True)
class Generation:
    name: str
    alias: str
    arn: str
    public_key_der: bytes

    @property
    def kid(self) -> str:
        public_key = serialization.load_der_public_key(self.public_key_der)
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        return public_jwk(public_key)["kid"]


def local_kms_client_settings(local_kms) -> dict[str, str]:
    return {
        "endpoint_url": local_kms.url,
        "region_name": "us-east-1",
        "aws_access_key_id": "test",
        "aws_secret_access_key": "test",
    }


@pytest.fixture(scope="module")
def generations(local_kms) -> dict[str, Generation]:
    client = boto3.client("kms", **local_kms_client_settings(local_kms))
    result = {}
    for name in ("2026-05", "2027-01"):
        metadata = client.create_key(KeySpec=SPEC, KeyUsage="KEY_AGREEMENT")["KeyMetadata"]
        alias = f"{SPEC_ALIAS}-{name}"
        client.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
        public_key = client.get_public_key(KeyId=metadata["Arn"])["PublicKey"]
        result[name] = Generation(name, alias, metadata["Arn"], public_key)
    return result


@pytest.fixture
def old(generations: dict[str, Generation]) -> Generation:
    return generations["2026-05"]


@pytest.fixture
def new(generations: dict[str, Generation]) -> Generation:
    return generations["2027-01"]


@pytest.fixture
def rotating(local_kms_env, monkeypatch, fresh_kms_client, old: Generation, new: Generation) -> None:
    """Both generations active, the new one current: KMSECDH_KEYS as the stack writes it."""
    configure(
        monkeypatch,
        {SPEC_ALIAS: (new.arn, SPEC), old.alias: (old.arn, SPEC), new.alias: (new.arn, SPEC)},
        SPEC_ALIAS,
    )


@pytest.fixture
def old_retired(local_kms_env, monkeypatch, fresh_kms_client, new: Generation) -> None:
    """The old generation retired: the function is configured with the new one only."""
    configure(monkeypatch, {SPEC_ALIAS: (new.arn, SPEC), new.alias: (new.arn, SPEC)}, SPEC_ALIAS)


@pytest.fixture(scope="module")
def peer(openssl: OpenSsl, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    directory = tmp_path_factory.mktemp("rotation-peer")
    private_key, public_key = directory / "peer.key.pem", directory / "peer.pub.pem"
    openssl.genkey(SPEC, private_key)
    openssl.public_key(private_key, public_key)
    return private_key, public_key.read_text()


def openssl_shared_secret(
    openssl: OpenSsl, private_key: Path, generation: Generation, tmp_path: Path
) -> bytes:
    kms_public_key = tmp_path / f"{generation.name}.der"
    kms_public_key.write_bytes(generation.public_key_der)
    return openssl.derive(private_key, kms_public_key)


def derive_event(peer_public_key: str, key_id: str | None) -> dict[str, object]:
    event: dict[str, object] = {"action": "derive", "peer_public_key": peer_public_key}
    if key_id is not None:
        event["key_id"] = key_id
    return event


@pytest.mark.parametrize("name", ["2026-05", "2027-01"])
@pytest.mark.parametrize("form", ["alias", "key ARN", "kid"])
def test_each_generation_derives_like_openssl_by_alias_arn_and_kid(
    derive_handler, rotating, generations, peer, openssl, tmp_path, monkeypatch, watch_secret, name, form
):
    monkeypatch.setenv(ALLOW_RAW_SECRET_VARIABLE, "true")
    generation = generations[name]
    private_key, peer_public_key = peer
    expected = openssl_shared_secret(openssl, private_key, generation, tmp_path)
    watch_secret(expected)
    key_id = {"alias": generation.alias, "key ARN": generation.arn, "kid": generation.kid}[form]

    event = derive_event(peer_public_key, key_id) | {"output": "shared_secret"}
    response = derive_handler(event, lambda_context())

    assert response["key_id"] == generation.arn
    assert b64decode(response["shared_secret"]) == expected


def test_without_key_id_and_by_the_spec_alias_the_current_generation_derives(
    derive_handler, rotating, new, peer
):
    _, peer_public_key = peer
    for key_id in (None, SPEC_ALIAS):
        assert derive_handler(derive_event(peer_public_key, key_id), None)["key_id"] == new.arn


def test_public_key_answers_the_current_generation_with_its_kid(derive_handler, rotating, new, old):
    response = derive_handler({"action": "public_key"}, None)
    assert response["key_id"] == new.arn
    assert response["jwk"]["kid"] == new.kid != old.kid
    assert derive_handler({"action": "public_key", "key_id": old.kid}, None)["key_id"] == old.arn


def test_a_kid_is_computed_once_per_key_and_container(derive_handler, rotating, old, peer, monkeypatch):
    calls: list[str] = []
    original = kms_calls.get_public_key

    def counted(key: ConfiguredKey, record: InvocationRecord) -> bytes:
        calls.append(key.arn)
        return original(key, record)

    monkeypatch.setattr(kms_calls, "get_public_key", counted)
    _, peer_public_key = peer
    for _ in range(3):
        derive_handler(derive_event(peer_public_key, old.kid), None)
    # Configuration order: the spec's alias (the new key) is looked at first, then the old one.
    assert sorted(calls) == sorted({calls[0], old.arn})
    assert len(calls) == 2


def test_a_retired_generation_is_refused_by_alias_arn_and_kid(derive_handler, old_retired, old, new, peer):
    _, peer_public_key = peer
    for key_id in (old.alias, old.arn, old.kid):
        with pytest.raises(KeyNotAllowed, match="kid of a key this function may use"):
            derive_handler(derive_event(peer_public_key, key_id), None)
    assert derive_handler(derive_event(peer_public_key, new.kid), None)["key_id"] == new.arn


def test_a_kid_of_no_configured_key_is_refused(derive_handler, rotating, peer):
    _, peer_public_key = peer
    with pytest.raises(KeyNotAllowed, match="kid"):
        derive_handler(derive_event(peer_public_key, "A" * 43), None)
