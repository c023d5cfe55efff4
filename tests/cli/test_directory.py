"""``kmsecdh directory publish`` and ``fetch`` against a local endpoint serving KMS (keys, GetPublicKey, Sign)
and S3 (the versioned bucket, its conditional writes), with CloudFormation's stack outputs and the parameter
held in memory (the local endpoint serves neither); jwcrypto verifies what was published. Each freshness
refusal (expired, not yet valid, replayed) and each publishing guard (a racing publisher, a deleted or foreign
object) is shown through the command line."""

from __future__ import annotations

import datetime
import functools
import json
import threading
import types
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk as jwcrypto_jwk
from jwcrypto import jws as jwcrypto_jws

from devtools.local_endpoint import LocalKmsEndpoint
from kmsecdh import directory
from kmsecdh.cli import aws, main
from kmsecdh.cli.commands import directory as directory_command
from kmsecdh.jwk import b64url_decode, public_jwk

ENVIRONMENT = "prod"
PARAMETER = "/kmsecdh/prod/directory"
MAX_AGE_DAYS = 30
OBJECT = "directory.jws"


class FakeCloudFormation:
    def __init__(self, outputs: dict[str, dict[str, str]]) -> None:
        self.outputs = outputs

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter name)
        outputs = [{"OutputKey": key, "OutputValue": value} for key, value in self.outputs[StackName].items()]
        return {"Stacks": [{"StackName": StackName, "Outputs": outputs}]}


class FakeSsm:
    def __init__(self) -> None:
        self.parameters: dict[str, str] = {}

    def put_parameter(self, Name: str, Value: str, Type: str, Overwrite: bool) -> None:  # noqa: N803
        self.parameters[Name] = Value


@pytest.fixture(scope="module")
def local_kms_s3() -> Iterator[LocalKmsEndpoint]:
    """A local endpoint serving KMS and S3, for this module only."""
    with LocalKmsEndpoint(also_s3=True) as endpoint:
        yield endpoint


