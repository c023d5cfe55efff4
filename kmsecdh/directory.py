"""The signed public-key directory: every active generation's public key as a JWK Set, signed as a JWS.

The document is a JWK Set (RFC 7517) whose keys carry, besides ``kty``, ``crv``, ``x``, ``y``, ``use``
(``enc``) and ``kid`` (the RFC 7638 thumbprint), the KMS ``key_arn``, the ``key_spec``, the ``generation``
(null for a spec without generations), its ``status`` (``active``), ``current`` (the generation the spec's
alias names) and ``retire_after`` (``YYYY-MM-DD`` or null). It is signed as a JWS in compact serialization
(RFC 7515) with ES384 (RFC 7518 §3.4: ECDSA P-384 with SHA-384, the signature as ``r || s``, 48 bytes each) by
a SIGN_VERIFY KMS key of the environment: ``Sign`` with ``ECDSA_SHA_384`` over the JWS signing input.

The JWK Set also carries its freshness (RFC 7519's claim names, NumericDate: whole seconds since the epoch,
UTC): ``iat`` when it was signed, ``exp`` when it stops being valid (``iat`` plus the environment's maximum
age, at most ``MAX_VALIDITY``), and ``serial``, which grows by one with every publication of the environment
(the publisher reads the published document and adds one), so that an older directory can be told from a
newer one.

A reader pins the signing key's public key (obtained once, out of band or with ``kms:GetPublicKey``) and
``verify`` checks, each refusal its own class: the signature (``BadSignature``), that the pinned key signed
(``WrongSigner``: the header's ``kid`` names another key), every key's ``kid`` against its coordinates
(``KidMismatch``), every ``key_arn`` (``KeyArnMismatch``: not a KMS key ARN, twice in the document, or, when
``kms_public_key`` is given, a public key in KMS other than the JWK's), and the time: ``Expired`` once
``exp`` has passed, ``NotYetValid`` while ``iat`` is still ahead, each with ``CLOCK_SKEW`` of tolerance for
the reader's and the publisher's clocks. ``check_not_replayed`` refuses a document whose ``serial`` is
below the newest one the reader has seen (``Replayed``): an older directory, still within its ``exp``.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from kmsecdh.contract import KEY_ARN_PATTERN
from kmsecdh.errors import InvalidPublicKey
from kmsecdh.jwk import b64url, b64url_decode, load_public_jwk, public_jwk, thumbprint
from kmsecdh.keys import public_key_der

ALGORITHM = "ES384"
KMS_SIGNING_ALGORITHM = "ECDSA_SHA_384"
"""KMS's name for ES384's signature: ECDSA on P-384 with SHA-384 (``Sign``, ``MessageType=RAW``)."""
SIGNING_KEY_SPEC = "ECC_NIST_P384"
CONTENT_TYPE = "jwk-set+json"
_COORDINATE_SIZE = 48
MAX_DIRECTORY_SIZE = 256 * 1024
MAX_VALIDITY = datetime.timedelta(days=365)
"""The longest a directory may stay valid (``exp - iat``): an environment's maximum age is at most this."""
CLOCK_SKEW = datetime.timedelta(minutes=5)
"""How far the reader's clock may be from the publisher's: ``exp`` and ``iat`` are checked this leniently."""
CLAIMS = ("iat", "exp", "serial")


class DirectoryError(ValueError):
    """A directory that cannot be trusted or read; the subclass says which check refused it."""


class MalformedDirectory(DirectoryError):
    """Not a compact JWS of a kmsecdh directory."""


class BadSignature(DirectoryError):
    """The signature does not verify with the pinned key: the document or its header was altered."""


class WrongSigner(DirectoryError):
    """The header names another signing key than the pinned one."""


class KidMismatch(DirectoryError):
    """A key's ``kid`` is not the thumbprint of its coordinates."""


class KeyArnMismatch(DirectoryError):
    """A key's ``key_arn`` is no KMS key ARN, repeated, or (checked against KMS) holds another public key."""


class Expired(DirectoryError):
    """The directory's ``exp`` has passed (beyond ``CLOCK_SKEW``): its publisher has not republished it."""


