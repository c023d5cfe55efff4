"""public-key and derive against the local KMS endpoint, with the derive function served in-process."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import boto3
import pytest

from kmsecdh import kdf


def _openssl(*args: object) -> bytes:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, check=True).stdout


@pytest.mark.parametrize("through_function", [False, True])
def test_public_key(run_cli, make_kms_key, derive_function, tmp_path: Path, through_function: bool) -> None:
    key = make_kms_key("ECC_NIST_P521")
    via = ["--function", "kmsecdh-derive"] if through_function else []
    if through_function:
        derive_function(key)
    pem = run_cli("public-key", "--key-id", key.alias, *via)
    assert pem.code == 0, pem.err
    assert pem.out.encode() == _openssl("pkey", "-pubin", "-inform", "DER", "-in", key.public_der)
    out = tmp_path / "bob.pub.der"
    der = run_cli("public-key", "--key-id", key.arn, *via, "--format", "der", "--out", out)
    assert der.code == 0, der.err
    assert out.read_bytes() == key.public_der.read_bytes()


def test_public_key_errors(run_cli, local_kms_env) -> None:
    missing = run_cli("public-key", "--key-id", "alias/kmsecdh-no-such-key")
    assert missing.code == 1
    assert missing.err.startswith("kmsecdh: AWS GetPublicKey failed: NotFoundException")
    kms = boto3.client("kms")
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    wrong_usage = run_cli("public-key", "--key-id", signing)
    assert wrong_usage.code == 1
    assert "KeyUsage SIGN_VERIFY, not KEY_AGREEMENT" in wrong_usage.err


KDF_OPTIONS = ["--kdf", "hkdf-sha256", "--length", "32", "--salt-hex", "5a17", "--party-u-info", "alice"]


def test_derive_through_function_matches_the_peer(
    run_cli, make_kms_key, make_peer_key, derive_function
) -> None:
    bob = make_kms_key("ECC_NIST_P256")
    alice = make_peer_key("alice", "ECC_NIST_P256")
    function = derive_function(bob)
    owner = run_cli(
        "derive", "--function", "kmsecdh-derive", "--peer-public-key", alice.public_pem, *KDF_OPTIONS
    )
    assert owner.code == 0, owner.err
    event = function.events[-1]
    assert event["action"] == "derive"
    assert "key_id" not in event  # the function's default key
    assert base64.b64decode(event["kdf"]["salt"]) == bytes.fromhex("5a17")
    assert base64.b64decode(event["kdf"]["fixed_info"]) == kdf.fixed_info(b"", b"alice", b"")

    shared = _openssl(
        "pkeyutl", "-derive", "-inkey", alice.private, "-peerkey", bob.public_der, "-peerform", "DER"
    )
    info = (0).to_bytes(4, "big") + (5).to_bytes(4, "big") + b"alice" + (0).to_bytes(4, "big")
    expected = _openssl(
        "kdf", "-binary", "-keylen", "32", "-kdfopt", "digest:SHA256", "-kdfopt", f"hexkey:{shared.hex()}",
        "-kdfopt", f"hexinfo:{info.hex()}", "-kdfopt", "hexsalt:5a17", "HKDF",
    )  # fmt: skip
    assert owner.out.strip() == expected.hex()
    peer = run_cli(
        "derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der, *KDF_OPTIONS
    )
    assert peer.out == owner.out


def test_derive_to_file_by_key_id(
    run_cli, make_kms_key, make_peer_key, derive_function, tmp_path: Path
) -> None:
    bob, alice = make_kms_key("ECC_NIST_P384"), make_peer_key("alice", "ECC_NIST_P384")
    function = derive_function(bob)
    out = tmp_path / "derived.key"
    result = run_cli(
        "derive", "--function", "f", "--key-id", bob.arn, "--peer-public-key", alice.public_der, "--out", out
    )
    assert result.code == 0, result.err
    assert function.events[-1]["key_id"] == bob.arn
    assert len(out.read_bytes()) == 32
    assert out.read_bytes().hex() not in result.out
    peer = run_cli("derive-local", "--private-key", alice.private, "--peer-public-key", bob.public_der)
    assert peer.out.strip() == out.read_bytes().hex()


def test_derive_function_errors_become_contract_errors(
    run_cli, make_kms_key, make_peer_key, derive_function
) -> None:
    bob = make_kms_key("ECC_NIST_P256")
    function = derive_function(bob)
    wrong_curve = make_peer_key("p384", "ECC_NIST_P384")
    result = run_cli("derive", "--function", "f", "--peer-public-key", wrong_curve.public_der)
    assert result.code == 1
    assert result.err.startswith("kmsecdh: InvalidPublicKey: peer public key is on curve secp384r1")
    other = run_cli(
        "derive",
        "--function",
        "f",
        "--key-id",
        "alias/not-configured",
        "--peer-public-key",
        wrong_curve.public_der,
    )
    assert other.err.startswith("kmsecdh: KeyNotAllowed:")
    function.unhandled = {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 30.00 seconds",
    }
    timeout = run_cli("derive", "--function", "f", "--peer-public-key", wrong_curve.public_der)
    assert timeout.code == 1
    assert timeout.err.strip() == (
        "kmsecdh: error: function f failed: Sandbox.Timedout: Task timed out after 30.00 seconds"
    )
