"""JWE (RFC 7516) compact serialization with ECDH-ES key agreement (RFC 7518 §4.6), for KMS keys.

The sender needs only the recipient's public key (a KMS key's, from ``kmsecdh jwks``, or any peer's);
the recipient is one of three kinds, all giving the same Concat KDF output:

* ``PrivateKeyRecipient(key)``: a local EC private key, or a ``KmsPrivateKey`` (Z from
  DeriveSharedSecret, then the Concat KDF here);
* ``FunctionRecipient(invoke)``: the derive function, whose ``onestep-sha256`` KDF *is* the JOSE
  Concat KDF when given the JOSE FixedInfo, so Z never leaves the function and a caller that may only
  invoke it can read JWEs.

Key management (``alg``): ``ECDH-ES`` (the Concat KDF output is the content key), ``ECDH-ES+A128KW``,
``+A192KW``, ``+A256KW`` (it is the AES key-wrap key of a random content key, RFC 3394). Content
encryption (``enc``): ``A128GCM``, ``A192GCM``, ``A256GCM`` (RFC 7518 §5.3) and ``A128CBC-HS256``,
``A192CBC-HS384``, ``A256CBC-HS512`` (§5.2). The Concat KDF is SP 800-56A's one-step KDF with SHA-256
and FixedInfo = AlgorithmID || PartyUInfo || PartyVInfo || SuppPubInfo, where AlgorithmID is ``enc``
(for ECDH-ES) or ``alg`` (key wrapping) and PartyUInfo/PartyVInfo the decoded ``apu``/``apv``, each
with a 32-bit big-endian length before it, and SuppPubInfo the derived key's length in bits, 32-bit
big-endian (``kmsecdh.kdf.fixed_info``). Every primitive is cryptography's (ECDH, ConcatKDFHash, AES
key wrap, AES-GCM, AES-CBC, HMAC); the AES-CBC-HMAC composition follows RFC 7518 §5.2.2 and is checked
against RFC 7520 §5.5 and jwcrypto.

Decryption checks the protected header strictly and raises DecryptionFailed (one class, one line)
for any of: not five base64url parts, a header that is not a JSON object or repeats a member, ``crit``
or ``zip`` present, an unknown ``alg`` or ``enc``, an ``epk`` that is not a public EC JWK on the
recipient key's curve and on the curve, ``apu``/``apv`` not base64url, wrong sizes of the encrypted key,
IV or tag, a key unwrap or tag check that fails. Other header members are ignored, as RFC 7516 §4 asks.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import constant_time, hashes, hmac, padding
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap

from kmsecdh.encoding import b64decode, b64encode
from kmsecdh.errors import DecryptionFailed, InvalidPublicKey, InvalidResponse
from kmsecdh.jwk import KEY_SPEC_CRVS, b64url, b64url_decode, load_public_jwk, public_jwk
from kmsecdh.kdf import derive_key, fixed_info
from kmsecdh.keys import (
    KEY_SPECS,
    curve_for,
    ecdh_shared_secret,
    key_spec_of,
    load_peer_public_key,
    public_key_der,
)

CONCAT_KDF = "onestep-sha256"
"""The derive function's KDF id that is RFC 7518's Concat KDF (SHA-256)."""

KEY_WRAP_SIZES: dict[str, int | None] = {
    "ECDH-ES": None,
    "ECDH-ES+A128KW": 16,
    "ECDH-ES+A192KW": 24,
    "ECDH-ES+A256KW": 32,
}
"""``alg`` values and their key-wrap key size (None: the Concat KDF output is the content key)."""


@dataclass(frozen=True)
class ContentEncryption:
    """An ``enc`` value: content key size, IV size, tag size and, for AES-CBC-HMAC, the HMAC hash."""

    key_size: int
    iv_size: int
    tag_size: int
    hmac_hash: type[hashes.HashAlgorithm] | None = None


CONTENT_ENCRYPTIONS: dict[str, ContentEncryption] = {
    "A128GCM": ContentEncryption(16, 12, 16),
    "A192GCM": ContentEncryption(24, 12, 16),
    "A256GCM": ContentEncryption(32, 12, 16),
    "A128CBC-HS256": ContentEncryption(32, 16, 16, hashes.SHA256),
    "A192CBC-HS384": ContentEncryption(48, 16, 24, hashes.SHA384),
    "A256CBC-HS512": ContentEncryption(64, 16, 32, hashes.SHA512),
}
MAX_PARTY_INFO = 256
"""Bytes of ``apu`` / ``apv`` this module writes or reads (the derive function takes 1024 of FixedInfo)."""
MAX_TOKEN_SIZE = 64 * 1024 * 1024


class Recipient(Protocol):
    """Whoever holds the recipient key: its key spec, and the Concat KDF output for an ephemeral key."""

    @property
    def key_spec(self) -> str: ...

    def concat_kdf(self, epk: ec.EllipticCurvePublicKey, length: int, fixed_info: bytes) -> bytes: ...


class PrivateKeyRecipient:
    """A local EC private key or a ``KmsPrivateKey``: Z from its ``exchange``, the Concat KDF here."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.private_key = private_key
        self.key_spec = key_spec_of(private_key)

    def concat_kdf(self, epk: ec.EllipticCurvePublicKey, length: int, fixed_info: bytes) -> bytes:
        shared_secret = ecdh_shared_secret(self.private_key, epk)
        return derive_key(shared_secret, algorithm=CONCAT_KDF, length=length, fixed_info=fixed_info)