class NotYetValid(DirectoryError):
    """The directory's ``iat`` is still ahead (beyond ``CLOCK_SKEW``): a clock is wrong, or it was signed
    ahead of time."""


class Replayed(DirectoryError):
    """The directory's ``serial`` is below the newest the reader has seen: an older directory, replayed."""


@dataclass(frozen=True)
class SignedDirectory:
    """A directory whose signature, keys and claims checked out (``issued_at``, ``expires_at``: epoch
    seconds)."""

    keys: list[dict[str, Any]]
    serial: int
    issued_at: int
    expires_at: int


@dataclass(frozen=True)
class PublishedKey:
    """One generation as published: its public key and what the stack says about it."""

    public_key: ec.EllipticCurvePublicKey
    key_arn: str
    key_spec: str
    generation: str | None
    current: bool
    retire_after: str | None

    def jwk(self) -> dict[str, Any]:
        return {
            **public_jwk(self.public_key),
            "key_arn": self.key_arn,
            "key_spec": self.key_spec,
            "generation": self.generation,
            "status": "active",
            "current": self.current,
            "retire_after": self.retire_after,
        }


def document(
    keys: Iterable[PublishedKey], *, serial: int, issued_at: int, max_age: datetime.timedelta
) -> dict[str, Any]:
    """The JWK Set of ``keys``, publication ``serial`` (from 1), signed at ``issued_at`` (epoch seconds) and
    valid for ``max_age`` (whole seconds, at most ``MAX_VALIDITY``)."""
    if isinstance(serial, bool) or not isinstance(serial, int) or serial < 1:
        raise ValueError(f"a directory's serial is an integer from 1, got {serial!r}")
    if isinstance(issued_at, bool) or not isinstance(issued_at, int):
        raise ValueError(f"a directory's issued_at is whole seconds since the epoch, got {issued_at!r}")
    if not datetime.timedelta(seconds=1) <= max_age <= MAX_VALIDITY:
        raise ValueError(f"a directory's max_age is 1 s to {MAX_VALIDITY.days} days, got {max_age}")
    return {
        "keys": [key.jwk() for key in keys],
        "iat": issued_at,
        "exp": issued_at + int(max_age.total_seconds()),
        "serial": serial,
    }


def signing_kid(public_key: ec.EllipticCurvePublicKey) -> str:
    """The kid of the signing key: the thumbprint of its public JWK."""
    return public_jwk(public_key, use="sig")["kid"]


def sign(
    payload: Mapping[str, Any],
    signing_public_key: ec.EllipticCurvePublicKey,
    sign_der: Callable[[bytes], bytes],
) -> str:
    """The compact JWS of ``payload`` (as JSON), ES384.

    ``sign_der`` signs the JWS signing input and returns a DER ECDSA signature, as KMS ``Sign`` with
    ``ECDSA_SHA_384`` does; ``signing_public_key`` names the signer (its thumbprint is the header's ``kid``).
    """
    if not isinstance(signing_public_key.curve, ec.SECP384R1):
        raise ValueError(f"{ALGORITHM} needs a P-384 signing key, got {signing_public_key.curve.name}")
    header = {"alg": ALGORITHM, "kid": signing_kid(signing_public_key), "cty": CONTENT_TYPE}
    signing_input = _part(header) + "." + _part(payload)
    r, s = decode_dss_signature(sign_der(signing_input.encode("ascii")))
    signature = r.to_bytes(_COORDINATE_SIZE, "big") + s.to_bytes(_COORDINATE_SIZE, "big")
    return signing_input + "." + b64url(signature)


def verify(
    token: str,
    pinned_public_key: ec.EllipticCurvePublicKey,
    kms_public_key: Callable[[str], bytes] | None = None,
    *,
    now: float | None = None,
) -> SignedDirectory:
    """A directory JWS that checks out against ``pinned_public_key`` and is valid at ``now`` (epoch seconds,
    default: this machine's clock), else a DirectoryError.

    ``kms_public_key(key_arn)`` (KMS ``GetPublicKey``: DER SubjectPublicKeyInfo), when given, must hold each
    key's very public key. Whether it is older than one already seen is ``check_not_replayed``'s question.
    """
    directory = read_signed(token, pinned_public_key, kms_public_key)
    check_valid_at(directory, time.time() if now is None else now)
    return directory


