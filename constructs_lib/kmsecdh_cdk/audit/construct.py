"""``KeyUsageAudit``: composes the trail (or an organisation trail's log group), the alarm topic, the
heartbeat, and per audited event its metric filters and alarm (see the package's docstring).

Every part is made directly in this construct's scope, as before the audit became a package: construct
paths, logical ids and names derived from them (the trail's, the heartbeat parameter's) are unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.audit import filters
from kmsecdh_cdk.audit.alarms import METRIC_NAMESPACE, alarm_name_prefix_for, event_alarm
from kmsecdh_cdk.audit.events import (
    AUDIT_LAYER_CHANGED,
    AUDITED_EVENTS,
    HEARTBEAT,
    AuditedFunction,
    AuditedSigningKey,
)
from kmsecdh_cdk.audit.heartbeat import heartbeat, heartbeat_alarm
from kmsecdh_cdk.audit.keys import DEFAULT_MINIMUM_DELETION_WINDOW_DAYS
from kmsecdh_cdk.audit.patterns import heartbeat_pattern
from kmsecdh_cdk.audit.topic import alarm_topic
from kmsecdh_cdk.audit.trail import DEFAULT_BUCKET_RETENTION, check_object_lock, create_trail, record_events
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating

TRAIL_KEY_ALIAS = "audit-trail"
TOPIC_KEY_ALIAS = "audit-alarm-topic"
"""The audit keys' aliases after ``key_alias_prefix``."""


