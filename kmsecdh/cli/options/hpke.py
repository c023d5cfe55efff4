"""Options of ``hpke seal`` and ``hpke open`` (``kmsecdh.cli.commands.hpke``: RFC 9180 base mode)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_message_io, hex_bytes
from kmsecdh.hpke import AEADS, DEFAULT_AEAD, KDFS


def _add_suite(parser: argparse.ArgumentParser) -> None:
    suite = parser.add_argument_group("suite and context (both sides must use the same)")
    suite.add_argument("--info-hex", type=hex_bytes, default=b"", metavar="HEX", help="info (default: empty)")
    suite.add_argument("--aad-hex", type=hex_bytes, default=b"", metavar="HEX", help="aad (default: empty)")
    suite.add_argument("--kdf", choices=list(KDFS), help="default: the KEM's own (P-256: hkdf-sha256, ...)")
    suite.add_argument("--aead", choices=list(AEADS), default=DEFAULT_AEAD, help="default: %(default)s")


def add_hpke(subcommands: Any) -> None:
    hpke = subcommands.add_parser(
        "hpke",
        help="HPKE (RFC 9180) base mode, single-shot: seal to a public key, open with a KMS key",
        description="Single-shot HPKE (RFC 9180 base mode) with DHKEM on the recipient key's curve. "
        "The message is enc || ciphertext (see docs/hpke-jwe.md).",
    )
    hpke_commands = hpke.add_subparsers(dest="hpke_command", required=True, metavar="COMMAND")
    seal = add_command(
        hpke_commands,
        "seal",
        "hpke:seal",
        help="seal a file to a recipient's public key (no KMS call)",
        description="Write enc || ciphertext for the recipient's public key (PEM, DER or JWK).",
    )
    seal.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    add_message_io(seal, "the sealed message, enc || ciphertext")
    _add_suite(seal)

    open_message = add_command(
        hpke_commands,
        "open",
        "hpke:open_message",
        help="open a message sealed to your KMS key (--key-id) or local key (--private-key)",
        description="Open enc || ciphertext; nothing is written unless it authenticates.",
    )
    own = open_message.add_mutually_exclusive_group(required=True)
    own.add_argument("--key-id", metavar="ID", help="your KMS key: ARN, key id or alias (DeriveSharedSecret)")
    own.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    add_message_io(open_message, "the plaintext (mode 0600)")
    _add_suite(open_message)
