"""The peer's commands, no AWS: ``keygen`` and ``derive-local`` (cryptography only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.cli.errors import EXIT_OK
from kmsecdh.cli.files import PUBLIC_MODE, refuse_existing, write_derived_key, write_file
from kmsecdh.cli.keyfiles import load_peer_key_file, load_private_key, private_key_pem
from kmsecdh.contract import KdfParameters
from kmsecdh.kdf import derive_key
from kmsecdh.keys import KEY_SPEC_BY_CURVE, KEY_SPECS, ecdh_shared_secret, public_key_der, public_key_pem


def keygen(args: argparse.Namespace) -> int:
    spec = KEY_SPEC_BY_CURVE[args.curve]
    private_path, der_path, pem_path = (
        Path(f"{args.out}{suffix}") for suffix in (".pem", ".pub.der", ".pub.pem")
    )
    refuse_existing([private_path, der_path, pem_path], args.force)
    private_key = ec.generate_private_key(KEY_SPECS[spec].curve())
    public_key = private_key.public_key()
    write_file(private_path, private_key_pem(private_key), force=args.force)
    write_file(der_path, public_key_der(public_key), force=args.force, mode=PUBLIC_MODE)
    write_file(pem_path, public_key_pem(public_key).encode("ascii"), force=args.force, mode=PUBLIC_MODE)
    print(f"{args.curve} key pair: {private_path} (private, mode 0600), {der_path}, {pem_path}")
    return EXIT_OK


def derive_local(args: argparse.Namespace) -> int:
    kdf: KdfParameters = args.kdf_parameters
    private_key, key_spec = load_private_key(args.private_key)
    peer = load_peer_key_file(args.peer_public_key, key_spec)
    derived = derive_key(
        ecdh_shared_secret(private_key, peer),
        algorithm=kdf.algorithm,
        length=kdf.length,
        fixed_info=kdf.fixed_info,
        salt=kdf.salt,
    )
    write_derived_key(derived, args)
    return EXIT_OK
