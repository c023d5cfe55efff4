"""The command line with ``--debug`` keeps Z and derived keys out of its output, on every path to AWS.

Each command runs as its own process (``python -m kmsecdh --debug ...``), as an operator would run it:
the root logger at DEBUG with a handler on stderr. ``derive`` reaches the derive function through a
boto3 Lambda client and botocore's real HTTP handling (``tests/runtime_emulator.py``, the function
itself under awslambdaric at DEBUG); ``encrypt``/``decrypt --key-id`` make the Encryption SDK's KMS
ECDH keyring call DeriveSharedSecret on the local KMS endpoint. Neither the command's stdout and
stderr nor the function's log may hold Z, a derived key or the message's plaintext.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devtools import PROJECT_ROOT
from kmsecdh import kdf
from kmsecdh.cli.keyfiles import load_private_key
from kmsecdh.configuration import Configuration, ConfiguredKey
from tests.conftest import KEY_SPECS, leaked_secrets
from tests.runtime_emulator import FUNCTION_NAME, LambdaEmulator

KDF_BY_SPEC = {
    "ECC_NIST_P256": "onestep-sha256",
    "ECC_NIST_P384": "hkdf-sha384",
    "ECC_NIST_P521": "onestep-sha512",
}
FIXED_INFO_OPTIONS = ["--algorithm-id", "A256GCM", "--party-u-info", "alice", "--party-v-info", "bob"]


def _kmsecdh(*args: object, environment: dict[str, str]) -> str:
    """Run ``kmsecdh --debug ARGS``; its stdout and stderr together, after checking it succeeded."""
    completed = subprocess.run(
        [sys.executable, "-m", "kmsecdh", "--debug", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        env=environment,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout + completed.stderr


def _shared_secret(peer_private_key: Path, kms_public_key_der: Path) -> bytes:
    private_key, _ = load_private_key(peer_private_key)
    public_key = serialization.load_der_public_key(kms_public_key_der.read_bytes())
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    return private_key.exchange(ec.ECDH(), public_key)


@pytest.fixture
def kms_keys(make_kms_key):
    return {key_spec: make_kms_key(key_spec) for key_spec in KEY_SPECS}


def test_no_secret_in_the_output_of_any_command_at_debug(
    kms_keys, make_peer_key, local_kms_env, tmp_path: Path
) -> None:
    configuration = Configuration(
        keys=tuple(ConfiguredKey(key.alias, key.arn, key.key_spec) for key in kms_keys.values()),
        default_alias=kms_keys["ECC_NIST_P256"].alias,
        allow_raw_secret=False,
    )
    function_environment = {
        **local_kms_env.client_environment(),
        **configuration.as_environment(),
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
    }
    secrets: list[bytes] = []
    outputs: list[str] = []
    with LambdaEmulator(function_environment, tmp_path / "function.log") as function:
        environment = {**os.environ, "AWS_ENDPOINT_URL_LAMBDA": function.endpoint_url}
        for key_spec, key in kms_keys.items():
            alice = make_peer_key(f"alice-{key_spec}", key_spec)
            shared_secret = _shared_secret(alice.private, key.public_der)
            owner_key, peer_key = tmp_path / f"owner-{key_spec}.key", tmp_path / f"peer-{key_spec}.key"
            kdf_options = ["--kdf", KDF_BY_SPEC[key_spec], *FIXED_INFO_OPTIONS]
            outputs.append(
                _kmsecdh(
                    "derive", "--function", FUNCTION_NAME, "--key-id", key.alias,
                    "--peer-public-key", alice.public_der, *kdf_options, "--out", owner_key,
                    environment=environment,
                )
            )  # fmt: skip
            outputs.append(
                _kmsecdh(
                    "derive-local", "--private-key", alice.private, "--peer-public-key", key.public_der,
                    *kdf_options, "--out", peer_key, environment=environment,
                )
            )  # fmt: skip
            assert owner_key.read_bytes() == peer_key.read_bytes()
            expected = kdf.derive_key(
                shared_secret,
                algorithm=KDF_BY_SPEC[key_spec],
                length=kdf.DEFAULT_LENGTH,
                fixed_info=kdf.fixed_info(b"A256GCM", b"alice", b"bob"),
            )
            assert owner_key.read_bytes() == expected
            secrets += [shared_secret, expected]
        outputs.append(
            _kmsecdh("public-key", "--function", FUNCTION_NAME, "--key-id", kms_keys["ECC_NIST_P384"].alias,
                     environment=environment)
        )  # fmt: skip
        function_log = function.output()

    bob, alice = kms_keys["ECC_NIST_P384"], make_peer_key("alice-esdk", "ECC_NIST_P384")
    plaintext = os.urandom(48)
    note, message, back = tmp_path / "note.bin", tmp_path / "note.esdk", tmp_path / "note.out"
    note.write_bytes(plaintext)
    to_alice = ["--key-id", bob.alias, "--peer-public-key", alice.public_pem]
    outputs.append(
        _kmsecdh("encrypt", *to_alice, "--in", note, "--out", message, environment=dict(os.environ))
    )
    outputs.append(
        _kmsecdh("decrypt", *to_alice, "--in", message, "--out", back, environment=dict(os.environ))
    )
    assert back.read_bytes() == plaintext
    secrets += [_shared_secret(alice.private, bob.public_der), plaintext]

    everything = "\n".join([*outputs, function_log])
    # --debug took effect in the commands, and DEBUG in the function.
    assert "botocore.hooks DEBUG Event before-parameter-build.kms.DeriveSharedSecret" in everything
    assert "Event before-parameter-build.lambda.Invoke" in everything
    assert '"level": "DEBUG"' in function_log
    leaked = leaked_secrets(everything, secrets)
    assert not leaked, "a shared secret, derived key or plaintext reached the output"
