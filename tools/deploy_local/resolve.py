"""Resolve a template's intrinsic functions against a deployed stack's physical resources.

CloudFormation fills `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` ... at deploy time; to compare what
was deployed with what was synthesized, the same values are computed here from the stack's own
resources (DescribeStackResources) and the services' own answers (a key's ARN from DescribeKey, a
role's from GetRole ...), never from the deployed property being checked. A reference this module
cannot resolve raises `Unresolvable` naming it, so a template change that needs a new attribute fails
loudly instead of comparing something else.
"""

from __future__ import annotations

import json
import re
from typing import Any

import boto3

NO_VALUE = object()
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Unresolvable(ValueError):
    """A reference the resolver does not know how to compute."""


class DeployedStack:
    """A stack deployed to the local endpoint, with its template, resources and outputs."""

    def __init__(self, session: boto3.session.Session, stack_name: str, template: dict[str, Any]) -> None:
        self.session = session
        self._clients: dict[str, Any] = {}
        self.stack_name = stack_name
        self.template = template
        self.region = session.region_name
        cloudformation = session.client("cloudformation")
        stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
        self.stack_id = stack["StackId"]
        self.account = self.stack_id.split(":")[4]
        self.status = stack["StackStatus"]
        self.termination_protection = bool(stack.get("EnableTerminationProtection"))
        self.outputs = {output["OutputKey"]: output for output in stack.get("Outputs", [])}
        self.resources = {
            resource["LogicalResourceId"]: resource
            for resource in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        }
        self.events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        self._conditions: dict[str, bool] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service)
        return self._clients[service]

    def physical_id(self, logical_id: str) -> str:
        if logical_id not in self.resources:
            raise Unresolvable(f"{self.stack_name}: resource {logical_id} is not in the deployed stack")
        return self.resources[logical_id]["PhysicalResourceId"]

    def resource_type(self, logical_id: str) -> str:
        return self.template["Resources"][logical_id]["Type"]

    # -- pseudo parameters, conditions ----------------------------------------------------------

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise Unresolvable(f"{self.stack_name}: pseudo parameter {name}")
        return values[name]

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self.resolve(self.template.get("Conditions", {})[name]))
        return self._conditions[name]

    def is_deployed(self, logical_id: str) -> bool:
        """False for a resource whose Condition is false (CloudFormation does not create it)."""
        condition = self.template["Resources"][logical_id].get("Condition")
        return condition is None or self.condition(condition)

    # -- Ref and Fn::GetAtt ---------------------------------------------------------------------

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        parameters = self.template.get("Parameters", {})
        if name in parameters:
            return _parameter_value(self, name, parameters[name])
        return self.physical_id(name)

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource_type = self.resource_type(logical_id)
        physical = self.physical_id(logical_id)
        getter = _ATTRIBUTES.get((resource_type, attribute))
        if getter is None:
            raise Unresolvable(f"{self.stack_name}: Fn::GetAtt {logical_id}.{attribute} ({resource_type})")
        return getter(self, physical)

    # -- the functions --------------------------------------------------------------------------

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function computed; AWS::NoValue entries dropped."""
        if isinstance(value, list):
            return [item for item in (self.resolve(item) for item in value) if item is not NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(name, argument)] = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Condition":
                return self.condition(argument)
            if name.startswith("Fn::"):
                return self._function(name, argument)
        resolved = {key: self.resolve(item) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not NO_VALUE}

    def _function(self, name: str, argument: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self.get_att(logical_id, self.resolve(attribute))
        if name == "Fn::Join":
            separator, items = argument
            return separator.join(str(item) for item in self.resolve(items))
        if name == "Fn::Sub":
            return self._sub(argument)
        if name == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if name == "Fn::Split":
            separator, text = self.resolve(argument)
            return text.split(separator)
        if name == "Fn::If":
            condition, if_true, if_false = argument
            return self.resolve(if_true if self.condition(condition) else if_false)
        if name == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(argument)[0]
        if name == "Fn::And":
            return all(self.resolve(argument))
        if name == "Fn::Or":
            return any(self.resolve(argument))
        if name == "Fn::Contains":
            items, item = self.resolve(argument)
            return item in items
        if name == "Fn::GetStackOutput":
            return _stack_output(self, self.resolve(argument))
        if name == "Fn::ImportValue":
            return _import_value(self, self.resolve(argument))
        raise Unresolvable(f"{self.stack_name}: {name}")

    def _sub(self, argument: Any) -> str:
        text, variables = (argument, {}) if isinstance(argument, str) else argument
        variables = {key: self.resolve(item) for key, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return str(self.get_att(*name.split(".", 1)))
            return str(self.ref(name))

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")


def _parameter_value(stack: DeployedStack, name: str, parameter: dict[str, Any]) -> Any:
    deployed = {
        item["ParameterKey"]: item.get("ResolvedValue", item.get("ParameterValue"))
        for item in stack.client("cloudformation")
        .describe_stacks(StackName=stack.stack_name)["Stacks"][0]
        .get("Parameters", [])
    }
    if name in deployed:
        return deployed[name]
    if "Default" in parameter:
        return parameter["Default"]
    raise Unresolvable(f"{stack.stack_name}: parameter {name} has no value")


def _stack_output(stack: DeployedStack, argument: dict[str, Any]) -> str:
    session = boto3.session.Session(
        aws_access_key_id=stack.session.get_credentials().access_key,
        aws_secret_access_key=stack.session.get_credentials().secret_key,
        region_name=argument.get("Region", stack.region),
    )
    outputs = session.client("cloudformation").describe_stacks(StackName=argument["StackName"])["Stacks"][0]
    for output in outputs.get("Outputs", []):
        if output["OutputKey"] == argument["OutputName"]:
            return output["OutputValue"]
    raise Unresolvable(f"Fn::GetStackOutput {json.dumps(argument)}: no such output")


def _import_value(stack: DeployedStack, name: str) -> str:
    for page in stack.client("cloudformation").get_paginator("list_exports").paginate():
        for export in page["Exports"]:
            if export["Name"] == name:
                return export["Value"]
    raise Unresolvable(f"Fn::ImportValue {name}: no such export")


def _key_arn(stack: DeployedStack, key_id: str) -> str:
    return stack.client("kms").describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]


def _role_arn(stack: DeployedStack, name: str) -> str:
    return stack.client("iam").get_role(RoleName=name)["Role"]["Arn"]


def _role_id(stack: DeployedStack, name: str) -> str:
    return stack.client("iam").get_role(RoleName=name)["Role"]["RoleId"]


def _function_arn(stack: DeployedStack, name: str) -> str:
    return stack.client("lambda").get_function_configuration(FunctionName=name)["FunctionArn"]


def _log_group_arn(stack: DeployedStack, name: str) -> str:
    groups = stack.client("logs").describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    for group in groups:
        if group["logGroupName"] == name:
            return group["arn"]
    raise Unresolvable(f"{stack.stack_name}: log group {name} not found")


def _alarm_arn(stack: DeployedStack, name: str) -> str:
    """An alarm's physical id is its name (the dashboard stack reads the audit's alarms by ARN)."""
    alarms = stack.client("cloudwatch").describe_alarms(AlarmNames=[name])["MetricAlarms"]
    if not alarms:
        raise Unresolvable(f"{stack.stack_name}: alarm {name} not found")
    return alarms[0]["AlarmArn"]


def _topic_arn(stack: DeployedStack, physical: str) -> str:
    stack.client("sns").get_topic_attributes(TopicArn=physical)  # an SNS topic's physical id is its ARN
    return physical


def _bucket_arn(stack: DeployedStack, name: str) -> str:
    stack.client("s3").head_bucket(Bucket=name)
    return f"arn:aws:s3:::{name}"


def _physical_id(stack: DeployedStack, physical: str) -> str:
    """The attribute is the physical id itself (a security group's GroupId, a key's KeyId)."""
    return physical


def _vpc_attribute(field: str) -> Any:
    def getter(stack: DeployedStack, vpc_id: str) -> Any:
        vpc = stack.client("ec2").describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
        return vpc[field]

    return getter


def _default_security_group(stack: DeployedStack, vpc_id: str) -> str:
    groups = stack.client("ec2").describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]
    return groups[0]["GroupId"]


_ATTRIBUTES = {
    ("AWS::KMS::Key", "Arn"): _key_arn,
    ("AWS::KMS::Key", "KeyId"): _physical_id,
    ("AWS::IAM::Role", "Arn"): _role_arn,
    ("AWS::IAM::Role", "RoleId"): _role_id,
    ("AWS::Lambda::Function", "Arn"): _function_arn,
    ("AWS::Logs::LogGroup", "Arn"): _log_group_arn,
    ("AWS::SNS::Topic", "TopicArn"): _topic_arn,
    ("AWS::CloudWatch::Alarm", "Arn"): _alarm_arn,
    ("AWS::S3::Bucket", "Arn"): _bucket_arn,
    ("AWS::EC2::SecurityGroup", "GroupId"): _physical_id,
    ("AWS::EC2::VPC", "CidrBlock"): _vpc_attribute("CidrBlock"),
    ("AWS::EC2::VPC", "DefaultSecurityGroup"): _default_security_group,
}
