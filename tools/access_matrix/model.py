"""The access model: who may do what, written from the configuration, docs/key-policy.md and
docs/guardrails.md.

The evaluator's decisions (``evaluate``) are compared with these, cell by cell. Nothing here reads a policy:
a rule says, for example, "a key-agreement key's public key is read by the derivers of its Region, the extra
derivers, the readers and publishers, and by the whole organisation where the environment names it".
"""

from __future__ import annotations

from stacks.config import EnvironmentConfig
from tools.access_matrix.world import Action, Environment, Principal, Request

# Principals whose IAM policy allows everything (AdministratorAccess and the like).
ALLOW_ALL_KINDS = frozenset({"account administrator", "organisation member", "outsider"})
DEPLOYER = "CloudFormation role"
KEY_CHANGES = frozenset(
    {
        "kms:PutKeyPolicy",
        "kms:ScheduleKeyDeletion",
        "kms:DisableKey",
        "kms:UntagResource",
        "kms:ReplicateKey",
        "kms:UpdatePrimaryRegion",
        "kms:CreateGrant",
        "kms:UpdateAlias",
    }
)
# What the organisation's resource control policy refuses to principals outside the organisation.
OUTSIDE_ORGANIZATION_REFUSED = frozenset({"kms:DeriveSharedSecret", "kms:Sign"})


def _is_deployer(principal: Principal, region: str | None = None) -> bool:
    """One of the environment's CloudFormation execution roles (of ``region``, when given)."""
    if region is None:
        return any(kind.startswith(DEPLOYER) for kind in principal.kinds)
    return f"{DEPLOYER} {region}" in principal.kinds


def _allows_everything(principal: Principal) -> bool:
    return bool(principal.kinds & ALLOW_ALL_KINDS) or _is_deployer(principal)


def _organisation_reads(principal: Principal, environment: Environment, *, with_paths: bool) -> bool:
    """Whether the key policy's organisation statement admits the principal: it is in the organisation the
    environment names (and, with ``with_paths`` and paths configured, in one of those OUs)."""
    config = environment.config
    organization_id = config.public_key_reader_organization_id
    paths = config.public_key_reader_org_paths if with_paths else ()
    if organization_id is None and not paths:
        return False
    if not principal.in_organization:
        return False
    if organization_id is not None and organization_id != environment.organization_id:
        return False
    return not paths or bool(principal.organization_paths)


def _key_administration(principal: Principal, region: str) -> bool:
    return "key administrator" in principal.kinds or _is_deployer(principal, region)


def _key_agreement_key(request: Request, environment: Environment) -> bool:
    principal, action, key = request.principal, request.action, request.resource
    config: EnvironmentConfig = environment.config
    region = key.region
    derives_here = f"derive role {region}" in principal.kinds
    if action.name == "kms:DeriveSharedSecret":
        if config.network_isolation:
            return derives_here and action.through_endpoint
        return derives_here or "extra deriver" in principal.kinds
    if action.name == "kms:GetPublicKey":
        return (
            derives_here
            or bool(principal.kinds & {"extra deriver", "reader", "publisher"})
            or _organisation_reads(principal, environment, with_paths=True)
        )
    if action.name in ("kms:PutKeyPolicy", "kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:UntagResource"):
        return not _key_guard_refuses(action, config) and _key_administration(principal, region)
    if action.name == "kms:ReplicateKey":
        target = action.context["kms:ReplicaRegion"]
        return target in config.replica_regions and _is_deployer(principal, target)
    # kms:CreateGrant, kms:UpdatePrimaryRegion: no statement grants them.
    return False


def _signing_key(request: Request, environment: Environment) -> bool:
    principal, action = request.principal, request.action
    if action.name == "kms:Sign":
        return "publisher" in principal.kinds
    if action.name == "kms:GetPublicKey":
        return bool(principal.kinds & {"reader", "publisher"}) or _organisation_reads(
            principal, environment, with_paths=False
        )
    return _key_administration(principal, request.resource.region)


def _key_guard_refuses(action: Action, config: EnvironmentConfig) -> bool:
    """What every key's policy denies to everyone: the lockout-safety bypass and a deletion window below the
    environment's minimum."""
    if action.name == "kms:PutKeyPolicy":
        return action.context["kms:BypassPolicyLockoutSafetyCheck"] == "true"
    if action.name == "kms:ScheduleKeyDeletion":
        days = int(action.context["kms:ScheduleKeyDeletionPendingWindowInDays"])
        return days < config.minimum_deletion_window_days
    return False


def _iam_decides(principal: Principal, account: str) -> bool:
    """A key whose policy delegates to its account's IAM (the audit's keys, and their aliases): a principal
    of that account whose IAM policy allows the action."""
    return principal.account == account and (
        _allows_everything(principal) or "key administrator" in principal.kinds
    )


def _audit_key(request: Request, environment: Environment) -> bool:
    """The trail and topic keys: account-root administration, under the guards every key carries."""
    return not _key_guard_refuses(request.action, environment.config) and _iam_decides(
        request.principal, request.resource.account
    )


def without_guardrails(request: Request, environment: Environment) -> bool:
    """What the environment's own policies allow."""
    principal, action, resource = request.principal, request.action, request.resource
    same_account = principal.account == resource.account
    if resource.kind == "key-agreement key":
        return _key_agreement_key(request, environment)
    if resource.kind == "signing key":
        return _signing_key(request, environment)
    if resource.kind == "audit key":
        return _audit_key(request, environment)
    if resource.kind == "alias":
        assert resource.target_key is not None
        if resource.target_key.kind == "audit key":  # IAM decides on both the alias and its key
            return _iam_decides(principal, resource.account)
        return _key_administration(principal, resource.target_key.region)
    if resource.kind == "function" and action.name == "lambda:InvokeFunction":
        # The function's policy names the callers; within the account, an IAM policy alone suffices.
        return "caller" in principal.kinds or (same_account and _allows_everything(principal))
    # Changes to the function, its role and the audit layer: no resource policy grants them, so only a
    # principal of the account whose IAM policy allows them.
    return same_account and _allows_everything(principal)


def guardrails_refuse(request: Request, environment: Environment) -> bool:
    """What the organisation's policies refuse on top (docs/guardrails.md)."""
    principal, action, resource = request.principal, request.action, request.resource
    if not environment.guarded:
        return False
    if (
        resource.account in environment.guarded_accounts
        and action.name in OUTSIDE_ORGANIZATION_REFUSED
        and not principal.in_organization
    ):
        return True
    if not (principal.in_organization and principal.account in environment.guarded_accounts):
        return False  # service control policies apply to the targets' principals only
    if resource.kind == "function" and action.name == "lambda:InvokeFunction":
        return "caller" not in principal.kinds
    changes = resource.kind in ("function", "role", "trail", "log group", "alarm", "topic", "alias") or (
        resource.kind in ("key-agreement key", "signing key", "audit key") and action.name in KEY_CHANGES
    )
    return changes and not _is_deployer(principal)


def expected(request: Request, environment: Environment, *, guardrails: bool) -> bool:
    allowed = without_guardrails(request, environment)
    return allowed and not (guardrails and guardrails_refuse(request, environment))