def read_signed(
    token: str,
    pinned_public_key: ec.EllipticCurvePublicKey,
    kms_public_key: Callable[[str], bytes] | None = None,
) -> SignedDirectory:
    """``verify`` without the time: signature, signer, claims and keys (a publisher reading the last one)."""
    return _directory(_signed_payload(token, pinned_public_key), kms_public_key)


def published_serial(token: str, pinned_public_key: ec.EllipticCurvePublicKey) -> int:
    """The serial of the published ``token``, which the next publication exceeds by one.

    A document signed by the pinned key before directories carried claims (none of ``iat``, ``exp``,
    ``serial``) counts as serial 0; anything else must check out as ``read_signed`` checks it.
    """
    payload = _signed_payload(token, pinned_public_key)
    if not any(claim in payload for claim in CLAIMS):
        return 0
    return _directory(payload, None).serial


def check_valid_at(directory: SignedDirectory, now: float) -> None:
    """``Expired`` past ``exp``, ``NotYetValid`` before ``iat``, each beyond ``CLOCK_SKEW``."""
    skew = CLOCK_SKEW.total_seconds()
    if now > directory.expires_at + skew:
        raise Expired(
            f"serial {directory.serial} expired at {iso_utc(directory.expires_at)} (exp; now {iso_utc(now)}, "
            f"clock skew allowed {skew:.0f} s): its publisher has not republished the directory since"
        )
    if now < directory.issued_at - skew:
        raise NotYetValid(
            f"serial {directory.serial} is issued at {iso_utc(directory.issued_at)} (iat), after now "
            f"({iso_utc(now)}, clock skew allowed {skew:.0f} s): this machine's clock or the publisher's "
            "is wrong"
        )


def check_not_replayed(directory: SignedDirectory, newest_serial: int, newest: str) -> None:
    """``Replayed`` if ``directory`` is older than serial ``newest_serial`` (``newest`` says whose it is)."""
    if directory.serial < newest_serial:
        raise Replayed(
            f"serial {directory.serial} (issued {iso_utc(directory.issued_at)}) is older than serial "
            f"{newest_serial}, {newest}: an older directory, replayed"
        )


