"""``Guardrails``: the organisation policies guarding the environments of cdk.json (docs/guardrails.md).

Deployed on its own, from the management account (or the delegated policy administrator), never by the
pipeline: the accounts it guards must not be able to change it. The policies name each environment's resources
by the fixed names its stacks give them, read here from the stages themselves so the two cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_logs as logs
from constructs import Construct

from kmsecdh_cdk.guardrails import GuardedResources, OrganizationGuardrails
from stacks.guardrails_config import GuardrailsConfig
from stacks.key_agreement_stack import derive_function_name
from stacks.stage import KmsEcdhStage

# The partition of every ARN the policies name; an organisation lives in one partition.
PARTITION = "aws"
# What an ARN pattern holds where the environment leaves the account or Region to deployment time.
ANY = "*"


def _arn(service: str, region: str, account: str, resource: str) -> str:
    return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"


def deployer_role_arn(stack: Stack) -> str:
    """The stack's CloudFormation execution role, as its synthesizer names it (a custom bootstrap qualifier
    included), with ``*`` for an account or Region the environment leaves open."""
    role_arn = stack.synthesizer.cloud_formation_execution_role_arn  # type: ignore[attr-defined]
    return (
        role_arn.replace("${AWS::Partition}", PARTITION)
        .replace("${AWS::AccountId}", ANY)
        .replace("${AWS::Region}", ANY)
    )


def guarded_resources(stage: KmsEcdhStage) -> GuardedResources:
    """One environment's resources by ARN pattern: the derive functions and roles of every Region, the keys
    and aliases ``alias/kmsecdh-<environment>-*`` (the audit's keys among them), and the audit's trail, log
    group, alarms and topic."""
    config = stage.config
    account = config.account or ANY
    home_region = config.region or ANY
    stacks = [stage.key_agreement, *stage.replicas, stage.audit]
    if stage.directory is not None:
        stacks.append(stage.directory)
    derive_name = derive_function_name(config)
    alias_prefix = config.key_alias_prefix
    audit = stage.audit.audit
    trail_arns: tuple[str, ...] = ()
    log_group_arns: tuple[str, ...] = ()
    if audit.trail is not None:
        trail = audit.trail.node.default_child
        assert isinstance(trail, cloudtrail.CfnTrail)
        trail_arns = (_arn("cloudtrail", home_region, account, f"trail/{trail.trail_name}"),)
        log_group = audit.log_group.node.default_child
        assert isinstance(log_group, logs.CfnLogGroup)
        log_group_arn = _arn("logs", home_region, account, f"log-group:{log_group.log_group_name}")
        # IAM names a log group with and without the ":*" of its streams, depending on the action.
        log_group_arns = (log_group_arn, f"{log_group_arn}:*")
    # The alarms are named by the audit (<alarm_name_prefix><metric>); the topic has the name CloudFormation
    # generates: <stack name>-<logical id>-<suffix>.
    generated = f"{stage.audit.stack_name}-*"
    return GuardedResources(
        name=config.name,
        deployer_role_arns=tuple(sorted({deployer_role_arn(stack) for stack in stacks})),
        caller_arns=config.caller_arns,
        function_arns=(_arn("lambda", ANY, account, f"function:{derive_name}*"),),
        role_arns=(_arn("iam", "", account, f"role/{derive_name}*"),),
        key_arns=(_arn("kms", ANY, account, "key/*"),),
        key_aliases=(f"{alias_prefix}*",),
        key_alias_arns=(_arn("kms", ANY, account, f"{alias_prefix}*"),),
        trail_arns=trail_arns,
        log_group_arns=log_group_arns,
        alarm_arns=(_arn("cloudwatch", home_region, account, f"alarm:{audit.alarm_name_prefix}*"),),
        topic_arns=(_arn("sns", home_region, account, generated),),
    )


class GuardrailsStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: GuardrailsConfig,
        stages: Mapping[str, KmsEcdhStage],
        **kwargs: object,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        self.guardrails = OrganizationGuardrails(
            self,
            "Guardrails",
            guarded=[guarded_resources(stages[name]) for name in config.environments],
            organization_id=config.organization_id,
            target_ids=config.target_ids,
        )
