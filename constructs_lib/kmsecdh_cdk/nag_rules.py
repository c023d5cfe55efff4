"""The rules of the ``KmsEcdh`` cdk-nag pack (``kmsecdh_cdk.nag_pack``): small pure functions, one per rule,
each taking a CloudFormation resource and answering compliant, non-compliant or not applicable.

They read a resource's properties as CDK will render them (tokens resolved; a raw override written with
``add_property_override`` is not seen, as with every cdk-nag rule) and, where a rule needs another resource
of the same stack (the key an identity policy names, the role of a function), find it by logical id.

A key-agreement key is an ``AWS::KMS::Key`` with ``KeyUsage: KEY_AGREEMENT`` however it was made (the
project's ``KeyAgreementKey``, ``aws_kms.Key``, ``CfnKey``), or an ``AWS::KMS::ReplicaKey`` whose primary is
one: the primary found through the reference its ``PrimaryKeyArn`` holds, or, for a primary outside the app,
a replica whose key policy names ``kms:DeriveSharedSecret`` or ``kms:KeyAgreementAlgorithm``.
No rule asks for rotation: KMS rotates no asymmetric key.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource, Reference, Stack, Tokenization
from aws_cdk import aws_kms as kms
from cdk_nag import NagRuleCompliance

from kmsecdh_cdk import iam_actions
from kmsecdh_cdk.key_policy import MAX_PENDING_WINDOW_DAYS, MIN_PENDING_WINDOW_DAYS

KEY_TYPE = "AWS::KMS::Key"
REPLICA_KEY_TYPE = "AWS::KMS::ReplicaKey"
FUNCTION_TYPE = "AWS::Lambda::Function"
ROLE_TYPE = "AWS::IAM::Role"
POLICY_TYPE = "AWS::IAM::Policy"
MANAGED_POLICY_TYPE = "AWS::IAM::ManagedPolicy"
IDENTITY_POLICY_TYPES = (POLICY_TYPE, MANAGED_POLICY_TYPE, ROLE_TYPE, "AWS::IAM::User", "AWS::IAM::Group")
KEY_AGREEMENT_USAGE = "KEY_AGREEMENT"

DERIVE = iam_actions.DERIVE_SHARED_SECRET_ACTION
CREATE_GRANT = "kms:CreateGrant"
PUT_KEY_POLICY = iam_actions.PUT_KEY_POLICY_ACTION
SCHEDULE_KEY_DELETION = iam_actions.SCHEDULE_KEY_DELETION_ACTION
REPLICATE_KEY = iam_actions.REPLICATE_KEY_ACTION
REPLICA_REGION_CONDITION_KEY = "kms:ReplicaRegion"
LOCKOUT_BYPASS_CONDITION_KEY = "kms:BypassPolicyLockoutSafetyCheck"
PENDING_WINDOW_CONDITION_KEY = "kms:ScheduleKeyDeletionPendingWindowInDays"
PRINCIPAL_ARN_CONDITION_KEY = "aws:PrincipalArn"
# The operators a deny can spare principals with: every principal whose ARN is not one of the listed.
SPARING_OPERATORS = ("ArnNotEquals", "ArnNotLike", "StringNotEquals", "StringNotLike")
# Application log levels at which botocore's wire records (a DeriveSharedSecret response holds Z) are written.
WIRE_LOGGING_LEVELS = ("DEBUG", "TRACE")
AWS_WIRE_RECORDS_DROPPED_METADATA = "kmsecdh:awsWireRecordsDropped"
"""Template metadata of a function whose code drops botocore's wire records below INFO before any handler
sees them (``kmsecdh.log.drop_aws_wire_records``, installed by ``import kmsecdh``); ``DeriveFunction`` sets
it on its function."""

Rule = Callable[[CfnResource], NagRuleCompliance]


# --- policy statements ---------------------------------------------------------------------------


def _as_list(value: object) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _matches(pattern: str, action: str) -> bool:
    """IAM's action matching: case-insensitive, ``*`` any run of characters, ``?`` one."""
    expression = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(expression, action, re.IGNORECASE) is not None


