"""The command line's AWS clients: the one place they are made, and KMS GetPublicKey for a key-agreement key.

``aws_client`` uses boto3's usual endpoint, Region and credential settings (``AWS_ENDPOINT_URL``
included). The derive function is reached through ``kmsecdh.client`` instead.
"""

from __future__ import annotations

from typing import Any

import boto3
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.cli.errors import CommandError
from kmsecdh.errors import InvalidPublicKey, InvalidRequest
from kmsecdh.keys import KEY_AGREEMENT, load_peer_public_key


def aws_client(service_name: str, region_name: str | None = None) -> Any:
    """A client of ``service_name``, in ``region_name`` (default: boto3's usual Region settings)."""
    return boto3.session.Session().client(service_name, region_name=region_name)


def kms_public_key(kms: Any, key_id: str) -> dict[str, Any]:
    """KMS GetPublicKey for a key-agreement key; CommandError if the key is for something else."""
    response = kms.get_public_key(KeyId=key_id)
    usage = response.get("KeyUsage")
    if usage != KEY_AGREEMENT:
        raise CommandError(f"KMS key {key_id} has KeyUsage {usage}, not {KEY_AGREEMENT}")
    return response


def load_kms_public_key(kms: Any, key_id: str) -> tuple[ec.EllipticCurvePublicKey, str]:
    """The public key of the key-agreement key ``key_id`` (KMS GetPublicKey), validated on its key spec,
    and that key spec; CommandError if it does not parse as one."""
    response = kms_public_key(kms, key_id)
    der, key_spec = response.get("PublicKey", b""), str(response.get("KeySpec"))
    try:
        return load_peer_public_key(der, key_spec), key_spec
    except (InvalidPublicKey, InvalidRequest):
        raise CommandError(f"the public key returned for {key_id} does not parse as {key_spec}") from None
