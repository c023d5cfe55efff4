"""A synthesized cloud assembly as the deployed world would be: every template's intrinsic functions resolved
against physical names and ids made up the way CloudFormation and KMS make them.

Nothing is deployed, so what only deployment decides is chosen here, deterministically: a key's id (``mrk-``
and 32 hex digits for a multi-Region key, shared by its replicas; a UUID otherwise), a generated name
(``<stack name>-<logical id>-<suffix>``, as CloudFormation writes it), a VPC endpoint's id; and, for an
environment that names no account or Region, the account and Region it is assumed to be deployed to. Every
policy then reads as the deployed one would. A reference this module cannot resolve raises ``Unresolvable``.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
UNKNOWN = ("unknown-account", "unknown-region")
_SUB_VARIABLE = re.compile(r"\$\{([^}!][^}]*)\}")


class Unresolvable(ValueError):
    """A reference or resource this module does not know how to compute."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()


@dataclass
class Stack:
    """One stack of the assembly: its template, name, account and Region (assumed where left open)."""

    artifact_id: str
    display_name: str
    stack_name: str
    account: str
    region: str
    template: dict[str, Any]
    assembly: Assembly = field(repr=False)
    # The CloudFormation execution role the manifest names, placeholders and all.
    manifest_execution_role_arn: str = ""

    @property
    def execution_role_arn(self) -> str:
        return _SUB_VARIABLE.sub(lambda match: self.pseudo(match.group(1)), self.manifest_execution_role_arn)

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Resources", {})

    def of_type(self, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, resource in self.resources.items():
            if resource["Type"] == resource_type:
                yield logical_id, resource

    def arn(
        self, service: str, resource: str, *, region: str | None = None, account: str | None = None
    ) -> str:
        region = self.region if region is None else region
        account = self.account if account is None else account
        return f"arn:{PARTITION}:{service}:{region}:{account}:{resource}"

    # -- physical names and ids, as CloudFormation and the services would make them ----------------

    def generated_name(self, logical_id: str, max_length: int = 255) -> str:
        """``<stack name>-<logical id>-<suffix>``, CloudFormation's name for a resource that names none."""
        suffix = _digest(self.stack_name, logical_id)[:12].upper()
        return f"{self.stack_name}-{logical_id}-{suffix}"[:max_length]

    def property_or_generated(self, logical_id: str, name_property: str, max_length: int = 255) -> str:
        name = self.resources[logical_id].get("Properties", {}).get(name_property)
        return self.resolve(name) if name is not None else self.generated_name(logical_id, max_length)

    def key_id(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::KMS::ReplicaKey":
            # A replica keeps its primary's id (mrk-...).
            return self.resolve(properties["PrimaryKeyArn"]).rsplit("/", 1)[1]
        digest = _digest(self.artifact_id, logical_id)
        if properties.get("MultiRegion"):
            return f"mrk-{digest[:32]}"
        return str(uuid.UUID(digest[:32]))

    def physical_id(self, logical_id: str) -> str:
        """What ``Ref`` returns for the resource."""
        resource_type = self.resources[logical_id]["Type"]
        if resource_type in ("AWS::KMS::Key", "AWS::KMS::ReplicaKey"):
            return self.key_id(logical_id)
        if resource_type == "AWS::IAM::Role":
            return self.property_or_generated(logical_id, "RoleName", 64)
        if resource_type == "AWS::Lambda::Function":
            return self.property_or_generated(logical_id, "FunctionName", 64)
        if resource_type == "AWS::Logs::LogGroup":
            return self.property_or_generated(logical_id, "LogGroupName", 512)
        if resource_type == "AWS::SNS::Topic":
            return self.arn("sns", self.property_or_generated(logical_id, "TopicName", 256))
        if resource_type == "AWS::CloudTrail::Trail":
            return self.property_or_generated(logical_id, "TrailName", 128)
        if resource_type == "AWS::CloudWatch::Alarm":
            return self.property_or_generated(logical_id, "AlarmName")
        if resource_type == "AWS::KMS::Alias":
            return self.resolve(self.resources[logical_id]["Properties"]["AliasName"])
        if resource_type == "AWS::EC2::VPCEndpoint":
            return f"vpce-{_digest(self.artifact_id, logical_id)[:17]}"
        if resource_type == "AWS::EC2::VPC":
            return f"vpc-{_digest(self.artifact_id, logical_id)[:17]}"
        # Resources whose Ref no policy reads (subnets, filters, policies ...): an opaque id is enough.
        return f"{logical_id}-{_digest(self.artifact_id, logical_id)[:12]}"

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource_type = self.resources[logical_id]["Type"]
        physical = self.physical_id(logical_id)
        attributes = {
            ("AWS::KMS::Key", "Arn"): lambda: self.arn("kms", f"key/{physical}"),
            ("AWS::KMS::Key", "KeyId"): lambda: physical,
            ("AWS::KMS::ReplicaKey", "Arn"): lambda: self.arn("kms", f"key/{physical}"),
            ("AWS::KMS::ReplicaKey", "KeyId"): lambda: physical,
            ("AWS::IAM::Role", "Arn"): lambda: self.arn("iam", f"role/{physical}", region=""),
            ("AWS::Lambda::Function", "Arn"): lambda: self.arn("lambda", f"function:{physical}"),
            ("AWS::Logs::LogGroup", "Arn"): lambda: self.arn("logs", f"log-group:{physical}:*"),
            ("AWS::SNS::Topic", "TopicArn"): lambda: physical,
            ("AWS::CloudTrail::Trail", "Arn"): lambda: self.arn("cloudtrail", f"trail/{physical}"),
            ("AWS::CloudWatch::Alarm", "Arn"): lambda: self.arn("cloudwatch", f"alarm:{physical}"),
        }
        getter = attributes.get((resource_type, attribute))
        if getter is None:
            raise Unresolvable(f"{self.stack_name}: Fn::GetAtt {logical_id}.{attribute} ({resource_type})")
        return getter()

    def pseudo(self, name: str) -> str:
        values = {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::StackName": self.stack_name,
        }
        if name not in values:
            raise Unresolvable(f"{self.stack_name}: pseudo parameter {name}")
        return values[name]

    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.resources:
            return self.physical_id(name)
        raise Unresolvable(f"{self.stack_name}: Ref {name}")

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function computed."""
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            [(name, argument)] = value.items()
            if name == "Ref":
                return self.ref(argument)
            if name == "Fn::GetAtt":
                logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.get_att(logical_id, attribute)
            if name == "Fn::Join":
                separator, parts = argument
                return separator.join(str(part) for part in self.resolve(parts))
            if name == "Fn::Sub":
                template, variables = (argument, {}) if isinstance(argument, str) else argument
                variables = self.resolve(variables)
                return _SUB_VARIABLE.sub(lambda match: str(self._sub(match.group(1), variables)), template)
            if name == "Fn::GetStackOutput":
                return self.assembly.stack_output(argument["StackName"], argument["OutputName"])
            if name.startswith("Fn::"):
                raise Unresolvable(f"{self.stack_name}: {name}")
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, variable: str, variables: dict[str, Any]) -> Any:
        if variable in variables:
            return variables[variable]
        if "." in variable:
            return self.get_att(*variable.split(".", 1))
        return self.ref(variable)

    def output(self, name: str) -> Any:
        outputs = self.template.get("Outputs", {})
        if name not in outputs:
            raise Unresolvable(f"{self.stack_name}: no output {name}")
        return self.resolve(outputs[name]["Value"])


@dataclass
class Assembly:
    """Every stack of a cloud assembly directory (the stages' ``assembly-*`` and the root's)."""

    stacks: list[Stack]

    def stack_output(self, stack_name: str, output_name: str) -> Any:
        return self.by_name(stack_name).output(output_name)

    def by_name(self, stack_name: str) -> Stack:
        for stack in self.stacks:
            if stack.stack_name == stack_name:
                return stack
        raise Unresolvable(f"no stack named {stack_name}")

    def by_display_name(self, display_name: str) -> Stack:
        for stack in self.stacks:
            if stack.display_name == display_name:
                return stack
        raise Unresolvable(f"no stack {display_name}")

    def of_stage(self, stage: str) -> list[Stack]:
        return [stack for stack in self.stacks if stack.display_name.startswith(f"{stage}/")]


def read_assembly(outdir: Path, assumed: dict[str, tuple[str, str]]) -> Assembly:
    """Read ``outdir``; ``assumed`` maps a stage to the (account, Region) its environment-agnostic stacks
    are assumed deployed to."""
    assembly = Assembly(stacks=[])
    manifests = [outdir / "manifest.json", *sorted(outdir.glob("assembly-*/manifest.json"))]
    for manifest_path in manifests:
        manifest = json.loads(manifest_path.read_text())
        for artifact_id, artifact in manifest["artifacts"].items():
            if artifact["type"] != "aws:cloudformation:stack":
                continue
            properties = artifact["properties"]
            display_name = artifact.get("displayName", artifact_id)
            account, region = artifact["environment"].removeprefix("aws://").split("/")
            stage = display_name.split("/", 1)[0]
            if (account, region) == UNKNOWN:
                if stage not in assumed:
                    raise Unresolvable(f"{display_name}: environment-agnostic, and no account/Region assumed")
                account, region = assumed[stage]
            assembly.stacks.append(
                Stack(
                    artifact_id=artifact_id,
                    display_name=display_name,
                    stack_name=properties.get("stackName", artifact_id),
                    account=account,
                    region=region,
                    template=json.loads((manifest_path.parent / properties["templateFile"]).read_text()),
                    assembly=assembly,
                    manifest_execution_role_arn=properties.get("cloudFormationExecutionRoleArn", ""),
                )
            )
    return assembly
