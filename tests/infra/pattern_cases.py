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

from kmsecdh_cdk import audit_patterns as patterns

SAMPLES_DIR = Path(__file__).parent / "cloudtrail_samples"

KEY = "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
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
    builder: str  # the audit_patterns function
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
        patterns.key_policy_or_grant_changed_pattern(KEY),
        ("kms_put_key_policy", "kms_create_grant"),
        ("kms_put_key_policy_other_key", "kms_schedule_key_deletion", "kms_derive_shared_secret_by_user"),
    ),
    PatternCase(
        "derive_by_unallowed_principal_roles_allowed",
        "derive_by_unallowed_principal_pattern",
        patterns.derive_by_unallowed_principal_pattern(KEY, [DERIVE_ROLE, BATCH_ROLE]),
        ("kms_derive_shared_secret_by_user", "kms_derive_access_denied"),
        (
            "kms_derive_shared_secret_by_function",
            "kms_derive_shared_secret_by_role_other_session",
            "kms_put_key_policy",
        ),
    ),
    PatternCase(
        "derive_by_unallowed_principal_user_allowed",
        "derive_by_unallowed_principal_pattern",
        patterns.derive_by_unallowed_principal_pattern(KEY, [ALICE]),
        ("kms_derive_shared_secret_by_function", "kms_derive_shared_secret_by_role_other_session"),
        ("kms_derive_shared_secret_by_user",),
    ),
    PatternCase(
        "key_access_denied",
        "key_access_denied_pattern",
        patterns.key_access_denied_pattern(KEY),
        ("kms_derive_access_denied", "kms_derive_access_denied_key_arn_in_request"),
        ("kms_derive_shared_secret_by_user", "kms_derive_key_disabled", "lambda_get_function_denied"),
    ),
    PatternCase(
        "derive_on_unusable_key",
        "derive_on_unusable_key_pattern",
        patterns.derive_on_unusable_key_pattern(KEY),
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
        patterns.retired_key_used_pattern(KEY),
        (
            "kms_derive_shared_secret_by_function",
            "kms_derive_shared_secret_by_user",
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
)


def sample(name: str) -> dict[str, Any]:
    """``{"source": ..., "event": {...}}`` of ``cloudtrail_samples/<name>.json``."""
    return json.loads((SAMPLES_DIR / f"{name}.json").read_text())


def sample_names() -> list[str]:
    return sorted(path.stem for path in SAMPLES_DIR.glob("*.json"))
