"""hypothesis: whatever arrives as a peer public key, the only error is InvalidPublicKey.

Random bytes and text, and mutations (bit flips, truncations, insertions, appended bytes) of valid
keys in every accepted form on all three curves, checked against every key spec. A key that does
load is on the requested curve and usable for ECDH.
"""

from __future__ import annotations

import base64
import string

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from kmsecdh.errors import InvalidPublicKey
from kmsecdh.keys import (
    KEY_SPECS,
    curve_for,
    ecdh_shared_secret,
    load_peer_public_key,
    load_peer_public_key_der,
    public_key_der,
)

SPEC_NAMES = sorted(KEY_SPECS)
OUR_KEYS = {name: ec.derive_private_key(0x5EED, spec.curve()) for name, spec in KEY_SPECS.items()}


def _valid_forms(key: ec.EllipticCurvePrivateKey) -> list[bytes | str]:
    public_key = key.public_key()
    der = public_key_der(public_key)
    pem = public_key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return [
        der,
        pem,
        pem.decode(),
        base64.b64encode(der).decode(),
        public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint),
        public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint),
    ]


PEER_KEYS = {name: ec.derive_private_key(0xA11CE, spec.curve()) for name, spec in KEY_SPECS.items()}
VALID_FORMS = [form for key in PEER_KEYS.values() for form in _valid_forms(key)]


def _check(data: bytes | str, key_spec: str) -> None:
    try:
        public_key = load_peer_public_key(data, key_spec)
    except InvalidPublicKey as error:
        message = str(error)
        event(f"rejected: {message}")
        if len(data) >= 16:  # short inputs could match a word of a message by chance
            shown = data if isinstance(data, str) else data.hex()
            assert shown not in message
        with pytest.raises(InvalidPublicKey) as der_error:
            load_peer_public_key_der(data, key_spec)
        assert str(der_error.value) == message, "both loaders reject alike"
    else:
        assert load_peer_public_key_der(data, key_spec) == public_key_der(public_key)
        event("accepted")
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        assert public_key.curve.name == curve_for(key_spec).curve.name
        shared_secret = ecdh_shared_secret(OUR_KEYS[key_spec], public_key)
        assert len(shared_secret) == curve_for(key_spec).field_size


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.integers(0, max(len(data) - 1, 0)))
        mutation = draw(st.sampled_from(["flip", "truncate", "insert", "append", "delete"]))
        if mutation == "flip" and data:
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif mutation == "truncate":
            del data[index:]
        elif mutation == "insert":
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif mutation == "append":
            data += draw(st.binary(min_size=1, max_size=8))
        elif data:
            del data[index]
    return bytes(data)


@st.composite
def mutated_keys(draw: st.DrawFn) -> bytes | str:
    original = draw(st.sampled_from(VALID_FORMS))
    if isinstance(original, bytes):
        return draw(mutated_bytes(original))
    # Text forms are mutated as bytes and read back as Latin-1, so non-ASCII characters appear too.
    return draw(mutated_bytes(original.encode())).decode("latin-1")


BASE64_TEXT = st.text(alphabet=string.ascii_letters + string.digits + "+/=\n ", max_size=300)
PEM_TEXT = BASE64_TEXT.map(lambda body: f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n")
DER_LIKE = st.binary(max_size=127).map(lambda rest: b"\x30" + bytes([len(rest)]) + rest)


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(st.binary(max_size=300), DER_LIKE), key_spec=st.sampled_from(SPEC_NAMES))
def test_random_bytes(data: bytes, key_spec: str) -> None:
    _check(data, key_spec)


@settings(max_examples=400, deadline=None)
@given(data=st.one_of(st.text(max_size=300), BASE64_TEXT, PEM_TEXT), key_spec=st.sampled_from(SPEC_NAMES))
def test_random_text(data: str, key_spec: str) -> None:
    _check(data, key_spec)


@settings(max_examples=1500, deadline=None)
@given(data=mutated_keys(), key_spec=st.sampled_from(SPEC_NAMES))
def test_mutated_valid_keys(data: bytes | str, key_spec: str) -> None:
    _check(data, key_spec)


@pytest.mark.parametrize("key_spec", SPEC_NAMES)
def test_unmutated_forms_load_on_their_own_curve_only(key_spec: str) -> None:
    """The mutation seeds themselves: each loads for its curve and is rejected for the two others."""
    expected = PEER_KEYS[key_spec].public_key().public_numbers()
    for form in _valid_forms(PEER_KEYS[key_spec]):
        assert load_peer_public_key(form, key_spec).public_numbers() == expected
        for other in set(SPEC_NAMES) - {key_spec}:
            with pytest.raises(InvalidPublicKey):
                load_peer_public_key(form, other)
