"""The replay app, synth_replay's floor: it re-creates the project's templates exactly, from the cloud
assembly alone; and the pieces it is made of (the assembly's reading, CDK's logical ids, the comparison)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import replay, synth_replay
from benchmarks.replay_app import allocated_logical_id, build
from tests.cloud_assembly import write_stage_pointer


class TestLogicalIds:
    """CDK's own logical ids, as the project's templates show them."""

    @pytest.mark.parametrize(
        ("path", "logical_id"),
        [
            ("KeyUsageAudit/TrailKey/Resource", "KeyUsageAuditTrailKeyF9D63BFE"),
            ("KeyUsageAudit/AccessLogBucket/Policy/Resource", "KeyUsageAuditAccessLogBucketPolicy8729389D"),
            ("CDKMetadata/Default", "CDKMetadata"),
            ("DeriveFunctionName", "DeriveFunctionName"),
        ],
    )
    def test_as_cdk_allocates_them(self, path: str, logical_id: str) -> None:
        assert allocated_logical_id(path.split("/")) == logical_id

    def test_repeated_components_are_named_once(self) -> None:
        # "Key" ends "TrailKey": removeDupes drops it from the readable part, not from the hash.
        assert allocated_logical_id(["TrailKey", "Key"]).startswith("TrailKey")
        assert allocated_logical_id(["TrailKey", "Key"]) != allocated_logical_id(["TrailKey"])

    def test_no_id_for_default_alone(self) -> None:
        with pytest.raises(ValueError, match="no logical id"):
            allocated_logical_id(["Default"])


def _assembly(directory: Path, template: dict[str, Any], metadata: dict[str, Any]) -> Path:
    stage = write_stage_pointer(directory, "dev")
    (stage / "devStack.template.json").write_text(json.dumps(template))
    (stage / "devStack.metadata.json").write_text(json.dumps(metadata))
    other = {
        "Parameters": {"BootstrapVersion": {"Default": "/cdk-bootstrap/kmsecdh/version"}},
        "Rules": {"CheckBootstrapVersion": {}},
    }
    (stage / "devOther.template.json").write_text(json.dumps(other))
    (stage / "manifest.json").write_text(
        json.dumps(
            {
                "artifacts": {
                    "devStack": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://unknown-account/eu-west-1",
                        "displayName": "dev/Stack",
                        "dependencies": ["devOther", "devStack.assets"],
                        "additionalMetadataFile": "devStack.metadata.json",
                        "properties": {
                            "templateFile": "devStack.template.json",
                            "stackName": "kmsecdh-dev",
                            "terminationProtection": True,
                            "tags": {"project": "kmsecdh"},
                        },
                    },
                    "devOther": {
                        "type": "aws:cloudformation:stack",
                        "environment": "aws://111111111111/eu-west-1",
                        "displayName": "dev/Other",
                        "properties": {
                            "templateFile": "devOther.template.json",
                            "stackName": "other",
                            "assumeRoleArn": "arn:aws:iam::111111111111:role/deploy",
                        },
                    },
                }
            }
        )
    )
    return directory


TEMPLATE = {
    "Description": "a stack",
    "Resources": {"KeyF9D63BFE": {"Type": "AWS::KMS::Key", "Properties": {}}},
    "Outputs": {"KeyArn": {"Value": {"Fn::GetAtt": ["KeyF9D63BFE", "Arn"]}}},
}
METADATA = {
    "/dev/Stack": [{"type": "aws:cdk:stack-tags", "data": []}],
    "/dev/Stack/Key": [{"type": "aws:cdk:acknowledged-rules", "data": {"Pack::Rule": "why"}}],
    "/dev/Stack/Key/Resource": [{"type": "aws:cdk:logicalId", "data": "KeyF9D63BFE"}],
    "/dev/Stack/KeyArn": [{"type": "aws:cdk:logicalId", "data": "KeyArn"}],
}


class TestSpec:
    def test_reads_stacks_elements_and_acknowledgments(self, tmp_path: Path) -> None:
        spec = replay.spec(_assembly(tmp_path, TEMPLATE, METADATA), [("cdk_nag", "AwsSolutionsChecks")])
        assert spec["packs"] == [["cdk_nag", "AwsSolutionsChecks"]]
        assert spec["stages"] == ["dev"]
        stack, other = spec["stacks"]
        assert (stack["stage"], stack["id"], stack["path"]) == ("dev", "Stack", "dev/Stack")
        assert (stack["account"], stack["region"]) == (None, "eu-west-1")
        assert (stack["stack_name"], stack["termination_protection"]) == ("kmsecdh-dev", True)
        assert stack["tags"] == {"project": "kmsecdh"}
        assert stack["elements"] == {"KeyF9D63BFE": "Key/Resource", "KeyArn": "KeyArn"}
        assert stack["acknowledgments"] == [["Key", [["Pack::Rule", "why"]]]]
        assert stack["dependencies"] == ["dev/Other"]  # the asset manifest is not a stack
        assert stack["template"] == TEMPLATE
        assert stack["bootstrapless"] is True  # no bootstrap version rule in this template
        assert (other["account"], other["bootstrapless"]) == ("111111111111", False)
        assert (stack["qualifier"], other["qualifier"]) == (None, "kmsecdh")
        assert other["deploy_role_arn"] == "arn:aws:iam::111111111111:role/deploy"

    def test_refuses_a_section_it_does_not_replay(self, tmp_path: Path) -> None:
        assembly = _assembly(tmp_path, {**TEMPLATE, "Mappings": {}}, METADATA)
        with pytest.raises(replay.ReplayError, match=r"dev/Stack: .*\['Mappings'\]"):
            replay.spec(assembly, [])

    def test_refuses_an_element_without_a_path(self, tmp_path: Path) -> None:
        metadata = {key: value for key, value in METADATA.items() if key != "/dev/Stack/KeyArn"}
        with pytest.raises(replay.ReplayError, match="no construct path for Outputs KeyArn"):
            replay.spec(_assembly(tmp_path, TEMPLATE, metadata), [])


def test_differences_name_templates_and_elements() -> None:
    project = {"a.json": {"Resources": {"X": {"Type": "T"}, "Y": {"Type": "T"}}}, "b.json": {}}
    replayed = {
        "a.json": {"Resources": {"X": {"Type": "T"}, "Y": {"Type": "U"}}, "Outputs": {}},
        "c.json": {},
    }
    assert synth_replay.differences(project, replayed) == [
        "b.json: only in the project's",
        "c.json: only in the replay's",
        "a.json: Outputs",
        "a.json: Resources.Y",
    ]
    assert synth_replay.differences(project, project) == []


def test_the_replay_re_creates_the_projects_templates(synthesized_app: Any, tmp_path: Path) -> None:
    """The floor is honest: from the project's assembly alone, plain CfnResources make the same templates
    (every element, logical id, output, condition and metadata), clean under the same packs."""
    from aws_cdk import App

    spec = json.loads(json.dumps(replay.spec(synthesized_app.outdir, synth_replay.nag_packs())))
    build(spec, App(outdir=str(tmp_path), context=synthesized_app.context)).synth()
    project = synth_replay.read_templates(synthesized_app.outdir)
    assert len(project) == len(synthesized_app.every_template())
    assert synth_replay.differences(project, synth_replay.read_templates(tmp_path)) == []
