"""Who asks what of which resource, in one environment: principals, resources and the requests a real caller
makes, read from the synthesized templates (as ``assembly`` resolves them) and cdk.json.

Principals and their identity policies:

- the derive roles (every Region): their identity policy as the template writes it; their KMS requests come
  through the function's KMS endpoint where the environment isolates the function;
- the configured principals, each with an identity policy shaped like its job, on every resource (``*``), so
  that the resource policies are what decides: callers ``lambda:InvokeFunction``; extra derivers derive and
  read public keys; key administrators ``kms:*``; public-key readers read and verify; publishers also sign;
- the CloudFormation execution roles (the bootstrap gives them AdministratorAccess): ``*``;
- an account administrator of the environment's account, an organisation member of another account and an
  outsider, each with ``*``.

Every configured principal, the account administrator and the CloudFormation roles are in the organisation;
the accounts of the guarded environments are under the guardrails' targets, the member's is not.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stacks.config import EnvironmentConfig
from stacks.guardrails_config import GuardrailsConfig
from tools.access_matrix.assembly import PARTITION, Assembly, Stack

ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
DERIVE_HANDLER = "handler.handler"
# Regions no example environment uses: where a replica must not go.
UNCONFIGURED_REGIONS = ("ap-southeast-2", "sa-east-1", "ca-central-1")
# The hypothetical principals' accounts, if no environment uses them.
ORGANIZATION_MEMBER_ACCOUNTS = ("444444444444", "555555555555")
OUTSIDER_ACCOUNTS = ("777777777777", "888888888888")
ASSUMED_REGION = "us-east-1"
KEY_USAGES = {
    "key-agreement key": "KEY_AGREEMENT",
    "signing key": "SIGN_VERIFY",
    "audit key": "ENCRYPT_DECRYPT",
}
FALLBACK_ACCOUNT = "123456789012"

# What a configured principal's job asks of its IAM policy (Resource "*").
JOB_ACTIONS: dict[str, tuple[str, ...]] = {
    "caller": ("lambda:InvokeFunction",),
    "extra deriver": ("kms:DeriveSharedSecret", "kms:GetPublicKey", "kms:DescribeKey"),
    "key administrator": ("kms:*",),
    "reader": ("kms:GetPublicKey", "kms:DescribeKey", "kms:Verify"),
    "publisher": ("kms:Sign", "kms:GetPublicKey", "kms:DescribeKey", "kms:Verify"),
}


def account_of(arn: str) -> str:
    return arn.split(":")[4]


def name_of(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


@dataclass
class Principal:
    """One principal (by ARN) and every role it plays in the environment (``kinds``)."""

    arn: str
    kinds: set[str]
    identity: list[dict[str, Any]]
    in_organization: bool = True
    organization_paths: tuple[str, ...] = ()
    # The Region whose KMS endpoint its KMS requests come through (an isolated derive function's role).
    endpoint_region: str | None = None

    @property
    def account(self) -> str:
        return account_of(self.arn)

    @property
    def label(self) -> str:
        return f"{name_of(self.arn)} ({', '.join(sorted(self.kinds))})"


@dataclass(frozen=True)
class Resource:
    kind: str  # key-agreement key, signing key, alias, function, role, trail, log group, alarm, topic
    arn: str
    account: str
    region: str
    label: str
    policy: dict[str, Any] | None = None
    aliases: tuple[str, ...] = ()  # of a key
    primary: bool = False  # a multi-Region primary key
    target_key: Resource | None = None  # of an alias


@dataclass(frozen=True)
class Action:
    """An action with what varies its request: ``variant`` names it in the table, ``context`` adds keys."""

    name: str
    variant: str = ""
    context: Mapping[str, Any] = field(default_factory=dict)
    through_endpoint: bool = True  # an isolated deriver's KMS request comes through the endpoint

    @property
    def label(self) -> str:
        return f"{self.name} ({self.variant})" if self.variant else self.name


@dataclass(frozen=True)
class Request:
    principal: Principal
    action: Action
    resource: Resource


@dataclass
class Environment:
    """One environment's principals, resources, endpoints and organisation policies."""

    config: EnvironmentConfig
    account: str
    region: str
    organization_id: str | None
    principals: dict[str, Principal]
    resources: list[Resource]
    endpoints: dict[str, str]  # Region -> the function's KMS endpoint id
    guarded: bool
    guarded_accounts: frozenset[str]
    service_control_policies: list[dict[str, Any]]
    resource_control_policies: list[dict[str, Any]]

    def requests(self) -> Iterator[Request]:
        for resource in self.resources:
            for action in actions_on(resource, self.config):
                for principal in self.principals.values():
                    yield Request(principal, action, resource)


