"""One deployable environment: ``cdk deploy '<environment>/*'``."""

from __future__ import annotations

from aws_cdk import Environment, Stage
from constructs import Construct

from kmsecdh_cdk.audit import AuditedFunction
from stacks.audit_stack import AuditStack
from stacks.config import EnvironmentConfig
from stacks.key_agreement_stack import KeyAgreementStack

PROJECT_TAG = "kmsecdh"


class KmsEcdhStage(Stage):
    """The stacks of one environment; the stage's name is the environment's name."""

    def __init__(self, scope: Construct, config: EnvironmentConfig) -> None:
        env = Environment(account=config.account, region=config.region)
        super().__init__(scope, config.name, env=env)
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
        derive = self.key_agreement.derive_function
        self.audit = AuditStack(
            self,
            "Audit",
            config=config,
            key_arns=[key.key_arn for key in self.key_agreement.keys],
            allowed_deriver_arns=self.key_agreement.allowed_deriver_arns,
            alias_names=[key.alias_name for key in self.key_agreement.keys],
            derive_function=AuditedFunction(
                function_arn=derive.function.function_arn,
                function_name=derive.function.function_name,
                role_arn=derive.role.role_arn,
                role_name=derive.role.role_name,
                caller_arns=config.caller_arns,
            ),
            stack_name=f"{config.resource_name_prefix}-audit",
            description=f"kmsecdh {config.name}: CloudTrail auditing and alarms for the key agreement keys",
            **common,
        )
