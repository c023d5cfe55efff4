"""NIST SP 800-56C Rev. 2 key derivation from an ECDH shared secret Z.

The one-step KDF (hash option, §4.1) is cryptography's ConcatKDFHash; the two-step KDF
(HMAC extract-then-expand, §5, RFC 5869) is its HKDF. The SP 800-108 Rev. 1 KDF in counter mode with
HMAC (the ``kbkdf-ctr-hmac-*`` ids) is its KBKDFHMAC with Z as the key-derivation key KI and FixedInfo
as the whole fixed input data: block i is ``HMAC(Z, [i]_32 || FixedInfo)``, i a 32-bit big-endian
counter from 1, placed first; no 0x00 separator and no ``[L]`` field are added, so FixedInfo carries
whatever the caller binds (OpenSSL: ``openssl kdf -kdfopt mac:HMAC -kdfopt hexsalt:<FixedInfo>
-kdfopt use-l:0 -kdfopt use-separator:0 ... KBKDF``). Keying SP 800-108 with Z directly is not one of
SP 800-56C's own constructions; it is offered for peers that derive that way.
``fixed_info`` builds FixedInfo the way SP 800-56A Rev. 3 §5.8.2.1.1 describes.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.kbkdf import KBKDFHMAC, CounterLocation, Mode

from kmsecdh.errors import InvalidRequest

MIN_LENGTH = 16
MAX_LENGTH = 64
DEFAULT_LENGTH = 32
DEFAULT_ALGORITHM = "onestep-sha256"

ONE_STEP = "onestep"
TWO_STEP = "hkdf"
KBKDF_COUNTER_HMAC = "kbkdf-ctr-hmac"
KBKDF_COUNTER_BYTES = 4
"""The SP 800-108 counter ``[i]_2`` is 32 bits (r = 32), before the fixed input data."""


@dataclass(frozen=True)
class KdfAlgorithm:
    """One KDF identifier of the contract: its construction and hash."""

    id: str
    construction: str
    hash_name: str

    def hash(self) -> hashes.HashAlgorithm:
        return _HASHES[self.hash_name]()

    @property
    def takes_salt(self) -> bool:
        return self.construction == TWO_STEP


_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA256": hashes.SHA256,
    "SHA384": hashes.SHA384,
    "SHA512": hashes.SHA512,
}

ALGORITHMS: dict[str, KdfAlgorithm] = {
    f"{construction}-{name.lower()}": KdfAlgorithm(f"{construction}-{name.lower()}", construction, name)
    for construction in (ONE_STEP, TWO_STEP, KBKDF_COUNTER_HMAC)
    for name in _HASHES
}


def get_algorithm(algorithm_id: str) -> KdfAlgorithm:
    """The KDF named ``algorithm_id``, or InvalidRequest naming the accepted ids."""
    try:
        return ALGORITHMS[algorithm_id]
    except (KeyError, TypeError):
        raise InvalidRequest(
            f"unknown KDF algorithm; expected one of {', '.join(sorted(ALGORITHMS))}"
        ) from None


def check_length(length: int) -> int:
    if isinstance(length, bool) or not isinstance(length, int) or not MIN_LENGTH <= length <= MAX_LENGTH:
        raise InvalidRequest(f"KDF length must be an integer from {MIN_LENGTH} to {MAX_LENGTH} bytes")
    return length


def check_arguments(algorithm: str, length: int, fixed_info: bytes, salt: bytes | None) -> KdfAlgorithm:
    """The KDF named ``algorithm`` once its arguments are checked: InvalidRequest for an unknown id, a length
    out of range, a FixedInfo or salt that is not bytes, or a salt for a one-step KDF."""
    kdf = get_algorithm(algorithm)
    check_length(length)
    if not isinstance(fixed_info, bytes | bytearray):
        raise InvalidRequest("fixed_info must be bytes")
    if salt is not None:
        if not kdf.takes_salt:
            raise InvalidRequest(f"salt is not used by the one-step KDF {kdf.id}; omit it")
        if not isinstance(salt, bytes | bytearray):
            raise InvalidRequest("salt must be bytes")
    return kdf


def derive_key(
    shared_secret: bytes,
    *,
    algorithm: str,
    length: int = DEFAULT_LENGTH,
    fixed_info: bytes = b"",
    salt: bytes | None = None,
) -> bytes:
    """Derive ``length`` bytes of keying material from Z with the KDF ``algorithm``.

    ``salt`` is for the HKDF ids only (None means HKDF's default of HashLen zero bytes).
    """
    kdf = check_arguments(algorithm, length, fixed_info, salt)
    if not isinstance(shared_secret, bytes | bytearray) or not shared_secret:
        raise InvalidRequest("shared secret must be non-empty bytes")
    if kdf.construction == ONE_STEP:
        return ConcatKDFHash(algorithm=kdf.hash(), length=length, otherinfo=bytes(fixed_info)).derive(
            bytes(shared_secret)
        )
    if kdf.construction == KBKDF_COUNTER_HMAC:
        return KBKDFHMAC(
            algorithm=kdf.hash(),
            mode=Mode.CounterMode,
            length=length,
            rlen=KBKDF_COUNTER_BYTES,
            llen=None,
            location=CounterLocation.BeforeFixed,
            label=None,
            context=None,
            fixed=bytes(fixed_info),
        ).derive(bytes(shared_secret))
    return HKDF(
        algorithm=kdf.hash(),
        length=length,
        salt=None if salt is None else bytes(salt),
        info=bytes(fixed_info),
    ).derive(bytes(shared_secret))


def fixed_info(
    algorithm_id: bytes,
    party_u_info: bytes,
    party_v_info: bytes,
    supp_pub_info: bytes = b"",
    supp_priv_info: bytes = b"",
) -> bytes:
    """FixedInfo per SP 800-56A Rev. 3 §5.8.2.1.1 (concatenation format).

    AlgorithmID, PartyUInfo and PartyVInfo are each a 4-byte big-endian byte length followed by
    the bytes; SuppPubInfo and SuppPrivInfo are appended as given.
    """
    fields = (algorithm_id, party_u_info, party_v_info, supp_pub_info, supp_priv_info)
    if not all(isinstance(field, bytes | bytearray) for field in fields):
        raise InvalidRequest("fixed_info fields must be bytes")
    prefixed = b"".join(len(field).to_bytes(4, "big") + bytes(field) for field in fields[:3])
    return prefixed + bytes(supp_pub_info) + bytes(supp_priv_info)
