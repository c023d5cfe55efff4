"""The Directory stack of every environment with ``directory_publisher_arns``: the signing key and its exact
key policy, the bucket and its policy, the parameter and the outputs ``kmsecdh directory`` reads."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest

from kmsecdh_cdk import PublicKeyDirectory
from tests.infra.conftest import SynthesizedApp, SynthesizedStack, load_context
from tests.infra.test_key_agreement_stack import KEY_ADMINISTRATION_ACTIONS, canonical, execution_role

WITH_DIRECTORY = [
    name for name, entry in load_context()["environments"].items() if entry.get("directory_publisher_arns")
]
WITHOUT_DIRECTORY = [name for name in load_context()["environments"] if name not in WITH_DIRECTORY]
OBJECT = "directory.jws"


def directory_stack(synthesized_app: SynthesizedApp, environment: str) -> SynthesizedStack:
    return synthesized_app.stacks[environment]["Directory"]


def only(stack: SynthesizedStack, resource_type: str) -> tuple[str, dict[str, Any]]:
    [(logical_id, resource)] = stack.resources(resource_type).items()
    return logical_id, resource


def test_the_examples_publish_a_directory_where_expected() -> None:
    assert WITH_DIRECTORY == ["dev", "prod"]


@pytest.mark.parametrize("environment", WITHOUT_DIRECTORY)
def test_no_directory_stack_without_publishers(synthesized_app: SynthesizedApp, environment: str) -> None:
    assert "Directory" not in synthesized_app.stacks[environment]


@pytest.mark.parametrize("environment", WITH_DIRECTORY)
def test_the_signing_key_policy_exactly(synthesized_app: SynthesizedApp, environment: str) -> None:
    config = synthesized_app.environments[environment]
    _, key = only(directory_stack(synthesized_app, environment), "AWS::KMS::Key")
    properties = key["Properties"]
    assert (properties["KeySpec"], properties["KeyUsage"]) == ("ECC_NIST_P384", "SIGN_VERIFY")
    assert properties["EnableKeyRotation"] is False
    assert key["DeletionPolicy"] == ("Delete" if config.removal_policy == "destroy" else "Retain")
    statements = {statement["Sid"]: statement for statement in properties["KeyPolicy"]["Statement"]}
    assert sorted(statements) == sorted(
        [
            "KeyAdministration",
            "DenyPolicyLockoutBypass",
            "DenyShortDeletionWindow",
            "AllowDirectorySign",
            "DenySignToOthers",
            "AllowSignatureVerification",
        ]
    )
    administration = statements["KeyAdministration"]
    assert canonical(administration["Principal"]["AWS"]) == canonical(
        [*config.admin_arns, execution_role(config)]
    )
    assert sorted(administration["Action"]) == KEY_ADMINISTRATION_ACTIONS
    publishers = list(config.directory_publisher_arns)
    assert statements["AllowDirectorySign"] == {
        "Sid": "AllowDirectorySign",
        "Effect": "Allow",
        "Principal": {"AWS": publishers[0] if len(publishers) == 1 else publishers},
        "Action": "kms:Sign",
        "Resource": "*",
        "Condition": {"StringEquals": {"kms:SigningAlgorithm": "ECDSA_SHA_384"}},
    }
    deny = statements["DenySignToOthers"]
    assert (deny["Effect"], deny["Principal"], deny["Action"]) == ("Deny", {"AWS": "*"}, "kms:Sign")
    assert canonical(deny["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]) == canonical(publishers)
    verify = statements["AllowSignatureVerification"]
    assert canonical(verify["Principal"]["AWS"]) == canonical(
        list(dict.fromkeys([*publishers, *config.public_key_reader_arns]))
    )
    assert sorted(verify["Action"]) == ["kms:DescribeKey", "kms:GetPublicKey", "kms:Verify"]
    assert "Condition" not in verify


@pytest.mark.parametrize("environment", WITH_DIRECTORY)
def test_the_bucket_is_versioned_tls_only_and_private(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    config = synthesized_app.environments[environment]
    stack = directory_stack(synthesized_app, environment)
    bucket_id, bucket = only(stack, "AWS::S3::Bucket")
    properties = bucket["Properties"]
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert properties["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    _, policy = only(stack, "AWS::S3::BucketPolicy")
    statements = {
        statement.get("Sid"): statement for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    tls = [s for s in statements.values() if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(tls) == 1
    assert tls[0]["Effect"] == "Deny"
    the_object = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{OBJECT}"]]}
    publish = statements["AllowDirectoryPublish"]
    assert (publish["Action"], publish["Resource"]) == ("s3:PutObject", the_object)
    assert canonical(publish["Principal"]["AWS"]) == canonical(list(config.directory_publisher_arns))
    assert statements["DenyUnconditionalDirectoryWrite"] == {
        "Sid": "DenyUnconditionalDirectoryWrite",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:PutObject",
        "Resource": the_object,
        "Condition": {"Null": {"s3:if-match": "true", "s3:if-none-match": "true"}},
    }
    read = statements["AllowDirectoryRead"]
    assert (sorted(read["Action"]), read["Resource"]) == (["s3:GetObject", "s3:GetObjectVersion"], the_object)
    assert canonical(read["Principal"]["AWS"]) == canonical(
        list(dict.fromkeys([*config.directory_publisher_arns, *config.public_key_reader_arns]))
    )


@pytest.mark.parametrize("environment", WITH_DIRECTORY)
def test_the_parameter_and_the_outputs_the_command_reads(
    synthesized_app: SynthesizedApp, environment: str
) -> None:
    stack = directory_stack(synthesized_app, environment)
    parameter_id, parameter = only(stack, "AWS::SSM::Parameter")
    assert parameter["Properties"]["Name"] == f"/kmsecdh/{environment}/directory"
    assert parameter["Properties"]["Tier"] == "Advanced"
    key_id, _ = only(stack, "AWS::KMS::Key")
    bucket_id, _ = only(stack, "AWS::S3::Bucket")
    # the audit stack reads the signing key's id through an output CDK adds (PublishOutput...)
    outputs = {
        name: output["Value"]
        for name, output in stack.raw["Outputs"].items()
        if not name.startswith("PublishOutput")
    }
    assert outputs == {
        "DirectorySigningKeyArn": {"Fn::GetAtt": [key_id, "Arn"]},
        "DirectoryBucketName": {"Ref": bucket_id},
        "DirectoryParameterName": {"Ref": parameter_id},
        "DirectoryMaxAgeDays": str(synthesized_app.environments[environment].directory_max_age_days),
    }
    assert stack.raw["Description"].startswith(f"kmsecdh {environment}: the signed public-key directory")


@pytest.mark.parametrize(
    ("publishers", "message"),
    [
        ([], "needs at least one publisher"),
        (["arn:aws:iam::111111111111:root"], "is an account root"),
    ],
)
def test_the_construct_refuses_no_publisher_or_an_account_root(publishers: list[str], message: str) -> None:
    stack = cdk.Stack(cdk.App(), "Stack")
    with pytest.raises(ValueError, match=message):
        PublicKeyDirectory(
            stack, "Directory", publishers=publishers, parameter_name="/kmsecdh/test/directory"
        )