class FunctionRecipient:
    """The derive function: ``invoke(event) -> response`` sends one invocation event (``derive`` with
    the ``onestep-sha256`` KDF and the JOSE FixedInfo) and returns the response object, raising the
    contract's DeriveError on a function error (``kmsecdh.client.DeriveFunctionClient.invoke`` does).

    ``key_id`` picks one of the function's keys (default: its default key); its key spec comes from
    one ``public_key`` invocation. An answer outside the contract (no supported key spec, no derived key
    of the length asked for) raises InvalidResponse: the function misbehaved, KMS did not fail.
    """

    def __init__(self, invoke: Callable[[dict[str, Any]], Mapping[str, Any]], key_id: str | None = None):
        self._invoke = invoke
        self._key_id = key_id
        response = invoke(self._event("public_key"))
        key_spec = response.get("key_spec")
        if not isinstance(key_spec, str) or key_spec not in KEY_SPECS:
            raise InvalidResponse(
                f"the derive function answered public_key with no key_spec of {', '.join(KEY_SPECS)}"
            )
        self.key_spec: str = key_spec
        self.key_arn = response.get("key_id")

    def _event(self, action: str, **fields: Any) -> dict[str, Any]:
        event: dict[str, Any] = {"action": action, **fields}
        if self._key_id is not None:
            event["key_id"] = self._key_id
        return event

    def concat_kdf(self, epk: ec.EllipticCurvePublicKey, length: int, fixed_info: bytes) -> bytes:
        kdf = {"algorithm": CONCAT_KDF, "length": length, "fixed_info": b64encode(fixed_info)}
        response = self._invoke(
            self._event("derive", peer_public_key=b64encode(public_key_der(epk)), kdf=kdf)
        )
        try:
            derived = b64decode(str(response.get("derived_key", "")))
        except ValueError:
            derived = b""
        if len(derived) != length:
            raise InvalidResponse(f"the derive function returned no {length}-byte derived_key")
        return derived


@dataclass(frozen=True)
class Decrypted:
    """A decrypted JWE: the plaintext and the protected header it was sent with."""

    plaintext: bytes
    header: dict[str, Any]


