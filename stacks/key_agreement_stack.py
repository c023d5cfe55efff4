"""The keys, the derive function that uses them and (optionally) its isolated network, in one stack.

One stack because the key policy names the function's role and the role's policy names the keys: split
across stacks, each would import from the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnOutput, Duration, Fn, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from kmsecdh_cdk.derive_function import DeriveFunction
from kmsecdh_cdk.iam_actions import DERIVE_ACTIONS
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.network import IsolatedNetwork
from stacks.config import EnvironmentConfig, KeyGeneration


def alias_name(config: EnvironmentConfig, key_spec: str) -> str:
    """``alias/kmsecdh-<environment>-<curve>``, e.g. alias/kmsecdh-dev-p256: the spec's current generation."""
    curve = key_spec.removeprefix("ECC_NIST_").lower()
    return f"{config.key_alias_prefix}{curve}"


def generation_alias_name(config: EnvironmentConfig, key_spec: str, generation: KeyGeneration) -> str | None:
    """``alias/kmsecdh-<environment>-<curve>-<generation>``, e.g. alias/kmsecdh-prod-p256-2026-11 (None for
    the implicit generation of a spec without ``key_generations``)."""
    if generation.name is None:
        return None
    return f"{alias_name(config, key_spec)}-{generation.name}"


def derive_function_name(config: EnvironmentConfig, replica_region: str | None = None) -> str:
    """``kmsecdh-<environment>-derive`` (home Region) or ``kmsecdh-<environment>-derive-<region>`` (a replica
    Region): the derive function and its role. Fixed, so that the home Region's audit names a replica Region's
    function before it exists, and the guardrails' organisation policies name them all by one ARN pattern."""
    suffix = f"-{replica_region}" if replica_region else ""
    return f"{config.resource_name_prefix}-derive{suffix}"


def key_construct_id(
    key_spec: str, generation_index: int = 0, generation: KeyGeneration | None = None
) -> str:
    """``P256`` for ECC_NIST_P256's first generation, ``P256-2027-05`` for a later one named 2027-05.

    The first generation keeps the id a spec without generations has, so listing an existing key as the
    first generation leaves its logical id, and the key, as they are.
    """
    spec_id = key_spec.removeprefix("ECC_NIST_").title()
    if generation_index == 0 or generation is None or generation.name is None:
        return spec_id
    return f"{spec_id}-{generation.name}"


@dataclass(frozen=True)
class GenerationKey:
    """One generation's key in this stack."""

    key_spec: str
    generation: KeyGeneration
    key: KeyAgreementKey
    current: bool
    spec_alias_name: str
    """The spec's alias, naming the current generation."""
    own_alias_name: str | None
    """The generation's own alias (None for the implicit generation, which has only the spec's alias)."""


def key_settings(config: EnvironmentConfig, key_spec: str) -> dict[str, Any]:
    """What a key of this environment gets in every Region: spec, alias and the key policy's principals."""
    return {
        "key_spec": key_spec,
        "alias_name": alias_name(config, key_spec),
        "administrators": [iam.ArnPrincipal(arn) for arn in config.admin_arns],
        "pending_window": Duration.days(config.pending_window_days),
        "minimum_deletion_window_days": config.minimum_deletion_window_days,
        "removal_policy": config.cdk_removal_policy,
        # The directory's publishers fetch every generation's public key to sign it.
        "public_key_readers": [
            iam.ArnPrincipal(arn)
            for arn in dict.fromkeys([*config.public_key_reader_arns, *config.directory_publisher_arns])
        ],
        "public_key_reader_organization_id": config.public_key_reader_organization_id,
        "public_key_reader_org_paths": config.public_key_reader_org_paths,
    }


class KeyAgreementStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: EnvironmentConfig, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)
        self.config = config
        self.generation_keys = self._create_generations(config)
        self.keys = [generation.key for generation in self.generation_keys]

        self.network = IsolatedNetwork(self, "Network") if config.network_isolation else None
        self.derive_function = DeriveFunction(
            self,
            "Derive",
            keys=self.keys,
            aliases=self.function_aliases,
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
        if self.network is not None:
            # The endpoints carry the function's calls only: its derives on this account's keys in this
            # Region, its own log group. Not the keys by ARN: their policies pin this endpoint
            # (aws:SourceVpce), so each would refer to the other; the role's policy and the keys' policies
            # name the keys exactly.
            role = self.derive_function.role
            account_keys = self.format_arn(service="kms", resource="key", resource_name="*")
            self.network.allow_kms_use(role, [account_keys], DERIVE_ACTIONS)
            self.network.allow_log_delivery(role, self.derive_function.log_group)
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
        for generation in self.generation_keys:
            if generation.current:
                CfnOutput(
                    self,
                    f"{key_construct_id(generation.key_spec)}KeyArn",
                    value=generation.key.key_arn,
                    description=f"{alias_name(config, generation.key_spec)} ARN (the current generation)",
                )
        CfnOutput(
            self,
            "KeyGenerations",
            value=self.to_json_string(
                [
                    {
                        "key_spec": generation.key_spec,
                        "generation": generation.generation.name,
                        "alias": generation.own_alias_name or generation.key.alias_name,
                        "arn": generation.key.key_arn,
                        "status": generation.generation.status,
                        "current": generation.current,
                        "retire_after": generation.generation.retire_after.isoformat()
                        if generation.generation.retire_after
                        else None,
                    }
                    for generation in self.generation_keys
                ]
            ),
            description="Every generation of every key spec (kmsecdh directory publish reads it)",
        )

    @property
    def replicated_keys(self) -> list[KeyAgreementKey]:
        """The multi-Region primaries: each replica Region has a replica of each."""
        return [key for key in self.keys if key.multi_region]

    @property
    def function_aliases(self) -> dict[str, KeyAgreementKey]:
        """The aliases the derive function is configured with: each spec's alias for its current generation
        (the first spec's is the default), then every active generation's own alias."""
        aliases = {
            generation.spec_alias_name: generation.key
            for generation in self.generation_keys
            if generation.current
        }
        for generation in self.generation_keys:
            if not generation.generation.retired and generation.own_alias_name is not None:
                aliases[generation.own_alias_name] = generation.key
        return aliases

    @property
    def alias_names(self) -> list[str]:
        """Every alias of the stack's keys (spec aliases and generation aliases), for the audit."""
        spec_aliases = [
            generation.spec_alias_name for generation in self.generation_keys if generation.current
        ]
        own_aliases = [
            generation.own_alias_name
            for generation in self.generation_keys
            if generation.own_alias_name is not None
        ]
        return spec_aliases + own_aliases

    def _create_generations(self, config: EnvironmentConfig) -> list[GenerationKey]:
        """One key per generation of each configured spec that this stack holds (``_holds``); retired
        generations disabled. The spec's alias lives on its first such generation's key and names the
        current one."""
        generation_keys = []
        for key_spec in config.key_specs:
            current = config.current_generation(key_spec)
            spec_keys = []
            held = [
                (index, generation)
                for index, generation in enumerate(config.generations(key_spec))
                if self._holds(generation)
            ]
            for position, (index, generation) in enumerate(held):
                settings = key_settings(config, key_spec)
                own_alias = generation_alias_name(config, key_spec, generation)
                if position == 0:
                    settings["generation_alias_name"] = own_alias
                else:
                    settings["alias_name"] = own_alias
                key = self._create_key(
                    key_construct_id(key_spec, index, generation),
                    generation,
                    enabled=not generation.retired,
                    **settings,
                )
                spec_keys.append(
                    GenerationKey(
                        key_spec,
                        generation,
                        key,
                        generation is current,
                        alias_name(config, key_spec),
                        own_alias,
                    )
                )
            first, current_key = spec_keys[0].key, next(item.key for item in spec_keys if item.current)
            if current_key is not first:
                first.point_alias_at(current_key)
            generation_keys.extend(spec_keys)
        return generation_keys

    def _holds(self, generation: KeyGeneration) -> bool:
        """Whether this stack has a key for ``generation``: the home Region has every generation."""
        return True

    def _create_key(self, id: str, generation: KeyGeneration, **settings: Any) -> KeyAgreementKey:
        """One generation's key: a multi-Region primary when the generation says so, which only the
        environment's replica Regions may replicate."""
        return KeyAgreementKey(
            self,
            id,
            multi_region=generation.multi_region,
            replica_regions=self.config.replica_regions if generation.multi_region else (),
            **settings,
        )

    def _derive_function_names(self, config: EnvironmentConfig) -> dict[str, str]:
        """Physical names of the derive function and its role (``derive_function_name``)."""
        name = derive_function_name(config)
        return {"function_name": name, "role_name": name}

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
