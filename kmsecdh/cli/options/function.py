"""Options of ``public-key`` and ``derive`` (``kmsecdh.cli.commands.function``: KMS and the derive
function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_kdf_arguments, add_output


def add_public_key(subcommands: Any) -> None:
    public_key = add_command(
        subcommands,
        "public-key",
        "function:public_key",
        help="fetch a KMS key's public key (KMS GetPublicKey, or the derive function)",
        description="Print or write the public key of a key-agreement KMS key, to hand to the peer.",
    )
    public_key.add_argument("--key-id", required=True, metavar="ID", help="key ARN, key id or alias")
    public_key.add_argument("--function", metavar="NAME", help="ask the derive function instead of KMS")
    public_key.add_argument("--format", choices=("der", "pem"), default="pem", help="default: %(default)s")
    add_output(public_key, "write here instead of stdout")


def add_derive(subcommands: Any) -> None:
    derive = add_command(
        subcommands,
        "derive",
        "function:derive",
        help="key owner: derive a key with the derive function (Lambda)",
        description="Invoke the derive function for one peer public key and output the derived key.",
    )
    derive.add_argument("--function", required=True, metavar="NAME", help="derive function name or ARN")
    derive.add_argument("--peer-public-key", type=Path, required=True, metavar="FILE", help="DER or PEM")
    derive.add_argument("--key-id", metavar="ID", help="KMS key (default: the function's default key)")
    add_kdf_arguments(derive)
    add_output(derive, "write the raw key here (mode 0600) instead of hex on stdout")
    derive.set_defaults(needs_kdf=True)
