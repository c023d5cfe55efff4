"""Options of ``directory publish`` and ``directory fetch`` (``kmsecdh.cli.commands.directory``: the
environment's signed public-key directory)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from kmsecdh.cli.options.common import add_command, add_output


def _serial(text: str) -> int:
    try:
        serial = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if serial < 1:
        raise argparse.ArgumentTypeError("serials start at 1")
    return serial


def add_directory(subcommands: Any) -> None:
    directory = subcommands.add_parser(
        "directory",
        help="the environment's signed public-key directory (a JWK Set in an ES384 JWS)",
        description="Publish every active generation's public key, signed by the environment's signing key, "
        "or fetch and verify it with the pinned signing public key.",
    )
    directory_commands = directory.add_subparsers(dest="directory_command", required=True, metavar="COMMAND")
    publish = add_command(
        directory_commands,
        "publish",
        "directory:publish",
        help="sign the directory with KMS and write it to the environment's bucket and SSM parameter",
        description="Read the stack outputs of the environment, fetch every active generation's public key "
        "(GetPublicKey), sign the JWK Set with the published directory's serial plus one, valid for the "
        "environment's maximum age (KMS Sign, ES384), and publish it: to the bucket only if the directory "
        "there is still the one read (an S3 conditional write), then to the SSM parameter.",
    )
    publish.add_argument("--environment", required=True, metavar="NAME", help="an environment of cdk.json")
    add_output(publish, "also write the JWS here")
    fetch = add_command(
        directory_commands,
        "fetch",
        "directory:fetch",
        help="verify the directory with the pinned signing key and print the current keys",
        description="Read the directory (the environment's bucket, a file or a URL), verify its signature, "
        "signer, kids and key ARNs, refuse it expired (exp), not yet valid (iat) or older than the newest "
        "serial seen (each with 5 minutes of clock skew allowed), record its serial as the newest seen, and "
        "print the current generation of each key spec as a JWK Set with its serial, iat and exp.",
    )
    source = fetch.add_mutually_exclusive_group(required=True)
    source.add_argument("--environment", metavar="NAME", help="read it from this environment's bucket")
    source.add_argument("--file", type=Path, metavar="FILE", help="read it from a file")
    source.add_argument(
        "--url",
        metavar="URL",
        help="read it over HTTPS (plain HTTP only from this machine's loopback), e.g. where you publish "
        "the bucket's object",
    )
    fetch.add_argument(
        "--verify",
        action="store_true",
        required=True,
        help="verify before printing (required: an unverified directory is never printed)",
    )
    fetch.add_argument(
        "--signing-public-key",
        type=Path,
        required=True,
        metavar="FILE",
        help="the pinned public key of the environment's signing key (PEM or DER, P-384)",
    )
    fetch.add_argument(
        "--check-kms",
        action="store_true",
        help="also compare each key with KMS GetPublicKey of its key ARN",
    )
    fetch.add_argument(
        "--min-serial",
        type=_serial,
        metavar="N",
        help="also refuse a directory whose serial is below N (e.g. one announced out of band)",
    )
    fetch.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="where the newest serial seen of each signing key is kept "
        "(default: $XDG_STATE_HOME/kmsecdh/directory, else ~/.local/state/kmsecdh/directory)",
    )