def assumed_location(config: EnvironmentConfig) -> tuple[str, str]:
    """Where an environment that names no account or Region is assumed deployed: the account its configured
    principals live in, ``us-east-1``."""
    arns = [
        *config.caller_arns,
        *config.admin_arns,
        *config.extra_deriver_arns,
        *config.directory_publisher_arns,
    ]
    return (
        config.account or (account_of(arns[0]) if arns else FALLBACK_ACCOUNT),
        config.region or ASSUMED_REGION,
    )


def _unused(candidates: tuple[str, ...], used: set[str]) -> str:
    return next(candidate for candidate in candidates if candidate not in used)


def unconfigured_region(config: EnvironmentConfig) -> str:
    return _unused(UNCONFIGURED_REGIONS, {config.region or "", *config.replica_regions})


def _key_guard_actions(minimum_days: int) -> list[Action]:
    """What the guards every key carries decide: a policy change with and without the lockout bypass, a
    deletion at the minimum window and a day below it, disabling the key."""
    return [
        Action("kms:PutKeyPolicy", context={"kms:BypassPolicyLockoutSafetyCheck": "false"}),
        Action("kms:PutKeyPolicy", "lockout bypass", {"kms:BypassPolicyLockoutSafetyCheck": "true"}),
        Action(
            "kms:ScheduleKeyDeletion",
            f"{minimum_days} days",
            {"kms:ScheduleKeyDeletionPendingWindowInDays": str(minimum_days)},
        ),
        Action(
            "kms:ScheduleKeyDeletion",
            f"{minimum_days - 1} days",
            {"kms:ScheduleKeyDeletionPendingWindowInDays": str(minimum_days - 1)},
        ),
        Action("kms:DisableKey"),
    ]


def actions_on(resource: Resource, config: EnvironmentConfig) -> list[Action]:
    """The requests asked of each resource kind, with the context keys a real request carries."""
    minimum = config.minimum_deletion_window_days
    if resource.kind == "key-agreement key":
        actions = [Action("kms:DeriveSharedSecret", context={"kms:KeyAgreementAlgorithm": "ECDH"})]
        if config.network_isolation:
            actions.append(
                Action(
                    "kms:DeriveSharedSecret",
                    "not through the function's endpoint",
                    {"kms:KeyAgreementAlgorithm": "ECDH"},
                    through_endpoint=False,
                )
            )
        actions += [
            Action("kms:GetPublicKey"),
            Action("kms:CreateGrant", context={"kms:GrantOperations": ["DeriveSharedSecret"]}),
            *_key_guard_actions(minimum),
            Action("kms:UntagResource", "project tag", {"aws:TagKeys": ["project"]}),
        ]
        if resource.primary:
            for region in [*config.replica_regions, unconfigured_region(config)]:
                actions.append(Action("kms:ReplicateKey", f"to {region}", {"kms:ReplicaRegion": region}))
            for region in config.replica_regions:
                actions.append(
                    Action("kms:UpdatePrimaryRegion", f"to {region}", {"kms:PrimaryRegion": region})
                )
        return actions
    return list(
        {
            "alias": [Action("kms:UpdateAlias")],
            "signing key": [
                Action(
                    "kms:Sign", context={"kms:SigningAlgorithm": "ECDSA_SHA_384", "kms:MessageType": "RAW"}
                ),
                Action("kms:GetPublicKey"),
                Action("kms:PutKeyPolicy", context={"kms:BypassPolicyLockoutSafetyCheck": "false"}),
                Action("kms:DisableKey"),
            ],
            "function": [
                Action("lambda:InvokeFunction"),
                Action("lambda:UpdateFunctionCode"),
                Action("lambda:AddPermission"),
            ],
            "role": [
                Action("iam:PassRole", context={"iam:PassedToService": "lambda.amazonaws.com"}),
                Action("iam:PutRolePolicy"),
                Action("iam:UpdateAssumeRolePolicy"),
            ],
            "trail": [
                Action("cloudtrail:StopLogging"),
                Action("cloudtrail:DeleteTrail"),
                Action("cloudtrail:PutEventSelectors"),
            ],
            "audit key": _key_guard_actions(minimum),
            "log group": [Action("logs:DeleteLogGroup"), Action("logs:DeleteMetricFilter")],
            "organisation log group": [Action("logs:DeleteMetricFilter")],
            "alarm": [Action("cloudwatch:DeleteAlarms"), Action("cloudwatch:DisableAlarmActions")],
            "topic": [Action("sns:DeleteTopic"), Action("sns:SetTopicAttributes")],
        }[resource.kind]
    )


