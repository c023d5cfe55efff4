"""A VPC with no route to the internet for the derive function: isolated subnets and interface endpoints.

No NAT gateway and no internet gateway: the function reaches KMS and CloudWatch Logs only through
interface endpoints with private DNS, so boto3's default endpoints resolve to them without any code
change, and the key policy can require ``aws:SourceVpce`` of the KMS endpoint. Once told what they carry
(``allow_kms_use``, ``allow_log_delivery``), the KMS and Logs endpoints get policies admitting only that:
whatever else runs in the VPC cannot reach other keys or log groups through them.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from kmsecdh_cdk import key_policy
from kmsecdh_cdk.acknowledgments import COMPLIANCE_PACKS, acknowledge, skip_checkov
from kmsecdh_cdk.iam_actions import LOG_DELIVERY_ACTIONS
from kmsecdh_cdk.service_roles import require_source

HTTPS = ec2.Port.tcp(443)
DEFAULT_CIDR = "10.80.0.0/24"
# The custom resource CDK adds to a VPC that restricts its default security group (feature flag
# @aws-cdk/aws-ec2:restrictDefaultSecurityGroup): one provider per stack.
RESTRICT_DEFAULT_SG_PROVIDER_ID = "Custom::VpcRestrictDefaultSGCustomResourceProvider"


class IsolatedNetwork(Construct):
    """Isolated subnets in ``max_azs`` Availability Zones, KMS, Logs and X-Ray endpoints, flow logs.

    :param cidr: the VPC's address range; default 10.80.0.0/24 (the function needs a few addresses).
    :param max_azs: default 2, so the function survives the loss of one Availability Zone.
    :param flow_log_retention: retention of the flow-log group; default one year.
    :param removal_policy: of the flow-log group and its key; default RETAIN.

    Attributes: ``vpc``, ``subnets`` (the isolated subnets), ``security_group`` (for the function: HTTPS out
    to the VPC only), ``kms_endpoint``, ``logs_endpoint``, ``xray_endpoint``, ``flow_log_group``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        cidr: str = DEFAULT_CIDR,
        max_azs: int = 2,
        flow_log_retention: logs.RetentionDays = logs.RetentionDays.ONE_YEAR,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> None:
        super().__init__(scope, id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(cidr),
            max_azs=max_azs,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
            ],
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        self.flow_log_group = key_policy.encrypted_log_group(
            self,
            "FlowLogGroup",
            key_description="kmsecdh network: encrypts the VPC flow-log group",
            retention=flow_log_retention,
            removal_policy=removal_policy,
        )
        flow_log = self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(self.flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        stack = Stack.of(self)
        require_source(
            flow_log.node.find_child("IAMRole"),
            "vpc-flow-logs.amazonaws.com",
            source_account=stack.account,
            source_arn=stack.format_arn(service="ec2", resource="vpc-flow-log", resource_name="*"),
        )
        self._acknowledge_flow_log_findings(flow_log)
        self._skip_restrict_default_security_group_checks()

        self.security_group = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="kmsecdh derive function: HTTPS to the interface endpoints of its VPC only",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block), HTTPS, "HTTPS to the interface endpoints"
        )
        self.kms_endpoint = self._endpoint("KmsEndpoint", ec2.InterfaceVpcEndpointAwsService.KMS)
        self.logs_endpoint = self._endpoint(
            "LogsEndpoint", ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS
        )
        # The function traces actively; without this endpoint its segments would be dropped in the VPC.
        self.xray_endpoint = self._endpoint("XRayEndpoint", ec2.InterfaceVpcEndpointAwsService.XRAY)

    def allow_kms_use(
        self, principal: iam.IPrincipal, key_arns: Sequence[str], actions: Sequence[str]
    ) -> None:
        """Let ``principal`` call ``actions`` on the keys ``key_arns`` (ARNs or patterns) through the KMS
        endpoint.

        The first statement replaces the endpoint's default policy (everything allowed) with one that admits
        only what these calls add: no other principal, and no key of another account, which would otherwise be
        a way out of the isolated VPC. The key policies still decide; the endpoint only narrows. A key whose
        policy pins this endpoint (``aws:SourceVpce``) cannot be named by reference here: each would refer to
        the other.
        """
        self.kms_endpoint.add_to_policy(
            iam.PolicyStatement(principals=[principal], actions=list(actions), resources=list(key_arns))
        )

    def allow_log_delivery(self, principal: iam.IPrincipal, log_group: logs.ILogGroup) -> None:
        """Let ``principal`` write to ``log_group`` through the Logs endpoint, and nothing else once the first
        statement is added (the group's ARN as CDK's grants name it, ``...:log-group:<name>:*``)."""
        self.logs_endpoint.add_to_policy(
            iam.PolicyStatement(
                principals=[principal],
                actions=list(LOG_DELIVERY_ACTIONS),
                resources=[log_group.log_group_arn],
            )
        )

    def _endpoint(self, id: str, service: ec2.InterfaceVpcEndpointAwsService) -> ec2.InterfaceVpcEndpoint:
        endpoint = self.vpc.add_interface_endpoint(
            id, service=service, subnets=self.subnets, private_dns_enabled=True, open=False
        )
        endpoint.connections.allow_from(self.security_group, HTTPS, "HTTPS from the derive function")
        return endpoint

    def _skip_restrict_default_security_group_checks(self) -> None:
        """The checks that do not apply to the handler of CDK's custom resource that empties the VPC's
        default security group: CloudFormation invokes it once per deployment, synchronously."""
        handler = Stack.of(self).node.find_child(RESTRICT_DEFAULT_SG_PROVIDER_ID).node.find_child("Handler")
        for check_id, reason in (
            (
                "CKV_AWS_116",
                "CloudFormation invokes this custom-resource handler synchronously during deployment and "
                "fails the deployment on its error; a dead-letter queue would hold nothing to act on.",
            ),
            (
                "CKV_AWS_117",
                "It calls only the EC2 API to revoke the default security group's rules, at deployment; "
                "inside the isolated VPC it would need an EC2 endpoint for that alone.",
            ),
            (
                "CKV_AWS_115",
                "Invoked by CloudFormation once per deployment of this stack: there is no traffic for "
                "reserved concurrency to bound.",
            ),
        ):
            skip_checkov(handler, check_id, reason)

    def _acknowledge_flow_log_findings(self, flow_log: ec2.FlowLog) -> None:
        for pack in COMPLIANCE_PACKS:
            acknowledge(
                flow_log.node.find_child("IAMRole").node.find_child("DefaultPolicy"),
                f"{pack}-IAMNoInlinePolicy",
                "The VPC flow-log role's policy, generated by CDK, allows writing to this one log group only "
                "and belongs to no other identity.",
            )
