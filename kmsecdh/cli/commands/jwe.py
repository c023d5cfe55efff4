"""``jwe encrypt`` and ``jwe decrypt``: compact JWE with ECDH-ES (RFC 7518) for KMS keys (``kmsecdh.jose``).

The sender needs only the recipient's public key file (PEM, DER, a JWK or a one-key JWK Set) and makes
no AWS call. The recipient decrypts with ``--key-id`` alone (KMS DeriveSharedSecret from here),
``--function [--key-id]`` (the derive function derives the Concat KDF output through
``kmsecdh.client.DeriveFunctionClient``: Z never leaves it) or ``--private-key`` (a local PEM key); boto3
is imported only for the first two. Nothing is written unless the JWE authenticates.
"""

from __future__ import annotations

import argparse
from typing import Any

from kmsecdh import jose
from kmsecdh.cli.errors import EXIT_OK, UsageError
from kmsecdh.cli.files import PUBLIC_MODE, read_message, refuse_existing, write_file
from kmsecdh.cli.keyfiles import load_recipient_key_file, own_private_key


def encrypt(args: argparse.Namespace) -> int:
    refuse_existing([args.out], args.force)
    recipient = load_recipient_key_file(args.peer_public_key)
    token = jose.encrypt(
        read_message(args.input),
        recipient,
        alg=args.alg,
        enc=args.enc,
        apu=(args.apu or "").encode("utf-8"),
        apv=(args.apv or "").encode("utf-8"),
        kid=args.kid,
    )
    write_file(args.out, token.encode("ascii"), force=args.force, mode=PUBLIC_MODE)
    print(f"encrypted {args.input} to {args.out}: compact JWE, alg {args.alg}, enc {args.enc}")
    return EXIT_OK


def decrypt(args: argparse.Namespace) -> int:
    prog = "kmsecdh jwe decrypt"
    if args.private_key and (args.key_id or args.function):
        raise UsageError(prog, "--private-key excludes --key-id and --function")
    if not (args.private_key or args.key_id or args.function):
        raise UsageError(prog, "one of --key-id, --function or --private-key is required")
    refuse_existing([args.out], args.force)
    token = read_message(args.input)
    recipient: Any
    if args.function:
        from kmsecdh.client import DeriveFunctionClient

        recipient = jose.FunctionRecipient(DeriveFunctionClient(args.function).invoke, args.key_id)
    else:
        recipient = own_private_key(args.private_key, args.key_id)
    result = jose.decrypt(token, recipient)
    write_file(args.out, result.plaintext, force=args.force)
    kid = result.header.get("kid")
    print(
        f"decrypted {args.input} to {args.out} ({len(result.plaintext)} bytes): alg {result.header['alg']}, "
        f"enc {result.header['enc']}" + (f", kid {kid}" if isinstance(kid, str) else "")
    )
    return EXIT_OK
