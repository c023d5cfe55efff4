"""Options of ``jwks`` (``kmsecdh.cli.commands.jwks``: KMS keys' public keys as a JWK Set)."""

from __future__ import annotations

from typing import Any

from kmsecdh.cli.options.common import add_command, add_output


def add_jwks(subcommands: Any) -> None:
    jwks = add_command(
        subcommands,
        "jwks",
        "jwks:jwks",
        help="KMS keys' public keys as a JWK Set (kid = RFC 7638 thumbprint, use enc)",
        description="Print or write a JWKS of key agreement KMS keys (GetPublicKey, or the derive function).",
    )
    jwks.add_argument(
        "--key-id", action="append", required=True, metavar="ID", help="key ARN, key id or alias (repeatable)"
    )
    jwks.add_argument(
        "--function", metavar="NAME", help="ask the derive function (public_key) instead of KMS"
    )
    add_output(jwks, "write here instead of stdout")
