"""The synthesized app passes every check: cdk-nag packs (report read, not exit codes), cfn-lint, and the
list of acknowledgments is exactly the reviewed one below, so a new acknowledgment is a visible diff."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.infra.conftest import PROJECT_ROOT, SynthesizedApp
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
    ("KeyAgreement/Network/FlowLogGroup", "HIPAA.Security-CloudWatchLogGroupEncrypted"): ("prod",),
    ("KeyAgreement/Network/FlowLogGroup", "NIST.800.53.R5-CloudWatchLogGroupEncrypted"): ("prod",),
    ("KeyAgreement/Network/FlowLogGroup", "PCI.DSS.321-CloudWatchLogGroupEncrypted"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3002"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog", "F3003"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "HIPAA.Security-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "NIST.800.53.R5-IAMNoInlinePolicy"): ("prod",),
    ("KeyAgreement/Network/Vpc/FlowLog/IAMRole/DefaultPolicy", "PCI.DSS.321-IAMNoInlinePolicy"): ("prod",),
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
            pytest.fail(f"unqualified acknowledgment {acknowledgment}: use constructs_lib.acknowledgments")


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


def test_unacknowledged_findings_reads_failures() -> None:
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
