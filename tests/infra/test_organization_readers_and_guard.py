"""Organisation-wide public-key readers and the key-policy guard validation, on KeyAgreementKey and its
replica alone (the app's environments are checked in test_key_agreement_stack)."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Template

from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.replica_key import ReplicaKeyAgreementKey

ORG_ID = "o-a1b2c3d4e5"
ORG_PATHS = ["o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/", "o-a1b2c3d4e5/r-ab12/ou-ab12-22222222/*"]
DERIVER = "arn:aws:iam::111111111111:role/deriver"
PRIMARY_ARN = "arn:aws:kms:eu-central-1:111111111111:key/mrk-1234abcd12ab34cd56ef1234567890ab"


def new_stack(region: str = "eu-west-1") -> cdk.Stack:
    return cdk.Stack(cdk.App(), "Test", env=cdk.Environment(account="111111111111", region=region))


def policy_of(stack: cdk.Stack, resource_type: str = "AWS::KMS::Key") -> dict[str, dict[str, Any]]:
    [key] = Template.from_stack(stack).find_resources(resource_type).values()
    return {statement["Sid"]: statement for statement in key["Properties"]["KeyPolicy"]["Statement"]}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("organization_id", "paths", "condition"),
    [
        (ORG_ID, [], {"StringEquals": {"aws:PrincipalOrgID": ORG_ID}}),
        (None, ORG_PATHS, {"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ORG_PATHS}}),
        (
            ORG_ID,
            ORG_PATHS,
            {
                "StringEquals": {"aws:PrincipalOrgID": ORG_ID},
                "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": ORG_PATHS},
            },
        ),
    ],
)
def test_organisation_readers_get_public_key_read_only(
    organization_id: str | None, paths: list[str], condition: dict[str, Any]
) -> None:
    stack = new_stack()
    key = KeyAgreementKey(
        stack,
        "Key",
        key_spec="ECC_NIST_P256",
        alias_name="alias/test",
        public_key_reader_organization_id=organization_id,
        public_key_reader_org_paths=paths,
    )
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    statements = policy_of(stack)
    organization_read = statements["AllowOrganizationPublicKeyRead"]
    assert {**organization_read, "Action": sorted(organization_read["Action"])} == {
        "Sid": "AllowOrganizationPublicKeyRead",
        "Effect": "Allow",
        "Principal": {"AWS": "*"},
        "Action": ["kms:DescribeKey", "kms:GetPublicKey"],
        "Resource": "*",
        "Condition": condition,
    }
    # no derive leaks: the only Allow of DeriveSharedSecret names the deriver, and the guard denies the rest
    derive_allows = [
        statement
        for statement in statements.values()
        if statement["Effect"] == "Allow" and "kms:DeriveSharedSecret" in as_list(statement["Action"])
    ]
    assert [statement["Principal"] for statement in derive_allows] == [{"AWS": DERIVER}]
    for statement in statements.values():
        if statement["Principal"] in ({"AWS": "*"}, "*") and statement["Effect"] == "Allow":
            assert statement["Sid"] == "AllowOrganizationPublicKeyRead"
            assert not any(action.startswith("kms:Derive") for action in as_list(statement["Action"]))
            assert "kms:CreateGrant" not in as_list(statement["Action"])
    assert statements["DenyDeriveToOthers"]["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [DERIVER]}}


def test_without_organisation_readers_there_is_no_wildcard_allow() -> None:
    stack = new_stack()
    KeyAgreementKey(stack, "Key", key_spec="ECC_NIST_P256", alias_name="alias/test").grant_derive(
        iam.ArnPrincipal(DERIVER)
    )
    statements = policy_of(stack)
    assert "AllowOrganizationPublicKeyRead" not in statements
    assert all(s["Principal"] != {"AWS": "*"} for s in statements.values() if s["Effect"] == "Allow")


def new_replica(stack: cdk.Stack, **props: Any) -> ReplicaKeyAgreementKey:
    return ReplicaKeyAgreementKey(
        stack,
        "Replica",
        primary_key_arn=PRIMARY_ARN,
        key_spec="ECC_NIST_P384",
        alias_name="alias/test",
        **props,
    )


def test_a_replica_carries_the_same_policy_model() -> None:
    stack = new_stack()
    replica = new_replica(stack, public_key_reader_organization_id=ORG_ID)
    replica.grant_derive(iam.ArnPrincipal(DERIVER))
    template = Template.from_stack(stack)
    [(logical_id, resource)] = template.find_resources("AWS::KMS::ReplicaKey").items()
    assert resource["Properties"]["PrimaryKeyArn"] == PRIMARY_ARN
    assert sorted(policy_of(stack, "AWS::KMS::ReplicaKey")) == sorted(
        [
            "KeyAdministration",
            "DenyPolicyLockoutBypass",
            "DenyShortDeletionWindow",
            "DenyDeriveToOthers",
            "AllowPublicKeyRead",
            "AllowDeriveSharedSecret",
            "AllowOrganizationPublicKeyRead",
        ]
    )
    [alias] = template.find_resources("AWS::KMS::Alias").values()
    assert alias["Properties"] == {
        "AliasName": "alias/test",
        "TargetKeyId": {"Fn::GetAtt": [logical_id, "KeyId"]},
    }
    assert replica.key_arn == replica.key_resource.attr_arn


def test_a_replica_cannot_be_replicated_and_a_single_region_key_neither() -> None:
    stack = new_stack()
    with pytest.raises(ValueError, match="is a replica"):
        new_replica(stack).allow_replication("arn:aws:iam::111111111111:role/cfn", "eu-west-1")
    key = KeyAgreementKey(stack, "Single", key_spec="ECC_NIST_P256", alias_name="alias/single")
    with pytest.raises(ValueError, match="not a multi-Region key"):
        key.allow_replication("arn:aws:iam::111111111111:role/cfn", "eu-west-1")
    with pytest.raises(ValueError, match="alias/regions: replica_regions given for a key that is not multi"):
        KeyAgreementKey(
            stack,
            "Regions",
            key_spec="ECC_NIST_P256",
            alias_name="alias/regions",
            replica_regions=["eu-west-1"],
        )


def test_a_primary_lets_each_replicating_role_replicate_into_its_own_region_only() -> None:
    stack = new_stack("eu-central-1")
    regions = ["eu-west-1", "us-east-1"]
    key = KeyAgreementKey(
        stack,
        "Key",
        key_spec="ECC_NIST_P256",
        alias_name="alias/test",
        multi_region=True,
        replica_regions=regions,
    )
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    for region in regions:
        key.allow_replication(f"arn:aws:iam::111111111111:role/cfn-{region}", region)
    with pytest.raises(ValueError, match="alias/test: ap-south-1 is not one of its replica_regions"):
        key.allow_replication("arn:aws:iam::111111111111:role/cfn-ap-south-1", "ap-south-1")
    [resource] = Template.from_stack(stack).find_resources("AWS::KMS::Key").values()
    assert resource["Properties"]["MultiRegion"] is True
    policy = policy_of(stack)
    sids = ["AllowReplicateKeyToEuwest1", "AllowReplicateKeyToUseast1"]
    for region, sid in zip(regions, sids, strict=True):
        assert policy[sid] == {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::111111111111:role/cfn-{region}"},
            "Action": "kms:ReplicateKey",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ReplicaRegion": region}},
        }
    assert policy["DenyReplicateKeyOutsideReplicaRegions"] == {
        "Sid": "DenyReplicateKeyOutsideReplicaRegions",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:ReplicateKey",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:ReplicaRegion": regions}},
    }
    assert policy["DenyPrimaryRegionOutsideReplicaRegions"] == {
        "Sid": "DenyPrimaryRegionOutsideReplicaRegions",
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "kms:UpdatePrimaryRegion",
        "Resource": "*",
        "Condition": {"StringNotEquals": {"kms:PrimaryRegion": regions}},
    }


def test_a_multi_region_primary_without_replica_regions_refuses_every_replication() -> None:
    stack = new_stack("eu-central-1")
    key = KeyAgreementKey(stack, "Key", key_spec="ECC_NIST_P256", alias_name="alias/test", multi_region=True)
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    with pytest.raises(ValueError, match="eu-west-1 is not one of its replica_regions \\(none\\)"):
        key.allow_replication("arn:aws:iam::111111111111:role/cfn", "eu-west-1")
    policy = policy_of(stack)
    assert not [sid for sid in policy if sid.startswith("AllowReplicateKey")]
    for sid, action in (
        ("DenyReplicateKeyOutsideReplicaRegions", "kms:ReplicateKey"),
        ("DenyPrimaryRegionOutsideReplicaRegions", "kms:UpdatePrimaryRegion"),
    ):
        assert policy[sid] == {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": {"AWS": "*"},
            "Action": action,
            "Resource": "*",
        }


def _without(statements: list[dict[str, Any]], sid: str) -> list[dict[str, Any]]:
    return [statement for statement in statements if statement["Sid"] != sid]


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda s: _without(s, "AllowDeriveSharedSecret"), "lacks AllowDeriveSharedSecret"),
        (lambda s: _without(s, "DenyDeriveToOthers"), "lacks the guard DenyDeriveToOthers"),
        (
            lambda s: [
                {**statement, "Effect": "Allow"} if statement["Sid"] == "DenyDeriveToOthers" else statement
                for statement in s
            ],
            "lacks the guard DenyDeriveToOthers",
        ),
        (
            lambda s: [
                {
                    **statement,
                    "Condition": {"ArnNotEquals": {"aws:PrincipalArn": [DERIVER, "arn:aws:iam::1:role/x"]}},
                }
                if statement["Sid"] == "DenyDeriveToOthers"
                else statement
                for statement in s
            ],
            "spares other principals than the derivers",
        ),
    ],
)
@pytest.mark.parametrize("kind", ["replica", "primary"])
def test_a_key_whose_policy_lost_the_derive_statement_or_the_guard_fails_synthesis(
    tamper: Any, message: str, kind: str
) -> None:
    """The validation reads the policy the resource will carry: here replaced through an escape hatch."""
    stack = new_stack()
    if kind == "replica":
        key: KeyAgreementKey = new_replica(stack)
    else:
        key = KeyAgreementKey(stack, "Key", key_spec="ECC_NIST_P256", alias_name="alias/test")
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    policy = stack.resolve(key.key_resource.key_policy)
    key.key_resource.key_policy = {**policy, "Statement": tamper(policy["Statement"])}
    with pytest.raises(RuntimeError, match=message):
        Template.from_stack(stack)


def test_an_untampered_replica_synthesizes() -> None:
    stack = new_stack()
    new_replica(stack).grant_derive(iam.ArnPrincipal(DERIVER))
    Template.from_stack(stack)