def _signed_payload(token: str, pinned_public_key: ec.EllipticCurvePublicKey) -> dict[str, Any]:
    """The payload of ``token`` once its header names the pinned key and its signature verifies."""
    header, payload, signing_input, signature = _parts(token)
    if header.get("alg") != ALGORITHM:
        raise MalformedDirectory(f"the JWS header's alg is {header.get('alg')!r}, not {ALGORITHM}")
    pinned_kid = signing_kid(pinned_public_key)
    if header.get("kid") != pinned_kid:
        raise WrongSigner(
            f"signed by the key with kid {header.get('kid')!r}, "
            f"not by the pinned signing key (kid {pinned_kid})"
        )
    if len(signature) != 2 * _COORDINATE_SIZE:
        raise BadSignature(f"the signature is {len(signature)} bytes, an {ALGORITHM} signature is 96")
    der = encode_dss_signature(
        int.from_bytes(signature[:_COORDINATE_SIZE], "big"),
        int.from_bytes(signature[_COORDINATE_SIZE:], "big"),
    )
    try:
        pinned_public_key.verify(der, signing_input, ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        raise BadSignature(
            "the signature does not verify with the pinned signing key: "
            "the document or its header was altered"
        ) from None
    return _json_object(payload, _PART_NAMES[1])


def _directory(payload: Mapping[str, Any], kms_public_key: Callable[[str], bytes] | None) -> SignedDirectory:
    serial, issued_at, expires_at = _claims(payload)
    keys = payload.get("keys")
    if not isinstance(keys, list) or not keys:
        raise MalformedDirectory("the signed document is not a JWK Set with keys")
    return SignedDirectory(_checked_keys(keys, kms_public_key), serial, issued_at, expires_at)


def _claims(payload: Mapping[str, Any]) -> tuple[int, int, int]:
    """``serial``, ``iat`` and ``exp``: integers, ``serial`` from 1, ``exp`` after ``iat`` by at most
    ``MAX_VALIDITY``."""
    for claim in CLAIMS:
        value = payload.get(claim)
        # bool is an int subclass; `true` is no time and no serial.
        if isinstance(value, bool) or not isinstance(value, int):
            raise MalformedDirectory(f"the signed document's {claim} is not an integer: {value!r}")
    serial, issued_at, expires_at = payload["serial"], payload["iat"], payload["exp"]
    if serial < 1:
        raise MalformedDirectory(f"the signed document's serial is {serial}, serials start at 1")
    validity = expires_at - issued_at
    if not 0 < validity <= MAX_VALIDITY.total_seconds():
        raise MalformedDirectory(
            f"the signed document is valid for {validity} s (exp - iat), not 1 s to {MAX_VALIDITY.days} days"
        )
    return serial, issued_at, expires_at


def iso_utc(seconds: float) -> str:
    """``seconds`` since the epoch as ISO 8601 UTC; a signed claim outside datetime's years as a number."""
    try:
        moment = datetime.datetime.fromtimestamp(int(seconds), datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return f"{int(seconds)} s after 1970-01-01T00:00:00Z"
    return moment.isoformat().replace("+00:00", "Z")


def current_keys(keys: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The current generation of each key spec, in document order."""
    return [key for key in keys if key.get("current") is True]


def _checked_keys(keys: list[Any], kms_public_key: Callable[[str], bytes] | None) -> list[dict[str, Any]]:
    seen_arns: set[str] = set()
    for index, key in enumerate(keys):
        if not isinstance(key, dict):
            raise MalformedDirectory(f"keys[{index}] is not a JWK")
        try:
            public_key = load_public_jwk(key)
            expected_kid = thumbprint(key)
        except InvalidPublicKey as error:
            raise MalformedDirectory(f"keys[{index}] is not a public EC JWK: {error}") from None
        if key.get("kid") != expected_kid:
            raise KidMismatch(
                f"keys[{index}] has kid {key.get('kid')!r}, but its coordinates' thumbprint is {expected_kid}"
            )
        arn = key.get("key_arn")
        if not isinstance(arn, str) or not KEY_ARN_PATTERN.fullmatch(arn):
            raise KeyArnMismatch(f"keys[{index}] (kid {expected_kid}) has no KMS key ARN as key_arn: {arn!r}")
        if arn in seen_arns:
            raise KeyArnMismatch(f"keys[{index}] (kid {expected_kid}) repeats key_arn {arn}")
        seen_arns.add(arn)
        if kms_public_key is not None and kms_public_key(arn) != public_key_der(public_key):
            raise KeyArnMismatch(
                f"keys[{index}] (kid {expected_kid}): KMS holds another public key for key_arn {arn}"
            )
    return keys


def _part(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), sort_keys=True).encode("utf-8"))


def _parts(token: str) -> tuple[dict[str, Any], bytes, bytes, bytes]:
    """The header (parsed), the payload and the signature (decoded) and the signing input of a compact JWS.

    The payload is parsed only once the signature verified: an altered document is a bad signature.
    """
    token = token.strip()
    if len(token) > MAX_DIRECTORY_SIZE:
        raise MalformedDirectory(f"larger than {MAX_DIRECTORY_SIZE} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedDirectory(f"a compact JWS has 3 parts separated by '.', this has {len(parts)}")
    header, payload, signature = (
        b64url_decode(part, what, MalformedDirectory) for part, what in zip(parts, _PART_NAMES, strict=True)
    )
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    return _json_object(header, _PART_NAMES[0]), payload, signing_input, signature


_PART_NAMES = ("the JWS header", "the JWS payload", "the JWS signature")


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        raise MalformedDirectory(f"{what} is not JSON") from None
    if not isinstance(value, dict):
        raise MalformedDirectory(f"{what} is not a JSON object")
    return value
