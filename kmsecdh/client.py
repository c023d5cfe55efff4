"""Application code's client of a deployed derive function: ``DeriveFunctionClient``.

::

    from kmsecdh.client import DeriveFunctionClient
    from kmsecdh.kdf import fixed_info

    bob = DeriveFunctionClient("kmsecdh-dev-derive")               # function name or ARN
    bob_public_key = bob.public_key()                             # EllipticCurvePublicKey, to hand to peers
    key = bob.derive(alice_public_key, fixed_info=fixed_info(b"A256GCM", b"alice", b"bob"))
    keys = bob.derive_many([alice_public_key, carol_public_key])   # bytes or a DeriveError per peer, in order

A peer public key is an ``EllipticCurvePublicKey``, DER or PEM bytes, or text the function accepts (PEM,
base64 DER or a base64 SEC1 point). The KDF defaults are the function's (``onestep-sha256``, 32 bytes).

What a call raises:

* a DeriveError subclass (``kmsecdh.errors``): the function refused the request with one of its contract
  codes; the class is the very one the function raised, so ``except InvalidPublicKey`` reads the same
  in-process and across Lambda. Arguments the function would refuse are refused here first, with the same
  class (an unknown KDF id or a length out of range is InvalidRequest before any call);
* FunctionError: the function failed outside its contract (timed out, crashed), with Lambda's error
  type and message; InvalidResponse (a FunctionError) when its answer breaks the contract: a derived key
  that is not strict base64 or not of the length asked for, a missing field, a batch of the wrong size.
  A bad answer never becomes bytes, empty or otherwise;
* botocore's ClientError or BotoCoreError, as boto3 raises them, when the Lambda API itself refuses or
  fails (no such function, no ``lambda:InvokeFunction``, throttled after the retries, no connection).

The Lambda client (boto3's usual endpoint, Region and credentials) retries and times out like the
function's own KMS client (``kmsecdh.kms_calls``): standard retry mode, 3 attempts in all, a 1 s connect
timeout; its read timeout is the function's timeout plus 5 s, as a derive answers only when the
invocation ends. Retrying is safe: a derive has no effect but its result and its log line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import boto3
from botocore.config import Config
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import kms_calls
from kmsecdh.contract import (
    ACTION_DERIVE,
    ACTION_PUBLIC_KEY,
    FUNCTION_TIMEOUT_SECONDS,
    MAX_PEERS,
    KdfParameters,
)
from kmsecdh.encoding import b64decode, b64encode
from kmsecdh.errors import (
    DERIVE_ERRORS,
    DeriveError,
    FunctionError,
    InvalidPublicKey,
    InvalidResponse,
)
from kmsecdh.kdf import DEFAULT_ALGORITHM, DEFAULT_LENGTH, check_arguments
from kmsecdh.keys import KEY_SPECS, load_peer_public_key, public_key_der

__all__ = [
    "DeriveError",
    "DeriveFunctionClient",
    "FunctionError",
    "InvalidResponse",
    "PeerPublicKey",
    "lambda_client",
]

PeerPublicKey = ec.EllipticCurvePublicKey | bytes | str
"""A peer public key: the key itself, DER or PEM bytes, or PEM / base64 text as the contract takes it."""

READ_TIMEOUT_SECONDS = FUNCTION_TIMEOUT_SECONDS + 5
"""How long an invocation may take to answer: the function's own timeout and a margin."""


def lambda_client(read_timeout: float = READ_TIMEOUT_SECONDS) -> Any:
    """A boto3 Lambda client with the retries and timeouts described above."""
    return boto3.session.Session().client(
        "lambda",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": kms_calls.KMS_MAX_ATTEMPTS},
            connect_timeout=kms_calls.KMS_CONNECT_TIMEOUT_SECONDS,
            read_timeout=read_timeout,
        ),
    )


