"""Compare a deployed stack with its synthesized template, references resolved (`resolve.py`).

Generic: every `AWS::KMS::Key`, `AWS::KMS::Alias`, `AWS::Lambda::Function`, `AWS::Lambda::Permission`
and output the template declares is checked, whatever the constructs put there. Each check returns
mismatches (what was expected, what was found) and notes (what the endpoint only pretends).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from tools.deploy_local.resolve import DeployedStack

FALLBACK_REASON = "is not supported but was deployed as a fallback"
COMPLETE = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE"})
LAMBDA_DEFAULTS: dict[str, Any] = {
    "MemorySize": 128,
    "Timeout": 3,
    "Architectures": ["x86_64"],
    "Environment": {"Variables": {}},
}


@dataclass
class Findings:
    """What one check found: mismatches fail the run, checked and pretended are reported."""

    mismatches: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    pretended: list[str] = field(default_factory=list)

    def expect(self, what: str, expected: Any, found: Any) -> None:
        if expected != found:
            self.mismatches.append(f"{what}: template says {_show(expected)}, deployed {_show(found)}")

    def extend(self, other: Findings) -> None:
        self.mismatches += other.mismatches
        self.checked += other.checked
        self.pretended += other.pretended


def _show(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 400 else f"{text[:400]}... ({len(text)} characters)"


def _of_type(stack: DeployedStack, resource_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (logical_id, resource.get("Properties", {}))
        for logical_id, resource in stack.template["Resources"].items()
        if resource["Type"] == resource_type and stack.is_deployed(logical_id)
    ]


def check_stack(stack: DeployedStack, termination_protection: bool) -> Findings:
    """The stack and every resource of the template are complete; list what the endpoint only pretends."""
    findings = Findings()
    if stack.status not in COMPLETE:
        findings.mismatches.append(f"{stack.stack_name}: status {stack.status}")
    expected = {logical_id for logical_id in stack.template["Resources"] if stack.is_deployed(logical_id)}
    missing = sorted(expected - set(stack.resources))
    if missing:
        findings.mismatches.append(f"{stack.stack_name}: resources not deployed: {', '.join(missing)}")
    for logical_id, resource in stack.resources.items():
        if resource["ResourceStatus"] not in COMPLETE:
            findings.mismatches.append(f"{stack.stack_name}/{logical_id}: {resource['ResourceStatus']}")
    findings.checked.append(f"{len(expected)} resources {'/'.join(sorted(COMPLETE))}")
    fallbacks = Counter(
        event["ResourceType"]
        for event in stack.events
        if FALLBACK_REASON in (event.get("ResourceStatusReason") or "")
        and event["ResourceStatus"] == "CREATE_COMPLETE"
    )
    for resource_type, count in sorted(fallbacks.items()):
        findings.pretended.append(
            f"{count} x {resource_type}: reported CREATE_COMPLETE, not created (the endpoint's fallback)"
        )
    if termination_protection and stack.termination_protection:
        findings.checked.append("termination protection on (lifted before destroy, as an operator would)")
    if termination_protection and not stack.termination_protection:
        findings.pretended.append("termination protection: requested, not set by the endpoint")
    elif termination_protection != stack.termination_protection:
        findings.expect(
            f"{stack.stack_name} termination protection", termination_protection, stack.termination_protection
        )
    return findings


def check_keys(stack: DeployedStack) -> Findings:
    """Each key's usage, spec, description, state and key policy (equal to the resolved template's)."""
    findings = Findings()
    kms = stack.client("kms")
    keys = _of_type(stack, "AWS::KMS::Key")
    multi_region_pretended = 0
    for logical_id, properties in keys:
        key_id = stack.physical_id(logical_id)
        where = f"{stack.stack_name}/{logical_id} ({key_id})"
        metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
        findings.expect(
            f"{where} KeyUsage", properties.get("KeyUsage", "ENCRYPT_DECRYPT"), metadata["KeyUsage"]
        )
        findings.expect(
            f"{where} KeySpec", properties.get("KeySpec", "SYMMETRIC_DEFAULT"), metadata["KeySpec"]
        )
        multi_region = stack.resolve(properties.get("MultiRegion", False))
        if multi_region and not metadata.get("MultiRegion", False):
            multi_region_pretended += 1
        else:
            findings.expect(f"{where} MultiRegion", multi_region, metadata.get("MultiRegion", False))
        if "Description" in properties:
            findings.expect(
                f"{where} Description", stack.resolve(properties["Description"]), metadata.get("Description")
            )
        enabled = stack.resolve(properties.get("Enabled", True))
        findings.expect(f"{where} KeyState", "Enabled" if enabled else "Disabled", metadata["KeyState"])
        if "EnableKeyRotation" in properties:
            rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
            findings.expect(f"{where} key rotation", stack.resolve(properties["EnableKeyRotation"]), rotation)
        if "KeyPolicy" in properties:
            deployed_policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
            findings.expect(f"{where} key policy", stack.resolve(properties["KeyPolicy"]), deployed_policy)
    if multi_region_pretended:
        findings.pretended.append(
            f"{multi_region_pretended} x MultiRegion key: made single-Region by the endpoint's "
            "CloudFormation "
            "(its KMS API makes multi-Region keys: see tests/lambda/test_local_endpoint_replica.py)"
        )
    usages = Counter(f"{properties.get('KeySpec', 'SYMMETRIC_DEFAULT')}" for _, properties in keys)
    if keys:
        findings.checked.append(
            f"{len(keys)} KMS key(s) ({', '.join(f'{n} {spec}' for spec, n in sorted(usages.items()))}): "
            "usage, spec, state, key policy"
        )
    aliases = _of_type(stack, "AWS::KMS::Alias")
    deployed_aliases = {
        alias["AliasName"]: alias.get("TargetKeyId")
        for page in kms.get_paginator("list_aliases").paginate()
        for alias in page["Aliases"]
    }
    for logical_id, properties in aliases:
        name = stack.resolve(properties["AliasName"])
        target = str(stack.resolve(properties["TargetKeyId"])).rsplit("key/", 1)[-1]
        findings.expect(
            f"{stack.stack_name}/{logical_id} alias {name} target", target, deployed_aliases.get(name)
        )
    if aliases:
        findings.checked.append(f"{len(aliases)} alias(es): name and target key")
    return findings


def _subset(expected: dict[str, Any], deployed: dict[str, Any]) -> dict[str, Any]:
    return {key: deployed.get(key) for key in expected}


def check_functions(stack: DeployedStack) -> Findings:
    """Each function's configuration, its code (the uploaded asset) and reserved concurrency."""
    findings = Findings()
    functions = _of_type(stack, "AWS::Lambda::Function")
    client = stack.client("lambda")
    for logical_id, properties in functions:
        name = stack.physical_id(logical_id)
        where = f"{stack.stack_name}/{logical_id}"
        expected = stack.resolve({**LAMBDA_DEFAULTS, **properties})
        deployed = client.get_function_configuration(FunctionName=name)
        for field_name in (
            "Runtime",
            "Handler",
            "MemorySize",
            "Timeout",
            "Architectures",
            "Role",
            "Description",
        ):
            if field_name in expected:
                findings.expect(f"{where} {field_name}", expected[field_name], deployed.get(field_name))
        findings.expect(
            f"{where} environment variables",
            expected["Environment"].get("Variables", {}),
            deployed.get("Environment", {}).get("Variables", {}),
        )
        if "LoggingConfig" in expected:
            logging_config = expected["LoggingConfig"]
            findings.expect(
                f"{where} LoggingConfig",
                logging_config,
                _subset(logging_config, deployed.get("LoggingConfig", {})),
            )
        if "TracingConfig" in expected:
            findings.expect(
                f"{where} TracingConfig", expected["TracingConfig"], deployed.get("TracingConfig")
            )
        if "VpcConfig" in expected:
            vpc = deployed.get("VpcConfig", {})
            for key in ("SubnetIds", "SecurityGroupIds"):
                findings.expect(
                    f"{where} VpcConfig.{key}",
                    sorted(expected["VpcConfig"].get(key, [])),
                    sorted(vpc.get(key, [])),
                )
        findings.expect(f"{where} State", "Active", deployed.get("State"))
        _check_code(stack, where, expected.get("Code", {}), deployed, findings)
        if "ReservedConcurrentExecutions" in expected:
            reserved = client.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
            if reserved is None:
                findings.pretended.append(
                    f"{logical_id} reserved concurrency {expected['ReservedConcurrentExecutions']}: "
                    "accepted, not stored (GetFunctionConcurrency is empty)"
                )
            else:
                findings.expect(
                    f"{where} reserved concurrency", expected["ReservedConcurrentExecutions"], reserved
                )
    if functions:
        findings.checked.append(
            f"{len(functions)} function(s): runtime, architecture, handler, environment, memory, timeout, "
            "role, logging and tracing config, code = uploaded asset"
        )
    permissions = _of_type(stack, "AWS::Lambda::Permission")
    for logical_id, properties in permissions:
        _check_permission(stack, logical_id, stack.resolve(properties), findings)
    if permissions:
        findings.checked.append(f"{len(permissions)} invoke permission(s): action, principal, conditions")
    return findings


