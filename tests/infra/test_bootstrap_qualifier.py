"""An environment's own CDK bootstrap (``bootstrap_qualifier``): every stack of it, replicas included, deploys
through that bootstrap's roles, and every role ARN the policies name is of that bootstrap."""

from __future__ import annotations

import json

import aws_cdk as cdk
import pytest

from kmsecdh_cdk.key_policy import cloudformation_execution_role_arn
from tests.infra.conftest import SynthesizedApp
from tests.infra.test_key_agreement_stack import CDK_DEFAULT_QUALIFIER


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_every_stack_of_an_environment_uses_its_bootstrap(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    qualifier = synthesized_app.environments[environment].bootstrap_qualifier or CDK_DEFAULT_QUALIFIER
    manifest = json.loads((synthesized_app.outdir / f"assembly-{environment}" / "manifest.json").read_text())
    stacks = [
        artifact
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    ]
    assert stacks
    for artifact in stacks:
        properties = artifact["properties"]
        assert properties["bootstrapStackVersionSsmParameter"] == f"/cdk-bootstrap/{qualifier}/version"
        for role in ("assumeRoleArn", "cloudFormationExecutionRoleArn"):
            assert f":role/cdk-{qualifier}-" in properties[role], (artifact["displayName"], role)


def test_no_template_of_a_qualified_environment_names_another_bootstrap(
    synthesized_app: SynthesizedApp,
) -> None:
    prod = synthesized_app.environments["prod"]
    assert prod.bootstrap_qualifier is not None
    for stack in synthesized_app.stacks["prod"].values():
        text = json.dumps(stack.raw)
        assert f"cdk-{CDK_DEFAULT_QUALIFIER}-" not in text, stack.stack_id
    # the key policies do name prod's own execution role (the exact statements: test_key_agreement_stack.py)
    assert f"cdk-{prod.bootstrap_qualifier}-cfn-exec-role-" in json.dumps(
        synthesized_app.stacks["prod"]["KeyAgreement"].raw
    )


def test_a_synthesizer_made_in_python_is_refused_with_the_way_out() -> None:
    """jsii binds a copy of a DefaultStackSynthesizer made in Python and hands back the unbound original."""
    app = cdk.App()
    stack = cdk.Stack(
        app,
        "Qualified",
        synthesizer=cdk.DefaultStackSynthesizer(qualifier="team"),
        env=cdk.Environment(account="111111111111", region="eu-west-1"),
    )
    with pytest.raises(
        ValueError, match=r"^Qualified: the stack's synthesizer was created in Python"
    ) as raised:
        cloudformation_execution_role_arn(stack)
    assert "@aws-cdk/core:bootstrapQualifier" in str(raised.value)


def test_the_qualifier_context_names_that_bootstraps_execution_role() -> None:
    app = cdk.App()
    stage = cdk.Stage(app, "prod", env=cdk.Environment(account="111111111111", region="eu-west-1"))
    stage.node.set_context("@aws-cdk/core:bootstrapQualifier", "team")
    stack = cdk.Stack(stage, "Keys")
    role = "cdk-team-cfn-exec-role-111111111111-eu-west-1"
    assert stack.resolve(cloudformation_execution_role_arn(stack)) == {
        "Fn::Sub": f"arn:${{AWS::Partition}}:iam::111111111111:role/{role}"
    }
