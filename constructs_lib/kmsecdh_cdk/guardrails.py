"""Organisation guardrails: service and resource control policies that turn "alarmed" paths into refused ones.

Alarms detect; an account administrator with ``*`` can still invoke the derive function, change it or its
role, rewrite a key's policy or alias, replicate a key or stop the trail. Only a policy of the organisation,
which the account cannot change, refuses that. The statements are built by small pure functions from a
``GuardedResources`` (one deployment's resources, named by ARN patterns of their fixed names), so a test can
read them without synthesizing anything; ``OrganizationGuardrails`` packs them into as few
``AWS::Organizations::Policy`` resources as AWS's size limit allows.

What the policies name and why:

- functions and roles by their fixed names (``arn:aws:lambda:*:<account>:function:<name>*``): a pattern that
  also covers a same-named function in another Region;
- keys by their aliases (``kms:ResourceAliases``), since a key's ARN is only known once it exists: the alias
  statements refuse creating, moving or deleting those aliases to the same principals, so nobody who is
  refused a change can first take the alias off the key (a tag could be taken off by a key administrator);
- audit resources by the names the audit stack gives them, or that CloudFormation generates from the stack's
  name (the alarms: ``<alarm_name_prefix><metric>``; the topic: ``<stack name>-<logical id>-<suffix>``).

Every refusal spares the deployers (the CloudFormation execution roles, ``ArnNotLike`` so that an
environment-agnostic role pattern works); the invocation refusal spares the callers only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import aws_organizations as organizations
from constructs import Construct

from kmsecdh_cdk import iam_actions
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating

SERVICE_CONTROL_POLICY = "SERVICE_CONTROL_POLICY"
RESOURCE_CONTROL_POLICY = "RESOURCE_CONTROL_POLICY"
POLICY_VERSION = "2012-10-17"
MAX_POLICY_CHARACTERS = 5120
"""AWS Organizations' quota for a service or a resource control policy document (whitespace counts)."""
MAX_POLICIES_PER_TARGET = 4
"""AWS attaches at most five policies of a kind to one root, OU or account; FullAWSAccess (SCP) or
RCPFullAWSAccess (RCP) takes one of them."""

PRINCIPAL_ARN = "aws:PrincipalArn"
RESOURCE_ALIASES = "kms:ResourceAliases"
PRINCIPAL_ORG_ID = "aws:PrincipalOrgID"
PRINCIPAL_IS_AWS_SERVICE = "aws:PrincipalIsAWSService"
ORGANIZATION_ID_PATTERN = re.compile(r"o-[a-z0-9]{10,32}")
TARGET_ID_PATTERN = re.compile(r"r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|\d{12}")
_SID_PART = re.compile(r"[A-Za-z0-9]+")


@dataclass(frozen=True)
class GuardedResources:
    """One deployment's resources, by ARN (patterns allowed: ``*`` for an account or Region not fixed).

    :param name: names its statements (``prod`` -> ``ProdInvokeOnlyByCallers``).
    :param deployer_role_arns: the CloudFormation execution roles that deploy it: the only principals that
        may change what follows (``ArnNotLike``, so patterns work).
    :param caller_arns: the only principals that may invoke ``function_arns`` (exact ARNs); none: nobody.
    :param function_arns: the derive functions.
    :param role_arns: the derive functions' roles (changed or passed to new compute by deployers only).
    :param key_arns: ARN patterns of the accounts' keys (``arn:aws:kms:*:<account>:key/*``), narrowed to the
        deployment's keys by ``key_aliases``.
    :param key_aliases: ``alias/...`` patterns whose keys (``kms:ResourceAliases``) and aliases are guarded.
    :param key_alias_arns: the same aliases as ARN patterns, for the alias operations' alias resource.
    :param trail_arns: the audit trails (none with an organisation trail: the organisation guards its own).
    :param log_group_arns: the audit log groups (filters included).
    :param alarm_arns: the audit alarms.
    :param topic_arns: the alarm topics.
    """

    name: str
    deployer_role_arns: tuple[str, ...]
    caller_arns: tuple[str, ...] = ()
    function_arns: tuple[str, ...] = ()
    role_arns: tuple[str, ...] = ()
    key_arns: tuple[str, ...] = ()
    key_aliases: tuple[str, ...] = ()
    key_alias_arns: tuple[str, ...] = ()
    trail_arns: tuple[str, ...] = ()
    log_group_arns: tuple[str, ...] = ()
    alarm_arns: tuple[str, ...] = ()
    topic_arns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _SID_PART.fullmatch(self.name.replace("-", "")):
            raise ValueError(f"GuardedResources name {self.name!r}: letters, digits and '-' only")
        if not self.deployer_role_arns:
            raise ValueError(
                f"GuardedResources {self.name}: deployer_role_arns is empty, so nobody could ever deploy it"
            )
        if not bool(self.key_arns) == bool(self.key_aliases) == bool(self.key_alias_arns):
            raise ValueError(
                f"GuardedResources {self.name}: key_arns, key_aliases and key_alias_arns name the same keys; "
                "give all three or none"
            )


