"""``directory publish`` and ``directory fetch``: the environment's signed public-key directory
(``kmsecdh.directory``).

``publish`` reads the ``KeyGenerations`` output of ``kmsecdh-<environment>-key-agreement`` and the outputs of
``kmsecdh-<environment>-directory`` (the signing key, the bucket, the parameter), fetches every active
generation's public key from KMS, signs the JWK Set with the signing key (KMS ``Sign``, ES384) and writes the
JWS to the bucket (``DIRECTORY_OBJECT_KEY``) and the parameter, and to ``--out`` when given. ``fetch`` reads
it back (the bucket, a file or a URL), verifies it with the pinned signing public key and prints the current
keys as a JWK Set. Where it came from does not matter to its trust: only the pinned key's signature does.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

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
# A JWS of a few dozen keys is a few tens of KiB; a server sending more is not serving a directory.
MAX_DIRECTORY_BYTES = 1024 * 1024
URL_TIMEOUT_SECONDS = 10


def key_agreement_stack(environment: str) -> str:
    return f"kmsecdh-{environment}-key-agreement"


def directory_stack(environment: str) -> str:
    return f"kmsecdh-{environment}-directory"


def publish(args: argparse.Namespace) -> int:
    cloudformation, kms = aws.aws_client("cloudformation"), aws.aws_client("kms")
    generations = _json_output(cloudformation, key_agreement_stack(args.environment), KEY_GENERATIONS_OUTPUT)
    outputs = _outputs(cloudformation, directory_stack(args.environment))
    signing_key_arn = _required(outputs, directory_stack(args.environment), SIGNING_KEY_OUTPUT)
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

    def sign_der(signing_input: bytes) -> bytes:
        return kms.sign(
            KeyId=signing_key_arn,
            Message=signing_input,
            MessageType="RAW",
            SigningAlgorithm=directory.KMS_SIGNING_ALGORITHM,
        )["Signature"]

    token = directory.sign(directory.document(keys), signing_public_key, sign_der)
    bucket = _required(outputs, directory_stack(args.environment), BUCKET_OUTPUT)
    parameter = _required(outputs, directory_stack(args.environment), PARAMETER_OUTPUT)
    aws.aws_client("s3").put_object(
        Bucket=bucket, Key=DIRECTORY_OBJECT_KEY, Body=token.encode("ascii"), ContentType="application/jose"
    )
    aws.aws_client("ssm").put_parameter(Name=parameter, Value=token, Type="String", Overwrite=True)
    if args.out:
        write_file(args.out, token.encode("ascii") + b"\n", force=args.force, mode=PUBLIC_MODE)
    print(
        f"directory of {len(keys)} key(s) signed by {signing_key_arn} (kid "
        f"{directory.signing_kid(signing_public_key)}) published to s3://{bucket}/{DIRECTORY_OBJECT_KEY} "
        f"and SSM parameter {parameter}"
    )
    return EXIT_OK


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

    try:
        keys = directory.verify(token, pinned, kms_public_key)
    except directory.DirectoryError as error:
        raise CommandError(f"directory refused: {type(error).__name__}: {error}") from None
    current = directory.current_keys(keys)
    sys.stdout.write(json.dumps({"keys": current}, indent=2) + "\n")
    return EXIT_OK


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
