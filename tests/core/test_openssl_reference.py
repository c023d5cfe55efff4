"""OpenSSL as the reference peer: ``openssl kdf`` SSKDF/HKDF and ``openssl pkeyutl -derive``."""

from __future__ import annotations

import hmac
import random
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from devtools.openssl import OpenSsl
from kmsecdh.kdf import ALGORITHMS, derive_key, fixed_info
from kmsecdh.keys import (
    KEY_SPECS,
    curve_for,
    ecdh_shared_secret,
    load_peer_public_key,
    public_key_der,
    public_key_pem,
)

LENGTHS = (16, 32, 48, 64)
FIXED_INFOS = {
    "empty": b"",
    "sp800-56a": fixed_info(b"A256GCM", b"alice", b"bob", (256).to_bytes(4, "big")),
    "random": random.Random("fixed-info").randbytes(57),
}
SALTS = {"none": None, "random": random.Random("salt").randbytes(40)}


def _kdf_cases() -> list:
    cases = []
    for algorithm in sorted(ALGORITHMS):
        salts = SALTS if ALGORITHMS[algorithm].takes_salt else {"none": None}
        for length in LENGTHS:
            for info_name, info in FIXED_INFOS.items():
                for salt_name, salt in salts.items():
                    case_id = f"{algorithm}-{length}-info_{info_name}-salt_{salt_name}"
                    cases.append(pytest.param(algorithm, length, info, salt, id=case_id))
    return cases


@pytest.mark.parametrize(("algorithm", "length", "info", "salt"), _kdf_cases())
def test_derive_key_equals_openssl_kdf(
    openssl: OpenSsl, algorithm: str, length: int, info: bytes, salt: bytes | None
) -> None:
    # A Z of each field size (P-256, P-384, P-521), seeded by the case so a failure reproduces.
    rng = random.Random(f"{algorithm}-{length}")
    for field_size in (32, 48, 66):
        shared_secret = rng.randbytes(field_size)
        ours = derive_key(shared_secret, algorithm=algorithm, length=length, fixed_info=info, salt=salt)
        reference = openssl.kdf(shared_secret, algorithm=algorithm, length=length, fixed_info=info, salt=salt)
        assert hmac.compare_digest(ours, reference), field_size


@pytest.mark.parametrize("key_spec", sorted(KEY_SPECS))
def test_ecdh_with_an_openssl_key_equals_pkeyutl_derive(
    openssl: OpenSsl, tmp_path: Path, key_spec: str
) -> None:
    """Alice's key is made by ``openssl ecparam -genkey``; Bob's (standing in for KMS) by cryptography.

    Each side reads the other's public key as DER and as PEM, as in the two-party flow (README).
    """
    alice_private = tmp_path / "alice.pem"
    alice_public_pem, alice_public_der = tmp_path / "alice.pub.pem", tmp_path / "alice.pub.der"
    openssl.genkey(key_spec, alice_private)
    openssl.public_key(alice_private, alice_public_pem)
    openssl.public_key(alice_private, alice_public_der, der=True)

    bob = ec.generate_private_key(curve_for(key_spec).curve())
    bob_public_der, bob_public_pem = tmp_path / "bob.pub.der", tmp_path / "bob.pub.pem"
    bob_public_der.write_bytes(public_key_der(bob.public_key()))
    bob_public_pem.write_text(public_key_pem(bob.public_key()))
    alice_z = openssl.derive(alice_private, bob_public_der)
    assert len(alice_z) == curve_for(key_spec).field_size
    assert openssl.derive(alice_private, bob_public_pem) == alice_z

    from_der = load_peer_public_key(alice_public_der.read_bytes(), key_spec)
    from_pem = load_peer_public_key(alice_public_pem.read_text(), key_spec)
    from_pem_bytes = load_peer_public_key(alice_public_pem.read_bytes(), key_spec)
    for alice_public in (from_der, from_pem, from_pem_bytes):
        assert hmac.compare_digest(ecdh_shared_secret(bob, alice_public), alice_z)
    # Our DER encoding of Alice's key is byte for byte what OpenSSL wrote.
    assert public_key_der(from_pem) == alice_public_der.read_bytes()
