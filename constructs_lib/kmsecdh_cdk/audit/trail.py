"""The audit's own trail (create mode): a multi-Region trail, its key, its two buckets (Object Lock on the
trail bucket if asked), its encrypted CloudWatch Logs group, and the event selectors that record every
management event and the derive functions' Invoke data events.

Every resource is made in the audit construct's scope (``scope``), so its construct path and logical id do
not depend on this module.
"""

from __future__ import annotations

from aws_cdk import Duration, Names, RemovalPolicy, Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.audit.keys import audit_key
from kmsecdh_cdk.errors import KmsEcdhValidationError
from kmsecdh_cdk.iam_actions import (
    CLOUDTRAIL_BUCKET_ACL_CHECK_ACTION,
    CLOUDTRAIL_DESCRIBE_KEY_ACTION,
    CLOUDTRAIL_ENCRYPTION_ACTION,
    CLOUDTRAIL_LOG_DECRYPTION_ACTION,
    CLOUDTRAIL_LOG_DELIVERY_ACTION,
    TRAIL_BUCKET_PROTECTED_ACTIONS,
)

DEFAULT_BUCKET_RETENTION = Duration.days(365)
LAMBDA_FUNCTION_RESOURCE_TYPE = "AWS::Lambda::Function"


def create_trail(
    scope: Construct,
    *,
    log_retention: logs.RetentionDays,
    bucket_retention: Duration,
    object_lock: s3.ObjectLockRetention | None,
    removal_policy: RemovalPolicy,
    minimum_deletion_window_days: int,
) -> tuple[cloudtrail.Trail, logs.LogGroup, kms.Key]:
    """The trail, its log group and its key; the trail records management events only until
    ``record_events`` sets its selectors."""
    stack = Stack.of(scope)
    # Fixed names: the key policy must name the trail and the log group, which both refer to the key.
    trail_name = Names.unique_resource_name(scope, max_length=128, separator="-")
    trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
    log_group_name = f"/aws/cloudtrail/{trail_name}"
    # Confused-deputy guard on every statement for CloudTrail: only this trail of this account.
    from_this_trail = {"aws:SourceArn": trail_arn, "aws:SourceAccount": stack.account}
    trail_key = audit_key(
        scope,
        "TrailKey",
        "kmsecdh audit: encrypts the CloudTrail log files and the trail's CloudWatch Logs group",
        [
            iam.PolicyStatement(
                sid="AllowCloudTrailEncryptLogs",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=[CLOUDTRAIL_ENCRYPTION_ACTION],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        **from_this_trail,
                        "kms:EncryptionContext:aws:cloudtrail:arn": trail_arn,
                    }
                },
            ),
            iam.PolicyStatement(
                sid="AllowCloudTrailDescribeKey",
                principals=[iam.ServicePrincipal("cloudtrail.amazonaws.com")],
                actions=[CLOUDTRAIL_DESCRIBE_KEY_ACTION],
                resources=["*"],
                conditions={"StringEquals": from_this_trail},
            ),
            iam.PolicyStatement(
                # Delegated to IAM: a principal of the account whose IAM policy allows kms:Decrypt on
                # this key may read this trail's log files, and nothing else encrypted with it.
                sid="AllowTrailLogDecryptionThroughIam",
                principals=[iam.AccountRootPrincipal()],
                actions=[CLOUDTRAIL_LOG_DECRYPTION_ACTION],
                resources=["*"],
                conditions={"StringEquals": {"kms:EncryptionContext:aws:cloudtrail:arn": trail_arn}},
            ),
            key_policy.allow_cloudwatch_logs(scope, key_policy.log_group_arn(scope, log_group_name)),
        ],
        removal_policy=removal_policy,
        minimum_deletion_window_days=minimum_deletion_window_days,
    )
    access_log_bucket = _bucket(
        scope, "AccessLogBucket", bucket_retention, access_logs=None, removal_policy=removal_policy
    )
    trail_bucket = _bucket(
        scope,
        "TrailBucket",
        bucket_retention,
        access_logs=access_log_bucket,
        object_lock=object_lock,
        removal_policy=removal_policy,
    )
    _allow_cloudtrail_delivery(trail_bucket, from_this_trail)
    log_group = logs.LogGroup(
        scope,
        "TrailLogGroup",
        log_group_name=log_group_name,
        retention=log_retention,
        encryption_key=trail_key,
        removal_policy=removal_policy,
    )
    trail = cloudtrail.Trail(
        scope,
        "Trail",
        trail_name=trail_name,
        # A reference, not the bucket: CDK's Trail adds its own delivery statements, without
        # aws:SourceArn, to the policy of a bucket it is given, and nothing to a reference.
        bucket=s3.Bucket.from_bucket_attributes(
            scope,
            "TrailBucketReference",
            bucket_arn=trail_bucket.bucket_arn,
            bucket_name=trail_bucket.bucket_name,
        ),
        encryption_key=trail_key,
        is_multi_region_trail=True,
        include_global_service_events=True,
        enable_file_validation=True,
        send_to_cloud_watch_logs=True,
        cloud_watch_log_group=log_group,
    )
    # CloudTrail checks the bucket policy when the trail is created.
    trail.node.default_child.node.add_dependency(trail_bucket.policy)
    _acknowledge_trail_findings(trail, trail_bucket, access_log_bucket)
    return trail, log_group, trail_key


