"""Construct validation errors start with the construct's path, as aws-cdk's own ``ValidationError`` does,
and stay ``ValueError``s: one test per construct, each with the construct nested under a scope of its own so
the whole path shows."""

from __future__ import annotations

import re

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from kmsecdh_cdk import (
    DashboardFunction,
    DeriveFunction,
    GuardedResources,
    KeyAgreementGrants,
    KeyAgreementKey,
    KeyUsageAudit,
    OperatorDashboard,
    OrganizationGuardrails,
    PublicKeyDirectory,
    ReplicaKeyAgreementKey,
)
from kmsecdh_cdk.errors import KmsEcdhValidationError

ACCOUNT = "111111111111"
ENV = cdk.Environment(account=ACCOUNT, region="eu-west-1")
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deriver"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def scope() -> Construct:
    """``Env/Group``: a construct below a stack, so the path has more than the stack's name."""
    return Construct(cdk.Stack(cdk.App(), "Env", env=ENV), "Group")


def raises_at(path: str, message: str) -> pytest.RaisesContext[KmsEcdhValidationError]:
    return pytest.raises(KmsEcdhValidationError, match=f"^{re.escape(path)}: {message}")


def test_the_error_is_a_value_error_carrying_the_path() -> None:
    with pytest.raises(ValueError, match=r"^Env/Group/Audit: ") as raised:
        KeyUsageAudit(scope(), "Audit", key_ids=[], allowed_deriver_arns=[ROLE])
    assert isinstance(raised.value, KmsEcdhValidationError)
    assert raised.value.construct_path == "Env/Group/Audit"
    assert str(raised.value) == "Env/Group/Audit: KeyUsageAudit needs at least one key id in key_ids"


def test_key_usage_audit() -> None:
    with raises_at("Env/Group/Audit", "KeyUsageAudit needs allowed_deriver_arns"):
        KeyUsageAudit(
            scope(), "Audit", key_ids=["1234abcd-12ab-34cd-56ef-1234567890ab"], allowed_deriver_arns=[]
        )


def test_key_usage_audit_pure_validators() -> None:
    key_ids = [KEY_ID]
    with raises_at("Env/Group/Audit", "minimum_deletion_window_days must be 7..30 days, got 3"):
        KeyUsageAudit(
            scope(), "Audit", key_ids=key_ids, allowed_deriver_arns=[ROLE], minimum_deletion_window_days=3
        )
    with raises_at("Env/Group/Audit", "object_lock applies to the trail bucket"):
        KeyUsageAudit(
            scope(),
            "Audit",
            key_ids=key_ids,
            allowed_deriver_arns=[ROLE],
            existing_log_group_name="organisation-trail",
            object_lock=s3.ObjectLockRetention.governance(cdk.Duration.days(30)),
        )
    with raises_at("Env/Group/Audit", "the DeriveByUnallowedPrincipal filter pattern would be about"):
        KeyUsageAudit(
            scope(),
            "Audit",
            key_ids=key_ids,
            allowed_deriver_arns=[f"arn:aws:iam::{ACCOUNT}:role/{'r' * 60}{index}" for index in range(20)],
        )


def test_key_agreement_key() -> None:
    with raises_at("Env/Group/Key", "enable_key_rotation: KMS does not rotate"):
        KeyAgreementKey(
            scope(), "Key", key_spec="ECC_NIST_P256", alias_name="alias/test", enable_key_rotation=True
        )
    with raises_at("Env/Group/Key", "key spec SM2 is not supported"):
        KeyAgreementKey(scope(), "Key", key_spec="SM2", alias_name="alias/test")
    key = KeyAgreementKey(scope(), "Key", key_spec="ECC_NIST_P256", alias_name="alias/test")
    with raises_at("Env/Group/Key", "alias/test is not a multi-Region key"):
        key.allow_replication(ROLE, "eu-central-1")


def test_replica_key_agreement_key() -> None:
    replica = ReplicaKeyAgreementKey(
        scope(),
        "Replica",
        primary_key_arn=f"arn:aws:kms:us-east-1:{ACCOUNT}:key/mrk-0123456789abcdef0123456789abcdef",
        key_spec="ECC_NIST_P384",
        alias_name="alias/test",
    )
    with raises_at("Env/Group/Replica", "alias/test is a replica"):
        replica.allow_replication(ROLE, "eu-central-1")


def test_derive_function() -> None:
    with raises_at("Env/Group/Derive", "DeriveFunction needs at least one key in keys"):
        DeriveFunction(scope(), "Derive", keys=[])


def test_public_key_directory() -> None:
    with raises_at("Env/Group/Directory", "PublicKeyDirectory needs at least one publisher"):
        PublicKeyDirectory(scope(), "Directory", publishers=[], parameter_name="/kmsecdh/test/directory")
    with raises_at("Env/Group/Directory", ".*is an account root"):
        PublicKeyDirectory(
            scope(),
            "Directory",
            publishers=[f"arn:aws:iam::{ACCOUNT}:root"],
            parameter_name="/kmsecdh/test/directory",
        )


def test_operator_dashboard() -> None:
    with raises_at("Env/Group/Dashboard", "OperatorDashboard: reserved_concurrency of my-derive"):
        OperatorDashboard(
            scope(), "Dashboard", functions=[DashboardFunction("my-derive", reserved_concurrency=0)]
        )


def test_organization_guardrails() -> None:
    guarded = GuardedResources(
        name="prod",
        deployer_role_arns=(ROLE,),
        key_arns=(f"arn:aws:kms:*:{ACCOUNT}:key/*",),
        key_aliases=("alias/kmsecdh-prod-*",),
        key_alias_arns=(f"arn:aws:kms:*:{ACCOUNT}:alias/kmsecdh-prod-*",),
    )
    properties = {"guarded": [guarded], "organization_id": "o-a1b2c3d4e5", "target_ids": ["ou-ab12-33333333"]}
    with raises_at("Env/Group/Guardrails", "OrganizationGuardrails needs target_ids"):
        OrganizationGuardrails(scope(), "Guardrails", **{**properties, "target_ids": []})
    with raises_at("Env/Group/Guardrails", "organization_id must be an AWS Organizations id"):
        OrganizationGuardrails(scope(), "Guardrails", **{**properties, "organization_id": "org"})


def test_key_agreement_grants_name_the_key() -> None:
    key = kms.Key(scope(), "Key")
    with raises_at("Env/Group/Key", "KeyAgreementGrants: KeyUsage ENCRYPT_DECRYPT, not KEY_AGREEMENT"):
        KeyAgreementGrants.of(key)
