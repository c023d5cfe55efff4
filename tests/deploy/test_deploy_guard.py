"""The deploy guard (tools/deploy_guard.py) on stand-in templates and change sets, CloudFormation answered by
botocore's Stubber: it refuses a pinned key or alias replaced or deleted, by the identities or by the change
set, names which and why, and lets everything else pass. `make deploy-local` runs it against a deployed stage.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoCredentialsError
from botocore.stub import ANY, Stubber

from tests.cloud_assembly import write_stage_pointer
from tools import deploy_guard
from tools.deploy_guard import (
    Refusal,
    created_change_set,
    guard_change_set,
    guard_environment,
    main,
    refusals,
)

STACK = "kmsecdh-dev-key-agreement"
KEY, ALIAS, LOGS = "P256KeyF60D39F8", "P256Alias12F45F04", "DeriveLogGroupKey"

DEPLOYED: dict[str, Any] = {
    "Resources": {
        KEY: {
            "Type": "AWS::KMS::Key",
            "Properties": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "KEY_AGREEMENT"},
        },
        ALIAS: {
            "Type": "AWS::KMS::Alias",
            "Properties": {
                "AliasName": "alias/kmsecdh-dev-p256",
                "TargetKeyId": {"Fn::GetAtt": [KEY, "Arn"]},
            },
        },
        LOGS: {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
    }
}


def changed(**resources: dict[str, Any] | None) -> dict[str, Any]:
    """DEPLOYED with ``resources`` replaced (None removes one)."""
    template = copy.deepcopy(DEPLOYED)
    for logical_id, resource in resources.items():
        if resource is None:
            del template["Resources"][logical_id]
        else:
            template["Resources"][logical_id] = resource
    return template


def modify(logical_id: str, replacement: str, *causes: str) -> dict[str, Any]:
    return {
        "Type": "Resource",
        "ResourceChange": {
            "Action": "Modify",
            "LogicalResourceId": logical_id,
            "Replacement": replacement,
            "Details": [{"Target": {"Name": cause, "RequiresRecreation": "Always"}} for cause in causes],
        },
    }


def remove(logical_id: str) -> dict[str, Any]:
    return {"Type": "Resource", "ResourceChange": {"Action": "Remove", "LogicalResourceId": logical_id}}


def test_a_key_made_multi_region_in_place_is_refused_from_the_templates_alone() -> None:
    """The local endpoint's change set says Replacement False for this: the identities still see it."""
    multi_region = copy.deepcopy(DEPLOYED["Resources"][KEY])
    multi_region["Properties"]["MultiRegion"] = True
    [refusal] = refusals(STACK, DEPLOYED, changed(**{KEY: multi_region}), [modify(KEY, "False")])
    assert str(refusal) == (
        f"{STACK}: AWS::KMS::Key ECC_NIST_P256 KEY_AGREEMENT {KEY} would be replaced: MultiRegion false -> "
        "true, which a KMS key or alias never changes in place"
    )


def test_a_deleted_key_and_its_alias_are_refused_with_the_change_sets_word_too() -> None:
    found = refusals(STACK, DEPLOYED, changed(**{KEY: None, ALIAS: None}), [remove(KEY), remove(ALIAS)])
    assert [(refusal.logical_id, refusal.reasons) for refusal in found] == [
        (
            ALIAS,
            ("would be deleted: the new template no longer has it", "CloudFormation's change set removes it"),
        ),
        (
            KEY,
            ("would be deleted: the new template no longer has it", "CloudFormation's change set removes it"),
        ),
    ]


@pytest.mark.parametrize("replacement", ["True", "Conditional"])
def test_a_replacement_only_cloudformation_sees_is_refused_with_its_cause(replacement: str) -> None:
    [refusal] = refusals(STACK, DEPLOYED, DEPLOYED, [modify(ALIAS, replacement, "AliasName")])
    assert refusal.reasons == (
        f"CloudFormation's change set replaces it (Replacement {replacement}) (AliasName)",
    )