@dataclass(frozen=True)
class Statement:
    """One policy statement, resolved, with the questions the rules ask of it."""

    raw: Mapping[str, Any]

    @property
    def allows(self) -> bool:
        return self.raw.get("Effect") == "Allow"

    @property
    def denies(self) -> bool:
        return self.raw.get("Effect") == "Deny"

    def covers(self, action: str) -> bool:
        """Whether the statement applies to ``action`` (``Action`` matches it, or ``NotAction`` does not)."""
        if "NotAction" in self.raw:
            return not any(_matches(pattern, action) for pattern in _as_list(self.raw["NotAction"]))
        return any(_matches(pattern, action) for pattern in _as_list(self.raw.get("Action")))

    def names(self, action: str) -> bool:
        """Whether ``Action`` lists ``action`` itself, not only through a wildcard."""
        return any(pattern.lower() == action.lower() for pattern in _as_list(self.raw.get("Action")))

    @property
    def to_everyone(self) -> bool:
        principal = self.raw.get("Principal")
        return principal == "*" or (isinstance(principal, Mapping) and principal.get("AWS") == "*")

    @property
    def aws_principals(self) -> list[Any]:
        principal = self.raw.get("Principal")
        if principal == "*":
            return ["*"]
        return _as_list(principal.get("AWS")) if isinstance(principal, Mapping) else []

    @property
    def resources(self) -> list[Any]:
        """``Resource``'s entries; ``NotResource`` reads as ``*`` (everything but a few)."""
        return ["*"] if "NotResource" in self.raw else _as_list(self.raw.get("Resource"))

    def condition(self, operator: str, key: str) -> list[Any] | None:
        """The values of condition ``key`` (case-insensitive, as IAM reads keys) under ``operator``."""
        for name, value in (self.raw.get("Condition") or {}).get(operator, {}).items():
            if name.lower() == key.lower():
                return _as_list(value)
        return None

    def has_condition_key(self, key: str) -> bool:
        return any(
            name.lower() == key.lower()
            for entries in (self.raw.get("Condition") or {}).values()
            for name in entries
        )


def statements(document: object) -> list[Statement]:
    if not isinstance(document, Mapping):
        return []
    return [Statement(raw) for raw in _as_list(document.get("Statement")) if isinstance(raw, Mapping)]


def properties(node: CfnResource) -> dict[str, Any]:
    """The resource's CloudFormation properties as CDK renders them, tokens resolved."""
    rendered = Stack.of(node).resolve(node._render_properties(node._cfn_properties))
    return rendered if isinstance(rendered, dict) else {}


def _stack_resources(stack: Stack) -> Iterator[CfnResource]:
    for construct in stack.node.find_all():
        if isinstance(construct, CfnResource) and Stack.of(construct) is stack:
            yield construct


def _referenced_logical_id(value: object) -> object | None:
    """The logical id a resolved ``Ref`` or ``Fn::GetAtt`` names, None for any other value."""
    if isinstance(value, Mapping) and "Fn::GetAtt" in value:
        return _as_list(value["Fn::GetAtt"])[0]
    if isinstance(value, Mapping) and "Ref" in value:
        return value["Ref"]
    return None


def _resource_by_logical_id(node: CfnResource, logical_id: object) -> CfnResource | None:
    stack = Stack.of(node)
    for resource in _stack_resources(stack):
        if stack.resolve(resource.logical_id) == logical_id:
            return resource
    return None


# --- what a key-agreement key is ------------------------------------------------------------------


def _is_key_agreement_cfn_key(resource: object) -> bool:
    return isinstance(resource, kms.CfnKey) and properties(resource).get("KeyUsage") == KEY_AGREEMENT_USAGE


