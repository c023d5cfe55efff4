"""The created trail's buckets: S3 Object Lock per environment, a lifecycle never shorter than what it must
keep, and bucket policies that leave retention changes to the CloudFormation execution role alone."""

from __future__ import annotations

import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Template

from kmsecdh_cdk.audit import KeyUsageAudit
from tests.infra.conftest import SynthesizedApp, SynthesizedStack
from tests.infra.test_key_agreement_stack import execution_role

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
DERIVER = "arn:aws:iam::111111111111:role/deriver"
PROTECTED_ACTIONS = sorted(
    [
        "s3:BypassGovernanceRetention",
        "s3:DeleteBucketPolicy",
        "s3:PutBucketLogging",
        "s3:PutBucketObjectLockConfiguration",
        "s3:PutBucketPolicy",
        "s3:PutBucketVersioning",
        "s3:PutLifecycleConfiguration",
    ]
)


def buckets(stack: SynthesizedStack) -> dict[str, dict[str, Any]]:
    """Logical id prefix (TrailBucket, AccessLogBucket) -> the bucket's properties."""
    found = {}
    for logical_id, bucket in stack.resources("AWS::S3::Bucket").items():
        for name in ("TrailBucket", "AccessLogBucket"):
            if logical_id.startswith(f"KeyUsageAudit{name}"):
                found[name] = bucket["Properties"]
    return found


def bucket_policy(stack: SynthesizedStack, prefix: str) -> list[dict[str, Any]]:
    [policy] = [
        policy["Properties"]
        for policy in stack.resources("AWS::S3::BucketPolicy").values()
        if policy["Properties"]["Bucket"]["Ref"].startswith(f"KeyUsageAudit{prefix}")
    ]
    return policy["PolicyDocument"]["Statement"]


def test_prods_log_files_are_locked_in_compliance_mode_as_long_as_its_log_group_keeps_them(
    synthesized_app: SynthesizedApp,
) -> None:
    config = synthesized_app.environments["prod"]
    found = buckets(synthesized_app.stacks["prod"]["Audit"])
    trail = found["TrailBucket"]
    assert trail["ObjectLockEnabled"] is True
    assert trail["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": config.trail_object_lock_days}},
    }
    assert trail["VersioningConfiguration"] == {"Status": "Enabled"}
    for properties in found.values():
        [rule] = properties["LifecycleConfiguration"]["Rules"]
        assert rule["ExpirationInDays"] == config.trail_bucket_retention_days >= config.log_retention_days
        assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == config.trail_bucket_retention_days
    # S3 refuses Object Lock on a bucket that receives server access logs
    assert "ObjectLockEnabled" not in found["AccessLogBucket"]
    assert "ObjectLockConfiguration" not in found["AccessLogBucket"]


def test_devs_trail_bucket_has_no_object_lock(synthesized_app: SynthesizedApp) -> None:
    assert synthesized_app.environments["dev"].trail_object_lock_mode is None
    for properties in buckets(synthesized_app.stacks["dev"]["Audit"]).values():
        assert "ObjectLockConfiguration" not in properties
        assert "ObjectLockEnabled" not in properties


@pytest.mark.parametrize("environment", ["dev", "prod"])
@pytest.mark.parametrize("bucket", ["TrailBucket", "AccessLogBucket"])
def test_only_the_execution_role_changes_what_the_buckets_keep(
    synthesized_app: SynthesizedApp, environment: str, bucket: str
) -> None:
    """CloudFormation updates and deletes the stack with the execution role, so the stack stays updatable."""
    stack = synthesized_app.stacks[environment]["Audit"]
    [deny] = [
        statement
        for statement in bucket_policy(stack, bucket)
        if statement.get("Sid") == "DenyRetentionChangesOutsideCloudFormation"
    ]
    bucket_id = next(logical_id for logical_id in stack.resources("AWS::S3::Bucket") if bucket in logical_id)
    bucket_arn = {"Fn::GetAtt": [bucket_id, "Arn"]}
    assert deny == {
        "Sid": "DenyRetentionChangesOutsideCloudFormation",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": PROTECTED_ACTIONS,
        "Resource": [bucket_arn, {"Fn::Join": ["", [bucket_arn, "/*"]]}],
        "Condition": {
            "ArnNotEquals": {"aws:PrincipalArn": execution_role(synthesized_app.environments[environment])}
        },
    }


def audit_stack(**settings: Any) -> Template:
    app = cdk.App()
    stack = cdk.Stack(app, "Audit", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    KeyUsageAudit(stack, "KeyUsageAudit", key_ids=[KEY_ID], allowed_deriver_arns=[DERIVER], **settings)
    return Template.from_stack(stack)


def test_governance_mode_locks_for_the_given_days() -> None:
    template = audit_stack(
        object_lock=s3.ObjectLockRetention.governance(cdk.Duration.days(30)),
        bucket_retention=cdk.Duration.days(90),
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "ObjectLockEnabled": True,
            "ObjectLockConfiguration": {
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}},
            },
        },
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {
                "object_lock": s3.ObjectLockRetention.compliance(cdk.Duration.days(731)),
                "bucket_retention": cdk.Duration.days(365),
            },
            "bucket_retention (365 days) is shorter than object_lock (731 days)",
        ),
        (
            {
                "object_lock": s3.ObjectLockRetention.compliance(cdk.Duration.days(30)),
                "existing_log_group_name": "aws-controltower/CloudTrailLogs",
            },
            "object_lock applies to the trail bucket this construct creates",
        ),
    ],
)
def test_an_object_lock_the_bucket_cannot_honour_is_refused(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        audit_stack(**settings)
