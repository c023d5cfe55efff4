"""``kmsecdh directory publish`` and ``fetch`` against the local KMS endpoint (keys, GetPublicKey, Sign), with
CloudFormation's stack outputs, the bucket and the parameter held in memory (the KMS-only endpoint serves
neither); jwcrypto verifies what was published."""

from __future__ import annotations

import functools
import json
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from kmsecdh.cli import aws
from kmsecdh.cli.commands import directory as directory_command
from kmsecdh.jwk import public_jwk

ENVIRONMENT = "prod"
BUCKET = "kmsecdh-prod-directory-bucket"
PARAMETER = "/kmsecdh/prod/directory"


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, dict[str, str]]) -> None:
        self._outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter name)
        outputs = [
            {"OutputKey": key, "OutputValue": value} for key, value in self._outputs[StackName].items()
        ]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


class FakeS3:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], bytes] = {}

    def put_object(self, Bucket: str, Key: str, Body: bytes, ContentType: str) -> None:  # noqa: N803
        self.objects[(Bucket, Key)] = Body

    def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:  # noqa: N803
        body = self.objects[(Bucket, Key)]
        return {"Body": type("Body", (), {"read": lambda self: body})()}


class FakeSsm:
    def __init__(self) -> None:
        self.parameters: dict[str, str] = {}

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool) -> None:  # noqa: N803
        self.parameters[Name] = Value


@pytest.fixture
def environment(local_kms_env, monkeypatch, tmp_path: Path) -> dict[str, Any]:
    """Three P-256 generations (one retired) and a P-384 signing key in the local KMS, as a deployed
    environment's stack outputs name them."""
    kms = boto3.client("kms")
    arns = {
        name: kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
        for name in ("2025-11", "2026-05", "2026-11")
    }
    signing_key = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    generations = [
        {"key_spec": "ECC_NIST_P256", "generation": "2025-11", "arn": arns["2025-11"], "status": "retired",
         "current": False, "retire_after": "2026-06-30"},
        {"key_spec": "ECC_NIST_P256", "generation": "2026-05", "arn": arns["2026-05"], "status": "active",
         "current": False, "retire_after": "2027-02-28"},
        {"key_spec": "ECC_NIST_P256", "generation": "2026-11", "arn": arns["2026-11"], "status": "active",
         "current": True},
    ]  # fmt: skip
    cloudformation = FakeCloudFormation(
        {
            directory_command.key_agreement_stack(ENVIRONMENT): {"KeyGenerations": json.dumps(generations)},
            directory_command.directory_stack(ENVIRONMENT): {
                "DirectorySigningKeyArn": signing_key,
                "DirectoryBucketName": BUCKET,
                "DirectoryParameterName": PARAMETER,
            },
        }
    )
    s3, ssm = FakeS3(), FakeSsm()
    real_client = aws.aws_client
    fakes = {"cloudformation": cloudformation, "s3": s3, "ssm": ssm}
    monkeypatch.setattr(aws, "aws_client", lambda name: fakes[name] if name in fakes else real_client(name))
    signing_public_key = serialization.load_der_public_key(kms.get_public_key(KeyId=signing_key)["PublicKey"])
    pinned = tmp_path / "signing.pub.pem"
    pinned.write_bytes(
        signing_public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    public_keys = {
        name: serialization.load_der_public_key(kms.get_public_key(KeyId=arn)["PublicKey"])
        for name, arn in arns.items()
    }
    return {
        "arns": arns,
        "s3": s3,
        "ssm": ssm,
        "pinned": pinned,
        "signing_public_key": signing_public_key,
        "public_keys": public_keys,
    }


def test_publish_signs_every_active_generation_to_bucket_parameter_and_file(
    run_cli, environment, tmp_path: Path
) -> None:
    out = tmp_path / "directory.jws"
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT, "--out", out)
    assert result.code == 0, result.err
    assert f"s3://{BUCKET}/directory.jws" in result.out
    token = out.read_text().strip()
    assert environment["s3"].objects[(BUCKET, "directory.jws")].decode() == token
    assert environment["ssm"].parameters[PARAMETER] == token

    verified = jwcrypto_jws.JWS()
    verified.deserialize(token)
    verified.verify(jwcrypto_jwk.JWK.from_pyca(environment["signing_public_key"]), alg="ES384")
    keys = json.loads(verified.payload)["keys"]
    assert [(key["generation"], key["status"], key["current"]) for key in keys] == [
        ("2026-05", "active", False),
        ("2026-11", "active", True),
    ]
    for key in keys:
        assert key["key_arn"] == environment["arns"][key["generation"]]
        assert key["kid"] == public_jwk(environment["public_keys"][key["generation"]])["kid"]
        assert key["use"] == "enc"
    assert keys[0]["retire_after"] == "2027-02-28"


