"""The KmsEcdh cdk-nag pack: every rule fires on its non-compliant app and stays quiet on the compliant one,
for every kind of key-agreement key (CfnKey, aws_kms.Key, KeyAgreementKey, replicas), and never on a key that
is not one, nor for rotation.

Each case builds a small app and runs the pack on it alone (``validate_scope``): the findings are the
(rule, construct path) pairs it reports.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_

from kmsecdh_cdk import iam_actions
from kmsecdh_cdk.acknowledgments import acknowledge
from kmsecdh_cdk.derive_function import DeriveFunction
from kmsecdh_cdk.key_agreement_key import KeyAgreementKey
from kmsecdh_cdk.nag_pack import PACK_NAME, RULES, KmsEcdhChecks
from kmsecdh_cdk.replica_key import ReplicaKeyAgreementKey
from stacks.application import NAG_PACKS, create_app
from tests.infra.conftest import load_context

ENV = cdk.Environment(account="111122223333", region="eu-west-1")
DERIVER = "arn:aws:iam::111122223333:role/deriver"
ADMIN = "arn:aws:iam::111122223333:role/admin"
ECDH = {"StringEquals": {"kms:KeyAgreementAlgorithm": "ECDH"}}


def findings(app: cdk.App) -> set[tuple[str, str]]:
    report = KmsEcdhChecks(app).validate_scope(app)
    return {
        (violation.rule_name.removeprefix(f"{PACK_NAME}-"), resource.construct_path)
        for violation in report.violations
        for resource in violation.violating_resources
    }


def new_stack(app: cdk.App | None = None, id: str = "Test", **props: Any) -> cdk.Stack:
    return cdk.Stack(app or cdk.App(), id, env=props.pop("env", ENV), **props)


# --- a key policy written by hand: the compliant one, and each rule's departure from it -----------


def statement(sid: str, **fields: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Resource": "*", **fields}


def compliant_statements() -> list[dict[str, Any]]:
    return [
        statement(
            "KeyAdministration",
            Principal={"AWS": ADMIN},
            Action=list(iam_actions.KEY_ADMINISTRATION_ACTIONS),
        ),
        statement(
            "DenyPolicyLockoutBypass",
            Effect="Deny",
            Principal={"AWS": "*"},
            Action="kms:PutKeyPolicy",
            Condition={"Bool": {"kms:BypassPolicyLockoutSafetyCheck": "true"}},
        ),
        statement(
            "DenyShortDeletionWindow",
            Effect="Deny",
            Principal={"AWS": "*"},
            Action="kms:ScheduleKeyDeletion",
            Condition={"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 30}},
        ),
        statement("AllowDerive", Principal={"AWS": DERIVER}, Action="kms:DeriveSharedSecret", Condition=ECDH),
        statement(
            "DenyDeriveToOthers",
            Effect="Deny",
            Principal={"AWS": "*"},
            Action="kms:DeriveSharedSecret",
            Condition={"ArnNotEquals": {"aws:PrincipalArn": [DERIVER]}},
        ),
    ]


def replaced(sid: str, **fields: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**s, **fields} if s["Sid"] == sid else s for s in statements]

    return change


def removed(sid: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda statements: [s for s in statements if s["Sid"] != sid]


def added(**fields: Any) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda statements: [*statements, statement("Extra", **fields)]


def without_condition(sid: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def change(statements: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in s.items() if k != "Condition"} if s["Sid"] == sid else s for s in statements
        ]

    return change


def cfn_key_app(
    change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda s: s, **key_props: Any
) -> cdk.App:
    stack = new_stack()
    kms.CfnKey(
        stack,
        "Key",
        key_spec="ECC_NIST_P256",
        key_usage="KEY_AGREEMENT",
        key_policy={"Version": "2012-10-17", "Statement": change(compliant_statements())},
        **key_props,
    )
    return stack.node.root


KEY = "Test/Key"
ACCOUNT_ROOT = "arn:aws:iam::111122223333:root"

KEY_POLICY_CASES = [
    ("DeriveToBroadPrincipal", replaced("AllowDerive", Principal="*")),
    ("DeriveToBroadPrincipal", replaced("AllowDerive", Principal={"AWS": "*"})),
    ("DeriveToBroadPrincipal", replaced("AllowDerive", Principal={"AWS": ACCOUNT_ROOT})),
    ("DeriveToBroadPrincipal", replaced("AllowDerive", Principal={"AWS": "111122223333"})),
    ("DeriveToBroadPrincipal", replaced("AllowDerive", Principal={"AWS": f"{DERIVER.rsplit('/', 1)[0]}/*"})),
    ("DeriveToBroadPrincipal", added(Principal={"AWS": ACCOUNT_ROOT}, Action="kms:*")),
    ("DeriveWithoutEcdhCondition", without_condition("AllowDerive")),
    (
        "DeriveWithoutEcdhCondition",
        replaced("AllowDerive", Condition={"StringEquals": {"kms:KeyAgreementAlgorithm": ["ECDH", "SM2"]}}),
    ),
    ("NoDenyDeriveToOthers", removed("DenyDeriveToOthers")),
    (
        "NoDenyDeriveToOthers",
        replaced("DenyDeriveToOthers", Condition={"ArnNotEquals": {"aws:PrincipalArn": [DERIVER, ADMIN]}}),
    ),
    ("NoDenyDeriveToOthers", replaced("DenyDeriveToOthers", Principal={"AWS": ADMIN})),
    ("NoDenyDeriveToOthers", without_condition("DenyDeriveToOthers")),
    ("GrantCreationAllowed", replaced("KeyAdministration", Action="kms:*")),
    ("GrantCreationAllowed", replaced("KeyAdministration", Action=["kms:Describe*", "kms:CreateGrant"])),
    ("GrantCreationAllowed", replaced("KeyAdministration", Action="kms:Create*")),
    ("NoLockoutBypassDeny", removed("DenyPolicyLockoutBypass")),
    ("NoLockoutBypassDeny", replaced("DenyPolicyLockoutBypass", Effect="Allow")),
    ("NoMinimumDeletionWindow", removed("DenyShortDeletionWindow")),
    (
        "NoMinimumDeletionWindow",
        replaced(
            "DenyShortDeletionWindow",
            Condition={"NumericLessThan": {"kms:ScheduleKeyDeletionPendingWindowInDays": 3}},
        ),
    ),
]


def test_a_hand_written_compliant_key_policy_passes() -> None:
    assert findings(cfn_key_app()) == set()


@pytest.mark.parametrize(("rule", "change"), KEY_POLICY_CASES)
def test_each_key_policy_rule_fires_on_its_departure_only(rule: str, change: Callable) -> None:
    found = findings(cfn_key_app(change))
    assert (rule, f"{KEY}") in found
    # The account root with kms:* also lets the root derive and create grants: several rules, each right.
    if rule != "DeriveToBroadPrincipal" and rule != "GrantCreationAllowed":
        assert found == {(rule, KEY)}


def test_replication_must_name_the_replica_regions() -> None:
    replicate = {"Principal": {"AWS": ADMIN}, "Action": "kms:ReplicateKey"}
    unbounded = cfn_key_app(added(**replicate), multi_region=True)
    assert findings(unbounded) == {("ReplicationWithoutRegion", KEY)}
    bounded = added(**replicate, Condition={"StringEquals": {"kms:ReplicaRegion": ["eu-central-1"]}})
    assert findings(cfn_key_app(bounded, multi_region=True)) == set()
    assert findings(cfn_key_app(added(**replicate))) == set(), "a single-Region key cannot be replicated"


# --- the kinds of key ------------------------------------------------------------------------------


def test_aws_kms_key_with_cdk_s_default_policy_and_a_hand_written_grant() -> None:
    stack = new_stack()
    key = kms.Key(stack, "Key", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.KEY_AGREEMENT)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    key.grant(role, iam_actions.DERIVE_SHARED_SECRET_ACTION)
    assert findings(stack.node.root) == {
        ("DeriveToBroadPrincipal", "Test/Key/Resource"),
        ("DeriveWithoutEcdhCondition", "Test/Key/Resource"),
        ("DeriveWithoutEcdhCondition", "Test/Role/DefaultPolicy/Resource"),
        ("NoDenyDeriveToOthers", "Test/Key/Resource"),
        ("GrantCreationAllowed", "Test/Key/Resource"),
        ("NoLockoutBypassDeny", "Test/Key/Resource"),
        ("NoMinimumDeletionWindow", "Test/Key/Resource"),
    }


def test_keys_that_do_not_agree_keys_are_not_checked_and_nothing_asks_for_rotation() -> None:
    stack = new_stack()
    kms.Key(stack, "Symmetric")  # CDK's default policy: kms:* to the account root, no rotation
    kms.Key(stack, "Signing", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.SIGN_VERIFY)
    kms.CfnKey(stack, "Rsa", key_spec="RSA_2048", key_usage="ENCRYPT_DECRYPT", key_policy={})
    assert findings(stack.node.root) == set()


def project_key(stack: cdk.Stack, id: str = "Key", **props: Any) -> KeyAgreementKey:
    return KeyAgreementKey(stack, id, key_spec="ECC_NIST_P384", alias_name=f"alias/{id.lower()}", **props)


def test_the_project_s_key_and_derive_function_pass() -> None:
    stack = new_stack()
    key = project_key(stack, public_key_readers=[iam.ArnPrincipal(ADMIN)])
    DeriveFunction(
        stack,
        "Derive",
        keys=[key],
        reserved_concurrent_executions=1,
        application_log_level=lambda_.ApplicationLogLevel.TRACE,
    )
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    assert findings(stack.node.root) == set()


def test_an_escape_hatch_that_opens_the_project_s_key_is_caught() -> None:
    stack = new_stack()
    key = project_key(stack)
    key.grant_derive(iam.ArnPrincipal(DERIVER))
    key.key.add_to_resource_policy(
        iam.PolicyStatement(principals=[iam.AccountRootPrincipal()], actions=["kms:*"], resources=["*"])
    )
    assert findings(stack.node.root) == {
        ("DeriveToBroadPrincipal", "Test/Key/Key/Resource"),
        ("DeriveWithoutEcdhCondition", "Test/Key/Key/Resource"),
        ("NoDenyDeriveToOthers", "Test/Key/Key/Resource"),
        ("GrantCreationAllowed", "Test/Key/Key/Resource"),
    }


def replica_app(*, open_replica: bool) -> cdk.App:
    app = cdk.App(context={"@aws-cdk/core:defaultCrossStackReferences": "weak"})
    home = new_stack(app, "Home", env=cdk.Environment(account="111122223333", region="eu-central-1"))
    primary = project_key(home, multi_region=True)
    primary.grant_derive(iam.ArnPrincipal(DERIVER))
    away = new_stack(app, "Away")
    replica = ReplicaKeyAgreementKey(
        away,
        "Key",
        primary_key_arn=primary.key_arn,
        key_spec="ECC_NIST_P384",
        alias_name="alias/key",
        cloudformation_execution_role_arn=ADMIN,
    )
    replica.grant_derive(iam.ArnPrincipal(DERIVER))
    if open_replica:
        replica.key_resource.key_policy = {"Version": "2012-10-17", "Statement": compliant_statements()[:1]}
    return app


def test_a_replica_of_a_key_agreement_key_is_checked_through_its_primary() -> None:
    assert findings(replica_app(open_replica=False)) == set()
    assert findings(replica_app(open_replica=True)) == {
        ("NoDenyDeriveToOthers", "Away/Key/Key"),
        ("NoLockoutBypassDeny", "Away/Key/Key"),
        ("NoMinimumDeletionWindow", "Away/Key/Key"),
    }


def test_a_replica_of_a_primary_outside_the_app_is_known_by_its_policy() -> None:
    stack = new_stack()
    primary_arn = "arn:aws:kms:eu-central-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab"
    policy = removed("DenyDeriveToOthers")(compliant_statements())
    kms.CfnReplicaKey(stack, "Replica", primary_key_arn=primary_arn, key_policy={"Statement": policy})
    kms.CfnReplicaKey(stack, "Other", primary_key_arn=primary_arn, key_policy={"Statement": policy[:1]})
    assert findings(stack.node.root) == {("NoDenyDeriveToOthers", "Test/Replica")}


# --- identity policies and functions ---------------------------------------------------------------


def on_key(stack: cdk.Stack, key_id: str) -> str:
    resource = stack.node.find_child(key_id).node.default_child
    return resource.attr_arn


def _identity_findings(build: Callable[[cdk.Stack], list[iam.PolicyStatement]]) -> set[tuple[str, str]]:
    stack = new_stack()
    policy = iam.PolicyDocument(statements=[iam.PolicyStatement.from_json(s) for s in compliant_statements()])
    kms.Key(
        stack, "Key", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.KEY_AGREEMENT, policy=policy
    )
    kms.Key(stack, "Symmetric", enable_key_rotation=True)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for item in build(stack):
        role.add_to_policy(item)
    return {finding for finding in findings(stack.node.root) if finding[1].startswith("Test/Role")}


ROLE_POLICY = "Test/Role/DefaultPolicy/Resource"
IDENTITY_CASES = [
    pytest.param(
        lambda s: [iam.PolicyStatement(actions=["kms:DeriveSharedSecret"], resources=[on_key(s, "Key")])],
        {("DeriveWithoutEcdhCondition", ROLE_POLICY)},
        id="derive-on-the-key-without-ecdh",
    ),
    pytest.param(
        lambda s: [
            iam.PolicyStatement(
                actions=["kms:DeriveSharedSecret"], resources=[on_key(s, "Key")], conditions=ECDH
            )
        ],
        set(),
        id="derive-on-the-key-with-ecdh",
    ),
    pytest.param(
        lambda s: [
            iam.PolicyStatement(
                actions=["kms:DeriveSharedSecret"],
                resources=["arn:aws:kms:eu-west-1:444455556666:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
            )
        ],
        {("DeriveWithoutEcdhCondition", ROLE_POLICY)},
        id="derive-on-an-imported-key-without-ecdh",
    ),
    pytest.param(
        lambda s: [iam.PolicyStatement(actions=["kms:DeriveSharedSecret"], resources=["*"], conditions=ECDH)],
        {("IdentityDeriveOnAnyKey", ROLE_POLICY)},
        id="derive-on-star",
    ),
    pytest.param(
        lambda s: [
            iam.PolicyStatement(
                actions=["kms:DeriveSharedSecret"],
                resources=["arn:aws:kms:eu-west-1:111122223333:key/*"],
                conditions=ECDH,
            )
        ],
        {("IdentityDeriveOnAnyKey", ROLE_POLICY)},
        id="derive-on-every-key-of-a-region",
    ),
    pytest.param(
        lambda s: [iam.PolicyStatement(actions=["kms:*"], resources=["*"])],
        {("IdentityDeriveOnAnyKey", ROLE_POLICY), ("DeriveWithoutEcdhCondition", ROLE_POLICY)},
        id="kms-star-on-star",
    ),
    pytest.param(
        lambda s: [iam.PolicyStatement(not_actions=["iam:*"], resources=["*"])],
        {("IdentityDeriveOnAnyKey", ROLE_POLICY), ("DeriveWithoutEcdhCondition", ROLE_POLICY)},
        id="not-action",
    ),
    pytest.param(
        lambda s: [iam.PolicyStatement(actions=["kms:*"], resources=[on_key(s, "Symmetric")])],
        set(),
        id="kms-star-on-a-symmetric-key",
    ),
    pytest.param(
        lambda s: [iam.PolicyStatement(actions=["kms:*"], resources=[on_key(s, "Key")])],
        {("DeriveWithoutEcdhCondition", ROLE_POLICY)},
        id="kms-star-on-the-key-agreement-key",
    ),
]


@pytest.mark.parametrize(("build", "expected"), IDENTITY_CASES)
def test_identity_policy_rules(build: Callable, expected: set[tuple[str, str]]) -> None:
    assert _identity_findings(build) == expected


def test_a_managed_policy_and_a_role_s_inline_policy_are_read_too() -> None:
    stack = new_stack()
    derive_anywhere = iam.PolicyStatement(
        actions=["kms:DeriveSharedSecret"], resources=["*"], conditions=ECDH
    )
    iam.ManagedPolicy(stack, "Managed", statements=[derive_anywhere])
    iam.Role(
        stack,
        "Inline",
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        inline_policies={"derive": iam.PolicyDocument(statements=[derive_anywhere])},
    )
    assert findings(stack.node.root) == {
        ("IdentityDeriveOnAnyKey", "Test/Managed/Resource"),
        ("IdentityDeriveOnAnyKey", "Test/Inline/Resource"),
    }


def function_app(level: lambda_.ApplicationLogLevel, *, can_derive: bool, marked: bool = False) -> cdk.App:
    stack = new_stack()
    key = kms.Key(stack, "Key", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.KEY_AGREEMENT)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    action = "kms:DeriveSharedSecret" if can_derive else "kms:GetPublicKey"
    role.add_to_policy(iam.PolicyStatement(actions=[action], resources=[key.key_arn], conditions=ECDH))
    function = lambda_.Function(
        stack,
        "Function",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context): pass"),
        role=role,
        logging_format=lambda_.LoggingFormat.JSON,
        application_log_level_v2=level,
    )
    if marked:
        function.node.default_child.add_metadata("kmsecdh:awsWireRecordsDropped", "my_app.logging")
    return stack.node.root


@pytest.mark.parametrize(
    ("level", "can_derive", "marked", "fires"),
    [
        (lambda_.ApplicationLogLevel.DEBUG, True, False, True),
        (lambda_.ApplicationLogLevel.TRACE, True, False, True),
        (lambda_.ApplicationLogLevel.INFO, True, False, False),
        (lambda_.ApplicationLogLevel.DEBUG, False, False, False),
        (lambda_.ApplicationLogLevel.DEBUG, True, True, False),
    ],
)
def test_a_deriving_function_at_debug_must_drop_the_wire_records(
    level: lambda_.ApplicationLogLevel, can_derive: bool, marked: bool, fires: bool
) -> None:
    found = {rule for rule, _ in findings(function_app(level, can_derive=can_derive, marked=marked))}
    assert ("DeriverLogsAwsWireRecords" in found) is fires


# --- the pack as a validation plugin -------------------------------------------------------------


def test_every_rule_has_an_id_an_explanation_and_no_rule_asks_for_rotation() -> None:
    assert len({rule.rule_id for rule in RULES}) == len(RULES) == 9
    for rule in RULES:
        assert rule.rule_id.startswith(f"{PACK_NAME}-")
        assert len(rule.explanation) > len(rule.info) > 0
        assert "rotat" not in f"{rule.info} {rule.explanation}".lower()


def test_a_finding_acknowledged_with_a_reason_is_reported_as_suppressed(tmp_path: Path) -> None:
    app = cdk.App(outdir=str(tmp_path))
    stack = new_stack(app)
    key = kms.Key(stack, "Key", key_spec=kms.KeySpec.ECC_NIST_P256, key_usage=kms.KeyUsage.KEY_AGREEMENT)
    cdk.Validations.of(app).add_plugins(KmsEcdhChecks(app))
    reasons = {}
    acknowledged = (
        "DeriveToBroadPrincipal",
        "DeriveWithoutEcdhCondition",
        "NoDenyDeriveToOthers",
        "GrantCreationAllowed",
        "NoLockoutBypassDeny",
    )
    for rule in acknowledged:
        reasons[rule] = f"test: {rule}"
        acknowledge(key, f"{PACK_NAME}-{rule}", reasons[rule])
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    [plugin] = json.loads((tmp_path / "validation-report.json").read_text())["pluginReports"]
    assert plugin["pluginName"] == PACK_NAME
    assert [v["ruleName"] for v in plugin["violations"]] == [f"{PACK_NAME}-NoMinimumDeletionWindow"]
    suppressed = {
        v["ruleName"].removeprefix(f"{PACK_NAME}-"): v["reason"] for v in plugin["suppressedViolations"]
    }
    assert suppressed == reasons


def test_the_project_s_app_runs_the_pack_and_is_clean_under_it(tmp_path: Path) -> None:
    # A clean plugin with nothing acknowledged is left out of the validation report, so ask the pack itself.
    app = create_app(outdir=str(tmp_path), context=load_context())
    assert KmsEcdhChecks in NAG_PACKS
    assert findings(app) == set()
