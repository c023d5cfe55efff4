"""The smaller gaps around the deploy path (issue 18, finding 8): service roles trust their service only on
behalf of this account, prod's interface endpoints admit only the function's calls, the pipeline's artifact
keys refuse a lockout bypass, and alarms that notify nobody are said so at synthesis."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sns as sns
from aws_cdk.assertions import Annotations, Match

from kmsecdh_cdk.notifications import UNSUBSCRIBED_TOPIC_WARNING, warn_when_unsubscribed
from kmsecdh_cdk.service_roles import require_source
from tests.infra.conftest import SynthesizedApp, SynthesizedStack
from tools.synth import unacknowledged_findings, warnings

LOCKOUT_BYPASS_DENY = {
    "Sid": "DenyPolicyLockoutBypass",
    "Effect": "Deny",
    "Principal": {"AWS": "*"},
    "Action": "kms:PutKeyPolicy",
    "Resource": "*",
    "Condition": {"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
}


def trust_statements(stack: SynthesizedStack, service: str) -> list[dict[str, Any]]:
    return [
        statement
        for role in stack.resources("AWS::IAM::Role").values()
        for statement in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": service}
    ]


# --- service roles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stack_id", ["KeyAgreement", "KeyAgreement-eu-west-1"])
def test_the_flow_log_role_trusts_flow_logs_of_this_account_only(
    synthesized_app: SynthesizedApp, stack_id: str
) -> None:
    account = synthesized_app.environments["prod"].account
    stack = synthesized_app.stacks["prod"][stack_id]
    region = "eu-central-1" if stack_id == "KeyAgreement" else "eu-west-1"
    [statement] = trust_statements(stack, "vpc-flow-logs.amazonaws.com")
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": account},
        "ArnLike": {"aws:SourceArn": f"arn:aws:ec2:{region}:{account}:vpc-flow-log/*"},
    }


def test_every_codebuild_role_of_the_pipeline_trusts_codebuild_of_its_account_only(
    synthesized_app: SynthesizedApp,
) -> None:
    pipeline = synthesized_app.root_stacks["Pipeline"]
    statements = trust_statements(pipeline, "codebuild.amazonaws.com")
    # synth, self-mutation, assets, prod's directory publish step and a deploy guard per key stack of each
    # wave's environments (staging: its key stack; prod: its key stack, its replica Region's, its directory)
    assert len(statements) == 4 + 1 + 3
    for statement in statements:
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "222222222222"}}


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_cloudtraills_logs_role_has_no_source_condition(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    """CloudTrail documents that its role for CloudWatch Logs supports neither aws:SourceArn nor
    aws:SourceAccount: a condition on them would stop delivery to the log group."""
    [statement] = trust_statements(synthesized_app.stacks[environment]["Audit"], "cloudtrail.amazonaws.com")
    assert "Condition" not in statement


def role_stack() -> tuple[cdk.Stack, iam.Role]:
    stack = cdk.Stack(cdk.App(), "Roles", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("codebuild.amazonaws.com"))
    return stack, role


def test_a_role_of_another_service_is_refused() -> None:
    _, role = role_stack()
    with pytest.raises(ValueError, match=r"^Roles/Role: its trust policy has 0 statements for vpc-flow-logs"):
        require_source(role, "vpc-flow-logs.amazonaws.com", source_account="111111111111")


def test_a_trust_statement_with_a_condition_is_left_to_its_author() -> None:
    stack = cdk.Stack(cdk.App(), "Roles")
    role = iam.Role(
        stack,
        "Role",
        assumed_by=iam.ServicePrincipal(
            "codebuild.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": "111111111111"}}
        ),
    )
    with pytest.raises(ValueError, match="already has a condition"):
        require_source(role, "codebuild.amazonaws.com", source_account="222222222222")


# --- prod's interface endpoints ----------------------------------------------------------------------------


def endpoint_policy(stack: SynthesizedStack, endpoint: str) -> dict[str, Any]:
    [properties] = [
        resource["Properties"]
        for logical_id, resource in stack.resources("AWS::EC2::VPCEndpoint").items()
        if logical_id.startswith(f"NetworkVpc{endpoint}")
    ]
    return properties["PolicyDocument"]


def derive_role(stack: SynthesizedStack) -> dict[str, Any]:
    [role_id] = [
        logical_id for logical_id in stack.resources("AWS::IAM::Role") if logical_id.startswith("DeriveRole")
    ]
    return {"Fn::GetAtt": [role_id, "Arn"]}


@pytest.mark.parametrize(
    ("stack_id", "region"), [("KeyAgreement", "eu-central-1"), ("KeyAgreement-eu-west-1", "eu-west-1")]
)
def test_the_kms_endpoint_admits_only_the_functions_derives_on_this_accounts_keys(
    synthesized_app: SynthesizedApp, stack_id: str, region: str
) -> None:
    account = synthesized_app.environments["prod"].account
    stack = synthesized_app.stacks["prod"][stack_id]
    assert endpoint_policy(stack, "KmsEndpoint") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": derive_role(stack)},
                "Action": ["kms:DeriveSharedSecret", "kms:DescribeKey", "kms:GetPublicKey"],
                "Resource": f"arn:aws:kms:{region}:{account}:key/*",
            }
        ],
    }


@pytest.mark.parametrize("stack_id", ["KeyAgreement", "KeyAgreement-eu-west-1"])
def test_the_logs_endpoint_admits_only_writes_to_the_functions_log_group(
    synthesized_app: SynthesizedApp, stack_id: str
) -> None:
    stack = synthesized_app.stacks["prod"][stack_id]
    [group_id] = [
        logical_id
        for logical_id in stack.resources("AWS::Logs::LogGroup")
        if logical_id.startswith("DeriveLogGroup")
    ]
    assert endpoint_policy(stack, "LogsEndpoint") == {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": derive_role(stack)},
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": {"Fn::GetAtt": [group_id, "Arn"]},
            }
        ],
    }


# --- the pipeline's artifact keys ---------------------------------------------------------------------------


def test_every_artifact_key_of_the_pipeline_refuses_a_lockout_bypass(synthesized_app: SynthesizedApp) -> None:
    keys = [
        (stack.stack_id, key)
        for stack in synthesized_app.root_stacks.values()
        for key in stack.resources("AWS::KMS::Key").values()
    ]
    # the pipeline's own and the replication bucket's of prod's home Region (a support stack)
    assert len(keys) == 2
    for stack_id, key in keys:
        assert LOCKOUT_BYPASS_DENY in key["Properties"]["KeyPolicy"]["Statement"], stack_id


# --- alarms that notify nobody ------------------------------------------------------------------------------


def audit_warnings(synthesized_app: SynthesizedApp, environment: str) -> list[str]:
    metadata = json.loads(
        next((synthesized_app.outdir / f"assembly-{environment}").glob("*Audit*.metadata.json")).read_text()
    )
    return [
        f"{path}: {entry['data']}"
        for path, entries in metadata.items()
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]


def test_an_environment_without_alarm_email_is_told_its_alarms_notify_nobody(
    synthesized_app: SynthesizedApp,
) -> None:
    assert synthesized_app.environments["dev"].alarm_email is None
    [warning] = audit_warnings(synthesized_app, "dev")
    assert warning.startswith(
        "/dev/Audit/KeyUsageAudit/AlarmTopic: Nobody subscribes to this topic: the audit's "
    )
    assert "notify nobody" in warning
    assert f"[ack: {UNSUBSCRIBED_TOPIC_WARNING}]" in warning
    # said at synthesis, never a failure of it
    assert any(
        "alarmsNotifyNobody at dev/Audit/KeyUsageAudit/AlarmTopic" in line
        for line in warnings(synthesized_app.report)
    )
    assert unacknowledged_findings(synthesized_app.report) == []


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_an_environment_with_alarm_email_is_not_warned(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    assert synthesized_app.environments[environment].alarm_email is not None
    assert audit_warnings(synthesized_app, environment) == []


def test_a_subscription_made_after_the_topic_in_another_stack_counts() -> None:
    app = cdk.App()
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    alarms = cdk.Stack(app, "Alarms", env=env)
    topic = sns.Topic(alarms, "Topic")
    warn_when_unsubscribed(topic, "these alarms")
    paging = cdk.Stack(app, "Paging", env=env)
    sns.Subscription(
        paging,
        "Hook",
        topic=topic,
        protocol=sns.SubscriptionProtocol.HTTPS,
        endpoint="https://paging.example.com/",
    )
    Annotations.from_stack(alarms).has_no_warning("*", Match.any_value())


def test_an_unsubscribed_topic_is_warned_at_synthesis() -> None:
    stack = cdk.Stack(cdk.App(), "Alarms")
    topic = sns.Topic(stack, "Topic")
    warn_when_unsubscribed(topic, "these alarms")
    Annotations.from_stack(stack).has_warning(
        "/Alarms/Topic",
        Match.string_like_regexp("Nobody subscribes to this topic: these alarms notify nobody"),
    )


def test_each_topic_of_an_app_is_judged_by_its_own_subscriptions() -> None:
    """The app is walked once for all of its topics (a walk per topic made synthesis quadratic); each topic is
    still warned about, or not, by the subscriptions naming it."""
    app = cdk.App()
    env = cdk.Environment(account="111111111111", region="eu-west-1")
    heard, unheard = cdk.Stack(app, "Heard", env=env), cdk.Stack(app, "Unheard", env=env)
    heard_topic, unheard_topic = sns.Topic(heard, "Topic"), sns.Topic(unheard, "Topic")
    warn_when_unsubscribed(heard_topic, "these alarms")
    warn_when_unsubscribed(unheard_topic, "those alarms")
    sns.Subscription(
        unheard,
        "Hook",
        topic=heard_topic,
        protocol=sns.SubscriptionProtocol.HTTPS,
        endpoint="https://paging.example.com/",
    )
    Annotations.from_stack(heard).has_no_warning("*", Match.any_value())
    Annotations.from_stack(unheard).has_warning(
        "/Unheard/Topic",
        Match.string_like_regexp("Nobody subscribes to this topic: those alarms notify nobody"),
    )
