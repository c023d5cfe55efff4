"""A KMS key for ECDH key agreement (`KeyUsage=KEY_AGREEMENT`) with the key policy of docs/key-policy.md.

The key policy is built explicitly and is the only policy the key gets: CDK's default statement that hands
`kms:*` to the account root is never added, so IAM policies alone grant nothing on this key and every
principal that may use it is named in one of these statements:

- ``KeyAdministration``: administrators + the CloudFormation execution role; management actions only.
- ``AllowDeriveSharedSecret``: principals given ``grant_derive``; ``kms:DeriveSharedSecret`` only with
  ``kms:KeyAgreementAlgorithm = ECDH`` (and ``aws:SourceVpce`` when given).
- ``AllowPublicKeyRead``: principals given ``grant_public_key_read`` or ``grant_derive``;
  ``kms:GetPublicKey`` and ``kms:DescribeKey`` (unconditioned: the ECDH condition key is absent on them).
- ``DenyPolicyLockoutBypass``: everyone; no ``kms:PutKeyPolicy`` that bypasses the lockout safety check.
- ``DenyShortDeletionWindow``: everyone; no ``kms:ScheduleKeyDeletion`` below the minimum window.
- ``DenyDeriveToOthers``: everyone but the derivers; no ``kms:DeriveSharedSecret``.
- ``AllowOrganizationPublicKeyRead`` (optional): anyone of an AWS Organization or of organisational units
  (``aws:PrincipalOrgID`` / ``aws:PrincipalOrgPaths``); ``kms:GetPublicKey`` and ``kms:DescribeKey`` only.
- ``AllowReplicateKeyTo<Region>`` (multi-Region primaries, one per replica Region): that Region's
  CloudFormation execution role; ``kms:ReplicateKey`` into that Region only (``kms:ReplicaRegion``).
- ``DenyReplicateKeyOutsideReplicaRegions``, ``DenyPrimaryRegionOutsideReplicaRegions`` (multi-Region
  primaries): everyone; no ``kms:ReplicateKey`` nor ``kms:UpdatePrimaryRegion`` to a Region outside
  ``replica_regions`` (none at all without replica Regions).

A construct validation refuses, at synthesis, a key whose policy (as it will be deployed, escape hatches
included) lacks ``AllowDeriveSharedSecret`` or a ``DenyDeriveToOthers`` that denies every other principal.
The derive and public-key-read statements, and both halves of each grant, are ``kmsecdh_cdk.grants``'s, as
for any other key-agreement key (``KeyAgreementGrants``).
"""

from __future__ import annotations

from collections.abc import Sequence

import jsii
from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IValidation

from kmsecdh.keys import KEY_SPECS
from kmsecdh_cdk import iam_actions, key_policy
from kmsecdh_cdk.acknowledgments import skip_checkov
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating
from kmsecdh_cdk.grants import (
    ALLOW_DERIVE_SHARED_SECRET_SID,
    DENY_DERIVE_TO_OTHERS_SID,
    DeriverStatements,
    KeyAgreementGrants,
    hold_grants,
)

DEFAULT_PENDING_WINDOW = Duration.days(30)

# The specs the derive function serves are kmsecdh.keys.KEY_SPECS, the runtime's own list: configuration,
# constructs and runtime read this one list. KMS also offers SM2 for key agreement (China Regions only), but
# the runtime has no SM2 curve, so a deployed function would refuse its own configuration.
SM2_KEY_SPEC = "SM2"


def check_key_spec(key_spec: str) -> None:
    """Raise ValueError unless ``key_spec`` is one the derive function serves."""
    if key_spec == SM2_KEY_SPEC:
        raise ValueError(
            "key spec SM2 is not supported: KMS offers it for key agreement in the China Regions, but the "
            f"derive function serves only {', '.join(KEY_SPECS)}"
        )
    if key_spec not in KEY_SPECS:
        raise ValueError(f"key spec {key_spec!r} cannot do key agreement; use one of {', '.join(KEY_SPECS)}")


@jsii.implements(IValidation)
class _HasDerivers:
    def __init__(self, key: KeyAgreementKey) -> None:
        self._key = key

    def validate(self) -> list[str]:
        if self._key.allowed_deriver_arns:
            return []
        return ["a key-agreement key nobody may use: call grant_derive for at least one principal"]