def test_what_keeps_every_pinned_resource_passes() -> None:
    """An alias moved to a new generation, a new key, a symmetric key replaced: nothing pinned is lost."""
    new_key = copy.deepcopy(DEPLOYED["Resources"][KEY])
    moved_alias = copy.deepcopy(DEPLOYED["Resources"][ALIAS])
    moved_alias["Properties"]["TargetKeyId"] = {"Fn::GetAtt": ["P256202701Key", "Arn"]}
    new = changed(**{"P256202701Key": new_key, ALIAS: moved_alias, LOGS: None})
    changes = [modify(ALIAS, "False"), remove(LOGS), modify(KEY, "False")]
    assert refusals(STACK, DEPLOYED, new, changes) == []


def test_a_key_made_symmetric_is_a_replacement_and_its_alias_stays() -> None:
    [refusal] = refusals(STACK, DEPLOYED, changed(**{KEY: DEPLOYED["Resources"][LOGS]}))
    assert refusal.logical_id == KEY
    assert refusal.reasons[0].startswith('would be replaced: KeySpec "ECC_NIST_P256" -> "SYMMETRIC_DEFAULT"')


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch) -> Any:
    client = boto3.client(
        "cloudformation", region_name="eu-west-1", aws_access_key_id="test", aws_secret_access_key="test"
    )
    monkeypatch.setattr(deploy_guard.time, "sleep", lambda seconds: None)
    return client


def stack_exists(
    stubber: Stubber, status: str = "UPDATE_COMPLETE", template: dict[str, Any] = DEPLOYED
) -> None:
    stubber.add_response(
        "describe_stacks",
        {"Stacks": [{"StackName": STACK, "StackStatus": status, "CreationTime": "2026-01-01T00:00:00Z"}]},
        {"StackName": STACK},
    )
    if status != "REVIEW_IN_PROGRESS":
        stubber.add_response(
            "get_template",
            {"TemplateBody": json.dumps(template)},
            {"StackName": STACK, "TemplateStage": "Original"},
        )


def test_a_change_set_is_created_read_and_deleted(cloudformation: Any) -> None:
    new = changed(**{KEY: None})
    with Stubber(cloudformation) as stubber:
        stubber.add_response(
            "create_change_set",
            {"Id": "arn:changeset"},
            {
                "StackName": STACK,
                "ChangeSetName": ANY,
                "ChangeSetType": "UPDATE",
                "TemplateBody": json.dumps(new, separators=(",", ":")),
                "Capabilities": ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
                "Description": ANY,
            },
        )
        stubber.add_response("describe_change_set", {"Status": "CREATE_IN_PROGRESS"})
        stubber.add_response("describe_change_set", {"Status": "CREATE_COMPLETE"})
        stubber.add_response("describe_change_set", {"Changes": [remove(ALIAS)], "NextToken": "page-2"})
        stubber.add_response("describe_change_set", {"Changes": [remove(KEY)]})
        stubber.add_response("delete_change_set", {}, {"StackName": STACK, "ChangeSetName": ANY})
        assert created_change_set(cloudformation, STACK, new) == [remove(ALIAS), remove(KEY)]
        stubber.assert_no_pending_responses()