def record_events(trail: cloudtrail.Trail, function_arns: list[str]) -> None:
    """Every management event, and the functions' Invoke data events.

    The L2 Trail has no advanced event selectors, so they are set on its CfnTrail. Advanced selectors
    replace the basic ones, so management events get a selector of their own (read and write, no event
    source excluded). A Lambda data event names the unqualified function ARN as its resource, also for
    an invocation through an alias or version, so ``Equals`` on the ARNs records exactly those functions.
    """
    selector = cloudtrail.CfnTrail.AdvancedEventSelectorProperty
    field = cloudtrail.CfnTrail.AdvancedFieldSelectorProperty
    selectors = [
        selector(
            name="Management events",
            field_selectors=[field(field="eventCategory", equal_to=["Management"])],
        )
    ]
    if function_arns:
        selectors.append(
            selector(
                name="Derive function invocations",
                field_selectors=[
                    field(field="eventCategory", equal_to=["Data"]),
                    field(field="resources.type", equal_to=[LAMBDA_FUNCTION_RESOURCE_TYPE]),
                    field(field="resources.ARN", equal_to=function_arns),
                ],
            )
        )
    cfn_trail = trail.node.default_child
    assert isinstance(cfn_trail, cloudtrail.CfnTrail)
    cfn_trail.advanced_event_selectors = selectors
    # The L2 renders its (empty) basic selectors as []; CloudTrail takes one kind or the other.
    cfn_trail.add_property_deletion_override("EventSelectors")


def _allow_cloudtrail_delivery(bucket: s3.Bucket, from_this_trail: dict[str, str]) -> None:
    """The bucket-policy statements CloudTrail needs (its documented policy), for this trail only."""
    cloudtrail_principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudTrailAclCheck",
            principals=[cloudtrail_principal],
            actions=[CLOUDTRAIL_BUCKET_ACL_CHECK_ACTION],
            resources=[bucket.bucket_arn],
            conditions={"StringEquals": from_this_trail},
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowCloudTrailWrite",
            principals=[cloudtrail_principal],
            actions=[CLOUDTRAIL_LOG_DELIVERY_ACTION],
            resources=[bucket.arn_for_objects(f"AWSLogs/{Stack.of(bucket).account}/*")],
            conditions={"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control", **from_this_trail}},
        )
    )


