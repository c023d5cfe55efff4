"""AWS clients of the command line and the derive function's invocation contract.

``aws_client`` is the one place clients are made (boto3's usual endpoint, region and credential
settings, ``AWS_ENDPOINT_URL`` included). ``DeriveFunction`` invokes the derive Lambda
synchronously and turns a function error back into the contract's DeriveError, so ``derive`` over
Lambda fails exactly like the function did.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import boto3

from kmsecdh import errors
from kmsecdh.cli.errors import CommandError, FunctionError
from kmsecdh.contract import ACTION_DERIVE, ACTION_PUBLIC_KEY, KdfParameters
from kmsecdh.encoding import b64encode
from kmsecdh.keys import KEY_AGREEMENT

_CONTRACT_ERRORS: dict[str, type[errors.DeriveError]] = {
    code: getattr(errors, code) for code in errors.ERROR_CODES
}


def aws_client(service_name: str) -> Any:
    return boto3.session.Session().client(service_name)


def peer_key_field(peer_public_key: bytes) -> str:
    """A peer key file's bytes as the contract wants them: PEM text as is, DER as base64."""
    if peer_public_key.lstrip().startswith(b"-----"):
        return peer_public_key.decode("ascii", errors="replace")
    return b64encode(peer_public_key)


def derive_event(key_id: str | None, peer_public_key: bytes, kdf: KdfParameters) -> dict[str, Any]:
    """The ``derive`` invocation event for one peer."""
    kdf_fields: dict[str, Any] = {"algorithm": kdf.algorithm, "length": kdf.length}
    if kdf.fixed_info:
        kdf_fields["fixed_info"] = b64encode(kdf.fixed_info)
    if kdf.salt is not None:
        kdf_fields["salt"] = b64encode(kdf.salt)
    event: dict[str, Any] = {
        "action": ACTION_DERIVE,
        "peer_public_key": peer_key_field(peer_public_key),
        "kdf": kdf_fields,
    }
    if key_id is not None:
        event["key_id"] = key_id
    return event


def public_key_event(key_id: str | None) -> dict[str, Any]:
    event: dict[str, Any] = {"action": ACTION_PUBLIC_KEY}
    if key_id is not None:
        event["key_id"] = key_id
    return event


def decode_b64_field(response: dict[str, Any], field: str) -> bytes:
    value = response.get(field)
    try:
        return base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except ValueError:
        return b""


class DeriveFunction:
    """The derive Lambda, invoked synchronously (RequestResponse) by name or ARN."""

    def __init__(self, name: str, client: Any | None = None) -> None:
        self.name = name
        self.client = client if client is not None else aws_client("lambda")

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """The function's response object; its error as the contract's DeriveError."""
        response = self.client.invoke(
            FunctionName=self.name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
        try:
            payload = json.loads(response["Payload"].read() or b"null")
        except ValueError:
            raise FunctionError(f"function {self.name} returned a payload that is not JSON") from None
        if response.get("FunctionError"):
            raise self._function_error(payload)
        if not isinstance(payload, dict):
            raise FunctionError(f"function {self.name} returned {type(payload).__name__}, not an object")
        return payload

    def _function_error(self, payload: object) -> Exception:
        payload = payload if isinstance(payload, dict) else {}
        error_type = str(payload.get("errorType", "Unknown"))
        message = str(payload.get("errorMessage", "")).strip() or "no message"
        if error_type in _CONTRACT_ERRORS:
            return _CONTRACT_ERRORS[error_type](message)
        return FunctionError(f"function {self.name} failed: {error_type}: {message}")


def kms_public_key(kms: Any, key_id: str) -> dict[str, Any]:
    """KMS GetPublicKey for a key-agreement key; CommandError if the key is for something else."""
    response = kms.get_public_key(KeyId=key_id)
    usage = response.get("KeyUsage")
    if usage != KEY_AGREEMENT:
        raise CommandError(f"KMS key {key_id} has KeyUsage {usage}, not {KEY_AGREEMENT}")
    return response
