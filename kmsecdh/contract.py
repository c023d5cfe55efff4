"""The derive function's request contract: parse and validate an invocation event, without AWS.

The event is a JSON object. Every field is checked for presence, type and size here, before any key
is resolved or any KMS call is made, and every failure is ``InvalidRequest`` with a message that names
the field but never echoes its value. Optional fields are omitted, not ``null``. The peer public keys
stay text: whether they are valid depends on the curve of the resolved key, so ``kmsecdh.keys``
checks them later, empty ones included (and a batch reports a bad peer key per peer).

``derive`` fields:

========================  =====================  ============================================
field                     type                   rule
========================  =====================  ============================================
``action``                string                 ``"derive"``
``key_id``                string, optional       alias name, key id or ARN (1 to 2048 chars)
``peer_public_key``       string                 base64 DER SPKI, PEM or base64 SEC1 point
``peer_public_keys``      list of strings        instead of ``peer_public_key``: 1 to 100
``kdf``                   object, optional       ``algorithm``, ``length``, ``fixed_info``, ``salt``
``output``                string, optional       ``"derived_key"`` (default) or ``"shared_secret"``
========================  =====================  ============================================

``public_key`` fields: ``action`` (``"public_key"``) and the optional ``key_id``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass

from kmsecdh.encoding import b64decode
from kmsecdh.errors import InvalidRequest
from kmsecdh.kdf import DEFAULT_ALGORITHM, DEFAULT_LENGTH, check_length, get_algorithm
from kmsecdh.keys import MAX_PEER_PUBLIC_KEY_SIZE

# --- the function's configuration: environment variables the constructs set and the function reads ---

KEYS_VARIABLE = "KMSECDH_KEYS"
"""JSON: alias name -> ``{"arn": <key ARN>, "key_spec": <key spec>}`` of every key the function may use."""
DEFAULT_KEY_VARIABLE = "KMSECDH_DEFAULT_KEY"
"""The alias name, among those of KEYS_VARIABLE, of the key a request without ``key_id`` uses."""
ALLOW_RAW_SECRET_VARIABLE = "KMSECDH_ALLOW_RAW_SECRET"  # noqa: S105 (a variable name)
"""``true`` lets callers ask for the raw shared secret (``output: shared_secret``); default ``false``."""

FUNCTION_TIMEOUT_SECONDS = 30
"""The function's timeout as the constructs set it by default: room for a batch's KMS calls (see
``kmsecdh.service``); callers wait a little longer than this for a reply (``kmsecdh.client``)."""

KEY_ARN_PATTERN = re.compile(r"(arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}):key/((?:mrk-)?[0-9a-fA-F-]{32,36})")
"""A KMS key ARN (partition, Region, account; key id or multi-Region key id): group 1 is the ARN up to
``:key``, group 2 the key id."""

# --- the request -------------------------------------------------------------------------------------

MAX_PEERS = 100
"""Peers in one ``peer_public_keys`` batch: bounds the invocation's KMS calls and duration."""

MAX_KEY_ID_LENGTH = 2048
"""The longest ``key_id`` KMS itself accepts."""

MAX_KDF_INPUT_BYTES = 1024
"""Decoded size limit of ``fixed_info`` and ``salt``: ample for identities, nonces and a hash-sized salt."""

MAX_PEER_KEY_LENGTH = MAX_PEER_PUBLIC_KEY_SIZE
"""Characters of one peer public key text (a P-521 PEM key is about 270)."""

ACTION_DERIVE = "derive"
ACTION_PUBLIC_KEY = "public_key"

_DERIVE_FIELDS = frozenset({"action", "key_id", "peer_public_key", "peer_public_keys", "kdf", "output"})
_PUBLIC_KEY_FIELDS = frozenset({"action", "key_id"})
_KDF_FIELDS = frozenset({"algorithm", "length", "fixed_info", "salt"})
_SHOWN_UNKNOWN_FIELDS = 5
_SHOWN_FIELD_NAME_LENGTH = 40


class Output(enum.Enum):
    """What a derive returns for each peer."""

    DERIVED_KEY = "derived_key"
    SHARED_SECRET = "shared_secret"  # noqa: S105 (a field name, not a secret)


@dataclass(frozen=True)
class KdfParameters:
    """The SP 800-56C KDF to apply to Z; ``salt`` only for the HKDF ids (None: HKDF's default)."""

    algorithm: str = DEFAULT_ALGORITHM
    length: int = DEFAULT_LENGTH
    fixed_info: bytes = b""
    salt: bytes | None = None


@dataclass(frozen=True)
class DeriveRequest:
    """``derive`` for one peer (``batch`` False) or for a list of peers (``batch`` True)."""

    key_id: str | None
    peer_public_keys: tuple[str, ...]
    batch: bool
    output: Output
    kdf: KdfParameters | None
    """None exactly when ``output`` is SHARED_SECRET."""


@dataclass(frozen=True)
class PublicKeyRequest:
    """``public_key``: the public key of one configured KMS key."""

    key_id: str | None


Request = DeriveRequest | PublicKeyRequest


