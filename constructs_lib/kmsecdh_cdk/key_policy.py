"""Key-policy statements every key of the project carries, as small pure functions.

Shared by the key-agreement key and any other customer managed key a construct creates (for example a
log-encryption key), so the administration and guard-rail statements read the same everywhere; and the
log groups encrypted with a key of their own (``encrypted_log_group``).
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Fn, Names, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from kmsecdh_cdk import iam_actions
from kmsecdh_cdk.errors import KmsEcdhValidationError

KEY_ADMINISTRATION_SID = "KeyAdministration"
DENY_POLICY_LOCKOUT_BYPASS_SID = "DenyPolicyLockoutBypass"
DENY_SHORT_DELETION_WINDOW_SID = "DenyShortDeletionWindow"
ALLOW_ORGANIZATION_PUBLIC_KEY_READ_SID = "AllowOrganizationPublicKeyRead"
ALLOW_REPLICATION_SID_PREFIX = "AllowReplicateKeyTo"
DENY_REPLICATION_OUTSIDE_SID = "DenyReplicateKeyOutsideReplicaRegions"
DENY_PRIMARY_REGION_OUTSIDE_SID = "DenyPrimaryRegionOutsideReplicaRegions"
REPLICA_REGION_CONDITION_KEY = "kms:ReplicaRegion"
PRIMARY_REGION_CONDITION_KEY = "kms:PrimaryRegion"
PRINCIPAL_ORG_ID_CONDITION_KEY = "aws:PrincipalOrgID"
PRINCIPAL_ORG_PATHS_CONDITION_KEY = "aws:PrincipalOrgPaths"

ALLOW_CLOUDWATCH_LOGS_SID = "AllowCloudWatchLogs"
LOGS_ARN_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"

MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30


def cloudformation_execution_role_arn(scope: IConstruct) -> str:
    """The ARN of the role CloudFormation deploys the stack with, as the stack synthesizer names it.

    KMS refuses a key policy that would lock its caller out, so this role must administer every key.
    Reading it from the synthesizer honours a custom bootstrap qualifier.
    """
    synthesizer = Stack.of(scope).synthesizer
    try:
        role_arn = getattr(synthesizer, "cloud_formation_execution_role_arn", None)
    except RuntimeError as error:
        # A DefaultStackSynthesizer made in Python: the stack binds a copy of it (Object.create), and jsii
        # hands Python back the unbound original, whose role ARNs cannot be read.
        raise KmsEcdhValidationError(
            scope,
            "the stack's synthesizer was created in Python and cannot name its "
            "CloudFormation execution role; set the bootstrap qualifier with the context key "
            "@aws-cdk/core:bootstrapQualifier (on the app, a stage or the stack, before its children) "
            "instead, or pass the role ARN explicitly",
        ) from error
    if not role_arn:
        raise KmsEcdhValidationError(
            scope,
            f"the stack synthesizer {type(synthesizer).__name__} names no CloudFormation "
            "execution role; pass the role ARN explicitly",
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


def symmetric_key_administration() -> iam.PolicyStatement:
    """Account-root administration of a service key (a log or topic key): no cryptographic use."""
    return iam.PolicyStatement(
        sid=KEY_ADMINISTRATION_SID,
        principals=[iam.AccountRootPrincipal()],
        actions=list(iam_actions.SYMMETRIC_KEY_ADMINISTRATION_ACTIONS),
        resources=["*"],
    )


def allow_cloudwatch_logs(scope: IConstruct, log_group_arn: str) -> iam.PolicyStatement:
    """CloudWatch Logs of the stack's Region may encrypt with the key, for the one log group named.

    The guard against a confused deputy is the encryption context: CloudWatch Logs puts the log group's ARN
    (account and Region included) in ``kms:EncryptionContext:aws:logs:arn`` of every call, and that is the
    condition key its documentation gives for key policies. It documents no ``aws:SourceArn`` or
    ``aws:SourceAccount`` on these calls, and a condition on a key that is absent would refuse every one.
    """
    return iam.PolicyStatement(
        sid=ALLOW_CLOUDWATCH_LOGS_SID,
        principals=[iam.ServicePrincipal(f"logs.{Stack.of(scope).region}.amazonaws.com")],
        actions=list(iam_actions.LOG_ENCRYPTION_ACTIONS),
        resources=["*"],
        conditions={"ArnEquals": {LOGS_ARN_CONTEXT_KEY: log_group_arn}},
    )


def log_group_arn(scope: IConstruct, log_group_name: str) -> str:
    """The ARN CloudWatch Logs puts in the encryption context for the group of this name (no ``:*``)."""
    return Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=log_group_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def encrypted_log_group(
    scope: Construct,
    id: str,
    *,
    key_description: str,
    retention: logs.RetentionDays,
    removal_policy: RemovalPolicy,
    encryption_key: kms.IKey | None = None,
) -> logs.LogGroup:
    """A log group ``id`` with a fixed name, encrypted with its own key ``<id>Key`` (unless given one).

    The name is fixed (``/kmsecdh/`` and the scope's unique name) so the key policy can name the group's ARN:
    with a generated name the policy would have to refer to the group, which already refers to the key.
    Group and key share the removal policy: retained events stay readable only through their key.
    """
    name = f"/kmsecdh/{Names.unique_resource_name(scope, max_length=200, separator='-')}/{id}"
    key = encryption_key or symmetric_service_key(
        scope,
        f"{id}Key",
        description=key_description,
        removal_policy=removal_policy,
        service_statements=[allow_cloudwatch_logs(scope, log_group_arn(scope, name))],
    )
    return logs.LogGroup(
        scope, id, log_group_name=name, retention=retention, encryption_key=key, removal_policy=removal_policy
    )


def symmetric_service_key(
    scope: Construct,
    id: str,
    *,
    description: str,
    removal_policy: RemovalPolicy,
    service_statements: Sequence[iam.PolicyStatement],
) -> kms.Key:
    """A rotating symmetric key for AWS services: account-root administration (no cryptographic use), the
    lockout-bypass guard every key of the project carries, and the services' statements."""
    return kms.Key(
        scope,
        id,
        description=description,
        enable_key_rotation=True,
        removal_policy=removal_policy,
        policy=iam.PolicyDocument(
            statements=[symmetric_key_administration(), deny_policy_lockout_bypass(), *service_statements]
        ),
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


def allow_organization_public_key_read(
    organization_id: str | None, org_paths: Sequence[str]
) -> iam.PolicyStatement:
    """``kms:GetPublicKey`` and ``kms:DescribeKey`` for every principal of an AWS Organization
    (``aws:PrincipalOrgID``) and/or of organisational units (``ForAnyValue:StringLike`` on
    ``aws:PrincipalOrgPaths``); both given, both must hold. Never a cryptographic operation: the principal is
    ``*``, so the condition is the only boundary, and ``DenyDeriveToOthers`` still refuses them any derive.
    """
    if organization_id is None and not org_paths:
        raise ValueError("an organisation-wide reader statement needs an organisation id or paths")
    conditions: dict[str, dict[str, object]] = {}
    if organization_id is not None:
        conditions["StringEquals"] = {PRINCIPAL_ORG_ID_CONDITION_KEY: organization_id}
    if org_paths:
        conditions["ForAnyValue:StringLike"] = {PRINCIPAL_ORG_PATHS_CONDITION_KEY: list(org_paths)}
    return iam.PolicyStatement(
        sid=ALLOW_ORGANIZATION_PUBLIC_KEY_READ_SID,
        principals=[iam.AnyPrincipal()],
        actions=list(iam_actions.PUBLIC_KEY_READ_ACTIONS),
        resources=["*"],
        conditions=conditions,
    )


def allow_replication_sid(region: str) -> str:
    """``AllowReplicateKeyToEuwest1`` for eu-west-1: a statement id holds letters and digits only."""
    return ALLOW_REPLICATION_SID_PREFIX + region.replace("-", "").capitalize()


def allow_replicate_key(replicating_role_arn: str, region: str) -> iam.PolicyStatement:
    """``kms:ReplicateKey`` of a multi-Region primary key for the role that creates its replica in ``region``
    (that Region's CloudFormation execution role), into ``region`` only (``kms:ReplicaRegion``): KMS checks it
    in the primary's key policy. Without the condition, whoever could pass the role to CloudFormation could
    create a replica in any Region, with a key policy of their choosing."""
    return iam.PolicyStatement(
        sid=allow_replication_sid(region),
        principals=[iam.ArnPrincipal(replicating_role_arn)],
        actions=[iam_actions.REPLICATE_KEY_ACTION],
        resources=["*"],
        conditions={"StringEquals": {REPLICA_REGION_CONDITION_KEY: region}},
    )


def deny_replication_outside(replica_regions: Sequence[str]) -> list[iam.PolicyStatement]:
    """What bounds a multi-Region primary to its configured Regions, whatever else its policy allows:

    - ``DenyReplicateKeyOutsideReplicaRegions``: no ``kms:ReplicateKey`` into another Region (none at all
      when the key has no replica Regions);
    - ``DenyPrimaryRegionOutsideReplicaRegions``: no ``kms:UpdatePrimaryRegion`` to another Region. KMS
      moves a primary only to a Region that holds a replica, so the first deny bounds this one already; it
      still refuses a move to a replica made before the first deny existed. No statement grants the action.
    """
    bounds = (
        (DENY_REPLICATION_OUTSIDE_SID, iam_actions.REPLICATE_KEY_ACTION, REPLICA_REGION_CONDITION_KEY),
        (
            DENY_PRIMARY_REGION_OUTSIDE_SID,
            iam_actions.UPDATE_PRIMARY_REGION_ACTION,
            PRIMARY_REGION_CONDITION_KEY,
        ),
    )
    return [
        iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=[action],
            resources=["*"],
            conditions={"StringNotEquals": {key: list(replica_regions)}} if replica_regions else None,
        )
        for sid, action, key in bounds
    ]