@pytest.fixture
def environment(local_kms_s3, monkeypatch, tmp_path: Path) -> dict[str, Any]:
    """Three P-256 generations (one retired), a P-384 signing key and a versioned bucket on the local
    endpoint, as a deployed environment's stack outputs name them; the reader's state under tmp_path."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name, value in local_kms_s3.client_environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    kms, s3 = boto3.client("kms"), boto3.client("s3")
    arns = {
        name: kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="KEY_AGREEMENT")["KeyMetadata"]["Arn"]
        for name in ("2025-11", "2026-05", "2026-11")
    }
    signing_key = kms.create_key(KeySpec="ECC_NIST_P384", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    bucket = f"kmsecdh-prod-directory-{tmp_path.name.lower().replace('_', '-')}"[:63]
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
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
                "DirectoryBucketName": bucket,
                "DirectoryParameterName": PARAMETER,
                "DirectoryMaxAgeDays": str(MAX_AGE_DAYS),
            },
        }
    )
    ssm = FakeSsm()
    real_client = aws.aws_client
    fakes = {"cloudformation": cloudformation, "ssm": ssm}
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
        "signing_key": signing_key,
        "bucket": bucket,
        "s3": s3,
        "ssm": ssm,
        "cloudformation": cloudformation,
        "pinned": pinned,
        "signing_public_key": signing_public_key,
        "public_keys": public_keys,
        "state": tmp_path / "state" / "kmsecdh" / "directory",
    }


def published_object(environment: dict[str, Any]) -> str:
    return environment["s3"].get_object(Bucket=environment["bucket"], Key=OBJECT)["Body"].read().decode()


def claims(token: str) -> dict[str, Any]:
    return json.loads(b64url_decode(token.split(".")[1], "payload"))


def test_publish_signs_every_active_generation_to_bucket_parameter_and_file(
    run_cli, environment, tmp_path: Path
) -> None:
    out = tmp_path / "directory.jws"
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT, "--out", out)
    assert result.code == 0, result.err
    assert "directory serial 1 of 2 key(s), valid until " in result.out
    assert f"s3://{environment['bucket']}/directory.jws" in result.out
    token = out.read_text().strip()
    assert published_object(environment) == token
    assert environment["ssm"].parameters[PARAMETER] == token

    verified = jwcrypto_jws.JWS()
    verified.deserialize(token)
    verified.verify(jwcrypto_jwk.JWK.from_pyca(environment["signing_public_key"]), alg="ES384")
    payload = json.loads(verified.payload)
    assert payload["serial"] == 1
    assert payload["exp"] - payload["iat"] == MAX_AGE_DAYS * 86400
    assert abs(payload["iat"] - datetime.datetime.now(datetime.UTC).timestamp()) < 60
    keys = payload["keys"]
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
    printed = json.loads(result.out)
    [key] = printed["keys"]
    assert key["generation"] == "2026-11"
    assert key["kid"] == jwcrypto_jwk.JWK.from_pyca(environment["public_keys"]["2026-11"]).thumbprint()
    assert printed["serial"] == 1
    assert printed["exp"] - printed["iat"] == MAX_AGE_DAYS * 86400


def publish_to_file(run_cli, tmp_path: Path, name: str = "published.jws") -> Path:
    out = tmp_path / name
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT, "--out", out)
    assert result.code == 0, result.err
    return out


def fetch_file(run_cli, environment: dict[str, Any], path: Path, *options: object):
    return run_cli(
        "directory",
        "fetch",
        "--file",
        path,
        "--verify",
        "--signing-public-key",
        environment["pinned"],
        *options,
    )


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


def test_each_publication_takes_the_published_serial_plus_one(run_cli, environment, tmp_path: Path) -> None:
    first = publish_to_file(run_cli, tmp_path, "first.jws").read_text().strip()
    second = publish_to_file(run_cli, tmp_path, "second.jws").read_text().strip()
    assert (claims(first)["serial"], claims(second)["serial"]) == (1, 2)
    assert claims(second)["iat"] >= claims(first)["iat"]
    assert published_object(environment) == second
    versions = environment["s3"].list_object_versions(Bucket=environment["bucket"], Prefix=OBJECT)["Versions"]
    assert len(versions) == 2


def state_of(environment: dict[str, Any]) -> Path:
    return environment["state"] / f"{directory.signing_kid(environment['signing_public_key'])}.json"


def test_fetch_refuses_a_directory_older_than_the_newest_it_has_seen(
    run_cli, environment, tmp_path: Path
) -> None:
    first = publish_to_file(run_cli, tmp_path, "first.jws")
    assert fetch_file(run_cli, environment, first).code == 0
    assert json.loads(state_of(environment).read_text())["serial"] == 1
    second = publish_to_file(run_cli, tmp_path, "second.jws")
    assert json.loads(fetch_file(run_cli, environment, second).out)["serial"] == 2
    assert json.loads(state_of(environment).read_text())["serial"] == 2

    replayed = fetch_file(run_cli, environment, first)
    assert replayed.code == 1
    assert "directory refused: Replayed: serial 1 (issued " in replayed.err
    assert (
        f"is older than serial 2, the newest this reader has seen ({state_of(environment)})" in replayed.err
    )
    assert json.loads(state_of(environment).read_text())["serial"] == 2
    # the newest one again is no replay
    assert fetch_file(run_cli, environment, second).code == 0


def test_the_newest_serial_is_kept_where_state_dir_says(run_cli, environment, tmp_path: Path) -> None:
    first = publish_to_file(run_cli, tmp_path, "first.jws")
    publish_to_file(run_cli, tmp_path, "second.jws")
    state_dir = tmp_path / "elsewhere"
    assert fetch_file(run_cli, environment, tmp_path / "second.jws", "--state-dir", state_dir).code == 0
    assert not state_of(environment).exists()
    # the default state has seen nothing yet: serial 1 passes there, not where serial 2 was seen
    assert fetch_file(run_cli, environment, first).code == 0
    result = fetch_file(run_cli, environment, first, "--state-dir", state_dir)
    assert "directory refused: Replayed: " in result.err


def test_fetch_refuses_a_serial_below_min_serial(run_cli, environment, tmp_path: Path) -> None:
    first = publish_to_file(run_cli, tmp_path)
    result = fetch_file(run_cli, environment, first, "--min-serial", 2)
    assert result.code == 1
    assert "directory refused: Replayed: serial 1 (issued " in result.err
    assert "is older than serial 2, the one --min-serial requires" in result.err
    assert not state_of(environment).exists()
    assert fetch_file(run_cli, environment, first, "--min-serial", 1).code == 0
    assert fetch_file(run_cli, environment, first, "--min-serial", 0).code == 2


def test_a_state_file_that_is_not_one_is_refused(run_cli, environment, tmp_path: Path) -> None:
    first = publish_to_file(run_cli, tmp_path)
    state_of(environment).parent.mkdir(parents=True)
    state_of(environment).write_text('{"serial": "7"}')
    result = fetch_file(run_cli, environment, first)
    assert result.code == 1
    assert f"{state_of(environment)} is not a directory state file" in result.err


def published_at(run_cli, monkeypatch, tmp_path: Path, name: str, seconds_from_now: float) -> Path:
    """A directory the publisher signs as if its clock read now + ``seconds_from_now``."""
    now = datetime.datetime.now(datetime.UTC).timestamp()
    with monkeypatch.context() as patch:
        patch.setattr(directory_command, "time", types.SimpleNamespace(time=lambda: now + seconds_from_now))
        return publish_to_file(run_cli, tmp_path, name)


def test_fetch_refuses_an_expired_directory_beyond_the_clock_skew(
    run_cli, environment, monkeypatch, tmp_path: Path
) -> None:
    max_age = MAX_AGE_DAYS * 86400
    within_skew = published_at(run_cli, monkeypatch, tmp_path, "within.jws", -max_age - 200)
    assert fetch_file(run_cli, environment, within_skew).code == 0
    expired = published_at(run_cli, monkeypatch, tmp_path, "expired.jws", -max_age - 400)
    result = fetch_file(run_cli, environment, expired)
    assert result.code == 1
    assert "directory refused: Expired: serial 2 expired at " in result.err
    assert "clock skew allowed 300 s): its publisher has not republished the directory since" in result.err


def test_fetch_refuses_a_directory_issued_in_the_future_beyond_the_clock_skew(
    run_cli, environment, monkeypatch, tmp_path: Path
) -> None:
    within_skew = published_at(run_cli, monkeypatch, tmp_path, "within.jws", 200)
    assert fetch_file(run_cli, environment, within_skew).code == 0
    ahead = published_at(run_cli, monkeypatch, tmp_path, "ahead.jws", 400)
    result = fetch_file(run_cli, environment, ahead)
    assert result.code == 1
    assert "directory refused: NotYetValid: serial 2 is issued at " in result.err
    assert "this machine's clock or the publisher's is wrong" in result.err


@pytest.mark.parametrize("published_before", [True, False])
def test_a_publisher_that_lost_the_race_publishes_nothing(
    run_cli, environment, monkeypatch, published_before: bool
) -> None:
    """Another publisher publishes between this one's read of the bucket and its conditional write."""
    if published_before:
        assert run_cli("directory", "publish", "--environment", ENVIRONMENT).code == 0
    clients, raced = aws.aws_client, []

    class RacingS3:
        def __init__(self) -> None:
            self._s3 = clients("s3")

        def get_object(self, **kwargs: Any) -> Any:
            try:
                return self._s3.get_object(**kwargs)
            finally:
                if not raced:
                    raced.append(True)
                    assert main(["directory", "publish", "--environment", ENVIRONMENT]) == 0

        def __getattr__(self, name: str) -> Any:
            return getattr(self._s3, name)

    monkeypatch.setattr(aws, "aws_client", lambda name: RacingS3() if name == "s3" else clients(name))
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT)
    serial = 2 if published_before else 1
    assert result.code == 1
    assert (
        f"directory.jws changed while this publisher signed serial {serial}: another publisher published "
        "meanwhile; nothing was published, run publish again"
    ) in result.err
    assert claims(published_object(environment))["serial"] == serial
    assert claims(environment["ssm"].parameters[PARAMETER])["serial"] == serial
    assert published_object(environment) == environment["ssm"].parameters[PARAMETER]