def parse_request(event: object) -> Request:
    """The typed request of an invocation event, or InvalidRequest saying what is wrong."""
    if not isinstance(event, Mapping):
        raise InvalidRequest("the event must be a JSON object")
    action = event.get("action")
    if action == ACTION_DERIVE:
        _reject_unknown_fields(event, _DERIVE_FIELDS, "request")
        return _parse_derive(event)
    if action == ACTION_PUBLIC_KEY:
        _reject_unknown_fields(event, _PUBLIC_KEY_FIELDS, "public_key request")
        return PublicKeyRequest(key_id=_optional_key_id(event))
    if action is None:
        raise InvalidRequest(f"action is required: {ACTION_DERIVE!r} or {ACTION_PUBLIC_KEY!r}")
    raise InvalidRequest(f"unknown action; expected {ACTION_DERIVE!r} or {ACTION_PUBLIC_KEY!r}")


def _parse_derive(event: Mapping[str, object]) -> DeriveRequest:
    key_id = _optional_key_id(event)
    peers, batch = _peer_public_keys(event)
    output = _output(event)
    if output is Output.SHARED_SECRET:
        if "kdf" in event:
            raise InvalidRequest("kdf does not apply to output 'shared_secret'; omit it")
        kdf = None
    else:
        kdf = _kdf(event.get("kdf", {}))
    return DeriveRequest(key_id=key_id, peer_public_keys=peers, batch=batch, output=output, kdf=kdf)


def _peer_public_keys(event: Mapping[str, object]) -> tuple[tuple[str, ...], bool]:
    if ("peer_public_key" in event) == ("peer_public_keys" in event):
        raise InvalidRequest("exactly one of peer_public_key and peer_public_keys is required")
    if "peer_public_key" in event:
        return (_peer_key_text(event["peer_public_key"], "peer_public_key"),), False
    peers = event["peer_public_keys"]
    if not isinstance(peers, list):
        raise InvalidRequest("peer_public_keys must be a list of strings")
    if not 1 <= len(peers) <= MAX_PEERS:
        raise InvalidRequest(f"peer_public_keys must hold 1 to {MAX_PEERS} keys")
    return tuple(_peer_key_text(peer, f"peer_public_keys[{index}]") for index, peer in enumerate(peers)), True


def _peer_key_text(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"{field} must be a string (base64 DER SubjectPublicKeyInfo or PEM)")
    if len(value) > MAX_PEER_KEY_LENGTH:
        raise InvalidRequest(f"{field} is longer than {MAX_PEER_KEY_LENGTH} characters")
    return value


def _optional_key_id(event: Mapping[str, object]) -> str | None:
    if "key_id" not in event:
        return None
    key_id = event["key_id"]
    if not isinstance(key_id, str) or not 1 <= len(key_id) <= MAX_KEY_ID_LENGTH:
        raise InvalidRequest(f"key_id must be a string of 1 to {MAX_KEY_ID_LENGTH} characters")
    return key_id


def _output(event: Mapping[str, object]) -> Output:
    value = event.get("output", Output.DERIVED_KEY.value)
    try:
        return Output(value)
    except (ValueError, TypeError):
        expected = " or ".join(repr(output.value) for output in Output)
        raise InvalidRequest(f"output must be {expected}") from None


def _kdf(value: object) -> KdfParameters:
    if not isinstance(value, Mapping):
        raise InvalidRequest("kdf must be a JSON object")
    _reject_unknown_fields(value, _KDF_FIELDS, "kdf")
    algorithm = get_algorithm(value.get("algorithm", DEFAULT_ALGORITHM))
    length = check_length(value.get("length", DEFAULT_LENGTH))
    fixed_info = _base64_field(value, "fixed_info", default=b"")
    salt = _base64_field(value, "salt", default=None)
    if salt is not None and not algorithm.takes_salt:
        raise InvalidRequest(f"salt is not used by the one-step KDF {algorithm.id}; omit it")
    return KdfParameters(algorithm=algorithm.id, length=length, fixed_info=fixed_info, salt=salt)


def _base64_field(kdf: Mapping[str, object], field: str, *, default: bytes | None) -> bytes | None:
    if field not in kdf:
        return default
    text = kdf[field]
    if not isinstance(text, str):
        raise InvalidRequest(f"kdf.{field} must be a base64 string")
    # Bound the work before decoding: base64 carries 3 bytes in every 4 characters.
    if len(text) > 4 * -(-MAX_KDF_INPUT_BYTES // 3):
        raise InvalidRequest(f"kdf.{field} decodes to more than {MAX_KDF_INPUT_BYTES} bytes")
    try:
        decoded = b64decode(text)
    except ValueError:
        raise InvalidRequest(f"kdf.{field} is not valid base64 (standard alphabet, padded)") from None
    if len(decoded) > MAX_KDF_INPUT_BYTES:
        raise InvalidRequest(f"kdf.{field} decodes to more than {MAX_KDF_INPUT_BYTES} bytes")
    return decoded


def _reject_unknown_fields(obj: Mapping[object, object], allowed: frozenset[str], where: str) -> None:
    unknown = [str(name) for name in obj if name not in allowed]
    if not unknown:
        return
    # Field names come from the caller: show a few, shortened, never the values.
    shown = [repr(name[:_SHOWN_FIELD_NAME_LENGTH]) for name in unknown[:_SHOWN_UNKNOWN_FIELDS]]
    if len(unknown) > _SHOWN_UNKNOWN_FIELDS:
        shown.append(f"and {len(unknown) - _SHOWN_UNKNOWN_FIELDS} more")
    raise InvalidRequest(
        f"unknown field(s) in {where}: {', '.join(shown)}; allowed: {', '.join(sorted(allowed))}"
    )
