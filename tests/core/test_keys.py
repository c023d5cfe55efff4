"""kmsecdh.keys: each way a peer public key can be wrong gets its own InvalidPublicKey message."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from kmsecdh.errors import InvalidPublicKey, InvalidRequest
from kmsecdh.keys import (
    KEY_SPECS,
    MAX_PEER_PUBLIC_KEY_SIZE,
    curve_for,
    ecdh_shared_secret,
    key_spec_of,
    load_peer_public_key,
    load_peer_public_key_der,
    public_key_der,
    public_key_pem,
)
from tests.core.vectors import WYCHEPROOF_ASN, WYCHEPROOF_ECPOINT, wycheproof_cases, wycheproof_document

# DER building blocks (X.690), written out so the malformed encodings below are explicit.
ID_EC_PUBLIC_KEY = bytes.fromhex("06072a8648ce3d0201")
SECP256R1_OID = bytes.fromhex("06082a8648ce3d030107")
SECT283K1_OID = bytes.fromhex("06052b81040010")  # 1.3.132.0.16, a binary curve cryptography lacks
RSA_ENCRYPTION_OID = bytes.fromhex("06092a864886f70d010101")
DER_NULL = bytes.fromhex("0500")


def tlv(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = (length.bit_length() + 7) // 8
    return bytes([tag, 0x80 | size]) + length.to_bytes(size, "big") + content


def spki(algorithm: bytes, point: bytes, unused_bits: int = 0) -> bytes:
    return tlv(0x30, tlv(0x30, algorithm) + tlv(0x03, bytes([unused_bits]) + point))


def p256_key() -> ec.EllipticCurvePrivateKey:
    return ec.derive_private_key(0xC0FFEE, ec.SECP256R1())


def uncompressed(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


def compressed(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )


P256_DER = public_key_der(p256_key().public_key())
P256_PEM = public_key_pem(p256_key().public_key())


def test_spki_builder_matches_cryptography() -> None:
    key = p256_key()
    assert spki(ID_EC_PUBLIC_KEY + SECP256R1_OID, uncompressed(key)) == public_key_der(key.public_key())


@pytest.mark.parametrize("key_spec", sorted(KEY_SPECS))
def test_every_form_loads_the_same_key_on_its_curve(key_spec: str) -> None:
    key = ec.derive_private_key(0xC0FFEE, curve_for(key_spec).curve())
    der, pem = public_key_der(key.public_key()), public_key_pem(key.public_key())
    wrapped_base64 = base64.encodebytes(der).decode()  # 76-column lines with newlines
    forms = {
        "der": der,
        "der bytearray": bytearray(der),
        "base64 text": base64.b64encode(der).decode(),
        "wrapped base64 text": wrapped_base64,
        "pem text": pem,
        "pem bytes": pem.encode(),
        "pem with CRLF and surrounding blanks": "\r\n " + pem.replace("\n", "\r\n") + "\n\n",
        "uncompressed point": uncompressed(key),
        "compressed point": compressed(key),
        "base64 of a point": base64.b64encode(compressed(key)).decode(),
    }
    for name, form in forms.items():
        loaded = load_peer_public_key(form, key_spec)
        assert loaded.public_numbers() == key.public_key().public_numbers(), name
        assert key_spec_of(loaded) == key_spec
        assert load_peer_public_key_der(form, key_spec) == der, name


@pytest.mark.parametrize("key_spec", sorted(KEY_SPECS))
def test_the_usual_spki_layout_is_still_checked_point_by_point(key_spec: str) -> None:
    spec = curve_for(key_spec)
    valid = public_key_der(ec.derive_private_key(0xC0FFEE, spec.curve()).public_key())
    assert spec.is_canonical_spki(valid)
    off_curve = valid[: -2 * spec.field_size] + b"\x01" * (2 * spec.field_size)
    above_p = valid[: -2 * spec.field_size] + b"\xff" * (2 * spec.field_size)
    for der in (off_curve, above_p):
        assert spec.is_canonical_spki(der)
        for load in (load_peer_public_key, load_peer_public_key_der):
            with pytest.raises(InvalidPublicKey, match=f"not on the curve of {key_spec}"):
                load(der, key_spec)


@pytest.mark.parametrize(
    ("other_curve", "named"),
    [
        (ec.SECP384R1(), "secp384r1"),
        (ec.SECP521R1(), "secp521r1"),
        (ec.SECP256K1(), "secp256k1"),
        (ec.BrainpoolP256R1(), "brainpoolP256r1"),
        (ec.SECP224R1(), "secp224r1"),
    ],
)
def test_another_named_curve_is_named(other_curve: ec.EllipticCurve, named: str) -> None:
    der = public_key_der(ec.generate_private_key(other_curve).public_key())
    with pytest.raises(InvalidPublicKey, match=f"on curve {named}, expected secp256r1"):
        load_peer_public_key(der, "ECC_NIST_P256")


def test_a_p256_point_given_for_p384() -> None:
    with pytest.raises(InvalidPublicKey, match="must be 97 bytes for ECC_NIST_P384, got 65"):
        load_peer_public_key(uncompressed(p256_key()), "ECC_NIST_P384")
    with pytest.raises(InvalidPublicKey, match="must be 49 bytes for ECC_NIST_P384, got 33"):
        load_peer_public_key(compressed(p256_key()), "ECC_NIST_P384")


def test_invalid_compressed_points_from_wycheproof() -> None:
    """x-coordinates with no point on P-256 (tcId 349) or on its twist (350-355)."""
    cases = [
        case
        for case in wycheproof_cases(wycheproof_document(WYCHEPROOF_ECPOINT))
        if case["result"] == "invalid" and "CompressedPoint" in case["flags"]
    ]
    assert len(cases) == 7
    for case in cases:
        with pytest.raises(InvalidPublicKey, match="point is not on the curve of ECC_NIST_P256"):
            load_peer_public_key(bytes.fromhex(case["public"]), "ECC_NIST_P256")


def test_explicit_curve_parameters_from_wycheproof() -> None:
    unnamed = [
        case
        for case in wycheproof_cases(wycheproof_document(WYCHEPROOF_ASN))
        if "UnnamedCurve" in case["flags"]
    ]
    assert unnamed
    for case in unnamed:
        with pytest.raises(InvalidPublicKey, match="explicit curve parameters are not supported"):
            load_peer_public_key(bytes.fromhex(case["public"]), "ECC_NIST_P256")


MALFORMED_DER = {
    "implicit parameters (NULL)": (
        spki(ID_EC_PUBLIC_KEY + DER_NULL, uncompressed(p256_key())),
        "implicit curve parameters are not supported",
    ),
    "unsupported curve": (
        spki(ID_EC_PUBLIC_KEY + SECT283K1_OID, uncompressed(p256_key())),
        "names an unsupported curve; expected secp256r1",
    ),
    "no parameters": (spki(ID_EC_PUBLIC_KEY, uncompressed(p256_key())), "has no curve parameters"),
    "not an EC key": (spki(RSA_ENCRYPTION_OID + DER_NULL, uncompressed(p256_key())), "not an elliptic-curve"),
    "extra AlgorithmIdentifier field": (
        spki(ID_EC_PUBLIC_KEY + SECP256R1_OID + DER_NULL, uncompressed(p256_key())),
        "AlgorithmIdentifier has extra fields",
    ),
    "unused bits in the BIT STRING": (
        spki(ID_EC_PUBLIC_KEY + SECP256R1_OID, uncompressed(p256_key()), unused_bits=1),
        "BIT STRING has unused bits",
    ),
    "point at infinity": (spki(ID_EC_PUBLIC_KEY + SECP256R1_OID, b"\x00"), "point at infinity"),
    "empty point": (spki(ID_EC_PUBLIC_KEY + SECP256R1_OID, b""), "point is empty"),
    "point off the curve": (
        spki(ID_EC_PUBLIC_KEY + SECP256R1_OID, uncompressed(p256_key())[:-1] + b"\x00"),
        "not on the curve of ECC_NIST_P256",
    ),
    "trailing data": (P256_DER + b"\x00", "trailing data after"),
    "truncated": (P256_DER[:-1], "DER is truncated"),
    "indefinite length": (
        b"\x30\x80" + P256_DER[2:] + b"\x00\x00",
        "invalid length",
    ),
    "non-minimal length": (
        b"\x30\x81\x59" + P256_DER[2:],
        "non-minimal length",
    ),
    "NULL as AlgorithmIdentifier": (
        tlv(0x30, DER_NULL + tlv(0x03, b"\x00\x04")),
        "not a SubjectPublicKeyInfo",
    ),
}


@pytest.mark.parametrize(("der", "message"), MALFORMED_DER.values(), ids=MALFORMED_DER.keys())
def test_malformed_der(der: bytes, message: str) -> None:
    with pytest.raises(InvalidPublicKey, match=message):
        load_peer_public_key(der, "ECC_NIST_P256")
    # The same message through PEM: the armour changes nothing about what is wrong.
    pem = "-----BEGIN PUBLIC KEY-----\n" + base64.b64encode(der).decode() + "\n-----END PUBLIC KEY-----\n"
    with pytest.raises(InvalidPublicKey, match=message):
        load_peer_public_key(pem, "ECC_NIST_P256")


BAD_INPUTS = {
    "empty bytes": (b"", "is empty"),
    "empty text": ("", "is empty"),
    "point at infinity": (b"\x00", "point at infinity"),
    "hybrid point encoding": (b"\x06" + uncompressed(p256_key())[1:], "not parseable"),
    "unknown leading byte": (b"\x05\x00", "not parseable"),
    "coordinate above p": (b"\x04" + b"\xff" * 64, "not on the curve"),
    "non-ASCII text": ("clé publique", "must be ASCII"),
    "invalid base64 text": ("not*base64", "neither PEM nor valid base64"),
    "too large bytes": (b"\x30" + bytes(MAX_PEER_PUBLIC_KEY_SIZE), "larger than 4096 bytes"),
    "too large text": ("A" * (MAX_PEER_PUBLIC_KEY_SIZE + 1), "larger than 4096 bytes"),
    "not bytes or text": (12345, "must be bytes or text"),
    "private key PEM": (
        p256_key()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode(),
        "must be a PUBLIC KEY",
    ),
    "PEM without END": ("-----BEGIN PUBLIC KEY-----\nAAAA\n", "no complete BEGIN/END block"),
    "PEM with trailing text": (P256_PEM + "extra", "trailing data after the"),
    "two PEM blocks": (P256_PEM * 2, "trailing data after the"),
    "PEM body not base64": (
        "-----BEGIN PUBLIC KEY-----\n*\n-----END PUBLIC KEY-----\n",
        "body is not valid base64",
    ),
    "Ed25519 key": (
        public_key_der(ed25519.Ed25519PrivateKey.generate().public_key()),  # type: ignore[arg-type]
        "not an elliptic-curve",
    ),
}


@pytest.mark.parametrize(("data", "message"), BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input(data: object, message: str) -> None:
    with pytest.raises(InvalidPublicKey, match=message):
        load_peer_public_key(data, "ECC_NIST_P256")  # type: ignore[arg-type]


def test_size_bound_is_checked_before_parsing() -> None:
    valid = P256_PEM
    padded = valid + " " * (MAX_PEER_PUBLIC_KEY_SIZE - len(valid))
    assert load_peer_public_key(padded, "ECC_NIST_P256")
    with pytest.raises(InvalidPublicKey, match="larger than"):
        load_peer_public_key(padded + " ", "ECC_NIST_P256")


@pytest.mark.parametrize("key_spec", ["SM2", "ECC_SECG_P256K1", "ecc_nist_p256", "", None, ["ECC_NIST_P256"]])
def test_unknown_key_spec_is_an_invalid_request(key_spec: object) -> None:
    with pytest.raises(InvalidRequest, match="unsupported key spec"):
        load_peer_public_key(P256_DER, key_spec)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="unsupported key spec"):
        curve_for(key_spec)  # type: ignore[arg-type]


def test_field_sizes() -> None:
    assert {name: spec.field_size for name, spec in KEY_SPECS.items()} == {
        "ECC_NIST_P256": 32,
        "ECC_NIST_P384": 48,
        "ECC_NIST_P521": 66,
    }


def test_ecdh_needs_both_keys_on_one_curve() -> None:
    p384 = ec.generate_private_key(ec.SECP384R1())
    with pytest.raises(InvalidPublicKey, match="on curve secp384r1, expected secp256r1"):
        ecdh_shared_secret(p256_key(), p384.public_key())
    with pytest.raises(InvalidPublicKey, match="elliptic-curve private key and peer public key"):
        ecdh_shared_secret(p256_key(), ed25519.Ed25519PrivateKey.generate().public_key())  # type: ignore[arg-type]


def test_ecdh_is_symmetric() -> None:
    alice, bob = p256_key(), ec.generate_private_key(ec.SECP256R1())
    assert ecdh_shared_secret(alice, bob.public_key()) == ecdh_shared_secret(bob, alice.public_key())


def test_key_spec_of_rejects_other_curves() -> None:
    with pytest.raises(InvalidPublicKey, match="secp256k1 is not a supported key spec"):
        key_spec_of(ec.generate_private_key(ec.SECP256K1()).public_key())
    with pytest.raises(InvalidPublicKey, match="not an elliptic-curve key"):
        key_spec_of(ed25519.Ed25519PrivateKey.generate().public_key())  # type: ignore[arg-type]


def test_public_key_pem_is_subject_public_key_info() -> None:
    pem = P256_PEM
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert pem.endswith("-----END PUBLIC KEY-----\n")
