"""CloudTrail auditing of the keys: a trail of its own or an organisation trail's log group, and alarms.

A stack of its own so the audit trail's lifecycle (retained bucket, log group, alarm topic) is separate
from the keys and the function: the security team can deploy and change it alone, and tearing down the
function never touches the evidence.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Stack
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsecdh_cdk.audit import AuditedFunction, AuditedSigningKey, KeyUsageAudit
from stacks.config import EnvironmentConfig


class AuditStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EnvironmentConfig,
        key_ids: Sequence[str],
        allowed_deriver_arns: Sequence[str],
        alias_names: Sequence[str],
        retired_key_ids: Sequence[str],
        derive_functions: Sequence[AuditedFunction],
        signing_key: AuditedSigningKey | None,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.audit = KeyUsageAudit(
            self,
            "KeyUsageAudit",
            key_ids=key_ids,
            allowed_deriver_arns=allowed_deriver_arns,
            alias_names=alias_names,
            retired_key_ids=retired_key_ids,
            derive_functions=derive_functions,
            signing_key=signing_key,
            existing_log_group_name=config.trail_log_group_name if config.trail_mode == "existing" else None,
            alarm_email=config.alarm_email,
            log_retention=config.log_retention,
            bucket_retention=Duration.days(config.trail_bucket_retention_days),
            object_lock=trail_object_lock(config),
            removal_policy=config.cdk_removal_policy,
            minimum_deletion_window_days=config.minimum_deletion_window_days,
            metric_namespace=f"kmsecdh/{config.name}",
            # The prefix of every key alias of the environment, which the guardrails name.
            key_alias_prefix=config.key_alias_prefix,
        )


def trail_object_lock(config: EnvironmentConfig) -> s3.ObjectLockRetention | None:
    """The environment's Object Lock of its trail's log files, if it configures one."""
    if config.trail_object_lock_mode is None or config.trail_object_lock_days is None:
        return None
    lock = getattr(s3.ObjectLockRetention, config.trail_object_lock_mode)
    return lock(Duration.days(config.trail_object_lock_days))
