"""The signed public-key directory: every active generation's public key as a JWK Set, signed as a JWS.

The document is a JWK Set (RFC 7517) whose keys carry, besides ``kty``, ``crv``, ``x``, ``y``, ``use``
(``enc``) and ``kid`` (the RFC 7638 thumbprint), the KMS ``key_arn``, the ``key_spec``, the ``generation``
(null for a spec without generations), its ``status`` (``active``), ``current`` (the generation the spec's
alias names) and ``retire_after`` (``YYYY-MM-DD`` or null). It is signed as a JWS in compact serialization
(RFC 7515) with ES384 (RFC 7518 §3.4: ECDSA P-384 with SHA-384, the signature as ``r || s``, 48 bytes each) by
a SIGN_VERIFY KMS key of the environment: ``Sign`` with ``ECDSA_SHA_384`` over the JWS signing input.

A reader pins the signing key's public key (obtained once, out of band or with ``kms:GetPublicKey``) and
``verify`` checks, each refusal its own class: the signature (``BadSignature``), that the pinned key signed
(``WrongSigner``: the header's ``kid`` names another key), every key's ``kid`` against its coordinates
(``KidMismatch``), and every ``key_arn`` (``KeyArnMismatch``: not a KMS key ARN, twice in the document,
or, when ``kms_public_key`` is given, a public key in KMS other than the JWK's).
"""

from __future__ import annotations

import json
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


def document(keys: Iterable[PublishedKey]) -> dict[str, Any]:
    """The JWK Set of ``keys``."""
    return {"keys": [key.jwk() for key in keys]}


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
) -> list[dict[str, Any]]:
    """The keys of a directory JWS that checks out against ``pinned_public_key``, else a DirectoryError.

    ``kms_public_key(key_arn)`` (KMS ``GetPublicKey``: DER SubjectPublicKeyInfo), when given, must hold each
    key's very public key.
    """
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
    keys = _json_object(payload, _PART_NAMES[1]).get("keys")
    if not isinstance(keys, list) or not keys:
        raise MalformedDirectory("the signed document is not a JWK Set with keys")
    return _checked_keys(keys, kms_public_key)


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
