"""EC keys as JSON Web Keys (RFC 7517, RFC 7518 §6.2), RFC 7638 thumbprints and JWK Sets.

``public_jwk`` writes ``{"kty": "EC", "crv", "x", "y", "use": "enc", "kid"}`` with ``x`` and ``y`` the
base64url (unpadded) big-endian coordinates, each exactly the curve's field size (RFC 7518 §6.2.1.2),
and ``kid`` the RFC 7638 SHA-256 thumbprint. ``load_public_jwk`` reads one back strictly: the same
members and sizes, the point validated on its curve like any peer key (``kmsecdh.keys``), and a JWK
holding a private key (``d``) refused where a public key is expected.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import InvalidPublicKey
from kmsecdh.keys import KEY_SPECS, curve_for, key_spec_of, load_peer_public_key

CRV_KEY_SPECS = {"P-256": "ECC_NIST_P256", "P-384": "ECC_NIST_P384", "P-521": "ECC_NIST_P521"}
KEY_SPEC_CRVS = {key_spec: crv for crv, key_spec in CRV_KEY_SPECS.items()}
THUMBPRINT_MEMBERS: dict[str, tuple[str, ...]] = {
    "EC": ("crv", "kty", "x", "y"),
    "RSA": ("e", "kty", "n"),
    "OKP": ("crv", "kty", "x"),
    "oct": ("k", "kty"),
}
"""RFC 7638 §3.2 and RFC 8037 §2: the required members of each key type, in lexicographic order."""
MAX_JWK_SIZE = 4096

_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object, what: str, error: type[Exception] = InvalidPublicKey) -> bytes:
    """Strict unpadded base64url: only the URL-safe alphabet, no padding, no whitespace, canonical."""
    if not isinstance(text, str) or not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        raise error(f"{what} is not unpadded base64url")
    decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64url(decoded) != text:  # the unused low bits of the last character must be zero
        raise error(f"{what} is not canonical base64url")
    return decoded


def public_jwk(public_key: ec.EllipticCurvePublicKey, *, use: str | None = "enc") -> dict[str, str]:
    """The EC public JWK of ``public_key`` with ``use`` (omitted when None) and its thumbprint as ``kid``."""
    key_spec = key_spec_of(public_key)
    size = KEY_SPECS[key_spec].field_size
    numbers = public_key.public_numbers()
    jwk = {
        "kty": "EC",
        "crv": KEY_SPEC_CRVS[key_spec],
        "x": b64url(numbers.x.to_bytes(size, "big")),
        "y": b64url(numbers.y.to_bytes(size, "big")),
    }
    if use is not None:
        jwk["use"] = use
    jwk["kid"] = thumbprint(jwk)
    return jwk


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """The RFC 7638 JWK thumbprint (SHA-256, base64url): the hash of the key type's required members
    only (for EC: ``crv``, ``kty``, ``x``, ``y``), as JSON in lexicographic order, without whitespace."""
    members = THUMBPRINT_MEMBERS.get(jwk.get("kty"))  # type: ignore[arg-type]
    if members is None or not all(isinstance(jwk.get(name), str) for name in members):
        raise InvalidPublicKey(
            f"a thumbprint needs a JWK of kty {', '.join(THUMBPRINT_MEMBERS)} with its required members"
        )
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"), ensure_ascii=False)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def jwks(public_keys: Iterable[ec.EllipticCurvePublicKey]) -> dict[str, list[dict[str, str]]]:
    """A JWK Set (RFC 7517 §5) of encryption keys."""
    return {"keys": [public_jwk(key) for key in public_keys]}


def parse_jwk_json(data: bytes | str, what: str = "JWK") -> dict[str, Any]:
    """A JSON object from a JWK file; duplicate member names are refused (RFC 7517 §4)."""
    if len(data) > MAX_JWK_SIZE:
        raise InvalidPublicKey(f"{what} is larger than {MAX_JWK_SIZE} bytes")
    try:
        value = json.loads(data, object_pairs_hook=_unique_members)
    except (ValueError, UnicodeDecodeError):
        raise InvalidPublicKey(f"{what} is not a JSON object") from None
    if not isinstance(value, dict):
        raise InvalidPublicKey(f"{what} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError("duplicate member")
        result[name] = value
    return result


def load_public_jwk(
    jwk: Mapping[str, Any] | bytes | str, key_spec: str | None = None, *, what: str = "JWK"
) -> ec.EllipticCurvePublicKey:
    """The validated EC public key of a JWK (an object, or its JSON), on ``key_spec``'s curve if given.

    Refused, each with InvalidPublicKey: another ``kty``, an unknown or unexpected ``crv``, missing or
    non-canonical coordinates, coordinates not of the field size, a point off the curve, and a ``d``.
    """
    if isinstance(jwk, bytes | str):
        jwk = parse_jwk_json(jwk, what)
    if not isinstance(jwk, Mapping):
        raise InvalidPublicKey(f"{what} is not a JSON object")
    if jwk.get("kty") != "EC":
        raise InvalidPublicKey(f"{what} kty must be EC")
    if "d" in jwk:
        raise InvalidPublicKey(f"{what} holds a private key (d): give the public key only")
    crv = jwk.get("crv")
    if crv not in CRV_KEY_SPECS:
        raise InvalidPublicKey(f"{what} crv must be one of {', '.join(CRV_KEY_SPECS)}")
    if key_spec is not None and CRV_KEY_SPECS[crv] != key_spec:
        raise InvalidPublicKey(f"{what} is on curve {crv}, expected {KEY_SPEC_CRVS.get(key_spec, key_spec)}")
    spec = curve_for(CRV_KEY_SPECS[crv])
    x, y = (b64url_decode(jwk.get(name), f"{what} {name}") for name in ("x", "y"))
    if len(x) != spec.field_size or len(y) != spec.field_size:
        raise InvalidPublicKey(f"{what} x and y must each be {spec.field_size} bytes for {crv}")
    return load_peer_public_key(b"\x04" + x + y, spec.name)


def load_private_jwk(jwk: Mapping[str, Any] | bytes | str) -> ec.EllipticCurvePrivateKey:
    """The EC private key of a private JWK; ``x`` and ``y`` must be its public key. ValueError otherwise."""
    if isinstance(jwk, bytes | str):
        jwk = parse_jwk_json(jwk, "private JWK")
    public_part = {name: value for name, value in jwk.items() if name != "d"}
    public_key = load_public_jwk(public_part, what="private JWK")
    size = KEY_SPECS[key_spec_of(public_key)].field_size
    d = b64url_decode(jwk.get("d"), "private JWK d", ValueError)
    if len(d) != size:
        raise ValueError(f"private JWK d must be {size} bytes")
    private_key = ec.derive_private_key(int.from_bytes(d, "big"), public_key.curve)
    if private_key.public_key() != public_key:
        raise ValueError("private JWK x and y are not the public key of d")
    return private_key
