"""The deploy-local comparisons on a stand-in stack (no endpoint): they resolve references like
CloudFormation and report a difference as a mismatch, so `make deploy-local` can fail."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.cloud_assembly import write_stage_pointer
from tools.deploy_local.assembly import (
    DEFAULT_ACCOUNT,
    DEFAULT_QUALIFIER,
    DEFAULT_REGION,
    bootstrap_options,
    read_stages,
)
from tools.deploy_local.checks import FALLBACK_REASON, check_keys, check_outputs, check_stack
from tools.deploy_local.resolve import DeployedStack, Unresolvable

ACCOUNT, REGION = "111111111111", "eu-west-1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/stack-DeriveRole-abc"

TEMPLATE: dict[str, Any] = {
    "Conditions": {
        "InEurope": {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["-", {"Ref": "AWS::Region"}]}]}, "eu"]}
    },
    "Resources": {
        "Key": {
            "Type": "AWS::KMS::Key",
            "Properties": {
                "KeyUsage": "KEY_AGREEMENT",
                "KeySpec": "ECC_NIST_P256",
                "KeyPolicy": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "KeyAdministration",
                            "Effect": "Allow",
                            "Principal": {
                                "AWS": {
                                    "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}"
                                    ":role/cdk-exec-${AWS::Region}"
                                }
                            },
                            "Action": "kms:DescribeKey",
                            "Resource": "*",
                        },
                        {
                            "Sid": "AllowDeriveSharedSecret",
                            "Effect": "Allow",
                            "Principal": {"AWS": {"Fn::GetAtt": ["Role", "Arn"]}},
                            "Action": "kms:DeriveSharedSecret",
                            "Resource": "*",
                            "Condition": {
                                "Fn::If": [
                                    "InEurope",
                                    {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}},
                                    {"Ref": "AWS::NoValue"},
                                ]
                            },
                        },
                    ],
                },
            },
        },
        "Alias": {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": "alias/kmsecdh-test-p256",
                "TargetKeyId": {"Fn::GetAtt": ["Key", "Arn"]},
            },
        },
        "Role": {"Type": "AWS::IAM::Role", "Properties": {}},
    },
    "Outputs": {
        "KeyArn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}},
        "Joined": {
            "Value": {
                "Fn::Join": ["/", ["a", {"Fn::Sub": ["${!literal}-${Name}-x", {"Name": {"Ref": "Role"}}]}]]
            }
        },
    },
}
DEPLOYED_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/cdk-exec-{REGION}"},
            "Action": "kms:DescribeKey",
            "Resource": "*",
        },
        {
            "Sid": "AllowDeriveSharedSecret",
            "Effect": "Allow",
            "Principal": {"AWS": ROLE_ARN},
            "Action": "kms:DeriveSharedSecret",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}},
        },
    ],
}


class FakeKms:
    def __init__(self, metadata: dict[str, Any], policy: dict[str, Any]) -> None:
        self.metadata, self.policy = metadata, policy

    def describe_key(self, KeyId: str) -> dict[str, Any]:  # noqa: N803 (boto3's parameter names)
        assert KeyId == KEY_ID
        return {"KeyMetadata": self.metadata}

    def get_key_policy(self, KeyId: str, PolicyName: str) -> dict[str, Any]:  # noqa: N803
        return {"Policy": json.dumps(self.policy)}

    def get_paginator(self, name: str) -> Any:
        assert name == "list_aliases"
        aliases = [{"AliasName": "alias/kmsecdh-test-p256", "TargetKeyId": KEY_ID}]
        return type("Paginator", (), {"paginate": lambda self: [{"Aliases": aliases}]})()


class FakeIam:
    def get_role(self, RoleName: str) -> dict[str, Any]:  # noqa: N803
        return {"Role": {"Arn": ROLE_ARN, "RoleId": "AROAEXAMPLE"}}


def fake_stack(
    template: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    policy: dict[str, Any] | None = None,
    outputs: dict[str, str] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> DeployedStack:
    stack = object.__new__(DeployedStack)
    stack.stack_name, stack.region, stack.account = "kmsecdh-test", REGION, ACCOUNT
    stack.stack_id = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/kmsecdh-test/1"
    stack.template = template or TEMPLATE
    stack.status, stack.termination_protection = "CREATE_COMPLETE", False
    physical = {"Key": KEY_ID, "Alias": "alias/kmsecdh-test-p256", "Role": "stack-DeriveRole-abc"}
    stack.resources = {
        logical_id: {"PhysicalResourceId": physical[logical_id], "ResourceStatus": "CREATE_COMPLETE"}
        for logical_id in stack.template["Resources"]
    }
    deployed_outputs = (
        outputs
        if outputs is not None
        else {"KeyArn": KEY_ARN, "Joined": "a/${literal}-stack-DeriveRole-abc-x"}
    )
    stack.outputs = {
        name: {"OutputKey": name, "OutputValue": value} for name, value in deployed_outputs.items()
    }
    stack.events = events or []
    stack._conditions = {}
    metadata = metadata or {
        "Arn": KEY_ARN,
        "KeyUsage": "KEY_AGREEMENT",
        "KeySpec": "ECC_NIST_P256",
        "KeyState": "Enabled",
    }
    stack._clients = {"kms": FakeKms(metadata, policy or DEPLOYED_POLICY), "iam": FakeIam()}
    return stack


def test_the_key_policy_resolves_to_the_deployed_one() -> None:
    stack = fake_stack()
    assert stack.resolve(TEMPLATE["Resources"]["Key"]["Properties"]["KeyPolicy"]) == DEPLOYED_POLICY
    findings = check_keys(stack)
    assert findings.mismatches == []
    assert any("1 alias(es)" in line for line in findings.checked)


def test_a_condition_false_drops_the_property() -> None:
    template = copy.deepcopy(TEMPLATE)
    template["Conditions"]["InEurope"] = {"Fn::Equals": ["us", "eu"]}
    statement = fake_stack(template).resolve(template["Resources"]["Key"]["Properties"]["KeyPolicy"])[
        "Statement"
    ][1]
    assert "Condition" not in statement


def test_a_different_key_policy_is_a_mismatch() -> None:
    policy = copy.deepcopy(DEPLOYED_POLICY)
    policy["Statement"][1]["Action"] = "kms:*"
    [mismatch] = check_keys(fake_stack(policy=policy)).mismatches
    assert "Key" in mismatch
    assert "key policy" in mismatch
    assert "kms:*" in mismatch


def test_a_different_key_usage_or_spec_is_a_mismatch() -> None:
    metadata = {
        "Arn": KEY_ARN,
        "KeyUsage": "ENCRYPT_DECRYPT",
        "KeySpec": "ECC_NIST_P384",
        "KeyState": "Enabled",
    }
    mismatches = check_keys(fake_stack(metadata=metadata)).mismatches
    assert [m.split(":")[0] for m in mismatches] == [
        f"kmsecdh-test/Key ({KEY_ID}) KeyUsage",
        f"kmsecdh-test/Key ({KEY_ID}) KeySpec",
    ]


def test_outputs_are_compared_resolved() -> None:
    assert check_outputs(fake_stack()).mismatches == []
    mismatches = check_outputs(
        fake_stack(outputs={"KeyArn": KEY_ARN.replace("1234", "9999"), "Extra": "x"})
    ).mismatches
    assert any("output KeyArn" in m for m in mismatches)
    assert any("output Joined missing" in m for m in mismatches)
    assert any("not in the template: Extra" in m for m in mismatches)


def test_an_unknown_attribute_is_refused_by_name() -> None:
    with pytest.raises(Unresolvable, match=r"Role\.RoleName"):
        fake_stack().resolve({"Fn::GetAtt": ["Role", "RoleName"]})


class FakeCloudWatch:
    def describe_alarms(self, AlarmNames: list[str]) -> dict[str, Any]:  # noqa: N803
        alarms = {"kmsecdh-test-Alarm-1": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:kmsecdh-test-Alarm-1"}
        return {"MetricAlarms": [{"AlarmArn": alarms[name]} for name in AlarmNames if name in alarms]}


@pytest.mark.parametrize(("physical", "resolved"), [("kmsecdh-test-Alarm-1", True), ("gone", False)])
def test_an_alarm_arn_resolves_through_cloudwatch(physical: str, resolved: bool) -> None:
    stack = fake_stack()
    stack.template = {"Resources": {**TEMPLATE["Resources"], "Alarm": {"Type": "AWS::CloudWatch::Alarm"}}}
    stack.resources["Alarm"] = {"PhysicalResourceId": physical, "ResourceStatus": "CREATE_COMPLETE"}
    stack._clients["cloudwatch"] = FakeCloudWatch()
    if resolved:
        assert stack.resolve({"Fn::GetAtt": ["Alarm", "Arn"]}) == (
            f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:kmsecdh-test-Alarm-1"
        )
    else:
        with pytest.raises(Unresolvable, match="alarm gone not found"):
            stack.resolve({"Fn::GetAtt": ["Alarm", "Arn"]})


def test_fallback_resources_are_reported_as_pretended() -> None:
    events = [
        {
            "ResourceType": "AWS::CloudTrail::Trail",
            "ResourceStatus": "CREATE_COMPLETE",
            "ResourceStatusReason": f"Resource type AWS::CloudTrail::Trail {FALLBACK_REASON}",
        },
        {"ResourceType": "AWS::KMS::Key", "ResourceStatus": "CREATE_COMPLETE"},
    ]
    findings = check_stack(fake_stack(events=events), termination_protection=True)
    assert findings.mismatches == []
    assert findings.pretended == [
        "1 x AWS::CloudTrail::Trail: reported CREATE_COMPLETE, not created (the endpoint's fallback)",
        "termination protection: requested, not set by the endpoint",
    ]


def test_environment_agnostic_stacks_go_to_the_default_account(tmp_path: Path) -> None:
    write_stage_pointer(tmp_path, "dev")
    stack = {"type": "aws:cloudformation:stack", "properties": {"templateFile": "t.json", "stackName": "s"}}
    artifacts = {
        "B": {**stack, "environment": "aws://unknown-account/unknown-region", "dependencies": ["A"]},
        "A": {**stack, "environment": "aws://unknown-account/unknown-region"},
    }
    (tmp_path / "assembly-dev" / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    (tmp_path / "assembly-dev" / "t.json").write_text("{}")
    [stage] = read_stages(tmp_path)
    assert stage.name == "dev"
    assert stage.targets == [(DEFAULT_ACCOUNT, DEFAULT_REGION)]
    assert stage.account == DEFAULT_ACCOUNT
    assert [plan.artifact_id for plan in stage.stacks] == ["A", "B"]


def test_a_replica_stack_is_skipped_and_the_stage_spans_its_regions(tmp_path: Path) -> None:
    write_stage_pointer(tmp_path, "prod")
    home = {"Resources": {"Key": {"Type": "AWS::KMS::Key"}}}
    replica = {
        "Resources": {"Replica": {"Type": "AWS::KMS::ReplicaKey"}, "Fn": {"Type": "AWS::Lambda::Function"}}
    }
    artifacts = {}
    for artifact_id, region, template in (("Home", "eu-central-1", home), ("Replica", "eu-west-1", replica)):
        (tmp_path / "assembly-prod" / f"{artifact_id}.json").write_text(json.dumps(template))
        artifacts[artifact_id] = {
            "type": "aws:cloudformation:stack",
            "displayName": f"prod/{artifact_id}",
            "environment": f"aws://111111111111/{region}",
            "properties": {"templateFile": f"{artifact_id}.json", "stackName": artifact_id.lower()},
        }
    (tmp_path / "assembly-prod" / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    [stage] = read_stages(tmp_path)
    assert [plan.display_name for plan in stage.deployable] == ["prod/Home"]
    [skipped] = [plan for plan in stage.stacks if plan.undeployable_reason]
    assert skipped.undeployable_reason.startswith("AWS::KMS::ReplicaKey: ")
    assert "tests/lambda/test_local_endpoint_replica.py" in skipped.undeployable_reason
    assert stage.targets == [("111111111111", "eu-central-1")]
    assert stage.account == "111111111111"


def test_each_stack_is_bootstrapped_with_the_qualifier_its_synthesizer_names(tmp_path: Path) -> None:
    write_stage_pointer(tmp_path, "prod")
    artifacts = {}
    for artifact_id, parameter in (("Keys", "/cdk-bootstrap/kmsecdh/version"), ("Audit", None)):
        (tmp_path / "assembly-prod" / f"{artifact_id}.json").write_text("{}")
        properties = {"templateFile": f"{artifact_id}.json", "stackName": artifact_id.lower()}
        if parameter is not None:
            properties["bootstrapStackVersionSsmParameter"] = parameter
        artifacts[artifact_id] = {
            "type": "aws:cloudformation:stack",
            "displayName": f"prod/{artifact_id}",
            "environment": f"aws://{ACCOUNT}/{REGION}",
            "properties": properties,
        }
    (tmp_path / "assembly-prod" / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    [stage] = read_stages(tmp_path)
    assert stage.bootstraps == [(ACCOUNT, REGION, DEFAULT_QUALIFIER), (ACCOUNT, REGION, "kmsecdh")]
    assert bootstrap_options(DEFAULT_QUALIFIER) == []
    assert bootstrap_options("kmsecdh") == [
        "--qualifier",
        "kmsecdh",
        "--toolkit-stack-name",
        "CDKToolkit-kmsecdh",
    ]