def test_fetch_verifies_and_prints_the_current_key(run_cli, environment) -> None:
    assert run_cli("directory", "publish", "--environment", ENVIRONMENT).code == 0
    result = run_cli(
        "directory", "fetch", "--environment", ENVIRONMENT, "--verify",
        "--signing-public-key", environment["pinned"], "--check-kms",
    )  # fmt: skip
    assert result.code == 0, result.err
    [key] = json.loads(result.out)["keys"]
    assert key["generation"] == "2026-11"
    assert key["kid"] == jwcrypto_jwk.JWK.from_pyca(environment["public_keys"]["2026-11"]).thumbprint()


def publish_to_file(run_cli, tmp_path: Path) -> Path:
    out = tmp_path / "published.jws"
    assert run_cli("directory", "publish", "--environment", ENVIRONMENT, "--out", out).code == 0
    return out


def test_fetch_refuses_a_tampered_file(run_cli, environment, tmp_path: Path) -> None:
    out = publish_to_file(run_cli, tmp_path)
    header, payload, signature = out.read_text().strip().split(".")
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(
        f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    )
    result = run_cli(
        "directory", "fetch", "--file", tampered, "--verify", "--signing-public-key", environment["pinned"]
    )
    assert result.code == 1
    assert "directory refused: BadSignature: " in result.err


def test_fetch_refuses_another_signer(run_cli, environment, tmp_path: Path) -> None:
    out = publish_to_file(run_cli, tmp_path)
    other = tmp_path / "other.pub.pem"
    other.write_bytes(
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    result = run_cli("directory", "fetch", "--file", out, "--verify", "--signing-public-key", other)
    assert result.code == 1
    assert "directory refused: WrongSigner: " in result.err


def test_fetch_refuses_a_pinned_key_that_is_not_p384(run_cli, environment, tmp_path: Path) -> None:
    out = publish_to_file(run_cli, tmp_path)
    p256 = tmp_path / "p256.pub.pem"
    p256.write_bytes(
        environment["public_keys"]["2026-11"].public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    result = run_cli("directory", "fetch", "--file", out, "--verify", "--signing-public-key", p256)
    assert result.code == 1
    assert "is not a P-384 public key" in result.err


def test_fetch_without_verify_is_a_usage_error(run_cli, environment, tmp_path: Path) -> None:
    result = run_cli(
        "directory", "fetch", "--file", tmp_path / "x", "--signing-public-key", environment["pinned"]
    )
    assert result.code == 2


@pytest.fixture
def served(tmp_path: Path):
    """Serve files of a folder over HTTP on a loopback port; yields (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(QuietHandler, directory=str(folder))
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield folder, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """The test reads the command's output, not the server's."""


def test_fetch_reads_a_url_and_verifies_it(run_cli, environment, tmp_path: Path, served) -> None:
    folder, base = served
    publish_to_file(run_cli, tmp_path).rename(folder / "directory.jws")
    result = run_cli(
        "directory", "fetch", "--url", f"{base}/directory.jws", "--verify",
        "--signing-public-key", environment["pinned"],
    )  # fmt: skip
    assert result.code == 0, result.err
    [key] = json.loads(result.out)["keys"]
    assert key["generation"] == "2026-11"


def test_fetch_from_a_url_refuses_what_a_file_would(run_cli, environment, tmp_path: Path, served) -> None:
    folder, base = served
    header, payload, signature = publish_to_file(run_cli, tmp_path).read_text().strip().split(".")
    (folder / "swapped.jws").write_text(f"{header}.{payload}.{signature[::-1]}")
    (folder / "huge.jws").write_bytes(b"A" * (directory_command.MAX_DIRECTORY_BYTES + 1))
    pinned = ["--verify", "--signing-public-key", environment["pinned"]]
    cases = {
        f"{base}/swapped.jws": "directory refused: ",
        f"{base}/huge.jws": "not a directory",
        f"{base}/missing.jws": "could not read the directory from",
        "http://example.com/directory.jws": "--url must be https://",
        "file:///etc/passwd": "--url must be https://",
    }
    for url, message in cases.items():
        result = run_cli("directory", "fetch", "--url", url, *pinned)
        assert result.code == 1, url
        assert message in result.err, (url, result.err)
