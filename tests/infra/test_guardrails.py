"""The organisation guardrails: the `guardrails` section of cdk.json, the policies' sizes and what they name.

Who the policies actually refuse is proven by the IAM evaluator (tests/infra/test_access_matrix.py); here, the
configuration's refusals, AWS's size limits, and that every fixed name the policies rely on is the name the
environments' templates give the resource.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import aws_cdk as cdk
import pytest

from kmsecdh_cdk.guardrails import (
    MAX_POLICIES_PER_TARGET,
    MAX_POLICY_CHARACTERS,
    GuardedResources,
    OrganizationGuardrails,
    outside_organization_statement,
    pack,
    policy_characters,
    service_control_statements,
)
from stacks.config import parse_environments
from stacks.guardrails_config import GuardrailsConfigError, parse_guardrails
from tests.infra.conftest import SynthesizedApp, SynthesizedStack, load_context

CONTEXT = load_context()
ENVIRONMENTS = parse_environments(CONTEXT["environments"])
ROLE = "arn:aws:iam::111111111111:role/cfn"


def guardrails_entry(**changes: Any) -> dict[str, Any]:
    entry = {**CONTEXT["guardrails"], **changes}
    return {field: value for field, value in entry.items() if value is not None}


def policies(stack: SynthesizedStack, kind: str) -> list[dict[str, Any]]:
    return [
        resource["Properties"]
        for resource in stack.resources("AWS::Organizations::Policy").values()
        if resource["Properties"]["Type"] == kind
    ]


def test_the_example_section_parses_and_guards_every_environment() -> None:
    config = parse_guardrails(CONTEXT["guardrails"], ENVIRONMENTS)
    assert config.environments == tuple(ENVIRONMENTS)
    assert config.target_ids == tuple(CONTEXT["guardrails"]["target_ids"])


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"account": "12345"}, "account", "required: the 12-digit id"),
        ({"account": None}, "account", "required: the 12-digit id"),
        ({"region": "europe"}, "region", "required: the Region of the Guardrails stack"),
        ({"organization_id": "org-1"}, "organization_id", "required: the organisation id (o-...)"),
        ({"target_ids": []}, "target_ids", "must be a non-empty list"),
        ({"target_ids": ["ou-1"]}, "target_ids", "'ou-1' is not a root (r-...), an OU"),
        ({"target_ids": ["r-ab12", "r-ab12"]}, "target_ids", "lists a target twice"),
        ({"environments": ["qa"]}, "environments", "environment 'qa' is not in environments"),
        ({"environments": ["prod", "prod"]}, "environments", "lists an environment twice"),
        ({"environments": []}, "environments", "must be a non-empty list of environment names"),
        (
            {"account": "333333333333", "environments": ["prod"]},
            "environments",
            "environment 'prod' is deployed to 333333333333, the account that administers",
        ),
        ({"targets": ["r-ab12"]}, "targets", "unknown field"),
    ],
)
def test_a_bad_section_is_refused_naming_the_field(changes: dict[str, Any], field: str, message: str) -> None:
    with pytest.raises(GuardrailsConfigError) as raised:
        parse_guardrails(guardrails_entry(**changes), ENVIRONMENTS)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"guardrails.{field}: ")
    assert message in str(raised.value)


def test_environments_whose_name_patterns_overlap_are_refused() -> None:
    environments = parse_environments(
        {"prod": CONTEXT["environments"]["prod"], "prod-eu": CONTEXT["environments"]["dev"]}
    )
    with pytest.raises(GuardrailsConfigError, match="'prod' and 'prod-eu': the policies name 'prod''s"):
        parse_guardrails(guardrails_entry(environments=["prod"]), environments)


def test_every_policy_is_within_the_organizations_size_limit(synthesized_app: SynthesizedApp) -> None:
    stack = synthesized_app.root_stacks["Guardrails"]
    for kind in ("SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY"):
        found = policies(stack, kind)
        assert 1 <= len(found) <= MAX_POLICIES_PER_TARGET
        for policy in found:
            assert policy_characters(policy["Content"]) <= MAX_POLICY_CHARACTERS, policy["Name"]
            assert policy["TargetIds"] == CONTEXT["guardrails"]["target_ids"]


def _matches(arn: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(arn, pattern) for pattern in patterns)


def _statement(stack: SynthesizedStack, sid: str) -> dict[str, Any]:
    [statement] = [
        statement
        for policy in policies(stack, "SERVICE_CONTROL_POLICY")
        for statement in policy["Content"]["Statement"]
        if statement["Sid"] == sid
    ]
    return statement


@pytest.mark.parametrize("environment", list(ENVIRONMENTS))
def test_the_policies_name_the_resources_the_templates_create(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    """The fixed names the SCPs rely on: every derive function and role (every Region), every alias, and in
    create mode the trail and its log group, as the templates write them."""
    guardrails = synthesized_app.root_stacks["Guardrails"]
    config = synthesized_app.environments[environment]
    prefix = environment.capitalize()
    account = config.account or "*"
    function_patterns = _statement(guardrails, f"{prefix}FunctionChangeOnlyByDeployer")["Resource"]
    role_patterns = _statement(guardrails, f"{prefix}RoleChangeOnlyByDeployer")["Resource"]
    alias_patterns = _statement(guardrails, f"{prefix}AliasChangeOnlyByDeployer")["Resource"]
    key_statement = _statement(guardrails, f"{prefix}KeyChangeOnlyByDeployer")
    key_aliases = key_statement["Condition"]["ForAnyValue:StringLike"]["kms:ResourceAliases"]
    stacks = synthesized_app.stacks[environment]
    functions = [
        (stack, function)
        for stack in stacks.values()
        for function in stack.resources("AWS::Lambda::Function").values()
        if function["Properties"].get("Handler") == "handler.handler"
    ]
    assert len(functions) == 1 + len(config.replica_regions)
    for stack, function in functions:
        name = function["Properties"]["FunctionName"]
        # KeyAgreement-<region> for a replica Region; an environment-agnostic stack goes to any Region.
        region = stack.stack_id.partition("-")[2] or config.region or "us-east-1"
        assert _matches(f"arn:aws:lambda:{region}:{account}:function:{name}", function_patterns)
        role_id = function["Properties"]["Role"]["Fn::GetAtt"][0]
        role_name = stack.raw["Resources"][role_id]["Properties"]["RoleName"]
        assert _matches(f"arn:aws:iam::{account}:role/{role_name}", role_patterns)
    aliases = [
        alias["Properties"]["AliasName"]
        for stack in stacks.values()
        for alias in stack.resources("AWS::KMS::Alias").values()
    ]
    assert aliases
    for alias in aliases:
        assert _matches(alias, key_aliases)
        assert _matches(f"arn:aws:kms:eu-west-1:{account}:{alias}", alias_patterns)
    if config.trail_mode == "create":
        [trail] = stacks["Audit"].resources("AWS::CloudTrail::Trail").values()
        trail_patterns = _statement(guardrails, f"{prefix}TrailChangeOnlyByDeployer")["Resource"]
        region = config.region or "*"
        trail_arn = f"arn:aws:cloudtrail:{region}:{account}:trail/{trail['Properties']['TrailName']}"
        assert trail_arn in trail_patterns
        [group] = [
            group
            for group in stacks["Audit"].resources("AWS::Logs::LogGroup").values()
            if group["Properties"]["LogGroupName"].startswith("/aws/cloudtrail/")
        ]
        group_patterns = _statement(guardrails, f"{prefix}AuditLogGroupChangeOnlyByDeployer")["Resource"]
        group_arn = f"arn:aws:logs:{region}:{account}:log-group:{group['Properties']['LogGroupName']}"
        assert group_arn in group_patterns


def test_pack_fills_documents_in_order_and_refuses_what_aws_would() -> None:
    resources = GuardedResources(
        name="prod",
        deployer_role_arns=(ROLE,),
        caller_arns=("arn:aws:iam::111111111111:role/app",),
        function_arns=("arn:aws:lambda:*:111111111111:function:kmsecdh-prod-derive*",),
    )
    statements = service_control_statements(resources)
    assert [statement["Sid"] for statement in statements] == [
        "ProdInvokeOnlyByCallers",
        "ProdFunctionChangeOnlyByDeployer",
    ]
    [document] = pack(statements, kind="SCP")
    assert document == {"Version": "2012-10-17", "Statement": statements}
    many = [{**statements[1], "Sid": f"S{index}"} for index in range(40)]
    documents = pack(many, kind="SCP")
    assert [statement for document in documents for statement in document["Statement"]] == many
    assert all(policy_characters(document) <= MAX_POLICY_CHARACTERS for document in documents)
    with pytest.raises(ValueError, match="more than the 4 a target takes"):
        pack(many * 3, kind="SCP")
    huge = {**statements[0], "Resource": [f"arn:aws:lambda:*:*:function:f{index}" for index in range(200)]}
    with pytest.raises(ValueError, match=r"SCP statement ProdInvokeOnlyByCallers alone is \d+ characters"):
        pack([huge], kind="SCP")


def test_no_callers_means_nobody_invokes() -> None:
    resources = GuardedResources(
        name="prod",
        deployer_role_arns=(ROLE,),
        function_arns=("arn:aws:lambda:*:111111111111:function:f*",),
    )
    assert "Condition" not in service_control_statements(resources)[0]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deployer_role_arns": ()}, "deployer_role_arns is empty"),
        ({"key_aliases": ("alias/x-*",)}, "give all three or none"),
        ({"name": "pr od"}, "letters, digits and '-' only"),
    ],
)
def test_guarded_resources_refuse_what_would_guard_nothing_or_everything(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        GuardedResources(**{"name": "prod", "deployer_role_arns": (ROLE,), **kwargs})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target_ids": []}, "needs target_ids"),
        ({"target_ids": ["ou-1"]}, "'ou-1' is not a root"),
        ({"guarded": []}, "at least one deployment"),
        ({"organization_id": "org"}, "must be an AWS Organizations id"),
    ],
)
def test_organization_guardrails_refuses_bad_properties(kwargs: dict[str, Any], message: str) -> None:
    resources = GuardedResources(
        name="prod",
        deployer_role_arns=(ROLE,),
        key_arns=("arn:aws:kms:*:111111111111:key/*",),
        key_aliases=("alias/kmsecdh-prod-*",),
        key_alias_arns=("arn:aws:kms:*:111111111111:alias/kmsecdh-prod-*",),
    )
    properties = {
        "guarded": [resources],
        "organization_id": "o-a1b2c3d4e5",
        "target_ids": ["ou-ab12-33333333"],
        **kwargs,
    }
    with pytest.raises(ValueError, match=message):
        OrganizationGuardrails(cdk.Stack(), "Guardrails", **properties)


def test_the_resource_control_policy_refuses_derive_and_sign_outside_the_organisation() -> None:
    assert outside_organization_statement("o-a1b2c3d4e5", ["alias/b-*", "alias/a-*", "alias/a-*"]) == {
        "Sid": "DeriveAndSignOnlyInsideTheOrganization",
        "Effect": "Deny",
        "Principal": "*",
        "Action": ["kms:DeriveSharedSecret", "kms:Sign"],
        "Resource": "*",
        "Condition": {
            "StringNotEqualsIfExists": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"},
            "BoolIfExists": {"aws:PrincipalIsAWSService": "false"},
            "ForAnyValue:StringLike": {"kms:ResourceAliases": ["alias/a-*", "alias/b-*"]},
        },
    }