def context(request: Request, environment: Environment) -> dict[str, Any]:
    """The request context: the global keys every signed request carries, and the action's own."""
    principal, resource = request.principal, request.resource
    values: dict[str, Any] = {
        "aws:PrincipalArn": principal.arn,
        "aws:PrincipalAccount": principal.account,
        "aws:PrincipalIsAWSService": "false",
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
        "aws:RequestedRegion": resource.region or ASSUMED_REGION,
    }
    if principal.in_organization and environment.organization_id:
        values["aws:PrincipalOrgID"] = environment.organization_id
        if principal.organization_paths:
            values["aws:PrincipalOrgPaths"] = list(principal.organization_paths)
    if resource.kind in ("key-agreement key", "signing key", "audit key"):
        values["kms:CallerAccount"] = principal.account
        values["kms:ResourceAliases"] = list(resource.aliases)
        if request.action.through_endpoint and principal.endpoint_region == resource.region:
            values["aws:SourceVpce"] = environment.endpoints[resource.region]
    values.update(request.action.context)
    return values


# -- reading an environment from the assembly -------------------------------------------------------------


def _derive_functions(stack: Stack) -> Iterator[tuple[str, dict[str, Any]]]:
    for logical_id, function in stack.of_type("AWS::Lambda::Function"):
        if function["Properties"].get("Handler") == DERIVE_HANDLER:
            yield logical_id, function


def _identity_policies(stack: Stack, role_id: str) -> list[dict[str, Any]]:
    role = stack.resources[role_id]["Properties"]
    documents = [stack.resolve(policy["PolicyDocument"]) for policy in role.get("Policies", [])]
    for _, policy in stack.of_type("AWS::IAM::Policy"):
        if {"Ref": role_id} in policy["Properties"].get("Roles", []):
            documents.append(stack.resolve(policy["Properties"]["PolicyDocument"]))
    if role.get("ManagedPolicyArns"):
        raise ValueError(f"{stack.display_name}/{role_id}: managed policies are not modelled")
    return documents


def _function_policy(stack: Stack, function_id: str, function_arn: str) -> dict[str, Any] | None:
    """The function's resource policy, from its ``AWS::Lambda::Permission`` resources."""
    statements = []
    for logical_id, permission in stack.of_type("AWS::Lambda::Permission"):
        properties = stack.resolve(permission["Properties"])
        if properties["FunctionName"] not in (function_arn, name_of(function_arn.replace(":function:", "/"))):
            continue
        principal = properties["Principal"]
        if principal.endswith(".amazonaws.com"):
            principal_element: Any = {"Service": principal}
        elif principal.isdigit():
            principal_element = {"AWS": f"arn:{PARTITION}:iam::{principal}:root"}
        else:
            principal_element = "*" if principal == "*" else {"AWS": principal}
        statement: dict[str, Any] = {
            "Sid": logical_id,
            "Effect": "Allow",
            "Principal": principal_element,
            "Action": properties["Action"],
            "Resource": function_arn,
        }
        conditions: dict[str, Any] = {}
        if "SourceArn" in properties:
            conditions["ArnLike"] = {"aws:SourceArn": properties["SourceArn"]}
        if "SourceAccount" in properties:
            conditions["StringEquals"] = {"aws:SourceAccount": properties["SourceAccount"]}
        if "PrincipalOrgID" in properties:
            conditions.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = properties["PrincipalOrgID"]
        if conditions:
            statement["Condition"] = conditions
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements} if statements else None