def sid(resources: GuardedResources, purpose: str) -> str:
    """``ProdInvokeOnlyByCallers``: a statement id is letters and digits only."""
    return "".join(part.capitalize() for part in resources.name.split("-")) + purpose


def _statement(
    sid_: str, actions: Sequence[str], resources: Sequence[str], conditions: Mapping[str, Any] | None
) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Sid": sid_,
        "Effect": "Deny",
        "Action": list(actions),
        "Resource": list(resources),
    }
    if conditions:
        statement["Condition"] = dict(conditions)
    return statement


def _unless_deployer(resources: GuardedResources) -> dict[str, Any]:
    return {"ArnNotLike": {PRINCIPAL_ARN: list(resources.deployer_role_arns)}}


def invoke_only_by_callers(resources: GuardedResources) -> dict[str, Any] | None:
    """Refuse invoking the functions to everyone but the callers (everyone, when there are none).

    Lambda accepts an invocation allowed by the caller's IAM policy alone within an account, whatever the
    function's resource policy says; this is what closes that path.
    """
    if not resources.function_arns:
        return None
    conditions = (
        {"ArnNotEquals": {PRINCIPAL_ARN: list(resources.caller_arns)}} if resources.caller_arns else None
    )
    return _statement(
        sid(resources, "InvokeOnlyByCallers"),
        iam_actions.FUNCTION_INVOKE_ACTIONS,
        resources.function_arns,
        conditions,
    )


def deployer_only_statements(resources: GuardedResources) -> list[dict[str, Any]]:
    """Refuse every change to the functions, their roles (passing them included), the keys, their aliases and
    the audit layer to everyone but the deployers."""
    unless_deployer = _unless_deployer(resources)
    parts: list[tuple[str, Sequence[str], Sequence[str], dict[str, Any]]] = [
        ("FunctionChangeOnlyByDeployer", iam_actions.FUNCTION_CHANGE_ACTIONS, resources.function_arns, {}),
        ("RoleChangeOnlyByDeployer", iam_actions.ROLE_CHANGE_ACTIONS, resources.role_arns, {}),
        (
            "KeyChangeOnlyByDeployer",
            iam_actions.KEY_CHANGE_ACTIONS,
            resources.key_arns,
            {"ForAnyValue:StringLike": {RESOURCE_ALIASES: list(resources.key_aliases)}},
        ),
        ("AliasChangeOnlyByDeployer", iam_actions.ALIAS_CHANGE_ACTIONS, resources.key_alias_arns, {}),
        ("TrailChangeOnlyByDeployer", iam_actions.TRAIL_CHANGE_ACTIONS, resources.trail_arns, {}),
        (
            "AuditLogGroupChangeOnlyByDeployer",
            iam_actions.AUDIT_LOG_GROUP_CHANGE_ACTIONS,
            resources.log_group_arns,
            {},
        ),
        ("AlarmChangeOnlyByDeployer", iam_actions.ALARM_CHANGE_ACTIONS, resources.alarm_arns, {}),
        ("AlarmTopicChangeOnlyByDeployer", iam_actions.ALARM_TOPIC_CHANGE_ACTIONS, resources.topic_arns, {}),
    ]
    return [
        _statement(sid(resources, purpose), actions, arns, {**extra, **unless_deployer})
        for purpose, actions, arns, extra in parts
        if arns
    ]


def service_control_statements(resources: GuardedResources) -> list[dict[str, Any]]:
    """Every SCP statement guarding one deployment."""
    invoke = invoke_only_by_callers(resources)
    return [*([invoke] if invoke else []), *deployer_only_statements(resources)]


def outside_organization_statement(organization_id: str, key_aliases: Iterable[str]) -> dict[str, Any]:
    """The RCP statement: no ``kms:DeriveSharedSecret`` nor ``kms:Sign`` on the project's keys (by alias)
    for a principal outside the organisation. AWS services acting for a principal are left to the key
    policies."""
    if not ORGANIZATION_ID_PATTERN.fullmatch(organization_id):
        raise ValueError(f"organization_id must be an AWS Organizations id (o-...), got {organization_id!r}")
    aliases = sorted(set(key_aliases))
    if not aliases:
        raise ValueError("a resource control policy for no key: give the keys' alias patterns")
    return {
        "Sid": "DeriveAndSignOnlyInsideTheOrganization",
        "Effect": "Deny",
        "Principal": "*",
        "Action": list(iam_actions.OUTSIDE_ORGANIZATION_DENIED_ACTIONS),
        "Resource": "*",
        "Condition": {
            "StringNotEqualsIfExists": {PRINCIPAL_ORG_ID: organization_id},
            "BoolIfExists": {PRINCIPAL_IS_AWS_SERVICE: "false"},
            "ForAnyValue:StringLike": {RESOURCE_ALIASES: aliases},
        },
    }