def _check_code(
    stack: DeployedStack, where: str, code: dict[str, Any], deployed: dict[str, Any], findings: Findings
) -> None:
    """The deployed code's SHA-256 equals that of the object the template points at (the CLI's upload)."""
    if "S3Bucket" not in code:
        return
    body = stack.client("s3").get_object(Bucket=code["S3Bucket"], Key=code["S3Key"])["Body"].read()
    expected = base64.b64encode(hashlib.sha256(body).digest()).decode()
    findings.expect(
        f"{where} CodeSha256 (s3://{code['S3Bucket']}/{code['S3Key']})", expected, deployed.get("CodeSha256")
    )


def _principal(principal: str) -> Any:
    if principal == "*":
        return "*"
    if principal.endswith(".amazonaws.com") or principal.endswith(".amazonaws.com.cn"):
        return {"Service": principal}
    if principal.isdigit():
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    return {"AWS": principal}


def _check_permission(
    stack: DeployedStack, logical_id: str, properties: dict[str, Any], findings: Findings
) -> None:
    where = f"{stack.stack_name}/{logical_id}"
    function = properties["FunctionName"]
    client = stack.client("lambda")
    try:
        policy = json.loads(client.get_policy(FunctionName=function)["Policy"])
    except ClientError as error:
        findings.mismatches.append(f"{where}: no resource policy on {function} ({error})")
        return
    sid = stack.physical_id(logical_id)
    statements = [statement for statement in policy["Statement"] if statement.get("Sid") == sid]
    if len(statements) != 1:
        findings.mismatches.append(
            f"{where}: {len(statements)} statements with Sid {sid} in the policy of {function}"
        )
        return
    [statement] = statements
    function_arn = client.get_function_configuration(FunctionName=function)["FunctionArn"]
    findings.expect(f"{where} Effect", "Allow", statement.get("Effect"))
    findings.expect(f"{where} Action", properties["Action"], statement.get("Action"))
    findings.expect(f"{where} Principal", _principal(properties["Principal"]), statement.get("Principal"))
    findings.expect(f"{where} Resource", function_arn, statement.get("Resource"))
    condition: dict[str, Any] = {}
    if "SourceArn" in properties:
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = properties["SourceArn"]
    if "SourceAccount" in properties:
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = properties["SourceAccount"]
    if "PrincipalOrgID" in properties:
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = properties["PrincipalOrgID"]
    findings.expect(f"{where} Condition", condition, statement.get("Condition", {}))


