"""``jwks``: key-agreement KMS keys' public keys as a JWK Set (KMS GetPublicKey, or the derive function's
``public_key`` through ``kmsecdh.client.DeriveFunctionClient``); each ``kid`` is the RFC 7638 thumbprint."""

from __future__ import annotations

import argparse
import json
import sys

from kmsecdh.cli import aws
from kmsecdh.cli.errors import EXIT_OK
from kmsecdh.cli.files import PUBLIC_MODE, write_file
from kmsecdh.client import DeriveFunctionClient
from kmsecdh.jwk import public_jwk


def jwks(args: argparse.Namespace) -> int:
    if args.function:
        function = DeriveFunctionClient(args.function)
        keys = [public_jwk(function.public_key(key_id=key_id)) for key_id in args.key_id]
    else:
        kms = aws.aws_client("kms")
        keys = [public_jwk(aws.load_kms_public_key(kms, key_id)[0]) for key_id in args.key_id]
    document = json.dumps({"keys": keys}, indent=2) + "\n"
    if args.out:
        write_file(args.out, document.encode("utf-8"), force=args.force, mode=PUBLIC_MODE)
        print(f"JWK Set of {len(keys)} key(s) written to {args.out}")
    else:
        sys.stdout.write(document)
    return EXIT_OK