def jose_fixed_info(algorithm_id: str, apu: bytes, apv: bytes, length: int) -> bytes:
    """RFC 7518 §4.6.2's OtherInfo: the FixedInfo of the Concat KDF for ``length`` bytes."""
    return fixed_info(algorithm_id.encode("ascii"), apu, apv, (8 * length).to_bytes(4, "big"))


def _key_agreement(alg: str, enc: str) -> tuple[str, int]:
    """(AlgorithmID, key data length in bytes) of the Concat KDF for this alg/enc pair."""
    wrap_size = KEY_WRAP_SIZES[alg]
    if wrap_size is None:
        return enc, CONTENT_ENCRYPTIONS[enc].key_size
    return alg, wrap_size


def encrypt(
    plaintext: bytes,
    recipient: ec.EllipticCurvePublicKey,
    *,
    alg: str = "ECDH-ES+A256KW",
    enc: str = "A256GCM",
    apu: bytes = b"",
    apv: bytes = b"",
    kid: str | None = None,
) -> str:
    """A compact JWE of ``plaintext`` for ``recipient``'s public key (on P-256, P-384 or P-521).

    A fresh ephemeral key on the recipient's curve goes into the header as ``epk``; ``apu``/``apv``
    (raw bytes, written base64url) and ``kid`` only when given. An unsupported ``alg`` or ``enc``, or an
    ``apu``/``apv`` over MAX_PARTY_INFO bytes, raises ValueError: a bad argument of a local call, as
    cryptography's own functions report one (InvalidRequest is the derive function's code for a request
    it was sent).
    """
    if alg not in KEY_WRAP_SIZES:
        raise ValueError(f"unsupported JWE alg; expected one of {', '.join(KEY_WRAP_SIZES)}")
    if enc not in CONTENT_ENCRYPTIONS:
        raise ValueError(f"unsupported JWE enc; expected one of {', '.join(CONTENT_ENCRYPTIONS)}")
    if len(apu) > MAX_PARTY_INFO or len(apv) > MAX_PARTY_INFO:
        raise ValueError(f"apu and apv are limited to {MAX_PARTY_INFO} bytes each")
    key_spec = key_spec_of(recipient)
    recipient = load_peer_public_key(public_key_der(recipient), key_spec)
    ephemeral = ec.generate_private_key(curve_for(key_spec).curve())
    header: dict[str, Any] = {"alg": alg, "enc": enc}
    if kid is not None:
        header["kid"] = kid
    epk = public_jwk(ephemeral.public_key(), use=None)
    header["epk"] = {name: epk[name] for name in ("kty", "crv", "x", "y")}
    if apu:
        header["apu"] = b64url(apu)
    if apv:
        header["apv"] = b64url(apv)
    algorithm_id, length = _key_agreement(alg, enc)
    derived = derive_key(
        ecdh_shared_secret(ephemeral, recipient),
        algorithm=CONCAT_KDF,
        length=length,
        fixed_info=jose_fixed_info(algorithm_id, apu, apv, length),
    )
    content = CONTENT_ENCRYPTIONS[enc]
    if KEY_WRAP_SIZES[alg] is None:
        cek, encrypted_key = derived, b""
    else:
        cek = os.urandom(content.key_size)
        encrypted_key = aes_key_wrap(derived, cek)
    protected = b64url(json.dumps(header, separators=(",", ":")).encode("utf-8"))
    iv = os.urandom(content.iv_size)
    ciphertext, tag = _seal_content(content, cek, iv, bytes(plaintext), protected.encode("ascii"))
    return ".".join((protected, b64url(encrypted_key), b64url(iv), b64url(ciphertext), b64url(tag)))