@jsii.implements(IValidation)
class _PolicyKeepsTheGuard:
    """The key policy the resource will carry holds the derive statement and the guard that denies the rest.

    Read from the CloudFormation resource itself, so a policy replaced through an escape hatch is checked too.
    """

    def __init__(self, key: KeyAgreementKey) -> None:
        self._key = key

    def validate(self) -> list[str]:
        resource = self._key.key_resource
        policy = Stack.of(resource).resolve(resource.key_policy)
        statements = policy.get("Statement", []) if isinstance(policy, dict) else []
        by_sid = {statement.get("Sid"): statement for statement in statements if isinstance(statement, dict)}
        problems = []
        derive = by_sid.get(ALLOW_DERIVE_SHARED_SECRET_SID)
        if (
            derive is None
            or derive.get("Effect") != "Allow"
            or derive.get("Action") not in (DERIVE, [DERIVE])
            or not derive.get("Principal", {}).get("AWS")
        ):
            problems.append(
                f"the key policy lacks {ALLOW_DERIVE_SHARED_SECRET_SID} (Allow kms:DeriveSharedSecret to the "
                "derivers)"
            )
        deny = by_sid.get(DENY_DERIVE_TO_OTHERS_SID)
        condition = (deny or {}).get("Condition", {})
        if (
            deny is None
            or deny.get("Effect") != "Deny"
            or deny.get("Principal") not in ({"AWS": "*"}, "*")
            or deny.get("Action") not in (DERIVE, [DERIVE])
            or list(condition) != ["ArnNotEquals"]
            or list(condition["ArnNotEquals"]) != ["aws:PrincipalArn"]
        ):
            problems.append(
                f"the key policy lacks the guard {DENY_DERIVE_TO_OTHERS_SID} (Deny kms:DeriveSharedSecret to "
                "every principal but the derivers, ArnNotEquals aws:PrincipalArn)"
            )
        elif derive is not None and _as_list(derive["Principal"]["AWS"]) != _as_list(
            condition["ArnNotEquals"]["aws:PrincipalArn"]
        ):
            problems.append(f"{DENY_DERIVE_TO_OTHERS_SID} spares other principals than the derivers")
        return problems


DERIVE = iam_actions.DERIVE_SHARED_SECRET_ACTION


def _as_list(value: object) -> list[object]:
    return sorted((value if isinstance(value, list) else [value]), key=repr)


