"""``KmsEcdhChecks``: a cdk-nag pack for KMS key-agreement keys, the policies that grant derive, and the
functions that can derive, in any CDK app (docs/cdk-nag-pack.md).

Register it like cdk-nag's own packs; acknowledge a finding like theirs, on the narrowest construct, with a
reason (``KmsEcdh::KmsEcdh-<rule>``)::

    Validations.of(app).add_plugins(KmsEcdhChecks(app))

Each rule is a function of ``kmsecdh_cdk.nag_rules``; ``RULES`` says what it flags and how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import CfnResource
from cdk_nag import IApplyRule, NagMessageLevel, NagPack, NagRuleCompliance
from constructs import IConstruct

from kmsecdh_cdk import nag_rules
from kmsecdh_cdk.nag_rules import (
    FUNCTION_TYPE,
    IDENTITY_POLICY_TYPES,
    KEY_TYPE,
    REPLICA_KEY_TYPE,
)

PACK_NAME = "KmsEcdh"
KEY_TYPES = (KEY_TYPE, REPLICA_KEY_TYPE)


@dataclass(frozen=True)
class KmsEcdhRule:
    """One rule: its id (``KmsEcdh-<suffix>``), what it found, how to fix it, the resource types it reads."""

    suffix: str
    info: str
    explanation: str
    resource_types: tuple[str, ...]
    check: nag_rules.Rule

    @property
    def rule_id(self) -> str:
        return f"{PACK_NAME}-{self.suffix}"


RULES: tuple[KmsEcdhRule, ...] = (
    KmsEcdhRule(
        "DeriveToBroadPrincipal",
        "The key-agreement key's policy allows kms:DeriveSharedSecret to '*', an account root or an ARN "
        "with a wildcard.",
        "An account root hands the decision to IAM (every principal of the account whose IAM policy allows "
        "derive may derive) and a wildcard ARN admits whoever matches it. Name the exact roles or users "
        "(kmsecdh_cdk.KeyAgreementGrants.of(key).grant_derive(role)).",
        KEY_TYPES,
        nag_rules.derive_to_broad_principal,
    ),
    KmsEcdhRule(
        "DeriveWithoutEcdhCondition",
        "A statement allows kms:DeriveSharedSecret without the condition kms:KeyAgreementAlgorithm = ECDH.",
        "Pin the algorithm in every Allow of derive, in the key policy and in identity policies: "
        '"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}. KeyAgreementGrants writes both halves with '
        "it.",
        (*KEY_TYPES, *IDENTITY_POLICY_TYPES),
        nag_rules.derive_without_ecdh_condition,
    ),
    KmsEcdhRule(
        "NoDenyDeriveToOthers",
        "The key-agreement key's policy does not deny kms:DeriveSharedSecret to every principal but its "
        "derivers.",
        "Add a Deny of kms:DeriveSharedSecret to Principal '*' with ArnNotEquals aws:PrincipalArn listing "
        "exactly the principals the key policy allows to derive: an explicit deny also stops grants and any "
        "other statement from adding a deriver. KeyAgreementGrants adds it (DenyDeriveToOthers) and keeps "
        "its list current.",
        KEY_TYPES,
        nag_rules.no_deny_derive_to_others,
    ),
    KmsEcdhRule(
        "GrantCreationAllowed",
        "The key-agreement key's policy allows kms:CreateGrant (or kms:*).",
        "A grant lets its grantee derive without appearing in the key policy, so a review of the policy no "
        "longer shows who may derive. Give administrators the management actions only "
        "(kmsecdh_cdk.iam_actions.KEY_ADMINISTRATION_ACTIONS), never kms:* or kms:CreateGrant.",
        KEY_TYPES,
        nag_rules.grant_creation_allowed,
    ),
    KmsEcdhRule(
        "NoLockoutBypassDeny",
        "The key-agreement key's policy does not deny kms:PutKeyPolicy with "
        "kms:BypassPolicyLockoutSafetyCheck to everyone.",
        "Without it, anyone who may replace the key policy may also skip KMS's check that the new policy "
        "still lets them manage the key. Add kmsecdh_cdk.key_policy.deny_policy_lockout_bypass().",
        KEY_TYPES,
        nag_rules.no_lockout_bypass_deny,
    ),
    KmsEcdhRule(
        "NoMinimumDeletionWindow",
        "The key-agreement key's policy sets no minimum waiting period for kms:ScheduleKeyDeletion.",
        "A deleted key-agreement key takes every secret derived with it; a 7-day window is short to notice. "
        "Deny kms:ScheduleKeyDeletion to '*' when kms:ScheduleKeyDeletionPendingWindowInDays is below your "
        "minimum (7..30): kmsecdh_cdk.key_policy.deny_short_deletion_window(30).",
        KEY_TYPES,
        nag_rules.no_minimum_deletion_window,
    ),
    KmsEcdhRule(
        "ReplicationWithoutRegion",
        "The multi-Region key-agreement key's policy allows kms:ReplicateKey without a kms:ReplicaRegion "
        "condition.",
        "A replica may be created in any Region, with a key policy of its creator's choosing. Allow "
        "kms:ReplicateKey only with StringEquals kms:ReplicaRegion naming your replica Regions.",
        (KEY_TYPE,),
        nag_rules.replication_without_region,
    ),
    KmsEcdhRule(
        "IdentityDeriveOnAnyKey",
        "An identity policy allows kms:DeriveSharedSecret on '*' (or a wildcard ARN, or NotResource).",
        "The principal may then derive with every key-agreement key whose policy delegates to IAM. Name the "
        "key ARNs (KeyAgreementGrants writes the identity half on the key's ARN).",
        IDENTITY_POLICY_TYPES,
        nag_rules.identity_derive_on_any_key,
    ),
    KmsEcdhRule(
        "DeriverLogsAwsWireRecords",
        "A function that can derive logs at DEBUG or TRACE and is not known to drop botocore's wire records.",
        "botocore logs every response body at DEBUG, and a DeriveSharedSecret response holds the shared "
        "secret. Set the application log level to INFO or above, or drop those records in the function "
        "(import kmsecdh, which installs kmsecdh.log.drop_aws_wire_records; the DeriveFunction construct "
        "records that as the metadata kmsecdh:awsWireRecordsDropped) and acknowledge the finding with that "
        "reason.",
        (FUNCTION_TYPE,),
        nag_rules.deriver_logs_aws_wire_records,
    ),
)


@jsii.implements(IApplyRule)
class _AppliedRule:
    """One rule on one resource, as cdk-nag's ``applyRule`` takes it (properties, not attributes: jsii reads
    an interface's members through them)."""

    def __init__(self, rule: KmsEcdhRule, node: CfnResource) -> None:
        self._rule = rule
        self._node = node

    @property
    def rule_suffix_override(self) -> str:
        return self._rule.suffix

    @property
    def info(self) -> str:
        return self._rule.info

    @property
    def explanation(self) -> str:
        return self._rule.explanation

    @property
    def level(self) -> NagMessageLevel:
        return NagMessageLevel.ERROR

    @property
    def node(self) -> CfnResource:
        return self._node

    def rule(self, node: CfnResource) -> NagRuleCompliance:
        return self._rule.check(node)


class KmsEcdhChecks(NagPack):
    """The ``KmsEcdh`` rules (``RULES``) on every resource of the scope it validates.

    :param scope: the app (with ``write_suppressions_to_cloud_formation``, the scope whose resources get the
        acknowledgments in their template metadata).
    :param verbose: findings carry the explanation (how to fix) besides what was found.
    """

    def __init__(
        self,
        scope: IConstruct | None = None,
        *,
        verbose: bool | None = None,
        write_suppressions_to_cloud_formation: bool | None = None,
    ) -> None:
        super().__init__(
            scope,
            verbose=verbose,
            write_suppressions_to_cloud_formation=write_suppressions_to_cloud_formation,
        )
        self._pack_name = PACK_NAME

    @property
    def name(self) -> str:
        return PACK_NAME

    def _check_resource(self, node: CfnResource) -> None:
        # Only the rules that read this type: each applied rule is a round trip through jsii.
        resource_type = node.cfn_resource_type
        for rule in RULES:
            if resource_type in rule.resource_types:
                self._apply_rule(_AppliedRule(rule, node))
