"""The offline walkthrough end to end (one run per session), and how it reads cdk.out."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from devtools import PROJECT_ROOT
from devtools.demo import DemoError, planned_keys


@pytest.fixture(scope="session")
def demo_run(synthesized_app, local_kms) -> subprocess.CompletedProcess[str]:
    """``python -m devtools.demo`` from the project root, as ``make demo`` runs it, on the session's synth
    and its local KMS endpoint (``make demo`` synthesizes and starts its own when there are none)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    options = ["--cdk-out", str(synthesized_app.outdir), "--endpoint-url", local_kms.url]
    return subprocess.run(
        [sys.executable, "-m", "devtools.demo", *options],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip


def test_demo_succeeds(demo_run) -> None:
    assert demo_run.returncode == 0, demo_run.stdout[-2000:] + demo_run.stderr[-2000:]
    assert "Alice and Bob hold the same key" in demo_run.stdout
    assert "demo complete" in demo_run.stdout
    assert "Bob read b'hello Bob, from Alice\\n'" in demo_run.stdout
    assert "Alice read b'hello Alice, from Bob\\n'" in demo_run.stdout


def test_demo_exchanges_hpke_and_jwe_each_way(demo_run) -> None:
    out = demo_run.stdout
    for reader, sender, standard in (
        ("Bob", "Alice", "HPKE"), ("Alice", "Bob", "HPKE"), ("Bob", "Alice", "JWE"), ("Alice", "Bob", "JWE"),
    ):  # fmt: skip
        assert f"{reader} read b'hello {reader}, from {sender} ({standard})\\n'" in out
    for command in ("kmsecdh hpke seal", "kmsecdh hpke open --key-id", "kmsecdh jwks", "kmsecdh jwe encrypt",
                    "kmsecdh jwe decrypt --function", "kmsecdh jwe decrypt --private-key"):  # fmt: skip
        assert command in out


def test_demo_shows_commands_and_only_fingerprints(demo_run) -> None:
    out = demo_run.stdout
    for command in ("aws kms create-key", "openssl pkeyutl -derive", "SSKDF", "aws kms derive-shared-secret",
                    "kmsecdh derive-local", "kmsecdh encrypt", "kmsecdh decrypt"):  # fmt: skip
        assert command in out
    fingerprints = re.findall(r"derived key: 32 bytes, fingerprint ([0-9a-f]{8})", out)
    assert len(fingerprints) == 2
    assert fingerprints[0] == fingerprints[1]
    # No secret in full: no run of 32+ hex digits except the FixedInfo the KDF command shows.
    long_hex = [run for run in re.findall(r"[0-9a-f]{32,}", out) if f"hexinfo:{run}" not in out]
    assert long_hex == []


def _write_assembly(root: Path, resources: dict) -> Path:
    assembly = root / "assembly-dev"
    assembly.mkdir(parents=True)
    (assembly / "Keys.template.json").write_text(json.dumps({"Resources": resources}))
    return root


def test_planned_keys_read_spec_and_alias(tmp_path: Path) -> None:
    key_properties = {"KeySpec": "ECC_NIST_P384", "KeyUsage": "KEY_AGREEMENT"}
    alias_properties = {"AliasName": "alias/x-p384", "TargetKeyId": {"Fn::GetAtt": ["P384Key", "Arn"]}}
    resources = {
        "Symmetric": {"Type": "AWS::KMS::Key", "Properties": {"KeySpec": "SYMMETRIC_DEFAULT"}},
        "P384Key": {"Type": "AWS::KMS::Key", "Properties": key_properties},
        "P384Alias": {"Type": "AWS::KMS::Alias", "Properties": alias_properties},
    }
    [key] = planned_keys(_write_assembly(tmp_path, resources), "dev")
    assert (key.key_spec, key.alias) == ("ECC_NIST_P384", "alias/x-p384")


def test_planned_keys_errors(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="no templates for environment 'prod'"):
        planned_keys(tmp_path, "prod")
    lonely = {
        "K": {
            "Type": "AWS::KMS::Key",
            "Properties": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
        }
    }
    with pytest.raises(DemoError, match="no AWS::KMS::Alias targets the key K"):
        planned_keys(_write_assembly(tmp_path, lonely), "dev")
