"""What a synthesized cloud assembly (cdk.out) says to deploy: stages, their stacks and environments."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# Where an environment-agnostic stack goes on the local endpoint (localstack's default account).
DEFAULT_ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
_UNKNOWN = ("unknown-account", "unknown-region")


@dataclass(frozen=True)
class StackPlan:
    """One stack of the assembly, with the account and Region it deploys to."""

    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    account: str
    region: str
    agnostic: bool
    termination_protection: bool
    dependencies: tuple[str, ...]


@dataclass(frozen=True)
class StagePlan:
    """One `cdk.Stage` (one environment of cdk.json): `cdk deploy '<name>/*'` deploys all its stacks."""

    name: str
    stacks: tuple[StackPlan, ...]  # in dependency order

    @property
    def target(self) -> tuple[str, str]:
        """The (account, Region) of the stage: every stack of one stage shares it."""
        targets = {(stack.account, stack.region) for stack in self.stacks}
        if len(targets) != 1:
            raise ValueError(f"stage {self.name} spans several environments: {sorted(targets)}")
        return next(iter(targets))


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
                stack_name=properties.get("stackName", artifact_id),
                template=_read(assembly_dir / properties["templateFile"]),
                account=DEFAULT_ACCOUNT if account == _UNKNOWN[0] else account,
                region=DEFAULT_REGION if region == _UNKNOWN[1] else region,
                agnostic=agnostic,
                termination_protection=bool(properties.get("terminationProtection")),
                dependencies=tuple(dep for dep in artifact.get("dependencies", []) if dep in artifacts),
            )
        )
    return _dependency_order(stacks)


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
