"""Which metric filter patterns each audited event gets, for the keys, aliases, functions, signing key and
audit resources an audit watches: one pattern per resource (all feeding the event's metric) so that a
pattern never grows with their number, each checked against CloudWatch Logs' length limit.

Each pattern comes with the reason it could be too long, which the limit's error message gives.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from constructs import Construct

from kmsecdh_cdk.audit.events import (
    DERIVE_BY_UNALLOWED_PRINCIPAL,
    DERIVE_OUTSIDE_FUNCTION,
    FUNCTION_CHANGED,
    FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL,
    KEY_ACCESS_DENIED,
    KEY_ALIAS_CHANGED,
    KEY_DISABLED_OR_DELETION_SCHEDULED,
    KEY_POLICY_OR_GRANT_CHANGED,
    KEY_REPLICATED,
    RETIRED_OR_DISABLED_KEY_USED,
    ROLE_CHANGED,
    ROLE_PASSED_TO_FUNCTION,
    SIGN_BY_UNALLOWED_PRINCIPAL,
    SIGNING_KEY_CHANGED,
    AuditedEvent,
    AuditedFunction,
    AuditedSigningKey,
)
from kmsecdh_cdk.audit.patterns import (
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
from kmsecdh_cdk.errors import KmsEcdhValidationError

# (pattern, why it could be too long), per event
EventPatterns = dict[AuditedEvent, list[tuple[str, str]]]


def key_patterns(
    key_ids: list[str],
    allowed_deriver_arns: list[str],
    alias_names: list[str],
    retired_key_ids: list[str],
) -> EventPatterns:
    """Every key and alias event's."""
    names = "its key id and alias names are too long"
    derivers = f"{len(allowed_deriver_arns)} allowed derivers are too many for one pattern"
    return {
        KEY_DISABLED_OR_DELETION_SCHEDULED: [(key_disabled_or_deletion_scheduled_pattern(), names)],
        KEY_POLICY_OR_GRANT_CHANGED: [(key_policy_or_grant_changed_pattern(key), names) for key in key_ids],
        KEY_REPLICATED: [(key_replication_pattern(key), names) for key in key_ids],
        DERIVE_BY_UNALLOWED_PRINCIPAL: [
            (derive_by_unallowed_principal_pattern(key, allowed_deriver_arns), derivers) for key in key_ids
        ],
        KEY_ACCESS_DENIED: [
            *((key_access_denied_pattern(key), names) for key in key_ids),
            *((alias_access_denied_pattern(alias), names) for alias in alias_names),
        ],
        KEY_ALIAS_CHANGED: [(alias_changed_pattern(alias), names) for alias in alias_names],
        RETIRED_OR_DISABLED_KEY_USED: [
            *((derive_on_unusable_key_pattern(key), names) for key in key_ids if key not in retired_key_ids),
            *((retired_key_used_pattern(key), names) for key in retired_key_ids),
        ],
    }


def function_patterns(scope: Construct, derive_functions: list[AuditedFunction]) -> EventPatterns:
    names = "its names and ARNs are too long"
    return {
        FUNCTION_INVOKED_BY_UNALLOWED_PRINCIPAL: [
            (
                function_invoked_by_unallowed_principal_pattern(function.function_arn, function.caller_arns),
                f"{len(function.caller_arns)} callers are too many for one pattern",
            )
            for function in derive_functions
        ],
        FUNCTION_CHANGED: [
            (function_changed_pattern(function.function_arn, function.function_name), names)
            for function in derive_functions
        ],
        ROLE_CHANGED: [(role_changed_pattern(function.role_name), names) for function in derive_functions],
        ROLE_PASSED_TO_FUNCTION: [
            (role_passed_to_function_pattern(function.role_arn), names) for function in derive_functions
        ],
        DERIVE_OUTSIDE_FUNCTION: [
            (
                derive_outside_function_pattern(function.role_arn, _function_session_arn(scope, function)),
                names,
            )
            for function in derive_functions
        ],
    }


def signing_key_patterns(signing_key: AuditedSigningKey | None) -> EventPatterns:
    if signing_key is None:
        return {}
    return {
        SIGNING_KEY_CHANGED: [(signing_key_changed_pattern(signing_key.key_id), "its key id is too long")],
        SIGN_BY_UNALLOWED_PRINCIPAL: [
            (
                sign_by_unallowed_principal_pattern(signing_key.key_id, signing_key.signer_arns),
                f"{len(signing_key.signer_arns)} signers are too many for one pattern",
            )
        ],
    }


def audit_layer_patterns(
    log_group_name: str, alarm_name_prefix: str, topic_arn: str, audit_key_ids: Sequence[str]
) -> list[tuple[str, str]]:
    """The trail (any of the account), the log group, the alarms, the topic and the audit's own keys."""
    names = "its names are too long"
    return [
        (trail_changed_pattern(), names),
        (audit_log_group_changed_pattern(log_group_name), names),
        (alarms_changed_pattern(alarm_name_prefix), names),
        (alarm_topic_changed_pattern(topic_arn), names),
        *((audit_key_changed_pattern(key_id), names) for key_id in audit_key_ids),
    ]


def _function_session_arn(scope: Construct, function: AuditedFunction) -> str:
    """``arn:<partition>:sts::<account>:assumed-role/<role name>/<function name>``: Lambda names the
    role session after the function."""
    return Stack.of(scope).format_arn(
        service="sts",
        region="",
        resource="assumed-role",
        resource_name=f"{function.role_name}/{function.function_name}",
    )


def checked(scope: Construct, event: AuditedEvent, pattern: str, reason: str) -> str:
    """``pattern``, unless it could exceed CloudWatch Logs' limit once its tokens are resolved."""
    length = estimated_pattern_length(pattern)
    if length > MAX_FILTER_PATTERN_LENGTH:
        raise KmsEcdhValidationError(
            scope,
            f"the {event.metric_name} filter pattern would be about {length} characters, over "
            f"CloudWatch Logs' limit of {MAX_FILTER_PATTERN_LENGTH}: {reason}",
        )
    return pattern
