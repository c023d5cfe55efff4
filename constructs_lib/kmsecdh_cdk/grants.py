"""Derive and public-key-read grants on any KEY_AGREEMENT key, ``aws_kms.IKey`` or ``KeyAgreementKey``.

aws-cdk's ``KeyGrants`` has no derive grant: ``key.grant(role, "kms:DeriveSharedSecret")`` writes an
identity-policy statement without the algorithm condition and leaves the key policy as it is.
``KeyAgreementGrants.of(key)`` writes what the project's own keys carry, as aws-kms does: each ``grant_*`` is
a thin wrapper over one ``grant``, the actions come from ``kmsecdh_cdk.iam_actions``.

* a key defined in the app (``aws_kms.Key``, ``KeyAgreementKey``): both halves. In the key policy,
  ``AllowDeriveSharedSecret`` (``kms:KeyAgreementAlgorithm = ECDH``, and ``aws:SourceVpce`` when given),
  ``AllowPublicKeyRead`` and ``DenyDeriveToOthers``, which denies derive to every principal but those granted
  it (kept current as grants are added); in the grantee's identity policy the same actions on the key's ARN,
  with the same conditions. The grantee must be in the key's stack (or no construct at all, an
  ``ArnPrincipal``): the halves name each other, so across stacks they would be a reference cycle.
* an imported key (``Key.from_key_arn``, ``from_lookup``): the identity half only, and a warning on the key
  naming what its owner must add to its key policy: ``kms:DeriveSharedSecret`` for the grantee's ARN with
  ``kms:KeyAgreementAlgorithm = ECDH`` (``kms:GetPublicKey`` and ``kms:DescribeKey`` to read), and the
  grantee spared by the key's deny of derive to everyone else, if it has one (it should: the ``KmsEcdh``
  cdk-nag pack asks for it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jsii
from aws_cdk import Annotations, IListProducer, IResolveContext, Lazy, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct, IConstruct

from kmsecdh_cdk import iam_actions
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating
from kmsecdh_cdk.principals import exact_principal_arn, principal_arn

ALLOW_DERIVE_SHARED_SECRET_SID = "AllowDeriveSharedSecret"  # noqa: S105 (a statement id)
ALLOW_PUBLIC_KEY_READ_SID = "AllowPublicKeyRead"
DENY_DERIVE_TO_OTHERS_SID = "DenyDeriveToOthers"
IMPORTED_KEY_WARNING = "kmsecdh:importedKeyPolicy"
_HOLDER_SUFFIX = "KeyAgreementGrants"
GRANTABLE_ACTIONS = (iam_actions.DERIVE_SHARED_SECRET_ACTION, *iam_actions.PUBLIC_KEY_READ_ACTIONS)


def derive_conditions(source_vpce: str | None = None) -> dict[str, dict[str, object]]:
    """What every derive Allow carries: ``kms:KeyAgreementAlgorithm = ECDH``, and ``aws:SourceVpce``."""
    conditions: dict[str, dict[str, object]] = {
        "StringEquals": {
            iam_actions.KEY_AGREEMENT_ALGORITHM_CONDITION_KEY: iam_actions.KEY_AGREEMENT_ALGORITHM
        }
    }
    if source_vpce is not None:
        conditions["StringEquals"]["aws:SourceVpce"] = source_vpce
    return conditions


@jsii.implements(IListProducer)
class _DeriverArns:
    def __init__(self, statements: DeriverStatements) -> None:
        self._statements = statements

    def produce(self, context: IResolveContext) -> list[str]:
        return self._statements.deriver_arns


class DeriverStatements:
    """The key-policy half of derive and public-key-read grants on one key: ``AllowDeriveSharedSecret``,
    ``AllowPublicKeyRead`` and ``DenyDeriveToOthers``, each added to the policy (``add_statement``) once.

    :raises ValueError: for a deriver that is an account root or an ARN with ``*`` or ``?``, or whose
        ``source_vpce`` differs from an earlier deriver's (one ``AllowDeriveSharedSecret`` per key).
    """

    def __init__(self, add_statement: Callable[[iam.PolicyStatement], object]) -> None:
        self._add_statement = add_statement
        self._deriver_arns: list[str] = []
        self._allow_derive: iam.PolicyStatement | None = None
        self._allow_public_key_read: iam.PolicyStatement | None = None
        self._deny_placed = False
        self._source_vpce: str | None = None

    @property
    def deriver_arns(self) -> list[str]:
        """ARNs of every principal allowed to derive so far; ``DenyDeriveToOthers`` spares exactly these."""
        return list(self._deriver_arns)

    def deny_derive_to_others(self) -> iam.PolicyStatement:
        """``DenyDeriveToOthers``, for the caller to place in its policy (otherwise added with the first
        deriver); its list of spared principals is read at synthesis, so later grants are in it."""
        self._deny_placed = True
        return iam.PolicyStatement(
            sid=DENY_DERIVE_TO_OTHERS_SID,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=[iam_actions.DERIVE_SHARED_SECRET_ACTION],
            resources=["*"],
            conditions={"ArnNotEquals": {"aws:PrincipalArn": Lazy.uncached_list(_DeriverArns(self))}},
        )

    def add_deriver(self, principal: iam.IPrincipal, source_vpce: str | None) -> dict[str, dict[str, object]]:
        """Name ``principal`` in ``AllowDeriveSharedSecret``; the conditions its identity half must carry."""
        deriver_arn = exact_principal_arn(principal)
        if self._allow_derive is not None and source_vpce != self._source_vpce:
            raise ValueError(
                f"grant_derive: source_vpce {source_vpce!r} differs from {self._source_vpce!r} given to an "
                "earlier deriver of the same key: every deriver of a key derives through the same VPC "
                "endpoint (or none): a principal outside the function's VPC cannot share a key pinned to it"
            )
        conditions = derive_conditions(source_vpce)
        if self._allow_derive is None:
            self._allow_derive = iam.PolicyStatement(
                sid=ALLOW_DERIVE_SHARED_SECRET_SID,
                actions=[iam_actions.DERIVE_SHARED_SECRET_ACTION],
                resources=["*"],
                conditions=conditions,
            )
            self._add_statement(self._allow_derive)
            self._source_vpce = source_vpce
        if not self._deny_placed:
            self._add_statement(self.deny_derive_to_others())
        self._allow_derive.add_principals(principal)
        self._deriver_arns.append(deriver_arn)
        return conditions

    def add_public_key_reader(self, principal: iam.IPrincipal) -> None:
        """Name ``principal`` in ``AllowPublicKeyRead`` (no condition: the ECDH key is absent on reads)."""
        if self._allow_public_key_read is None:
            self._allow_public_key_read = iam.PolicyStatement(
                sid=ALLOW_PUBLIC_KEY_READ_SID,
                actions=list(iam_actions.PUBLIC_KEY_READ_ACTIONS),
                resources=["*"],
            )
            self._add_statement(self._allow_public_key_read)
        self._allow_public_key_read.add_principals(principal)


class KeyAgreementGrants:
    """Derive and public-key-read grants on one key-agreement key: ``KeyAgreementGrants.of(key)``.

    :param key_arn: the key's ARN (the identity half's resource).
    :param key_policy: the key-policy half; None for a key this app does not define (identity half only).
    :param key_scope: the key's construct: its stack is the grantees', and an imported key's warning goes
        on it.
    """

    def __init__(self, *, key_arn: str, key_policy: DeriverStatements | None, key_scope: IConstruct) -> None:
        self._key_arn = key_arn
        self._key_policy = key_policy
        self._key_scope = key_scope

    @classmethod
    def of(cls, key: kms.IKey) -> KeyAgreementGrants:
        """The grants of ``key`` (the same object on every call, a ``KeyAgreementKey``'s own for its ``key``).

        :raises ValueError: for a key of this app whose KeyUsage is not KEY_AGREEMENT.
        """
        holder = _holder_scope(key).node.try_find_child(_holder_id(key))
        if isinstance(holder, _GrantsHolder):
            return holder.grants
        resource = key.node.default_child
        if isinstance(resource, kms.CfnKey):
            usage = resource.key_usage or kms.KeyUsage.ENCRYPT_DECRYPT.value
            if usage != kms.KeyUsage.KEY_AGREEMENT.value:
                raise KmsEcdhValidationError(key, f"KeyAgreementGrants: KeyUsage {usage}, not KEY_AGREEMENT")
            key_policy: DeriverStatements | None = DeriverStatements(key.add_to_resource_policy)
        else:
            key_policy = None
        grants = cls(key_arn=key.key_arn, key_policy=key_policy, key_scope=key)
        hold_grants(key, grants)
        return grants

    def grant(self, grantee: iam.IGrantable, *actions: str, source_vpce: str | None = None) -> iam.Grant:
        """``actions`` (of ``GRANTABLE_ACTIONS``) on the key: in its policy (a key of this app) and on its ARN
        in the grantee's identity policy; derive with ``derive_conditions(source_vpce)``.

        :raises ValueError: for another action, an account root or wildcard ARN as deriver, a grantee in
            another stack than the key, or ``source_vpce`` without derive.
        """
        unknown = sorted(set(actions) - set(GRANTABLE_ACTIONS))
        if unknown or not actions:
            raise KmsEcdhValidationError(
                self._key_scope,
                f"KeyAgreementGrants grants {', '.join(GRANTABLE_ACTIONS)}; got "
                f"{', '.join(unknown) or 'none'} (administration belongs to aws-kms's grants)",
            )
        derive = iam_actions.DERIVE_SHARED_SECRET_ACTION in actions
        if source_vpce is not None and not derive:
            raise KmsEcdhValidationError(
                self._key_scope, "source_vpce applies to kms:DeriveSharedSecret only"
            )
        principal = grantee.grant_principal
        self._check_same_stack(principal)
        reads = [action for action in actions if action in iam_actions.PUBLIC_KEY_READ_ACTIONS]
        grants = []
        if derive:
            conditions = derive_conditions(source_vpce)
            if self._key_policy is not None:
                with validating(self._key_scope):
                    conditions = self._key_policy.add_deriver(principal, source_vpce)
            grants.append(self._identity(grantee, [iam_actions.DERIVE_SHARED_SECRET_ACTION], conditions))
        if reads:
            if self._key_policy is not None:
                self._key_policy.add_public_key_reader(principal)
            grants.append(self._identity(grantee, reads))
        if self._key_policy is None:
            self._warn_key_owner(principal, derive=derive)
        combined = grants[0]
        for grant in grants[1:]:
            combined = combined.combine(grant)
        return combined

    def grant_derive(self, grantee: iam.IGrantable, *, source_vpce: str | None = None) -> iam.Grant:
        """Derive shared secrets (ECDH only, through ``source_vpce`` when given) and read the public key."""
        return self.grant(grantee, *iam_actions.DERIVE_ACTIONS, source_vpce=source_vpce)

    def grant_public_key_read(self, grantee: iam.IGrantable) -> iam.Grant:
        """Read the public key (``kms:GetPublicKey``) and describe the key."""
        return self.grant(grantee, *iam_actions.PUBLIC_KEY_READ_ACTIONS)

    def _identity(
        self,
        grantee: iam.IGrantable,
        actions: Sequence[str],
        conditions: dict[str, dict[str, object]] | None = None,
    ) -> iam.Grant:
        """The identity-policy half: ``actions`` on this key's ARN (never ``*``)."""
        return iam.Grant.add_to_principal(
            grantee=grantee, actions=list(actions), resource_arns=[self._key_arn], conditions=conditions
        )

    def _check_same_stack(self, principal: iam.IPrincipal) -> None:
        if self._key_policy is None or not isinstance(principal, Construct):
            return
        key_stack, grantee_stack = Stack.of(self._key_scope), Stack.of(principal)
        if key_stack is not grantee_stack:
            raise KmsEcdhValidationError(
                self._key_scope,
                f"KeyAgreementGrants: {principal.node.path} is in stack {grantee_stack.node.path} and the "
                f"key in {key_stack.node.path}: the key policy would name the "
                "grantee and the grantee's policy the key, a reference cycle; grant in the key's stack, or "
                "to an ArnPrincipal, or import the key where the grantee is",
            )

    def _warn_key_owner(self, principal: iam.IPrincipal, *, derive: bool) -> None:
        what = (
            "kms:DeriveSharedSecret with StringEquals kms:KeyAgreementAlgorithm = ECDH, and "
            "kms:GetPublicKey and kms:DescribeKey, and spare it in the key's Deny of derive to everyone else"
            if derive
            else "kms:GetPublicKey and kms:DescribeKey"
        )
        arn = principal_arn(principal)
        grantee = f"the ARN of {principal.node.path}" if Token.is_unresolved(arn) else arn
        Annotations.of(self._key_scope).add_warning_v2(
            IMPORTED_KEY_WARNING,
            f"{self._key_scope.node.path} is not defined in this app, so only the grantee's identity policy "
            f"was written: the key's owner must allow {grantee} {what} in its key policy",
        )


class _GrantsHolder(Construct):
    """Keeps a key's ``KeyAgreementGrants`` in the construct tree, beside the key, so ``of`` finds it again.

    Beside, not under: an imported key reaches Python as an interface proxy, which cannot be a scope.
    """

    def __init__(self, key: IConstruct, grants: KeyAgreementGrants) -> None:
        super().__init__(_holder_scope(key), _holder_id(key))
        self.grants = grants


def _holder_scope(key: IConstruct) -> Construct:
    scope = key.node.scope
    assert isinstance(scope, Construct), f"{key.node.path} has no scope"
    return scope


def _holder_id(key: IConstruct) -> str:
    return f"{key.node.id}{_HOLDER_SUFFIX}"


def hold_grants(key: IConstruct, grants: KeyAgreementGrants) -> None:
    """Make ``KeyAgreementGrants.of(key)`` return ``grants`` (a ``KeyAgreementKey``'s, for its ``key``)."""
    _GrantsHolder(key, grants)
