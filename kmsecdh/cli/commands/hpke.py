"""``hpke seal`` and ``hpke open``: single-shot HPKE (RFC 9180 base mode) with a KMS key as the recipient
(``kmsecdh.hpke``).

The sender needs only the recipient's public key file (PEM or DER SubjectPublicKeyInfo, a JWK, or a JWK
Set holding one key) and makes no AWS call; the recipient opens with ``--key-id`` (KMS
DeriveSharedSecret, the only command here that loads boto3) or ``--private-key`` (a local PEM key).
Nothing is written unless the whole message opens and authenticates.
"""

from __future__ import annotations

import argparse
from typing import Any

from kmsecdh import hpke
from kmsecdh.cli.errors import EXIT_OK
from kmsecdh.cli.files import PUBLIC_MODE, read_message, refuse_existing, write_file
from kmsecdh.cli.keyfiles import load_recipient_key_file, own_private_key
from kmsecdh.keys import key_spec_of


def seal(args: argparse.Namespace) -> int:
    refuse_existing([args.out], args.force)
    recipient = load_recipient_key_file(args.peer_public_key)
    suite = hpke.suite_for(key_spec_of(recipient), args.kdf, args.aead)
    message = hpke.seal(
        read_message(args.input),
        recipient,
        info=args.info_hex,
        aad=args.aad_hex,
        kdf=suite.kdf,
        aead=suite.aead,
    )
    write_file(args.out, message, force=args.force, mode=PUBLIC_MODE)
    print(
        f"sealed {args.input} to {args.out}: enc {suite.enc_size} bytes || ciphertext "
        f"{len(message) - suite.enc_size} bytes; {_suite_text(suite)}"
    )
    return EXIT_OK


def open_message(args: argparse.Namespace) -> int:
    refuse_existing([args.out], args.force)
    message = read_message(args.input)
    key = own_private_key(args.private_key, args.key_id)
    suite = hpke.suite_for(key_spec_of(key), args.kdf, args.aead)
    plaintext = hpke.open_message(
        message, key, info=args.info_hex, aad=args.aad_hex, kdf=suite.kdf, aead=suite.aead
    )
    write_file(args.out, plaintext, force=args.force)
    print(f"opened {args.input} to {args.out} ({len(plaintext)} bytes); {_suite_text(suite)}")
    return EXIT_OK


def _suite_text(suite: Any) -> str:
    kem_id, kdf_id, aead_id = suite.ids
    ids = f"kem 0x{kem_id:04x}, kdf 0x{kdf_id:04x}, aead 0x{aead_id:04x}"
    return f"{suite.key_spec} DHKEM, {suite.kdf}, {suite.aead} ({ids})"
