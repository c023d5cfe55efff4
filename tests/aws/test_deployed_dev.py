"""Opt-in, real AWS account (``make test-aws``; never part of ``make test``).

Deploys the dev stage with the caller as key administrator and function caller, derives through the
deployed Lambda with an OpenSSL peer and compares with OpenSSL's own derivation, finds the
DeriveSharedSecret event in CloudTrail, and destroys the stage. Credentials and region come from the usual
AWS environment (AWS_PROFILE / AWS_REGION ...).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from devtools import CDK_CLI, PROJECT_ROOT
from devtools.openssl import OpenSsl
from kmsecdh.kdf import fixed_info

pytestmark = pytest.mark.aws

ENVIRONMENT = "dev"
KEY_AGREEMENT_STACK = "kmsecdh-dev-key-agreement"
DERIVE_HANDLER = "handler.handler"
CLOUDTRAIL_LAG = timedelta(minutes=20)  # LookupEvents typically lags 5-15 minutes


def principal_arn(caller_arn: str) -> str:
    """The IAM ARN of the caller: an assumed-role session becomes its role."""
    if ":assumed-role/" in caller_arn:
        partition_account, role_and_session = caller_arn.replace(":sts:", ":iam:").split(":assumed-role/")
        return f"{partition_account}:role/{role_and_session.split('/')[0]}"
    return caller_arn


def cdk(*args: str, context: dict[str, Any]) -> None:
    subprocess.run(
        [str(CDK_CLI), *args, f"{ENVIRONMENT}/*", "--context", f"environments={json.dumps(context)}"],
        cwd=PROJECT_ROOT,
        check=True,
    )


@pytest.fixture(scope="module")
def deployed_dev() -> Iterator[dict[str, str]]:
    if os.environ.get("KMSECDH_AWS_TESTS") != "1":
        pytest.fail("set KMSECDH_AWS_TESTS=1 (make test-aws) to deploy to the account of your credentials")
    session = boto3.Session()
    identity = session.client("sts").get_caller_identity()
    caller = principal_arn(identity["Arn"])
    entry = json.loads((PROJECT_ROOT / "cdk.json").read_text())["context"]["environments"][ENVIRONMENT]
    entry.update(
        account=identity["Account"],
        region=session.region_name,
        admin_arns=[caller],
        caller_arns=[caller],
        public_key_reader_arns=[],
        extra_deriver_arns=[],
    )
    context = {ENVIRONMENT: entry}
    cdk("deploy", "--require-approval", "never", context=context)
    try:
        resources = session.client("cloudformation").describe_stack_resources(StackName=KEY_AGREEMENT_STACK)
        lambda_client = session.client("lambda")
        [function_name] = [
            resource["PhysicalResourceId"]
            for resource in resources["StackResources"]
            if resource["ResourceType"] == "AWS::Lambda::Function"
            and lambda_client.get_function_configuration(FunctionName=resource["PhysicalResourceId"])[
                "Handler"
            ]
            == DERIVE_HANDLER
        ]
        yield {"function_name": function_name, "alias": "alias/kmsecdh-dev-p256"}
    finally:
        cdk("destroy", "--force", context=context)


def invoke(function_name: str, event: dict[str, Any]) -> dict[str, Any]:
    response = boto3.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(event).encode())
    payload = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, payload
    return payload


def test_derive_through_the_deployed_function_matches_openssl_and_is_audited(
    deployed_dev: dict[str, str], openssl: OpenSsl, tmp_path: Path
) -> None:
    started = datetime.now(UTC)
    function_name, alias = deployed_dev["function_name"], deployed_dev["alias"]
    kms_public_key = invoke(function_name, {"action": "public_key", "key_id": alias})
    (tmp_path / "bob.der").write_bytes(base64.b64decode(kms_public_key["public_key_der"]))
    openssl.genkey("ECC_NIST_P256", tmp_path / "alice.pem")
    openssl.public_key(tmp_path / "alice.pem", tmp_path / "alice.der", der=True)
    info = fixed_info(b"kmsecdh-aws-test", b"alice", b"bob")

    response = invoke(
        function_name,
        {
            "action": "derive",
            "key_id": alias,
            "peer_public_key": base64.b64encode((tmp_path / "alice.der").read_bytes()).decode(),
            "kdf": {
                "algorithm": "onestep-sha256",
                "length": 32,
                "fixed_info": base64.b64encode(info).decode(),
            },
        },
    )
    shared_secret = openssl.derive(tmp_path / "alice.pem", tmp_path / "bob.der")
    expected = openssl.kdf(shared_secret, algorithm="onestep-sha256", length=32, fixed_info=info)
    assert base64.b64decode(response["derived_key"]) == expected

    cloudtrail = boto3.client("cloudtrail")
    deadline = time.monotonic() + CLOUDTRAIL_LAG.total_seconds()
    while time.monotonic() < deadline:
        events = cloudtrail.lookup_events(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "DeriveSharedSecret"}],
            StartTime=started - timedelta(minutes=1),
        )["Events"]
        if any(
            resource.get("ResourceName") == response["key_id"]
            for event in events
            for resource in event.get("Resources", [])
        ):
            return
        time.sleep(30)
    pytest.fail(f"no DeriveSharedSecret event for {response['key_id']} in CloudTrail after {CLOUDTRAIL_LAG}")
