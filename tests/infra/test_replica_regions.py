"""Multi-Region keys: every environment with ``replica_regions`` has, per replica Region, a stack of its own
with a replica of each primary key (named by the primary's ARN), the same aliases, a derive function
configured with that Region's replicas, and the home Region's audit watches all of it (the replicas by their
primary's key id, in any Region).

The key policies of the replicas are compared exactly in ``test_key_agreement_stack``
(``test_key_policy_statements_exactly``, one case per Region).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from tests.infra.conftest import SynthesizedApp, SynthesizedStack, load_context
from tests.infra.filter_pattern import matches
from tests.infra.pattern_cases import sample
from tests.infra.test_audit import audit_template, patterns_by_metric_raw, render_app
from tests.infra.test_key_agreement_stack import as_list, canonical, derive_function, function_role, keys

REPLICAS = [
    (environment, region)
    for environment, entry in load_context()["environments"].items()
    for region in entry.get("replica_regions", ())
]
WITHOUT_REPLICAS = [
    environment
    for environment, entry in load_context()["environments"].items()
    if not entry.get("replica_regions")
]


def home_stack(synthesized_app: SynthesizedApp, environment: str) -> SynthesizedStack:
    return synthesized_app.stacks[environment]["KeyAgreement"]


def replica_stack(synthesized_app: SynthesizedApp, environment: str, region: str) -> SynthesizedStack:
    return synthesized_app.stacks[environment][f"KeyAgreement-{region}"]


def manifest_artifacts(synthesized_app: SynthesizedApp, environment: str) -> dict[str, dict[str, Any]]:
    manifest = json.loads((synthesized_app.outdir / f"assembly-{environment}" / "manifest.json").read_text())
    return manifest["artifacts"]


def aliases(stack: SynthesizedStack) -> dict[str, str]:
    """Alias name -> logical id of the key it targets."""
    return {
        alias["Properties"]["AliasName"]: alias["Properties"]["TargetKeyId"]["Fn::GetAtt"][0]
        for alias in stack.resources("AWS::KMS::Alias").values()
    }


def test_the_prod_example_has_one_replica_region() -> None:
    assert REPLICAS == [("prod", "eu-west-1")]


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_each_replica_region_is_a_stack_of_its_own_in_that_region(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    config = synthesized_app.environments[environment]
    artifacts = manifest_artifacts(synthesized_app, environment)
    stacks = {
        artifact["displayName"].split("/", 1)[1]: (artifact_id, artifact)
        for artifact_id, artifact in artifacts.items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    directory = ["Directory"] if config.directory_publisher_arns else []
    dashboard = ["Dashboard"] if config.dashboard else []
    assert sorted(stacks) == sorted(
        [
            "KeyAgreement",
            "Audit",
            *directory,
            *dashboard,
            *(f"KeyAgreement-{r}" for r in config.replica_regions),
        ]
    )
    home_id, home = stacks["KeyAgreement"]
    _, replica = stacks[f"KeyAgreement-{region}"]
    assert home["environment"] == f"aws://{config.account}/{config.region}"
    assert replica["environment"] == f"aws://{config.account}/{region}"
    assert replica["properties"]["stackName"] == f"kmsecdh-{environment}-key-agreement-{region}"
    # deployed after the home stack, whose outputs name the primary keys
    assert home_id in replica["dependencies"]


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_every_primary_has_a_replica_named_by_its_arn_with_the_same_alias(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    config = synthesized_app.environments[environment]
    home = home_stack(synthesized_app, environment)
    replica = replica_stack(synthesized_app, environment, region)
    primaries = aliases(home)
    replicas = aliases(replica)
    assert sorted(replicas) == sorted(primaries)
    # a replica of each multi-Region generation's key
    assert len(set(replicas.values())) == sum(
        generation.multi_region for spec in config.key_specs for generation in config.generations(spec)
    )
    for alias_name, replica_id in replicas.items():
        replica_key = replica.raw["Resources"][replica_id]
        assert replica_key["Type"] == "AWS::KMS::ReplicaKey"
        assert replica.raw["Resources"][_alias_id(replica, alias_name)]["Properties"]["TargetKeyId"] == {
            "Fn::GetAtt": [replica_id, "KeyId"]
        }
        properties = replica_key["Properties"]
        # the primary's ARN, read from the home stack's output in the home Region
        reference = properties["PrimaryKeyArn"]["Fn::GetStackOutput"]
        assert reference["StackName"] == f"kmsecdh-{environment}-key-agreement"
        assert reference["Region"] == config.region
        assert home.raw["Outputs"][reference["OutputName"]]["Value"] == {
            "Fn::GetAtt": [primaries[alias_name], "Arn"]
        }
        assert home.raw["Resources"][primaries[alias_name]]["Properties"]["MultiRegion"] is True
        assert properties["Enabled"] is True
        assert properties["PendingWindowInDays"] == config.pending_window_days
        expected_policy = "Retain" if config.removal_policy == "retain" else "Delete"
        assert (replica_key["DeletionPolicy"], replica_key["UpdateReplacePolicy"]) == (expected_policy,) * 2


def _alias_id(stack: SynthesizedStack, alias_name: str) -> str:
    [logical_id] = [
        logical_id
        for logical_id, alias in stack.resources("AWS::KMS::Alias").items()
        if alias["Properties"]["AliasName"] == alias_name
    ]
    return logical_id


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_the_replica_region_function_serves_that_regions_replicas(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    config = synthesized_app.environments[environment]
    replica = replica_stack(synthesized_app, environment, region)
    home_function = derive_function(home_stack(synthesized_app, environment))["Properties"]
    function = derive_function(replica)["Properties"]
    name = f"kmsecdh-{environment}-derive-{region}"
    assert function["FunctionName"] == name
    role_id = function_role(replica)["Fn::GetAtt"][0]
    assert replica.raw["Resources"][role_id]["Properties"]["RoleName"] == name

    variables = function["Environment"]["Variables"]
    separator, parts = variables["KMSECDH_KEYS"]["Fn::Join"]
    rendered = separator.join(
        part if isinstance(part, str) else "${" + part["Fn::GetAtt"][0] + "}" for part in parts
    )
    assert json.loads(rendered) == {
        alias_name: {
            "arn": "${" + logical_id + "}",
            "key_spec": replica.raw["Resources"][logical_id]["Properties"]["Description"].split()[1],
        }
        for alias_name, logical_id in aliases(replica).items()
    }
    assert rendered.count("${") == len(aliases(replica))
    home_variables = home_function["Environment"]["Variables"]
    assert variables["KMSECDH_DEFAULT_KEY"] == home_variables["KMSECDH_DEFAULT_KEY"]
    assert variables["KMSECDH_ALLOW_RAW_SECRET"] == home_variables["KMSECDH_ALLOW_RAW_SECRET"]
    # the same settings as at home: runtime, logging, tracing, concurrency, network
    for setting in ("Runtime", "Architectures", "Handler", "MemorySize", "Timeout", "TracingConfig"):
        assert function[setting] == home_function[setting], setting
    assert function["ReservedConcurrentExecutions"] == config.reserved_concurrency
    assert function["LoggingConfig"]["ApplicationLogLevel"] == config.log_level
    assert ("VpcConfig" in function) is config.network_isolation

    # the role derives only with this Region's replicas (ECDH, through this Region's KMS endpoint)
    role_statements = [
        statement
        for policy in replica.resources("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    derive = [s for s in role_statements if "kms:DeriveSharedSecret" in as_list(s["Action"])]
    assert canonical([resource for s in derive for resource in as_list(s["Resource"])]) == canonical(
        [{"Fn::GetAtt": [logical_id, "Arn"]} for logical_id in set(aliases(replica).values())]
    )
    callers = sorted(
        p["Properties"]["Principal"] for p in replica.resources("AWS::Lambda::Permission").values()
    )
    assert callers == sorted(config.caller_arns)


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_replica_stack_outputs_name_its_function_and_replicas(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    replica = replica_stack(synthesized_app, environment, region)
    outputs = replica.raw["Outputs"]
    assert outputs["DeriveFunctionName"]["Value"]["Ref"] in replica.resources("AWS::Lambda::Function")
    assert {
        output["Value"]["Fn::GetAtt"][0] for name, output in outputs.items() if name.endswith("KeyArn")
    } == set(aliases(replica).values())


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_replica_stack_tags_and_protection_follow_the_environment(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    config = synthesized_app.environments[environment]
    replica = replica_stack(synthesized_app, environment, region)
    assert replica.termination_protection is config.termination_protection
    assert replica.tags == {"project": "kmsecdh", "environment": environment}


@pytest.mark.parametrize("environment", WITHOUT_REPLICAS)
def test_without_replica_regions_keys_are_single_region(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    directory = ["Directory"] if config.directory_publisher_arns else []
    dashboard = ["Dashboard"] if config.dashboard else []
    assert sorted(synthesized_app.stacks[environment]) == sorted(
        ["Audit", "KeyAgreement", *directory, *dashboard]
    )
    for key in keys(home_stack(synthesized_app, environment)).values():
        assert "MultiRegion" not in key["Properties"]


# --- the home Region's audit watches the replica Regions ----------------------------------------------


def rendered(synthesized_app: SynthesizedApp, environment: str) -> dict[str, list[str]]:
    return {
        metric: [render_app(pattern) for pattern in patterns]
        for metric, patterns in patterns_by_metric_raw(
            audit_template(synthesized_app, environment), f"kmsecdh/{environment}"
        ).items()
    }


def primary_key_id_outputs(synthesized_app: SynthesizedApp, environment: str) -> list[str]:
    """The home stack's outputs holding a primary key's id (Ref), which its replicas share."""
    home = home_stack(synthesized_app, environment)
    primaries = set(keys(home))
    return sorted(
        name
        for name, output in home.raw["Outputs"].items()
        if output["Value"].get("Ref") in primaries and name.startswith("PublishOutput")
    )


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_audit_filters_watch_every_replica_key_by_its_key_id(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    """One filter per primary key covers its replicas: it matches the key id in any Region's ARN, so a
    replica's events (and those of a replica made in a Region nobody configured) reach the same alarm."""
    config = synthesized_app.environments[environment]
    patterns = rendered(synthesized_app, environment)
    key_id_outputs = primary_key_id_outputs(synthesized_app, environment)
    assert len(key_id_outputs) == len(config.key_specs)
    for metric in (
        "KeyPolicyOrGrantChanged",
        "KeyReplicatedOrPrimaryRegionChanged",
        "DeriveByUnallowedPrincipal",
        "RetiredOrDisabledKeyUsed",
    ):
        assert len(patterns[metric]) == len(config.key_specs), metric
        for output in key_id_outputs:
            assert len([p for p in patterns[metric] if f'"*:key/${{output:{output}}}"' in p]) == 1, metric

    replica_role = f"arn:aws:iam::{config.account}:role/kmsecdh-{environment}-derive-{region}"
    for index, output in enumerate(key_id_outputs):
        key_id = f"mrk-{index:032x}"
        [pattern] = [p for p in patterns["DeriveByUnallowedPrincipal"] if f"${{output:{output}}}" in p]
        on_this_key = pattern.replace(f"${{output:{output}}}", key_id)
        by_user = replica_derive(sample("kms_derive_shared_secret_by_user")["event"], region, key_id)
        assert matches(on_this_key, by_user)
        by_replica_role = replica_derive(
            sample("kms_derive_shared_secret_by_role_other_session")["event"], region, key_id
        )
        by_replica_role["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] = replica_role
        # every Region's derive role is spared (each key policy still refuses the others: DenyDeriveToOthers)
        assert not matches(on_this_key, by_replica_role)


def replica_derive(event: dict[str, Any], region: str, key_id: str) -> dict[str, Any]:
    """``event`` (a DeriveSharedSecret sample) made on a replica in ``region``."""
    event = copy.deepcopy(event)
    event["awsRegion"] = region
    event["requestParameters"]["keyId"] = key_id
    event["resources"][0]["ARN"] = f"arn:aws:kms:{region}:{event['recipientAccountId']}:key/{key_id}"
    return event


@pytest.mark.parametrize(("environment", "region"), REPLICAS)
def test_audit_watches_the_replica_regions_function_and_role(
    synthesized_app: SynthesizedApp, environment: str, region: str
) -> None:
    config = synthesized_app.environments[environment]
    name = f"kmsecdh-{environment}-derive-{region}"
    function_arn = f"arn:aws:lambda:{region}:{config.account}:function:{name}"
    role_arn = f"arn:aws:iam::{config.account}:role/{name}"
    patterns = rendered(synthesized_app, environment)
    expected = {
        "DeriveFunctionInvokedByUnallowedPrincipal": f'($.resources[0].ARN = "{function_arn}")',
        "DeriveFunctionChanged": f'($.requestParameters.functionName = "{name}")',
        "DeriveRoleChanged": f'($.requestParameters.roleName = "{name}")',
        "DeriveOutsideFunction": f'($.userIdentity.sessionContext.sessionIssuer.arn = "{role_arn}")',
    }
    for metric, fragment in expected.items():
        assert len(patterns[metric]) == 1 + len(config.replica_regions), metric
        assert len([p for p in patterns[metric] if fragment in p]) == 1, metric
    [outside] = [p for p in patterns["DeriveOutsideFunction"] if role_arn in p]
    assert f'($.userIdentity.arn != "arn:aws:sts::{config.account}:assumed-role/{name}/{name}")' in outside
    if config.trail_mode == "create":
        [trail] = [
            resource["Properties"]
            for resource in audit_template(synthesized_app, environment)["Resources"].values()
            if resource["Type"] == "AWS::CloudTrail::Trail"
        ]
        # one multi-Region trail: the replica Region's invocations reach the same log group
        assert trail["IsMultiRegionTrail"] is True
        _, invocations = trail["AdvancedEventSelectors"]
        assert function_arn in invocations["FieldSelectors"][-1]["Equals"]
