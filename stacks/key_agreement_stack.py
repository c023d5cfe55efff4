"""The keys, the derive function that uses them and (optionally) its isolated network, in one stack.

One stack because the key policy names the function's role and the role's policy names the keys: split
across stacks, each would import from the other.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from kmsecdh_cdk.derive_function import DeriveFunction
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.network import IsolatedNetwork
from stacks.config import EnvironmentConfig


def alias_name(config: EnvironmentConfig, key_spec: str) -> str:
    """``alias/kmsecdh-<environment>-<curve>``, e.g. alias/kmsecdh-dev-p256."""
    curve = key_spec.removeprefix("ECC_NIST_").lower()
    return f"alias/{config.resource_name_prefix}-{curve}"


def key_construct_id(key_spec: str) -> str:
    """``P256`` for ECC_NIST_P256."""
    return key_spec.removeprefix("ECC_NIST_").title()


def key_settings(config: EnvironmentConfig, key_spec: str) -> dict[str, Any]:
    """What a key of this environment gets in every Region: spec, alias and the key policy's principals."""
    return {
        "key_spec": key_spec,
        "alias_name": alias_name(config, key_spec),
        "administrators": [iam.ArnPrincipal(arn) for arn in config.admin_arns],
        "pending_window": Duration.days(config.pending_window_days),
        "minimum_deletion_window_days": config.minimum_deletion_window_days,
        "removal_policy": config.cdk_removal_policy,
        "public_key_readers": [iam.ArnPrincipal(arn) for arn in config.public_key_reader_arns],
        "public_key_reader_organization_id": config.public_key_reader_organization_id,
        "public_key_reader_org_paths": config.public_key_reader_org_paths,
    }


class KeyAgreementStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self.keys = self._create_keys(config)

        self.network = IsolatedNetwork(self, "Network") if config.network_isolation else None
        self.derive_function = DeriveFunction(
            self,
            "Derive",
            keys=self.keys,
            allow_raw_secret=config.allow_raw_secret,
            application_log_level=getattr(lambda_.ApplicationLogLevel, config.log_level),
            reserved_concurrent_executions=config.reserved_concurrency,
            log_retention=config.log_retention,
            removal_policy=config.cdk_removal_policy,
            vpc=self.network.vpc if self.network else None,
            vpc_subnets=self.network.subnets if self.network else None,
            security_groups=[self.network.security_group] if self.network else None,
            kms_endpoint=self.network.kms_endpoint if self.network else None,
            **self._derive_function_names(config),
        )
        for caller_arn in config.caller_arns:
            self.derive_function.grant_invoke(iam.ArnPrincipal(caller_arn))

        # Not pinned to the function's KMS endpoint, which they cannot reach: the configuration refuses
        # extra derivers with network isolation, and so does each key (one endpoint condition per key).
        for deriver_arn in config.extra_deriver_arns:
            for key in self.keys:
                key.grant_derive(iam.ArnPrincipal(deriver_arn))

        # What operators and applications need after `cdk deploy`: the function to invoke, the keys to name.
        CfnOutput(
            self,
            "DeriveFunctionName",
            value=self.derive_function.function.function_name,
            description="Invoke this function to derive (kmsecdh derive --function ...)",
        )
        CfnOutput(
            self,
            "DeriveFunctionArn",
            value=self.derive_function.function.function_arn,
            description="What an organisation trail's Lambda data event selector names (resources.ARN)",
        )
        for key in self.keys:
            CfnOutput(self, f"{key.node.id}KeyArn", value=key.key_arn, description=f"{key.alias_name} ARN")

    def _create_keys(self, config: EnvironmentConfig) -> list[KeyAgreementKey]:
        """One key per configured spec (multi-Region primaries when the environment has replica Regions)."""
        return [
            KeyAgreementKey(
                self,
                key_construct_id(key_spec),
                multi_region=bool(config.replica_regions),
                **key_settings(config, key_spec),
            )
            for key_spec in config.key_specs
        ]

    def _derive_function_names(self, config: EnvironmentConfig) -> dict[str, str]:
        """Physical names of the derive function and its role: generated here."""
        return {}

    @property
    def availability_zones(self) -> list[str]:
        """Two zones CloudFormation picks at deploy time (Fn::GetAZs), as for an environment-agnostic stack.

        Overrides the context lookup a stack with an explicit account and region would make, so every
        environment synthesizes offline without credentials.
        """
        return [Fn.select(index, Fn.get_azs()) for index in range(2)]

    @property
    def allowed_deriver_arns(self) -> list[str]:
        """Every principal allowed to derive with any of the keys (the same on each key)."""
        return self.keys[0].allowed_deriver_arns
