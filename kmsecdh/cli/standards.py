"""``kmsecdh hpke``, ``kmsecdh jwe`` and ``kmsecdh jwks``: KMS keys as recipients of HPKE (RFC 9180) and
JWE ECDH-ES (RFC 7518), and their public keys as a JWK Set.

The sender needs only the recipient's public key file (PEM or DER SubjectPublicKeyInfo, or a JWK, or
a JWK Set holding one key); the recipient opens with ``--key-id`` (KMS DeriveSharedSecret),
``--private-key`` (a local PEM key) or, for JWE, ``--function`` (the derive function). Nothing is
written unless the whole message opens and authenticates.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh.cli import remote
from kmsecdh.cli.errors import EXIT_OK, CommandError, UsageError
from kmsecdh.cli.files import PUBLIC_MODE, read_key_file, refuse_existing, write_file
from kmsecdh.cli.keyfiles import load_private_key
from kmsecdh.errors import InvalidPublicKey, InvalidRequest
from kmsecdh.hpke import AEADS, DEFAULT_AEAD, KDFS
from kmsecdh.jose import CONTENT_ENCRYPTIONS, KEY_WRAP_SIZES
from kmsecdh.jwk import load_public_jwk, parse_jwk_json
from kmsecdh.keys import KEY_SPECS, key_spec_of, load_peer_public_key

MAX_MESSAGE_SIZE = 256 * 1024 * 1024
"""HPKE and JWE here are single-shot: the whole message is held in memory."""


def _hex(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not hexadecimal") from None


# --- arguments ------------------------------------------------------------------------------------


def add_commands(subcommands: Any) -> None:
    """Add ``hpke``, ``jwe`` and ``jwks`` to the ``kmsecdh`` subcommands."""
    hpke = subcommands.add_parser(
        "hpke",
        help="HPKE (RFC 9180) base mode, single-shot: seal to a public key, open with a KMS key",
        description="Single-shot HPKE (RFC 9180 base mode) with DHKEM on the recipient key's curve. "
        "The message is enc || ciphertext (see README, 'HPKE').",
    )
    hpke_commands = hpke.add_subparsers(dest="hpke_command", required=True, metavar="COMMAND")
    seal = hpke_commands.add_parser(
        "seal",
        help="seal a file to a recipient's public key (no KMS call)",
        description="Write enc || ciphertext for the recipient's public key (PEM, DER or JWK).",
    )
    seal.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    _add_io(seal, "the sealed message, enc || ciphertext")
    _add_hpke_suite(seal)
    seal.set_defaults(handler=hpke_seal)

    open_ = hpke_commands.add_parser(
        "open",
        help="open a message sealed to your KMS key (--key-id) or local key (--private-key)",
        description="Open enc || ciphertext; nothing is written unless it authenticates.",
    )
    own = open_.add_mutually_exclusive_group(required=True)
    own.add_argument("--key-id", metavar="ID", help="your KMS key: ARN, key id or alias (DeriveSharedSecret)")
    own.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    _add_io(open_, "the plaintext (mode 0600)")
    _add_hpke_suite(open_)
    open_.set_defaults(handler=hpke_open)

    jwe = subcommands.add_parser(
        "jwe",
        help="JWE with ECDH-ES (RFC 7518), compact serialization",
        description="Encrypt to a public key; decrypt with a KMS key, the derive function or a local key.",
    )
    jwe_commands = jwe.add_subparsers(dest="jwe_command", required=True, metavar="COMMAND")
    encrypt = jwe_commands.add_parser(
        "encrypt",
        help="encrypt a file to a recipient's public key (no KMS call)",
        description="Write a compact JWE for the recipient's public key (PEM, DER or JWK).",
    )
    encrypt.add_argument(
        "--peer-public-key", type=Path, required=True, metavar="FILE", help="the recipient's key"
    )
    encrypt.add_argument("--alg", choices=list(KEY_WRAP_SIZES), required=True)
    encrypt.add_argument("--enc", choices=list(CONTENT_ENCRYPTIONS), required=True)
    encrypt.add_argument("--apu", metavar="TEXT", help="PartyUInfo (UTF-8), e.g. the sender's name")
    encrypt.add_argument("--apv", metavar="TEXT", help="PartyVInfo (UTF-8), e.g. the recipient's name")
    encrypt.add_argument("--kid", metavar="TEXT", help="kid header, e.g. the recipient's JWK thumbprint")
    _add_io(encrypt, "the compact JWE")
    encrypt.set_defaults(handler=jwe_encrypt)

    decrypt = jwe_commands.add_parser(
        "decrypt",
        help="decrypt a compact JWE with your KMS key, the derive function, or a local key",
        description="--key-id alone: KMS DeriveSharedSecret from here. --function [--key-id]: the derive "
        "function derives the key (onestep-sha256 with the JOSE FixedInfo), Z never leaves it. "
        "--private-key: a local PEM key. Nothing is written unless the JWE authenticates.",
    )
    decrypt.add_argument("--key-id", metavar="ID", help="your KMS key (ARN, key id or alias)")
    decrypt.add_argument("--function", metavar="NAME", help="derive function name or ARN")
    decrypt.add_argument("--private-key", type=Path, metavar="FILE", help="your EC private key (PEM)")
    _add_io(decrypt, "the plaintext (mode 0600)")
    decrypt.set_defaults(handler=jwe_decrypt)

    jwks = subcommands.add_parser(
        "jwks",
        help="KMS keys' public keys as a JWK Set (kid = RFC 7638 thumbprint, use enc)",
        description="Print or write a JWKS of key agreement KMS keys (GetPublicKey, or the derive function).",
    )
    jwks.add_argument(
        "--key-id", action="append", required=True, metavar="ID", help="key ARN, key id or alias (repeatable)"
    )
    jwks.add_argument(
        "--function", metavar="NAME", help="ask the derive function (public_key) instead of KMS"
    )
    jwks.add_argument("--out", type=Path, metavar="FILE", help="write here instead of stdout")
    jwks.add_argument("--force", action="store_true", help="overwrite an existing output file")
    jwks.set_defaults(handler=jwks_command)


def _add_io(parser: argparse.ArgumentParser, out_help: str) -> None:
    parser.add_argument("--in", dest="input", type=Path, required=True, metavar="FILE")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help=out_help)
    parser.add_argument("--force", action="store_true", help="overwrite an existing output file")


def _add_hpke_suite(parser: argparse.ArgumentParser) -> None:
    suite = parser.add_argument_group("suite and context (both sides must use the same)")
    suite.add_argument("--info-hex", type=_hex, default=b"", metavar="HEX", help="info (default: empty)")
    suite.add_argument("--aad-hex", type=_hex, default=b"", metavar="HEX", help="aad (default: empty)")
    suite.add_argument("--kdf", choices=list(KDFS), help="default: the KEM's own (P-256: hkdf-sha256, ...)")
    suite.add_argument("--aead", choices=list(AEADS), default=DEFAULT_AEAD, help="default: %(default)s")


# --- inputs ---------------------------------------------------------------------------------------


def _read_message(path: Path) -> bytes:
    with open(path, "rb") as file:
        data = file.read(MAX_MESSAGE_SIZE + 1)
    if len(data) > MAX_MESSAGE_SIZE:
        raise CommandError(f"{path} is larger than {MAX_MESSAGE_SIZE} bytes (single-shot: held in memory)")
    return data


def recipient_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    """The recipient's public key from PEM or DER SubjectPublicKeyInfo, a JWK, or a one-key JWK Set,
    validated on its own curve (P-256, P-384 or P-521)."""
    data = read_key_file(path, "peer public key")
    if data.lstrip().startswith(b"{"):
        document = parse_jwk_json(data, f"JWK {path}")
        if "keys" in document:
            keys = document["keys"]
            if not isinstance(keys, list) or len(keys) != 1:
                raise InvalidPublicKey(f"JWK Set {path} must hold exactly one key to encrypt to")
            document = keys[0]
        return load_public_jwk(document, what=f"JWK {path}")
    return load_peer_public_key(data, _key_spec_of_file(data))


def _key_spec_of_file(data: bytes) -> str:
    """The key spec a PEM/DER public key declares; P-256 when unreadable, so that the strict loader
    says precisely what is wrong."""
    try:
        loaded = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
        return key_spec_of(loaded)
    except (ValueError, UnsupportedAlgorithm, InvalidPublicKey):
        return next(iter(KEY_SPECS))


def _own_private_key(args: argparse.Namespace) -> ec.EllipticCurvePrivateKey:
    if args.private_key:
        return load_private_key(args.private_key)[0]
    from kmsecdh.kms_key import KmsPrivateKey

    return KmsPrivateKey(args.key_id, remote.aws_client("kms"))


def _suite_text(suite: Any) -> str:
    kem_id, kdf_id, aead_id = suite.ids
    ids = f"kem 0x{kem_id:04x}, kdf 0x{kdf_id:04x}, aead 0x{aead_id:04x}"
    return f"{suite.key_spec} DHKEM, {suite.kdf}, {suite.aead} ({ids})"


# --- commands -------------------------------------------------------------------------------------


def hpke_seal(args: argparse.Namespace) -> int:
    from kmsecdh import hpke

    refuse_existing([args.out], args.force)
    recipient = recipient_public_key(args.peer_public_key)
    suite = hpke.suite_for(key_spec_of(recipient), args.kdf, args.aead)
    message = hpke.seal(
        _read_message(args.input),
        recipient,
        info=args.info_hex,
        aad=args.aad_hex,
        kdf=suite.kdf,
        aead=suite.aead,
    )
    write_file(args.out, message, force=args.force, mode=PUBLIC_MODE)
    print(
        f"sealed {args.input} to {args.out}: enc {suite.enc_size} bytes || ciphertext "
        f"{len(message) - suite.enc_size} bytes; {_suite_text(suite)}"
    )
    return EXIT_OK


def hpke_open(args: argparse.Namespace) -> int:
    from kmsecdh import hpke

    refuse_existing([args.out], args.force)
    message = _read_message(args.input)
    key = _own_private_key(args)
    suite = hpke.suite_for(key_spec_of(key), args.kdf, args.aead)
    plaintext = hpke.open_message(
        message, key, info=args.info_hex, aad=args.aad_hex, kdf=suite.kdf, aead=suite.aead
    )
    write_file(args.out, plaintext, force=args.force)
    print(f"opened {args.input} to {args.out} ({len(plaintext)} bytes); {_suite_text(suite)}")
    return EXIT_OK


def jwe_encrypt(args: argparse.Namespace) -> int:
    from kmsecdh import jose

    refuse_existing([args.out], args.force)
    recipient = recipient_public_key(args.peer_public_key)
    token = jose.encrypt(
        _read_message(args.input),
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


def jwe_decrypt(args: argparse.Namespace) -> int:
    from kmsecdh import jose

    prog = "kmsecdh jwe decrypt"
    if args.private_key and (args.key_id or args.function):
        raise UsageError(prog, "--private-key excludes --key-id and --function")
    if not (args.private_key or args.key_id or args.function):
        raise UsageError(prog, "one of --key-id, --function or --private-key is required")
    refuse_existing([args.out], args.force)
    token = _read_message(args.input)
    recipient: Any
    if args.function:
        recipient = jose.FunctionRecipient(remote.DeriveFunction(args.function).invoke, args.key_id)
    else:
        recipient = _own_private_key(args)
    result = jose.decrypt(token, recipient)
    write_file(args.out, result.plaintext, force=args.force)
    kid = result.header.get("kid")
    print(
        f"decrypted {args.input} to {args.out} ({len(result.plaintext)} bytes): alg {result.header['alg']}, "
        f"enc {result.header['enc']}" + (f", kid {kid}" if isinstance(kid, str) else "")
    )
    return EXIT_OK


def jwks_command(args: argparse.Namespace) -> int:
    from kmsecdh.jwk import public_jwk

    keys = []
    for key_id in args.key_id:
        if args.function:
            response = remote.DeriveFunction(args.function).invoke(remote.public_key_event(key_id))
            der, key_spec = remote.decode_b64_field(response, "public_key_der"), response.get("key_spec")
        else:
            response = remote.kms_public_key(remote.aws_client("kms"), key_id)
            der, key_spec = response.get("PublicKey", b""), response.get("KeySpec")
        try:
            keys.append(public_jwk(load_peer_public_key(der, str(key_spec))))
        except (InvalidPublicKey, InvalidRequest):
            raise CommandError(f"the public key returned for {key_id} does not parse as {key_spec}") from None
    document = json.dumps({"keys": keys}, indent=2) + "\n"
    if args.out:
        write_file(args.out, document.encode("utf-8"), force=args.force, mode=PUBLIC_MODE)
        print(f"JWK Set of {len(keys)} key(s) written to {args.out}")
    else:
        sys.stdout.write(document)
    return EXIT_OK