class DeriveFunctionClient:
    """A deployed derive function, invoked synchronously by name or ARN.

    ``key_id`` (alias name or ARN, key id or key ARN of a key the function is configured with) is the
    key every call uses unless it names another; None means the function's default key. ``client`` is a
    boto3 Lambda client to use instead of ``lambda_client()``.
    """

    def __init__(self, function_name: str, *, key_id: str | None = None, client: Any | None = None) -> None:
        self.function_name = function_name
        self.key_id = key_id
        self._client = client if client is not None else lambda_client()

    def derive(
        self,
        peer_public_key: PeerPublicKey,
        *,
        key_id: str | None = None,
        kdf: str = DEFAULT_ALGORITHM,
        length: int = DEFAULT_LENGTH,
        fixed_info: bytes = b"",
        salt: bytes | None = None,
    ) -> bytes:
        """The key derived from the function's KMS key and ``peer_public_key``: ``length`` bytes of the
        SP 800-56C KDF ``kdf`` over Z with ``fixed_info`` (and ``salt``, ``hkdf-*`` only)."""
        parameters = _kdf_parameters(kdf, length, fixed_info, salt)
        event = self._derive_event(key_id, parameters)
        event["peer_public_key"] = peer_key_text(peer_public_key)
        response = self.invoke(event)
        self._check_kdf(response, parameters)
        return self._derived_key(response, parameters.length, "derived_key")

    def derive_many(
        self,
        peer_public_keys: Iterable[PeerPublicKey],
        *,
        key_id: str | None = None,
        kdf: str = DEFAULT_ALGORITHM,
        length: int = DEFAULT_LENGTH,
        fixed_info: bytes = b"",
        salt: bytes | None = None,
    ) -> list[bytes | DeriveError]:
        """One result per peer, in order: the derived key, or the DeriveError that peer met (a bad key,
        a KMS failure); one bad peer does not fail the others. Peers go MAX_PEERS to an invocation."""
        parameters = _kdf_parameters(kdf, length, fixed_info, salt)
        peers = [peer_key_text(peer) for peer in peer_public_keys]
        results: list[bytes | DeriveError] = []
        for start in range(0, len(peers), MAX_PEERS):
            chunk = peers[start : start + MAX_PEERS]
            event = self._derive_event(key_id, parameters)
            event["peer_public_keys"] = chunk
            response = self.invoke(event)
            self._check_kdf(response, parameters)
            results.extend(self._batch_results(response, len(chunk), parameters.length))
        return results

    def public_key(self, *, key_id: str | None = None) -> ec.EllipticCurvePublicKey:
        """The public key of the function's KMS key (KMS GetPublicKey, through the function), validated
        on the key spec the function reports."""
        event: dict[str, Any] = {"action": ACTION_PUBLIC_KEY}
        if (key_id or self.key_id) is not None:
            event["key_id"] = key_id or self.key_id
        response = self.invoke(event)
        key_spec = response.get("key_spec")
        if key_spec not in KEY_SPECS:
            raise self._invalid("a public_key response without a supported key_spec")
        der = self._base64_field(response, "public_key_der")
        try:
            return load_peer_public_key(der, key_spec)
        except InvalidPublicKey:
            raise self._invalid(f"a public_key_der that is not a {key_spec} public key") from None

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Invoke the function with ``event`` and return its response object; its contract errors as
        their DeriveError class, any other failure as FunctionError (see the module's description)."""
        response = self._client.invoke(
            FunctionName=self.function_name,
            InvocationType="RequestResponse",
            Payload=json.dumps(event).encode("utf-8"),
        )
        try:
            payload = json.loads(response["Payload"].read() or b"null")
        except ValueError:
            raise self._invalid("a payload that is not JSON") from None
        if response.get("FunctionError"):
            raise self._function_error(payload)
        if not isinstance(payload, dict):
            raise self._invalid(f"{type(payload).__name__}, not an object")
        return payload

    # --- the request ---------------------------------------------------------------------------------

    def _derive_event(self, key_id: str | None, kdf: KdfParameters) -> dict[str, Any]:
        kdf_fields: dict[str, Any] = {"algorithm": kdf.algorithm, "length": kdf.length}
        if kdf.fixed_info:
            kdf_fields["fixed_info"] = b64encode(kdf.fixed_info)
        if kdf.salt is not None:
            kdf_fields["salt"] = b64encode(kdf.salt)
        event: dict[str, Any] = {"action": ACTION_DERIVE, "kdf": kdf_fields}
        if (key_id or self.key_id) is not None:
            event["key_id"] = key_id or self.key_id
        return event

    # --- the response --------------------------------------------------------------------------------

    def _function_error(self, payload: object) -> Exception:
        payload = payload if isinstance(payload, dict) else {}
        error_type = str(payload.get("errorType", "Unknown"))
        message = str(payload.get("errorMessage", "")).strip() or "no message"
        if error_type in DERIVE_ERRORS:
            return DERIVE_ERRORS[error_type](message)
        return FunctionError(f"function {self.function_name} failed: {error_type}: {message}")

    def _invalid(self, what: str) -> InvalidResponse:
        return InvalidResponse(f"function {self.function_name} returned {what}")

    def _check_kdf(self, response: dict[str, Any], kdf: KdfParameters) -> None:
        if response.get("kdf") != {"algorithm": kdf.algorithm, "length": kdf.length}:
            raise self._invalid(f"a result of another KDF than {kdf.algorithm} with {kdf.length} bytes")

    def _base64_field(self, entry: dict[str, Any], field: str) -> bytes:
        value = entry.get(field)
        if not isinstance(value, str):
            raise self._invalid(f"no {field}")
        try:
            return b64decode(value)
        except ValueError:
            raise self._invalid(f"a {field} that is not base64") from None

    def _derived_key(self, entry: dict[str, Any], length: int, field: str) -> bytes:
        key = self._base64_field(entry, field)
        if len(key) != length:
            raise self._invalid(f"a {len(key)}-byte {field}, not {length} bytes")
        return key

    def _batch_results(self, response: dict[str, Any], peers: int, length: int) -> list[bytes | DeriveError]:
        entries = response.get("results")
        if not isinstance(entries, list) or len(entries) != peers:
            raise self._invalid(f"no list of {peers} results")
        results: list[bytes | DeriveError] = []
        for entry in entries:
            error = entry.get("error") if isinstance(entry, dict) else None
            if isinstance(error, dict) and error.get("code") in DERIVE_ERRORS:
                results.append(DERIVE_ERRORS[error["code"]](str(error.get("message", "")) or "no message"))
            elif isinstance(entry, dict) and "error" not in entry:
                results.append(self._derived_key(entry, length, "derived_key"))
            else:
                raise self._invalid("a batch result that is neither a derived key nor a known error")
        return results


def peer_key_text(peer_public_key: PeerPublicKey) -> str:
    """A peer public key as the contract's ``peer_public_key`` text: PEM as is, anything binary as base64.

    Only the form is handled here; the function validates the key itself on its key's curve.
    """
    if isinstance(peer_public_key, ec.EllipticCurvePublicKey):
        return b64encode(public_key_der(peer_public_key))
    if isinstance(peer_public_key, str):
        return peer_public_key
    if isinstance(peer_public_key, bytes | bytearray):
        if bytes(peer_public_key).lstrip().startswith(b"-----"):
            try:
                return bytes(peer_public_key).decode("ascii")
            except UnicodeDecodeError:
                raise InvalidPublicKey("peer public key PEM must be ASCII") from None
        return b64encode(bytes(peer_public_key))
    raise InvalidPublicKey("peer public key must be an EllipticCurvePublicKey, bytes or text")


def _kdf_parameters(kdf: str, length: int, fixed_info: bytes, salt: bytes | None) -> KdfParameters:
    """The KDF the call asks for, refused here (InvalidRequest, as the function would) when it cannot be."""
    algorithm = check_arguments(kdf, length, fixed_info, salt)
    return KdfParameters(
        algorithm=algorithm.id,
        length=length,
        fixed_info=bytes(fixed_info),
        salt=None if salt is None else bytes(salt),
    )
