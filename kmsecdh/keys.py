"""Peer public keys for KMS ECDH: loading, strict validation and encoding.

A peer public key arrives as DER SubjectPublicKeyInfo (bytes, or base64 text), PEM, or a raw SEC1
point, and must lie on the curve of the KMS key it is combined with. cryptography loads an SPKI of
another *named* curve without complaint (the exchange then fails with a generic error) and raises
``UnsupportedAlgorithm`` for explicit parameters, so the structural and curve checks are done here,
each with its own stable message. Every failure is ``InvalidPublicKey``; messages never echo the
input. The NIST prime curves have cofactor 1, so a point on the curve (and not the point at
infinity) is in the prime-order subgroup: full public key validation per SP 800-56A §5.6.2.3.3.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.encoding import b64decode
from kmsecdh.errors import InvalidPublicKey, InvalidRequest

KEY_AGREEMENT = "KEY_AGREEMENT"
"""The KMS ``KeyUsage`` of every key kmsecdh derives with."""

MAX_PEER_PUBLIC_KEY_SIZE = 4096
"""Upper bound, in bytes or characters, checked before any parsing (a P-521 PEM key is about 270)."""


@dataclass(frozen=True)
class KeySpec:
    """A KMS key spec for key agreement and the curve it denotes."""

    name: str
    curve: type[ec.EllipticCurve]

    @property
    def nist_name(self) -> str:
        """The curve's NIST name, as OpenSSL's ``-curve`` and the command line spell it (``P-256``)."""
        return f"P-{self.curve.key_size}"

    @property
    def field_size(self) -> int:
        """Bytes of one field element: the length of a coordinate and of the shared secret Z."""
        return (self.curve.key_size + 7) // 8

    @functools.cached_property
    def spki_prefix(self) -> bytes:
        """What every DER SubjectPublicKeyInfo of an uncompressed point on this curve starts with.

        The encoding KMS GetPublicKey returns, OpenSSL writes by default and DeriveSharedSecret takes:
        everything but the point's coordinates is fixed by the curve.
        """
        generator = ec.derive_private_key(1, self.curve()).public_key()
        return public_key_der(generator)[: -2 * self.field_size]

    def is_canonical_spki(self, der: bytes) -> bool:
        """Whether ``der`` is laid out as an uncompressed SPKI on this curve (the point is not checked)."""
        return len(der) == len(self.spki_prefix) + 2 * self.field_size and der.startswith(self.spki_prefix)


KEY_SPECS: dict[str, KeySpec] = {
    spec.name: spec
    for spec in (
        KeySpec("ECC_NIST_P256", ec.SECP256R1),
        KeySpec("ECC_NIST_P384", ec.SECP384R1),
        KeySpec("ECC_NIST_P521", ec.SECP521R1),
    )
}

KEY_SPEC_BY_CURVE: dict[str, str] = {spec.nist_name: spec.name for spec in KEY_SPECS.values()}
"""Key spec names by NIST curve name (``P-256`` -> ``ECC_NIST_P256``)."""

_SPEC_BY_CURVE_NAME = {spec.curve.name: spec for spec in KEY_SPECS.values()}

# Curve names by OID for every named curve cryptography knows, to name a wrong curve in messages.
_CURVE_NAME_BY_OID = {
    oid.dotted_string: ec.get_curve_for_oid(oid).name
    for oid in vars(ec.EllipticCurveOID).values()
    if isinstance(oid, ec.ObjectIdentifier)
}

_ID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
_DER_SEQUENCE, _DER_BIT_STRING, _DER_NULL, _DER_OID = 0x30, 0x03, 0x05, 0x06
_SEC1_INFINITY, _SEC1_UNCOMPRESSED = 0x00, 0x04
_SEC1_COMPRESSED = (0x02, 0x03)
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----", re.DOTALL)
_PEM_LABEL = b"PUBLIC KEY"
_ASCII_WHITESPACE = b" \t\r\n"


def curve_for(key_spec: str) -> KeySpec:
    """The KeySpec named ``key_spec`` (``ECC_NIST_P256/384/521``), or InvalidRequest."""
    try:
        return KEY_SPECS[key_spec]
    except (KeyError, TypeError):
        raise InvalidRequest(f"unsupported key spec; expected one of {', '.join(KEY_SPECS)}") from None


def key_spec_of(public_key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> str:
    """The KMS key spec of ``public_key``'s curve, or InvalidPublicKey for any other key."""
    if not isinstance(public_key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        raise InvalidPublicKey("not an elliptic-curve key")
    try:
        return _SPEC_BY_CURVE_NAME[public_key.curve.name].name
    except KeyError:
        raise InvalidPublicKey(f"curve {public_key.curve.name} is not a supported key spec") from None


def load_peer_public_key(data: bytes | str, key_spec: str) -> ec.EllipticCurvePublicKey:
    """Load and fully validate a peer public key that must lie on the curve of ``key_spec``.

    Input starting with ``-----`` (after ASCII whitespace) is PEM; other text is base64; other
    bytes are told apart by their first byte:

    * PEM text or bytes: exactly one ``-----BEGIN PUBLIC KEY-----`` block with ASCII whitespace
      around it and nothing else; its body is base64, decoded strictly (line breaks allowed).
    * DER SubjectPublicKeyInfo (first byte 0x30), algorithm id-ecPublicKey with a named curve; the
      point inside may be uncompressed or compressed. Strict DER: definite minimal lengths, no
      extra fields, and no trailing bytes after the outer SEQUENCE.
    * Raw SEC1 point (first byte 0x04, 0x02 or 0x03): ``04||X||Y`` or ``02/03||X``, each
      coordinate exactly the field size.
    * Base64 text: decoded strictly (``validate=True``) once ASCII whitespace and line breaks are
      removed, then read like bytes (so it may carry DER or a raw point).

    Anything else, including more than MAX_PEER_PUBLIC_KEY_SIZE bytes or characters (checked
    before parsing), raises InvalidPublicKey. An unknown ``key_spec`` raises InvalidRequest.
    """
    spec = curve_for(key_spec)
    return _load_binary(*_binary(data), spec)


def load_peer_public_key_der(data: bytes | str, key_spec: str) -> bytes:
    """The peer public key, validated exactly as load_peer_public_key does, as the DER SPKI KMS takes.

    An input that already is an uncompressed DER SubjectPublicKeyInfo (directly, in base64 or in PEM)
    comes back as those very bytes; any other form is re-encoded that way.
    """
    spec = curve_for(key_spec)
    binary, must_be_der = _binary(data)
    public_key = _load_binary(binary, must_be_der, spec)
    return binary if spec.is_canonical_spki(binary) else public_key_der(public_key)


def ecdh_shared_secret(
    private_key: ec.EllipticCurvePrivateKey, peer_public_key: ec.EllipticCurvePublicKey
) -> bytes:
    """The ECDH shared secret Z (the x-coordinate, field-size bytes) of our key and the peer's."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
        peer_public_key, ec.EllipticCurvePublicKey
    ):
        raise InvalidPublicKey("ECDH needs an elliptic-curve private key and peer public key")
    if private_key.curve.name != peer_public_key.curve.name:
        raise InvalidPublicKey(
            f"peer public key is on curve {peer_public_key.curve.name}, "
            f"expected {private_key.curve.name} like the private key"
        )
    try:
        return private_key.exchange(ec.ECDH(), peer_public_key)
    except ValueError:
        raise InvalidPublicKey("ECDH with the peer public key failed") from None


def public_key_der(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """DER SubjectPublicKeyInfo, the form KMS GetPublicKey returns and DeriveSharedSecret takes."""
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_pem(public_key: ec.EllipticCurvePublicKey) -> str:
    """PEM SubjectPublicKeyInfo (``-----BEGIN PUBLIC KEY-----``), the form OpenSSL writes."""
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def _is_pem(data: bytes | bytearray) -> bool:
    return data.lstrip(_ASCII_WHITESPACE).startswith(b"-----")


def _binary(data: bytes | str) -> tuple[bytes, bool]:
    """The key's bytes once PEM or base64 text is decoded, and whether they must be DER (from PEM)."""
    if not isinstance(data, bytes | bytearray | str):
        raise InvalidPublicKey("peer public key must be bytes or text")
    if len(data) > MAX_PEER_PUBLIC_KEY_SIZE:
        raise InvalidPublicKey(f"peer public key is larger than {MAX_PEER_PUBLIC_KEY_SIZE} bytes")
    if isinstance(data, str):
        if not data.isascii():
            raise InvalidPublicKey("peer public key text must be ASCII (PEM or base64)")
        text = data.encode("ascii")
        if _is_pem(text):
            return _pem_body(text), True
        return _b64decode(text, "peer public key text is neither PEM nor valid base64"), False
    if _is_pem(data):
        return _pem_body(bytes(data)), True
    return bytes(data), False


def _load_binary(data: bytes, must_be_der: bool, spec: KeySpec) -> ec.EllipticCurvePublicKey:
    if must_be_der:
        return _load_der(data, spec)
    if not data:
        raise InvalidPublicKey("peer public key is empty")
    if data[0] == _DER_SEQUENCE:
        return _load_der(data, spec)
    if data[0] in (_SEC1_INFINITY, _SEC1_UNCOMPRESSED, *_SEC1_COMPRESSED):
        return _load_point(data, spec)
    raise InvalidPublicKey(
        "peer public key is not parseable: expected DER SubjectPublicKeyInfo, PEM or a SEC1 point"
    )


def _b64decode(text: bytes, message: str) -> bytes:
    compact = text.translate(None, _ASCII_WHITESPACE)
    try:
        return b64decode(compact)
    except ValueError:
        raise InvalidPublicKey(message) from None


def _pem_body(raw: bytes) -> bytes:
    stripped = raw.strip(_ASCII_WHITESPACE)
    match = _PEM.match(stripped)
    if match is None:
        raise InvalidPublicKey("peer public key PEM is not parseable: no complete BEGIN/END block")
    if match.group(1) != _PEM_LABEL:
        raise InvalidPublicKey(
            "peer public key PEM must be a PUBLIC KEY (SubjectPublicKeyInfo) block; "
            "private keys, certificates and other blocks are not accepted"
        )
    if match.end() != len(stripped):
        raise InvalidPublicKey("trailing data after the peer public key PEM block")
    return _b64decode(match.group(2), "peer public key PEM body is not valid base64")


def _load_point(point: bytes, spec: KeySpec) -> ec.EllipticCurvePublicKey:
    """A raw SEC1 point on ``spec``'s curve; rejects infinity, bad lengths and points off the curve."""
    _check_point_encoding(point, spec)
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(spec.curve(), point)
    except ValueError:
        raise InvalidPublicKey(f"peer public key point is not on the curve of {spec.name}") from None


def _check_point_encoding(point: bytes, spec: KeySpec) -> None:
    """The SEC1 form and length checks of a point, without decoding it."""
    size = spec.field_size
    if not point:
        raise InvalidPublicKey("peer public key point is empty")
    if point == bytes([_SEC1_INFINITY]):
        raise InvalidPublicKey("peer public key is the point at infinity")
    if point[0] not in (_SEC1_UNCOMPRESSED, *_SEC1_COMPRESSED):
        raise InvalidPublicKey("peer public key point has an unsupported SEC1 encoding")
    expected = 1 + 2 * size if point[0] == _SEC1_UNCOMPRESSED else 1 + size
    if len(point) != expected:
        form = "uncompressed" if point[0] == _SEC1_UNCOMPRESSED else "compressed"
        raise InvalidPublicKey(
            f"peer public key {form} point must be {expected} bytes for {spec.name}, got {len(point)}"
        )


def _load_der(der: bytes, spec: KeySpec) -> ec.EllipticCurvePublicKey:
    """A DER SubjectPublicKeyInfo on ``spec``'s curve.

    The structure is walked here to say precisely what is wrong (and to catch another named curve,
    which cryptography would load); the point goes through the same checks as a raw point, and
    cryptography's own DER parser has the last word on the whole encoding. The usual encoding (an
    uncompressed point) skips the walk: its layout is fixed, so only the point remains to be checked,
    and cryptography checks it; the walk runs only when it refuses, to say why.
    """
    if spec.is_canonical_spki(der):
        try:
            return serialization.load_der_public_key(der)
        except (ValueError, UnsupportedAlgorithm):
            pass
    tag, start, end = _read_tlv(der, 0)
    if tag != _DER_SEQUENCE:
        raise InvalidPublicKey("peer public key DER is not a SubjectPublicKeyInfo SEQUENCE")
    if end != len(der):
        raise InvalidPublicKey("trailing data after the peer public key DER SubjectPublicKeyInfo")
    algorithm_tag, algorithm_start, algorithm_end = _read_tlv(der, start, end)
    key_tag, key_start, key_end = _read_tlv(der, algorithm_end, end)
    if algorithm_tag != _DER_SEQUENCE or key_tag != _DER_BIT_STRING or key_end != end:
        raise InvalidPublicKey("peer public key DER is not a SubjectPublicKeyInfo")
    _check_ec_parameters_once(der[algorithm_start:algorithm_end], spec)
    if key_start == key_end or der[key_start] != 0:
        raise InvalidPublicKey("peer public key DER BIT STRING has unused bits or is empty")
    point = der[key_start + 1 : key_end]
    _check_point_encoding(point, spec)
    try:
        public_key = serialization.load_der_public_key(der)
    except (ValueError, UnsupportedAlgorithm):
        # Decode the point alone only now, to say precisely when it is what is wrong.
        _load_point(point, spec)
        raise InvalidPublicKey("peer public key DER SubjectPublicKeyInfo is malformed") from None
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.curve.name != spec.curve.name:
        raise InvalidPublicKey(f"peer public key is not an elliptic-curve key on {spec.name}")
    return public_key


@functools.lru_cache(maxsize=8)
def _check_ec_parameters_once(algorithm_identifier: bytes, spec: KeySpec) -> None:
    """_check_ec_parameters, remembered for the few AlgorithmIdentifiers that pass (failures raise,
    so they are never cached)."""
    _check_ec_parameters(algorithm_identifier, 0, len(algorithm_identifier), spec)


def _check_ec_parameters(der: bytes, start: int, end: int, spec: KeySpec) -> None:
    oid_tag, oid_start, oid_end = _read_tlv(der, start, end)
    if oid_tag != _DER_OID or _decode_oid(der[oid_start:oid_end]) != _ID_EC_PUBLIC_KEY:
        raise InvalidPublicKey("peer public key is not an elliptic-curve (id-ecPublicKey) key")
    if oid_end == end:
        raise InvalidPublicKey("peer public key DER has no curve parameters")
    params_tag, params_start, params_end = _read_tlv(der, oid_end, end)
    if params_end != end:
        raise InvalidPublicKey("peer public key DER AlgorithmIdentifier has extra fields")
    if params_tag == _DER_SEQUENCE:
        raise InvalidPublicKey("explicit curve parameters are not supported; use a named curve")
    if params_tag == _DER_NULL:
        raise InvalidPublicKey("implicit curve parameters are not supported; use a named curve")
    if params_tag != _DER_OID:
        raise InvalidPublicKey("peer public key DER curve parameters are malformed")
    curve_oid = _decode_oid(der[params_start:params_end])
    curve_name = _CURVE_NAME_BY_OID.get(curve_oid)
    if curve_name is None:
        raise InvalidPublicKey(f"peer public key names an unsupported curve; expected {spec.curve.name}")
    if curve_name != spec.curve.name:
        raise InvalidPublicKey(
            f"peer public key is on curve {curve_name}, expected {spec.curve.name} ({spec.name})"
        )


def _read_tlv(der: bytes, offset: int, limit: int | None = None) -> tuple[int, int, int]:
    """(tag, content start, content end) of the DER element at ``offset``, which must end by ``limit``."""
    limit = len(der) if limit is None else limit
    if offset + 2 > limit:
        raise InvalidPublicKey("peer public key DER is truncated")
    tag, first = der[offset], der[offset + 1]
    if tag & 0x1F == 0x1F:
        raise InvalidPublicKey("peer public key DER uses an unsupported tag form")
    start = offset + 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        # DER: definite length, as few bytes as possible, long form only from 128 on. Two length
        # bytes cover any input under MAX_PEER_PUBLIC_KEY_SIZE.
        if count == 0 or count > 2 or start + count > limit:
            raise InvalidPublicKey("peer public key DER has an invalid length")
        length = int.from_bytes(der[start : start + count], "big")
        if length < 0x80 or length >> (8 * (count - 1)) == 0:
            raise InvalidPublicKey("peer public key DER has a non-minimal length")
        start += count
    if start + length > limit:
        raise InvalidPublicKey("peer public key DER is truncated")
    return tag, start, start + length


def _decode_oid(content: bytes) -> str | None:
    """The dotted form of a DER OBJECT IDENTIFIER's content, or None when malformed."""
    arcs: list[int] = []
    value = 0
    for index, byte in enumerate(content):
        starts_arc = index == 0 or content[index - 1] < 0x80
        if starts_arc and byte == 0x80:  # a leading 0x80 pads an arc: not minimal, so not DER
            return None
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            arcs.append(value)
            value = 0
    if not arcs or content[-1] >= 0x80:
        return None
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in (first, arcs[0] - 40 * first, *arcs[1:]))