def _keys(stack: Stack, kind: str, resource_type: str) -> list[Resource]:
    aliases: dict[str, list[str]] = {}
    for _, alias in stack.of_type("AWS::KMS::Alias"):
        properties = stack.resolve(alias["Properties"])
        aliases.setdefault(properties["TargetKeyId"].rsplit("/", 1)[-1], []).append(properties["AliasName"])
    keys = []
    for logical_id, key in stack.of_type(resource_type):
        properties = key["Properties"]
        # A replica takes its usage from its primary; a key without KeyUsage is symmetric.
        usage = properties.get(
            "KeyUsage", "KEY_AGREEMENT" if resource_type == "AWS::KMS::ReplicaKey" else "ENCRYPT_DECRYPT"
        )
        if usage != KEY_USAGES[kind]:
            continue
        key_id = stack.key_id(logical_id)
        names = tuple(sorted(aliases.get(key_id, [])))
        if kind == "audit key" and not names:
            continue  # the log groups' keys: the guardrails name the audit's keys by their aliases only
        keys.append(
            Resource(
                kind=kind,
                arn=stack.get_att(logical_id, "Arn"),
                account=stack.account,
                region=stack.region,
                label=", ".join(names) or key_id,
                policy=stack.resolve(properties["KeyPolicy"]),
                aliases=names,
                primary=bool(properties.get("MultiRegion")),
            )
        )
    return keys


def _aliases(stack: Stack, keys: list[Resource]) -> list[Resource]:
    by_id = {key.arn.rsplit("/", 1)[1]: key for key in keys}
    aliases = []
    for _, alias in stack.of_type("AWS::KMS::Alias"):
        properties = stack.resolve(alias["Properties"])
        name = properties["AliasName"]
        aliases.append(
            Resource(
                kind="alias",
                arn=stack.arn("kms", name),
                account=stack.account,
                region=stack.region,
                label=name,
                target_key=by_id[properties["TargetKeyId"].rsplit("/", 1)[-1]],
            )
        )
    return aliases


def _audit(stack: Stack, config: EnvironmentConfig) -> list[Resource]:
    resources = []

    def add(kind: str, arn: str, label: str, policy: dict[str, Any] | None = None) -> None:
        resources.append(Resource(kind, arn, stack.account, stack.region, label, policy))

    for logical_id, _ in stack.of_type("AWS::CloudTrail::Trail"):
        add("trail", stack.get_att(logical_id, "Arn"), stack.physical_id(logical_id))
    for logical_id, _ in stack.of_type("AWS::Logs::LogGroup"):
        name = stack.physical_id(logical_id)
        if name.startswith("/aws/cloudtrail/"):
            add("log group", stack.arn("logs", f"log-group:{name}"), name)
    if config.trail_mode == "existing":
        name = config.trail_log_group_name
        add("organisation log group", stack.arn("logs", f"log-group:{name}"), name)
    for logical_id, _ in stack.of_type("AWS::CloudWatch::Alarm"):
        add("alarm", stack.get_att(logical_id, "Arn"), stack.physical_id(logical_id))
    topic_policies = {
        stack.resolve(topic): stack.resolve(policy["Properties"]["PolicyDocument"])
        for _, policy in stack.of_type("AWS::SNS::TopicPolicy")
        for topic in policy["Properties"]["Topics"]
    }
    for logical_id, _ in stack.of_type("AWS::SNS::Topic"):
        arn = stack.physical_id(logical_id)
        add("topic", arn, f"{stack.stack_name}-{logical_id}-…", topic_policies.get(arn))
    return resources


