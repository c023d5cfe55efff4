"""What each subcommand does, once its options are parsed (see ``kmsecdh.cli.parser``)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import messages
from kmsecdh.audit_events import FUNCTION_ARN_PATTERN, KeyEvent, invocation_events, key_events
from kmsecdh.cli import remote
from kmsecdh.cli.errors import EXIT_OK, CommandError, FunctionError, UsageError
from kmsecdh.cli.files import PUBLIC_MODE, atomic_output, read_key_file, refuse_existing, write_file
from kmsecdh.cli.keyfiles import load_peer_key_file, load_private_key, private_key_pem
from kmsecdh.contract import KEY_ARN_PATTERN, KdfParameters
from kmsecdh.errors import InvalidPublicKey
from kmsecdh.kdf import derive_key
from kmsecdh.keys import (
    KEY_SPECS,
    ecdh_shared_secret,
    load_peer_public_key,
    public_key_der,
    public_key_pem,
)

CURVES = {spec.nist_name: spec.name for spec in KEY_SPECS.values()}


def keygen(args: argparse.Namespace) -> int:
    spec = CURVES[args.curve]
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


def public_key(args: argparse.Namespace) -> int:
    if args.function:
        response = remote.DeriveFunction(args.function).invoke(remote.public_key_event(args.key_id))
        der, key_spec = remote.decode_b64_field(response, "public_key_der"), response.get("key_spec")
    else:
        response = remote.kms_public_key(remote.aws_client("kms"), args.key_id)
        der, key_spec = response.get("PublicKey", b""), response.get("KeySpec")
    try:
        key = load_peer_public_key(der, str(key_spec))
    except InvalidPublicKey:
        raise CommandError(
            f"the public key returned for {args.key_id} does not parse as {key_spec}"
        ) from None
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
    response = remote.DeriveFunction(args.function).invoke(remote.derive_event(args.key_id, peer, kdf))
    derived = remote.decode_b64_field(response, "derived_key")
    if len(derived) != kdf.length:
        raise FunctionError(f"function {args.function} returned no {kdf.length}-byte derived_key")
    _write_derived_key(derived, args)
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
    _write_derived_key(derived, args)
    return EXIT_OK


def _write_derived_key(derived: bytes, args: argparse.Namespace) -> None:
    """To a 0600 file as raw bytes, or as hex on stdout: the caller asked for the key itself."""
    if args.out:
        write_file(args.out, derived, force=args.force)
        print(f"{len(derived)}-byte key ({args.kdf_parameters.algorithm}) written to {args.out}")
    else:
        print(derived.hex())


def _keyring(args: argparse.Namespace) -> Any:
    """The ECDH keyring of whichever party runs the command: a local private key, or a KMS key."""
    if args.private_key:
        private_key, key_spec = load_private_key(args.private_key)
        peer = load_peer_key_file(args.peer_public_key, key_spec)
        return messages.raw_ecdh_keyring(private_key_pem(private_key), public_key_der(peer), key_spec)
    kms = remote.aws_client("kms")
    response = remote.kms_public_key(kms, args.key_id)
    key_spec = response["KeySpec"]
    peer = load_peer_key_file(args.peer_public_key, key_spec)
    return messages.kms_ecdh_keyring(kms, response["KeyId"], public_key_der(peer), key_spec)


def encrypt(args: argparse.Namespace) -> int:
    keyring = _keyring(args)
    with open(args.input, "rb") as source, atomic_output(args.out, force=args.force) as sink:
        messages.encrypt_stream(source, sink, keyring, args.context)
    print(f"encrypted {args.input} to {args.out}; encryption context: {_context_text(args.context)}")
    return EXIT_OK


def decrypt(args: argparse.Namespace) -> int:
    keyring = _keyring(args)
    with open(args.input, "rb") as source, atomic_output(args.out, force=args.force) as sink:
        context = messages.decrypt_stream(source, sink, keyring, args.context)
    print(f"decrypted {args.input} to {args.out}; encryption context: {_context_text(context)}")
    return EXIT_OK


def _context_text(context: dict[str, str]) -> str:
    return json.dumps(context, sort_keys=True, ensure_ascii=False)


def _key_arn(key_id: str) -> str:
    """CloudTrail names KMS keys by ARN: resolve an alias or key id with DescribeKey."""
    if KEY_ARN_PATTERN.fullmatch(key_id):
        return key_id
    return remote.aws_client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _function_arn(function: str) -> str:
    """Invocation data events name the unqualified function ARN: resolve a name with Lambda."""
    if FUNCTION_ARN_PATTERN.fullmatch(function):
        return function
    arn = remote.aws_client("lambda").get_function_configuration(FunctionName=function)["FunctionArn"]
    return ":".join(arn.split(":")[:7])  # without a version or alias qualifier


_AUDIT_COLUMNS = ("time", "event", "principal", "source_ip", "error")


def audit(args: argparse.Namespace) -> int:
    if (args.function is None) != (args.log_group is None):
        raise UsageError("kmsecdh audit", "--function and --log-group go together")
    key_arn = _key_arn(args.key_id)
    start = datetime.now(UTC) - args.since
    events: Iterable[KeyEvent] = key_events(remote.aws_client("cloudtrail"), key_arn, start)
    subject = key_arn
    if args.function is not None:
        function_arn = _function_arn(args.function)
        invocations = invocation_events(remote.aws_client("logs"), args.log_group, function_arn, start)
        # Both lists are newest first; the times are ISO 8601 in UTC, so they sort as text.
        events = sorted([*events, *invocations], key=lambda event: event.time, reverse=True)
        subject = f"{key_arn} and invocations of {function_arn}"
    if args.json:
        for event in events:
            print(event.as_json())
        return EXIT_OK
    rows = list(events)
    _print_table(rows)
    print(f"{len(rows)} events on {subject} since {start.isoformat(timespec='seconds')}", file=sys.stderr)
    return EXIT_OK


def _print_table(events: list[KeyEvent]) -> None:
    rows = [tuple(column.upper() for column in _AUDIT_COLUMNS)]
    rows += [tuple(getattr(event, column) or "-" for column in _AUDIT_COLUMNS) for event in events]
    widths = [max(len(row[index]) for row in rows) for index in range(len(_AUDIT_COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