def _primary_of(replica: kms.CfnReplicaKey) -> list[object]:
    """The constructs the replica's ``PrimaryKeyArn`` refers to (none for a literal ARN)."""
    fragments = Tokenization.reverse_string(replica.primary_key_arn)
    return [token.target for token in fragments.tokens if isinstance(token, Reference)]


def _names_key_agreement(policy: list[Statement]) -> bool:
    algorithm_key = iam_actions.KEY_AGREEMENT_ALGORITHM_CONDITION_KEY
    return any(statement.names(DERIVE) or statement.has_condition_key(algorithm_key) for statement in policy)


def is_key_agreement_key(resource: object) -> bool:
    if _is_key_agreement_cfn_key(resource):
        return True
    if not isinstance(resource, kms.CfnReplicaKey):
        return False
    primaries = _primary_of(resource)
    if primaries:
        return any(_is_key_agreement_cfn_key(primary) for primary in primaries)
    return _names_key_agreement(statements(properties(resource).get("KeyPolicy")))


def key_agreement_key_policy(node: CfnResource) -> list[Statement] | None:
    """The key policy's statements of a key-agreement key, None for any other resource."""
    if not is_key_agreement_key(node):
        return None
    return statements(properties(node).get("KeyPolicy"))


# --- identity policies ----------------------------------------------------------------------------


def identity_statements(node: CfnResource) -> list[Statement] | None:
    """Every statement of an identity policy resource (a policy, or a role's, user's or group's inline
    policies), None for any other resource."""
    if node.cfn_resource_type not in IDENTITY_POLICY_TYPES:
        return None
    props = properties(node)
    if node.cfn_resource_type in (POLICY_TYPE, MANAGED_POLICY_TYPE):
        return statements(props.get("PolicyDocument"))
    return [
        statement
        for policy in _as_list(props.get("Policies"))
        if isinstance(policy, Mapping)
        for statement in statements(policy.get("PolicyDocument"))
    ]


def _is_wildcard_resource(resource: object) -> bool:
    return isinstance(resource, str) and ("*" in resource or "?" in resource)


def _may_be_key_agreement_key(node: CfnResource, resource: object) -> bool:
    """Whether an identity statement's ``resource`` could be a key-agreement key: a wildcard, a KMS ARN, a
    key-agreement key of the stack, or a value that cannot be told (an import, a parameter)."""
    if isinstance(resource, str):
        return resource == "*" or ":kms:" in resource
    logical_id = _referenced_logical_id(resource)
    if logical_id is None:
        return True
    target = _resource_by_logical_id(node, logical_id)
    return target is None or is_key_agreement_key(target)


def grants_derive(node: CfnResource, statement: Statement) -> bool:
    """An identity statement that lets its holder derive on a key that may be a key-agreement key.

    A wildcard action (``kms:*``) on a key the stack shows to be something else, or on a key that cannot be
    told, is left out: it is the usual grant on a symmetric key and says nothing about key agreement.
    """
    if not (statement.allows and statement.covers(DERIVE)):
        return False
    resources = statement.resources
    if statement.names(DERIVE):
        return any(_may_be_key_agreement_key(node, resource) for resource in resources)
    return any(
        resource == "*" or _is_wildcard_resource(resource) or _names_a_key_agreement_key(node, resource)
        for resource in resources
    )


def _names_a_key_agreement_key(node: CfnResource, resource: object) -> bool:
    logical_id = _referenced_logical_id(resource)
    target = None if logical_id is None else _resource_by_logical_id(node, logical_id)
    return target is not None and is_key_agreement_key(target)


def _has_ecdh_condition(statement: Statement) -> bool:
    values = statement.condition("StringEquals", iam_actions.KEY_AGREEMENT_ALGORITHM_CONDITION_KEY)
    return values is not None and set(values) == {iam_actions.KEY_AGREEMENT_ALGORITHM}


# --- principals -----------------------------------------------------------------------------------


