"""The replay app: re-creates exactly the templates of a replay spec (``benchmarks.replay.spec``), every
resource a plain ``CfnResource``; ``benchmarks.synth_replay``'s floor.

python -P replay_app.py SPEC.json   (as a CDK app: cdk.json's ``app``, run by the CDK CLI; -P keeps this
                                    file's folder, with modules named like others, off the import path)

The construct tree keeps the project's paths (a plain ``Construct`` for each construct that is not an
element), so the path metadata, the logical ids CDK allocates and the cdk-nag acknowledgments land where the
project's do; a logical id the project overrode is overridden here too. The stacks keep their names,
environments, tags, termination protection, synthesizer and dependencies; the app registers the same rule
packs (a stack bootstrapped with its own qualifier gets a synthesizer with it). CDK's own
``AWS::CDK::Metadata`` resource is replayed from the template, so version reporting is off.

Run as a file by the CLI, so it imports nothing of the project but the packs it is told to register.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import (
    Acknowledgment,
    App,
    BootstraplessSynthesizer,
    CfnCondition,
    CfnOutput,
    CfnResource,
    DefaultStackSynthesizer,
    Environment,
    Fn,
    ICfnConditionExpression,
    Stack,
    Stage,
    Token,
    Validations,
)
from constructs import Construct

PATH_METADATA = "aws:cdk:path"
# Resource attributes other than Type, Properties and Metadata, written as they are.
RESOURCE_ATTRIBUTES = (
    "Condition",
    "DependsOn",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "UpdatePolicy",
    "CreationPolicy",
)
# CDK's logical ids (aws-cdk-lib core/lib/private/uniqueid.ts, makeUniqueId): the element's path below its
# stack, "Default" left out, the path itself when it is one component, else the components (consecutive
# repeats and "Resource" left out) followed by an 8-character hash of the path.
_HIDDEN_ID = "Default"
_HIDDEN_FROM_HUMAN_ID = "Resource"
_MAX_HUMAN_LEN = 240
_MAX_ID_LEN = 255
_NON_ALPHANUMERIC = re.compile(r"[^A-Za-z0-9]")
_CONDITION_FUNCTIONS: dict[str, Callable[..., ICfnConditionExpression]] = {
    "Fn::And": Fn.condition_and,
    "Fn::Or": Fn.condition_or,
}


def allocated_logical_id(path_below_stack: Sequence[str]) -> str:
    """The logical id CDK gives an element at ``path_below_stack`` unless it is overridden."""
    components = [component for component in path_below_stack if component != _HIDDEN_ID]
    if not components:
        raise ValueError(f"no logical id for the path {'/'.join(path_below_stack)!r}")
    if len(components) == 1:
        candidate = _NON_ALPHANUMERIC.sub("", components[0])
        if len(candidate) <= _MAX_ID_LEN:
            return candidate
    digest = hashlib.md5("/".join(components).encode(), usedforsecurity=False).hexdigest()[:8].upper()
    human: list[str] = []
    for component in components:
        if not human or not human[-1].endswith(component):
            human.append(component)
    readable = "".join(
        _NON_ALPHANUMERIC.sub("", component) for component in human if component != _HIDDEN_FROM_HUMAN_ID
    )
    return readable[:_MAX_HUMAN_LEN] + digest


class _StackReplay:
    """One stack's construct tree, built along the elements' paths: an element whose path is also another's
    parent is made before it (an element made on demand), any other construct on the way a plain one."""

    def __init__(self, stack: Stack, description: Mapping[str, Any]) -> None:
        self.stack = stack
        self.description = description
        self.constructs: dict[str, Construct] = {"": stack}
        template = description["template"]
        self.elements: dict[str, tuple[str, str, Mapping[str, Any]]] = {
            description["elements"][logical_id]: (section, logical_id, body)
            for section in ("Conditions", "Resources", "Outputs")
            for logical_id, body in template.get(section, {}).items()
        }
        self.paths = {logical_id: path for path, (_, logical_id, _) in self.elements.items()}

    def replay(self) -> None:
        for path in self.elements:
            self.scope(path)
        for path, rules in self.description["acknowledgments"]:
            Validations.of(self.scope(path)).acknowledge(
                *(Acknowledgment(id=rule, reason=reason) for rule, reason in rules)
            )

    def scope(self, path: str) -> Construct:
        """The construct at ``path`` below the stack, made (with its parents) if new."""
        found = self.constructs.get(path)
        if found is None:
            parent_path, _, name = path.rpartition("/")
            parent = self.scope(parent_path)
            if path in self.elements:
                found = self._element(parent, name, *self.elements[path])
            else:
                found = Construct(parent, name)
            self.constructs[path] = found
        return found

    def _element(self, parent: Construct, name: str, section: str, logical_id: str, body: Any) -> Construct:
        if section == "Conditions":
            element: CfnCondition | CfnResource | CfnOutput = CfnCondition(
                parent, name, expression=self._condition_expression(body)
            )
        elif section == "Resources":
            element = self._resource(parent, name, body)
        else:
            element = self._output(parent, name, body)
        if allocated_logical_id(self.paths[logical_id].split("/")) != logical_id:
            element.override_logical_id(logical_id)
        return element

    def _condition(self, logical_id: str) -> CfnCondition:
        return typing.cast(CfnCondition, self.scope(self.paths[logical_id]))

    def _condition_expression(self, expression: Any) -> ICfnConditionExpression:
        (function, arguments), *rest = expression.items()
        if rest:
            raise ValueError(f"{self.stack.node.path}: a condition of more than one function: {expression}")
        if function == "Condition":
            return self._condition(arguments)
        if function in _CONDITION_FUNCTIONS:
            return _CONDITION_FUNCTIONS[function](*map(self._condition_expression, arguments))
        if function == "Fn::Not":
            return Fn.condition_not(self._condition_expression(arguments[0]))
        if function == "Fn::Equals":
            return Fn.condition_equals(*arguments)
        raise ValueError(f"{self.stack.node.path}: condition function {function} is not replayed")

    @staticmethod
    def _resource(parent: Construct, name: str, resource: Mapping[str, Any]) -> CfnResource:
        element = CfnResource(parent, name, type=resource["Type"], properties=resource.get("Properties"))
        for key, value in resource.get("Metadata", {}).items():
            if key != PATH_METADATA:  # CDK writes the element's path, the project's by construction
                element.add_metadata(key, value)
        for attribute in RESOURCE_ATTRIBUTES:
            if attribute in resource:
                element.add_override(attribute, resource[attribute])
        return element

    def _output(self, parent: Construct, name: str, output: Mapping[str, Any]) -> CfnOutput:
        export = output.get("Export", {}).get("Name")
        return CfnOutput(
            parent,
            name,
            value=_string(output["Value"]),
            description=output.get("Description"),
            export_name=None if export is None else _string(export),
            condition=self._condition(output["Condition"]) if "Condition" in output else None,
        )


def _string(value: Any) -> str:
    """A string, or a token standing for an intrinsic function (resolved to it as it is)."""
    return value if isinstance(value, str) else Token.as_string(value)


def build(replay: Mapping[str, Any], app: App) -> App:
    """The replay of ``replay`` (a spec) in ``app``, the packs registered."""
    for module, name in replay["packs"]:
        Validations.of(app).add_plugins(getattr(importlib.import_module(module), name)(app))
    stages: dict[str, Construct] = {}

    def stage(path: str | None) -> Construct:
        if path is None:
            return app
        if path not in stages:
            parent, _, name = path.rpartition("/")
            stages[path] = Stage(stage(parent or None), name)
        return stages[path]

    stacks: dict[str, Stack] = {}
    replays = []
    for description in replay["stacks"]:
        synthesizer: BootstraplessSynthesizer | DefaultStackSynthesizer | None = None
        if description["bootstrapless"]:
            synthesizer = BootstraplessSynthesizer(
                deploy_role_arn=description["deploy_role_arn"],
                cloud_formation_execution_role_arn=description["cloudformation_execution_role_arn"],
            )
        elif description["qualifier"] is not None:
            synthesizer = DefaultStackSynthesizer(qualifier=description["qualifier"])
        stack = Stack(
            stage(description["stage"]),
            description["id"],
            stack_name=description["stack_name"],
            env=Environment(account=description["account"], region=description["region"]),
            description=description["template"].get("Description"),
            termination_protection=description["termination_protection"],
            tags=description["tags"] or None,
            synthesizer=synthesizer,
            analytics_reporting=False,
        )
        stacks[description["path"]] = stack
        replays.append(_StackReplay(stack, description))
    for stack_replay in replays:
        stack_replay.replay()
        for dependency in stack_replay.description["dependencies"]:
            stack_replay.stack.add_stack_dependency(stacks[dependency])
    return app


def main(argv: list[str]) -> int:
    (spec_file,) = argv
    build(json.loads(Path(spec_file).read_text()), App()).synth()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
