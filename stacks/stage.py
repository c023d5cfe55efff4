"""One deployable environment: ``cdk deploy '<environment>/*'``."""

from __future__ import annotations

from typing import Any

from aws_cdk import ArnFormat, Environment, Stack, Stage
from constructs import Construct

from kmsecdh_cdk.audit import AuditedFunction, AuditedSigningKey
from kmsecdh_cdk.dashboard import DashboardFunction
from kmsecdh_cdk.key_policy import cloudformation_execution_role_arn
from stacks.audit_stack import AuditStack
from stacks.config import EnvironmentConfig
from stacks.dashboard_stack import DashboardStack
from stacks.directory_stack import DirectoryStack
from stacks.key_agreement_stack import KeyAgreementStack, derive_function_name
from stacks.replica_stack import ReplicaKeyAgreementStack

PROJECT_TAG = "kmsecdh"
# What CDK's DefaultStackSynthesizer takes its qualifier from when given none.
BOOTSTRAP_QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"


class KmsEcdhStage(Stage):
    """The stacks of one environment; the stage's name is the environment's name."""

    def __init__(self, scope: Construct, config: EnvironmentConfig) -> None:
        env = Environment(account=config.account, region=config.region)
        super().__init__(scope, config.name, env=env)
        self.config = config
        if config.bootstrap_qualifier is not None:
            # Set on the stage, the qualifier reaches exactly this environment's stacks (replicas included):
            # their synthesizers name that bootstrap's roles, bucket and version parameter, and every role ARN
            # the policies name comes from them (key_policy.cloudformation_execution_role_arn). Not a
            # DefaultStackSynthesizer(qualifier=...) per stack: one made in Python stays unbound to jsii.
            self.node.set_context(BOOTSTRAP_QUALIFIER_CONTEXT, config.bootstrap_qualifier)
        common = {
            "termination_protection": config.termination_protection,
            "tags": {"project": PROJECT_TAG, "environment": config.name},
        }
        self.key_agreement = KeyAgreementStack(
            self,
            "KeyAgreement",
            config=config,
            stack_name=f"{config.resource_name_prefix}-key-agreement",
            description=f"kmsecdh {config.name}: KMS key agreement keys and the derive function",
            **common,
        )
        self.replicas = self._replica_stacks(config, common)
        self.directory = (
            DirectoryStack(
                self,
                "Directory",
                config=config,
                stack_name=f"{config.resource_name_prefix}-directory",
                description=f"kmsecdh {config.name}: the signed public-key directory's signing key, bucket "
                "and parameter",
                **common,
            )
            if config.directory_publisher_arns
            else None
        )
        derive = self.key_agreement.derive_function
        audited_functions = [
            AuditedFunction(
                function_arn=derive.function.function_arn,
                function_name=derive.function.function_name,
                role_arn=derive.role.role_arn,
                role_name=derive.role.role_name,
                caller_arns=config.caller_arns,
            )
        ]
        allowed_deriver_arns = list(self.key_agreement.allowed_deriver_arns)
        # The home trail is multi-Region: the replica Regions' events reach its one log group, so the audit
        # watches the replicas there. A replica keeps its primary's key id, which the audit matches in every
        # Region; the replica functions and roles have fixed names, known here without a reference.
        for region in config.replica_regions:
            name = derive_function_name(config, region)
            role_arn = self.key_agreement.format_arn(
                service="iam", region="", resource="role", resource_name=name
            )
            allowed_deriver_arns.append(role_arn)
            audited_functions.append(
                AuditedFunction(
                    function_arn=self.key_agreement.format_arn(
                        service="lambda",
                        region=region,
                        resource="function",
                        resource_name=name,
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    ),
                    function_name=name,
                    role_arn=role_arn,
                    role_name=name,
                    caller_arns=config.caller_arns,
                )
            )
        self.audit = AuditStack(
            self,
            "Audit",
            config=config,
            key_ids=[key.key_id for key in self.key_agreement.keys],
            allowed_deriver_arns=allowed_deriver_arns,
            alias_names=self.key_agreement.alias_names,
            retired_key_ids=[key.key_id for key in self.key_agreement.keys if not key.enabled],
            derive_functions=audited_functions,
            signing_key=AuditedSigningKey(
                key_id=self.directory.directory.signing_key.key_id,
                signer_arns=tuple(config.directory_publisher_arns),
            )
            if self.directory
            else None,
            stack_name=f"{config.resource_name_prefix}-audit",
            description=f"kmsecdh {config.name}: CloudTrail auditing and alarms for the key agreement keys",
            **common,
        )
        self.dashboard = self._dashboard_stack(config, common) if config.dashboard else None

    @property
    def key_stacks(self) -> list[Stack]:
        """The stacks holding keys whose public key others hold: the deploy guard checks each before it
        deploys (stacks/pipeline_stack.py)."""
        return [self.key_agreement, *self.replicas, *([self.directory] if self.directory else [])]

    def _dashboard_stack(self, config: EnvironmentConfig, common: dict[str, Any]) -> DashboardStack:
        """The operator's dashboard: the home function and each replica Region's (fixed names), the audit's
        alarms."""
        reserved = config.reserved_concurrency
        home = self.key_agreement.derive_function.function.function_name
        audit = self.audit.audit
        return DashboardStack(
            self,
            "Dashboard",
            config=config,
            functions=[
                DashboardFunction(home, reserved_concurrency=reserved),
                *(
                    DashboardFunction(derive_function_name(config, region), region, reserved)
                    for region in config.replica_regions
                ),
            ],
            alarms=[alarm for alarm in audit.alarms.values() if alarm is not audit.heartbeat_alarm],
            heartbeat_alarm=audit.heartbeat_alarm,
            stack_name=f"{config.resource_name_prefix}-dashboard",
            description=f"kmsecdh {config.name}: the operator's dashboard of the derive functions and alarms",
            **common,
        )

    def _replica_stacks(
        self, config: EnvironmentConfig, common: dict[str, Any]
    ) -> list[ReplicaKeyAgreementStack]:
        """One stack per replica Region, whose CloudFormation execution role may replicate the keys."""
        replicas = []
        for region in config.replica_regions:
            replica = ReplicaKeyAgreementStack(
                self,
                f"KeyAgreement-{region}",
                config=config,
                primary_keys=self.key_agreement.replicated_keys,
                env=Environment(account=config.account, region=region),
                stack_name=f"{config.resource_name_prefix}-key-agreement-{region}",
                description=f"kmsecdh {config.name}: replicas of the key agreement keys in {region} and the "
                "derive function there",
                **common,
            )
            execution_role_arn = cloudformation_execution_role_arn(replica)
            for key in self.key_agreement.replicated_keys:
                key.allow_replication(execution_role_arn, region)
            replicas.append(replica)
        return replicas
