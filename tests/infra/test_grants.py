"""KeyAgreementGrants: derive and public-key-read grants on any KEY_AGREEMENT aws_kms.IKey.

A plain aws-cdk app with a key-agreement key and a hand-written grant fails the KmsEcdh pack; the same app
with the helpers passes. A key of the stack gets both halves with the project's conditions, an imported key
the identity half and a warning saying what its owner must add; KeyAgreementKey's ``key`` is an IKey whose
grants are the construct's own.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Annotations, Match, Template

from devtools import PROJECT_ROOT
from kmsecdh_cdk import iam_actions, key_policy
from kmsecdh_cdk.grants import IMPORTED_KEY_WARNING, KeyAgreementGrants
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from tests.infra.test_nag_pack import findings

ENV = cdk.Environment(account="111122223333", region="eu-west-1")
ADMIN = "arn:aws:iam::111122223333:role/admin"
IMPORTED_KEY_ARN = "arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ECDH = {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}}


def plain_app(
    *, key_policy_statements: list[iam.PolicyStatement] | None = None
) -> tuple[cdk.Stack, kms.Key, iam.Role]:
    """A plain aws-cdk app: a KEY_AGREEMENT key (with the careful administration policy the docs show, or
    CDK's default) and a function role that will derive with it."""
    stack = cdk.Stack(cdk.App(), "Plain", env=ENV)
    policy = None
    if key_policy_statements is not None:
        policy = iam.PolicyDocument(statements=key_policy_statements)
    key = kms.Key(
        stack, "Key", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.KEY_AGREEMENT, policy=policy
    )
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    return stack, key, role


def administered() -> list[iam.PolicyStatement]:
    return [
        key_policy.key_administration([iam.ArnPrincipal(ADMIN)]),
        key_policy.deny_policy_lockout_bypass(),
        key_policy.deny_short_deletion_window(30),
    ]


def key_policy_of(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    [key] = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    return {statement.get("Sid", ""): statement for statement in key["Properties"]["KeyPolicy"]["Statement"]}


def role_statements(stack: cdk.Stack, role: iam.Role) -> list[dict[str, Any]]:
    policy = Template.from_stack(stack).to_json()["Resources"][
        stack.get_logical_id(role.node.find_child("DefaultPolicy").node.default_child)
    ]
    return policy["Properties"]["PolicyDocument"]["Statement"]


def test_a_hand_written_grant_fails_the_pack_and_the_helpers_pass_it() -> None:
    stack, key, role = plain_app(key_policy_statements=administered())
    key.grant(role, iam_actions.DERIVE_SHARED_SECRET_ACTION)
    assert findings(stack.node.root) == {
        ("DeriveWithoutEcdhCondition", "Plain/Role/DefaultPolicy/Resource"),
        ("NoDenyDeriveToOthers", "Plain/Key/Resource"),
    }

    stack, key, role = plain_app(key_policy_statements=administered())
    KeyAgreementGrants.of(key).grant_derive(role)
    assert findings(stack.node.root) == set()


def test_a_key_of_the_stack_gets_both_halves_with_the_project_s_conditions() -> None:
    stack, key, role = plain_app(key_policy_statements=administered())
    reader = iam.Role(stack, "Reader", assumed_by=iam.AccountPrincipal("111122223333"))
    KeyAgreementGrants.of(key).grant_derive(role)
    KeyAgreementGrants.of(key).grant_public_key_read(reader)
    extra = "arn:aws:iam::111122223333:role/batch"
    KeyAgreementGrants.of(key).grant_derive(iam.ArnPrincipal(extra))

    policy = key_policy_of(stack)
    role_arn = {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}
    reader_arn = {"Fn::GetAtt": [stack.get_logical_id(reader.node.default_child), "Arn"]}
    assert policy["AllowDeriveSharedSecret"]["Condition"] == ECDH
    assert policy["AllowDeriveSharedSecret"]["Principal"] == {"AWS": [role_arn, extra]}
    assert policy["DenyDeriveToOthers"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [role_arn, extra]}
    }
    assert policy["AllowPublicKeyRead"]["Principal"] == {"AWS": [role_arn, reader_arn, extra]}
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.node.default_child), "Arn"]}
    assert role_statements(stack, role) == [
        {"Action": "kms:DeriveSharedSecret", "Condition": ECDH, "Effect": "Allow", "Resource": key_arn},
        {"Action": list(iam_actions.PUBLIC_KEY_READ_ACTIONS), "Effect": "Allow", "Resource": key_arn},
    ]


