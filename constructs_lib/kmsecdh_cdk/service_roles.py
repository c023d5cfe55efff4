"""Confused-deputy conditions on the trust policy of a role an AWS service assumes.

Only where the service documents that it sets the keys when it assumes the role: a condition on a key the
service leaves out would refuse every assumption. Where this project creates service roles:

* VPC Flow Logs (``vpc-flow-logs.amazonaws.com``): ``aws:SourceAccount`` and ``aws:SourceArn`` (the flow log),
  as its documentation recommends (VPC User Guide, "IAM role for publishing flow logs to CloudWatch Logs").
* CodeBuild (``codebuild.amazonaws.com``, the pipeline's projects): ``aws:SourceAccount`` (CodeBuild User
  Guide, "Cross-service confused deputy prevention").
* Not CloudTrail's role for CloudWatch Logs: CloudTrail's documentation says confused-deputy prevention does
  not apply to it and that it does not support ``aws:SourceArn`` and ``aws:SourceAccount``.
* Not CodePipeline's service role: its documentation gives no such condition for the trust policy.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from constructs import IConstruct

from kmsecdh_cdk.errors import KmsEcdhValidationError

SOURCE_ACCOUNT_KEY = "aws:SourceAccount"
SOURCE_ARN_KEY = "aws:SourceArn"


def require_source(
    role: iam.Role, service: str, *, source_account: str, source_arn: str | None = None
) -> None:
    """Let ``service`` assume ``role`` only on behalf of ``source_account`` (and, given, of the resources
    ``source_arn`` matches, ``*`` allowed).

    ValueError unless the trust policy has exactly one statement for ``service``, without a condition.
    """
    statements = Stack.of(role).resolve(role.assume_role_policy.to_json())["Statement"]
    matching = [index for index, statement in enumerate(statements) if _trusts(statement, service)]
    if len(matching) != 1:
        raise KmsEcdhValidationError(
            role, f"its trust policy has {len(matching)} statements for {service}, expected one"
        )
    [index] = matching
    if "Condition" in statements[index]:
        raise KmsEcdhValidationError(role, f"the trust statement for {service} already has a condition")
    condition: dict[str, dict[str, str]] = {"StringEquals": {SOURCE_ACCOUNT_KEY: source_account}}
    if source_arn is not None:
        condition["ArnLike"] = {SOURCE_ARN_KEY: source_arn}
    cfn_role = role.node.default_child
    assert isinstance(cfn_role, iam.CfnRole)
    cfn_role.add_property_override(f"AssumeRolePolicyDocument.Statement.{index}.Condition", condition)


def roles_trusting(scope: IConstruct, service: str) -> Iterable[iam.Role]:
    """Every role under ``scope`` whose trust policy has a statement for ``service``."""
    for construct in scope.node.find_all():
        if isinstance(construct, iam.Role):
            statements = Stack.of(construct).resolve(construct.assume_role_policy.to_json())["Statement"]
            if any(_trusts(statement, service) for statement in statements):
                yield construct


def _trusts(statement: dict[str, object], service: str) -> bool:
    principal = statement.get("Principal")
    return (
        statement.get("Effect") == "Allow"
        and isinstance(principal, dict)
        and principal.get("Service") == service
    )
