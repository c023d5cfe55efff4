"""Options of ``jwe encrypt`` and ``jwe decrypt`` (``kmsecdh.cli.commands.jwe``: ECDH-ES, RFC 7518)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_message_io
from kmsecdh.jose import CONTENT_ENCRYPTIONS, KEY_WRAP_SIZES


def add_jwe(subcommands: Any) -> None:
    jwe = subcommands.add_parser(
        "jwe",
        help="JWE with ECDH-ES (RFC 7518), compact serialization",
        description="Encrypt to a public key; decrypt with a KMS key, the derive function or a local key.",
    )
    jwe_commands = jwe.add_subparsers(dest="jwe_command", required=True, metavar="COMMAND")
    encrypt = add_command(
        jwe_commands,
        "encrypt",
        "jwe:encrypt",
        help="encrypt a file to a recipient's public key (no KMS call)",
        description="Write a compact JWE for the recipient's public key (PEM, DER or JWK).",
    )
    encrypt.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    encrypt.add_argument("--alg", choices=list(KEY_WRAP_SIZES), required=True)
    encrypt.add_argument("--enc", choices=list(CONTENT_ENCRYPTIONS), required=True)
    encrypt.add_argument("--apu", metavar="TEXT", help="PartyUInfo (UTF-8), e.g. the sender's name")
    encrypt.add_argument("--apv", metavar="TEXT", help="PartyVInfo (UTF-8), e.g. the recipient's name")
    encrypt.add_argument("--kid", metavar="TEXT", help="kid header, e.g. the recipient's JWK thumbprint")
    add_message_io(encrypt, "the compact JWE")

    decrypt = add_command(
        jwe_commands,
        "decrypt",
        "jwe:decrypt",
        help="decrypt a compact JWE with your KMS key, the derive function, or a local key",
        description="--key-id alone: KMS DeriveSharedSecret from here. --function [--key-id]: the derive "
        "function derives the key (onestep-sha256 with the JOSE FixedInfo), Z never leaves it. "
        "--private-key: a local PEM key. Nothing is written unless the JWE authenticates.",
    )
    decrypt.add_argument("--key-id", metavar="ID", help="your KMS key (ARN, key id or alias)")
    decrypt.add_argument("--function", metavar="NAME", help="derive function name or ARN")
    decrypt.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    add_message_io(decrypt, "the plaintext (mode 0600)")
