"""KeyUsageAudit: a small app synthesized once per session with every cdk-nag pack, then every environment.

Stacks of the small app: ``Create`` (a trail of its own, an alarm e-mail, two keys, a role deriver made in
the stack plus a role and a user given by ARN, a directory signing key) and ``Existing`` (an organisation
trail's log group, no e-mail, one key, one deriver). Expected patterns are written out here, not computed by
the construct.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from kmsecdh_cdk.audit import AuditedFunction, AuditedSigningKey, KeyUsageAudit
from kmsecdh_cdk.audit.patterns import (
    MAX_FILTER_PATTERN_LENGTH,
    TOKEN_LENGTH_BOUND,
    estimated_pattern_length,
)
from stacks.application import NAG_PACKS
from stacks.config import EnvironmentConfig
from tests.infra.conftest import SynthesizedApp, load_context
from tools.synth import REPORT_NAME, unacknowledged_findings

ACCOUNT = "111111111111"
REGION = "eu-west-1"
ENV = cdk.Environment(account=ACCOUNT, region=REGION)
KEY_1 = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_2 = "mrk-0123456789abcdef0123456789abcdef"
SIGNING_KEY = "0987dcba-09fe-87dc-65ba-ab0987654321"
PUBLISHER = f"arn:aws:iam::{ACCOUNT}:role/kmsecdh-test-directory-publisher"
BATCH_ROLE = f"arn:aws:iam::{ACCOUNT}:role/batch/rekey"
ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ORGANISATION_LOG_GROUP = "aws-controltower/CloudTrailLogs"
FUNCTION_NAME = "kmsecdh-test-derive"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION_NAME}"
CALLER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/app"
CALLER_USER = f"arn:aws:iam::{ACCOUNT}:user/operator"
ALIASES = ("alias/kmsecdh-test-p256", "alias/kmsecdh-test-p384")
EXISTING_ROLE_NAME = "kmsecdh-existing-derive"
EXISTING_FUNCTION = AuditedFunction(
    function_arn=FUNCTION_ARN,
    function_name=FUNCTION_NAME,
    role_arn=f"arn:aws:iam::{ACCOUNT}:role/{EXISTING_ROLE_NAME}",
    role_name=EXISTING_ROLE_NAME,
)
# Every audit has these, whatever else it watches.
KEY_METRICS = (
    "KeyDisabledOrDeletionScheduled",
    "KeyPolicyOrGrantChanged",
    "KeyReplicatedOrPrimaryRegionChanged",
    "DeriveByUnallowedPrincipal",
    "KeyAccessDenied",
    "RetiredOrDisabledKeyUsed",
    "AuditLayerChanged",
    "AuditHeartbeat",
)
FUNCTION_METRICS = (
    "DeriveFunctionInvokedByUnallowedPrincipal",
    "DeriveFunctionChanged",
    "DeriveRoleChanged",
    "DeriveRolePassedToFunction",
    "DeriveOutsideFunction",
)
SIGNING_KEY_METRICS = ("DirectorySigningKeyChanged", "DirectorySignByUnallowedPrincipal")
ALL_METRICS = (*KEY_METRICS, "KeyAliasChanged", *FUNCTION_METRICS, *SIGNING_KEY_METRICS)
MANAGEMENT_EVENTS_SELECTOR = {
    "Name": "Management events",
    "FieldSelectors": [{"Field": "eventCategory", "Equals": ["Management"]}],
}
ALARM_EMAIL = "security@example.com"
SCHEDULER = {"Service": "scheduler.amazonaws.com"}

CIS_PATTERN = (
    "{($.eventSource = kms.amazonaws.com) && (($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}"
)
ISSUER = "$.userIdentity.sessionContext.sessionIssuer.arn"


def names_key(key_id: str) -> str:
    """The key in any Region: its resource, or its key id or key ARN in the request."""
    return (
        f'(($.resources[0].ARN = "*:key/{key_id}") || (($.requestParameters.keyId = "{key_id}") || '
        f'($.requestParameters.keyId = "*:key/{key_id}")))'
    )


def kms_events(*names: str) -> str:
    return "(" + " || ".join(f'($.eventName = "{name}")' for name in names) + ")"


def policy_or_grant_pattern(key_id: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && '
        f"{kms_events('PutKeyPolicy', 'CreateGrant')} && {names_key(key_id)} }}"
    )


def replication_pattern(key_id: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && '
        f"{kms_events('ReplicateKey', 'UpdatePrimaryRegion')} && {names_key(key_id)} }}"
    )


def alias_access_denied_pattern(alias: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && ($.errorCode = "AccessDenied*") && '
        f'(($.requestParameters.keyId = "{alias}") || ($.requestParameters.keyId = "*:{alias}")) }}'
    )


def role_passed_pattern(role_arn: str) -> str:
    return (
        '{ ($.eventSource = "lambda.amazonaws.com") && (($.eventName = "CreateFunction*") || '
        f'($.eventName = "UpdateFunctionConfiguration*")) && ($.requestParameters.role = "{role_arn}") }}'
    )


TRAIL_CHANGED_PATTERN = (
    '{ ($.eventSource = "cloudtrail.amazonaws.com") && (($.eventName = "StopLogging") || '
    '($.eventName = "DeleteTrail") || ($.eventName = "UpdateTrail") || ($.eventName = "PutEventSelectors")) }'
)


def audit_layer_patterns(log_group_name: str, alarm_prefix: str, topic: str, keys: list[str]) -> list[str]:
    log_group = (
        '{ ($.eventSource = "logs.amazonaws.com") && (($.eventName = "DeleteLogGroup") || '
        '($.eventName = "DeleteMetricFilter") || ($.eventName = "PutMetricFilter") || '
        f'($.eventName = "PutRetentionPolicy")) && ($.requestParameters.logGroupName = "{log_group_name}") }}'
    )
    alarms = (
        '{ ($.eventSource = "monitoring.amazonaws.com") && ((($.eventName = "DeleteAlarms") || '
        '($.eventName = "DisableAlarmActions")) || (($.eventName = "PutMetricAlarm") && '
        f'($.requestParameters.alarmName = "{alarm_prefix}*"))) }}'
    )
    topic_changed = (
        '{ ($.eventSource = "sns.amazonaws.com") && (((($.eventName = "SetTopicAttributes") || '
        '($.eventName = "RemovePermission") || ($.eventName = "DeleteTopic")) && '
        f'($.requestParameters.topicArn = "{topic}")) || ((($.eventName = "Unsubscribe") || '
        '($.eventName = "SetSubscriptionAttributes")) && '
        f'($.requestParameters.subscriptionArn = "{topic}:*"))) }}'
    )
    audit_keys = [
        '{ ($.eventSource = "kms.amazonaws.com") && '
        f"{kms_events('DisableKey', 'ScheduleKeyDeletion', 'PutKeyPolicy')} && {names_key(key)} }}"
        for key in keys
    ]
    return sorted([TRAIL_CHANGED_PATTERN, log_group, alarms, topic_changed, *audit_keys])


def heartbeat_pattern(parameter_name: str, role_arn: str) -> str:
    return (
        '{ ($.eventSource = "ssm.amazonaws.com") && ($.eventName = "PutParameter") && '
        f'($.requestParameters.name = "{parameter_name}") && ({ISSUER} = "{role_arn}") }}'
    )


def alias_pattern(alias: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && (($.eventName = "CreateAlias") || '
        '($.eventName = "UpdateAlias") || ($.eventName = "DeleteAlias")) && '
        f'($.requestParameters.aliasName = "{alias}") }}'
    )


def function_changed_pattern(name: str, arn: str) -> str:
    events = " || ".join(
        f'($.eventName = "{prefix}*")'
        for prefix in (
            "UpdateFunction",
            "AddPermission",
            "RemovePermission",
            "CreateFunctionUrlConfig",
            "PutFunction",
            "DeleteFunction",
        )
    )
    selector = "$.requestParameters.functionName"
    return (
        f'{{ ($.eventSource = "lambda.amazonaws.com") && ({events}) && (({selector} = "{name}") || '
        f'({selector} = "*:function:{name}") || ({selector} = "{arn}:*")) }}'
    )


def role_changed_pattern(role_name: str) -> str:
    events = " || ".join(
        f'($.eventName = "{name}")'
        for name in (
            "PutRolePolicy",
            "DeleteRolePolicy",
            "AttachRolePolicy",
            "DetachRolePolicy",
            "UpdateAssumeRolePolicy",
            "PutRolePermissionsBoundary",
            "DeleteRolePermissionsBoundary",
            "DeleteRole",
        )
    )
    return (
        f'{{ ($.eventSource = "iam.amazonaws.com") && ({events}) && '
        f'($.requestParameters.roleName = "{role_name}") }}'
    )


def derive_outside_pattern(role_arn: str, role_name: str, function_name: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "DeriveSharedSecret") && '
        f'({ISSUER} = "{role_arn}") && ($.userIdentity.arn != '
        f'"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{function_name}") }}'
    )


def unusable_key_pattern(key_id: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "DeriveSharedSecret") && '
        '(($.errorCode = "DisabledException") || ($.errorCode = "KMSInvalidStateException")) && '
        f"{names_key(key_id)} }}"
    )


def retired_key_pattern(key_id: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "DeriveSharedSecret") && '
        f"{names_key(key_id)} }}"
    )


def access_denied_pattern(key_id: str) -> str:
    return (
        '{ ($.eventSource = "kms.amazonaws.com") && ($.errorCode = "AccessDenied*") && '
        f"{names_key(key_id)} }}"
    )


def signing_key_patterns(key_id: str, signer: str) -> dict[str, list[str]]:
    return {
        "DirectorySigningKeyChanged": [
            '{ ($.eventSource = "kms.amazonaws.com") && '
            + kms_events(
                "PutKeyPolicy",
                "CreateGrant",
                "DisableKey",
                "EnableKey",
                "ScheduleKeyDeletion",
                "CancelKeyDeletion",
            )
            + f" && {names_key(key_id)} }}"
        ],
        "DirectorySignByUnallowedPrincipal": [
            '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "Sign") && '
            f'{names_key(key_id)} && (({ISSUER} NOT EXISTS) || (({ISSUER} != "{signer}"))) }}'
        ],
    }


@dataclass(frozen=True)
class AuditApp:
    outdir: Path
    create: cdk.Stack
    existing: cdk.Stack
    create_audit: KeyUsageAudit
    deriver_role: iam.Role
    synth_error: str | None

    def template(self, stack: cdk.Stack) -> dict[str, Any]:
        return json.loads((self.outdir / f"{stack.artifact_id}.template.json").read_text())

    def report(self) -> dict[str, Any]:
        return json.loads((self.outdir / REPORT_NAME).read_text())

    def acknowledgments(self, stack: cdk.Stack) -> dict[tuple[str, str], str]:
        """(construct path, rule id) -> reason, from the stack's metadata."""
        metadata = json.loads((self.outdir / f"{stack.artifact_id}.metadata.json").read_text())
        return {
            (path, rule_id): reason
            for path, entries in metadata.items()
            for entry in entries
            if entry["type"] == cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY
            for rule_id, reason in entry["data"].items()
        }