def read_environment(
    assembly: Assembly,
    config: EnvironmentConfig,
    all_configs: Mapping[str, EnvironmentConfig],
    guardrails: GuardrailsConfig | None,
) -> Environment:
    account, region = assumed_location(config)
    organization_id = (
        guardrails.organization_id if guardrails else None
    ) or config.public_key_reader_organization_id
    principals: dict[str, Principal] = {}

    def add(arn: str, kind: str, identity: list[dict[str, Any]], **attributes: Any) -> Principal:
        principal = principals.setdefault(arn, Principal(arn=arn, kinds=set(), identity=[], **attributes))
        principal.kinds.add(kind)
        principal.identity.extend(document for document in identity if document not in principal.identity)
        return principal

    resources: list[Resource] = []
    endpoints: dict[str, str] = {}
    for stack in assembly.of_stage(config.name):
        add(stack.execution_role_arn, f"CloudFormation role {stack.region}", [ALLOW_ALL])
        kms_endpoints = [
            logical_id
            for logical_id, endpoint in stack.of_type("AWS::EC2::VPCEndpoint")
            if str(stack.resolve(endpoint["Properties"]["ServiceName"])).endswith(".kms")
        ]
        for logical_id in kms_endpoints:
            endpoints[stack.region] = stack.physical_id(logical_id)
        for logical_id, function in _derive_functions(stack):
            role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
            role_arn = stack.get_att(role_id, "Arn")
            add(
                role_arn,
                f"derive role {stack.region}",
                _identity_policies(stack, role_id),
                endpoint_region=stack.region if config.network_isolation else None,
            )
            function_arn = stack.get_att(logical_id, "Arn")
            resources.append(
                Resource(
                    "function",
                    function_arn,
                    stack.account,
                    stack.region,
                    stack.physical_id(logical_id),
                    _function_policy(stack, logical_id, function_arn),
                )
            )
            resources.append(Resource("role", role_arn, stack.account, "", stack.physical_id(role_id)))
        keys = _keys(stack, "key-agreement key", "AWS::KMS::Key") + _keys(
            stack, "key-agreement key", "AWS::KMS::ReplicaKey"
        )
        signing_keys = _keys(stack, "signing key", "AWS::KMS::Key")
        is_audit = stack.display_name == f"{config.name}/Audit"
        audit_keys = _keys(stack, "audit key", "AWS::KMS::Key") if is_audit else []
        every_key = keys + signing_keys + audit_keys
        resources.extend(every_key + _aliases(stack, every_key))
        if is_audit:
            resources.extend(_audit(stack, config))

    for kind, arns in (
        ("caller", config.caller_arns),
        ("extra deriver", config.extra_deriver_arns),
        ("key administrator", config.admin_arns),
        ("reader", config.public_key_reader_arns),
        ("publisher", config.directory_publisher_arns),
    ):
        for arn in arns:
            add(arn, kind, [_job_policy(kind)])
    used_accounts = {assumed_location(other)[0] for other in all_configs.values()} | {
        account_of(arn) for arn in principals
    }
    add(f"arn:{PARTITION}:iam::{account}:role/AccountAdministrator", "account administrator", [ALLOW_ALL])
    if organization_id:
        member_paths = tuple(path.rstrip("*") for path in config.public_key_reader_org_paths[:1])
        member_account = _unused(ORGANIZATION_MEMBER_ACCOUNTS, used_accounts)
        add(
            f"arn:{PARTITION}:iam::{member_account}:role/OrganizationMember",
            "organisation member",
            [ALLOW_ALL],
            organization_paths=member_paths,
        )
    add(
        f"arn:{PARTITION}:iam::{_unused(OUTSIDER_ACCOUNTS, used_accounts)}:role/Outsider",
        "outsider",
        [ALLOW_ALL],
        in_organization=False,
    )

    guarded = guardrails is not None and config.name in guardrails.environments
    scps, rcps = _organisation_policies(assembly) if guarded else ([], [])
    return Environment(
        config=config,
        account=account,
        region=region,
        organization_id=organization_id,
        principals=principals,
        resources=resources,
        endpoints=endpoints,
        guarded=guarded,
        guarded_accounts=frozenset(
            assumed_location(all_configs[name])[0] for name in (guardrails.environments if guardrails else ())
        ),
        service_control_policies=scps,
        resource_control_policies=rcps,
    )


def _job_policy(kind: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": list(JOB_ACTIONS[kind]), "Resource": "*"}],
    }


def _organisation_policies(assembly: Assembly) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The Guardrails stack's SCP and RCP documents."""
    stack = assembly.by_display_name("Guardrails")
    policies: dict[str, list[dict[str, Any]]] = {"SERVICE_CONTROL_POLICY": [], "RESOURCE_CONTROL_POLICY": []}
    for _, policy in stack.of_type("AWS::Organizations::Policy"):
        properties = stack.resolve(policy["Properties"])
        policies[properties["Type"]].append(properties["Content"])
    return policies["SERVICE_CONTROL_POLICY"], policies["RESOURCE_CONTROL_POLICY"]
