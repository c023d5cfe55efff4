"""Key-policy statements every key of the project carries, as small pure functions.

Shared by the key-agreement key and any other customer managed key a construct creates (for example a
log-encryption key), so the administration and guard-rail statements read the same everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Fn, Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from constructs_lib import iam_actions

KEY_ADMINISTRATION_SID = "KeyAdministration"
DENY_POLICY_LOCKOUT_BYPASS_SID = "DenyPolicyLockoutBypass"
DENY_SHORT_DELETION_WINDOW_SID = "DenyShortDeletionWindow"

MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30


def cloudformation_execution_role_arn(scope: IConstruct) -> str:
    """The ARN of the role CloudFormation deploys the stack with, as the stack synthesizer names it.

    KMS refuses a key policy that would lock its caller out, so this role must administer every key.
    Reading it from the synthesizer honours a custom bootstrap qualifier.
    """
    synthesizer = Stack.of(scope).synthesizer
    role_arn = getattr(synthesizer, "cloud_formation_execution_role_arn", None)
    if not role_arn:
        raise ValueError(
            f"{scope.node.path}: the stack synthesizer {type(synthesizer).__name__} names no CloudFormation "
            "execution role; pass the role ARN explicitly"
        )
    # The synthesizer's ARN carries ${AWS::AccountId}-style placeholders that only Fn::Sub resolves.
    return Fn.sub(role_arn)


def key_administration(principals: Sequence[iam.IPrincipal]) -> iam.PolicyStatement:
    """Management actions only: no cryptographic operation and no CreateGrant."""
    return iam.PolicyStatement(
        sid=KEY_ADMINISTRATION_SID,
        principals=list(principals),
        actions=list(iam_actions.KEY_ADMINISTRATION_ACTIONS),
        resources=["*"],
    )


def deny_policy_lockout_bypass() -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=DENY_POLICY_LOCKOUT_BYPASS_SID,
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=[iam_actions.PUT_KEY_POLICY_ACTION],
        resources=["*"],
        conditions={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
    )


def deny_short_deletion_window(minimum_days: int) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=DENY_SHORT_DELETION_WINDOW_SID,
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=[iam_actions.SCHEDULE_KEY_DELETION_ACTION],
        resources=["*"],
        conditions={"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": minimum_days}},
    )


def check_pending_windows(pending_window_days: float, minimum_deletion_window_days: int) -> None:
    """Both windows within KMS's 7..30 days, and the key's own window not below the enforced minimum."""
    for name, days in (
        ("pending_window", pending_window_days),
        ("minimum_deletion_window_days", minimum_deletion_window_days),
    ):
        if not MIN_PENDING_WINDOW_DAYS <= days <= MAX_PENDING_WINDOW_DAYS:
            raise ValueError(
                f"{name} must be {MIN_PENDING_WINDOW_DAYS}..{MAX_PENDING_WINDOW_DAYS} days, got {days}"
            )
    if pending_window_days < minimum_deletion_window_days:
        # CloudFormation would schedule deletion with this window and DenyShortDeletionWindow would refuse it.
        raise ValueError(
            f"pending_window ({pending_window_days} days) is below minimum_deletion_window_days "
            f"({minimum_deletion_window_days})"
        )