def policy_characters(document: Mapping[str, Any]) -> int:
    """The size AWS Organizations counts: the document as compact JSON (CloudFormation sends no
    whitespace)."""
    return len(json.dumps(document, separators=(",", ":")))


def document(statements: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def pack(statements: Sequence[Mapping[str, Any]], *, kind: str) -> list[dict[str, Any]]:
    """The statements, in order, in as few documents of at most ``MAX_POLICY_CHARACTERS`` as a greedy fill
    makes; at most ``MAX_POLICIES_PER_TARGET`` documents.

    :raises ValueError: a statement that alone exceeds the limit, or more documents than one target takes.
    """
    documents: list[list[Mapping[str, Any]]] = []
    for statement in statements:
        if policy_characters(document([statement])) > MAX_POLICY_CHARACTERS:
            size = policy_characters(document([statement]))
            raise ValueError(
                f"{kind} statement {statement.get('Sid')} alone is {size} characters, over AWS's "
                f"{MAX_POLICY_CHARACTERS}: name fewer principals or resources"
            )
        if documents and policy_characters(document([*documents[-1], statement])) <= MAX_POLICY_CHARACTERS:
            documents[-1].append(statement)
        else:
            documents.append([statement])
    if len(documents) > MAX_POLICIES_PER_TARGET:
        raise ValueError(
            f"{len(documents)} {kind} documents of at most {MAX_POLICY_CHARACTERS} characters are needed, "
            f"more than the {MAX_POLICIES_PER_TARGET} a target takes beside AWS's full-access policy: "
            "guard fewer environments per target"
        )
    return [document(statements) for statements in documents]


class OrganizationGuardrails(Construct):
    """Service control policies and a resource control policy guarding ``guarded``, attached to
    ``target_ids``.

    Deploy it from the organisation's management account or a delegated administrator for policy management,
    with both policy types enabled in the organisation.

    :param guarded: the deployments to guard (at least one).
    :param organization_id: the organisation (``o-...``): the RCP refuses derive and sign to principals
        outside it.
    :param target_ids: roots (``r-...``), OUs (``ou-...``) or accounts the policies are attached to.
    :param name_prefix: of the policies' names (``<prefix>-scp-1`` ..., ``<prefix>-rcp-1``); default
        kmsecdh.

    Attributes: ``service_control_policies`` and ``resource_control_policies`` (the ``CfnPolicy`` resources),
    ``documents`` (policy name -> content).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        guarded: Sequence[GuardedResources],
        organization_id: str,
        target_ids: Sequence[str],
        name_prefix: str = "kmsecdh",
    ) -> None:
        super().__init__(scope, id)
        if not guarded:
            raise KmsEcdhValidationError(
                self, "OrganizationGuardrails needs at least one deployment in guarded"
            )
        names = [resources.name for resources in guarded]
        if len(set(names)) != len(names):
            raise KmsEcdhValidationError(
                self, f"OrganizationGuardrails: two deployments named alike in {names}"
            )
        if not target_ids:
            raise KmsEcdhValidationError(
                self, "OrganizationGuardrails needs target_ids: policies attached nowhere guard nothing"
            )
        for target in target_ids:
            if not TARGET_ID_PATTERN.fullmatch(target):
                raise KmsEcdhValidationError(
                    self,
                    f"target id {target!r} is not a root (r-...), an OU (ou-...-...) or a 12-digit "
                    "account id",
                )
        # Pure policy builders, shared with tests and tools: their errors get this construct's path here.
        with validating(self):
            scp_statements = [
                statement for resources in guarded for statement in service_control_statements(resources)
            ]
            rcp_statement = outside_organization_statement(
                organization_id, [alias for resources in guarded for alias in resources.key_aliases]
            )
            self.documents: dict[str, dict[str, Any]] = {}
            self.service_control_policies = self._policies(
                "ServiceControlPolicy", "scp", SERVICE_CONTROL_POLICY, scp_statements, target_ids, name_prefix
            )
            self.resource_control_policies = self._policies(
                "ResourceControlPolicy",
                "rcp",
                RESOURCE_CONTROL_POLICY,
                [rcp_statement],
                target_ids,
                name_prefix,
            )

    def _policies(
        self,
        id_prefix: str,
        name_infix: str,
        kind: str,
        statements: Sequence[Mapping[str, Any]],
        target_ids: Sequence[str],
        name_prefix: str,
    ) -> list[organizations.CfnPolicy]:
        policies = []
        for index, content in enumerate(pack(statements, kind=kind), start=1):
            name = f"{name_prefix}-{name_infix}-{index}"
            self.documents[name] = content
            policies.append(
                organizations.CfnPolicy(
                    self,
                    f"{id_prefix}{index}",
                    name=name,
                    type=kind,
                    content=content,
                    description=f"{name_prefix} guardrails ({kind.lower().replace('_', ' ')} {index})",
                    target_ids=list(target_ids),
                )
            )
        return policies