def is_broad_principal(principal: object) -> bool:
    """Anyone (``*``), an account root (its ARN, an account id, or CDK's ``Fn::Join`` ending in ``:root``),
    or an ARN holding ``*`` or ``?``."""
    if isinstance(principal, str):
        return (
            principal == "*"
            or principal.endswith(":root")
            or re.fullmatch(r"\d{12}", principal) is not None
            or _is_wildcard_resource(principal)
        )
    if isinstance(principal, Mapping) and "Fn::Join" in principal:
        parts = _as_list(_as_list(principal["Fn::Join"])[-1])
        return bool(parts) and isinstance(parts[-1], str) and parts[-1].endswith(":root")
    if isinstance(principal, Mapping) and "Fn::Sub" in principal:
        template = _as_list(principal["Fn::Sub"])[0]
        return isinstance(template, str) and template.endswith(":root")
    return False


def _canonical(value: object) -> str:
    return json.dumps(value, sort_keys=True)


# --- the rules ------------------------------------------------------------------------------------


def _verdict(compliant: bool) -> NagRuleCompliance:
    return NagRuleCompliance.COMPLIANT if compliant else NagRuleCompliance.NON_COMPLIANT


def derive_to_broad_principal(node: CfnResource) -> NagRuleCompliance:
    """A key-agreement key's policy allows ``kms:DeriveSharedSecret`` to anyone, an account root or a
    wildcard ARN."""
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(
        not any(
            statement.allows
            and statement.covers(DERIVE)
            and any(is_broad_principal(principal) for principal in statement.aws_principals)
            for statement in policy
        )
    )


def derive_without_ecdh_condition(node: CfnResource) -> NagRuleCompliance:
    """A derive Allow, in a key-agreement key's policy or in an identity policy, without
    ``kms:KeyAgreementAlgorithm = ECDH``."""
    policy = key_agreement_key_policy(node)
    if policy is not None:
        derives = [statement for statement in policy if statement.allows and statement.covers(DERIVE)]
    else:
        identity = identity_statements(node)
        if identity is None:
            return NagRuleCompliance.NOT_APPLICABLE
        derives = [statement for statement in identity if grants_derive(node, statement)]
    if not derives:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(all(_has_ecdh_condition(statement) for statement in derives))


def no_deny_derive_to_others(node: CfnResource) -> NagRuleCompliance:
    """A key-agreement key's policy lacks an explicit Deny of ``kms:DeriveSharedSecret`` to every principal
    but exactly those its Allow statements let derive (``aws:PrincipalArn``)."""
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    derivers = {
        _canonical(principal)
        for statement in policy
        if statement.allows and statement.covers(DERIVE)
        for principal in statement.aws_principals
    }
    for statement in policy:
        if not (statement.denies and statement.to_everyone and statement.covers(DERIVE)):
            continue
        for operator in SPARING_OPERATORS:
            spared = statement.condition(operator, PRINCIPAL_ARN_CONDITION_KEY)
            if spared is not None and {_canonical(arn) for arn in spared} == derivers:
                return NagRuleCompliance.COMPLIANT
    return NagRuleCompliance.NON_COMPLIANT


def grant_creation_allowed(node: CfnResource) -> NagRuleCompliance:
    """A key-agreement key's policy allows ``kms:CreateGrant`` (or ``kms:*``): a grant lets its grantee derive
    without ever appearing in the key policy."""
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(not any(statement.allows and statement.covers(CREATE_GRANT) for statement in policy))


def no_lockout_bypass_deny(node: CfnResource) -> NagRuleCompliance:
    """A key-agreement key's policy does not deny ``kms:PutKeyPolicy`` with
    ``kms:BypassPolicyLockoutSafetyCheck`` to everyone."""
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(
        any(
            statement.denies
            and statement.to_everyone
            and statement.covers(PUT_KEY_POLICY)
            and _is_true(statement.condition("Bool", LOCKOUT_BYPASS_CONDITION_KEY))
            for statement in policy
        )
    )


def _is_true(values: list[Any] | None) -> bool:
    return values is not None and [str(value).lower() for value in values] == ["true"]


