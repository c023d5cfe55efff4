"""What a synthesized cloud assembly (cdk.out) says to deploy: stages, their stacks and environments."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where an environment-agnostic stack goes on the local endpoint (localstack's default account).
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
_UNKNOWN = ("unknown-account", "unknown-region")
# CDK's bootstrap qualifier when none is configured; a stack names its bootstrap's version parameter
# /cdk-bootstrap/<qualifier>/version.
DEFAULT_QUALIFIER = "hnb659fds"
BOOTSTRAP_VERSION_PARAMETER = re.compile(r"/cdk-bootstrap/([^/]+)/version")
# Resource types the endpoint's CloudFormation cannot create at all: a stack holding one is not deployed;
# what it would prove is proven through the endpoint's API instead (the reason names where).
UNDEPLOYABLE_TYPES: dict[str, str] = {
    "AWS::KMS::ReplicaKey": "the endpoint's CloudFormation cannot create a KMS replica key; replication "
    "through its KMS API (ReplicateKey, same public key, same derived key as OpenSSL) is proven in "
    "tests/lambda/test_local_endpoint_replica.py",
}


@dataclass(frozen=True)
class StackPlan:
    """One stack of the assembly, with the account and Region it deploys to."""

    artifact_id: str
    display_name: str  # the CLI's stack selector, e.g. prod/KeyAgreement
    stack_name: str
    template: dict[str, Any]
    account: str
    region: str
    agnostic: bool
    termination_protection: bool
    dependencies: tuple[str, ...]
    qualifier: str = DEFAULT_QUALIFIER

    @property
    def undeployable_reason(self) -> str | None:
        """Why the endpoint cannot deploy this stack, or None when it can."""
        types = {resource.get("Type") for resource in self.template.get("Resources", {}).values()}
        reasons = [f"{kind}: {UNDEPLOYABLE_TYPES[kind]}" for kind in sorted(types & set(UNDEPLOYABLE_TYPES))]
        return "; ".join(reasons) or None


@dataclass(frozen=True)
class StagePlan:
    """One `cdk.Stage` (one environment of cdk.json): `cdk deploy '<name>/*'` deploys all its stacks."""

    name: str
    stacks: tuple[StackPlan, ...]  # in dependency order

    @property
    def deployable(self) -> tuple[StackPlan, ...]:
        """The stacks the endpoint can create, in dependency order."""
        return tuple(stack for stack in self.stacks if stack.undeployable_reason is None)

    @property
    def targets(self) -> list[tuple[str, str]]:
        """Every (account, Region) the stage's deployable stacks go to (several with replica Regions)."""
        return sorted({(stack.account, stack.region) for stack in self.deployable})

    @property
    def bootstraps(self) -> list[tuple[str, str, str]]:
        """Every (account, Region, bootstrap qualifier) the stage's deployable stacks need bootstrapped."""
        return sorted({(stack.account, stack.region, stack.qualifier) for stack in self.deployable})

    @property
    def account(self) -> str:
        """The one account of the stage: the CLI deploys it with that account's credentials."""
        accounts = {account for account, _ in self.targets}
        if len(accounts) != 1:
            raise ValueError(f"stage {self.name} spans several accounts: {sorted(accounts)}")
        return next(iter(accounts))


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _stacks(assembly_dir: Path) -> list[StackPlan]:
    artifacts = _read(assembly_dir / "manifest.json").get("artifacts", {})
    stacks = []
    for artifact_id, artifact in artifacts.items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        account, region = artifact["environment"].removeprefix("aws://").split("/")
        agnostic = account == _UNKNOWN[0] or region == _UNKNOWN[1]
        stacks.append(
            StackPlan(
                artifact_id=artifact_id,
                display_name=artifact.get("displayName", artifact_id),
                stack_name=properties.get("stackName", artifact_id),
                template=_read(assembly_dir / properties["templateFile"]),
                account=DEFAULT_ACCOUNT if account == _UNKNOWN[0] else account,
                region=DEFAULT_REGION if region == _UNKNOWN[1] else region,
                agnostic=agnostic,
                termination_protection=bool(properties.get("terminationProtection")),
                dependencies=tuple(dep for dep in artifact.get("dependencies", []) if dep in artifacts),
                qualifier=_qualifier(properties),
            )
        )
    return _dependency_order(stacks)


def _qualifier(properties: dict[str, Any]) -> str:
    """The bootstrap qualifier a stack deploys with, read from the version parameter its synthesizer names."""
    match = BOOTSTRAP_VERSION_PARAMETER.fullmatch(properties.get("bootstrapStackVersionSsmParameter", ""))
    return match.group(1) if match else DEFAULT_QUALIFIER


def bootstrap_options(qualifier: str) -> list[str]:
    """`cdk bootstrap` options for a qualifier: its own toolkit stack beside the default one."""
    if qualifier == DEFAULT_QUALIFIER:
        return []
    return ["--qualifier", qualifier, "--toolkit-stack-name", f"CDKToolkit-{qualifier}"]


def _dependency_order(stacks: list[StackPlan]) -> list[StackPlan]:
    by_id = {stack.artifact_id: stack for stack in stacks}
    ordered: list[StackPlan] = []

    def visit(stack: StackPlan) -> None:
        if stack in ordered:
            return
        for dependency in stack.dependencies:
            if dependency in by_id:
                visit(by_id[dependency])
        ordered.append(stack)

    for stack in stacks:
        visit(stack)
    return ordered


def read_stages(cdk_out: Path) -> list[StagePlan]:
    """Every stage of the assembly (nested assemblies, one per environment), in manifest order."""
    artifacts = _read(cdk_out / "manifest.json").get("artifacts", {})
    stages = []
    for artifact in artifacts.values():
        if artifact.get("type") != "cdk:cloud-assembly":
            continue
        properties = artifact["properties"]
        name = properties.get("displayName") or properties["directoryName"].removeprefix("assembly-")
        stacks = _stacks(cdk_out / properties["directoryName"])
        if stacks:
            stages.append(StagePlan(name=name, stacks=tuple(stacks)))
    if not stages:
        raise ValueError(f"no stage with stacks in {cdk_out}")
    return stages
