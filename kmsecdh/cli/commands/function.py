"""The key owner's key commands: ``public-key`` (KMS GetPublicKey, or the derive function) and ``derive``
(the derive function, through ``kmsecdh.client``)."""

from __future__ import annotations

import argparse
import sys

from kmsecdh import client
from kmsecdh.cli import aws
from kmsecdh.cli.errors import EXIT_OK
from kmsecdh.cli.files import PUBLIC_MODE, read_key_file, write_derived_key, write_file
from kmsecdh.contract import KdfParameters
from kmsecdh.keys import key_spec_of, public_key_der, public_key_pem


def public_key(args: argparse.Namespace) -> int:
    if args.function:
        key = client.DeriveFunctionClient(args.function).public_key(key_id=args.key_id)
        key_spec = key_spec_of(key)
    else:
        key, key_spec = aws.load_kms_public_key(aws.aws_client("kms"), args.key_id)
    data = public_key_der(key) if args.format == "der" else public_key_pem(key).encode("ascii")
    if args.out:
        write_file(args.out, data, force=args.force, mode=PUBLIC_MODE)
        print(f"{key_spec} public key of {args.key_id} written to {args.out} ({args.format.upper()})")
    else:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return EXIT_OK


def derive(args: argparse.Namespace) -> int:
    kdf: KdfParameters = args.kdf_parameters
    peer = read_key_file(args.peer_public_key, "peer public key")
    derived = client.DeriveFunctionClient(args.function).derive(
        peer,
        key_id=args.key_id,
        kdf=kdf.algorithm,
        length=kdf.length,
        fixed_info=kdf.fixed_info,
        salt=kdf.salt,
    )
    write_derived_key(derived, args)
    return EXIT_OK
