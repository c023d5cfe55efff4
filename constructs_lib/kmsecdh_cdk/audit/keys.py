"""The audit's own symmetric keys (the trail key and the alarm topic key)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from kmsecdh_cdk import key_policy

DEFAULT_MINIMUM_DELETION_WINDOW_DAYS = 30


def audit_key(
    scope: Construct,
    id: str,
    description: str,
    service_statements: Sequence[iam.PolicyStatement],
    *,
    removal_policy: RemovalPolicy,
    minimum_deletion_window_days: int,
) -> kms.Key:
    """A rotating symmetric key of the audit itself: account-root administration (no cryptographic use),
    the guards the key-agreement keys have (lockout bypass, minimum deletion window), plus the services.
    Disabling or deleting it silences the audit, so ``AuditLayerChanged`` watches it."""
    return key_policy.symmetric_service_key(
        scope,
        id,
        description=description,
        removal_policy=removal_policy,
        service_statements=[
            key_policy.deny_short_deletion_window(minimum_deletion_window_days),
            *service_statements,
        ],
    )
