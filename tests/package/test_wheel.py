"""The built wheel, installed with ``pip install kmsecdh[cdk]`` into a fresh virtualenv outside the
repository, synthesizes a user's own small CDK app with the project's pinned CDK CLI: the constructs and
the function's code come from the installed packages alone (no repository on the path, a fresh bundle
cache, so the asset is really built from site-packages).

One wheel, one virtualenv and one synth per session; pip installs at the project's pins (the
requirements files as constraints) from its usual cache.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from devtools import CDK_CLI, PROJECT_ROOT
from kmsecdh_cdk.bundling import REQUIREMENTS_FILE, read_pins

# What the wheel is built from: the project file, the README it names, and the two packages.
WHEEL_SOURCES = ("pyproject.toml", "README.md", "kmsecdh", "constructs_lib", "lambda")
PIP = ("-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet")

CONSUMER_APP = textwrap.dedent(
    """
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam

    from kmsecdh_cdk import DeriveFunction, KeyAgreementKey

    app = cdk.App()
    stack = cdk.Stack(app, "Consumer", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    key = KeyAgreementKey(stack, "Key", key_spec="ECC_NIST_P256", alias_name="alias/consumer-p256")
    function = DeriveFunction(stack, "Derive", keys=[key], reserved_concurrent_executions=2)
    caller = iam.Role(stack, "Caller", assumed_by=iam.AccountPrincipal("111111111111"))
    function.grant_invoke(caller)
    cdk.CfnOutput(stack, "FunctionName", value=function.function.function_name)
    app.synth()
    """
)


@dataclass(frozen=True)
class Consumer:
    venv_python: Path
    package_dir: Path  # where the virtualenv imports kmsecdh from
    outdir: Path
    template: dict[str, Any]
    assets: dict[str, Any]


def _run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)
    assert result.returncode == 0, f"{args[:4]} failed: {result.stdout[-2000:]}{result.stderr[-3000:]}"
    return result


def _clean_environment(**extra: str) -> dict[str, str]:
    """This process's environment without anything that would put the repository on the path."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {**{name: value for name, value in os.environ.items() if name not in drop}, **extra}


@pytest.fixture(scope="session")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> Consumer:
    root = tmp_path_factory.mktemp("consumer")
    assert not root.is_relative_to(PROJECT_ROOT)
    source = root / "source"
    for name in WHEEL_SOURCES:
        path = PROJECT_ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(path, source / name)
    wheels = root / "wheels"
    _run([sys.executable, *PIP, "wheel", "--no-deps", "--wheel-dir", str(wheels), str(source)])
    [wheel] = wheels.glob("kmsecdh-*.whl")

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", str(venv)])
    python = venv / "bin" / "python"
    constraints = PROJECT_ROOT / "requirements.txt"
    # --no-compile: the app imports a small part of aws-cdk-lib; byte-compiling all of it takes longer.
    _run(
        [str(python), *PIP, "install", "--no-compile", f"{wheel}[cdk]", "--constraint", str(constraints)],
        cwd=root,
    )

    app = root / "app"
    app.mkdir()
    (app / "app.py").write_text(CONSUMER_APP)
    (app / "cdk.json").write_text(json.dumps({"app": f"{python} app.py"}))
    environment = _clean_environment(
        # A fresh bundle cache: the asset is built from the installed package, not found ready-made.
        XDG_CACHE_HOME=str(root / "cache"),
        # pip's own cache stays where it is, so the Lambda's wheels need no download.
        PIP_CACHE_DIR=_run([sys.executable, "-m", "pip", "cache", "dir"]).stdout.strip(),
    )
    outdir = app / "cdk.out"
    _run(
        [str(CDK_CLI), "synth", "--quiet", "--no-notices", "--output", str(outdir)], cwd=app, env=environment
    )
    located = _run([str(python), "-c", "import kmsecdh; print(kmsecdh.__file__)"], cwd=app, env=environment)
    return Consumer(
        venv_python=python,
        package_dir=Path(located.stdout.strip()).parent,
        outdir=outdir,
        template=json.loads((outdir / "Consumer.template.json").read_text()),
        assets=json.loads((outdir / "Consumer.assets.json").read_text()),
    )


def _resources(template: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [resource for resource in template["Resources"].values() if resource["Type"] == resource_type]


def test_the_package_is_imported_from_the_virtualenv(consumer: Consumer) -> None:
    assert not consumer.package_dir.is_relative_to(PROJECT_ROOT)
    assert consumer.package_dir.parent.name == "site-packages"


def test_the_key(consumer: Consumer) -> None:
    [key] = [
        key
        for key in _resources(consumer.template, "AWS::KMS::Key")
        if key["Properties"].get("KeyUsage") == "KEY_AGREEMENT"
    ]
    assert key["Properties"]["KeySpec"] == "ECC_NIST_P256"
    statements = {statement["Sid"]: statement for statement in key["Properties"]["KeyPolicy"]["Statement"]}
    assert sorted(statements) == [
        "AllowDeriveSharedSecret",
        "AllowPublicKeyRead",
        "DenyDeriveToOthers",
        "DenyPolicyLockoutBypass",
        "DenyShortDeletionWindow",
        "KeyAdministration",
    ]
    derive = statements["AllowDeriveSharedSecret"]
    assert derive["Action"] == "kms:DeriveSharedSecret"
    assert derive["Condition"] == {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}}
    [alias] = _resources(consumer.template, "AWS::KMS::Alias")
    assert alias["Properties"]["AliasName"] == "alias/consumer-p256"


def test_the_function_and_its_caller(consumer: Consumer) -> None:
    [function] = _resources(consumer.template, "AWS::Lambda::Function")
    assert function["Properties"]["Handler"] == "handler.handler"
    assert function["Properties"]["Runtime"] == "python3.14"
    invoke_statements = [
        statement
        for policy in _resources(consumer.template, "AWS::IAM::Policy")
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "lambda:InvokeFunction"
    ]
    assert len(invoke_statements) == 1


def test_the_function_s_asset_is_the_installed_runtime_and_the_pinned_cryptography(
    consumer: Consumer,
) -> None:
    [function] = _resources(consumer.template, "AWS::Lambda::Function")
    s3_key = function["Properties"]["Code"]["S3Key"]
    [asset] = [
        entry["source"]["path"]
        for entry in consumer.assets["files"].values()
        if any(s3_key == destination["objectKey"] for destination in entry["destinations"].values())
    ]
    asset_dir = consumer.outdir / asset
    entry_dir = PROJECT_ROOT / "lambda" / "derive"
    assert (asset_dir / "handler.py").read_bytes() == (entry_dir / "handler.py").read_bytes()
    for module in ("__init__.py", "service.py", "contract.py", "keys.py", "kdf.py"):
        assert (asset_dir / "kmsecdh" / module).read_bytes() == (consumer.package_dir / module).read_bytes()
    for absent in ("kmsecdh/cli", "kmsecdh/client.py", "kmsecdh/messages.py", "kmsecdh_cdk", "boto3"):
        assert not (asset_dir / absent).exists(), absent
    installed = {path.name.removesuffix(".dist-info") for path in asset_dir.glob("*.dist-info")}
    assert installed == {pin.replace("==", "-") for pin in read_pins(REQUIREMENTS_FILE)}


def test_the_core_command_line_runs_without_the_extras(consumer: Consumer) -> None:
    kmsecdh = consumer.venv_python.parent / "kmsecdh"
    assert _run([str(kmsecdh), "--version"]).stdout.strip() == "kmsecdh 0.1.0"
    encrypt = ["encrypt", "--private-key", "a.pem", "--peer-public-key", "b.der", "--in", "x", "--out", "y"]
    result = subprocess.run([str(kmsecdh), *encrypt], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "kmsecdh: kmsecdh encrypt needs the 'messages' extra: pip install 'kmsecdh[messages]'"
    )
