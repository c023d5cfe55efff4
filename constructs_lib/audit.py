"""CloudTrail auditing of the key-agreement keys: a trail (or an organisation trail's log group) and alarms.

Two trail modes:

* create (``existing_log_group_name=None``): a multi-Region trail with log file validation, management
  events read and write with no event source excluded (KMS events included), log files encrypted with a
  dedicated rotating KMS key, an S3 bucket (public access blocked, TLS only, versioned, access-logged to a
  second bucket, expiring after ``bucket_retention``) and delivery to an encrypted CloudWatch Logs group.
* existing: the log group of an organisation trail, by name; no trail is created.

On that log group, metric filters (namespace ``kmsecdh``) feed one alarm per kind of event, each firing on
one or more matching events in five minutes and publishing to a KMS-encrypted SNS topic:

* ``KeyDisabledOrDeletionScheduled``: DisableKey / ScheduleKeyDeletion on any key of the account (CIS 4.7)
* ``KeyPolicyOrGrantChanged``: PutKeyPolicy / CreateGrant on one of ``key_arns``
* ``DeriveByUnallowedPrincipal``: DeriveSharedSecret on one of ``key_arns`` by a principal not in
  ``allowed_deriver_arns``
* ``KeyAccessDenied``: an AccessDenied* error of a KMS call on one of ``key_arns``

Who called: for a Lambda function (or any role session) CloudTrail records ``userIdentity.type =
AssumedRole``, ``userIdentity.arn = arn:aws:sts::<account>:assumed-role/<role name>/<function name>`` and the
role itself, path included, as ``userIdentity.sessionContext.sessionIssuer.arn``; that role ARN is what the
key policy's ``aws:PrincipalArn`` sees, so role derivers are matched there. IAM users and the account root
have no session issuer; they are matched on ``userIdentity.arn``.

The key-scoped filters get one metric filter per key (all feeding the same metric) so a pattern never grows
with the number of keys; CloudWatch Logs refuses patterns over 1024 characters, and a deriver list that
could exceed it is rejected at construct time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from constructs_lib import key_policy
from constructs_lib.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from constructs_lib.iam_actions import (
    ALARM_TOPIC_ENCRYPTION_ACTIONS,
    CLOUDTRAIL_BUCKET_ACL_CHECK_ACTION,
    CLOUDTRAIL_DESCRIBE_KEY_ACTION,
    CLOUDTRAIL_ENCRYPTION_ACTION,
    CLOUDTRAIL_LOG_DECRYPTION_ACTION,
    CLOUDTRAIL_LOG_DELIVERY_ACTION,
)

METRIC_NAMESPACE = "kmsecdh"
MAX_FILTER_PATTERN_LENGTH = 1024
# An unresolved ARN token is counted at this length when checking the pattern limit: a KMS key ARN
# (36-character key id) or a CloudFormation-made role ARN (root path, name of at most 64 characters) in any
# partition and Region fits.
TOKEN_LENGTH_BOUND = 128
ALARM_PERIOD = Duration.minutes(5)
DEFAULT_BUCKET_RETENTION = Duration.days(365)

_TOKEN = re.compile(r"\$\{Token\[[^\]]+\]\}")
_KMS_EVENT_SOURCE = '($.eventSource = "kms.amazonaws.com")'
_SESSION_ISSUER = "$.userIdentity.sessionContext.sessionIssuer.arn"


@dataclass(frozen=True)
class AuditedEvent:
    """One alarm: its metric, what it is about, and whether it has one filter per key."""

    metric_name: str
    description: str
    per_key: bool


KEY_DISABLED_OR_DELETION_SCHEDULED = AuditedEvent(
    "KeyDisabledOrDeletionScheduled",
    "A KMS key of the account was disabled or scheduled for deletion (CIS 4.7).",
    per_key=False,
)
KEY_POLICY_OR_GRANT_CHANGED = AuditedEvent(
    "KeyPolicyOrGrantChanged",
    "The key policy of a kmsecdh key was replaced (PutKeyPolicy) or a grant was created on it (CreateGrant).",
    per_key=True,
)
DERIVE_BY_UNALLOWED_PRINCIPAL = AuditedEvent(
    "DeriveByUnallowedPrincipal",
    "DeriveSharedSecret was called on a kmsecdh key by a principal that is not an allowed deriver.",
    per_key=True,
)
KEY_ACCESS_DENIED = AuditedEvent(
    "KeyAccessDenied",
    "A KMS call on a kmsecdh key was denied (errorCode AccessDenied*).",
    per_key=True,
)
AUDITED_EVENTS: tuple[AuditedEvent, ...] = (
    KEY_DISABLED_OR_DELETION_SCHEDULED,
    KEY_POLICY_OR_GRANT_CHANGED,
    DERIVE_BY_UNALLOWED_PRINCIPAL,
    KEY_ACCESS_DENIED,
)


def key_disabled_or_deletion_scheduled_pattern() -> str:
    """The CIS AWS Foundations Benchmark pattern, verbatim: any key of the account."""
    return (
        "{($.eventSource = kms.amazonaws.com) && "
        "(($.eventName=DisableKey)||($.eventName=ScheduleKeyDeletion))}"
    )


def key_policy_or_grant_changed_pattern(key_arn: str) -> str:
    return (
        f"{{ {_KMS_EVENT_SOURCE} && "
        '(($.eventName = "PutKeyPolicy") || ($.eventName = "CreateGrant")) && '
        f'($.resources[0].ARN = "{key_arn}") }}'
    )


def derive_by_unallowed_principal_pattern(key_arn: str, allowed_deriver_arns: Sequence[str]) -> str:
    """DeriveSharedSecret on ``key_arn`` by anyone but ``allowed_deriver_arns``.

    Role ARNs (and unresolved tokens, which are the roles CDK makes) are compared with the session issuer;
    other principals (users, the account root) with ``userIdentity.arn``. A caller without a session
    issuer always passes the role test, so only the ``userIdentity.arn`` comparisons decide for it.
    """
    roles = [arn for arn in allowed_deriver_arns if _is_role(arn)]
    others = [arn for arn in allowed_deriver_arns if not _is_role(arn)]
    caller_conditions = [f'($.userIdentity.arn != "{arn}")' for arn in others]
    if roles:
        role_checks = " && ".join(f'({_SESSION_ISSUER} != "{arn}")' for arn in roles)
        caller_conditions.append(f"(({_SESSION_ISSUER} NOT EXISTS) || ({role_checks}))")
    conditions = [
        _KMS_EVENT_SOURCE,
        '($.eventName = "DeriveSharedSecret")',
        f'($.resources[0].ARN = "{key_arn}")',
        *caller_conditions,
    ]
    return "{ " + " && ".join(conditions) + " }"


def key_access_denied_pattern(key_arn: str) -> str:
    """A denied KMS call naming the key: in the event's resources, or by key ARN in the request."""
    return (
        f"{{ {_KMS_EVENT_SOURCE} && "
        '($.errorCode = "AccessDenied*") && '
        f'(($.resources[0].ARN = "{key_arn}") || ($.requestParameters.keyId = "{key_arn}")) }}'
    )


