"""A replica of a multi-Region KEY_AGREEMENT key (``AWS::KMS::ReplicaKey``) with the same key policy model.

KMS copies the key material, spec and usage of the primary; everything else is the replica's own, the key
policy included. CloudFormation creates a replica only from a stack in the replica's Region, so this lives
in a stack of that Region and names the primary by ARN (a cross-Region reference).

The policy is built exactly as for the primary (``KeyAgreementKey``): administration, the guards, derivers
named by ``grant_derive`` (there: that Region's derive function role and the configured extra derivers),
public-key readers; the same validations refuse a replica without derivers, or whose policy lacks
``AllowDeriveSharedSecret`` or the ``DenyDeriveToOthers`` guard. A replica shares its primary's key id
(``mrk-...``), so a peer sees one public key in every Region.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from kmsecdh_cdk.errors import KmsEcdhValidationError
from kmsecdh_cdk.key_agreement_key import DEFAULT_PENDING_WINDOW, KeyAgreementKey


class ReplicaKeyAgreementKey(KeyAgreementKey):
    """A replica, in this stack's Region, of the multi-Region primary ``primary_key_arn``, and its alias.

    :param primary_key_arn: the primary's ARN (a token from the primary's stack).
    :param key_spec: the primary's spec (KMS takes it from the primary; it names the curve for the function).

    The other parameters are ``KeyAgreementKey``'s; ``grant_derive`` and ``grant_public_key_read`` work the
    same way. ``key`` is None: CDK has no L2 replica key; ``key_resource`` is the ``CfnReplicaKey``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        primary_key_arn: str,
        key_spec: str,
        alias_name: str,
        administrators: Sequence[iam.IPrincipal] = (),
        cloudformation_execution_role_arn: str | None = None,
        description: str | None = None,
        pending_window: Duration = DEFAULT_PENDING_WINDOW,
        minimum_deletion_window_days: int = 30,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        public_key_readers: Sequence[iam.IPrincipal] = (),
        public_key_reader_organization_id: str | None = None,
        public_key_reader_org_paths: Sequence[str] = (),
        generation_alias_name: str | None = None,
        enabled: bool = True,
    ) -> None:
        self._primary_key_arn = primary_key_arn
        super().__init__(
            scope,
            id,
            key_spec=key_spec,
            alias_name=alias_name,
            administrators=administrators,
            cloudformation_execution_role_arn=cloudformation_execution_role_arn,
            description=description or f"kmsecdh {key_spec} key agreement key {alias_name} (replica)",
            pending_window=pending_window,
            minimum_deletion_window_days=minimum_deletion_window_days,
            removal_policy=removal_policy,
            public_key_readers=public_key_readers,
            public_key_reader_organization_id=public_key_reader_organization_id,
            public_key_reader_org_paths=public_key_reader_org_paths,
            generation_alias_name=generation_alias_name,
            enabled=enabled,
        )

    def _create_key(
        self,
        *,
        description: str,
        key_spec: str,
        alias_name: str,
        pending_window: Duration,
        removal_policy: RemovalPolicy,
        enabled: bool,
    ) -> kms.CfnReplicaKey:
        replica = kms.CfnReplicaKey(
            self,
            "Key",
            primary_key_arn=self._primary_key_arn,
            key_policy=self._policy,
            description=description,
            enabled=enabled,
            pending_window_in_days=int(pending_window.to_days()),
        )
        replica.apply_removal_policy(removal_policy)
        self.key = None
        self.key_arn: str = replica.attr_arn
        self.key_id: str = replica.attr_key_id
        self.alias = self._add_alias("Alias", alias_name)
        return replica

    def _add_alias(self, id: str, alias_name: str) -> kms.CfnAlias:
        return kms.CfnAlias(self, id, alias_name=alias_name, target_key_id=self.key_id)

    def allow_replication(self, role_arn: str, region: str) -> None:
        raise KmsEcdhValidationError(
            self, f"{self.alias_name} is a replica: only its primary key can be replicated"
        )
