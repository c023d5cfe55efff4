"""``encrypt`` and ``decrypt``: AWS Encryption SDK messages between the two parties (``kmsecdh.messages``)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from kmsecdh import messages
from kmsecdh.cli import aws
from kmsecdh.cli.errors import EXIT_OK, UsageError
from kmsecdh.cli.files import atomic_output
from kmsecdh.cli.keyfiles import load_peer_key_file, load_private_key, private_key_pem
from kmsecdh.keys import public_key_der


def encrypt(args: argparse.Namespace) -> int:
    _check_context(args)
    keyring = _keyring(args)
    with open(args.input, "rb") as source, atomic_output(args.out, force=args.force) as sink:
        messages.encrypt_stream(source, sink, keyring, args.context)
    print(f"encrypted {args.input} to {args.out}; encryption context: {_context_text(args.context)}")
    return EXIT_OK


def decrypt(args: argparse.Namespace) -> int:
    _check_context(args)
    keyring = _keyring(args)
    with open(args.input, "rb") as source, atomic_output(args.out, force=args.force) as sink:
        context = messages.decrypt_stream(source, sink, keyring, args.context)
    print(f"decrypted {args.input} to {args.out}; encryption context: {_context_text(context)}")
    return EXIT_OK


def _check_context(args: argparse.Namespace) -> None:
    """The ESDK adds keys with its reserved prefix itself: a usage error before any file is read."""
    for key in args.context:
        if key.startswith(messages.RESERVED_CONTEXT_PREFIX):
            raise UsageError(
                f"kmsecdh {args.command}",
                f"argument --context: keys starting with {messages.RESERVED_CONTEXT_PREFIX!r} are reserved",
            )


def _keyring(args: argparse.Namespace) -> Any:
    """The ECDH keyring of whichever party runs the command: a local private key, or a KMS key."""
    if args.private_key:
        private_key, key_spec = load_private_key(args.private_key)
        peer = load_peer_key_file(args.peer_public_key, key_spec)
        return messages.raw_ecdh_keyring(private_key_pem(private_key), public_key_der(peer), key_spec)
    kms = aws.aws_client("kms")
    response = aws.kms_public_key(kms, args.key_id)
    key_spec = response["KeySpec"]
    peer = load_peer_key_file(args.peer_public_key, key_spec)
    return messages.kms_ecdh_keyring(kms, response["KeyId"], public_key_der(peer), key_spec)


def _context_text(context: dict[str, str]) -> str:
    return json.dumps(context, sort_keys=True, ensure_ascii=False)
