"""Every metric filter pattern of the audit with the CloudTrail samples it must and must not match.

Shared by ``test_audit_patterns`` (the local evaluator, in ``make test``) and
``tests/aws/test_metric_filters`` (CloudWatch Logs TestMetricFilter, in ``make test-aws``). The identities
below are the ones the samples in ``cloudtrail_samples/`` carry (each sample's ``source`` says where it
comes from and what was changed).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kmsecdh_cdk.audit import patterns

SAMPLES_DIR = Path(__file__).parent / "cloudtrail_samples"

KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
MULTI_REGION_KEY_ID = "mrk-1234abcd12ab34cd56ef1234567890ab"
SIGNING_KEY_ID = "0987dcba-09fe-87dc-65ba-ab0987654321"
PUBLISHER_ROLE = "arn:aws:iam::111122223333:role/kmsecdh-dev-directory-publisher"
PASSED_ROLE = "arn:aws:iam::999999999999:role/kmsecdh-dev-derive"
TRAIL_LOG_GROUP = "/aws/cloudtrail/kmsecdh-dev-audit"
ALARM_NAME_PREFIX = "kmsecdh/dev-"
ALARM_TOPIC = "arn:aws:sns:us-west-2:111122223333:kmsecdh-dev-audit-AlarmTopic"
HEARTBEAT_PARAMETER = "/kmsecdh/kmsecdhdevaudit-KeyUsageAudit-0A1B2C3D/heartbeat"
HEARTBEAT_ROLE = "arn:aws:iam::111122223333:role/kmsecdh-dev-audit-HeartbeatRole"
ALICE = "arn:aws:iam::111122223333:user/Alice"
BATCH_ROLE = "arn:aws:iam::111122223333:role/batch/rekey"
DERIVE_ROLE = "arn:aws:iam::111122223333:role/kmsecdh-dev-derive"
DERIVE_FUNCTION_SESSION = "arn:aws:sts::111122223333:assumed-role/kmsecdh-dev-derive/kmsecdh-dev-derive-fn"
ALIAS = "alias/kmsecdh-dev-p256"
INVOKED_FUNCTION = "arn:aws:lambda:us-east-1:012345679012:function:my-function-name"
INVOKER_ROLE = "arn:aws:iam::012345679012:role/My-RoleName-1746R4C1N6UFS"
INVOKER_USER = "arn:aws:iam::012345679012:user/Alice"
CHANGED_FUNCTION_NAME = "basic-node-task"
CHANGED_FUNCTION = f"arn:aws:lambda:us-east-1:999999999999:function:{CHANGED_FUNCTION_NAME}"
CHANGED_ROLE_NAME = "TestRole"


@dataclass(frozen=True)
class PatternCase:
    """A pattern (built by ``builder``) and the samples it must match and must not match."""

    name: str
    builder: str  # the kmsecdh_cdk.audit.patterns function
    pattern: str
    matching: tuple[str, ...]
    not_matching: tuple[str, ...]


CASES: tuple[PatternCase, ...] = (
    PatternCase(
        "cis_key_disabled_or_deletion_scheduled",
        "key_disabled_or_deletion_scheduled_pattern",
        patterns.key_disabled_or_deletion_scheduled_pattern(),
        ("kms_disable_key", "kms_schedule_key_deletion"),
        ("kms_put_key_policy", "kms_create_alias"),
    ),
    PatternCase(
        "key_policy_or_grant_changed",
        "key_policy_or_grant_changed_pattern",
        patterns.key_policy_or_grant_changed_pattern(KEY_ID),
        ("kms_put_key_policy", "kms_create_grant", "kms_create_grant_denied_key_id"),
        ("kms_put_key_policy_other_key", "kms_schedule_key_deletion", "kms_derive_shared_secret_by_user"),
    ),
    PatternCase(
        "key_replication",
        "key_replication_pattern",
        patterns.key_replication_pattern(KEY_ID),
        ("kms_replicate_key",),
        ("kms_replicate_key_other_key", "kms_put_key_policy", "kms_update_primary_region"),
    ),
    PatternCase(
        "key_replication_multi_region_key_id",
        "key_replication_pattern",
        patterns.key_replication_pattern(MULTI_REGION_KEY_ID),
        ("kms_update_primary_region",),
        ("kms_replicate_key",),
    ),
    PatternCase(
        "derive_by_unallowed_principal_roles_allowed",
        "derive_by_unallowed_principal_pattern",
        patterns.derive_by_unallowed_principal_pattern(KEY_ID, [DERIVE_ROLE, BATCH_ROLE]),
        (
            "kms_derive_shared_secret_by_user",
            "kms_derive_shared_secret_by_user_replica_region",
            "kms_derive_access_denied",
        ),
        (
            "kms_derive_shared_secret_by_function",
            "kms_derive_shared_secret_by_role_other_session",
            "kms_put_key_policy",
            "kms_sign_other_key",
        ),
    ),
    PatternCase(
        "derive_by_unallowed_principal_user_allowed",
        "derive_by_unallowed_principal_pattern",
        patterns.derive_by_unallowed_principal_pattern(KEY_ID, [ALICE]),
        ("kms_derive_shared_secret_by_function", "kms_derive_shared_secret_by_role_other_session"),
        ("kms_derive_shared_secret_by_user", "kms_derive_shared_secret_by_user_replica_region"),
    ),
    PatternCase(
        "key_access_denied",
        "key_access_denied_pattern",
        patterns.key_access_denied_pattern(KEY_ID),
        (
            "kms_derive_access_denied",
            "kms_derive_access_denied_key_arn_in_request",
            "kms_derive_access_denied_key_id_in_request",
            "kms_create_grant_denied_key_id",
        ),
        (
            "kms_derive_shared_secret_by_user",
            "kms_derive_key_disabled",
            "lambda_get_function_denied",
            "kms_derive_access_denied_alias_in_request",
        ),
    ),
    PatternCase(
        "alias_access_denied",
        "alias_access_denied_pattern",
        patterns.alias_access_denied_pattern(ALIAS),
        ("kms_derive_access_denied_alias_in_request", "kms_derive_access_denied_alias_arn_in_request"),
        (
            "kms_derive_access_denied_other_alias_in_request",
            "kms_derive_access_denied_key_id_in_request",
            "kms_create_alias",
        ),
    ),
    PatternCase(
        "derive_on_unusable_key",
        "derive_on_unusable_key_pattern",
        patterns.derive_on_unusable_key_pattern(KEY_ID),
        ("kms_derive_key_disabled", "kms_derive_key_pending_deletion"),
        (
            "kms_derive_shared_secret_by_function",
            "kms_derive_access_denied",
            "kms_derive_key_disabled_other_key",
            "kms_disable_key",
        ),
    ),
    PatternCase(
        "retired_key_used",
        "retired_key_used_pattern",
        patterns.retired_key_used_pattern(KEY_ID),
        (
            "kms_derive_shared_secret_by_function",
            "kms_derive_shared_secret_by_user",
            "kms_derive_shared_secret_by_user_replica_region",
            "kms_derive_key_disabled",
            "kms_derive_key_pending_deletion",
            "kms_derive_access_denied_key_arn_in_request",
        ),
        ("kms_derive_key_disabled_other_key", "kms_put_key_policy", "kms_disable_key"),
    ),
    PatternCase(
        "alias_changed",
        "alias_changed_pattern",
        patterns.alias_changed_pattern(ALIAS),
        ("kms_create_alias", "kms_update_alias", "kms_delete_alias"),
        ("kms_create_alias_other_alias", "kms_put_key_policy"),
    ),
    PatternCase(
        "function_invoked_by_unallowed_principal_role_allowed",
        "function_invoked_by_unallowed_principal_pattern",
        patterns.function_invoked_by_unallowed_principal_pattern(INVOKED_FUNCTION, [INVOKER_ROLE]),
        ("lambda_invoke_by_service_through_alias", "lambda_invoke_by_user"),
        ("lambda_invoke_by_role", "lambda_invoke_execution", "lambda_invoke_other_function"),
    ),
    PatternCase(
        "function_invoked_by_unallowed_principal_user_allowed",
        "function_invoked_by_unallowed_principal_pattern",
        patterns.function_invoked_by_unallowed_principal_pattern(INVOKED_FUNCTION, [INVOKER_USER]),
        ("lambda_invoke_by_role", "lambda_invoke_by_service_through_alias"),
        ("lambda_invoke_by_user",),
    ),
    PatternCase(
        "function_invoked_without_callers",
        "function_invoked_by_unallowed_principal_pattern",
        patterns.function_invoked_by_unallowed_principal_pattern(INVOKED_FUNCTION, []),
        ("lambda_invoke_by_role", "lambda_invoke_by_user", "lambda_invoke_by_service_through_alias"),
        ("lambda_invoke_execution", "lambda_invoke_other_function"),
    ),
    PatternCase(
        "function_changed",
        "function_changed_pattern",
        patterns.function_changed_pattern(CHANGED_FUNCTION, CHANGED_FUNCTION_NAME),
        (
            "lambda_delete_function",
            "lambda_update_function_configuration",
            "lambda_update_function_code",
            "lambda_add_permission_qualified",
            "lambda_remove_permission",
            "lambda_put_function_concurrency",
            "lambda_delete_function_concurrency",
            "lambda_create_function_url_config",
        ),
        (
            "lambda_get_function_denied",
            "lambda_update_other_function_same_prefix",
            "lambda_update_other_function_same_suffix",
            "lambda_invoke_by_service_through_alias",
        ),
    ),
    PatternCase(
        "role_passed_to_function",
        "role_passed_to_function_pattern",
        patterns.role_passed_to_function_pattern(PASSED_ROLE),
        ("lambda_create_function_with_derive_role", "lambda_update_function_configuration_with_derive_role"),
        ("lambda_create_function_other_role", "lambda_update_function_configuration", "iam_put_role_policy"),
    ),
    PatternCase(
        "role_changed",
        "role_changed_pattern",
        patterns.role_changed_pattern(CHANGED_ROLE_NAME),
        ("iam_put_role_policy", "iam_attach_role_policy", "iam_update_assume_role_policy", "iam_delete_role"),
        ("iam_create_role", "iam_put_role_policy_other_role", "iam_get_user_policy"),
    ),
    PatternCase(
        "derive_outside_function",
        "derive_outside_function_pattern",
        patterns.derive_outside_function_pattern(DERIVE_ROLE, DERIVE_FUNCTION_SESSION),
        ("kms_derive_shared_secret_by_role_other_session",),
        ("kms_derive_shared_secret_by_function", "kms_derive_shared_secret_by_user"),
    ),
    PatternCase(
        "trail_changed",
        "trail_changed_pattern",
        patterns.trail_changed_pattern(),
        (
            "cloudtrail_stop_logging",
            "cloudtrail_delete_trail",
            "cloudtrail_update_trail",
            "cloudtrail_put_event_selectors_basic",
            "cloudtrail_put_event_selectors_advanced",
        ),
        ("cloudtrail_start_logging", "logs_delete_log_group"),
    ),
    PatternCase(
        "audit_log_group_changed",
        "audit_log_group_changed_pattern",
        patterns.audit_log_group_changed_pattern(TRAIL_LOG_GROUP),
        (
            "logs_delete_log_group",
            "logs_delete_metric_filter",
            "logs_put_metric_filter",
            "logs_put_retention_policy",
        ),
        ("logs_put_metric_filter_other_log_group", "cloudtrail_delete_trail"),
    ),
    PatternCase(
        "alarms_changed",
        "alarms_changed_pattern",
        patterns.alarms_changed_pattern(ALARM_NAME_PREFIX),
        ("cloudwatch_delete_alarms", "cloudwatch_disable_alarm_actions", "cloudwatch_put_metric_alarm_audit"),
        ("cloudwatch_put_metric_alarm_other", "logs_put_metric_filter"),
    ),
    PatternCase(
        "alarm_topic_changed",
        "alarm_topic_changed_pattern",
        patterns.alarm_topic_changed_pattern(ALARM_TOPIC),
        (
            "sns_set_topic_attributes",
            "sns_delete_topic",
            "sns_remove_permission",
            "sns_unsubscribe",
            "sns_set_subscription_attributes",
        ),
        ("sns_set_topic_attributes_other_topic", "sns_unsubscribe_other_topic"),
    ),
    PatternCase(
        "audit_key_changed",
        "audit_key_changed_pattern",
        patterns.audit_key_changed_pattern(KEY_ID),
        ("kms_disable_key", "kms_schedule_key_deletion", "kms_put_key_policy"),
        ("kms_put_key_policy_other_key", "kms_create_grant", "kms_enable_key"),
    ),
    PatternCase(
        "heartbeat",
        "heartbeat_pattern",
        patterns.heartbeat_pattern(HEARTBEAT_PARAMETER, HEARTBEAT_ROLE),
        ("ssm_put_parameter_heartbeat",),
        ("ssm_put_parameter_heartbeat_by_user", "ssm_put_parameter_other_parameter"),
    ),
    PatternCase(
        "signing_key_changed",
        "signing_key_changed_pattern",
        patterns.signing_key_changed_pattern(KEY_ID),
        (
            "kms_put_key_policy",
            "kms_create_grant",
            "kms_disable_key",
            "kms_enable_key",
            "kms_schedule_key_deletion",
            "kms_cancel_key_deletion",
        ),
        ("kms_put_key_policy_other_key", "kms_derive_shared_secret_by_user", "kms_sign_other_key"),
    ),
    PatternCase(
        "sign_by_unallowed_principal",
        "sign_by_unallowed_principal_pattern",
        patterns.sign_by_unallowed_principal_pattern(SIGNING_KEY_ID, [PUBLISHER_ROLE]),
        ("kms_sign_by_user",),
        ("kms_sign_by_publisher", "kms_sign_other_key"),
    ),
)


def sample(name: str) -> dict[str, Any]:
    """``{"source": ..., "event": {...}}`` of ``cloudtrail_samples/<name>.json``."""
    return json.loads((SAMPLES_DIR / f"{name}.json").read_text())


def sample_names() -> list[str]:
    return sorted(path.stem for path in SAMPLES_DIR.glob("*.json"))