class KeyAgreementKey(Construct):
    """A KEY_AGREEMENT KMS key, its alias and its explicit key policy.

    :param key_spec: one of ``kmsecdh.keys.KEY_SPECS``.
    :param alias_name: ``alias/...`` name of the key.
    :param administrators: principals in ``KeyAdministration`` besides the CloudFormation execution role.
    :param cloudformation_execution_role_arn: default: the stack synthesizer's execution role
        (``cdk-<qualifier>-cfn-exec-role-<account>-<region>``).
    :param description: default: names the spec and the alias.
    :param pending_window: waiting period when CloudFormation deletes the key (7..30 days, not below
        ``minimum_deletion_window_days``); default 30 days.
    :param minimum_deletion_window_days: ``DenyShortDeletionWindow`` refuses shorter windows to everyone;
        default 30.
    :param removal_policy: default RETAIN.
    :param enable_key_rotation: must stay False: KMS does not rotate asymmetric keys.
    :param public_key_readers: principals given ``grant_public_key_read`` at construction.
    :param public_key_reader_organization_id: every principal of this AWS Organization (``o-...``) may read
        the public key (``AllowOrganizationPublicKeyRead``, ``aws:PrincipalOrgID``); never derive.
    :param public_key_reader_org_paths: every principal of these organisational units may read the public key
        (``ForAnyValue:StringLike`` on ``aws:PrincipalOrgPaths``); with an organisation id, both must hold.
    :param multi_region: a multi-Region primary key (id ``mrk-...``), to be replicated with
        ``ReplicaKeyAgreementKey`` (the replicating roles need ``allow_replication``).
    :param replica_regions: the only Regions the multi-Region primary may be replicated to (and its primary
        moved to); default none: the key policy then refuses every ``kms:ReplicateKey``. Only with
        ``multi_region``.
    :param generation_alias_name: a second alias naming this key for good, as one generation of a rotated
        key spec (``alias/...-p256-2026-11``), while ``alias_name`` may move on (``point_alias_at``).
    :param enabled: False disables the key (a retired generation): its policy stays whole, every
        cryptographic operation fails until it is enabled again; never deleted for that.

    Attributes: ``key`` is the ``aws_kms.Key`` it wraps (an ``aws_kms.IKey`` for any aws-cdk code; None for a
    replica, which has no L2), ``key_resource`` its CloudFormation resource, ``grants`` its
    ``KeyAgreementGrants`` (also what ``KeyAgreementGrants.of(key.key)`` returns).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key_spec: str,
        alias_name: str,
        administrators: Sequence[iam.IPrincipal] = (),
        cloudformation_execution_role_arn: str | None = None,
        description: str | None = None,
        pending_window: Duration = DEFAULT_PENDING_WINDOW,
        minimum_deletion_window_days: int = 30,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        enable_key_rotation: bool = False,
        public_key_readers: Sequence[iam.IPrincipal] = (),
        public_key_reader_organization_id: str | None = None,
        public_key_reader_org_paths: Sequence[str] = (),
        multi_region: bool = False,
        replica_regions: Sequence[str] = (),
        generation_alias_name: str | None = None,
        enabled: bool = True,
    ) -> None:
        super().__init__(scope, id)
        with validating(self):
            check_key_spec(key_spec)
        if enable_key_rotation:
            raise KmsEcdhValidationError(
                self, "enable_key_rotation: KMS does not rotate asymmetric (key agreement) keys"
            )
        if replica_regions and not multi_region:
            raise KmsEcdhValidationError(
                self, f"{alias_name}: replica_regions given for a key that is not multi-Region"
            )
        if len(set(replica_regions)) != len(replica_regions):
            raise KmsEcdhValidationError(self, f"{alias_name}: replica_regions lists a Region twice")
        with validating(self):
            key_policy.check_pending_windows(pending_window.to_days(), minimum_deletion_window_days)

        execution_role_arn = cloudformation_execution_role_arn or (
            key_policy.cloudformation_execution_role_arn(self)
        )
        self._policy = iam.PolicyDocument()
        self._deriver_statements = DeriverStatements(self._policy.add_statements)
        self._policy.add_statements(
            key_policy.key_administration([*administrators, iam.ArnPrincipal(execution_role_arn)]),
            key_policy.deny_policy_lockout_bypass(),
            key_policy.deny_short_deletion_window(minimum_deletion_window_days),
            self._deriver_statements.deny_derive_to_others(),
        )
        organization_readers = public_key_reader_organization_id is not None or bool(
            public_key_reader_org_paths
        )
        if organization_readers:
            self._policy.add_statements(
                key_policy.allow_organization_public_key_read(
                    public_key_reader_organization_id, public_key_reader_org_paths
                )
            )
        self.multi_region = multi_region
        self.replica_regions: tuple[str, ...] = tuple(replica_regions)
        self._replicating_regions: list[str] = []
        if multi_region:
            self._policy.add_statements(*key_policy.deny_replication_outside(self.replica_regions))
        self.key_resource: kms.CfnKey | kms.CfnReplicaKey = self._create_key(
            description=description or f"kmsecdh {key_spec} key agreement key {alias_name}",
            key_spec=key_spec,
            alias_name=alias_name,
            pending_window=pending_window,
            removal_policy=removal_policy,
            enabled=enabled,
        )
        self.alias_name: str = alias_name
        self.enabled: bool = enabled
        self.generation_alias_name: str | None = generation_alias_name
        self.generation_alias = (
            self._add_alias("GenerationAlias", generation_alias_name) if generation_alias_name else None
        )
        self.key_spec: str = key_spec
        self.grants = KeyAgreementGrants(
            key_arn=self.key_arn, key_policy=self._deriver_statements, key_scope=self.key_resource
        )
        if self.key is not None:
            hold_grants(self.key, self.grants)
        if organization_readers and isinstance(self.key_resource, kms.CfnKey):
            skip_checkov(
                self.key_resource,
                "CKV_AWS_33",
                "AllowOrganizationPublicKeyRead names Principal * on purpose, bounded by aws:PrincipalOrgID "
                "or aws:PrincipalOrgPaths "
                "(the documented way to admit an organisation), and allows only "
                "kms:GetPublicKey and kms:DescribeKey: a public key is meant to be read; DenyDeriveToOthers "
                "still refuses every derive to anyone but the derivers.",
            )
        for reader in public_key_readers:
            self.grant_public_key_read(reader)
        self.node.add_validation(_HasDerivers(self))
        self.node.add_validation(_PolicyKeepsTheGuard(self))

    def _create_key(
        self,
        *,
        description: str,
        key_spec: str,
        alias_name: str,
        pending_window: Duration,
        removal_policy: RemovalPolicy,
        enabled: bool,
    ) -> kms.CfnKey | kms.CfnReplicaKey:
        """The key and its alias, with ``self._policy``; sets ``key``, ``alias``, ``key_arn``, ``key_id``."""
        self.key = kms.Key(
            self,
            "Key",
            key_spec=getattr(kms.KeySpec, key_spec),
            key_usage=kms.KeyUsage.KEY_AGREEMENT,
            description=description,
            policy=self._policy,
            pending_window=pending_window,
            removal_policy=removal_policy,
            enable_key_rotation=False,
            multi_region=self.multi_region or None,
            # None leaves the template as it was before generations (Enabled absent means enabled).
            enabled=None if enabled else False,
        )
        self.key_arn: str = self.key.key_arn
        self.key_id: str = self.key.key_id
        self.alias = self._add_alias("Alias", alias_name)
        resource = self.key.node.default_child
        assert isinstance(resource, kms.CfnKey)
        return resource

    def _add_alias(self, id: str, alias_name: str) -> kms.CfnAlias:
        """An alias naming this key."""
        alias = kms.Alias(self, id, alias_name=alias_name, target_key=self.key)
        resource = alias.node.default_child
        assert isinstance(resource, kms.CfnAlias)
        return resource

    def point_alias_at(self, key: KeyAgreementKey) -> None:
        """Make ``alias_name`` name ``key`` (the current generation of the same spec) instead of this key.

        The alias resource stays where it is and only its target changes: an update in place. Moving the alias
        to another construct would make CloudFormation create the new alias before deleting the old one, and
        KMS refuses a second alias of the same name.
        """
        if key.key_spec != self.key_spec:
            raise KmsEcdhValidationError(
                self, f"{self.alias_name} names {self.key_spec} keys, not {key.key_spec}"
            )
        self.alias.target_key_id = key.key_arn

    def allow_replication(self, role_arn: str, region: str) -> None:
        """Let ``role_arn`` (``region``'s CloudFormation execution role) create this multi-Region primary's
        replica in ``region``, one of ``replica_regions`` (``kms:ReplicateKey`` with ``kms:ReplicaRegion``,
        in ``AllowReplicateKeyTo<Region>``)."""
        if not self.multi_region:
            raise KmsEcdhValidationError(
                self, f"{self.alias_name} is not a multi-Region key: it cannot be replicated"
            )
        if region not in self.replica_regions:
            raise KmsEcdhValidationError(
                self,
                f"{self.alias_name}: {region} is not one of its replica_regions "
                f"({', '.join(self.replica_regions) or 'none'}): the key policy refuses replication there",
            )
        if region in self._replicating_regions:
            raise KmsEcdhValidationError(
                self, f"{self.alias_name}: replication to {region} is already allowed"
            )
        self._replicating_regions.append(region)
        self._policy.add_statements(key_policy.allow_replicate_key(role_arn, region))

    @property
    def allowed_deriver_arns(self) -> list[str]:
        """ARNs of every principal given ``grant_derive`` so far; DenyDeriveToOthers reads it at synthesis."""
        return self._deriver_statements.deriver_arns

    def grant_derive(self, grantee: iam.IGrantable, *, source_vpce: str | None = None) -> iam.Grant:
        """Let the grantee derive shared secrets (ECDH only) and read the public key: named in the key
        policy (``AllowDeriveSharedSecret``, ``AllowPublicKeyRead``, spared by ``DenyDeriveToOthers``) and
        given the same actions on this key's ARN in its identity policy (``KeyAgreementGrants``).

        :param source_vpce: when given, the grantee may derive only through this VPC endpoint. Every deriver
            of one key shares the same endpoint condition (one ``AllowDeriveSharedSecret`` statement), so a
            principal outside that VPC cannot be a deriver of a key pinned to it.
        :raises ValueError: for an account root, an ARN with ``*`` or ``?``, or a ``source_vpce`` that
            differs from an earlier deriver's.
        """
        return self.grants.grant_derive(grantee, source_vpce=source_vpce)

    def grant_public_key_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Let the grantee read the public key (GetPublicKey) and describe the key: named in the key policy
        (``AllowPublicKeyRead``) and given the same actions on this key's ARN in its identity policy."""
        return self.grants.grant_public_key_read(grantee)
