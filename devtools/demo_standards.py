"""The demo's HPKE (RFC 9180) and JWE ECDH-ES (RFC 7518) exchanges, each way, between Alice's ordinary
EC key and Bob's KMS key (``devtools.demo`` calls ``run_exchanges`` after the Encryption SDK messages).

Alice seals or encrypts to Bob's KMS public key, and Bob opens through KMS (HPKE: DeriveSharedSecret via
``KmsPrivateKey``; JWE: the derive function, through ``kmsecdh.client.DeriveFunctionClient`` with the
handler served in-process, so Z never leaves it); Bob seals or encrypts to Alice's public key without any
KMS call, and Alice opens with her private key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from devtools import in_process_lambda
from kmsecdh import hpke, jose
from kmsecdh.client import DeriveFunctionClient
from kmsecdh.jwk import public_jwk
from kmsecdh.keys import load_peer_public_key
from kmsecdh.kms_key import KmsPrivateKey

HPKE_INFO = b"kmsecdh demo"
JWE_ALG, JWE_ENC = "ECDH-ES+A256KW", "A256GCM"


def run_exchanges(
    *,
    key_spec: str,
    alias: str,
    kms: Any,
    function: DeriveFunctionClient,
    function_environment: Mapping[str, str],
    alice_private: Path,
    alice_public: Path,
    bob_public: Path,
    say: Callable[..., None],
    result: Callable[[str], None],
) -> bool:
    """True when each of the four messages reads back as sent. ``function`` reaches the derive function
    (here its handler in-process), configured by ``function_environment``."""
    alice_key = serialization.load_pem_private_key(alice_private.read_bytes(), password=None)
    alice_pub = load_peer_public_key(alice_public.read_bytes(), key_spec)
    bob_pub = load_peer_public_key(bob_public.read_bytes(), key_spec)
    bob_key = KmsPrivateKey(alias, kms)
    suite = hpke.suite_for(key_spec)
    info_hex = HPKE_INFO.hex()
    ok = True

    # --- HPKE ---
    say(
        "Alice seals a message to Bob's KMS key with HPKE (RFC 9180), Bob opens it through KMS",
        f"kmsecdh hpke seal --peer-public-key {bob_public} --info-hex {info_hex} "
        "--in note.txt --out to-bob.hpke",
        f"kmsecdh hpke open --key-id {alias} --info-hex {info_hex} --in to-bob.hpke --out note.out",
    )
    plaintext = b"hello Bob, from Alice (HPKE)\n"
    message = hpke.seal(plaintext, bob_pub, info=HPKE_INFO)
    ok &= _check(result, "Bob", hpke.open_message(message, bob_key, info=HPKE_INFO), plaintext)
    result(
        f"{len(message)}-byte message: enc {suite.enc_size} bytes || ciphertext; {suite.kdf}, {suite.aead}"
    )

    say(
        "Bob seals a reply to Alice's public key (no KMS call), Alice opens it with her key",
        f"kmsecdh hpke seal --peer-public-key {alice_public} --info-hex {info_hex} "
        "--in reply.txt --out to-alice.hpke",
        f"kmsecdh hpke open --private-key {alice_private} --info-hex {info_hex} "
        "--in to-alice.hpke --out reply.out",
    )
    plaintext = b"hello Alice, from Bob (HPKE)\n"
    message = hpke.seal(plaintext, alice_pub, info=HPKE_INFO)
    ok &= _check(result, "Alice", hpke.open_message(message, alice_key, info=HPKE_INFO), plaintext)

    # --- JWE ---
    kid = public_jwk(bob_pub)["kid"]
    say(
        "Alice encrypts a JWE (ECDH-ES, RFC 7518) to Bob's published JWK, Bob decrypts through the derive "
        "function (its onestep-sha256 KDF is JOSE's Concat KDF: Z never leaves the function)",
        f"kmsecdh jwks --key-id {alias} --out bob.jwks.json",
        f"kmsecdh jwe encrypt --peer-public-key bob.jwks.json --alg {JWE_ALG} --enc {JWE_ENC} "
        f"--apu alice --apv bob --kid {kid} --in note.txt --out to-bob.jwe",
        f"kmsecdh jwe decrypt --function <derive function> --key-id {alias} --in to-bob.jwe --out note.out",
    )
    plaintext = b"hello Bob, from Alice (JWE)\n"
    token = jose.encrypt(plaintext, bob_pub, alg=JWE_ALG, enc=JWE_ENC, apu=b"alice", apv=b"bob", kid=kid)
    with in_process_lambda.environment(function_environment):
        decrypted = jose.decrypt(token, jose.FunctionRecipient(function.invoke, alias))
    ok &= _check(result, "Bob", decrypted.plaintext, plaintext)
    result(f"{len(token)}-character compact JWE, kid {kid}")

    say(
        "Bob encrypts a JWE reply to Alice's public key, Alice decrypts it with her key",
        f"kmsecdh jwe encrypt --peer-public-key {alice_public} --alg ECDH-ES --enc A128CBC-HS256 "
        "--in reply.txt --out to-alice.jwe",
        f"kmsecdh jwe decrypt --private-key {alice_private} --in to-alice.jwe --out reply.out",
    )
    plaintext = b"hello Alice, from Bob (JWE)\n"
    token = jose.encrypt(plaintext, alice_pub, alg="ECDH-ES", enc="A128CBC-HS256")
    ok &= _check(result, "Alice", jose.decrypt(token, alice_key).plaintext, plaintext)
    return bool(ok)


def _check(result: Callable[[str], None], reader: str, got: bytes, sent: bytes) -> bool:
    if got != sent:
        result(f"MISMATCH: {reader} read something else than was sent")
        return False
    result(f"{reader} read {got!r}")
    return True
