"""Multi-Region keys through the local KMS endpoint's API: a multi-Region KEY_AGREEMENT primary, its replica
in another Region (``ReplicateKey``), one public key in both, and the derive handler configured with the
replica (as the replica Region's function is) derives the key OpenSSL derives.

The endpoint is one process serving every Region; the Region of a call comes from the client, as with AWS.
Its CloudFormation cannot create ``AWS::KMS::ReplicaKey``, so the replica is made through the API here and the
templates are checked in ``tests/infra/test_replica_regions.py``.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

import boto3
import pytest

from devtools.local_endpoint import LocalKmsEndpoint
from devtools.openssl import OpenSsl
from kmsecdh import kdf
from tests.conftest import KEY_SPECS

from .support import b64, configure, lambda_context

HOME_REGION = "eu-central-1"
REPLICA_REGION = "eu-west-1"
FIXED_INFO = kdf.fixed_info(b"kmsecdh-test-replica", b"alice@example.com", b"bob@example.com")


@dataclass(frozen=True)
class MultiRegionKey:
    key_spec: str
    alias: str
    primary_arn: str
    replica_arn: str
    public_key_der: bytes


def kms_client(endpoint: LocalKmsEndpoint, region: str):
    return boto3.client(
        "kms",
        endpoint_url=endpoint.url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


@pytest.fixture(scope="module")
def multi_region_keys(local_kms: LocalKmsEndpoint) -> dict[str, MultiRegionKey]:
    home, replica_region = kms_client(local_kms, HOME_REGION), kms_client(local_kms, REPLICA_REGION)
    keys = {}
    for key_spec in KEY_SPECS:
        primary = home.create_key(KeySpec=key_spec, KeyUsage="KEY_AGREEMENT", MultiRegion=True)["KeyMetadata"]
        assert primary["MultiRegion"] is True
        assert primary["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
        replica = home.replicate_key(KeyId=primary["KeyId"], ReplicaRegion=REPLICA_REGION)[
            "ReplicaKeyMetadata"
        ]
        alias = f"alias/kmsecdh-replica-test-{key_spec.rsplit('_', 1)[1].lower()}"
        replica_region.create_alias(AliasName=alias, TargetKeyId=replica["KeyId"])
        keys[key_spec] = MultiRegionKey(
            key_spec,
            alias,
            primary["Arn"],
            replica["Arn"],
            home.get_public_key(KeyId=primary["Arn"])["PublicKey"],
        )
    return keys


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_the_replica_is_the_primary_in_another_region(local_kms, multi_region_keys, key_spec):
    key = multi_region_keys[key_spec]
    replica = kms_client(local_kms, REPLICA_REGION).describe_key(KeyId=key.replica_arn)["KeyMetadata"]
    key_id = key.primary_arn.rsplit("/", 1)[1]
    assert key_id.startswith("mrk-")
    # one key id in every Region; only the Region of the ARN differs
    assert key.replica_arn == key.primary_arn.replace(f":{HOME_REGION}:", f":{REPLICA_REGION}:")
    assert replica["KeyId"] == key_id
    assert (replica["KeySpec"], replica["KeyUsage"]) == (key_spec, "KEY_AGREEMENT")
    assert replica["MultiRegionConfiguration"]["MultiRegionKeyType"] == "REPLICA"
    assert replica["MultiRegionConfiguration"]["PrimaryKey"]["Arn"] == key.primary_arn


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_peers_see_one_public_key_in_every_region(local_kms, multi_region_keys, key_spec):
    key = multi_region_keys[key_spec]
    replica_public_key = kms_client(local_kms, REPLICA_REGION).get_public_key(KeyId=key.replica_arn)
    assert replica_public_key["PublicKey"] == key.public_key_der
    assert replica_public_key["KeySpec"] == key_spec


@pytest.fixture
def replica_function_env(local_kms_env, multi_region_keys, monkeypatch, fresh_kms_client):
    """The handler as the replica Region's function runs it: that Region, that Region's replica ARNs."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", REPLICA_REGION)
    configure(
        monkeypatch,
        {key.alias: (key.replica_arn, key.key_spec) for key in multi_region_keys.values()},
        multi_region_keys["ECC_NIST_P256"].alias,
    )
    return multi_region_keys


@pytest.mark.parametrize("key_spec", KEY_SPECS)
def test_the_replica_regions_handler_derives_what_openssl_derives(
    derive_handler, replica_function_env, openssl: OpenSsl, tmp_path, watch_secret, key_spec
):
    key = replica_function_env[key_spec]
    peer_key, peer_public = tmp_path / "peer.pem", tmp_path / "peer.pub.pem"
    openssl.genkey(key_spec, peer_key)
    openssl.public_key(peer_key, peer_public)
    # the peer fetched the public key once, in the home Region, and uses it for every Region
    kms_public_key = tmp_path / "kms.pub.der"
    kms_public_key.write_bytes(key.public_key_der)
    shared_secret = openssl.derive(peer_key, kms_public_key)
    length = 32
    expected = openssl.kdf(shared_secret, algorithm="onestep-sha256", length=length, fixed_info=FIXED_INFO)
    watch_secret(shared_secret)
    watch_secret(expected)
    event = {
        "action": "derive",
        "key_id": key.alias,
        "peer_public_key": peer_public.read_text(),
        "kdf": {"algorithm": "onestep-sha256", "length": length, "fixed_info": b64(FIXED_INFO)},
    }

    response = derive_handler(event, lambda_context())

    assert response["key_id"] == key.replica_arn
    assert base64.b64decode(response["derived_key"]) == expected


def test_the_replica_regions_handler_serves_the_replicas_public_key(derive_handler, replica_function_env):
    key = replica_function_env["ECC_NIST_P384"]
    response = derive_handler({"action": "public_key", "key_id": key.alias}, None)
    assert response["key_id"] == key.replica_arn
    assert base64.b64decode(response["public_key_der"]) == key.public_key_der
