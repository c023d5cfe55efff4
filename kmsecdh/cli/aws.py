"""The command line's AWS clients: the one place they are made, and KMS GetPublicKey for a key-agreement key.

``aws_client`` uses boto3's usual endpoint, Region and credential settings (``AWS_ENDPOINT_URL``
included). The derive function is reached through ``kmsecdh.client`` instead.
"""

from __future__ import annotations

from typing import Any

import boto3

from kmsecdh.cli.errors import CommandError
from kmsecdh.keys import KEY_AGREEMENT


def aws_client(service_name: str) -> Any:
    return boto3.session.Session().client(service_name)


def kms_public_key(kms: Any, key_id: str) -> dict[str, Any]:
    """KMS GetPublicKey for a key-agreement key; CommandError if the key is for something else."""
    response = kms.get_public_key(KeyId=key_id)
    usage = response.get("KeyUsage")
    if usage != KEY_AGREEMENT:
        raise CommandError(f"KMS key {key_id} has KeyUsage {usage}, not {KEY_AGREEMENT}")
    return response
