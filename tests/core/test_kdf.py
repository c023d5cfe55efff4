"""kmsecdh.kdf: RFC 5869 HKDF vectors, SP 800-56 layouts and the InvalidRequest rules."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from kmsecdh.errors import InvalidRequest
from kmsecdh.kdf import (
    ALGORITHMS,
    DEFAULT_ALGORITHM,
    DEFAULT_LENGTH,
    MAX_LENGTH,
    MIN_LENGTH,
    derive_key,
    fixed_info,
)
from tests.core.vectors import HKDF_GENERATED, RFC5869_SHA256, CavpRecord, cavp_lines, cavp_records

HKDF_CASES = [
    *(
        pytest.param(record, id=f"rfc5869-A.{record['COUNT']}")
        for record in cavp_records(cavp_lines(RFC5869_SHA256))
    ),
    *(pytest.param(record, id="pyca-L1200") for record in cavp_records(cavp_lines(HKDF_GENERATED))),
]
SHARED_SECRET = bytes(range(1, 33))


def test_hkdf_case_counts(vectors_dir: Path) -> None:
    rfc = list(cavp_records(cavp_lines(RFC5869_SHA256, vectors_dir)))
    generated = list(cavp_records(cavp_lines(HKDF_GENERATED, vectors_dir)))
    assert [(record["COUNT"], record["L"]) for record in rfc] == [("1", "42"), ("2", "82"), ("3", "42")]
    assert [record["L"] for record in generated] == ["1200"]
    assert {record["Hash"] for record in rfc + generated} == {"SHA-256"}


@pytest.mark.parametrize("record", HKDF_CASES)
def test_hkdf_sha256_vectors(record: CavpRecord) -> None:
    """Each HKDF-SHA256 vector at lengths 16, 32 and min(L, 64).

    HKDF-Expand's output blocks T(1), T(2), ... do not depend on L (RFC 5869 §2.3), so the first
    ``length`` bytes of OKM are the answer for ``length``. That is how the vectors with L above
    MAX_LENGTH (RFC A.2 with 82 bytes, pyca's with 1200) still check our HKDF.
    """
    okm = record.bytes("OKM")
    assert len(okm) == int(record["L"])
    salt = record.bytes("salt") or None  # the file writes an absent salt as empty
    for length in sorted({MIN_LENGTH, DEFAULT_LENGTH, min(len(okm), MAX_LENGTH)}):
        derived = derive_key(
            record.bytes("IKM"),
            algorithm="hkdf-sha256",
            length=length,
            fixed_info=record.bytes("info"),
            salt=salt,
        )
        assert hmac.compare_digest(derived, okm[:length]), length


@pytest.mark.parametrize("hash_name", ["sha256", "sha384", "sha512"])
@pytest.mark.parametrize("length", [MIN_LENGTH, 33, MAX_LENGTH])
def test_one_step_kdf_is_sp800_56c_hash_option(hash_name: str, length: int) -> None:
    """SP 800-56C Rev. 2 §4.1 option 1: K(i) = H(counter || Z || FixedInfo), a 32-bit counter from 1."""
    info = b"fixed info"
    blocks = b"".join(
        hashlib.new(hash_name, counter.to_bytes(4, "big") + SHARED_SECRET + info).digest()
        for counter in (1, 2)
    )
    derived = derive_key(SHARED_SECRET, algorithm=f"onestep-{hash_name}", length=length, fixed_info=info)
    assert hmac.compare_digest(derived, blocks[:length])


def test_fixed_info_layout_of_sp800_56a() -> None:
    """SP 800-56A Rev. 3 §5.8.2.1.1: three fields with a 4-byte big-endian length, then the rest as given."""
    expected = bytes.fromhex(
        "00000006"
        + "414553323536"  # "AES256"
        + "00000005"
        + "616c696365"  # "alice"
        + "00000003"
        + "626f62"  # "bob"
        + "00000100"  # SuppPubInfo: key length 256 in bits, appended as given
        + "736563726574"  # SuppPrivInfo "secret", appended as given
    )
    assert fixed_info(b"AES256", b"alice", b"bob", b"\x00\x00\x01\x00", b"secret") == expected
    assert fixed_info(b"", b"", b"") == bytes(12)


def test_defaults_name_a_known_algorithm() -> None:
    assert DEFAULT_ALGORITHM in ALGORITHMS
    assert len(derive_key(SHARED_SECRET, algorithm=DEFAULT_ALGORITHM)) == DEFAULT_LENGTH == 32
    assert sorted(ALGORITHMS) == sorted(
        f"{construction}-sha{bits}"
        for construction in ("onestep", "hkdf", "kbkdf-ctr-hmac")
        for bits in (256, 384, 512)
    )


@pytest.mark.parametrize("algorithm", ["onestep-sha1", "HKDF-SHA256", "", None, 256])
def test_unknown_algorithm(algorithm: object) -> None:
    with pytest.raises(InvalidRequest, match="unknown KDF algorithm"):
        derive_key(SHARED_SECRET, algorithm=algorithm)  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [MIN_LENGTH - 1, MAX_LENGTH + 1, 0, -32, True, "32", 32.0, None])
def test_length_outside_bounds_or_not_an_integer(length: object) -> None:
    with pytest.raises(InvalidRequest, match="KDF length"):
        derive_key(SHARED_SECRET, algorithm="hkdf-sha256", length=length)  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["onestep-sha256", "onestep-sha384", "onestep-sha512"])
@pytest.mark.parametrize("salt", [b"", b"salt"])
def test_salt_given_to_a_one_step_kdf(algorithm: str, salt: bytes) -> None:
    with pytest.raises(InvalidRequest, match="salt is not used"):
        derive_key(SHARED_SECRET, algorithm=algorithm, salt=salt)


@pytest.mark.parametrize("shared_secret", [b"", bytearray(), "secret", None])
def test_empty_or_non_bytes_shared_secret(shared_secret: object) -> None:
    with pytest.raises(InvalidRequest, match="shared secret"):
        derive_key(shared_secret, algorithm="onestep-sha256")  # type: ignore[arg-type]


def test_non_bytes_fixed_info_and_salt() -> None:
    with pytest.raises(InvalidRequest, match="fixed_info must be bytes"):
        derive_key(SHARED_SECRET, algorithm="hkdf-sha256", fixed_info="info")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="salt must be bytes"):
        derive_key(SHARED_SECRET, algorithm="hkdf-sha256", salt="salt")  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="fixed_info fields must be bytes"):
        fixed_info(b"id", "alice", b"bob")  # type: ignore[arg-type]