def decrypt(token: str | bytes, recipient: Recipient | ec.EllipticCurvePrivateKey) -> Decrypted:
    """The plaintext and protected header of a compact JWE, for ``recipient`` (a Recipient, or an EC
    private key / KmsPrivateKey). Every failure of the message itself raises DecryptionFailed; a KMS or
    function failure raises its own DeriveError."""
    if isinstance(recipient, ec.EllipticCurvePrivateKey):
        recipient = PrivateKeyRecipient(recipient)
    parts = _compact_parts(token)
    protected_text = parts[0]
    header = _protected_header(protected_text)
    alg, enc = _algorithms(header)
    content = CONTENT_ENCRYPTIONS[enc]
    epk = _ephemeral_key(header, recipient.key_spec)
    apu, apv = (_party_info(header, name) for name in ("apu", "apv"))
    encrypted_key, iv, ciphertext, tag = (
        _part(text, name) for text, name in zip(parts[1:], _PART_NAMES[1:], strict=True)
    )
    wrap_size = KEY_WRAP_SIZES[alg]
    expected_key_size = 0 if wrap_size is None else content.key_size + 8
    if len(encrypted_key) != expected_key_size:
        raise DecryptionFailed(f"JWE encrypted key must be {expected_key_size} bytes for {alg} with {enc}")
    if len(iv) != content.iv_size or len(tag) != content.tag_size:
        raise DecryptionFailed(
            f"JWE IV and tag must be {content.iv_size} and {content.tag_size} bytes for {enc}"
        )

    algorithm_id, length = _key_agreement(alg, enc)
    try:
        derived = recipient.concat_kdf(epk, length, jose_fixed_info(algorithm_id, apu, apv, length))
    except InvalidPublicKey as error:
        raise DecryptionFailed(f"JWE epk refused: {error}") from None
    if wrap_size is None:
        cek = derived
    else:
        try:
            cek = aes_key_unwrap(derived, encrypted_key)
        except InvalidUnwrap:
            raise _not_for_this_key() from None
    try:
        plaintext = _open_content(content, cek, iv, ciphertext, tag, protected_text.encode("ascii"))
    except (InvalidTag, ValueError):
        raise _not_for_this_key() from None
    return Decrypted(plaintext, header)


def _not_for_this_key() -> DecryptionFailed:
    return DecryptionFailed(
        "JWE does not decrypt: header, encrypted key, IV, ciphertext or tag altered, or not for this key"
    )


# --- parsing ------------------------------------------------------------------------------------

_PART_NAMES = ("protected header", "encrypted key", "IV", "ciphertext", "tag")


def _compact_parts(token: str | bytes) -> list[str]:
    if isinstance(token, bytes | bytearray):
        try:
            token = bytes(token).decode("ascii")
        except UnicodeDecodeError:
            raise DecryptionFailed("JWE compact serialization must be ASCII") from None
    if not isinstance(token, str):
        raise DecryptionFailed("JWE must be text")
    if len(token) > MAX_TOKEN_SIZE:
        raise DecryptionFailed(f"JWE is larger than {MAX_TOKEN_SIZE} bytes")
    parts = token.strip().split(".")
    if len(parts) != len(_PART_NAMES):
        raise DecryptionFailed(f"JWE compact serialization has {len(parts)} parts, not 5")
    if not parts[0]:
        raise DecryptionFailed("JWE protected header is empty")
    return parts


def _part(text: str, name: str) -> bytes:
    return b64url_decode(text, f"JWE {name}", DecryptionFailed)


def _protected_header(text: str) -> dict[str, Any]:
    raw = _part(text, "protected header")

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [name for name, _ in pairs]
        if len(names) != len(set(names)):
            raise DecryptionFailed("JWE protected header repeats a member name")
        return dict(pairs)

    try:
        header = json.loads(raw.decode("utf-8"), object_pairs_hook=unique)
    except (UnicodeDecodeError, ValueError):
        raise DecryptionFailed("JWE protected header is not UTF-8 JSON") from None
    if not isinstance(header, dict):
        raise DecryptionFailed("JWE protected header is not a JSON object")
    if "crit" in header:
        raise DecryptionFailed("JWE protected header has crit: no critical extension is supported")
    if "zip" in header:
        raise DecryptionFailed("JWE protected header has zip: compressed content is not supported")
    return header


