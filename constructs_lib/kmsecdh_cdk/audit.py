"""CloudTrail auditing of the key-agreement keys and the derive function: a trail (or an organisation
trail's log group) and alarms.

Two trail modes:

* create (``existing_log_group_name=None``): a multi-Region trail with log file validation, every management
  event (read and write, no event source excluded, so KMS and the global IAM events are in) and the Lambda
  ``Invoke`` data events of the derive functions only (advanced event selectors on their ARNs, so data
  event charges stay with those invocations), log files encrypted with a dedicated rotating KMS key, an S3
  bucket (public access blocked, TLS only, versioned, access-logged to a second bucket, expiring after
  ``bucket_retention``) and delivery to an encrypted CloudWatch Logs group.
* existing: the log group of an organisation trail, by name; no trail is created. That trail must record
  what the filters below read, the derive functions' ``Invoke`` data events included: nothing here can
  check it.

On that log group, metric filters (patterns in ``kmsecdh_cdk.audit_patterns``) feed one alarm per kind of
event, each firing on one or more matching events in five minutes and publishing to a KMS-encrypted SNS
topic:

* ``KeyDisabledOrDeletionScheduled``: DisableKey / ScheduleKeyDeletion on any key of the account (CIS 4.7)
* ``KeyPolicyOrGrantChanged``: PutKeyPolicy / CreateGrant on one of ``key_arns``
* ``DeriveByUnallowedPrincipal``: DeriveSharedSecret on one of ``key_arns`` by a principal not in
  ``allowed_deriver_arns``
* ``KeyAccessDenied``: an AccessDenied* error of a KMS call on one of ``key_arns``
* ``KeyAliasChanged``: CreateAlias / UpdateAlias / DeleteAlias of one of ``alias_names``
* ``RetiredOrDisabledKeyUsed``: DeriveSharedSecret refused on one of ``key_arns`` because it is disabled or
  pending deletion, or any DeriveSharedSecret on one of ``retired_key_arns``

and for each of ``derive_functions``:

* ``DeriveFunctionInvokedByUnallowedPrincipal``: Invoke by a principal not in its ``caller_arns``
* ``DeriveFunctionChanged``: its code, configuration, permissions, URL, concurrency changed, or deleted
* ``DeriveRoleChanged``: its role's policies, permissions boundary or trust policy changed, or role deleted
* ``DeriveOutsideFunction``: DeriveSharedSecret with its role's credentials outside the function's session

Filters for keys, aliases and functions come one per resource (all feeding the same metric) so a pattern
never grows with their number; CloudWatch Logs refuses patterns over 1024 characters, and a list of
principals that could exceed it is rejected at construct time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import ArnFormat, Duration, Names, RemovalPolicy, Stack
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

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.audit_patterns import (
    MAX_FILTER_PATTERN_LENGTH,
    alias_changed_pattern,
    derive_by_unallowed_principal_pattern,
    derive_on_unusable_key_pattern,
    derive_outside_function_pattern,
    estimated_pattern_length,
    function_changed_pattern,
    function_invoked_by_unallowed_principal_pattern,
    key_access_denied_pattern,
    key_disabled_or_deletion_scheduled_pattern,
    key_policy_or_grant_changed_pattern,
    retired_key_used_pattern,
    role_changed_pattern,
)
from kmsecdh_cdk.iam_actions import (
    ALARM_TOPIC_ENCRYPTION_ACTIONS,
    CLOUDTRAIL_BUCKET_ACL_CHECK_ACTION,
    CLOUDTRAIL_DESCRIBE_KEY_ACTION,
    CLOUDTRAIL_ENCRYPTION_ACTION,
    CLOUDTRAIL_LOG_DECRYPTION_ACTION,
    CLOUDTRAIL_LOG_DELIVERY_ACTION,
    TRAIL_BUCKET_PROTECTED_ACTIONS,
)
from kmsecdh_cdk.notifications import warn_when_unsubscribed

METRIC_NAMESPACE = "kmsecdh"
ALARM_PERIOD = Duration.minutes(5)
DEFAULT_BUCKET_RETENTION = Duration.days(365)
LAMBDA_FUNCTION_RESOURCE_TYPE = "AWS::Lambda::Function"


@dataclass(frozen=True)
class AuditedEvent:
    """One alarm: its metric, what it is about, and whether it has one filter per key, alias or function."""

    metric_name: str
    description: str
    per_resource: bool


KEY_DISABLED_OR_DELETION_SCHEDULED = AuditedEvent(
    "KeyDisabledOrDeletionScheduled",
    "A KMS key of the account was disabled or scheduled for deletion (CIS 4.7).",
    per_resource=False,
)
KEY_POLICY_OR_GRANT_CHANGED = AuditedEvent(
    "KeyPolicyOrGrantChanged",
    "The key policy of a kmsecdh key was replaced (PutKeyPolicy) or a grant was created on it (CreateGrant).",
    per_resource=True,
)
DERIVE_BY_UNALLOWED_PRINCIPAL = AuditedEvent(
    "DeriveByUnallowedPrincipal",
    "DeriveSharedSecret was called on a kmsecdh key by a principal that is not an allowed deriver.",
    per_resource=True,
)
KEY_ACCESS_DENIED = AuditedEvent(
    "KeyAccessDenied",
    "A KMS call on a kmsecdh key was denied (errorCode AccessDenied*).",
    per_resource=True,
)
KEY_ALIAS_CHANGED = AuditedEvent(
    "KeyAliasChanged",
    "An alias of a kmsecdh key was created, updated or deleted (CreateAlias/UpdateAlias/DeleteAlias).",
    per_resource=True,
)
RETIRED_OR_DISABLED_KEY_USED = AuditedEvent(
    "RetiredOrDisabledKeyUsed",
    "DeriveSharedSecret was called on a retired generation of a kmsecdh key, or refused because the key is "
    "disabled or pending deletion: a peer or application still uses a key taken out of service.",
    per_resource=True,
)
FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL = AuditedEvent(
    "DeriveFunctionInvokedByUnallowedPrincipal",
    "The kmsecdh derive function was invoked by a principal that is not a configured caller.",
    per_resource=True,
)
FUNCTION_CHANGED = AuditedEvent(
    "DeriveFunctionChanged",
    "The kmsecdh derive function's code, configuration, permissions, URL or concurrency was changed, or the "
    "function was deleted.",
    per_resource=True,
)
ROLE_CHANGED = AuditedEvent(
    "DeriveRoleChanged",
    "The kmsecdh derive function's role had its policies, permissions boundary or trust policy changed, or "
    "was deleted.",
    per_resource=True,
)
DERIVE_OUTSIDE_FUNCTION = AuditedEvent(
    "DeriveOutsideFunction",
    "DeriveSharedSecret was called with the derive function's role from a session other than the function's.",
    per_resource=True,
)
AUDITED_EVENTS: tuple[AuditedEvent, ...] = (
    KEY_DISABLED_OR_DELETION_SCHEDULED,
    KEY_POLICY_OR_GRANT_CHANGED,
    DERIVE_BY_UNALLOWED_PRINCIPAL,
    KEY_ACCESS_DENIED,
    KEY_ALIAS_CHANGED,
    RETIRED_OR_DISABLED_KEY_USED,
    FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL,
    FUNCTION_CHANGED,
    ROLE_CHANGED,
    DERIVE_OUTSIDE_FUNCTION,
)


@dataclass(frozen=True)
class AuditedFunction:
    """A derive function the audit watches; every field may be a token (e.g. read from another stack).

    :param function_arn: the unqualified function ARN.
    :param function_name: its name, which is also the session name of its role in CloudTrail.
    :param role_arn: its execution role.
    :param role_name: that role's name (IAM events name roles by name).
    :param caller_arns: the principals allowed to invoke it (roles or users); empty means nobody.
    """

    function_arn: str
    function_name: str
    role_arn: str
    role_name: str
    caller_arns: tuple[str, ...] = ()


class KeyUsageAudit(Construct):
    """A trail (or an organisation trail's log group), metric filters and alarms on the project's keys.

    :param key_arns: the key-agreement keys to watch (tokens allowed), retired generations included.
    :param retired_key_arns: those of ``key_arns`` that are retired generations (disabled by their stack):
        every derive on them alarms; default none.
    :param allowed_deriver_arns: every principal the key policies allow to derive (roles or users).
    :param alias_names: the keys' aliases (``alias/...``) whose creation, update or deletion alarms; default
        none.
    :param derive_functions: the derive functions whose invocations are recorded (create mode) and whose
        invocation by others, changes, role changes and derives outside their session alarm; default none.
    :param existing_log_group_name: the CloudWatch Logs group an organisation trail delivers to; default
        None creates a trail of this account. That trail must record the ``derive_functions``' Invoke data
        events and IAM's global events, which this construct cannot check.
    :param alarm_email: subscribed to the alarm topic when given (the address must confirm); default none.
    :param log_retention: of the trail's log group (create mode); default one year.
    :param bucket_retention: how long log files (and the bucket access logs) are kept; default 365 days.
    :param object_lock: S3 Object Lock default retention of the trail bucket's log files (create mode);
        default none. ``bucket_retention`` must not be shorter. Compliance mode: nobody, the account's root
        user included, deletes or overwrites a log file before it ends; governance mode: only with
        ``s3:BypassGovernanceRetention``, which the bucket policy denies to all but the CloudFormation
        execution role. Once on, Object Lock cannot be switched off for the bucket.
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
        alias_names: Sequence[str] = (),
        retired_key_arns: Sequence[str] = (),
        derive_functions: Sequence[AuditedFunction] = (),
        existing_log_group_name: str | None = None,
        alarm_email: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        bucket_retention: Duration = DEFAULT_BUCKET_RETENTION,
        object_lock: s3.ObjectLockRetention | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        metric_namespace: str = METRIC_NAMESPACE,
    ) -> None:
        super().__init__(scope, id)
        self.metric_namespace = metric_namespace
        key_arns = list(key_arns)
        allowed_deriver_arns = list(allowed_deriver_arns)
        derive_functions = list(derive_functions)
        if not key_arns:
            raise ValueError("KeyUsageAudit needs at least one key ARN in key_arns")
        if not allowed_deriver_arns:
            raise ValueError("KeyUsageAudit needs allowed_deriver_arns: every DeriveSharedSecret would alarm")
        if existing_log_group_name is not None and not existing_log_group_name.strip():
            raise ValueError("existing_log_group_name is empty; pass None to create a trail")
        _check_object_lock(object_lock, bucket_retention, existing_log_group_name)
        retired_key_arns = list(retired_key_arns)
        if any(arn not in key_arns for arn in retired_key_arns):
            raise ValueError("retired_key_arns must be among key_arns")
        patterns = self._patterns(
            key_arns, allowed_deriver_arns, list(alias_names), retired_key_arns, derive_functions
        )

        self._removal_policy = removal_policy
        self.trail: cloudtrail.Trail | None = None
        if existing_log_group_name is None:
            self.trail, self.log_group = self._create_trail(log_retention, bucket_retention, object_lock)
            self._record_events(self.trail, [function.function_arn for function in derive_functions])
        else:
            self.log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", existing_log_group_name)

        self.topic = self._alarm_topic(alarm_email)
        self.metric_filters: dict[str, list[logs.MetricFilter]] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for event, event_patterns in patterns.items():
            self.metric_filters[event.metric_name] = [
                logs.MetricFilter(
                    self,
                    f"{event.metric_name}Filter" + (str(index) if event.per_resource else ""),
                    log_group=self.log_group,
                    filter_pattern=logs.FilterPattern.literal(pattern),
                    metric_namespace=self.metric_namespace,
                    metric_name=event.metric_name,
                    metric_value="1",
                )
                for index, pattern in enumerate(event_patterns)
            ]
            self.alarms[event.metric_name] = self._alarm(event)

    def _patterns(
        self,
        key_arns: list[str],
        allowed_deriver_arns: list[str],
        alias_names: list[str],
        retired_key_arns: list[str],
        derive_functions: list[AuditedFunction],
    ) -> dict[AuditedEvent, list[str]]:
        """Every event's patterns; events without a resource to watch (no alias, no function) are left out."""
        patterns = {
            KEY_DISABLED_OR_DELETION_SCHEDULED: [key_disabled_or_deletion_scheduled_pattern()],
            KEY_POLICY_OR_GRANT_CHANGED: [key_policy_or_grant_changed_pattern(arn) for arn in key_arns],
            DERIVE_BY_UNALLOWED_PRINCIPAL: [
                _checked(
                    DERIVE_BY_UNALLOWED_PRINCIPAL,
                    derive_by_unallowed_principal_pattern(arn, allowed_deriver_arns),
                    f"{len(allowed_deriver_arns)} allowed derivers are too many for one pattern",
                )
                for arn in key_arns
            ],
            KEY_ACCESS_DENIED: [key_access_denied_pattern(arn) for arn in key_arns],
            KEY_ALIAS_CHANGED: [alias_changed_pattern(name) for name in alias_names],
            RETIRED_OR_DISABLED_KEY_USED: [
                *(derive_on_unusable_key_pattern(arn) for arn in key_arns if arn not in retired_key_arns),
                *(retired_key_used_pattern(arn) for arn in retired_key_arns),
            ],
            FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL: [
                _checked(
                    FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL,
                    function_invoked_by_unallowed_principal_pattern(
                        function.function_arn, function.caller_arns
                    ),
                    f"{len(function.caller_arns)} callers are too many for one pattern",
                )
                for function in derive_functions
            ],
            FUNCTION_CHANGED: [
                function_changed_pattern(function.function_arn, function.function_name)
                for function in derive_functions
            ],
            ROLE_CHANGED: [role_changed_pattern(function.role_name) for function in derive_functions],
            DERIVE_OUTSIDE_FUNCTION: [
                derive_outside_function_pattern(function.role_arn, self._function_session_arn(function))
                for function in derive_functions
            ],
        }
        for event, event_patterns in patterns.items():
            for pattern in event_patterns:
                _checked(event, pattern, "its names and ARNs are too long")
        return {event: event_patterns for event, event_patterns in patterns.items() if event_patterns}

    def _function_session_arn(self, function: AuditedFunction) -> str:
        """``arn:<partition>:sts::<account>:assumed-role/<role name>/<function name>``: Lambda names the
        role session after the function."""
        return Stack.of(self).format_arn(
            service="sts",
            region="",
            resource="assumed-role",
            resource_name=f"{function.role_name}/{function.function_name}",
        )

    @staticmethod
    def _record_events(trail: cloudtrail.Trail, function_arns: list[str]) -> None:
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
        self,
        log_retention: logs.RetentionDays,
        bucket_retention: Duration,
        object_lock: s3.ObjectLockRetention | None,
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
        trail_bucket = self._bucket(
            "TrailBucket", bucket_retention, access_logs=access_log_bucket, object_lock=object_lock
        )
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

    def _bucket(
        self,
        id: str,
        retention: Duration,
        *,
        access_logs: s3.Bucket | None,
        object_lock: s3.ObjectLockRetention | None = None,
    ) -> s3.Bucket:
        """A versioned, TLS-only bucket whose retention settings change only through a deployment.

        The bucket policy denies changing the lifecycle, versioning, Object Lock, access logging or the policy
        itself, and bypassing governance retention, to every principal but the CloudFormation execution role,
        which applies the stack's own updates and deletion: the stack stays updatable. S3 always lets the
        account's root user replace or delete a bucket policy, so the root user remains the way out.
        """
        bucket = s3.Bucket(
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
            # Enables Object Lock when given. S3 cannot lock a bucket that receives server access logs, so
            # only the trail bucket is ever locked.
            object_lock_default_retention=object_lock,
            removal_policy=self._removal_policy,
        )
        bucket.add_to_resource_policy(
            iam.PolicyStatement(
                sid="DenyRetentionChangesOutsideCloudFormation",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(TRAIL_BUCKET_PROTECTED_ACTIONS),
                resources=[bucket.bucket_arn, bucket.arn_for_objects("*")],
                conditions={
                    "ArnNotEquals": {"aws:PrincipalArn": key_policy.cloudformation_execution_role_arn(self)}
                },
            )
        )
        return bucket

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
        warn_when_unsubscribed(topic, "the audit's alarms (no alarm_email was given)")
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


def _check_object_lock(
    object_lock: s3.ObjectLockRetention | None,
    bucket_retention: Duration,
    existing_log_group_name: str | None,
) -> None:
    if object_lock is None:
        return
    if existing_log_group_name is not None:
        raise ValueError(
            "object_lock applies to the trail bucket this construct creates, not to an organisation trail's"
        )
    lock_days, retention_days = object_lock.duration.to_days(), bucket_retention.to_days()
    if retention_days < lock_days:
        raise ValueError(
            f"bucket_retention ({retention_days} days) is shorter than object_lock ({lock_days} days): the "
            "lifecycle would try to expire log files that are still locked"
        )


def _checked(event: AuditedEvent, pattern: str, reason: str) -> str:
    """``pattern``, unless it could exceed CloudWatch Logs' limit once its tokens are resolved."""
    length = estimated_pattern_length(pattern)
    if length > MAX_FILTER_PATTERN_LENGTH:
        raise ValueError(
            f"the {event.metric_name} filter pattern would be about {length} characters, over "
            f"CloudWatch Logs' limit of {MAX_FILTER_PATTERN_LENGTH}: {reason}"
        )
    return pattern
