"""HPKE (RFC 9180) base mode, single-shot, with a KMS key (or any EC key) as the recipient.

The message is ``enc || ct`` and nothing else (RFC 9180 §6.1, ``SealBase`` / ``OpenBase``):

* ``enc``: the sender's ephemeral public key pkE, ``SerializePublicKey`` = the uncompressed SEC1 point
  ``0x04 || X || Y``: 65 bytes on P-256, 97 on P-384, 133 on P-521;
* ``ct``: the AEAD ciphertext of the plaintext followed by the AEAD's 16-byte tag, sealed with the key
  and base nonce of the base-mode key schedule (mode 0x00) at sequence number 0, under ``info`` and
  ``aad``.

No suite identifier, length or version is written: sender and recipient agree out of band on the
suite, ``info`` and ``aad``. The KEM follows the recipient key's curve: DHKEM(P-256, HKDF-SHA256)
(kem_id 0x0010), DHKEM(P-384, HKDF-SHA384) (0x0011), DHKEM(P-521, HKDF-SHA512) (0x0012); the KDF is
``hkdf-sha256`` (0x0001), ``hkdf-sha384`` (0x0002) or ``hkdf-sha512`` (0x0003), by default the KEM's own;
the AEAD ``aes-128-gcm`` (0x0001, the default), ``aes-256-gcm`` (0x0002) or ``chacha20-poly1305``
(0x0003).

All of HPKE is cryptography's (``cryptography.hazmat.primitives.hpke``, OpenSSL underneath). Its
public API has no ``aad`` parameter in version 50; the functions that take one are private, so they
are reached in exactly one place, ``_single_shot``, and pinned by tests (the RFC 9180 vectors all use
an aad). cryptography has no PSK mode, so neither has this module. Opening with a ``KmsPrivateKey``
works because cryptography calls the key's ``exchange`` for DH(skR, pkE): that is DeriveSharedSecret.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.errors import DecryptionFailed, InvalidPublicKey, InvalidRequest
from kmsecdh.keys import key_spec_of, load_peer_public_key, public_key_der

KEMS: dict[str, tuple[hpke.KEM, int, str]] = {
    "ECC_NIST_P256": (hpke.KEM.P256, 0x0010, "hkdf-sha256"),
    "ECC_NIST_P384": (hpke.KEM.P384, 0x0011, "hkdf-sha384"),
    "ECC_NIST_P521": (hpke.KEM.P521, 0x0012, "hkdf-sha512"),
}
KDFS: dict[str, tuple[hpke.KDF, int]] = {
    "hkdf-sha256": (hpke.KDF.HKDF_SHA256, 0x0001),
    "hkdf-sha384": (hpke.KDF.HKDF_SHA384, 0x0002),
    "hkdf-sha512": (hpke.KDF.HKDF_SHA512, 0x0003),
}
AEADS: dict[str, tuple[hpke.AEAD, int]] = {
    "aes-128-gcm": (hpke.AEAD.AES_128_GCM, 0x0001),
    "aes-256-gcm": (hpke.AEAD.AES_256_GCM, 0x0002),
    "chacha20-poly1305": (hpke.AEAD.CHACHA20_POLY1305, 0x0003),
}
DEFAULT_AEAD = "aes-128-gcm"
TAG_SIZE = 16
"""Every AEAD here has a 16-byte tag (Nt)."""


@dataclass(frozen=True)
class HpkeSuite:
    """A DHKEM suite: the KEM (by the recipient key's spec), KDF and AEAD ids of this module."""

    key_spec: str
    kdf: str
    aead: str

    @property
    def ids(self) -> tuple[int, int, int]:
        """RFC 9180's (kem_id, kdf_id, aead_id)."""
        return KEMS[self.key_spec][1], KDFS[self.kdf][1], AEADS[self.aead][1]

    @property
    def enc_size(self) -> int:
        return KEMS[self.key_spec][0].enc_length()

    def _suite(self) -> hpke.Suite:
        return hpke.Suite(KEMS[self.key_spec][0], KDFS[self.kdf][0], AEADS[self.aead][0])


def suite_for(key_spec: str, kdf: str | None = None, aead: str | None = None) -> HpkeSuite:
    """The suite for a recipient key of ``key_spec``; ``kdf`` defaults to the KEM's own, ``aead`` to
    AES-128-GCM."""
    if key_spec not in KEMS:
        raise InvalidRequest(f"HPKE recipient keys must be on P-256, P-384 or P-521, not {key_spec}")
    kdf = KEMS[key_spec][2] if kdf is None else kdf
    aead = DEFAULT_AEAD if aead is None else aead
    if kdf not in KDFS:
        raise InvalidRequest(f"unknown HPKE KDF; expected one of {', '.join(KDFS)}")
    if aead not in AEADS:
        raise InvalidRequest(f"unknown HPKE AEAD; expected one of {', '.join(AEADS)}")
    return HpkeSuite(key_spec, kdf, aead)


def _single_shot() -> tuple[Callable[..., bytes], Callable[..., bytes]]:
    """cryptography's single-shot base-mode seal and open *with aad*: ``(encrypt, decrypt)`` taking
    ``(suite, data, key, info, aad)``.

    The only use of a private cryptography API in kmsecdh. cryptography 50's public ``Suite.encrypt``
    / ``Suite.decrypt`` are these very functions with ``aad`` fixed to empty, and RFC 9180's
    single-shot API has an aad. Pinned by ``tests/standards/test_hpke.py`` (the pinned version,
    the signature, and equality with the public API at an empty aad) and by every RFC 9180 vector.
    """
    from cryptography.hazmat.bindings._rust import openssl as rust_openssl

    return rust_openssl.hpke._encrypt_with_aad, rust_openssl.hpke._decrypt_with_aad


def seal(
    plaintext: bytes,
    recipient: ec.EllipticCurvePublicKey,
    *,
    info: bytes = b"",
    aad: bytes = b"",
    kdf: str | None = None,
    aead: str | None = None,
) -> bytes:
    """``enc || ct`` sealed to ``recipient`` (a peer's public key, or a KMS key's): no private key or
    KMS call is needed to seal."""
    key_spec = key_spec_of(recipient)
    # The same validation as every peer key (on the curve, not infinity), before any use.
    load_peer_public_key(public_key_der(recipient), key_spec)
    suite = suite_for(key_spec, kdf, aead)
    encrypt, _ = _single_shot()
    return encrypt(suite._suite(), bytes(plaintext), recipient, bytes(info), bytes(aad))


def open_message(
    message: bytes,
    recipient: ec.EllipticCurvePrivateKey,
    *,
    info: bytes = b"",
    aad: bytes = b"",
    kdf: str | None = None,
    aead: str | None = None,
) -> bytes:
    """The plaintext of ``enc || ct`` sealed to ``recipient``: an EC private key or a ``KmsPrivateKey``.

    Any mismatch (tampered or truncated enc or ciphertext, other info, aad, suite or key) raises
    DecryptionFailed; a KMS failure raises its own DeriveError (AccessDenied, KeyUnavailable, ...).
    """
    suite = suite_for(key_spec_of(recipient), kdf, aead)
    if len(message) < suite.enc_size + TAG_SIZE:
        raise DecryptionFailed(
            f"HPKE message is {len(message)} bytes, shorter than enc ({suite.enc_size}) "
            f"and the tag ({TAG_SIZE})"
        )
    _, decrypt = _single_shot()
    recording = _ExchangeRecorder(recipient)
    try:
        return decrypt(suite._suite(), bytes(message), recording, bytes(info), bytes(aad))
    except (InvalidTag, ValueError):
        # cryptography turns any error of the key's exchange() into InvalidTag: report a KMS failure
        # (or an interrupt) as itself; only a refused ephemeral key means the message is at fault.
        error = recording.error
        if error is not None and not isinstance(error, InvalidPublicKey | ValueError):
            raise error from None
        raise DecryptionFailed(
            "HPKE message does not open: enc, ciphertext, info, aad, suite or recipient key do not match "
            "(tampered, truncated, or not sealed to this key)"
        ) from None


class _ExchangeRecorder(ec.EllipticCurvePrivateKey):
    """Hands cryptography the recipient key, and remembers the error its exchange() raised, if any."""

    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.error: BaseException | None = None

    def exchange(self, algorithm: ec.ECDH, peer_public_key: ec.EllipticCurvePublicKey) -> bytes:
        try:
            return self._key.exchange(algorithm, peer_public_key)
        except BaseException as error:
            self.error = error
            raise

    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._key.public_key()

    @property
    def curve(self) -> ec.EllipticCurve:
        return self._key.curve

    @property
    def key_size(self) -> int:
        return self._key.key_size

    def sign(self, data: Any, signature_algorithm: Any) -> bytes:
        raise TypeError("HPKE never signs")

    def private_numbers(self) -> ec.EllipticCurvePrivateNumbers:
        raise TypeError("HPKE never reads private numbers")

    def private_bytes(self, encoding: Any, format: Any, encryption_algorithm: Any) -> bytes:
        raise TypeError("HPKE never serializes the private key")

    def __copy__(self) -> _ExchangeRecorder:
        return self

    def __deepcopy__(self, memo: dict) -> _ExchangeRecorder:
        return self
