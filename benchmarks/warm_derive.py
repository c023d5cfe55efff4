"""Warm derive overhead: the handler's whole derive path vs parsing the key and one ConcatKDFHash.

The project side calls the Lambda entry point ``handler.handler`` (with its logging set-up) and a
stand-in KMS client that returns a fixed Z (no botocore, no network), so what is measured is all the
project adds around KMS: request validation, key resolution, peer key checks, the KDF, the response
and the log line. The
floor is the least any implementation does: load the same DER public key with cryptography and run
one ConcatKDFHash over Z with the same FixedInfo.
"""

from __future__ import annotations

import base64
from types import SimpleNamespace
from unittest import mock

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.concatkdf import ConcatKDFHash
from cryptography.hazmat.primitives.serialization import load_der_public_key

from benchmarks import workload
from benchmarks.stats import FigureResult, Target, interleaved, per_call_us, summarize

TARGET = Target("<=", 1.5)
KEY_ARN = "arn:aws:kms:us-east-1:111111111111:key/00000000-0000-4000-8000-000000000000"
SHARED_SECRET = bytes(range(32))
RUNS = 21
SAMPLE_MS = 25.0


class FixedSecretKms:
    """Stands in for the boto3 KMS client: DeriveSharedSecret always returns the same Z."""

    def __init__(self) -> None:
        self.calls = 0

    def derive_shared_secret(self, **_request: object) -> dict[str, object]:
        self.calls += 1
        return {
            "KeyId": KEY_ARN,
            "SharedSecret": SHARED_SECRET,
            "KeyAgreementAlgorithm": "ECDH",
            "KeyOrigin": "AWS_KMS",
        }


def floor_derive(der: bytes) -> bytes:
    public_key = load_der_public_key(der)
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise TypeError("expected an EC public key")
    return ConcatKDFHash(
        algorithm=hashes.SHA256(), length=workload.KDF_LENGTH, otherinfo=workload.FIXED_INFO
    ).derive(SHARED_SECRET)


def measure() -> FigureResult:
    handler = workload.load_handler()
    der = workload.peer_public_key_der()
    event = workload.derive_event([der])
    context = SimpleNamespace(aws_request_id="bench-warm", function_name="kmsecdh-bench")
    kms = FixedSecretKms()

    def stand_in_client() -> FixedSecretKms:
        return kms

    # The service looks its client up through kms_client() on every call: patch that seam.
    stand_in = mock.patch("kmsecdh.service.kms_client", new=stand_in_client)
    with workload.environment(workload.function_environment(KEY_ARN)), stand_in:
        expected = base64.b64encode(floor_derive(der)).decode("ascii")
        with workload.quiet_stdio():
            response = handler.handler(event, context)
        if response.get("derived_key") != expected or kms.calls != 1:
            raise RuntimeError("the handler did not derive the floor's key with one KMS call")
        with workload.quiet_stdio():
            project, floor = interleaved(
                per_call_us(lambda: handler.handler(event, context), SAMPLE_MS),
                per_call_us(lambda: floor_derive(der), SAMPLE_MS),
                runs=RUNS,
            )
    return FigureResult(
        name="warm derive overhead",
        project_label="handler.handler (one P-256 peer, onestep-sha256, log line to /dev/null), stand-in KMS",
        floor_label="load_der_public_key + one ConcatKDFHash(SHA256) over the same Z",
        project=summarize(project, "us/call"),
        floor=summarize(floor, "us/call"),
        target=TARGET,
        notes=(f"{RUNS} interleaved samples per side, each about {SAMPLE_MS:g} ms of back-to-back calls",),
    )