def test_a_change_set_without_changes_is_no_change_and_is_deleted(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_response("create_change_set", {"Id": "arn:changeset"})
        stubber.add_response(
            "describe_change_set",
            {"Status": "FAILED", "StatusReason": "The submitted information didn't contain changes."},
        )
        stubber.add_response("delete_change_set", {})
        assert created_change_set(cloudformation, STACK, DEPLOYED) == []
        stubber.assert_no_pending_responses()


def test_a_failed_change_set_is_an_error_and_is_deleted(cloudformation: Any) -> None:
    with Stubber(cloudformation) as stubber:
        stubber.add_response("create_change_set", {"Id": "arn:changeset"})
        stubber.add_response("describe_change_set", {"Status": "FAILED", "StatusReason": "Template error"})
        stubber.add_response("delete_change_set", {})
        with pytest.raises(
            RuntimeError, match=f"^{STACK}: change set kmsecdh-deploy-guard-.* failed: Template error"
        ):
            created_change_set(cloudformation, STACK, DEPLOYED)
        stubber.assert_no_pending_responses()


def test_an_existing_change_set_is_read_with_its_template(
    cloudformation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline's way: CDK Pipelines' PipelineChange, read only."""
    monkeypatch.setattr(deploy_guard.boto3, "client", lambda service, region_name: cloudformation)
    with Stubber(cloudformation) as stubber:
        stack_exists(stubber)
        stubber.add_response(
            "get_template",
            {"TemplateBody": json.dumps(changed(**{ALIAS: None}))},
            {"StackName": STACK, "ChangeSetName": "PipelineChange", "TemplateStage": "Original"},
        )
        stubber.add_response("describe_change_set", {"Changes": [remove(ALIAS)]})
        found, notes = guard_change_set(STACK, "PipelineChange", "eu-west-1")
    assert [refusal.logical_id for refusal in found] == [ALIAS]
    assert notes == [f"{STACK}: change set PipelineChange read"]


def write_assembly(directory: Path, templates: dict[str, dict[str, Any]]) -> Path:
    """A cloud assembly with one stage, dev, of environment-agnostic stacks named as ``templates`` says."""
    stage = write_stage_pointer(directory, "dev")
    artifacts = {}
    for name, template in templates.items():
        (stage / f"{name}.template.json").write_text(json.dumps(template))
        artifacts[name] = {
            "type": "aws:cloudformation:stack",
            "environment": "aws://unknown-account/unknown-region",
            "displayName": f"dev/{name}",
            "properties": {"templateFile": f"{name}.template.json", "stackName": name},
        }
    (stage / "manifest.json").write_text(json.dumps({"artifacts": artifacts}))
    return directory


def test_an_environment_is_guarded_stack_by_stack(
    tmp_path: Path, cloudformation: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not deployed, nothing pinned, too large for a change set, refused: each said as such."""
    large = changed(**{KEY: None})
    large["Description"] = "x" * deploy_guard.TEMPLATE_BODY_LIMIT
    app = write_assembly(tmp_path, {"new-stack": DEPLOYED, "logs-stack": DEPLOYED, STACK: large})
    monkeypatch.setattr(deploy_guard, "_client", lambda plan: cloudformation)
    with Stubber(cloudformation) as stubber:
        stubber.add_client_error("describe_stacks", service_message="Stack with id new-stack does not exist")
        stubber.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "logs-stack",
                        "StackStatus": "CREATE_COMPLETE",
                        "CreationTime": "2026-01-01T00:00:00Z",
                    }
                ]
            },
        )
        stubber.add_response(
            "get_template", {"TemplateBody": json.dumps(changed(**{KEY: None, ALIAS: None}))}
        )
        stack_exists(stubber)
        found, notes = guard_environment("dev", app)
        stubber.assert_no_pending_responses()
    assert notes[:2] == [
        "new-stack: not deployed yet, nothing to lose",
        "logs-stack: holds no pinned key or alias",
    ]
    assert notes[2].startswith(f"{STACK}: templates compared; no change set (the template is ")
    assert f"--stack-name {STACK} --change-set-name kmsecdh-deploy-guard" in notes[2]
    assert found == [
        Refusal(STACK, KEY, found[0].identity, ("would be deleted: the new template no longer has it",))
    ]


def test_main_exits_1_and_names_every_refusal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = refusals(STACK, DEPLOYED, changed(**{ALIAS: None}))
    monkeypatch.setattr(deploy_guard, "guard_environment", lambda environment, app: (refusal, ["note"]))
    assert main(["--environment", "dev"]) == 1
    output = capsys.readouterr().out
    assert f"REFUSED  {refusal[0]}" in output
    assert "A key that should change is a new key: a new generation in key_generations" in output
    monkeypatch.setattr(deploy_guard, "guard_environment", lambda environment, app: ([], ["note"]))
    assert main(["--environment", "dev"]) == 0
    assert "every pinned key and alias stays as deployed" in capsys.readouterr().out


def test_main_exits_2_when_it_cannot_tell(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_credentials(environment: str, app: Path) -> None:
        raise NoCredentialsError()

    monkeypatch.setattr(deploy_guard, "guard_environment", no_credentials)
    assert main(["--environment", "dev"]) == 2
    assert capsys.readouterr().err == "deploy guard: Unable to locate credentials\n"
