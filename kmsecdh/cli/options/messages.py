"""Options of ``encrypt`` and ``decrypt`` (``kmsecdh.cli.commands.messages``: the AWS Encryption SDK)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_output


def _context_pair(text: str) -> tuple[str, str]:
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    # Keys the Encryption SDK reserves are refused by the encrypt/decrypt commands, which load it.
    return key, value


def _add_party_key(parser: argparse.ArgumentParser) -> None:
    own = parser.add_mutually_exclusive_group(required=True)
    own.add_argument(
        "--private-key", type=Path, metavar="FILE", help="your EC private key (PEM): the peer side"
    )
    own.add_argument("--key-id", metavar="ID", help="your KMS key (ARN, key id or alias): the key owner side")
    parser.add_argument(
        "--peer-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the other party's public key (DER or PEM)",
    )
    parser.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE")
    parser.add_argument(
        "--context",
        type=_context_pair,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="encryption context pair (repeatable)",
    )


def add_encrypt(subcommands: Any) -> None:
    encrypt = add_command(
        subcommands,
        "encrypt",
        "messages:encrypt",
        help="encrypt a file for the other party (AWS Encryption SDK, ECDH keyring)",
        description="Encrypt with the Raw ECDH keyring (--private-key) "
        "or the AWS KMS ECDH keyring (--key-id).",
    )
    _add_party_key(encrypt)
    add_output(encrypt, "the encrypted message", required=True)


def add_decrypt(subcommands: Any) -> None:
    decrypt = add_command(
        subcommands,
        "decrypt",
        "messages:decrypt",
        help="decrypt a file from the other party; prints its encryption context",
        description="Decrypt and authenticate a message; --context pairs must all be in its encryption "
        "context. Nothing is written unless the whole message verifies.",
    )
    _add_party_key(decrypt)
    add_output(decrypt, "the plaintext (mode 0600)", required=True)