def test_publish_does_not_start_over_after_the_object_was_deleted(run_cli, environment) -> None:
    s3, bucket = environment["s3"], environment["bucket"]
    assert run_cli("directory", "publish", "--environment", ENVIRONMENT).code == 0
    s3.delete_object(Bucket=bucket, Key=OBJECT)
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT)
    assert result.code == 1
    assert "directory.jws was deleted (its current version is a delete marker): restore its last version" in (
        result.err
    )
    # restoring it as the documentation says: its last version, written again where no object is
    [version] = s3.list_object_versions(Bucket=bucket, Prefix=OBJECT)["Versions"]
    body = s3.get_object(Bucket=bucket, Key=OBJECT, VersionId=version["VersionId"])["Body"].read()
    s3.put_object(Bucket=bucket, Key=OBJECT, Body=body, IfNoneMatch="*")
    assert run_cli("directory", "publish", "--environment", ENVIRONMENT).code == 0
    assert claims(published_object(environment))["serial"] == 2


def kms_signed(environment: dict[str, Any], payload: dict[str, Any]) -> str:
    kms = boto3.client("kms")
    return directory.sign(
        payload,
        environment["signing_public_key"],
        lambda data: kms.sign(
            KeyId=environment["signing_key"],
            Message=data,
            MessageType="RAW",
            SigningAlgorithm=directory.KMS_SIGNING_ALGORITHM,
        )["Signature"],
    )