def _bucket(
    scope: Construct,
    id: str,
    retention: Duration,
    *,
    access_logs: s3.Bucket | None,
    removal_policy: RemovalPolicy,
    object_lock: s3.ObjectLockRetention | None = None,
) -> s3.Bucket:
    """A versioned, TLS-only bucket whose retention settings change only through a deployment.

    The bucket policy denies changing the lifecycle, versioning, Object Lock, access logging or the policy
    itself, and bypassing governance retention, to every principal but the CloudFormation execution role,
    which applies the stack's own updates and deletion: the stack stays updatable. S3 always lets the
    account's root user replace or delete a bucket policy, so the root user remains the way out.
    """
    bucket = s3.Bucket(
        scope,
        id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        # S3-managed: CloudTrail encrypts each log file with the trail key itself, its digest files are
        # SSE-S3 by design, and S3 server access logs can only be delivered to an SSE-S3 bucket.
        encryption=s3.BucketEncryption.S3_MANAGED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix=f"{id}/" if access_logs else None,
        lifecycle_rules=[
            s3.LifecycleRule(
                id="Retention",
                expiration=retention,
                # An overwritten or deleted log file stays recoverable as long as a current one is kept.
                noncurrent_version_expiration=retention,
                abort_incomplete_multipart_upload_after=Duration.days(7),
            )
        ],
        # Enables Object Lock when given. S3 cannot lock a bucket that receives server access logs, so
        # only the trail bucket is ever locked.
        object_lock_default_retention=object_lock,
        removal_policy=removal_policy,
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="DenyRetentionChangesOutsideCloudFormation",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(TRAIL_BUCKET_PROTECTED_ACTIONS),
            resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
            conditions={
                "ArnNotEquals": {"aws:PrincipalArn": key_policy.cloudformation_execution_role_arn(scope)}
            },
        )
    )
    return bucket


def _acknowledge_trail_findings(
    trail: cloudtrail.Trail, trail_bucket: s3.Bucket, access_log_bucket: s3.Bucket
) -> None:
    """Acknowledge, on the narrowest construct, the cdk-nag findings this design causes on purpose."""
    logs_role_policy = trail.node.find_child("LogsRole").node.find_child("DefaultPolicy")
    skip_checkov(
        access_log_bucket,
        "CKV_AWS_18",
        "This bucket receives the trail bucket's S3 server access logs; logging its own access would "
        "write a log object for every log object delivered, without end.",
    )
    for pack in COMPLIANCE_PACKS:
        for bucket in (trail_bucket, access_log_bucket):
            acknowledge(
                bucket,
                f"{pack}-S3DefaultEncryptionKMS",
                "CloudTrail encrypts every log file with the trail's KMS key (KMSKeyId); its digest "
                "files are SSE-S3 by CloudTrail's design and S3 server access logs can only be delivered "
                "to an SSE-S3 bucket, so the bucket default stays S3-managed.",
            )
        acknowledge(
            trail_bucket,
            f"{pack}-S3BucketReplicationEnabled",
            "Tampering is caught by log file validation (signed digest files) and versioning keeps "
            "overwritten objects; a replica needs a bucket in a second Region this stack does not own. "
            "Central, replicated copies belong to an organisation trail (trail mode existing).",
        )
        acknowledge(
            access_log_bucket,
            f"{pack}-S3BucketReplicationEnabled",
            "Holds the S3 server access logs of the trail bucket only; the evidence itself is in the "
            "trail bucket, whose integrity log file validation proves.",
        )
        acknowledge(
            logs_role_policy,
            f"{pack}-IAMNoInlinePolicy",
            "The policy CDK's Trail gives the role CloudTrail assumes to deliver to CloudWatch Logs: "
            "logs:CreateLogStream and logs:PutLogEvents on this trail's log group only, deleted with it.",
        )


def check_object_lock(
    scope: Construct,
    object_lock: s3.ObjectLockRetention | None,
    bucket_retention: Duration,
    existing_log_group_name: str | None,
) -> None:
    if object_lock is None:
        return
    if existing_log_group_name is not None:
        raise KmsEcdhValidationError(
            scope,
            "object_lock applies to the trail bucket this construct creates, not to an organisation trail's",
        )
    lock_days, retention_days = object_lock.duration.to_days(), bucket_retention.to_days()
    if retention_days < lock_days:
        raise KmsEcdhValidationError(
            scope,
            f"bucket_retention ({retention_days} days) is shorter than object_lock ({lock_days} days): the "
            "lifecycle would try to expire log files that are still locked",
        )
