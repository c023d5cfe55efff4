"""Options of ``keygen`` and ``derive-local`` (``kmsecdh.cli.commands.local``: the peer's side, no AWS)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_kdf_arguments, add_output
from kmsecdh.keys import KEY_SPEC_BY_CURVE


def add_keygen(subcommands: Any) -> None:
    keygen = add_command(
        subcommands,
        "keygen",
        "local:keygen",
        help="make an EC key pair for the peer side (like openssl ecparam -genkey + ec -pubout)",
        description="Write NAME.pem (SEC1 private key, mode 0600), NAME.pub.der and NAME.pub.pem.",
    )
    keygen.add_argument("--curve", choices=sorted(KEY_SPEC_BY_CURVE), required=True)
    keygen.add_argument("--out", required=True, metavar="NAME", help="file name prefix")
    keygen.add_argument("--force", action="store_true", help="overwrite existing files")


def add_derive_local(subcommands: Any) -> None:
    derive_local = add_command(
        subcommands,
        "derive-local",
        "local:derive_local",
        help="peer: derive the same key from your EC private key",
        description="ECDH with your private key and the KMS key's public key, then the same KDF.",
    )
    derive_local.add_argument(
        "--private-key", type=Path, required=True, metavar="FILE", help="PEM, SEC1 or PKCS#8"
    )
    derive_local.add_argument(
        "--peer-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the KMS key's public key, DER or PEM",
    )
    add_kdf_arguments(derive_local)
    add_output(derive_local, "write the raw key here (mode 0600) instead of hex on stdout")
    derive_local.set_defaults(needs_kdf=True)