def check_outputs(stack: DeployedStack) -> Findings:
    """Every output of the template exists with the resolved value (and export name)."""
    findings = Findings()
    outputs = {
        name: output
        for name, output in stack.template.get("Outputs", {}).items()
        if "Condition" not in output or stack.condition(output["Condition"])
    }
    for name, output in outputs.items():
        deployed = stack.outputs.get(name)
        if deployed is None:
            findings.mismatches.append(f"{stack.stack_name}: output {name} missing")
            continue
        value = stack.resolve(output["Value"])
        findings.expect(
            f"{stack.stack_name} output {name}",
            ",".join(value) if isinstance(value, list) else str(value),
            deployed["OutputValue"],
        )
        if "Export" in output:
            findings.expect(
                f"{stack.stack_name} output {name} export",
                stack.resolve(output["Export"]["Name"]),
                deployed.get("ExportName"),
            )
    extra = sorted(set(stack.outputs) - set(outputs))
    if extra:
        findings.mismatches.append(f"{stack.stack_name}: outputs not in the template: {', '.join(extra)}")
    if outputs:
        findings.checked.append(f"{len(outputs)} output(s)")
    return findings


def check_deployed(stack: DeployedStack, termination_protection: bool) -> Findings:
    findings = Findings()
    for check in (check_keys, check_functions, check_outputs):
        findings.extend(check(stack))
    findings.extend(check_stack(stack, termination_protection))
    return findings
