"""The synthesized app passes every check: cdk-nag packs (report read, not exit codes), cfn-lint and
checkov, and the lists of cdk-nag acknowledgments and checkov skips are exactly the reviewed ones below, so
a new one is a visible diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import PROJECT_ROOT, SynthesizedApp
from tools.checkov import CheckovError, failed_checks, failures_in_report
from tools.synth import unacknowledged_findings

CFN_LINT = Path(sys.executable).parent / "cfn-lint"

# Every acknowledgment in the cloud assembly: (construct path below the stage, rule) -> environments.
# The rule is the id without its "<pack>::" qualifier; the reasons live next to the constructs.
EXPECTED_ACKNOWLEDGMENTS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Audit/KeyUsageAudit/AccessLogBucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "HIPAA.Security-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "NIST.800.53.R5-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AccessLogBucket", "PCI.DSS.321-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/AlarmTopic/security-alerts@example.com", "Serverless-SNSRedrivePolicy"): (
        "prod",
        "staging",
    ),
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/Trail/LogsRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "HIPAA.Security-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "HIPAA.Security-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "NIST.800.53.R5-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "NIST.800.53.R5-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "PCI.DSS.321-S3BucketReplicationEnabled"): ("dev", "prod"),
    ("Audit/KeyUsageAudit/TrailBucket", "PCI.DSS.321-S3DefaultEncryptionKMS"): ("dev", "prod"),
    ("KeyAgreement/Derive/Function", "HIPAA.Security-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "HIPAA.Security-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "NIST.800.53.R5-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "NIST.800.53.R5-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "PCI.DSS.321-LambdaInsideVPC"): ("dev", "staging"),
    ("KeyAgreement/Derive/Function", "Serverless-LambdaDLQ"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "AwsSolutions-IAM5[Resource::*]"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): (
        "dev",
        "prod",
        "staging",
    ),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): (
        "dev",
        "prod",
        "staging",
    ),
    ("KeyAgreement/Derive/Role/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("dev", "prod", "staging"),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3002"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3003"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("prod",),
}

# Every checkov skip in the templates: (resource's construct path below the stage, check id) -> environments.
# The reasons live next to the constructs (kmsecdh_cdk.acknowledgments.skip_checkov).
EXPECTED_CHECKOV_SKIPS: dict[tuple[str, str], tuple[str, ...]] = {
    ("Audit/KeyUsageAudit/AccessLogBucket", "CKV_AWS_18"): ("dev", "prod"),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_115"): ("prod",),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_116"): ("prod",),
    ("KeyAgreement/Custom::VpcRestrictDefaultSGCustomResourceProvider/Handler", "CKV_AWS_117"): ("prod",),
    ("KeyAgreement/Derive/Function", "CKV_AWS_116"): ("dev", "prod", "staging"),
    ("KeyAgreement/Derive/Function", "CKV_AWS_117"): ("dev", "staging"),
}


def test_synthesis_raised_nothing(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.synth_error is None, unacknowledged_findings(synthesized_app.report)


def test_no_unacknowledged_finding_in_the_validation_report(synthesized_app: SynthesizedApp) -> None:
    assert unacknowledged_findings(synthesized_app.report) == []


def test_every_acknowledgment_has_a_reason_and_a_construct(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.acknowledgments
    for acknowledgment in synthesized_app.acknowledgments:
        assert len(acknowledgment.reason.split()) >= 5, acknowledgment
        # Attached below a stack, never on a whole stage or app.
        assert acknowledgment.path.count("/") >= 3 or acknowledgment.rule_id.startswith("CloudFormation-"), (
            acknowledgment
        )


def test_nag_acknowledgments_use_pack_qualified_ids(synthesized_app: SynthesizedApp) -> None:
    for acknowledgment in synthesized_app.acknowledgments:
        pack = acknowledgment.rule_id.split("::", 1)[0]
        if pack == "Annotation":
            pytest.fail(f"unqualified acknowledgment {acknowledgment}: use kmsecdh_cdk.acknowledgments")


def test_acknowledgments_are_exactly_the_reviewed_list(synthesized_app: SynthesizedApp) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    for acknowledgment in synthesized_app.acknowledgments:
        environment, path = acknowledgment.path.lstrip("/").split("/", 1)
        rule = acknowledgment.rule_id.split("::", 1)[-1]
        found.setdefault((path, rule), []).append(environment)
    assert {
        key: tuple(sorted(environments)) for key, environments in found.items()
    } == EXPECTED_ACKNOWLEDGMENTS


def test_suppressed_findings_carry_their_acknowledgment(synthesized_app: SynthesizedApp) -> None:
    reasons = {(a.path.lstrip("/"), a.rule_id): a.reason for a in synthesized_app.acknowledgments}
    for plugin in synthesized_app.report["pluginReports"]:
        for suppressed in plugin.get("suppressedViolations", []):
            assert (
                reasons[(suppressed["acknowledgedAt"], suppressed["acknowledgedId"])] == suppressed["reason"]
            )


def test_unacknowledged_findings_readsfailures_in_report() -> None:
    report: dict[str, Any] = {
        "pluginReports": [
            {"pluginName": "AwsSolutions", "conclusion": "success", "violations": []},
            {
                "pluginName": "NIST.800.53.R5",
                "conclusion": "failure",
                "violations": [
                    {
                        "ruleName": "NIST.800.53.R5-IAMNoInlinePolicy",
                        "description": "inline policy",
                        "violatingConstructs": [{"constructPath": "dev/KeyAgreement/Role"}],
                    }
                ],
            },
            {"pluginName": "Serverless", "conclusion": "failure", "violations": []},
        ]
    }
    assert unacknowledged_findings(report) == [
        "NIST.800.53.R5: NIST.800.53.R5-IAMNoInlinePolicy at dev/KeyAgreement/Role: inline policy",
        "Serverless: conclusion 'failure'",
    ]


def test_cfn_lint_finds_nothing_in_any_template(synthesized_app: SynthesizedApp) -> None:
    templates = sorted(str(stack.template_path) for _, stack in synthesized_app.all_stacks())
    completed = subprocess.run(
        [str(CFN_LINT), "--format", "json", *templates],
        cwd=PROJECT_ROOT,  # picks up .cfnlintrc
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.stderr == ""
    assert json.loads(completed.stdout) == []


def test_checkov_finds_no_failed_check_in_any_template(synthesized_app: SynthesizedApp) -> None:
    templates = sorted(stack.template_path for _, stack in synthesized_app.all_stacks())
    assert failed_checks(templates) == []


def construct_paths(synthesized_app: SynthesizedApp, environment: str) -> dict[str, str]:
    """Logical id -> construct path below the stage (an L2's ``/Resource`` left off), from the assembly."""
    paths = {}
    for metadata_file in (synthesized_app.outdir / f"assembly-{environment}").glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:logicalId":
                    paths[entry["data"]] = path.split("/", 2)[2].removesuffix("/Resource")
    return paths


def test_checkov_skips_are_exactly_the_reviewed_list(synthesized_app: SynthesizedApp) -> None:
    found: dict[tuple[str, str], list[str]] = {}
    for environment, stack in synthesized_app.all_stacks():
        paths = construct_paths(synthesized_app, environment)
        for logical_id, resource in stack.raw["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert set(skip) == {"id", "comment"}, skip
                assert len(skip["comment"].split()) >= 5, skip
                found.setdefault((paths[logical_id], skip["id"]), []).append(environment)
    assert {key: tuple(sorted(environments)) for key, environments in found.items()} == EXPECTED_CHECKOV_SKIPS


def checkov_report(
    failed: list[dict[str, str]], resource_count: int = 3, parsing_errors: int = 0
) -> dict[str, Any]:
    return {
        "check_type": "cloudformation",
        "results": {"failed_checks": failed},
        "summary": {"resource_count": resource_count, "parsing_errors": parsing_errors},
    }


def test_checkovfailures_in_report_are_read_from_its_report() -> None:
    failed = {
        "check_id": "CKV_AWS_18",
        "check_name": "Ensure the S3 bucket has access logging enabled",
        "resource": "AWS::S3::Bucket.Logs",
        "file_path": "/assembly-dev/devAudit.template.json",
    }
    assert failures_in_report([checkov_report([failed]), checkov_report([])], template_count=2) == [
        "CKV_AWS_18 Ensure the S3 bucket has access logging enabled: AWS::S3::Bucket.Logs in "
        "devAudit.template.json"
    ]


@pytest.mark.parametrize(
    ("report", "message"),
    [
        (checkov_report([], parsing_errors=1), "could not parse 1 template"),
        (checkov_report([], resource_count=0), "scanned no resource"),
    ],
)
def test_checkov_that_read_nothing_is_an_error(report: dict[str, Any], message: str) -> None:
    with pytest.raises(CheckovError, match=message):
        failures_in_report(report, template_count=1)