@pytest.fixture(scope="session")
def audit_app(tmp_path_factory: pytest.TempPathFactory) -> AuditApp:
    outdir = tmp_path_factory.mktemp("audit.cdk.out")
    context = {key: value for key, value in load_context().items() if key != "environments"}
    app = cdk.App(outdir=str(outdir), context=context)
    for pack in NAG_PACKS:
        cdk.Validations.of(app).add_plugins(pack(app))

    create = cdk.Stack(app, "Create", env=ENV)
    deriver_role = iam.Role(create, "DeriverRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    create_audit = KeyUsageAudit(
        create,
        "Audit",
        key_ids=[KEY_1, KEY_2],
        allowed_deriver_arns=[deriver_role.role_arn, BATCH_ROLE, ALICE],
        alias_names=ALIASES,
        retired_key_ids=[KEY_2],
        derive_functions=[
            AuditedFunction(
                function_arn=FUNCTION_ARN,
                function_name=FUNCTION_NAME,
                role_arn=deriver_role.role_arn,
                role_name=deriver_role.role_name,
                caller_arns=(CALLER_ROLE, CALLER_USER),
            )
        ],
        signing_key=AuditedSigningKey(key_id=SIGNING_KEY, signer_arns=(PUBLISHER,)),
        alarm_email=ALARM_EMAIL,
    )
    existing = cdk.Stack(app, "Existing", env=ENV)
    KeyUsageAudit(
        existing,
        "Audit",
        key_ids=[KEY_1],
        allowed_deriver_arns=[BATCH_ROLE],
        alias_names=ALIASES[:1],
        derive_functions=[EXISTING_FUNCTION],
        existing_log_group_name=ORGANISATION_LOG_GROUP,
    )
    synth_error = None
    try:
        app.synth()
    except RuntimeError as error:  # ValidationFailed; the report says why
        synth_error = str(error)
    return AuditApp(outdir, create, existing, create_audit, deriver_role, synth_error)


