"""KeyAgreementKey on its own: invalid combinations are rejected at construct time, grants are lazy."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from kmsecdh.keys import KEY_SPECS
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey


def new_stack(region: str | None = None) -> cdk.Stack:
    env = cdk.Environment(account="111111111111", region=region) if region else None
    return cdk.Stack(cdk.App(), "Test", env=env)


def new_key(stack: cdk.Stack, **props: Any) -> KeyAgreementKey:
    props.setdefault("key_spec", "ECC_NIST_P256")
    props.setdefault("alias_name", "alias/test")
    return KeyAgreementKey(stack, "Key", **props)


def key_policy(stack: cdk.Stack) -> dict[str, dict[str, Any]]:
    [key] = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    return {statement["Sid"]: statement for statement in key["Properties"]["KeyPolicy"]["Statement"]}


@pytest.mark.parametrize(
    ("key_spec", "message"),
    [
        ("RSA_2048", "key spec 'RSA_2048' cannot do key agreement"),
        ("HMAC_256", "key spec 'HMAC_256' cannot do key agreement"),
        ("SYMMETRIC_DEFAULT", "key spec 'SYMMETRIC_DEFAULT' cannot do key agreement"),
        ("ECC_SECG_P256K1", "key spec 'ECC_SECG_P256K1' cannot do key agreement"),
        ("ML_DSA_44", "key spec 'ML_DSA_44' cannot do key agreement"),
    ],
)
def test_specs_that_cannot_agree_keys_are_rejected(key_spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        new_key(new_stack(), key_spec=key_spec)


def test_the_specs_are_the_runtime_s_own() -> None:
    assert tuple(KEY_SPECS) == ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")


@pytest.mark.parametrize("region", [None, "cn-north-1", "eu-west-1"])
def test_sm2_is_refused_in_every_region(region: str | None) -> None:
    with pytest.raises(ValueError, match=r"key spec SM2 is not supported: .* serves only"):
        new_key(new_stack(region), key_spec="SM2")


def test_rotation_is_rejected() -> None:
    with pytest.raises(ValueError, match="KMS does not rotate asymmetric"):
        new_key(new_stack(), enable_key_rotation=True)


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pending_window": cdk.Duration.days(6)}, "pending_window must be 7..30 days, got 6"),
        ({"minimum_deletion_window_days": 31}, "minimum_deletion_window_days must be 7..30 days, got 31"),
        (
            {"pending_window": cdk.Duration.days(7), "minimum_deletion_window_days": 14},
            r"pending_window \(7 days\) is below minimum_deletion_window_days \(14\)",
        ),
    ],
)
def test_deletion_windows_are_checked(props: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        new_key(new_stack(), **props)


def test_a_key_nobody_may_derive_with_fails_synthesis() -> None:
    stack = new_stack()
    new_key(stack)
    with pytest.raises(RuntimeError, match="call grant_derive for at least one principal"):
        Template.from_stack(stack)


PUBLIC_GRANTS = sorted(name for name in dir(KeyAgreementKey) if name.startswith("grant"))


def test_the_public_grants_are_these() -> None:
    assert PUBLIC_GRANTS == ["grant_derive", "grant_public_key_read"]


@pytest.mark.parametrize("grant", PUBLIC_GRANTS)
def test_every_public_grant_names_the_grantee_in_the_key_policy(grant: str) -> None:
    """The key policy names no account root, so an identity policy alone would grant nothing."""
    stack = new_stack()
    key = new_key(stack)
    key.grant_derive(iam.ArnPrincipal("arn:aws:iam::111111111111:role/someone-else"))
    role = iam.Role(stack, "Grantee", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    getattr(key, grant)(role)
    role_arn = {"Fn::GetAtt": [stack.get_logical_id(role.node.default_child), "Arn"]}
    template = Template.from_stack(stack)
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    granted = {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    allowed_in_key_policy = {
        action
        for statement in key_policy(stack).values()
        if statement["Effect"] == "Allow" and role_arn in as_list(statement["Principal"]["AWS"])
        for action in as_list(statement["Action"])
    }
    assert granted
    assert granted <= allowed_in_key_policy


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# Principals no deriver or caller may be (kmsecdh_cdk.principals), with the message that refuses each.
REFUSED_PRINCIPALS = [
    (iam.AccountRootPrincipal(), "an account root"),
    (iam.ArnPrincipal("arn:aws:iam::111111111111:root"), "is an account root"),
    (iam.ArnPrincipal("arn:aws:iam::111111111111:role/batch-*"), r"holds '\*' or '\?'"),
    (iam.ArnPrincipal("arn:aws:iam::111111111111:user/ali?e"), r"holds '\*' or '\?'"),
    (iam.AnyPrincipal(), r"holds '\*' or '\?'"),
]


@pytest.mark.parametrize(("deriver", "message"), REFUSED_PRINCIPALS)
def test_grant_derive_refuses_roots_and_wildcards(deriver: iam.IPrincipal, message: str) -> None:
    stack = new_stack()
    key = new_key(stack)
    with pytest.raises(ValueError, match=message):
        key.grant_derive(deriver)
    assert key.allowed_deriver_arns == []


def test_derivers_of_one_key_share_one_endpoint_condition() -> None:
    key = new_key(new_stack())
    key.grant_derive(iam.ArnPrincipal("arn:aws:iam::111111111111:role/a"), source_vpce="vpce-1")
    with pytest.raises(ValueError, match=r"source_vpce None differs from 'vpce-1' .* same VPC endpoint"):
        key.grant_derive(iam.ArnPrincipal("arn:aws:iam::111111111111:role/b"))


def test_deny_derive_to_others_lists_derivers_granted_after_construction() -> None:
    stack = new_stack()
    key = new_key(stack)
    first, later = "arn:aws:iam::111111111111:role/first", "arn:aws:iam::111111111111:role/later"
    key.grant_derive(iam.ArnPrincipal(first))
    key.grant_derive(iam.ArnPrincipal(later))
    statements = key_policy(stack)
    assert statements["DenyDeriveToOthers"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [first, later]}
    }
    assert statements["AllowDeriveSharedSecret"]["Principal"] == {"AWS": [first, later]}
    assert key.allowed_deriver_arns == [first, later]


def test_no_account_root_statement_and_execution_role_administers() -> None:
    stack = new_stack()
    new_key(stack).grant_public_key_read(iam.ArnPrincipal("arn:aws:iam::111111111111:role/reader"))
    key = stack.node.find_child("Key")
    key.grant_derive(iam.ArnPrincipal("arn:aws:iam::111111111111:role/app"))
    statements = key_policy(stack)
    assert "kms:*" not in str(statements)
    assert ":root" not in str(statements)
    assert statements["KeyAdministration"]["Principal"] == {
        "AWS": {
            "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/"
            "cdk-hnb659fds-cfn-exec-role-${AWS::AccountId}-${AWS::Region}"
        }
    }


def test_grant_derive_writes_the_grantee_policy_scoped_to_the_key() -> None:
    stack = new_stack()
    key = new_key(stack)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    key.grant_derive(role, source_vpce="vpce-0123")
    template = Template.from_stack(stack)
    [policy] = template.find_resources("AWS::IAM::Policy").values()
    key_arn = {"Fn::GetAtt": [stack.get_logical_id(key.key.node.default_child), "Arn"]}
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    statements[1]["Action"] = sorted(statements[1]["Action"])
    assert statements == [
        {
            "Action": "kms:DeriveSharedSecret",
            "Condition": {
                "StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH", "aws:SourceVpce": "vpce-0123"}
            },
            "Effect": "Allow",
            "Resource": key_arn,
        },
        {"Action": ["kms:DescribeKey", "kms:GetPublicKey"], "Effect": "Allow", "Resource": key_arn},
    ]