def estimated_pattern_length(pattern: str) -> int:
    """The pattern's length once deployed, counting each unresolved token at ``TOKEN_LENGTH_BOUND``."""
    tokens = _TOKEN.findall(pattern)
    return len(_TOKEN.sub("", pattern)) + TOKEN_LENGTH_BOUND * len(tokens)


def _is_role(arn: str) -> bool:
    return Token.is_unresolved(arn) or ":role/" in arn


class KeyUsageAudit(Construct):
    """A trail (or an organisation trail's log group), metric filters and alarms on the project's keys.

    :param key_arns: the key-agreement keys to watch (tokens allowed).
    :param allowed_deriver_arns: every principal the key policies allow to derive (roles or users).
    :param existing_log_group_name: the CloudWatch Logs group an organisation trail delivers to; default
        None creates a trail of this account.
    :param alarm_email: subscribed to the alarm topic when given (the address must confirm); default none.
    :param log_retention: of the trail's log group (create mode); default one year.
    :param bucket_retention: how long log files (and the bucket access logs) are kept; default 365 days.
    :param removal_policy: of the trail's buckets, log group and keys, and of the topic key; default RETAIN.
    :param metric_namespace: of the metrics and alarms; default ``kmsecdh``. Give each audit in one account
        and Region its own, or one's alarms would count the other's events.

    Attributes: ``trail`` (None in existing mode), ``log_group``, ``topic``, ``alarms`` (metric name ->
    alarm) and ``metric_filters`` (metric name -> its filters).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key_arns: Sequence[str],
        allowed_deriver_arns: Sequence[str],
        existing_log_group_name: str | None = None,
        alarm_email: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        bucket_retention: Duration = DEFAULT_BUCKET_RETENTION,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        metric_namespace: str = METRIC_NAMESPACE,
    ) -> None:
        super().__init__(scope, id)
        self.metric_namespace = metric_namespace
        key_arns = list(key_arns)
        allowed_deriver_arns = list(allowed_deriver_arns)
        if not key_arns:
            raise ValueError("KeyUsageAudit needs at least one key ARN in key_arns")
        if not allowed_deriver_arns:
            raise ValueError("KeyUsageAudit needs allowed_deriver_arns: every DeriveSharedSecret would alarm")
        if existing_log_group_name is not None and not existing_log_group_name.strip():
            raise ValueError("existing_log_group_name is empty; pass None to create a trail")
        patterns = self._patterns(key_arns, allowed_deriver_arns)

        self._removal_policy = removal_policy
        self.trail: cloudtrail.Trail | None = None
        if existing_log_group_name is None:
            self.trail, self.log_group = self._create_trail(log_retention, bucket_retention)
        else:
            self.log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", existing_log_group_name)

        self.topic = self._alarm_topic(alarm_email)
        self.metric_filters: dict[str, list[logs.MetricFilter]] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for event, event_patterns in patterns.items():
            self.metric_filters[event.metric_name] = [
                logs.MetricFilter(
                    self,
                    f"{event.metric_name}Filter{index}" if event.per_key else f"{event.metric_name}Filter",
                    log_group=self.log_group,
                    filter_pattern=logs.FilterPattern.literal(pattern),
                    metric_namespace=self.metric_namespace,
                    metric_name=event.metric_name,
                    metric_value="1",
                )
                for index, pattern in enumerate(event_patterns)
            ]
            self.alarms[event.metric_name] = self._alarm(event)

    @staticmethod
    def _patterns(key_arns: list[str], allowed_deriver_arns: list[str]) -> dict[AuditedEvent, list[str]]:
        patterns = {
            KEY_DISABLED_OR_DELETION_SCHEDULED: [key_disabled_or_deletion_scheduled_pattern()],
            KEY_POLICY_OR_GRANT_CHANGED: [key_policy_or_grant_changed_pattern(arn) for arn in key_arns],
            DERIVE_BY_UNALLOWED_PRINCIPAL: [
                derive_by_unallowed_principal_pattern(arn, allowed_deriver_arns) for arn in key_arns
            ],
            KEY_ACCESS_DENIED: [key_access_denied_pattern(arn) for arn in key_arns],
        }
        for event, event_patterns in patterns.items():
            for pattern in event_patterns:
                length = estimated_pattern_length(pattern)
                if length > MAX_FILTER_PATTERN_LENGTH:
                    raise ValueError(
                        f"the {event.metric_name} filter pattern would be about {length} characters, over "
                        f"CloudWatch Logs' limit of {MAX_FILTER_PATTERN_LENGTH}: "
                        f"{len(allowed_deriver_arns)} allowed derivers are too many for one pattern"
                    )
        return patterns

    def _alarm(self, event: AuditedEvent) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{event.metric_name}Alarm",
            alarm_description=event.description,
            metric=cloudwatch.Metric(
                namespace=self.metric_namespace,
                metric_name=event.metric_name,
                statistic=cloudwatch.Stats.SUM,
                period=ALARM_PERIOD,
            ),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No matching event in a period means no data point, which is the normal, quiet state.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def _create_trail(
        self, log_retention: logs.RetentionDays, bucket_retention: Duration
    ) -> tuple[cloudtrail.Trail, logs.LogGroup]:
        stack = Stack.of(self)
        # Fixed names: the key policy must name the trail and the log group, which both refer to the key.
        trail_name = Names.unique_resource_name(self, max_length=128, separator="-")
        trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
        log_group_name = f"/aws/cloudtrail/{trail_name}"
        # Confused-deputy guard on every statement for CloudTrail: only this trail of this account.
        from_this_trail = {"aws:SourceArn": trail_arn, "aws:SourceAccount": stack.account}
        trail_key = self._symmetric_key(
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
                key_policy.allow_cloudwatch_logs(self, key_policy.log_group_arn(self, log_group_name)),
            ],
        )
        access_log_bucket = self._bucket("AccessLogBucket", bucket_retention, access_logs=None)
        trail_bucket = self._bucket("TrailBucket", bucket_retention, access_logs=access_log_bucket)
        self._allow_cloudtrail_delivery(trail_bucket, from_this_trail)
        log_group = logs.LogGroup(
            self,
            "TrailLogGroup",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=trail_key,
            removal_policy=self._removal_policy,
        )
        trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            # A reference, not the bucket: CDK's Trail adds its own delivery statements, without
            # aws:SourceArn, to the policy of a bucket it is given, and nothing to a reference.
            bucket=s3.Bucket.from_bucket_attributes(
                self,
                "TrailBucketReference",
                bucket_arn=trail_bucket.bucket_arn,
                bucket_name=trail_bucket.bucket_name,
            ),
            encryption_key=trail_key,
            is_multi_region_trail=True,
            include_global_service_events=True,
            enable_file_validation=True,
            management_events=cloudtrail.ReadWriteType.ALL,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=log_group,
        )
        # CloudTrail checks the bucket policy when the trail is created.
        trail.node.default_child.node.add_dependency(trail_bucket.policy)
        self._acknowledge_trail_findings(trail, trail_bucket, access_log_bucket)
        return trail, log_group

    @staticmethod
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

    def _bucket(self, id: str, retention: Duration, *, access_logs: s3.Bucket | None) -> s3.Bucket:
        return s3.Bucket(
            self,
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
            removal_policy=self._removal_policy,
        )

    def _alarm_topic(self, alarm_email: str | None) -> sns.Topic:
        stack = Stack.of(self)
        cloudwatch_principal = iam.ServicePrincipal("cloudwatch.amazonaws.com")
        # Confused-deputy guard, on the topic key and the topic policy alike: alarms of this account only.
        from_this_account_alarms = {
            "StringEquals": {"aws:SourceAccount": stack.account},
            "ArnLike": {
                "aws:SourceArn": stack.format_arn(
                    service="cloudwatch",
                    resource="alarm",
                    resource_name="*",
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            },
        }
        topic_key = self._symmetric_key(
            "AlarmTopicKey",
            "kmsecdh audit: encrypts the alarm topic",
            [
                iam.PolicyStatement(
                    sid="AllowCloudWatchAlarms",
                    principals=[cloudwatch_principal],
                    actions=list(ALARM_TOPIC_ENCRYPTION_ACTIONS),
                    resources=["*"],
                    conditions=from_this_account_alarms,
                )
            ],
        )
        topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name="kmsecdh key usage alarms",
            master_key=topic_key,
            enforce_ssl=True,
        )
        topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[cloudwatch_principal],
                actions=["sns:Publish"],
                resources=[topic.topic_arn],
                conditions=from_this_account_alarms,
            )
        )
        if alarm_email is not None:
            subscription = topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
            acknowledge(
                subscription,
                "Serverless-SNSRedrivePolicy",
                "An e-mail subscription for people: an alarm whose e-mail is not delivered stays visible in "
                "CloudWatch (alarm state and history), so a dead-letter queue would hold nothing to act on.",
            )
        return topic

    def _symmetric_key(
        self, id: str, description: str, service_statements: Sequence[iam.PolicyStatement]
    ) -> kms.Key:
        """A rotating symmetric key: account-root administration (no cryptographic use), the lockout-bypass
        guard, plus the services."""
        return key_policy.symmetric_service_key(
            self,
            id,
            description=description,
            removal_policy=self._removal_policy,
            service_statements=service_statements,
        )

    @staticmethod
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