class KeyUsageAudit(Construct):
    """A trail (or an organisation trail's log group), metric filters and alarms on the project's keys, and
    a heartbeat that proves the trail still delivers.

    :param key_ids: the key-agreement keys to watch (tokens allowed), retired generations included; each is
        watched in every Region, its multi-Region replicas with it.
    :param retired_key_ids: those of ``key_ids`` that are retired generations (disabled by their stack):
        every derive on them alarms; default none.
    :param allowed_deriver_arns: every principal the key policies allow to derive (roles or users), in any
        Region.
    :param alias_names: the keys' aliases (``alias/...``) whose creation, update or deletion alarms, and
        whose use in a denied call does; default none.
    :param derive_functions: the derive functions whose invocations are recorded (create mode) and whose
        invocation by others, changes, role changes, role passed to another function and derives outside
        their session alarm; default none.
    :param signing_key: a public-key directory's signing key whose changes and use by anyone but its signers
        alarm; default none.
    :param existing_log_group_name: the CloudWatch Logs group an organisation trail delivers to; default
        None creates a trail of this account. That trail must record the ``derive_functions``' Invoke data
        events, IAM's global events and the management write events of this account and Region (the
        heartbeat is one), which this construct cannot check.
    :param alarm_email: subscribed to the alarm topic when given (the address must confirm); default none.
    :param log_retention: of the trail's log group (create mode); default one year.
    :param bucket_retention: how long log files (and the bucket access logs) are kept; default 365 days.
    :param object_lock: S3 Object Lock default retention of the trail bucket's log files (create mode);
        default none. ``bucket_retention`` must not be shorter. Compliance mode: nobody, the account's root
        user included, deletes or overwrites a log file before it ends; governance mode: only with
        ``s3:BypassGovernanceRetention``, which the bucket policy denies to all but the CloudFormation
        execution role. Once on, Object Lock cannot be switched off for the bucket.
    :param removal_policy: of the trail's buckets, log group and keys, and of the topic key; default RETAIN.
    :param minimum_deletion_window_days: the trail key and the topic key refuse ScheduleKeyDeletion with a
        shorter pending window (7..30); default 30.
    :param metric_namespace: of the metrics and alarms, and the prefix of the alarms' names (``<namespace>-
        <metric>``); default ``kmsecdh``. Give each audit in one account and Region its own, or one's alarms
        would count the other's events and the alarm names would clash.
    :param key_alias_prefix: when given (``alias/...``), the trail key and the topic key get the aliases
        ``<prefix>audit-trail`` and ``<prefix>audit-alarm-topic``, so that an organisation policy can name
        them (``kms:ResourceAliases``: a key's ARN is only known once it exists) and refuse disabling,
        deleting or re-policing them, which would silence the audit; default none.

    Attributes: ``trail`` (None in existing mode), ``log_group``, ``topic``, ``alarms`` (metric name ->
    alarm, the heartbeat's included), ``heartbeat_alarm``, ``metric_filters`` (metric name -> its filters),
    ``heartbeat_schedule`` and ``heartbeat_role``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key_ids: Sequence[str],
        allowed_deriver_arns: Sequence[str],
        alias_names: Sequence[str] = (),
        retired_key_ids: Sequence[str] = (),
        derive_functions: Sequence[AuditedFunction] = (),
        signing_key: AuditedSigningKey | None = None,
        existing_log_group_name: str | None = None,
        alarm_email: str | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        bucket_retention: Duration = DEFAULT_BUCKET_RETENTION,
        object_lock: s3.ObjectLockRetention | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        minimum_deletion_window_days: int = DEFAULT_MINIMUM_DELETION_WINDOW_DAYS,
        metric_namespace: str = METRIC_NAMESPACE,
        key_alias_prefix: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.metric_namespace = metric_namespace
        key_ids = list(key_ids)
        allowed_deriver_arns = list(allowed_deriver_arns)
        derive_functions = list(derive_functions)
        if not key_ids:
            raise KmsEcdhValidationError(self, "KeyUsageAudit needs at least one key id in key_ids")
        if not allowed_deriver_arns:
            raise KmsEcdhValidationError(
                self, "KeyUsageAudit needs allowed_deriver_arns: every DeriveSharedSecret would alarm"
            )
        if existing_log_group_name is not None and not existing_log_group_name.strip():
            raise KmsEcdhValidationError(
                self, "existing_log_group_name is empty; pass None to create a trail"
            )
        check_object_lock(self, object_lock, bucket_retention, existing_log_group_name)
        retired_key_ids = list(retired_key_ids)
        if any(key_id not in key_ids for key_id in retired_key_ids):
            raise KmsEcdhValidationError(self, "retired_key_ids must be among key_ids")
        if signing_key is not None and not signing_key.signer_arns:
            raise KmsEcdhValidationError(
                self, "KeyUsageAudit signing_key needs signer_arns: every Sign would alarm"
            )
        # The audit's own keys use the default pending window of 30 days, which any minimum allows.
        with validating(self):
            key_policy.check_pending_windows(key_policy.MAX_PENDING_WINDOW_DAYS, minimum_deletion_window_days)
        # In the order of the keys' AuditLayerChanged filters: the trail key (create mode), the topic key.
        audit_keys: list[tuple[kms.Key, str]] = []  # each with its alias after key_alias_prefix

        self.trail: cloudtrail.Trail | None = None
        if existing_log_group_name is None:
            self.trail, self.log_group, trail_key = create_trail(
                self,
                log_retention=log_retention,
                bucket_retention=bucket_retention,
                object_lock=object_lock,
                removal_policy=removal_policy,
                minimum_deletion_window_days=minimum_deletion_window_days,
            )
            audit_keys.append((trail_key, TRAIL_KEY_ALIAS))
            record_events(self.trail, [function.function_arn for function in derive_functions])
        else:
            self.log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", existing_log_group_name)
        self.topic, topic_key = alarm_topic(
            self,
            alarm_email,
            removal_policy=removal_policy,
            minimum_deletion_window_days=minimum_deletion_window_days,
        )
        audit_keys.append((topic_key, TOPIC_KEY_ALIAS))
        if key_alias_prefix is not None:
            for key, alias in audit_keys:
                key.add_alias(f"{key_alias_prefix}{alias}")
        beat = heartbeat(self)
        self.heartbeat_schedule, self.heartbeat_role = beat.schedule, beat.role

        patterns = {
            **filters.key_patterns(key_ids, allowed_deriver_arns, list(alias_names), retired_key_ids),
            **filters.function_patterns(self, derive_functions),
            **filters.signing_key_patterns(signing_key),
            AUDIT_LAYER_CHANGED: filters.audit_layer_patterns(
                self.log_group.log_group_name,
                self.alarm_name_prefix,
                self.topic.topic_arn,
                [key.key_id for key, _ in audit_keys],
            ),
            HEARTBEAT: [
                (heartbeat_pattern(beat.parameter_name, beat.role.role_arn), "its names are too long"),
            ],
        }
        self.metric_filters: dict[str, list[logs.MetricFilter]] = {}
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        for event in AUDITED_EVENTS:
            event_patterns = patterns.get(event, [])
            if not event_patterns:  # nothing to watch: no alias, no function, no signing key
                continue
            self.metric_filters[event.metric_name] = [
                logs.MetricFilter(
                    self,
                    f"{event.metric_name}Filter" + (str(index) if event.per_resource else ""),
                    log_group=self.log_group,
                    filter_pattern=logs.FilterPattern.literal(filters.checked(self, event, pattern, reason)),
                    metric_namespace=self.metric_namespace,
                    metric_name=event.metric_name,
                    metric_value="1",
                )
                for index, (pattern, reason) in enumerate(event_patterns)
            ]
            self.alarms[event.metric_name] = (
                heartbeat_alarm(self, self.topic, self.metric_namespace)
                if event is HEARTBEAT
                else event_alarm(self, event, self.topic, self.metric_namespace)
            )
        self.heartbeat_alarm = self.alarms[HEARTBEAT.metric_name]

    @property
    def alarm_name_prefix(self) -> str:
        """Every alarm of this audit is named ``<alarm_name_prefix><metric name>``."""
        return alarm_name_prefix_for(self.metric_namespace)