def test_publish_refuses_to_follow_an_object_its_signing_key_did_not_sign(run_cli, environment) -> None:
    other = ec.generate_private_key(ec.SECP384R1())
    payload = claims(kms_signed(environment, {"keys": [], "iat": 1, "exp": 2, "serial": 1_000_000}))
    forged = directory.sign(
        payload, other.public_key(), lambda data: other.sign(data, ec.ECDSA(hashes.SHA384()))
    )
    environment["s3"].put_object(
        Bucket=environment["bucket"], Key=OBJECT, Body=forged.encode(), IfNoneMatch="*"
    )
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT)
    assert result.code == 1
    assert (
        f"directory.jws is not a directory signed by {environment['signing_key']} (WrongSigner: "
        in result.err
    )
    assert published_object(environment) == forged


def test_publish_follows_a_directory_signed_before_serials_with_serial_1(run_cli, environment) -> None:
    key = environment["public_keys"]["2026-11"]
    legacy = kms_signed(
        environment, {"keys": [{**public_jwk(key), "key_arn": environment["arns"]["2026-11"]}]}
    )
    environment["s3"].put_object(
        Bucket=environment["bucket"], Key=OBJECT, Body=legacy.encode(), IfNoneMatch="*"
    )
    assert run_cli("directory", "publish", "--environment", ENVIRONMENT).code == 0
    assert claims(published_object(environment))["serial"] == 1


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            None,
            "stack kmsecdh-prod-directory has no output DirectoryMaxAgeDays: deploy the environment first",
        ),
        ("0", "output DirectoryMaxAgeDays of stack kmsecdh-prod-directory is '0', not a number of days"),
        ("thirty", "is 'thirty', not a number of days from 1 to 365"),
    ],
)
def test_publish_needs_the_environments_max_age(
    run_cli, environment, value: str | None, message: str
) -> None:
    outputs = environment["cloudformation"].outputs[directory_command.directory_stack(ENVIRONMENT)]
    if value is None:
        del outputs["DirectoryMaxAgeDays"]
    else:
        outputs["DirectoryMaxAgeDays"] = value
    result = run_cli("directory", "publish", "--environment", ENVIRONMENT)
    assert result.code == 1
    assert message in result.err