def resources(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource["Properties"]
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == type_
    }


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = resources(template, type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def render(value: Any) -> str:
    """A pattern as one string; a GetAtt becomes ``${LogicalId.Attribute}``, a Ref ``${LogicalId}``, an
    import ``${import:Name}``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render(part) for part in parts)
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::ImportValue" in value:
        return "${import:" + render(value["Fn::ImportValue"]) + "}"
    raise AssertionError(f"unexpected intrinsic in a pattern: {value}")


def patterns_by_metric(template: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for properties in resources(template, "AWS::Logs::MetricFilter").values():
        (transformation,) = properties["MetricTransformations"]
        assert transformation["MetricNamespace"] == "kmsecdh"
        assert transformation["MetricValue"] == "1"
        found.setdefault(transformation["MetricName"], []).append(render(properties["FilterPattern"]))
    return {metric: sorted(patterns) for metric, patterns in found.items()}


def key_statements(template: dict[str, Any], logical_id: str) -> dict[str, dict[str, Any]]:
    statements = template["Resources"][logical_id]["Properties"]["KeyPolicy"]["Statement"]
    return {statement["Sid"]: statement for statement in statements}


def trail_arn(template: dict[str, Any]) -> str:
    _, trail = only(template, "AWS::CloudTrail::Trail")
    return f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail['TrailName']}"


# --- the trail (create mode) ---


def test_trail_settings(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    _, trail = only(template, "AWS::CloudTrail::Trail")
    key_id, _ = only_key_with_sid(template, "AllowCloudTrailEncryptLogs")
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    role_id, role = trail_logs_role(template)
    assert trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert trail["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "cloudtrail.amazonaws.com"
    }
    assert "EventSelectors" not in trail
    assert trail["AdvancedEventSelectors"] == [
        MANAGEMENT_EVENTS_SELECTOR,
        {
            "Name": "Derive function invocations",
            "FieldSelectors": [
                {"Field": "eventCategory", "Equals": ["Data"]},
                {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
                {"Field": "resources.ARN", "Equals": [FUNCTION_ARN]},
            ],
        },
    ]
    assert "InsightSelectors" not in trail


def only_key_with_sid(template: dict[str, Any], sid: str) -> tuple[str, dict[str, Any]]:
    keys = [
        (logical_id, properties)
        for logical_id, properties in resources(template, "AWS::KMS::Key").items()
        if sid in key_statements(template, logical_id)
    ]
    assert len(keys) == 1, f"expected one key with statement {sid}"
    return keys[0]


def trail_logs_role(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    (logical_id,) = [
        logical_id
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"].get("Service")
        == "cloudtrail.amazonaws.com"
    ]
    return logical_id, template["Resources"][logical_id]["Properties"]


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_kms_management_events_are_never_excluded(audit_app: AuditApp, stack_name: str) -> None:
    raw = json.dumps(audit_app.template(getattr(audit_app, stack_name)))
    assert "ExcludeManagementEventSources" not in raw
    # the management selector filters on the category alone: no eventSource, readOnly or eventName field
    assert '"eventSource"' not in raw
    assert '"readOnly"' not in raw


def test_trail_logs_role_may_only_write_its_log_group(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    role_id, _ = trail_logs_role(template)
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    (policy,) = [
        p for p in resources(template, "AWS::IAM::Policy").values() if p["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Effect": "Allow",
            "Resource": {"Fn::GetAtt": [log_group_id, "Arn"]},
        }
    ]


def test_trail_key_policy(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    key_id, key = only_key_with_sid(template, "AllowCloudTrailEncryptLogs")
    _, log_group = only(template, "AWS::Logs::LogGroup")
    arn = trail_arn(template)
    statements = key_statements(template, key_id)
    assert key["EnableKeyRotation"] is True
    assert key.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
    assert set(statements) == {
        "KeyAdministration",
        "DenyPolicyLockoutBypass",
        "DenyShortDeletionWindow",
        "AllowCloudTrailEncryptLogs",
        "AllowCloudTrailDescribeKey",
        "AllowTrailLogDecryptionThroughIam",
        "AllowCloudWatchLogs",
    }
    assert statements["AllowCloudTrailEncryptLogs"] == {
        "Sid": "AllowCloudTrailEncryptLogs",
        "Effect": "Allow",
        "Principal": {"Service": "cloudtrail.amazonaws.com"},
        "Action": "kms:GenerateDataKey",
        "Resource": "*",
        "Condition": {
            "StringEquals": {
                "aws:SourceArn": arn,
                "aws:SourceAccount": ACCOUNT,
                "kms:EncryptionContext:aws:cloudtrail:arn": arn,
            }
        },
    }
    assert statements["AllowCloudTrailDescribeKey"]["Action"] == "kms:DescribeKey"
    assert statements["AllowCloudTrailDescribeKey"]["Condition"] == {
        "StringEquals": {"aws:SourceArn": arn, "aws:SourceAccount": ACCOUNT}
    }
    assert statements["DenyPolicyLockoutBypass"]["Effect"] == "Deny"
    decrypt = statements["AllowTrailLogDecryptionThroughIam"]
    assert decrypt["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Condition"] == {"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": arn}}
    logs_statement = statements["AllowCloudWatchLogs"]
    assert logs_statement["Principal"] == {"Service": f"logs.{REGION}.amazonaws.com"}
    assert logs_statement["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{log_group['LogGroupName']}"
            )
        }
    }
    administration = statements["KeyAdministration"]
    assert administration["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert "kms:Decrypt" not in administration["Action"]
    assert "kms:CreateGrant" not in administration["Action"]


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_no_key_policy_allows_a_wildcard_action(audit_app: AuditApp, stack_name: str) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    keys = resources(template, "AWS::KMS::Key")
    assert keys
    for logical_id in keys:
        for statement in key_statements(template, logical_id).values():
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all("*" not in action for action in actions), statement
            if statement["Effect"] == "Allow":
                assert "kms:CreateGrant" not in actions


def test_trail_log_group_is_encrypted_with_the_trail_key_and_retained_a_year(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    key_id, _ = only_key_with_sid(template, "AllowCloudTrailEncryptLogs")
    _, log_group = only(template, "AWS::Logs::LogGroup")
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert log_group["RetentionInDays"] == 365


def test_retained_by_default(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::KMS::Key"):
            assert resource["DeletionPolicy"] == "Retain", logical_id
            assert resource["UpdateReplacePolicy"] == "Retain", logical_id


# --- the buckets (create mode) ---


def buckets(template: dict[str, Any]) -> tuple[tuple[str, dict[str, Any]], tuple[str, dict[str, Any]]]:
    _, trail = only(template, "AWS::CloudTrail::Trail")
    trail_bucket_id = trail["S3BucketName"]["Ref"]
    all_buckets = resources(template, "AWS::S3::Bucket")
    assert len(all_buckets) == 2
    (access_log_id,) = set(all_buckets) - {trail_bucket_id}
    return (trail_bucket_id, all_buckets[trail_bucket_id]), (access_log_id, all_buckets[access_log_id])


def test_bucket_settings(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    (trail_bucket_id, trail_bucket), (access_log_id, access_log_bucket) = buckets(template)
    for bucket in (trail_bucket, access_log_bucket):
        assert bucket["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert bucket["BucketEncryption"] == {
            "ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
            ]
        }
        (rule,) = bucket["LifecycleConfiguration"]["Rules"]
        assert rule["Status"] == "Enabled"
        assert rule["ExpirationInDays"] == 365
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 365}
    assert trail_bucket["LoggingConfiguration"] == {
        "DestinationBucketName": {"Ref": access_log_id},
        "LogFilePrefix": "TrailBucket/",
    }
    assert "LoggingConfiguration" not in access_log_bucket
    assert trail_bucket_id != access_log_id


def test_buckets_deny_requests_without_tls(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    policies = {
        p["Bucket"]["Ref"]: p["PolicyDocument"]["Statement"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
    }
    for bucket_id, _ in buckets(template):
        assert {
            "Action": "s3:*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Resource": [
                {"Fn::GetAtt": [bucket_id, "Arn"]},
                {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/*"]]},
            ],
        } in policies[bucket_id]


def test_trail_bucket_lets_this_trail_only_write_its_account_prefix(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    (trail_bucket_id, _), _ = buckets(template)
    ((policy_id, policy),) = [
        (policy_id, policy)
        for policy_id, policy in resources(template, "AWS::S3::BucketPolicy").items()
        if policy["Bucket"] == {"Ref": trail_bucket_id}
    ]
    from_this_trail = {"aws:SourceArn": trail_arn(template), "aws:SourceAccount": ACCOUNT}
    cloudtrail_statements = [
        statement
        for statement in policy["PolicyDocument"]["Statement"]
        if statement["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    ]
    assert cloudtrail_statements == [
        {
            "Action": "s3:GetBucketAcl",
            "Condition": {"StringEquals": from_this_trail},
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Resource": {"Fn::GetAtt": [trail_bucket_id, "Arn"]},
            "Sid": "AllowCloudTrailAclCheck",
        },
        {
            "Action": "s3:PutObject",
            "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **from_this_trail}},
            "Effect": "Allow",
            "Principal": {"Service": "cloudtrail.amazonaws.com"},
            "Resource": {
                "Fn::Join": ["", [{"Fn::GetAtt": [trail_bucket_id, "Arn"]}, f"/AWSLogs/{ACCOUNT}/*"]]
            },
            "Sid": "AllowCloudTrailWrite",
        },
    ]
    # CloudTrail checks the policy when the trail is created.
    (trail,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudTrail::Trail"]
    assert policy_id in trail["DependsOn"]


# --- metric filters and alarms ---


@dataclass(frozen=True)
class AuditResources:
    """What the audit's own patterns name, as ``render`` shows it."""

    log_group: str
    topic: str
    keys: list[str]
    heartbeat_parameter: str
    heartbeat_role: str


def audit_resources(template: dict[str, Any], log_group: str) -> AuditResources:
    topic_id, _ = only(template, "AWS::SNS::Topic")
    _, parameter = only(template, "AWS::SSM::Parameter")
    (role_id,) = [
        logical_id
        for logical_id, role in resources(template, "AWS::IAM::Role").items()
        if role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == SCHEDULER
    ]
    return AuditResources(
        log_group=log_group,
        topic="${" + topic_id + "}",
        keys=["${" + key_id + "}" for key_id in resources(template, "AWS::KMS::Key")],
        heartbeat_parameter=parameter["Name"],
        heartbeat_role="${" + role_id + ".Arn}",
    )


def test_metric_filter_patterns_create_mode(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.create)
    role = "${" + audit_app.create.get_logical_id(audit_app.deriver_role.node.default_child) + ".Arn}"

    role_name = "${" + audit_app.create.get_logical_id(audit_app.deriver_role.node.default_child) + "}"
    log_group_id, _ = only(template, "AWS::Logs::LogGroup")
    own = audit_resources(template, "${" + log_group_id + "}")
    assert len(own.keys) == 2  # the trail key and the topic key

    def derive(key: str) -> str:
        return (
            '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "DeriveSharedSecret") && '
            f'($.resources[0].ARN = "*:key/{key}") && '
            f'(($.userIdentity.arn NOT EXISTS) || (($.userIdentity.arn != "{ALICE}"))) && '
            f'(({ISSUER} NOT EXISTS) || (({ISSUER} != "{role}") && ({ISSUER} != "{BATCH_ROLE}"))) }}'
        )

    invoked = (
        '{ ($.eventSource = "lambda.amazonaws.com") && ($.eventName = "Invoke") && '
        f'($.resources[0].ARN = "{FUNCTION_ARN}") && '
        f'(($.userIdentity.arn NOT EXISTS) || (($.userIdentity.arn != "{CALLER_USER}"))) && '
        f'(({ISSUER} NOT EXISTS) || (({ISSUER} != "{CALLER_ROLE}"))) }}'
    )
    assert patterns_by_metric(template) == {
        "KeyDisabledOrDeletionScheduled": [CIS_PATTERN],
        "KeyPolicyOrGrantChanged": sorted([policy_or_grant_pattern(KEY_1), policy_or_grant_pattern(KEY_2)]),
        "KeyReplicatedOrPrimaryRegionChanged": sorted(
            [replication_pattern(KEY_1), replication_pattern(KEY_2)]
        ),
        "DeriveByUnallowedPrincipal": sorted([derive(KEY_1), derive(KEY_2)]),
        "KeyAccessDenied": sorted(
            [
                access_denied_pattern(KEY_1),
                access_denied_pattern(KEY_2),
                *(alias_access_denied_pattern(alias) for alias in ALIASES),
            ]
        ),
        "KeyAliasChanged": sorted(alias_pattern(alias) for alias in ALIASES),
        # KEY_2 is a retired generation: every derive on it alarms
        "RetiredOrDisabledKeyUsed": sorted([unusable_key_pattern(KEY_1), retired_key_pattern(KEY_2)]),
        "DeriveFunctionInvokedByUnallowedPrincipal": [invoked],
        "DeriveFunctionChanged": [function_changed_pattern(FUNCTION_NAME, FUNCTION_ARN)],
        "DeriveRoleChanged": [role_changed_pattern(role_name)],
        "DeriveRolePassedToFunction": [role_passed_pattern(role)],
        "DeriveOutsideFunction": [derive_outside_pattern(role, role_name, FUNCTION_NAME)],
        **signing_key_patterns(SIGNING_KEY, PUBLISHER),
        "AuditLayerChanged": audit_layer_patterns(own.log_group, "kmsecdh-", own.topic, own.keys),
        "AuditHeartbeat": [heartbeat_pattern(own.heartbeat_parameter, own.heartbeat_role)],
    }
    for properties in resources(template, "AWS::Logs::MetricFilter").values():
        assert properties["LogGroupName"] == {"Ref": log_group_id}


def test_metric_filter_patterns_existing_mode(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.existing)
    own = audit_resources(template, ORGANISATION_LOG_GROUP)
    assert len(own.keys) == 1  # the topic key
    assert patterns_by_metric(template) == {
        "KeyDisabledOrDeletionScheduled": [CIS_PATTERN],
        "KeyPolicyOrGrantChanged": [policy_or_grant_pattern(KEY_1)],
        "KeyReplicatedOrPrimaryRegionChanged": [replication_pattern(KEY_1)],
        "DeriveByUnallowedPrincipal": [
            '{ ($.eventSource = "kms.amazonaws.com") && ($.eventName = "DeriveSharedSecret") && '
            f'($.resources[0].ARN = "*:key/{KEY_1}") && '
            f'(({ISSUER} NOT EXISTS) || (({ISSUER} != "{BATCH_ROLE}"))) }}'
        ],
        "KeyAccessDenied": sorted([access_denied_pattern(KEY_1), alias_access_denied_pattern(ALIASES[0])]),
        "KeyAliasChanged": [alias_pattern(ALIASES[0])],
        "RetiredOrDisabledKeyUsed": [unusable_key_pattern(KEY_1)],
        # no callers: every invocation alarms
        "DeriveFunctionInvokedByUnallowedPrincipal": [
            '{ ($.eventSource = "lambda.amazonaws.com") && ($.eventName = "Invoke") && '
            f'($.resources[0].ARN = "{FUNCTION_ARN}") }}'
        ],
        "DeriveFunctionChanged": [function_changed_pattern(FUNCTION_NAME, FUNCTION_ARN)],
        "DeriveRoleChanged": [role_changed_pattern(EXISTING_ROLE_NAME)],
        "DeriveRolePassedToFunction": [role_passed_pattern(EXISTING_FUNCTION.role_arn)],
        "DeriveOutsideFunction": [
            derive_outside_pattern(EXISTING_FUNCTION.role_arn, EXISTING_ROLE_NAME, FUNCTION_NAME)
        ],
        "AuditLayerChanged": audit_layer_patterns(own.log_group, "kmsecdh-", own.topic, own.keys),
        "AuditHeartbeat": [heartbeat_pattern(own.heartbeat_parameter, own.heartbeat_role)],
    }
    for properties in resources(template, "AWS::Logs::MetricFilter").values():
        assert properties["LogGroupName"] == ORGANISATION_LOG_GROUP


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_one_alarm_per_metric_to_the_topic(audit_app: AuditApp, stack_name: str) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    topic_id, _ = only(template, "AWS::SNS::Topic")
    alarms = {alarm["MetricName"]: alarm for alarm in resources(template, "AWS::CloudWatch::Alarm").values()}
    # the existing-mode audit watches no signing key
    expected = ALL_METRICS if stack_name == "create" else set(ALL_METRICS) - set(SIGNING_KEY_METRICS)
    assert sorted(alarms) == sorted(expected)
    heartbeat = alarms.pop("AuditHeartbeat")
    for metric, alarm in alarms.items():
        assert alarm["AlarmName"] == f"kmsecdh-{metric}"
        assert alarm["Namespace"] == "kmsecdh"
        assert alarm["Statistic"] == "Sum"
        assert alarm["Period"] == 300
        assert alarm["EvaluationPeriods"] == 1
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        assert "OKActions" not in alarm
        assert alarm["AlarmDescription"]
    # no heartbeat for two periods of 15 minutes fires it, and no data at all is exactly that failure
    assert {key: value for key, value in heartbeat.items() if key != "AlarmDescription"} == {
        "AlarmName": "kmsecdh-AuditHeartbeat",
        "MetricName": "AuditHeartbeat",
        "Namespace": "kmsecdh",
        "Statistic": "Sum",
        "Period": 900,
        "EvaluationPeriods": 2,
        "Threshold": 1,
        "ComparisonOperator": "LessThanThreshold",
        "TreatMissingData": "breaching",
        "AlarmActions": [{"Ref": topic_id}],
        "OKActions": [{"Ref": topic_id}],
    }


def test_construct_exposes_its_alarms_and_filters(audit_app: AuditApp) -> None:
    audit = audit_app.create_audit
    assert set(audit.alarms) == set(audit.metric_filters)
    assert len(audit.metric_filters["KeyPolicyOrGrantChanged"]) == 2
    assert audit.heartbeat_alarm is audit.alarms["AuditHeartbeat"]
    assert audit.alarm_name_prefix == "kmsecdh-"
    assert audit.trail is not None
    assert audit.log_group.log_group_name


# --- the heartbeat ---


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_heartbeat_schedule_puts_its_parameter_every_five_minutes(
    audit_app: AuditApp, stack_name: str
) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    _, schedule = only(template, "AWS::Scheduler::Schedule")
    parameter_id, parameter = only(template, "AWS::SSM::Parameter")
    own = audit_resources(template, "unused")
    role_id = own.heartbeat_role.removeprefix("${").removesuffix(".Arn}")
    assert schedule["ScheduleExpression"] == "rate(5 minutes)"
    assert schedule["State"] == "ENABLED"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    target = schedule["Target"]
    # a universal target: Scheduler calls SSM PutParameter itself, no function in between
    assert render(target["Arn"]) == "arn:${AWS::Partition}:scheduler:::aws-sdk:ssm:putParameter"
    assert json.loads(target["Input"]) == {
        "Name": parameter["Name"],
        "Value": "<aws.scheduler.scheduled-time>",
        "Type": "String",
        "Overwrite": True,
    }
    assert target["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0
    assert parameter["Name"].startswith("/kmsecdh/")
    assert parameter["Name"].endswith("/heartbeat")
    assert parameter["Type"] == "String"
    # the role: Scheduler only, for this account's default schedule group; PutParameter of that one parameter
    role = template["Resources"][role_id]["Properties"]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": {
                "StringEquals": {
                    "aws:SourceAccount": ACCOUNT,
                    "aws:SourceArn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/default",
                }
            },
            "Effect": "Allow",
            "Principal": {"Service": "scheduler.amazonaws.com"},
        }
    ]
    (policy,) = [
        p for p in resources(template, "AWS::IAM::Policy").values() if p["Roles"] == [{"Ref": role_id}]
    ]
    assert policy["PolicyDocument"]["Statement"] == [
        {
            "Action": "ssm:PutParameter",
            "Effect": "Allow",
            "Resource": {
                "Fn::Join": ["", [f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter", {"Ref": parameter_id}]]
            },
        }
    ]


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_audit_keys_refuse_a_short_deletion_window(audit_app: AuditApp, stack_name: str) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    for logical_id in resources(template, "AWS::KMS::Key"):
        statements = key_statements(template, logical_id)
        assert statements["DenyShortDeletionWindow"] == {
            "Sid": "DenyShortDeletionWindow",
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": "kms:ScheduleKeyDeletion",
            "Resource": "*",
            "Condition": {"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}},
        }
        assert statements["DenyPolicyLockoutBypass"]["Condition"] == {
            "Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}
        }


# --- the alarm topic ---


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_topic_is_encrypted_and_tls_only(audit_app: AuditApp, stack_name: str) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    topic_id, topic = only(template, "AWS::SNS::Topic")
    key_id, key = only_key_with_sid(template, "AllowCloudWatchAlarms")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["EnableKeyRotation"] is True
    alarms_of_this_account = {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:*"},
    }
    statements = key_statements(template, key_id)
    assert set(statements) == {
        "KeyAdministration",
        "DenyPolicyLockoutBypass",
        "DenyShortDeletionWindow",
        "AllowCloudWatchAlarms",
    }
    allow = statements["AllowCloudWatchAlarms"]
    assert allow["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(allow["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert allow["Condition"] == alarms_of_this_account
    _, policy = only(template, "AWS::SNS::TopicPolicy")
    statements = {statement["Sid"]: statement for statement in policy["PolicyDocument"]["Statement"]}
    assert policy["Topics"] == [{"Ref": topic_id}]
    ssl = statements["AllowPublishThroughSSLOnly"]
    assert ssl["Effect"] == "Deny"
    assert ssl["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    publish = statements["AllowCloudWatchAlarmsOfThisAccount"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Action"] == "sns:Publish"
    assert publish["Condition"] == alarms_of_this_account


def test_email_subscription_only_when_asked(audit_app: AuditApp) -> None:
    create = audit_app.template(audit_app.create)
    topic_id, _ = only(create, "AWS::SNS::Topic")
    _, subscription = only(create, "AWS::SNS::Subscription")
    assert subscription == {"Endpoint": ALARM_EMAIL, "Protocol": "email", "TopicArn": {"Ref": topic_id}}
    assert resources(audit_app.template(audit_app.existing), "AWS::SNS::Subscription") == {}


def test_existing_mode_creates_no_trail_bucket_or_log_group(audit_app: AuditApp) -> None:
    template = audit_app.template(audit_app.existing)
    for type_ in ("AWS::CloudTrail::Trail", "AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        assert resources(template, type_) == {}, type_
    # its only role is the heartbeat's
    (role,) = resources(template, "AWS::IAM::Role").values()
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "scheduler.amazonaws.com"
    }


# --- cdk-nag ---


def test_no_unacknowledged_nag_finding(audit_app: AuditApp) -> None:
    assert unacknowledged_findings(audit_app.report()) == []
    assert audit_app.synth_error is None


def test_acknowledgments_are_exactly_these(audit_app: AuditApp) -> None:
    compliance = ("NIST.800.53.R5", "HIPAA.Security", "PCI.DSS.321")
    expected = {
        *(
            (f"/Create/Audit/{bucket}", f"{pack}::{pack}-{rule}")
            for pack in compliance
            for bucket in ("TrailBucket", "AccessLogBucket")
            for rule in ("S3DefaultEncryptionKMS", "S3BucketReplicationEnabled")
        ),
        *(
            (
                "/Create/Audit/Trail/LogsRole/DefaultPolicy",
                f"{pack}::{pack}-IAMNoInlinePolicy",
            )
            for pack in compliance
        ),
        (f"/Create/Audit/AlarmTopic/{ALARM_EMAIL}", "Serverless::Serverless-SNSRedrivePolicy"),
    }
    heartbeat_role = {
        ("/{stack}/Audit/HeartbeatRole/DefaultPolicy", f"{pack}::{pack}-IAMNoInlinePolicy")
        for pack in compliance
    }
    acknowledged = audit_app.acknowledgments(audit_app.create)
    assert set(acknowledged) == expected | {
        (path.format(stack="Create"), rule) for path, rule in heartbeat_role
    }
    assert all(len(reason) > 40 for reason in acknowledged.values())
    assert set(audit_app.acknowledgments(audit_app.existing)) == {
        (path.format(stack="Existing"), rule) for path, rule in heartbeat_role
    }


@pytest.mark.parametrize("stack_name", ["create", "existing"])
def test_checkov_skips_only_access_logging_of_the_access_log_bucket(
    audit_app: AuditApp, stack_name: str
) -> None:
    template = audit_app.template(getattr(audit_app, stack_name))
    skips = {
        logical_id: [skip["id"] for skip in resource["Metadata"]["checkov"]["skip"]]
        for logical_id, resource in template["Resources"].items()
        if "checkov" in resource.get("Metadata", {})
    }
    if stack_name == "existing":
        assert skips == {}
    else:
        (_, (access_log_bucket_id, _)) = buckets(template)
        assert skips == {access_log_bucket_id: ["CKV_AWS_18"]}


# --- construct-time checks ---


@pytest.fixture
def stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Stack", env=ENV)


def test_rejects_no_keys(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="at least one key id in key_ids"):
        KeyUsageAudit(stack, "Audit", key_ids=[], allowed_deriver_arns=[BATCH_ROLE])


def test_rejects_no_derivers(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="allowed_deriver_arns"):
        KeyUsageAudit(stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[])


def test_rejects_a_retired_key_not_among_the_keys(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="retired_key_ids must be among key_ids"):
        KeyUsageAudit(
            stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[BATCH_ROLE], retired_key_ids=[KEY_2]
        )


def test_rejects_a_signing_key_without_signers(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="signing_key needs signer_arns"):
        KeyUsageAudit(
            stack,
            "Audit",
            key_ids=[KEY_1],
            allowed_deriver_arns=[BATCH_ROLE],
            signing_key=AuditedSigningKey(key_id=SIGNING_KEY, signer_arns=()),
        )


@pytest.mark.parametrize("days", [6, 31])
def test_rejects_a_minimum_deletion_window_kms_does_not_have(stack: cdk.Stack, days: int) -> None:
    with pytest.raises(ValueError, match=rf"minimum_deletion_window_days must be 7\.\.30 days, got {days}"):
        KeyUsageAudit(
            stack,
            "Audit",
            key_ids=[KEY_1],
            allowed_deriver_arns=[BATCH_ROLE],
            minimum_deletion_window_days=days,
        )


def test_rejects_an_empty_log_group_name(stack: cdk.Stack) -> None:
    with pytest.raises(ValueError, match="existing_log_group_name is empty"):
        KeyUsageAudit(
            stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[BATCH_ROLE], existing_log_group_name=" "
        )


def test_rejects_derivers_that_overflow_a_filter_pattern(stack: cdk.Stack) -> None:
    derivers = [f"arn:aws:iam::{ACCOUNT}:role/{'deriver-' + str(index):0>64}" for index in range(8)]
    with pytest.raises(
        ValueError, match=r"DeriveByUnallowedPrincipal filter pattern would be about \d+ characters"
    ):
        KeyUsageAudit(stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=derivers)


def test_token_derivers_are_counted_at_the_bound(stack: cdk.Stack) -> None:
    roles = [
        iam.Role(stack, f"Role{index}", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")).role_arn
        for index in range(7)
    ]
    with pytest.raises(ValueError, match="7 allowed derivers are too many"):
        KeyUsageAudit(stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=roles)


def test_token_callers_are_counted_at_the_bound(stack: cdk.Stack) -> None:
    callers = tuple(
        iam.Role(stack, f"Caller{index}", assumed_by=iam.AccountRootPrincipal()).role_arn
        for index in range(7)
    )
    function = AuditedFunction(FUNCTION_ARN, FUNCTION_NAME, BATCH_ROLE, "rekey", caller_arns=callers)
    with pytest.raises(
        ValueError, match=r"DeriveFunctionInvokedByUnallowedPrincipal filter .* 7 callers are too many"
    ):
        KeyUsageAudit(
            stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[BATCH_ROLE], derive_functions=[function]
        )


def test_without_functions_or_aliases_only_the_key_alarms_and_management_events(stack: cdk.Stack) -> None:
    audit = KeyUsageAudit(stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[BATCH_ROLE])
    template = Template.from_stack(stack).to_json()
    _, trail = only(template, "AWS::CloudTrail::Trail")
    assert trail["AdvancedEventSelectors"] == [MANAGEMENT_EVENTS_SELECTOR]
    assert sorted(audit.alarms) == sorted(KEY_METRICS)


def test_estimated_pattern_length_counts_tokens_at_the_bound(stack: cdk.Stack) -> None:
    role_arn = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")).role_arn
    assert estimated_pattern_length(f'"{role_arn}"') == 2 + TOKEN_LENGTH_BOUND
    assert estimated_pattern_length("x" * MAX_FILTER_PATTERN_LENGTH) == MAX_FILTER_PATTERN_LENGTH


# --- every environment of the app (cdk.json), from the session fixture ``synthesized_app`` ---

ENVIRONMENTS = tuple(load_context()["environments"])


def render_app(value: Any) -> str:
    """A pattern of the app: a value read from another stack becomes ``${output:<OutputName>}``, one of the
    audit stack's own ``${<LogicalId>}`` (Ref) or ``${<LogicalId>.<Attribute>}``."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(render_app(part) for part in parts)
    if "Fn::GetStackOutput" in value:
        return "${output:" + value["Fn::GetStackOutput"]["OutputName"] + "}"
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    if "Fn::ImportValue" in value:
        return "${output:" + render_app(value["Fn::ImportValue"]) + "}"
    raise AssertionError(f"unexpected intrinsic in a pattern: {value}")


def referenced_resources(synthesized_app: SynthesizedApp, environment: str, pattern: str) -> list[str]:
    """What the key-agreement stack's outputs a rendered pattern refers to are, in order:
    ``<resource type>:<logical id>`` for an ARN (GetAtt Arn), ``...:<logical id>:name`` for a name (Ref)."""
    key_stack = synthesized_app.stacks[environment]["KeyAgreement"].raw
    found = []
    for output_name in re.findall(r"\$\{output:([^}]+)\}", pattern):
        output = key_stack["Outputs"][output_name]["Value"]
        if "Ref" in output:
            logical_id, suffix = output["Ref"], ":name"
        else:
            logical_id, attribute = output["Fn::GetAtt"]
            assert attribute == "Arn"
            suffix = ""
        found.append(key_stack["Resources"][logical_id]["Type"] + ":" + logical_id + suffix)
    return found


def patterns_by_metric_raw(template: dict[str, Any], namespace: str) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = {}
    for properties in resources(template, "AWS::Logs::MetricFilter").values():
        (transformation,) = properties["MetricTransformations"]
        assert transformation["MetricNamespace"] == namespace
        found.setdefault(transformation["MetricName"], []).append(properties["FilterPattern"])
    return found


def audit_template(synthesized_app: SynthesizedApp, environment: str) -> dict[str, Any]:
    return synthesized_app.stacks[environment]["Audit"].raw


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_trail_follows_its_mode(synthesized_app: SynthesizedApp, environment: str) -> None:
    config = synthesized_app.environments[environment]
    template = audit_template(synthesized_app, environment)
    assert "ExcludeManagementEventSources" not in json.dumps(template)
    filters = resources(template, "AWS::Logs::MetricFilter").values()
    if config.trail_mode == "existing":
        assert resources(template, "AWS::CloudTrail::Trail") == {}
        assert resources(template, "AWS::S3::Bucket") == {}
        assert {json.dumps(f["LogGroupName"]) for f in filters} == {json.dumps(config.trail_log_group_name)}
        return
    _, trail = only(template, "AWS::CloudTrail::Trail")
    log_group_id, log_group = only(template, "AWS::Logs::LogGroup")
    key_id, _ = only_key_with_sid(template, "AllowCloudTrailEncryptLogs")
    assert trail["IsMultiRegionTrail"] is True
    assert trail["EnableLogFileValidation"] is True
    assert trail["IncludeGlobalServiceEvents"] is True
    assert "EventSelectors" not in trail
    management, invocations = trail["AdvancedEventSelectors"]
    assert management == MANAGEMENT_EVENTS_SELECTOR
    *data_fields, arn_field = invocations["FieldSelectors"]
    assert data_fields == [
        {"Field": "eventCategory", "Equals": ["Data"]},
        {"Field": "resources.type", "Equals": ["AWS::Lambda::Function"]},
    ]
    assert arn_field["Field"] == "resources.ARN"
    # the home Region's function, then each replica Region's (fixed names: test_replica_regions)
    function_arn, *replica_function_arns = arn_field["Equals"]
    assert len(replica_function_arns) == len(config.replica_regions)
    assert referenced_resources(synthesized_app, environment, render_app(function_arn)) == [
        derive_function_reference(synthesized_app, environment)
    ]
    assert trail["KMSKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert trail["CloudWatchLogsLogGroupArn"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert trail["CloudWatchLogsRoleArn"] == {"Fn::GetAtt": [trail_logs_role(template)[0], "Arn"]}
    assert log_group["RetentionInDays"] == config.log_retention_days
    assert log_group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert all(f["LogGroupName"] == {"Ref": log_group_id} for f in filters)
    deletion_policy = "Retain" if config.removal_policy == "retain" else "Delete"
    for bucket_id, bucket in buckets(template):
        assert template["Resources"][bucket_id]["DeletionPolicy"] == deletion_policy
        assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
        assert all(bucket["PublicAccessBlockConfiguration"].values())


def rendered_patterns(synthesized_app: SynthesizedApp, environment: str) -> dict[str, list[str]]:
    """Metric name -> the environment's patterns, rendered (``render_app``)."""
    return {
        metric: [render_app(p) for p in found]
        for metric, found in patterns_by_metric_raw(
            audit_template(synthesized_app, environment), f"kmsecdh/{environment}"
        ).items()
    }


def home_region_patterns(config: EnvironmentConfig, patterns: dict[str, list[str]]) -> dict[str, list[str]]:
    """The patterns, but those about a replica Region's function and role, which name them by their fixed
    names (tests/infra/test_replica_regions.py). Keys need no such split: a replica keeps its primary's key
    id, which the home Region's key patterns match in every Region."""
    replicas = [f"{config.resource_name_prefix}-derive-{region}" for region in config.replica_regions]
    return {
        metric: [
            pattern
            for pattern in found
            if metric not in FUNCTION_METRICS or not any(name in pattern for name in replicas)
        ]
        for metric, found in patterns.items()
    }


def derive_function_reference(synthesized_app: SynthesizedApp, environment: str) -> str:
    key_stack = synthesized_app.stacks[environment]["KeyAgreement"]
    [function_id] = [
        logical_id
        for logical_id, function in key_stack.resources("AWS::Lambda::Function").items()
        if function["Properties"].get("Handler") == "handler.handler"
    ]
    return f"AWS::Lambda::Function:{function_id}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_filters_watch_the_function_its_role_and_aliases(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    patterns = home_region_patterns(config, rendered_patterns(synthesized_app, environment))
    function = derive_function_reference(synthesized_app, environment)
    [invoked] = patterns["DeriveFunctionInvokedByUnallowedPrincipal"]
    assert referenced_resources(synthesized_app, environment, invoked) == [function]
    for caller in config.caller_arns:
        assert f'({ISSUER} != "{caller}")' in invoked
    [changed] = patterns["DeriveFunctionChanged"]
    assert referenced_resources(synthesized_app, environment, changed) == [
        f"{function}:name",
        f"{function}:name",
        function,
    ]
    [role_changed] = patterns["DeriveRoleChanged"]
    [role] = referenced_resources(synthesized_app, environment, role_changed)
    assert role.startswith("AWS::IAM::Role:")
    assert role.endswith(":name")
    [outside] = patterns["DeriveOutsideFunction"]
    assert referenced_resources(synthesized_app, environment, outside) == [
        role.removesuffix(":name"),
        role,
        f"{function}:name",
    ]
    [passed] = patterns["DeriveRolePassedToFunction"]
    assert referenced_resources(synthesized_app, environment, passed) == [role.removesuffix(":name")]
    # an environment-agnostic stack reads the partition and account at deploy time
    partition = "aws" if config.region else "${AWS::Partition}"
    account = config.account or "${AWS::AccountId}"
    assert f'($.userIdentity.arn != "arn:{partition}:sts::{account}:assumed-role/' in outside
    prefix = f"alias/kmsecdh-{environment}-"
    spec_aliases = {spec: prefix + spec.removeprefix("ECC_NIST_").lower() for spec in config.key_specs}
    generation_aliases = [
        f"{spec_aliases[spec]}-{generation.name}"
        for spec in config.key_specs
        for generation in config.generations(spec)
        if generation.name is not None
    ]
    aliases = [*spec_aliases.values(), *generation_aliases]
    assert sorted(patterns["KeyAliasChanged"]) == sorted(alias_pattern(alias) for alias in aliases)
    # a call denied on the key named by alias (or alias ARN) alarms too
    assert sorted(p for p in patterns["KeyAccessDenied"] if "${output:" not in p) == sorted(
        alias_access_denied_pattern(alias) for alias in aliases
    )
    for found in patterns.values():
        for pattern in found:
            # fits CloudWatch Logs' limit even if every name or ARN read from the key stack had 128 characters
            resolved = re.sub(r"\$\{[^}]+\}", "a" * 128, pattern)
            assert len(resolved) <= MAX_FILTER_PATTERN_LENGTH


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_filters_watch_every_key_and_spare_every_deriver(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    patterns = home_region_patterns(config, rendered_patterns(synthesized_app, environment))
    assert patterns["KeyDisabledOrDeletionScheduled"] == [CIS_PATTERN]
    generations = [generation for spec in config.key_specs for generation in config.generations(spec)]
    key_count = len(generations)
    for metric in (
        "KeyPolicyOrGrantChanged",
        "KeyReplicatedOrPrimaryRegionChanged",
        "DeriveByUnallowedPrincipal",
        "KeyAccessDenied",
        "RetiredOrDisabledKeyUsed",
    ):
        key_patterns = [p for p in patterns[metric] if "${output:" in p]
        assert len(key_patterns) == key_count, metric
        # each key by its key id (a Ref of the key, read from the key stack), in any Region's ARN
        watched = {referenced_resources(synthesized_app, environment, p)[0] for p in key_patterns}
        assert len(watched) == key_count
        assert all(reference.startswith("AWS::KMS::Key:") for reference in watched)
        assert all(reference.endswith(":name") for reference in watched)
        assert all('"*:key/${output:' in p for p in key_patterns)
    # a retired generation alarms on every derive, the others on a derive refused for the key's state
    retired = [p for p in patterns["RetiredOrDisabledKeyUsed"] if "$.errorCode" not in p]
    assert len(retired) == sum(generation.retired for generation in generations)
    for pattern in patterns["DeriveByUnallowedPrincipal"]:
        # the key's id, then the derive function's role; extra derivers are literal ARNs
        key, *roles = referenced_resources(synthesized_app, environment, pattern)
        assert key.startswith("AWS::KMS::Key:")
        assert len(roles) == 1
        assert roles[0].startswith("AWS::IAM::Role:")
        for extra in config.extra_deriver_arns:
            assert f'({ISSUER} != "{extra}")' in pattern
        # fits CloudWatch Logs' limit even if every ARN read from the key stack were 128 characters long
        assert len(re.sub(r"\$\{output:[^}]+\}", "a" * 128, pattern)) <= MAX_FILTER_PATTERN_LENGTH


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environment_alarms_publish_to_the_encrypted_topic(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    template = audit_template(synthesized_app, environment)
    topic_id, topic = only(template, "AWS::SNS::Topic")
    key_id, _ = only_key_with_sid(template, "AllowCloudWatchAlarms")
    assert topic["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    alarms = resources(template, "AWS::CloudWatch::Alarm").values()
    # the signing key's alarms where the environment has a public-key directory
    expected = set(ALL_METRICS) - (set() if config.directory_publisher_arns else set(SIGNING_KEY_METRICS))
    assert sorted(alarm["MetricName"] for alarm in alarms) == sorted(expected)
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}]
        expected_evaluation = (
            (1, 900, "breaching") if alarm["MetricName"] == "AuditHeartbeat" else (1, 300, "notBreaching")
        )
        assert (alarm["Threshold"], alarm["Period"], alarm["TreatMissingData"]) == expected_evaluation
        # per environment, so two environments in one account and Region never count each other's events
        assert alarm["Namespace"] == f"kmsecdh/{environment}"
        assert alarm["AlarmName"] == f"kmsecdh/{environment}-{alarm['MetricName']}"
    subscriptions = [s["Endpoint"] for s in resources(template, "AWS::SNS::Subscription").values()]
    assert subscriptions == ([config.alarm_email] if config.alarm_email else [])


def _aliased_keys(template: Template) -> dict[str, str]:
    """Alias name -> the logical id of the key it names."""
    return {
        alias["Properties"]["AliasName"]: alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
        for alias in template.find_resources("AWS::KMS::Alias").values()
    }


def test_the_audit_keys_get_aliases_under_the_prefix_the_guardrails_name(stack: cdk.Stack) -> None:
    audit = KeyUsageAudit(
        stack,
        "Audit",
        key_ids=[KEY_1],
        allowed_deriver_arns=[BATCH_ROLE],
        key_alias_prefix="alias/kmsecdh-x-",
    )
    template = Template.from_stack(stack)
    aliased = _aliased_keys(template)
    assert set(aliased) == {"alias/kmsecdh-x-audit-trail", "alias/kmsecdh-x-audit-alarm-topic"}
    keys = template.find_resources("AWS::KMS::Key")
    trail_key = template.find_resources("AWS::CloudTrail::Trail").popitem()[1]["Properties"]["KMSKeyId"]
    assert aliased["alias/kmsecdh-x-audit-trail"] == trail_key["Fn::GetAtt"][0]
    topic_key = template.find_resources("AWS::SNS::Topic").popitem()[1]["Properties"]["KmsMasterKeyId"]
    assert aliased["alias/kmsecdh-x-audit-alarm-topic"] == topic_key["Fn::GetAtt"][0]
    assert set(aliased.values()) <= set(keys)
    assert audit.trail is not None


def test_with_an_organisation_trail_only_the_topic_key_has_an_alias(stack: cdk.Stack) -> None:
    KeyUsageAudit(
        stack,
        "Audit",
        key_ids=[KEY_1],
        allowed_deriver_arns=[BATCH_ROLE],
        existing_log_group_name=ORGANISATION_LOG_GROUP,
        key_alias_prefix="alias/kmsecdh-x-",
    )
    assert set(_aliased_keys(Template.from_stack(stack))) == {"alias/kmsecdh-x-audit-alarm-topic"}


def test_without_a_prefix_the_audit_keys_have_no_alias(stack: cdk.Stack) -> None:
    KeyUsageAudit(stack, "Audit", key_ids=[KEY_1], allowed_deriver_arns=[BATCH_ROLE])
    Template.from_stack(stack).resource_count_is("AWS::KMS::Alias", 0)


def test_an_alias_prefix_kms_refuses_is_refused_at_construct_time(stack: cdk.Stack) -> None:
    with pytest.raises(RuntimeError, match="alias/aws"):
        KeyUsageAudit(
            stack,
            "Audit",
            key_ids=[KEY_1],
            allowed_deriver_arns=[BATCH_ROLE],
            key_alias_prefix="alias/aws/x-",
        )
