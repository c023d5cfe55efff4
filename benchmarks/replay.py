"""The replay of a cloud assembly: what a CDK app needs to re-create exactly the templates of another app.

``spec`` reads a synthesized cloud assembly (the project's ``cdk.out``) into a JSON-able description: every
stack with its construct path, environment, name, tags, termination protection, synthesizer, dependencies and
template, the construct path of every template element (from the assembly's ``aws:cdk:logicalId`` metadata),
the cdk-nag acknowledgments made on its constructs, and the rule packs the app registered.
``benchmarks/replay_app.py`` builds that app, every resource a plain ``CfnResource``: the floor of
``benchmarks.synth_replay``. Pure code (JSON in, JSON out), so ``tests/bench`` checks it quickly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

STACK = "aws:cloudformation:stack"
NESTED_ASSEMBLY = "cdk:cloud-assembly"
LOGICAL_ID = "aws:cdk:logicalId"
ACKNOWLEDGED = "aws:cdk:acknowledged-rules"
UNKNOWN_ACCOUNT = "unknown-account"
UNKNOWN_REGION = "unknown-region"
# What the stack synthesizer writes itself (DefaultStackSynthesizer's bootstrap version check): not replayed.
SYNTHESIZED_SECTIONS = ("Parameters", "Rules")
REPLAYED_SECTIONS = ("Description", "Conditions", "Resources", "Outputs")
_ENVIRONMENT = re.compile(r"^aws://([^/]+)/([^/]+)$")
# DefaultStackSynthesizer's bootstrap version parameter names the bootstrap qualifier it was given.
_BOOTSTRAP_VERSION = re.compile(r"^/cdk-bootstrap/([^/]+)/version$")
DEFAULT_QUALIFIER = "hnb659fds"


class ReplayError(ValueError):
    """The assembly holds something the replay cannot re-create."""


def spec(assembly: Path, packs: Sequence[tuple[str, str]]) -> dict[str, Any]:
    """The replay of the cloud assembly in ``assembly``, its app registering the rule ``packs`` (each a
    module and a class name)."""
    stacks = list(_stacks(assembly, stage=None))
    by_artifact = {(stack["assembly"], stack["artifact"]): stack["path"] for stack in stacks}
    for stack in stacks:
        stack["dependencies"] = [
            by_artifact[(stack["assembly"], artifact)]
            for artifact in stack.pop("artifact_dependencies")
            if (stack["assembly"], artifact) in by_artifact
        ]
    return {
        "packs": [list(pack) for pack in packs],
        "stages": sorted({stack["stage"] for stack in stacks if stack["stage"] is not None}),
        "stacks": [
            {key: value for key, value in stack.items() if key not in ("assembly", "artifact")}
            for stack in stacks
        ],
    }


def _stacks(directory: Path, stage: str | None) -> Iterator[dict[str, Any]]:
    manifest = json.loads((directory / "manifest.json").read_text())
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact["type"] == NESTED_ASSEMBLY:
            properties = artifact["properties"]
            yield from _stacks(directory / properties["directoryName"], properties["displayName"])
        elif artifact["type"] == STACK:
            yield _stack(directory, artifact_id, artifact, stage)


def _stack(
    directory: Path, artifact_id: str, artifact: Mapping[str, Any], stage: str | None
) -> dict[str, Any]:
    properties = artifact["properties"]
    path = artifact["displayName"]
    template = json.loads((directory / properties["templateFile"]).read_text())
    unknown = set(template) - {*SYNTHESIZED_SECTIONS, *REPLAYED_SECTIONS}
    if unknown:
        raise ReplayError(f"{path}: template sections the replay does not re-create: {sorted(unknown)}")
    metadata = dict(artifact.get("metadata", {}))
    if "additionalMetadataFile" in artifact:
        metadata.update(json.loads((directory / artifact["additionalMetadataFile"]).read_text()))
    prefix = f"/{path}/"
    elements: dict[str, str] = {}
    acknowledgments: list[list[Any]] = []
    for construct_path, entries in metadata.items():
        if construct_path != f"/{path}" and not construct_path.startswith(prefix):
            raise ReplayError(f"{path}: metadata of {construct_path}, outside the stack")
        below = construct_path[len(prefix) :] if construct_path.startswith(prefix) else ""
        for entry in entries:
            if entry["type"] == LOGICAL_ID:
                elements[entry["data"]] = below
            elif entry["type"] == ACKNOWLEDGED:  # one entry per acknowledge() call
                acknowledgments.append([below, [[rule, reason] for rule, reason in entry["data"].items()]])
    account, region = _environment(artifact["environment"])
    return {
        "assembly": str(directory),
        "artifact": artifact_id,
        "artifact_dependencies": list(artifact.get("dependencies", [])),
        "stage": stage,
        "path": path,
        "id": path.rsplit("/", 1)[-1] if stage is None else path[len(stage) + 1 :],
        "account": account,
        "region": region,
        "stack_name": properties["stackName"],
        "termination_protection": properties.get("terminationProtection", False),
        "tags": properties.get("tags", {}),
        # A stack without the bootstrap version check is synthesized without a bootstrap (CodePipeline's
        # cross-Region support stacks): the same synthesizer, naming the same roles.
        "bootstrapless": "Rules" not in template,
        "qualifier": _qualifier(template),
        "deploy_role_arn": properties.get("assumeRoleArn"),
        "cloudformation_execution_role_arn": properties.get("cloudFormationExecutionRoleArn"),
        "template": template,
        "elements": _element_paths(path, template, elements),
        "acknowledgments": acknowledgments,
    }


def _qualifier(template: Mapping[str, Any]) -> str | None:
    """The bootstrap qualifier a stack's synthesizer was given, when it is not CDK's default."""
    default = template.get("Parameters", {}).get("BootstrapVersion", {}).get("Default", "")
    match = _BOOTSTRAP_VERSION.match(default)
    return match.group(1) if match and match.group(1) != DEFAULT_QUALIFIER else None


def _environment(environment: str) -> tuple[str | None, str | None]:
    match = _ENVIRONMENT.match(environment)
    if match is None:
        raise ReplayError(f"unexpected stack environment {environment!r}")
    account, region = match.groups()
    return (None if account == UNKNOWN_ACCOUNT else account, None if region == UNKNOWN_REGION else region)


def _element_paths(stack: str, template: Mapping[str, Any], paths: Mapping[str, str]) -> dict[str, str]:
    """The path below the stack of every element the replay creates, by logical id."""
    found = {}
    for section in ("Conditions", "Resources", "Outputs"):
        for logical_id in template.get(section, {}):
            if logical_id not in paths:
                raise ReplayError(f"{stack}: no construct path for {section} {logical_id}")
            found[logical_id] = paths[logical_id]
    return found
