"""EC JWKs, RFC 7638 thumbprints and JWK Sets: the RFC's own example, jwcrypto, strict loading."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwcrypto_jwk

from kmsecdh.errors import InvalidPublicKey
from kmsecdh.jwk import (
    b64url,
    jwks,
    load_private_jwk,
    load_public_jwk,
    public_jwk,
    thumbprint,
)
from kmsecdh.keys import curve_for

CURVES = {"ECC_NIST_P256": "P-256", "ECC_NIST_P384": "P-384", "ECC_NIST_P521": "P-521"}

# RFC 7638 §3.1: the example RSA key (from RFC 7517 App. A.1) and its thumbprint.
RFC7638_KEY = {
    "kty": "RSA",
    "n": (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJE"
        "CPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2Q"
        "vzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6"
        "WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    ),
    "e": "AQAB",
    "alg": "RS256",
    "kid": "2011-04-29",
}
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_rfc7638_section_3_1_example() -> None:
    # Only the required members count: alg and kid are left out of the hash.
    assert thumbprint(RFC7638_KEY) == RFC7638_THUMBPRINT
    assert thumbprint({"e": "AQAB", "kty": "RSA", "n": RFC7638_KEY["n"]}) == RFC7638_THUMBPRINT


@pytest.mark.parametrize("key_spec", sorted(CURVES))
def test_public_jwk_and_thumbprint_equal_jwcrypto(key_spec: str) -> None:
    private_key = ec.generate_private_key(curve_for(key_spec).curve())
    ours = public_jwk(private_key.public_key())
    theirs = jwcrypto_jwk.JWK.from_pyca(private_key.public_key())
    exported = json.loads(theirs.export_public())
    assert {name: ours[name] for name in ("kty", "crv", "x", "y")} == {
        name: exported[name] for name in ("kty", "crv", "x", "y")
    }
    assert ours["use"] == "enc"
    assert ours["kid"] == theirs.thumbprint() == thumbprint(exported)
    # Coordinates are always the full field size, leading zeros kept (RFC 7518 §6.2.1.2).
    size = curve_for(key_spec).field_size
    assert len(b64url(bytes(size))) == len(ours["x"]) == len(ours["y"])
    assert load_public_jwk(ours, key_spec) == private_key.public_key()
    assert load_public_jwk(json.dumps(ours)) == private_key.public_key()
    private = json.loads(jwcrypto_jwk.JWK.from_pyca(private_key).export_private())
    assert load_private_jwk(private).private_numbers() == private_key.private_numbers()


def test_small_coordinates_keep_their_leading_zeros() -> None:
    # Find a P-256 key whose x has a leading zero byte (1 in 256 keys), deterministically.
    scalar = next(
        d
        for d in range(1, 5000)
        if ec.derive_private_key(d, ec.SECP256R1()).public_key().public_numbers().x < 1 << 248
    )
    key = ec.derive_private_key(scalar, ec.SECP256R1()).public_key()
    jwk = public_jwk(key)
    assert len(jwk["x"]) == 43
    assert jwk["kid"] == jwcrypto_jwk.JWK.from_pyca(key).thumbprint()


def test_jwks_holds_each_key() -> None:
    keys = [ec.generate_private_key(ec.SECP384R1()).public_key() for _ in range(2)]
    document = jwks(keys)
    assert [load_public_jwk(entry) for entry in document["keys"]] == keys
    parsed = jwcrypto_jwk.JWKSet.from_json(json.dumps(document))
    assert {key.thumbprint() for key in parsed["keys"]} == {entry["kid"] for entry in document["keys"]}


def _valid() -> dict:
    return public_jwk(ec.generate_private_key(ec.SECP256R1()).public_key())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kty": "RSA"}, "kty must be EC"),
        ({"crv": "P-192"}, "crv must be one of"),
        ({"crv": "secp256k1"}, "crv must be one of"),
        ({"x": None}, "x is not unpadded base64url"),
        ({"x": "AAAA="}, "not unpadded base64url"),
        ({"x": "AA"}, "must each be 32 bytes"),
        ({"y": b64url(bytes(32))}, "not on the curve"),
        ({"d": "AAAA"}, "holds a private key"),
    ],
)
def test_public_jwk_refused(change: dict, message: str) -> None:
    jwk = {**_valid(), **change}
    with pytest.raises(InvalidPublicKey, match=message):
        load_public_jwk(jwk)


def test_public_jwk_on_another_curve_than_expected() -> None:
    with pytest.raises(InvalidPublicKey, match="is on curve P-256, expected P-384"):
        load_public_jwk(_valid(), "ECC_NIST_P384")


def test_non_canonical_base64url_is_refused() -> None:
    jwk = _valid()
    last = jwk["x"][-1]
    # The last of 43 characters carries 4 unused bits: a different character with the same value
    # in the used bits decodes to the same bytes, but is not the canonical encoding.
    sibling = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    index = sibling.index(last)
    jwk["x"] = jwk["x"][:-1] + sibling[index ^ 1]
    with pytest.raises(InvalidPublicKey, match="not canonical base64url"):
        load_public_jwk(jwk)


def test_duplicate_members_and_non_objects_are_refused() -> None:
    text = json.dumps(_valid())
    with pytest.raises(InvalidPublicKey, match="not a JSON object"):
        load_public_jwk(text[:-1] + ', "kty": "EC"}')
    with pytest.raises(InvalidPublicKey, match="not a JSON object"):
        load_public_jwk("[1, 2]")


def test_private_jwk_must_match_its_public_part() -> None:
    one, other = (ec.generate_private_key(ec.SECP256R1()) for _ in range(2))
    mixed = {
        **public_jwk(other.public_key()),
        "d": b64url(one.private_numbers().private_value.to_bytes(32, "big")),
    }
    with pytest.raises(ValueError, match="not the public key of d"):
        load_private_jwk(mixed)