def _window_days(values: list[Any] | None) -> int | None:
    if values is None or len(values) != 1:
        return None
    try:
        return int(str(values[0]))
    except ValueError:
        return None


def no_minimum_deletion_window(node: CfnResource) -> NagRuleCompliance:
    """A key-agreement key's policy does not deny ``kms:ScheduleKeyDeletion`` below a minimum waiting period
    (``NumericLessThan kms:ScheduleKeyDeletionPendingWindowInDays`` of 7 to 30 days) to everyone."""
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    for statement in policy:
        if statement.denies and statement.to_everyone and statement.covers(SCHEDULE_KEY_DELETION):
            days = _window_days(statement.condition("NumericLessThan", PENDING_WINDOW_CONDITION_KEY))
            if days is not None and MIN_PENDING_WINDOW_DAYS <= days <= MAX_PENDING_WINDOW_DAYS:
                return NagRuleCompliance.COMPLIANT
    return NagRuleCompliance.NON_COMPLIANT


def replication_without_region(node: CfnResource) -> NagRuleCompliance:
    """A multi-Region key-agreement primary's policy allows ``kms:ReplicateKey`` without a
    ``kms:ReplicaRegion`` condition."""
    if not isinstance(node, kms.CfnKey) or not properties(node).get("MultiRegion"):
        return NagRuleCompliance.NOT_APPLICABLE
    policy = key_agreement_key_policy(node)
    if policy is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(
        all(
            statement.has_condition_key(REPLICA_REGION_CONDITION_KEY)
            for statement in policy
            if statement.allows and statement.covers(REPLICATE_KEY)
        )
    )


def identity_derive_on_any_key(node: CfnResource) -> NagRuleCompliance:
    """An identity policy allows ``kms:DeriveSharedSecret`` on ``*``, a wildcard ARN or ``NotResource``."""
    identity = identity_statements(node)
    if identity is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(
        not any(
            statement.allows
            and statement.covers(DERIVE)
            and any(resource == "*" or _is_wildcard_resource(resource) for resource in statement.resources)
            for statement in identity
        )
    )


def _role_statements(function: CfnResource, role_arn: object) -> list[Statement] | None:
    """Every identity statement of the function's role in the stack; None when the role is not one of its
    resources (an imported role)."""
    role_id = _referenced_logical_id(role_arn)
    role = None if role_id is None else _resource_by_logical_id(function, role_id)
    if role is None:
        return None
    found = list(identity_statements(role) or [])
    attached = {_canonical(value) for value in _as_list(properties(role).get("ManagedPolicyArns"))}
    for resource in _stack_resources(Stack.of(function)):
        if resource.cfn_resource_type not in (POLICY_TYPE, MANAGED_POLICY_TYPE):
            continue
        props = properties(resource)
        on_role = {"Ref": role_id} in _as_list(props.get("Roles"))
        if on_role or _canonical({"Ref": Stack.of(resource).resolve(resource.logical_id)}) in attached:
            found.extend(identity_statements(resource) or [])
    return found


def deriver_logs_aws_wire_records(node: CfnResource) -> NagRuleCompliance:
    """A function whose role can derive logs at DEBUG or TRACE without dropping botocore's wire records (a
    DeriveSharedSecret response body holds the shared secret)."""
    if node.cfn_resource_type != FUNCTION_TYPE:
        return NagRuleCompliance.NOT_APPLICABLE
    props = properties(node)
    level = (props.get("LoggingConfig") or {}).get("ApplicationLogLevel")
    if level not in WIRE_LOGGING_LEVELS or node.get_metadata(AWS_WIRE_RECORDS_DROPPED_METADATA):
        return NagRuleCompliance.COMPLIANT
    role_statements = _role_statements(node, props.get("Role"))
    if role_statements is None:
        return NagRuleCompliance.NOT_APPLICABLE
    return _verdict(not any(grants_derive(node, statement) for statement in role_statements))
