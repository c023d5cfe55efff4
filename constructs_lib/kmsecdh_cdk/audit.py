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
topic. Keys are matched by key id in every Region (a multi-Region key's replicas keep its ``mrk-`` id), so a
replica made anywhere is watched too:

* ``KeyDisabledOrDeletionScheduled``: DisableKey / ScheduleKeyDeletion on any key of the account (CIS 4.7)
* ``KeyPolicyOrGrantChanged``: PutKeyPolicy / CreateGrant on one of ``key_ids``
* ``KeyReplicatedOrPrimaryRegionChanged``: ReplicateKey / UpdatePrimaryRegion of one of ``key_ids``
* ``DeriveByUnallowedPrincipal``: DeriveSharedSecret on one of ``key_ids`` by a principal not in
  ``allowed_deriver_arns``
* ``KeyAccessDenied``: an AccessDenied* error of a KMS call naming one of ``key_ids`` (resource, key id,
  key ARN) or one of ``alias_names`` (alias name, alias ARN)
* ``KeyAliasChanged``: CreateAlias / UpdateAlias / DeleteAlias of one of ``alias_names``
* ``RetiredOrDisabledKeyUsed``: DeriveSharedSecret refused on one of ``key_ids`` because it is disabled or
  pending deletion, or any DeriveSharedSecret on one of ``retired_key_ids``
* ``AuditLayerChanged``: the audit itself switched off or bent: a trail of the account stopped, deleted,
  updated or given other event selectors; the log group deleted, a metric filter on it deleted or put, its
  retention changed; an alarm of the account deleted or its actions disabled, one of these alarms put again;
  the topic's attributes set, a permission removed, the topic deleted, a subscription removed or changed; the
  trail key or the topic key disabled, scheduled for deletion or given another policy
* ``AuditHeartbeat``: an EventBridge Scheduler schedule puts an SSM parameter every few minutes; its
  CloudTrail record counted here proves the trail still delivers, and the alarm fires when none arrives
  (missing data is breaching: a dead pipeline must not look like a quiet one)

for each of ``derive_functions``:

* ``DeriveFunctionInvokedByUnallowedPrincipal``: Invoke by a principal not in its ``caller_arns``
* ``DeriveFunctionChanged``: its code, configuration, permissions, URL, concurrency changed, or deleted
* ``DeriveRoleChanged``: its role's policies, permissions boundary or trust policy changed, or role deleted
* ``DeriveRolePassedToFunction``: a function created or reconfigured with its role, in any Region
* ``DeriveOutsideFunction``: DeriveSharedSecret with its role's credentials outside the function's session

and for the ``signing_key`` of a public-key directory:

* ``DirectorySigningKeyChanged``: its policy replaced, a grant created, or its state changed
* ``DirectorySignByUnallowedPrincipal``: Sign with it by anyone but its signers

Filters for keys, aliases, functions and audit resources come one per resource (all feeding the same
metric) so a pattern never grows with their number; CloudWatch Logs refuses patterns over 1024 characters,
and a list of principals that could exceed it is rejected at construct time.
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
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as scheduler_targets
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.audit_patterns import (
    MAX_FILTER_PATTERN_LENGTH,
    alarm_topic_changed_pattern,
    alarms_changed_pattern,
    alias_access_denied_pattern,
    alias_changed_pattern,
    audit_key_changed_pattern,
    audit_log_group_changed_pattern,
    derive_by_unallowed_principal_pattern,
    derive_on_unusable_key_pattern,
    derive_outside_function_pattern,
    estimated_pattern_length,
    function_changed_pattern,
    function_invoked_by_unallowed_principal_pattern,
    heartbeat_pattern,
    key_access_denied_pattern,
    key_disabled_or_deletion_scheduled_pattern,
    key_policy_or_grant_changed_pattern,
    key_replication_pattern,
    retired_key_used_pattern,
    role_changed_pattern,
    role_passed_to_function_pattern,
    sign_by_unallowed_principal_pattern,
    signing_key_changed_pattern,
    trail_changed_pattern,
)
from kmsecdh_cdk.iam_actions import (
    ALARM_TOPIC_ENCRYPTION_ACTIONS,
    AUDIT_HEARTBEAT_ACTION,
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
# A beat every five minutes; CloudTrail delivers most records within minutes but promises no bound, so the
# alarm waits for two quiet periods of fifteen minutes (about six missed beats) before it fires.
HEARTBEAT_RATE = Duration.minutes(5)
HEARTBEAT_ALARM_PERIOD = Duration.minutes(15)
HEARTBEAT_EVALUATION_PERIODS = 2
SCHEDULER_SERVICE = "scheduler.amazonaws.com"
DEFAULT_MINIMUM_DELETION_WINDOW_DAYS = 30


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
ROLE_PASSED_TO_FUNCTION = AuditedEvent(
    "DeriveRolePassedToFunction",
    "A Lambda function was created or reconfigured with a kmsecdh derive role as its execution role, in any "
    "Region: its session would carry the name of that function, not the derive function's.",
    per_resource=True,
)
KEY_REPLICATED = AuditedEvent(
    "KeyReplicatedOrPrimaryRegionChanged",
    "A kmsecdh multi-Region key was replicated (ReplicateKey: the replica has the key policy its creator "
    "chose) or its primary Region changed (UpdatePrimaryRegion).",
    per_resource=True,
)
AUDIT_LAYER_CHANGED = AuditedEvent(
    "AuditLayerChanged",
    "The audit itself was changed: a trail stopped, deleted or updated, its log group or metric filters "
    "changed, an alarm deleted or silenced, the alarm topic or a subscription changed, or the trail or topic "
    "key disabled, scheduled for deletion or given another policy.",
    per_resource=True,
)
HEARTBEAT = AuditedEvent(
    "AuditHeartbeat",
    "No heartbeat record reached the audit's log group for 30 minutes: the trail, its delivery, the log "
    "group or the heartbeat schedule is broken, and the other alarms see nothing.",
    per_resource=False,
)
SIGNING_KEY_CHANGED = AuditedEvent(
    "DirectorySigningKeyChanged",
    "The public-key directory's signing key had its policy replaced, a grant created, or was disabled, "
    "enabled, scheduled for deletion or had its deletion cancelled.",
    per_resource=False,
)
SIGN_BY_UNALLOWED_PRINCIPAL = AuditedEvent(
    "DirectorySignByUnallowedPrincipal",
    "Sign was called with the public-key directory's signing key by a principal that is not a publisher.",
    per_resource=False,
)
AUDITED_EVENTS: tuple[AuditedEvent, ...] = (
    KEY_DISABLED_OR_DELETION_SCHEDULED,
    KEY_POLICY_OR_GRANT_CHANGED,
    KEY_REPLICATED,
    DERIVE_BY_UNALLOWED_PRINCIPAL,
    KEY_ACCESS_DENIED,
    KEY_ALIAS_CHANGED,
    RETIRED_OR_DISABLED_KEY_USED,
    FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL,
    FUNCTION_CHANGED,
    ROLE_CHANGED,
    ROLE_PASSED_TO_FUNCTION,
    DERIVE_OUTSIDE_FUNCTION,
    SIGNING_KEY_CHANGED,
    SIGN_BY_UNALLOWED_PRINCIPAL,
    AUDIT_LAYER_CHANGED,
    HEARTBEAT,
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


@dataclass(frozen=True)
class AuditedSigningKey:
    """A signing key the audit watches (the public-key directory's).

    :param key_id: its key id (a token allowed).
    :param signer_arns: the principals allowed to sign with it (roles or users); at least one.
    """

    key_id: str
    signer_arns: tuple[str, ...]


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
    ) -> None:
        super().__init__(scope, id)
        self.metric_namespace = metric_namespace
        key_ids = list(key_ids)
        allowed_deriver_arns = list(allowed_deriver_arns)
        derive_functions = list(derive_functions)
        if not key_ids:
            raise ValueError("KeyUsageAudit needs at least one key id in key_ids")
        if not allowed_deriver_arns:
            raise ValueError("KeyUsageAudit needs allowed_deriver_arns: every DeriveSharedSecret would alarm")
        if existing_log_group_name is not None and not existing_log_group_name.strip():
            raise ValueError("existing_log_group_name is empty; pass None to create a trail")
        _check_object_lock(object_lock, bucket_retention, existing_log_group_name)
        retired_key_ids = list(retired_key_ids)
        if any(key_id not in key_ids for key_id in retired_key_ids):
            raise ValueError("retired_key_ids must be among key_ids")
        if signing_key is not None and not signing_key.signer_arns:
            raise ValueError("KeyUsageAudit signing_key needs signer_arns: every Sign would alarm")
        # The audit's own keys use the default pending window of 30 days, which any minimum allows.
        key_policy.check_pending_windows(key_policy.MAX_PENDING_WINDOW_DAYS, minimum_deletion_window_days)
        self._minimum_deletion_window_days = minimum_deletion_window_days
        self._removal_policy = removal_policy
        self._audit_keys: list[kms.Key] = []

        self.trail: cloudtrail.Trail | None = None
        if existing_log_group_name is None:
            self.trail, self.log_group = self._create_trail(log_retention, bucket_retention, object_lock)
            self._record_events(self.trail, [function.function_arn for function in derive_functions])
        else:
            self.log_group = logs.LogGroup.from_log_group_name(self, "TrailLogGroup", existing_log_group_name)
        self.topic = self._alarm_topic(alarm_email)
        self.heartbeat_role, heartbeat_parameter_name = self._heartbeat()

        patterns = {
            **self._key_patterns(key_ids, allowed_deriver_arns, list(alias_names), retired_key_ids),
            **self._function_patterns(derive_functions),
            **self._signing_key_patterns(signing_key),
            AUDIT_LAYER_CHANGED: self._audit_layer_patterns(),
            HEARTBEAT: [
                (
                    heartbeat_pattern(heartbeat_parameter_name, self.heartbeat_role.role_arn),
                    "its names are too long",
                )
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
                    filter_pattern=logs.FilterPattern.literal(_checked(event, pattern, reason)),
                    metric_namespace=self.metric_namespace,
                    metric_name=event.metric_name,
                    metric_value="1",
                )
                for index, (pattern, reason) in enumerate(event_patterns)
            ]
            self.alarms[event.metric_name] = (
                self._heartbeat_alarm() if event is HEARTBEAT else self._alarm(event)
            )
        self.heartbeat_alarm = self.alarms[HEARTBEAT.metric_name]

    @property
    def alarm_name_prefix(self) -> str:
        """Every alarm of this audit is named ``<alarm_name_prefix><metric name>``."""
        return f"{self.metric_namespace}-"

    def _key_patterns(
        self,
        key_ids: list[str],
        allowed_deriver_arns: list[str],
        alias_names: list[str],
        retired_key_ids: list[str],
    ) -> dict[AuditedEvent, list[tuple[str, str]]]:
        """(pattern, why it could be too long) of every key and alias event."""
        names = "its key id and alias names are too long"
        derivers = f"{len(allowed_deriver_arns)} allowed derivers are too many for one pattern"
        return {
            KEY_DISABLED_OR_DELETION_SCHEDULED: [(key_disabled_or_deletion_scheduled_pattern(), names)],
            KEY_POLICY_OR_GRANT_CHANGED: [
                (key_policy_or_grant_changed_pattern(key), names) for key in key_ids
            ],
            KEY_REPLICATED: [(key_replication_pattern(key), names) for key in key_ids],
            DERIVE_BY_UNALLOWED_PRINCIPAL: [
                (derive_by_unallowed_principal_pattern(key, allowed_deriver_arns), derivers)
                for key in key_ids
            ],
            KEY_ACCESS_DENIED: [
                *((key_access_denied_pattern(key), names) for key in key_ids),
                *((alias_access_denied_pattern(alias), names) for alias in alias_names),
            ],
            KEY_ALIAS_CHANGED: [(alias_changed_pattern(alias), names) for alias in alias_names],
            RETIRED_OR_DISABLED_KEY_USED: [
                *(
                    (derive_on_unusable_key_pattern(key), names)
                    for key in key_ids
                    if key not in retired_key_ids
                ),
                *((retired_key_used_pattern(key), names) for key in retired_key_ids),
            ],
        }

    def _function_patterns(
        self, derive_functions: list[AuditedFunction]
    ) -> dict[AuditedEvent, list[tuple[str, str]]]:
        names = "its names and ARNs are too long"
        return {
            FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL: [
                (
                    function_invoked_by_unallowed_principal_pattern(
                        function.function_arn, function.caller_arns
                    ),
                    f"{len(function.caller_arns)} callers are too many for one pattern",
                )
                for function in derive_functions
            ],
            FUNCTION_CHANGED: [
                (function_changed_pattern(function.function_arn, function.function_name), names)
                for function in derive_functions
            ],
            ROLE_CHANGED: [
                (role_changed_pattern(function.role_name), names) for function in derive_functions
            ],
            ROLE_PASSED_TO_FUNCTION: [
                (role_passed_to_function_pattern(function.role_arn), names) for function in derive_functions
            ],
            DERIVE_OUTSIDE_FUNCTION: [
                (
                    derive_outside_function_pattern(function.role_arn, self._function_session_arn(function)),
                    names,
                )
                for function in derive_functions
            ],
        }

    @staticmethod
    def _signing_key_patterns(
        signing_key: AuditedSigningKey | None,
    ) -> dict[AuditedEvent, list[tuple[str, str]]]:
        if signing_key is None:
            return {}
        return {
            SIGNING_KEY_CHANGED: [
                (signing_key_changed_pattern(signing_key.key_id), "its key id is too long")
            ],
            SIGN_BY_UNALLOWED_PRINCIPAL: [
                (
                    sign_by_unallowed_principal_pattern(signing_key.key_id, signing_key.signer_arns),
                    f"{len(signing_key.signer_arns)} signers are too many for one pattern",
                )
            ],
        }

    def _audit_layer_patterns(self) -> list[tuple[str, str]]:
        """The trail (any of the account), the log group, the alarms, the topic and the audit's own keys."""
        names = "its names are too long"
        return [
            (trail_changed_pattern(), names),
            (audit_log_group_changed_pattern(self.log_group.log_group_name), names),
            (alarms_changed_pattern(self.alarm_name_prefix), names),
            (alarm_topic_changed_pattern(self.topic.topic_arn), names),
            *((audit_key_changed_pattern(key.key_id), names) for key in self._audit_keys),
        ]

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
        """One matching event in five minutes fires it."""
        return self._alarm_to_topic(
            event,
            period=ALARM_PERIOD,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            # No matching event in a period means no data point, which is the normal, quiet state; a dead
            # pipeline is the heartbeat alarm's to tell.
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )

    def _heartbeat_alarm(self) -> cloudwatch.Alarm:
        """Fewer than one heartbeat in each of two periods fires it; no data at all is the failure it is
        for, so missing data breaches. It also notifies when beats arrive again."""
        alarm = self._alarm_to_topic(
            HEARTBEAT,
            period=HEARTBEAT_ALARM_PERIOD,
            evaluation_periods=HEARTBEAT_EVALUATION_PERIODS,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,
        )
        alarm.add_ok_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def _alarm_to_topic(
        self,
        event: AuditedEvent,
        *,
        period: Duration,
        evaluation_periods: int,
        comparison_operator: cloudwatch.ComparisonOperator,
        treat_missing_data: cloudwatch.TreatMissingData,
    ) -> cloudwatch.Alarm:
        alarm = cloudwatch.Alarm(
            self,
            f"{event.metric_name}Alarm",
            # A fixed name, so the AuditLayerChanged filter can tell this audit's alarms being put again.
            alarm_name=f"{self.alarm_name_prefix}{event.metric_name}",
            alarm_description=event.description,
            metric=cloudwatch.Metric(
                namespace=self.metric_namespace,
                metric_name=event.metric_name,
                statistic=cloudwatch.Stats.SUM,
                period=period,
            ),
            threshold=1,
            evaluation_periods=evaluation_periods,
            comparison_operator=comparison_operator,
            treat_missing_data=treat_missing_data,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        return alarm

    def _heartbeat(self) -> tuple[iam.Role, str]:
        """An EventBridge Scheduler schedule that puts an SSM parameter every ``HEARTBEAT_RATE``, with a
        role of its own; returns the role and the parameter's name.

        Scheduler's universal targets call an AWS API directly (no function), but never a read-only one
        (Get*, Describe*, List*, ... are refused), so the beat is a harmless write: PutParameter of a
        parameter that only holds the time of the last beat. A write management event is recorded by every
        trail that records management events, write-only ones included, and SSM is not an event source
        organisation trails usually exclude (as some do KMS's, for volume). The role's trust is limited to
        Scheduler acting for this account's default schedule group (aws:SourceAccount, aws:SourceArn).
        """
        stack = Stack.of(self)
        parameter_name = (
            f"/kmsecdh/{Names.unique_resource_name(self, max_length=200, separator='-')}/heartbeat"
        )
        parameter = ssm.StringParameter(
            self,
            "HeartbeatParameter",
            parameter_name=parameter_name,
            string_value="no beat yet",
            description="kmsecdh audit heartbeat: the time of the last beat (EventBridge Scheduler)",
        )
        role = iam.Role(
            self,
            "HeartbeatRole",
            description="kmsecdh audit heartbeat: EventBridge Scheduler puts the heartbeat parameter",
            assumed_by=iam.ServicePrincipal(SCHEDULER_SERVICE).with_conditions(
                {
                    "StringEquals": {
                        "aws:SourceAccount": stack.account,
                        "aws:SourceArn": stack.format_arn(
                            service="scheduler", resource="schedule-group", resource_name="default"
                        ),
                    }
                }
            ),
        )
        self.heartbeat_schedule = scheduler.Schedule(
            self,
            "Heartbeat",
            description="kmsecdh audit heartbeat: a CloudTrail record the audit counts",
            schedule=scheduler.ScheduleExpression.rate(HEARTBEAT_RATE),
            target=scheduler_targets.Universal(
                service="ssm",
                action="putParameter",
                role=role,
                input=scheduler.ScheduleTargetInput.from_object(
                    {
                        "Name": parameter_name,
                        "Value": scheduler.ContextAttribute.scheduled_time,
                        "Type": "String",
                        "Overwrite": True,
                    }
                ),
                policy_statements=[
                    iam.PolicyStatement(actions=[AUDIT_HEARTBEAT_ACTION], resources=[parameter.parameter_arn])
                ],
                # A missed beat is not made up: the next one is five minutes away, and a retried call would
                # only blur what the heartbeat measures.
                retry_attempts=0,
            ),
        )
        for pack in COMPLIANCE_PACKS:
            acknowledge(
                role.node.find_child("DefaultPolicy"),
                f"{pack}-IAMNoInlinePolicy",
                "The heartbeat role's only policy, made for this schedule and deleted with it: "
                "ssm:PutParameter on the one heartbeat parameter.",
            )
        return role, parameter_name

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
        """A rotating symmetric key of the audit itself: account-root administration (no cryptographic use),
        the guards the key-agreement keys have (lockout bypass, minimum deletion window), plus the services.
        Disabling or deleting it silences the audit, so ``AuditLayerChanged`` watches it."""
        key = key_policy.symmetric_service_key(
            self,
            id,
            description=description,
            removal_policy=self._removal_policy,
            service_statements=[
                key_policy.deny_short_deletion_window(self._minimum_deletion_window_days),
                *service_statements,
            ],
        )
        self._audit_keys.append(key)
        return key

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
