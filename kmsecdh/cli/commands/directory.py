"""``directory publish`` and ``directory fetch``: the environment's signed public-key directory
(``kmsecdh.directory``).

``publish`` reads the ``KeyGenerations`` output of ``kmsecdh-<environment>-key-agreement`` and the outputs of
``kmsecdh-<environment>-directory`` (the signing key, the bucket, the parameter, the maximum age), fetches
every active generation's public key from KMS, signs the JWK Set with the signing key (KMS ``Sign``, ES384)
and writes the JWS to the bucket (``DIRECTORY_OBJECT_KEY``) and the parameter, and to ``--out`` when given.
Its ``serial`` is the published one's plus one; the bucket's object is the authority, written only if it is
still the one read (S3 conditional writes), so that of two publishers racing one fails instead of both
publishing the same serial. ``fetch`` reads it back (the bucket, a file or a URL), verifies it with the pinned
signing public key, refuses it expired, not yet valid, or older than the newest serial this reader has seen
(kept per signing key in ``$XDG_STATE_HOME/kmsecdh/directory/``) or than ``--min-serial``, and prints the
current keys as a JWK Set. Where it came from does not matter to its trust: only the pinned key's signature
and the serial do.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import fcntl
import ipaddress
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kmsecdh import directory
from kmsecdh.cli import aws
from kmsecdh.cli.errors import EXIT_OK, CommandError
from kmsecdh.cli.files import PUBLIC_MODE, read_key_file, write_file

DIRECTORY_OBJECT_KEY = "directory.jws"
KEY_GENERATIONS_OUTPUT = "KeyGenerations"
SIGNING_KEY_OUTPUT = "DirectorySigningKeyArn"
BUCKET_OUTPUT = "DirectoryBucketName"
PARAMETER_OUTPUT = "DirectoryParameterName"
MAX_AGE_OUTPUT = "DirectoryMaxAgeDays"
# S3's answers to a conditional write that lost: the object changed since it was read (412), or another
# conditional write to it was in progress (409).
LOST_RACE_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})
# A JWS of a few dozen keys is a few tens of KiB; a server sending more is not serving a directory.
MAX_DIRECTORY_BYTES = 1024 * 1024
URL_TIMEOUT_SECONDS = 10


def key_agreement_stack(environment: str) -> str:
    return f"kmsecdh-{environment}-key-agreement"


def directory_stack(environment: str) -> str:
    return f"kmsecdh-{environment}-directory"


def publish(args: argparse.Namespace) -> int:
    cloudformation, kms, s3 = aws.aws_client("cloudformation"), aws.aws_client("kms"), aws.aws_client("s3")
    generations = _json_output(cloudformation, key_agreement_stack(args.environment), KEY_GENERATIONS_OUTPUT)
    stack = directory_stack(args.environment)
    outputs = _outputs(cloudformation, stack)
    signing_key_arn = _required(outputs, stack, SIGNING_KEY_OUTPUT)
    bucket = _required(outputs, stack, BUCKET_OUTPUT)
    parameter = _required(outputs, stack, PARAMETER_OUTPUT)
    max_age = _max_age(_required(outputs, stack, MAX_AGE_OUTPUT), stack)
    keys = [
        directory.PublishedKey(
            public_key=aws.load_kms_public_key(kms, entry["arn"])[0],
            key_arn=entry["arn"],
            key_spec=entry["key_spec"],
            generation=entry.get("generation"),
            current=entry["current"],
            retire_after=entry.get("retire_after"),
        )
        for entry in generations
        if entry["status"] == "active"
    ]
    signing_public_key = _kms_signing_public_key(kms, signing_key_arn)
    last_serial, etag = _published(s3, bucket, signing_public_key, signing_key_arn)

    def sign_der(signing_input: bytes) -> bytes:
        return kms.sign(
            KeyId=signing_key_arn,
            Message=signing_input,
            MessageType="RAW",
            SigningAlgorithm=directory.KMS_SIGNING_ALGORITHM,
        )["Signature"]

    payload = directory.document(keys, serial=last_serial + 1, issued_at=int(time.time()), max_age=max_age)
    token = directory.sign(payload, signing_public_key, sign_der)
    # Only over the object read above: IfNoneMatch where there was none, IfMatch its ETag otherwise.
    condition = {"IfNoneMatch": "*"} if etag is None else {"IfMatch": etag}
    try:
        s3.put_object(
            Bucket=bucket,
            Key=DIRECTORY_OBJECT_KEY,
            Body=token.encode("ascii"),
            ContentType="application/jose",
            **condition,
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in LOST_RACE_CODES:
            raise
        raise CommandError(
            f"s3://{bucket}/{DIRECTORY_OBJECT_KEY} changed while this publisher signed serial "
            f"{payload['serial']}: another publisher published meanwhile; nothing was published, run "
            "publish again"
        ) from None
    aws.aws_client("ssm").put_parameter(Name=parameter, Value=token, Type="String", Overwrite=True)
    if args.out:
        write_file(args.out, token.encode("ascii") + b"\n", force=args.force, mode=PUBLIC_MODE)
    print(
        f"directory serial {payload['serial']} of {len(keys)} key(s), valid until "
        f"{directory.iso_utc(payload['exp'])}, signed by {signing_key_arn} (kid "
        f"{directory.signing_kid(signing_public_key)}) published to s3://{bucket}/{DIRECTORY_OBJECT_KEY} "
        f"and SSM parameter {parameter}"
    )
    return EXIT_OK


def _published(
    s3: Any, bucket: str, signing_public_key: ec.EllipticCurvePublicKey, signing_key_arn: str
) -> tuple[int, str | None]:
    """The serial and ETag of the directory in the bucket: (0, None) before the first publication."""
    where = f"s3://{bucket}/{DIRECTORY_OBJECT_KEY}"
    try:
        response = s3.get_object(Bucket=bucket, Key=DIRECTORY_OBJECT_KEY)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchKey":
            raise
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if headers.get("x-amz-delete-marker") == "true":
            # Starting over at serial 1 would make every reader that saw a later one refuse it.
            raise CommandError(
                f"{where} was deleted (its current version is a delete marker): restore its last version "
                "(the bucket is versioned) before publishing, so that the serial keeps growing"
            ) from None
        return 0, None
    body = response["Body"].read(MAX_DIRECTORY_BYTES + 1)
    try:
        serial = directory.published_serial(body.decode("ascii", errors="replace"), signing_public_key)
    except directory.DirectoryError as error:
        raise CommandError(
            f"{where} is not a directory signed by {signing_key_arn} ({type(error).__name__}: {error}): "
            "restore its last good version (the bucket is versioned) before publishing"
        ) from None
    return serial, response["ETag"]


def _max_age(value: str, stack_name: str) -> datetime.timedelta:
    try:
        days = int(value)
    except ValueError:
        days = 0
    if not 1 <= days <= directory.MAX_VALIDITY.days:
        raise CommandError(
            f"output {MAX_AGE_OUTPUT} of stack {stack_name} is {value!r}, not a number of days from 1 to "
            f"{directory.MAX_VALIDITY.days}"
        )
    return datetime.timedelta(days=days)


def fetch(args: argparse.Namespace) -> int:
    pinned = _pinned_public_key(args.signing_public_key)
    if args.file is not None:
        token = args.file.read_text(encoding="ascii", errors="replace")
    elif args.url is not None:
        token = _read_url(args.url)
    else:
        outputs = _outputs(aws.aws_client("cloudformation"), directory_stack(args.environment))
        bucket = _required(outputs, directory_stack(args.environment), BUCKET_OUTPUT)
        body = aws.aws_client("s3").get_object(Bucket=bucket, Key=DIRECTORY_OBJECT_KEY)["Body"].read()
        token = body.decode("ascii", errors="replace")
    kms_public_key = None
    if args.check_kms:
        kms = aws.aws_client("kms")

        def kms_public_key(arn: str) -> bytes:
            return aws.kms_public_key(kms, arn)["PublicKey"]

    state = _state_file(args.state_dir, directory.signing_kid(pinned))
    try:
        verified = directory.verify(token, pinned, kms_public_key)
        if args.min_serial is not None:
            directory.check_not_replayed(verified, args.min_serial, "the one --min-serial requires")
        with _newest_seen(state) as newest:
            if newest is not None:
                directory.check_not_replayed(verified, newest, f"the newest this reader has seen ({state})")
            if newest is None or verified.serial > newest:
                _record_seen(state, verified)
    except directory.DirectoryError as error:
        raise CommandError(f"directory refused: {type(error).__name__}: {error}") from None
    current = {
        "keys": directory.current_keys(verified.keys),
        "serial": verified.serial,
        "iat": verified.issued_at,
        "exp": verified.expires_at,
    }
    sys.stdout.write(json.dumps(current, indent=2) + "\n")
    return EXIT_OK


def default_state_dir() -> Path:
    """``$XDG_STATE_HOME/kmsecdh/directory`` (``~/.local/state`` when unset or not absolute, as the XDG Base
    Directory specification says)."""
    base = os.environ.get("XDG_STATE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".local" / "state"
    return root / "kmsecdh" / "directory"


def _state_file(state_dir: Path | None, kid: str) -> Path:
    """The newest serial seen of the directories the signing key ``kid`` signs: one file per signing key."""
    return (state_dir or default_state_dir()) / f"{kid}.json"


@contextlib.contextmanager
def _newest_seen(state: Path) -> Iterator[int | None]:
    """The serial recorded in ``state`` (None if none yet), under a lock held until the block ends, so that
    two fetches at once cannot record an older serial over a newer one."""
    state.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(state.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not state.exists():
            yield None
            return
        try:
            serial = json.loads(state.read_text(encoding="utf-8"))["serial"]
        except (ValueError, KeyError, TypeError):
            serial = None
        if isinstance(serial, bool) or not isinstance(serial, int):
            raise CommandError(
                f"{state} is not a directory state file (JSON with an integer serial): "
                "restore it, or remove it to trust the next directory as the newest"
            )
        yield serial


def _record_seen(state: Path, verified: directory.SignedDirectory) -> None:
    seen = {"serial": verified.serial, "iat": verified.issued_at, "exp": verified.expires_at}
    write_file(state, json.dumps(seen).encode("utf-8") + b"\n", force=True, mode=PUBLIC_MODE)


def _read_url(url: str) -> str:
    """The directory at ``url``: HTTPS, or HTTP to a loopback address; at most MAX_DIRECTORY_BYTES."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise CommandError(f"--url must be https:// (http:// only to this machine's loopback), got {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=URL_TIMEOUT_SECONDS) as response:  # noqa: S310 (scheme checked)
            body = response.read(MAX_DIRECTORY_BYTES + 1)
    except (urllib.error.URLError, TimeoutError, ValueError) as error:
        raise CommandError(f"could not read the directory from {url}: {error}") from None
    if len(body) > MAX_DIRECTORY_BYTES:
        raise CommandError(f"{url} sent more than {MAX_DIRECTORY_BYTES} bytes: not a directory")
    return body.decode("ascii", errors="replace")


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _pinned_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    data = read_key_file(path, "signing public key")
    try:
        key = (
            serialization.load_pem_public_key(data)
            if data.lstrip().startswith(b"-----")
            else serialization.load_der_public_key(data)
        )
    except ValueError:
        raise CommandError(f"{path} is not a PEM or DER public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP384R1):
        raise CommandError(f"{path} is not a P-384 public key: the directory is signed with ES384")
    return key


def _kms_signing_public_key(kms: Any, key_id: str) -> ec.EllipticCurvePublicKey:
    response = kms.get_public_key(KeyId=key_id)
    if response.get("KeyUsage") != "SIGN_VERIFY" or response.get("KeySpec") != directory.SIGNING_KEY_SPEC:
        raise CommandError(f"KMS key {key_id} is not a SIGN_VERIFY {directory.SIGNING_KEY_SPEC} key")
    key = serialization.load_der_public_key(response["PublicKey"])
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def _outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    [stack] = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}


def _required(outputs: dict[str, str], stack_name: str, name: str) -> str:
    if name not in outputs:
        raise CommandError(f"stack {stack_name} has no output {name}: deploy the environment first")
    return outputs[name]


def _json_output(cloudformation: Any, stack_name: str, name: str) -> list[dict[str, Any]]:
    value = _required(_outputs(cloudformation, stack_name), stack_name, name)
    try:
        entries = json.loads(value)
    except ValueError:
        raise CommandError(f"output {name} of stack {stack_name} is not JSON") from None
    if not isinstance(entries, list):
        raise CommandError(f"output {name} of stack {stack_name} is not a list of generations")
    return entries
