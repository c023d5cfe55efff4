"""The KeyAgreement stack of every environment in cdk.json: keys, exact key policies, the function's role.

Expected policies are written out here from the key-policy model (docs/key-policy.md), not computed by the
constructs.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any

import pytest

from stacks.config import EnvironmentConfig
from tests.infra.conftest import SynthesizedApp, SynthesizedStack, load_context

ENVIRONMENTS = tuple(load_context()["environments"])

DERIVE_HANDLER = "handler.handler"
KEY_ADMINISTRATION_ACTIONS = sorted(
    [
        "kms:CancelKeyDeletion",
        "kms:CreateAlias",
        "kms:DeleteAlias",
        "kms:DescribeKey",
        "kms:DisableKey",
        "kms:EnableKey",
        "kms:GetKeyLastUsage",
        "kms:GetKeyPolicy",
        "kms:GetKeyRotationStatus",
        "kms:ListGrants",
        "kms:ListResourceTags",
        "kms:PutKeyPolicy",
        "kms:RevokeGrant",
        "kms:ScheduleKeyDeletion",
        "kms:TagResource",
        "kms:UntagResource",
        "kms:UpdateAlias",
        "kms:UpdateKeyDescription",
    ]
)
SIDS = [
    "KeyAdministration",
    "DenyPolicyLockoutBypass",
    "DenyShortDeletionWindow",
    "DenyDeriveToOthers",
    "AllowPublicKeyRead",
    "AllowDeriveSharedSecret",
]
PROTECTED_ACTIONS = ("kms:derivesharedsecret", "kms:creategrant")

CDK_DEFAULT_QUALIFIER = "hnb659fds"


def expected_sids(config: EnvironmentConfig, *, replica: bool = False) -> list[str]:
    """The statements of a key of this environment: the model's six, the organisation readers' when
    configured, and on a multi-Region primary the replicating roles' and the replication bounds."""
    sids = list(SIDS)
    if config.public_key_reader_organization_id or config.public_key_reader_org_paths:
        sids.append("AllowOrganizationPublicKeyRead")
    if config.replica_regions and not replica:
        sids.extend(replication_statements(config))
    return sids


def organization_read_statement(config: EnvironmentConfig) -> dict[str, Any]:
    """Anyone of the organisation (or its OUs) may read the public key: nothing else, and no derive."""
    condition: dict[str, Any] = {}
    if config.public_key_reader_organization_id:
        condition["StringEquals"] = {"aws:PrincipalOrgID": config.public_key_reader_organization_id}
    if config.public_key_reader_org_paths:
        condition["ForAnyValue:StringLike"] = {
            "aws:PrincipalOrgPaths": list(config.public_key_reader_org_paths)
        }
    return {
        "Sid": "AllowOrganizationPublicKeyRead",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey"],
        "Resource": "*",
        "Condition": condition,
    }


def replication_statements(config: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    """A multi-Region primary: each replica Region's CloudFormation execution role may replicate it into
    that Region only, and nobody into (or move its primary to) any other Region."""
    regions = list(config.replica_regions)
    statements = {
        f"AllowReplicateKeyTo{region.replace('-', '').capitalize()}": {
            "Sid": f"AllowReplicateKeyTo{region.replace('-', '').capitalize()}",
            "Effect": "Allow",
            "Principal": {"AWS": execution_role(config, region)},
            "Action": "kms:ReplicateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ReplicaRegion": region}},
        }
        for region in regions
    }
    for sid, action, key in (
        ("DenyReplicateKeyOutsideReplicaRegions", "kms:ReplicateKey", "kms:ReplicaRegion"),
        ("DenyPrimaryRegionOutsideReplicaRegions", "kms:UpdatePrimaryRegion", "kms:PrimaryRegion"),
    ):
        statements[sid] = {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": action,
            "Resource": "*",
            "Condition": {"StringNotEquals": {key: regions}},
        }
    return statements


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def canonical(values: Any) -> list[str]:
    """A principal or action list in a comparable order (CloudFormation values rendered as JSON)."""
    return sorted(json.dumps(value, sort_keys=True) for value in as_list(values))