def _algorithms(header: Mapping[str, Any]) -> tuple[str, str]:
    alg, enc = header.get("alg"), header.get("enc")
    if alg not in KEY_WRAP_SIZES:
        raise DecryptionFailed(f"JWE alg must be one of {', '.join(KEY_WRAP_SIZES)}")
    if enc not in CONTENT_ENCRYPTIONS:
        raise DecryptionFailed(f"JWE enc must be one of {', '.join(CONTENT_ENCRYPTIONS)}")
    return alg, enc


def _ephemeral_key(header: Mapping[str, Any], key_spec: str) -> ec.EllipticCurvePublicKey:
    epk = header.get("epk")
    if not isinstance(epk, Mapping):
        raise DecryptionFailed("JWE protected header has no epk object")
    if epk.get("crv") != KEY_SPEC_CRVS[key_spec]:
        raise DecryptionFailed(
            f"JWE epk must be on the recipient key's curve {KEY_SPEC_CRVS[key_spec]}, not {epk.get('crv')!r}"
        )
    try:
        return load_public_jwk(epk, key_spec, what="JWE epk")
    except InvalidPublicKey as error:
        raise DecryptionFailed(str(error)) from None


def _party_info(header: Mapping[str, Any], name: str) -> bytes:
    if name not in header:
        return b""
    value = b64url_decode(header[name], f"JWE {name}", DecryptionFailed)
    if len(value) > MAX_PARTY_INFO:
        raise DecryptionFailed(f"JWE {name} is longer than {MAX_PARTY_INFO} bytes")
    return value


# --- content encryption -----------------------------------------------------------------------


def _seal_content(content: ContentEncryption, cek: bytes, iv: bytes, plaintext: bytes, aad: bytes):
    if content.hmac_hash is None:
        sealed = AESGCM(cek).encrypt(iv, plaintext, aad)
        return sealed[: -content.tag_size], sealed[-content.tag_size :]
    mac_key, enc_key = cek[: len(cek) // 2], cek[len(cek) // 2 :]
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return ciphertext, _cbc_hmac_tag(content, mac_key, aad, iv, ciphertext)


def _open_content(
    content: ContentEncryption, cek: bytes, iv: bytes, ciphertext: bytes, tag: bytes, aad: bytes
) -> bytes:
    if content.hmac_hash is None:
        return AESGCM(cek).decrypt(iv, ciphertext + tag, aad)
    mac_key, enc_key = cek[: len(cek) // 2], cek[len(cek) // 2 :]
    # RFC 7518 §5.2.2.2: the tag is checked before anything is decrypted.
    if not constant_time.bytes_eq(tag, _cbc_hmac_tag(content, mac_key, aad, iv, ciphertext)):
        raise InvalidTag
    if not ciphertext or len(ciphertext) % 16:
        raise ValueError("ciphertext is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(enc_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def _cbc_hmac_tag(
    content: ContentEncryption, mac_key: bytes, aad: bytes, iv: bytes, ciphertext: bytes
) -> bytes:
    """RFC 7518 §5.2.2.1: HMAC(MAC_KEY, A || IV || E || AL), AL = bits of A, 64-bit big-endian, truncated
    to T_LEN."""
    assert content.hmac_hash is not None
    mac = hmac.HMAC(mac_key, content.hmac_hash())
    mac.update(aad + iv + ciphertext + (8 * len(aad)).to_bytes(8, "big"))
    return mac.finalize()[: content.tag_size]


__all__ = [
    "CONTENT_ENCRYPTIONS",
    "KEY_WRAP_SIZES",
    "Decrypted",
    "FunctionRecipient",
    "PrivateKeyRecipient",
    "Recipient",
    "decrypt",
    "encrypt",
    "jose_fixed_info",
]
