"""What the audit is told about and what it alarms on: the derive functions and signing key it watches, and
the catalogue of audited events (one metric and one alarm each).

Pure data, no construct code: the alarms' metric names are the operators' vocabulary (docs/auditing.md), so
they are listed in one place, in the order the alarms are made.
"""

from __future__ import annotations

from dataclasses import dataclass


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