def key_stack(synthesized_app: SynthesizedApp, environment: str) -> SynthesizedStack:
    return synthesized_app.stacks[environment]["KeyAgreement"]


def keys(stack: SynthesizedStack) -> dict[str, dict[str, Any]]:
    """The asymmetric keys (a KeySpec is set); symmetric ones such as a log group's key are left out."""
    return {
        logical_id: key
        for logical_id, key in stack.resources("AWS::KMS::Key").items()
        if "KeySpec" in key["Properties"]
    }


def rendered(value: Any) -> str:
    """A ``Fn::Join`` of strings and ``Fn::GetAtt``s as text, each attribute written as the logical id."""
    parts = value["Fn::Join"][1] if isinstance(value, dict) else [value]
    return "".join(part if isinstance(part, str) else part["Fn::GetAtt"][0] for part in parts)


def generations_output(template: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``KeyGenerations`` output of a key stack's template, with each key's logical id for its ARN."""
    return json.loads(rendered(template["Outputs"]["KeyGenerations"]["Value"]))


def expected_generations(config: EnvironmentConfig) -> list[dict[str, Any]]:
    """The ``KeyGenerations`` output for ``config``, without the ARNs (logical ids)."""
    expected = []
    for spec in config.key_specs:
        current = config.current_generation(spec)
        spec_alias = f"alias/kmsecdh-{config.name}-{spec.removeprefix('ECC_NIST_').lower()}"
        for generation in config.generations(spec):
            entry = {
                "key_spec": spec,
                "alias": spec_alias if generation.name is None else f"{spec_alias}-{generation.name}",
                "status": generation.status,
                "current": generation is current,
            }
            if generation.name is not None:
                entry["generation"] = generation.name
            if generation.retire_after is not None:
                entry["retire_after"] = generation.retire_after.isoformat()
            expected.append(entry)
    return expected


def statements_by_sid(key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    by_sid = {statement["Sid"]: statement for statement in statements}
    assert len(by_sid) == len(statements), "duplicate Sid"
    return by_sid


def execution_role(config: EnvironmentConfig, region: str | None = None) -> dict[str, str]:
    """The CloudFormation execution role of the environment's bootstrap (its qualifier, else CDK's default),
    as the synthesizer names it; in the environment's Region unless another is given (a replica Region's)."""
    account = config.account or "${AWS::AccountId}"
    region = region or config.region or "${AWS::Region}"
    qualifier = config.bootstrap_qualifier or CDK_DEFAULT_QUALIFIER
    role_name = f"cdk-{qualifier}-cfn-exec-role-{account}-{region}"
    return {"Fn::Sub": f"arn:${{AWS::Partition}}:iam::{account}:role/{role_name}"}


def derive_function(stack: SynthesizedStack) -> dict[str, Any]:
    [function] = [
        function
        for function in stack.resources("AWS::Lambda::Function").values()
        if function["Properties"].get("Handler") == DERIVE_HANDLER
    ]
    return function


def function_role(stack: SynthesizedStack) -> dict[str, Any]:
    return derive_function(stack)["Properties"]["Role"]


def kms_endpoint(stack: SynthesizedStack) -> dict[str, str]:
    [logical_id] = [
        logical_id
        for logical_id, endpoint in stack.resources("AWS::EC2::VPCEndpoint").items()
        if ".kms" in json.dumps(endpoint["Properties"]["ServiceName"])
    ]
    return {"Ref": logical_id}


def derivers(synthesized_app: SynthesizedApp, environment: str) -> list[Any]:
    config = synthesized_app.environments[environment]
    return [function_role(key_stack(synthesized_app, environment)), *config.extra_deriver_arns]


def all_statements(node: Any) -> Iterator[dict[str, Any]]:
    """Every policy statement anywhere in a template: key policies, IAM policies, resource policies."""
    if isinstance(node, dict):
        if "Effect" in node and ("Action" in node or "NotAction" in node):
            yield node
        for value in node.values():
            yield from all_statements(value)
    elif isinstance(node, list):
        for value in node:
            yield from all_statements(value)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_one_key_agreement_key_per_generation_of_each_spec(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    stack = key_stack(synthesized_app, environment)
    found = keys(stack)
    generations = generations_output(stack.raw)
    assert [{k: v for k, v in entry.items() if k != "arn"} for entry in generations] == expected_generations(
        config
    )
    assert sorted(entry["arn"] for entry in generations) == sorted(found)
    for entry in generations:
        key = found[entry["arn"]]["Properties"]
        assert key["KeySpec"] == entry["key_spec"]
        assert key["KeyUsage"] == "KEY_AGREEMENT"
        assert key["EnableKeyRotation"] is False
        # a retired generation is disabled, never deleted by the stack; an active one has no Enabled at all
        assert key.get("Enabled", True) is (entry["status"] == "active")


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_aliases_name_environment_curve_and_generation(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    """The spec's alias names the current generation; each generation has an alias of its own."""
    stack = key_stack(synthesized_app, environment)
    aliases = sorted(
        (alias["Properties"]["AliasName"], alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0])
        for alias in stack.resources("AWS::KMS::Alias").values()
    )
    expected = []
    for entry in generations_output(stack.raw):
        spec_alias = f"alias/kmsecdh-{environment}-{entry['key_spec'].removeprefix('ECC_NIST_').lower()}"
        if entry["current"]:
            expected.append((spec_alias, entry["arn"]))
        if "generation" in entry:
            expected.append((f"{spec_alias}-{entry['generation']}", entry["arn"]))
    assert aliases == sorted(expected)