def test_an_imported_key_gets_the_identity_half_and_a_warning_for_its_owner() -> None:
    stack = cdk.Stack(cdk.App(), "Consumer", env=ENV)
    key = kms.Key.from_key_arn(stack, "Partner", IMPORTED_KEY_ARN)
    role = iam.Role(
        stack, "Role", role_name="consumer", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com")
    )
    KeyAgreementGrants.of(key).grant_derive(role)

    assert Template.from_stack(stack).find_resources("AWS::KMS::Key") == {}
    assert role_statements(stack, role)[0] == {
        "Action": "kms:DeriveSharedSecret",
        "Condition": ECDH,
        "Effect": "Allow",
        "Resource": IMPORTED_KEY_ARN,
    }
    [warning] = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    message = warning.entry.data
    assert IMPORTED_KEY_WARNING in message
    assert "kms:DeriveSharedSecret with StringEquals kms:KeyAgreementAlgorithm = ECDH" in message
    assert "the ARN of Consumer/Role" in message
    KeyAgreementGrants.of(key).grant_public_key_read(
        iam.ArnPrincipal("arn:aws:iam::111122223333:role/reader")
    )
    messages = [w.entry.data for w in Annotations.from_stack(stack).find_warning("*", Match.any_value())]
    assert "allow arn:aws:iam::111122223333:role/reader kms:GetPublicKey and kms:DescribeKey" in messages[1]
    assert findings(stack.node.root) == set()


def test_key_agreement_key_exposes_its_ikey_whose_grants_are_the_construct_s() -> None:
    stack = cdk.Stack(cdk.App(), "Project", env=ENV)
    project_key = KeyAgreementKey(stack, "Key", key_spec="ECC_NIST_P256", alias_name="alias/project")
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    ikey: kms.IKey = project_key.key
    kms.Alias(stack, "SecondAlias", alias_name="alias/second", target_key=ikey)  # aws-cdk code taking an IKey

    assert KeyAgreementGrants.of(ikey) is project_key.grants is KeyAgreementGrants.of(ikey)
    KeyAgreementGrants.of(ikey).grant_derive(role)
    assert project_key.allowed_deriver_arns == [role.role_arn]
    assert list(key_policy_of(stack)).count("AllowDeriveSharedSecret") == 1
    assert findings(stack.node.root) == set()


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        (
            lambda grants, role: grants.grant(role, "kms:CreateGrant"),
            "KeyAgreementGrants grants kms:DeriveSharedSecret, kms:GetPublicKey, kms:DescribeKey; got "
            "kms:CreateGrant",
        ),
        (lambda grants, role: grants.grant(role), "got none"),
        (
            lambda grants, role: grants.grant_derive(iam.AccountRootPrincipal()),
            "an account root would admit every principal",
        ),
        (
            lambda grants, role: grants.grant_derive(
                iam.ArnPrincipal("arn:aws:iam::111122223333:role/app-*")
            ),
            "holds '\\*' or '\\?'",
        ),
        (
            lambda grants, role: grants.grant(role, "kms:GetPublicKey", source_vpce="vpce-1"),
            "source_vpce applies to kms:DeriveSharedSecret only",
        ),
    ],
)
def test_invalid_grants_are_refused_at_construct_time(grant: Any, message: str) -> None:
    _, key, role = plain_app(key_policy_statements=administered())
    with pytest.raises(ValueError, match=message):
        grant(KeyAgreementGrants.of(key), role)


def test_a_key_that_does_not_agree_keys_is_refused() -> None:
    stack = cdk.Stack(cdk.App(), "Plain", env=ENV)
    key = kms.Key(stack, "Key")
    with pytest.raises(
        ValueError, match=r"^Plain/Key: KeyAgreementGrants: KeyUsage ENCRYPT_DECRYPT, not KEY_AGREEMENT$"
    ):
        KeyAgreementGrants.of(key)


def test_a_grantee_in_another_stack_is_refused_before_a_reference_cycle() -> None:
    stack, key, _ = plain_app(key_policy_statements=administered())
    other = cdk.Stack(stack.node.root, "Other", env=ENV)
    role = iam.Role(other, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    with pytest.raises(
        ValueError,
        match=r"^Plain/Key: KeyAgreementGrants: Other/Role is in stack Other and the key in Plain:",
    ):
        KeyAgreementGrants.of(key).grant_derive(role)


# --- the plain app of docs/cdk-nag-pack.md, as written there --------------------------------------

DOC = PROJECT_ROOT / "docs" / "cdk-nag-pack.md"
HELPER_GRANT = "KeyAgreementGrants.of(key).grant_derive(role)"
HAND_WRITTEN_GRANT = 'key.grant(role, "kms:DeriveSharedSecret")'


def documented_app() -> str:
    [first_block] = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.DOTALL)[:1]
    assert HELPER_GRANT in first_block
    return first_block


def test_the_documented_plain_app_passes_the_pack_with_the_helpers() -> None:
    exec(compile(documented_app(), str(DOC), "exec"), {})  # noqa: S102 (the documentation's own example)


def test_the_documented_plain_app_fails_the_pack_with_a_hand_written_grant() -> None:
    source = documented_app().replace(HELPER_GRANT, HAND_WRITTEN_GRANT)
    namespace: dict[str, Any] = {}
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        exec(compile(source, str(DOC), "exec"), namespace)  # noqa: S102
    report = json.loads((Path(namespace["app"].outdir) / "validation-report.json").read_text())
    [plugin] = report["pluginReports"]
    assert sorted(violation["ruleName"] for violation in plugin["violations"]) == [
        "KmsEcdh-DeriveWithoutEcdhCondition",
        "KmsEcdh-NoDenyDeriveToOthers",
    ]
