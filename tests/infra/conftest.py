"""The whole CDK app of cdk.json, synthesized with every cdk-nag pack: ``synthesize_app``.

The session fixture ``synthesized_app`` (tests/conftest.py) calls it once per test session and hands out
every environment's stacks as ``aws_cdk.assertions.Template`` and raw JSON, the cdk.out path, the
validation report and every acknowledgment recorded in the cloud assembly: the infrastructure tests read
it, and the demo test walks through its ``cdk.out``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aws_cdk.assertions import Template

from devtools import PROJECT_ROOT
from stacks.application import create_app
from stacks.config import CONTEXT_KEY, EnvironmentConfig, parse_environments
from tools.synth import REPORT_NAME

CDK_JSON = PROJECT_ROOT / "cdk.json"
ACKNOWLEDGED_RULES = "aws:cdk:acknowledged-rules"


@dataclass(frozen=True)
class Acknowledgment:
    path: str
    rule_id: str
    reason: str


@dataclass
class SynthesizedStack:
    stack_id: str  # "KeyAgreement" or "Audit"
    artifact_id: str
    template_path: Path
    raw: dict[str, Any]
    termination_protection: bool
    tags: dict[str, str]
    _template: Template | None = field(default=None, repr=False)

    @property
    def template(self) -> Template:
        if self._template is None:
            self._template = Template.from_json(self.raw, skip_cyclical_dependencies_check=True)
        return self._template

    def resources(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.raw.get("Resources", {}).items()
            if resource["Type"] == resource_type
        }


@dataclass
class SynthesizedApp:
    outdir: Path
    context: dict[str, Any]
    environments: dict[str, EnvironmentConfig]
    stacks: dict[str, dict[str, SynthesizedStack]]  # environment -> stack id -> stack
    root_stacks: dict[
        str, SynthesizedStack
    ]  # the stacks outside the stages: the pipeline, its support stacks
    report: dict[str, Any]
    acknowledgments: list[Acknowledgment]
    synth_error: str | None  # what app.synth() raised (ValidationFailed), if anything

    def templates(self, environment: str) -> dict[str, Template]:
        return {stack_id: stack.template for stack_id, stack in self.stacks[environment].items()}

    def all_stacks(self) -> Iterator[tuple[str, SynthesizedStack]]:
        """Every stack of every environment, as (environment, stack)."""
        for environment, stacks in self.stacks.items():
            for stack in stacks.values():
                yield environment, stack

    def every_template(self) -> list[Path]:
        """The environments' templates and those at the assembly's root (the pipeline, its support stacks)."""
        return sorted(
            [stack.template_path for _, stack in self.all_stacks()]
            + [stack.template_path for stack in self.root_stacks.values()]
        )


def load_context() -> dict[str, Any]:
    return json.loads(CDK_JSON.read_text())["context"]


def _read_stacks(assembly_dir: Path) -> dict[str, SynthesizedStack]:
    manifest = json.loads((assembly_dir / "manifest.json").read_text())
    stacks = {}
    for artifact_id, artifact in manifest["artifacts"].items():
        if artifact["type"] != "aws:cloudformation:stack":
            continue
        properties = artifact["properties"]
        template_path = assembly_dir / properties["templateFile"]
        stack_id = artifact["displayName"].split("/", 1)[-1]
        stacks[stack_id] = SynthesizedStack(
            stack_id=stack_id,
            artifact_id=artifact_id,
            template_path=template_path,
            raw=json.loads(template_path.read_text()),
            termination_protection=properties.get("terminationProtection", False),
            tags=properties.get("tags", {}),
        )
    return stacks


def _read_acknowledgments(outdir: Path) -> list[Acknowledgment]:
    acknowledgments = []
    for metadata_file in sorted(outdir.glob("assembly-*/*.metadata.json")) + sorted(
        outdir.glob("*.metadata.json")
    ):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == ACKNOWLEDGED_RULES:
                    acknowledgments.extend(
                        Acknowledgment(path=path, rule_id=rule_id, reason=reason)
                        for rule_id, reason in entry["data"].items()
                    )
    return acknowledgments


def synthesize_app(outdir: Path) -> SynthesizedApp:
    """Synthesize the app of cdk.json into ``outdir`` (in this process) and read what it wrote."""
    context = load_context()
    synth_error = None
    try:
        create_app(outdir=str(outdir), context=context).synth()
    except RuntimeError as error:  # jsii raises ValidationFailed as RuntimeError; the report says why
        synth_error = str(error)
    environments = parse_environments(context[CONTEXT_KEY])
    return SynthesizedApp(
        outdir=outdir,
        context=context,
        environments=environments,
        stacks={name: _read_stacks(outdir / f"assembly-{name}") for name in environments},
        root_stacks=_read_stacks(outdir),
        report=json.loads((outdir / REPORT_NAME).read_text()),
        acknowledgments=_read_acknowledgments(outdir),
        synth_error=synth_error,
    )
