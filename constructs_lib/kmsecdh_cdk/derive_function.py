"""The derive Lambda: calls kms:DeriveSharedSecret on its configured keys and applies the KDF.

The function runs ``lambda/derive/handler.py`` with the ``kmsecdh`` package (bundled locally, see
``bundling``), configured through the environment variables of the contract (``kmsecdh.contract``,
docs/contract.md). Its role may only
derive with, and read the public keys of, the keys it is given, and write to its own log group.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from kmsecdh.contract import (
    ALLOW_RAW_SECRET_VARIABLE,
    DEFAULT_KEY_VARIABLE,
    FUNCTION_TIMEOUT_SECONDS,
    KEYS_VARIABLE,
)
from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.bundling import HANDLER, lambda_code
from kmsecdh_cdk.errors import KmsEcdhValidationError, validating
from kmsecdh_cdk.iam_actions import (
    LAMBDA_ENVIRONMENT_DECRYPTION_ACTION,
    LAMBDA_ENVIRONMENT_ENCRYPTION_ACTIONS,
    LAMBDA_VPC_DESCRIBE_ACTIONS,
    LAMBDA_VPC_NETWORK_INTERFACE_ACTIONS,
    VPC_CONDITION_KEY,
)
from kmsecdh_cdk.nag_rules import AWS_WIRE_RECORDS_DROPPED_METADATA
from kmsecdh_cdk.principals import exact_principal_arn

if TYPE_CHECKING:
    from kmsecdh_cdk.key_agreement_key import KeyAgreementKey

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64

MIN_TIMEOUT_SECONDS = 20
"""A batch starts a peer's KMS call only while 16 s remain (the KMS client's worst case and a reply):
with less than 20 s in all, a batch against a slow KMS would barely start."""


class DeriveFunction(Construct):
    """The derive Lambda with its role, log group and (unless given one) the log group's key.

    Defaults: the first of ``keys`` is the default key; the raw shared secret is never returned;
    no reserved concurrency (cdk-nag's LambdaConcurrency rules then report it: pass a value);
    256 MB (about three times the handler's peak memory: `make bench`'s memory figure,
    docs/performance.md); 30 s, room for the KMS client's three attempts at a 1 s connect and 3 s read timeout
    and for a batch to start peers during its first 14 s;
    log retention one year; not attached to a VPC; a dedicated symmetric key with rotation encrypts
    the log group (named ``/kmsecdh/<unique name>/LogGroup`` so the key policy can name exactly it), and
    another one the function's environment variables (only the function's role may decrypt them); log
    group and keys retained; JSON log format at application and system log level INFO. Any log level is
    safe: no Z or derived key reaches the log at DEBUG or TRACE either (``kmsecdh.log``).

    ``function_name`` and ``role_name`` fix the physical names (default: generated), for a function that
    another Region's audit names before it exists.

    ``aliases`` (default: each key's ``alias_name``) are the alias names the function is configured with,
    each naming one of ``keys``; the default key's first alias is the default. A key no alias names (a
    retired generation, disabled) keeps the role among its derivers, so its key policy stays whole, but the
    function never uses it.

    Rejected at construct time: no keys, two keys with one alias, a default key not among ``keys``,
    reserved concurrency below 1, a timeout under MIN_TIMEOUT_SECONDS, ``vpc`` without
    ``kms_endpoint`` (the key policy could not pin the endpoint) and network settings without ``vpc``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        keys: Sequence[KeyAgreementKey],
        default_key: KeyAgreementKey | None = None,
        aliases: Mapping[str, KeyAgreementKey] | None = None,
        allow_raw_secret: bool = False,
        reserved_concurrent_executions: int | None = None,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        memory_size: int = 256,
        timeout: cdk.Duration = cdk.Duration.seconds(FUNCTION_TIMEOUT_SECONDS),  # noqa: B008 (immutable)
        vpc: ec2.IVpc | None = None,
        vpc_subnets: ec2.SubnetSelection | None = None,
        security_groups: Sequence[ec2.ISecurityGroup] | None = None,
        kms_endpoint: ec2.IInterfaceVpcEndpoint | None = None,
        log_group_encryption_key: kms.IKey | None = None,
        removal_policy: cdk.RemovalPolicy = cdk.RemovalPolicy.RETAIN,
        application_log_level: lambda_.ApplicationLogLevel = lambda_.ApplicationLogLevel.INFO,
        system_log_level: lambda_.SystemLogLevel = lambda_.SystemLogLevel.INFO,
        function_name: str | None = None,
        role_name: str | None = None,
    ) -> None:
        super().__init__(scope, id)
        keys = tuple(keys)
        with validating(self):
            aliases = _validated_aliases(keys, aliases)
            default_key = _validated_default_key(tuple(aliases.values()), default_key)
            _validate_network(vpc, vpc_subnets, security_groups, kms_endpoint)
        default_alias = next(alias for alias, key in aliases.items() if key is default_key)
        if reserved_concurrent_executions is not None and reserved_concurrent_executions < 1:
            raise KmsEcdhValidationError(
                self,
                f"reserved_concurrent_executions must be at least 1, got {reserved_concurrent_executions}",
            )
        timeout_seconds = timeout.to_seconds()
        if not cdk.Token.is_unresolved(timeout_seconds) and timeout_seconds < MIN_TIMEOUT_SECONDS:
            raise KmsEcdhValidationError(
                self, f"timeout must be at least {MIN_TIMEOUT_SECONDS} s, got {timeout_seconds} s"
            )

        self.log_group = key_policy.encrypted_log_group(
            self,
            "LogGroup",
            key_description="kmsecdh derive function: encrypts its CloudWatch Logs log group",
            retention=log_retention,
            removal_policy=removal_policy,
            encryption_key=log_group_encryption_key,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="kmsecdh derive function: derive with its keys, write its own log group",
            role_name=role_name,
        )
        self.log_group.grant_write(self.role)
        if vpc is not None:
            self._allow_network_interfaces(vpc)
        self.environment_key = self._environment_key(removal_policy)

        self.function = lambda_.Function(
            self,
            "Function",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            function_name=function_name,
            code=lambda_code(RUNTIME, ARCHITECTURE),
            description="kmsecdh: KMS ECDH DeriveSharedSecret followed by an SP 800-56C KDF",
            role=self.role,
            environment={
                KEYS_VARIABLE: cdk.Stack.of(self).to_json_string(
                    {alias: {"arn": key.key_arn, "key_spec": key.key_spec} for alias, key in aliases.items()}
                ),
                DEFAULT_KEY_VARIABLE: default_alias,
                ALLOW_RAW_SECRET_VARIABLE: "true" if allow_raw_secret else "false",
            },
            environment_encryption=self.environment_key,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=application_log_level,
            system_log_level_v2=system_log_level,
            tracing=lambda_.Tracing.ACTIVE,
            reserved_concurrent_executions=reserved_concurrent_executions,
            memory_size=memory_size,
            timeout=timeout,
            vpc=vpc,
            vpc_subnets=vpc_subnets,
            security_groups=security_groups,
        )

        # The handler imports kmsecdh, whose import drops botocore's wire records below INFO: the KmsEcdh
        # cdk-nag pack reads this instead of refusing the function a DEBUG log level.
        function_resource = self.function.node.default_child
        assert isinstance(function_resource, lambda_.CfnFunction)
        function_resource.add_metadata(AWS_WIRE_RECORDS_DROPPED_METADATA, "kmsecdh.log.drop_aws_wire_records")

        source_vpce = kms_endpoint.vpc_endpoint_id if kms_endpoint is not None else None
        for key in keys:
            key.grant_derive(self.role, source_vpce=source_vpce)
        self._acknowledge_findings(vpc)

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``grantee`` to invoke the function (a configured caller): a role, user or exact ARN,
        never an account root nor an ARN with ``*`` or ``?`` (ValueError)."""
        with validating(self):
            exact_principal_arn(grantee.grant_principal)
        return self.function.grant_invoke(grantee)

    def _environment_key(self, removal_policy: cdk.RemovalPolicy) -> kms.Key:
        """The key of the function's environment variables: the deployment configures it, only the role
        decrypts (the variables name the keys and whether raw secrets may leave the function)."""
        through_lambda = f"lambda.{cdk.Stack.of(self).region}.amazonaws.com"
        return key_policy.symmetric_service_key(
            self,
            "EnvironmentKey",
            description="kmsecdh derive function: encrypts its environment variables",
            removal_policy=removal_policy,
            service_statements=[
                iam.PolicyStatement(
                    # Lambda encrypts the variables and creates its grant with the caller's permissions,
                    # and only when the call comes through Lambda.
                    sid="AllowFunctionConfigurationThroughLambda",
                    principals=[iam.ArnPrincipal(key_policy.cloudformation_execution_role_arn(self))],
                    actions=list(LAMBDA_ENVIRONMENT_ENCRYPTION_ACTIONS),
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": through_lambda}},
                ),
                iam.PolicyStatement(
                    # Lambda decrypts the variables with the role's credentials when an execution environment
                    # starts; the role's credentials used anywhere else decrypt nothing with this key.
                    sid="AllowFunctionRoleDecrypt",
                    principals=[iam.ArnPrincipal(self.role.role_arn)],
                    actions=[LAMBDA_ENVIRONMENT_DECRYPTION_ACTION],
                    resources=["*"],
                    conditions={"StringEquals": {"kms:ViaService": through_lambda}},
                ),
            ],
        )

    def _allow_network_interfaces(self, vpc: ec2.IVpc) -> None:
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="DescribeNetworkInterfaces",
                actions=list(LAMBDA_VPC_DESCRIBE_ACTIONS),
                resources=["*"],
            )
        )
        vpc_arn = cdk.Stack.of(self).format_arn(service="ec2", resource="vpc", resource_name=vpc.vpc_id)
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ManageNetworkInterfacesInTheFunctionVpc",
                actions=list(LAMBDA_VPC_NETWORK_INTERFACE_ACTIONS),
                resources=["*"],
                conditions={"ArnEquals": {VPC_CONDITION_KEY: vpc_arn}},
            )
        )

    def _acknowledge_findings(self, vpc: ec2.IVpc | None) -> None:
        """Acknowledge, on the narrowest construct, the cdk-nag findings this design causes on purpose."""
        policy = self.role.node.find_child("DefaultPolicy")
        wildcard_reason = "X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permission"
        if vpc is not None:
            wildcard_reason += (
                "; nor do the EC2 describe actions Lambda needs in a VPC (the network-interface changes are "
                "limited to the function's VPC by ec2:Vpc)"
            )
        acknowledge(
            policy, "AwsSolutions-IAM5[Resource::*]", wildcard_reason + ". KMS actions name key ARNs."
        )
        for pack in COMPLIANCE_PACKS:
            acknowledge(
                policy,
                f"{pack}-IAMNoInlinePolicy",
                "The role's only policy, made for this one function and deleted with it; it holds the "
                "grants of its keys (by ARN) and its log group, and Lambda adds the X-Ray actions to it.",
            )
        dead_letter_reason = (
            "Callers invoke the function synchronously and get its errors in the response; "
            "a derived key must not be parked in a queue."
        )
        for pack in _DEAD_LETTER_PACKS:
            acknowledge(self.function, f"{pack}-LambdaDLQ", dead_letter_reason)
        skip_checkov(self.function, "CKV_AWS_116", dead_letter_reason)
        if vpc is None:
            outside_vpc_reason = (
                "Not attached to a VPC by configuration (vpc=None): the function accepts no inbound "
                "connection and calls only AWS endpoints (KMS, CloudWatch Logs, X-Ray) over TLS."
            )
            for pack in COMPLIANCE_PACKS:
                acknowledge(self.function, f"{pack}-LambdaInsideVPC", outside_vpc_reason)
            skip_checkov(self.function, "CKV_AWS_117", outside_vpc_reason)


# The cdk-nag packs with a LambdaDLQ rule.
_DEAD_LETTER_PACKS = ("NIST.800.53.R5", "HIPAA.Security", "Serverless")


def _validated_aliases(
    keys: tuple[KeyAgreementKey, ...], aliases: Mapping[str, KeyAgreementKey] | None
) -> dict[str, KeyAgreementKey]:
    if not keys:
        raise ValueError("DeriveFunction needs at least one key in keys")
    if aliases is None:
        names = [key.alias_name for key in keys]
        duplicates = sorted({alias for alias in names if names.count(alias) > 1})
        if duplicates:
            raise ValueError(f"DeriveFunction keys share alias names: {', '.join(duplicates)}")
        return {key.alias_name: key for key in keys}
    if not aliases:
        raise ValueError("DeriveFunction aliases must name at least one key")
    for alias, key in aliases.items():
        if not any(key is given for given in keys):
            raise ValueError(f"DeriveFunction alias {alias} names a key that is not one of keys")
    return dict(aliases)


def _validated_default_key(
    keys: tuple[KeyAgreementKey, ...], default_key: KeyAgreementKey | None
) -> KeyAgreementKey:
    aliases = [key.alias_name for key in keys]
    if default_key is None:
        return keys[0]
    if not any(key is default_key for key in keys):
        raise ValueError(f"default_key {default_key.alias_name} is not one of keys ({', '.join(aliases)})")
    return default_key


def _validate_network(
    vpc: ec2.IVpc | None,
    vpc_subnets: ec2.SubnetSelection | None,
    security_groups: Sequence[ec2.ISecurityGroup] | None,
    kms_endpoint: ec2.IInterfaceVpcEndpoint | None,
) -> None:
    if vpc is None:
        given = [
            name
            for name, value in (
                ("vpc_subnets", vpc_subnets),
                ("security_groups", security_groups),
                ("kms_endpoint", kms_endpoint),
            )
            if value is not None
        ]
        if given:
            raise ValueError(f"{', '.join(given)} given without vpc")
    elif kms_endpoint is None:
        raise ValueError(
            "vpc given without kms_endpoint: the function in a VPC reaches KMS through an interface "
            "endpoint, and the key policy pins that endpoint"
        )