# Every stack holding key-agreement keys: (environment, None) for the home Region's, (environment, Region)
# for a replica Region's.
KEY_STACKS = [
    (environment, region)
    for environment, entry in load_context()["environments"].items()
    for region in (None, *entry.get("replica_regions", ()))
]


def replica_keys(stack: SynthesizedStack) -> dict[str, dict[str, Any]]:
    return stack.resources("AWS::KMS::ReplicaKey")


@pytest.mark.parametrize(("environment", "replica_region"), KEY_STACKS)
def test_key_policy_statements_exactly(
    synthesized_app: SynthesizedApp, environment: str, replica_region: str | None
) -> None:
    """In every Region: the primaries' policies in the home Region, the replicas' in each replica Region
    (there, the derivers are that Region's function role and the extra derivers)."""
    config = synthesized_app.environments[environment]
    stack_id = "KeyAgreement" if replica_region is None else f"KeyAgreement-{replica_region}"
    stack = synthesized_app.stacks[environment][stack_id]
    deriver_principals = [function_role(stack), *config.extra_deriver_arns]
    derive_condition: dict[str, Any] = {"kms:KeyAgreementAlgorithm": "ECDH"}
    if config.network_isolation:
        derive_condition["aws:SourceVpce"] = kms_endpoint(stack)
    anyone = {"AWS": "*"}
    found = keys(stack) if replica_region is None else replica_keys(stack)
    assert len(found) == sum(len(config.generations(spec)) for spec in config.key_specs)

    for key in found.values():
        statements = statements_by_sid(key)
        assert sorted(statements) == sorted(expected_sids(config, replica=replica_region is not None))
        if replica_region is None:
            assert key["Properties"].get("MultiRegion", False) is bool(config.replica_regions)
            for sid, statement in (replication_statements(config) if config.replica_regions else {}).items():
                assert statements.pop(sid) == statement
        if config.public_key_reader_organization_id or config.public_key_reader_org_paths:
            assert statements.pop("AllowOrganizationPublicKeyRead") == organization_read_statement(config)
        for statement in statements.values():
            assert statement["Resource"] == "*"
            assert set(statement) <= {"Sid", "Effect", "Principal", "Action", "Resource", "Condition"}

        administration = statements["KeyAdministration"]
        assert administration["Effect"] == "Allow"
        assert canonical(administration["Principal"]["AWS"]) == canonical(
            [*config.admin_arns, execution_role(config, replica_region)]
        )
        assert sorted(administration["Action"]) == KEY_ADMINISTRATION_ACTIONS
        assert "Condition" not in administration

        derive = statements["AllowDeriveSharedSecret"]
        assert derive["Effect"] == "Allow"
        assert canonical(derive["Principal"]["AWS"]) == canonical(deriver_principals)
        assert derive["Action"] == "kms:DeriveSharedSecret"
        assert derive["Condition"] == {"StringEquals": derive_condition}

        read = statements["AllowPublicKeyRead"]
        assert read["Effect"] == "Allow"
        # the directory's publishers read every generation's public key to sign the directory
        readers = dict.fromkeys([*config.public_key_reader_arns, *config.directory_publisher_arns])
        assert canonical(read["Principal"]["AWS"]) == canonical([*readers, *deriver_principals])
        assert sorted(read["Action"]) == ["kms:DescribeKey", "kms:GetPublicKey"]
        assert "Condition" not in read

        assert statements["DenyPolicyLockoutBypass"] == {
            "Sid": "DenyPolicyLockoutBypass",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": "kms:PutKeyPolicy",
            "Resource": "*",
            "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        }
        assert statements["DenyShortDeletionWindow"] == {
            "Sid": "DenyShortDeletionWindow",
            "Effect": "Deny",
            "Principal": anyone,
            "Action": "kms:ScheduleKeyDeletion",
            "Resource": "*",
            "Condition": {
                "NumericLessThan": {
                    "kms:ScheduleKeyDeletionPendingWindowInDays": config.minimum_deletion_window_days
                }
            },
        }
        deny_others = statements["DenyDeriveToOthers"]
        assert deny_others["Effect"] == "Deny"
        assert deny_others["Principal"] == anyone
        assert deny_others["Action"] == "kms:DeriveSharedSecret"
        assert list(deny_others["Condition"]) == ["ArnNotEquals"]
        assert list(deny_others["Condition"]["ArnNotEquals"]) == ["aws:PrincipalArn"]
        assert canonical(deny_others["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == canonical(
            deriver_principals
        )


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_allow_grants_a_wildcard_over_derive_or_create_grant(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    for stack in synthesized_app.stacks[environment].values():
        for statement in all_statements(stack.raw):
            if statement["Effect"] != "Allow":
                continue
            assert "NotAction" not in statement, statement
            for action in as_list(statement["Action"]):
                action = action.lower()
                assert action not in ("*", "kms:*"), statement
                if "*" in action or "?" in action:
                    assert not any(fnmatch.fnmatchcase(name, action) for name in PROTECTED_ACTIONS), statement


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_no_iam_policy_allows_a_kms_action_on_every_resource(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    for stack in synthesized_app.stacks[environment].values():
        for policy in stack.resources("AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                if any(action.startswith("kms:") for action in as_list(statement["Action"])):
                    assert "*" not in as_list(statement["Resource"]), statement


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_function_role_may_derive_only_with_its_keys(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    stack = key_stack(synthesized_app, environment)
    role_logical_id = function_role(stack)["Fn::GetAtt"][0]
    key_arns = canonical([{"Fn::GetAtt": [logical_id, "Arn"]} for logical_id in keys(stack)])
    condition: dict[str, Any] = {"kms:KeyAgreementAlgorithm": "ECDH"}
    if config.network_isolation:
        condition["aws:SourceVpce"] = kms_endpoint(stack)

    role_statements = [
        statement
        for policy in stack.resources("AWS::IAM::Policy").values()
        if {"Ref": role_logical_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    derive = [s for s in role_statements if "kms:DeriveSharedSecret" in as_list(s["Action"])]
    assert derive, "the function role has no DeriveSharedSecret statement"
    assert all(as_list(s["Action"]) == ["kms:DeriveSharedSecret"] for s in derive)
    assert all(s["Condition"] == {"StringEquals": condition} for s in derive)
    assert canonical([resource for s in derive for resource in as_list(s["Resource"])]) == key_arns


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deletion_settings_follow_the_environment(synthesized_app: SynthesizedApp, environment: str) -> None:
    config = synthesized_app.environments[environment]
    expected_policy = "Retain" if config.removal_policy == "retain" else "Delete"
    for key in keys(key_stack(synthesized_app, environment)).values():
        assert key["DeletionPolicy"] == expected_policy
        assert key["UpdateReplacePolicy"] == expected_policy
        assert key["Properties"]["PendingWindowInDays"] == config.pending_window_days


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_function_log_level_follows_the_environment(synthesized_app: SynthesizedApp, environment: str):
    config = synthesized_app.environments[environment]
    logging_config = derive_function(key_stack(synthesized_app, environment))["Properties"]["LoggingConfig"]
    assert (logging_config["LogFormat"], logging_config["ApplicationLogLevel"]) == ("JSON", config.log_level)


def test_the_dev_example_logs_at_debug(synthesized_app: SynthesizedApp) -> None:
    # A safe setting to show: no secret reaches the log at DEBUG (tests/lambda/test_runtime_log_levels.py).
    assert synthesized_app.environments["dev"].log_level == "DEBUG"


def test_prod_keys_are_retained_with_a_thirty_day_window(synthesized_app: SynthesizedApp) -> None:
    prod_keys = keys(key_stack(synthesized_app, "prod"))
    assert prod_keys
    for key in prod_keys.values():
        assert key["DeletionPolicy"] == "Retain"
        assert key["UpdateReplacePolicy"] == "Retain"
        assert key["Properties"]["PendingWindowInDays"] == 30
        deny = statements_by_sid(key)["DenyShortDeletionWindow"]
        assert deny["Condition"]["NumericLessThan"]["kms:ScheduleKeyDeletionPendingWindowInDays"] == 30


def test_prod_stacks_are_termination_protected_and_tagged(synthesized_app: SynthesizedApp) -> None:
    for environment, stack in synthesized_app.all_stacks():
        assert stack.termination_protection is (environment == "prod"), stack.artifact_id
        assert stack.tags == {"project": "kmsecdh", "environment": environment}


def test_prod_function_runs_in_isolated_subnets_without_internet_routes(
    synthesized_app: SynthesizedApp,
) -> None:
    stack = key_stack(synthesized_app, "prod")
    assert not stack.resources("AWS::EC2::InternetGateway")
    assert not stack.resources("AWS::EC2::NatGateway")
    for route in stack.resources("AWS::EC2::Route").values():
        assert route["Properties"].get("DestinationCidrBlock") != "0.0.0.0/0"
    services = sorted(
        json.dumps(endpoint["Properties"]["ServiceName"]).rsplit(".", 1)[-1].strip('"]}')
        for endpoint in stack.resources("AWS::EC2::VPCEndpoint").values()
    )
    assert services == ["kms", "logs", "xray"]
    assert all(
        endpoint["Properties"]["PrivateDnsEnabled"] is True
        for endpoint in stack.resources("AWS::EC2::VPCEndpoint").values()
    )
    assert len(stack.resources("AWS::EC2::FlowLog")) == 1
    assert derive_function(stack)["Properties"]["VpcConfig"]["SubnetIds"]


@pytest.mark.parametrize("environment", [e for e in ENVIRONMENTS if e != "prod"])
def test_other_environments_have_no_network(synthesized_app: SynthesizedApp, environment: str) -> None:
    assert not key_stack(synthesized_app, environment).resources("AWS::EC2::VPC")


def test_callers_may_invoke_the_function(synthesized_app: SynthesizedApp) -> None:
    for environment, config in synthesized_app.environments.items():
        stack = key_stack(synthesized_app, environment)
        principals = sorted(
            permission["Properties"]["Principal"]
            for permission in stack.resources("AWS::Lambda::Permission").values()
        )
        assert principals == sorted(config.caller_arns)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_outputs_name_the_function_and_every_key(synthesized_app: SynthesizedApp, environment: str) -> None:
    stack = key_stack(synthesized_app, environment)
    [function_id] = [
        logical_id
        for logical_id, function in stack.resources("AWS::Lambda::Function").items()
        if function["Properties"].get("Handler") == DERIVE_HANDLER
    ]
    outputs = stack.raw["Outputs"]
    assert outputs["DeriveFunctionName"]["Value"] == {"Ref": function_id}
    key_arn_outputs = {
        output["Value"]["Fn::GetAtt"][0]
        for name, output in outputs.items()
        if name.endswith("KeyArn") and "Fn::GetAtt" in output["Value"]
    }
    generations = generations_output(stack.raw)
    assert key_arn_outputs == {entry["arn"] for entry in generations if entry["current"]}
    assert {entry["arn"] for entry in generations} == set(keys(stack))


# The resource policies that let an AWS service act, and their guards against a confused deputy.
RESOURCE_POLICIES = {
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
}
CONFUSED_DEPUTY_KEYS = {"aws:SourceArn", "aws:SourceAccount"}
# CloudWatch Logs documents the log group's ARN in the encryption context as its key-policy condition.
LOGS_CONTEXT_KEY = "kms:EncryptionContext:aws:logs:arn"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_statement_for_a_service_names_its_source(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    for stack in synthesized_app.stacks[environment].values():
        for resource_type, property_name in RESOURCE_POLICIES.items():
            for resource in stack.resources(resource_type).values():
                for statement in resource["Properties"][property_name]["Statement"]:
                    principal = statement.get("Principal")
                    service = principal.get("Service") if isinstance(principal, dict) else None
                    if statement["Effect"] != "Allow" or service is None:
                        continue
                    condition_keys = {key for keys in statement["Condition"].values() for key in keys}
                    if '"logs.' in json.dumps(service):
                        assert statement["Condition"]["ArnEquals"][LOGS_CONTEXT_KEY], statement
                        assert "*" not in json.dumps(statement["Condition"]), statement
                    else:
                        assert condition_keys >= CONFUSED_DEPUTY_KEYS, statement


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_kms_key_denies_the_lockout_bypass(synthesized_app: SynthesizedApp, environment: str) -> None:
    found = 0
    for stack in synthesized_app.stacks[environment].values():
        for key in stack.resources("AWS::KMS::Key").values():
            found += 1
            assert {
                "Sid": "DenyPolicyLockoutBypass",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:PutKeyPolicy",
                "Resource": "*",
                "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
            } in key["Properties"]["KeyPolicy"]["Statement"]
    assert found > len(synthesized_app.environments[environment].key_specs)


def test_prod_flow_logs_are_encrypted_with_a_key_for_that_group_only(synthesized_app: SynthesizedApp) -> None:
    account = synthesized_app.environments["prod"].account
    stack = key_stack(synthesized_app, "prod")
    [(_, flow_log)] = stack.resources("AWS::EC2::FlowLog").items()
    group = stack.raw["Resources"][flow_log["Properties"]["LogGroupName"]["Ref"]]["Properties"]
    key_id = group["KmsKeyId"]["Fn::GetAtt"][0]
    statements = statements_by_sid(stack.raw["Resources"][key_id])
    assert sorted(statements) == ["AllowCloudWatchLogs", "DenyPolicyLockoutBypass", "KeyAdministration"]
    assert statements["AllowCloudWatchLogs"]["Principal"] == {"Service": "logs.eu-central-1.amazonaws.com"}
    assert statements["AllowCloudWatchLogs"]["Condition"] == {
        "ArnEquals": {
            "kms:EncryptionContext:aws:logs:arn": (
                f"arn:aws:logs:eu-central-1:{account}:log-group:{group['LogGroupName']}"
            )
        }
    }
