"""A small CDK app around DeriveFunction, synthesized once per test session with every cdk-nag pack (the
construct library's KmsEcdhChecks included).

Two stacks: ``Plain`` (no VPC, two keys, the second one default, raw secret allowed, one caller, the
application log level at TRACE and the system log level at DEBUG) and
``Isolated`` (in a VPC with a KMS interface endpoint, a log group key of its own, defaults otherwise).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from kmsecdh_cdk.derive_function import DeriveFunction
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.nag_pack import KmsEcdhChecks

ENV = cdk.Environment(account="111111111111", region="eu-west-1")
CALLER_ARN = "arn:aws:iam::111111111111:role/derive-caller"
NAG_PACKS = (
    cdk_nag.AwsSolutionsChecks,
    cdk_nag.NIST80053R5Checks,
    cdk_nag.HIPAASecurityChecks,
    cdk_nag.PCIDSS321Checks,
    cdk_nag.ServerlessChecks,
    KmsEcdhChecks,
)
# Findings on the test's own VPC, which only exists to give the function a network.
TEST_NETWORK_FINDINGS = (
    "AwsSolutions-VPC7",
    "NIST.800.53.R5-VPCFlowLogsEnabled",
    "HIPAA.Security-VPCFlowLogsEnabled",
    "PCI.DSS.321-VPCFlowLogsEnabled",
    "NIST.800.53.R5-VPCDefaultSecurityGroupClosed",
    "HIPAA.Security-VPCDefaultSecurityGroupClosed",
    "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
)


@dataclass(frozen=True)
class SynthesizedApp:
    outdir: Path
    plain: cdk.Stack
    isolated: cdk.Stack
    plain_function: DeriveFunction
    isolated_function: DeriveFunction
    isolated_log_key: kms.Key
    plain_keys: tuple[KeyAgreementKey, ...]

    def raw_template(self, stack: cdk.Stack) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack.artifact_id}.template.json").read_text())

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    def acknowledged_rules(self, stack: cdk.Stack) -> dict[str, dict[str, str]]:
        """Construct path -> {rule id: reason}, from the stack's metadata."""
        metadata = json.loads((self.outdir / f"{stack.artifact_id}.metadata.json").read_text())
        rules: dict[str, dict[str, str]] = {}
        for path, entries in metadata.items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    rules.setdefault(path, {}).update(entry["data"])
        return rules

    def function_asset_dir(self, stack: cdk.Stack, function: DeriveFunction) -> Path:
        """The bundled directory of ``function``'s code, found through the template's S3 key."""
        logical_id = stack.get_logical_id(function.function.node.default_child)
        s3_key = self.raw_template(stack)["Resources"][logical_id]["Properties"]["Code"]["S3Key"]
        manifest = json.loads((self.outdir / f"{stack.artifact_id}.assets.json").read_text())
        return self.outdir / manifest["files"][s3_key.removesuffix(".zip")]["source"]["path"]


def _test_network(stack: cdk.Stack) -> tuple[ec2.Vpc, ec2.InterfaceVpcEndpoint]:
    vpc = ec2.Vpc(
        stack,
        "Vpc",
        max_azs=2,
        nat_gateways=0,
        subnet_configuration=[
            ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        ],
    )
    for rule in TEST_NETWORK_FINDINGS:
        cdk.Validations.of(vpc).acknowledge(
            cdk.Acknowledgment(id=rule, reason="test scaffolding: a network for the function under test")
        )
    # Closed: only the function's security group is let in (below).
    endpoint = vpc.add_interface_endpoint("Kms", service=ec2.InterfaceVpcEndpointAwsService.KMS, open=False)
    return vpc, endpoint


@functools.cache
def synthesize() -> SynthesizedApp:
    outdir = Path(tempfile.mkdtemp(prefix="kmsecdh-derive-synth-"))
    atexit.register(shutil.rmtree, outdir, True)
    app = cdk.App(outdir=str(outdir))
    for pack in NAG_PACKS:
        cdk.Validations.of(app).add_plugins(pack(app))

    plain = cdk.Stack(app, "Plain", env=ENV)
    p256 = KeyAgreementKey(plain, "P256", key_spec="ECC_NIST_P256", alias_name="alias/test-p256")
    p384 = KeyAgreementKey(plain, "P384", key_spec="ECC_NIST_P384", alias_name="alias/test-p384")
    plain_function = DeriveFunction(
        plain,
        "Derive",
        keys=[p256, p384],
        default_key=p384,
        allow_raw_secret=True,
        reserved_concurrent_executions=3,
        application_log_level=lambda_.ApplicationLogLevel.TRACE,
        system_log_level=lambda_.SystemLogLevel.DEBUG,
    )
    plain_function.grant_invoke(iam.ArnPrincipal(CALLER_ARN))

    isolated = cdk.Stack(app, "Isolated", env=ENV)
    p521 = KeyAgreementKey(isolated, "P521", key_spec="ECC_NIST_P521", alias_name="alias/test-p521")
    vpc, kms_endpoint = _test_network(isolated)
    log_key = kms.Key(isolated, "SharedLogKey", enable_key_rotation=True)
    isolated_function = DeriveFunction(
        isolated,
        "Derive",
        keys=[p521],
        reserved_concurrent_executions=2,
        vpc=vpc,
        vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
        kms_endpoint=kms_endpoint,
        log_group_encryption_key=log_key,
    )
    kms_endpoint.connections.allow_default_port_from(isolated_function.function)

    try:
        app.synth()
    except RuntimeError as error:
        # The templates are written before validation runs; the tests read the report for the findings.
        if "ValidationFailed" not in str(error):
            raise
    return SynthesizedApp(
        outdir=outdir,
        plain=plain,
        isolated=isolated,
        plain_function=plain_function,
        isolated_function=isolated_function,
        isolated_log_key=log_key,
        plain_keys=(p256, p384),
    )
